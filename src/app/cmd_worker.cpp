// mxserve worker: one engine (scheduler, prefix cache, KV tiers) served over gRPC to frontends
// (src/cluster/worker_service.h). It takes serve's engine flags; --listen is its gRPC address.
// SIGTERM / SIGINT drain it: new requests are refused (the frontend routes them elsewhere),
// running ones get --shutdown-grace, then the engine cancels the rest.
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "app/cluster_flags.h"
#include "app/commands.h"
#include "app/serve_api.h"
#include "app/serve_flags.h"
#include "cluster/worker_messages.h"
#include "cluster/worker_service.h"
#include "engine/engine_client.h"
#include "server/engine_metrics.h"
#include "server/http_server.h"

namespace mx::app {
namespace {

struct WorkerFlags {
  ServeFlags serve;
  ClusterFlags cluster;
  std::string listen = "127.0.0.1:9000";  // host:port of the gRPC service (port 0: any)
  std::string advertise;  // the address frontends dial; empty: --listen's, with the bound port
  std::string http_host = "127.0.0.1";  // /health and /metrics
  int http_port = 0;                    // 0: any free port (logged)
};

// /health (200, 503 while draining) and /metrics (the engine's series) for operators.
Result<int> start_ops_http(const WorkerFlags& flags, HttpServer& server, Metrics& metrics,
                           const WorkerService& service) {
  server.route(
      "GET", "/health",
      [&service](const HttpRequest&, std::shared_ptr<HttpResponder> responder) {
        const bool draining = service.draining();
        responder->send(draining ? 503 : 200, "application/json",
                        draining ? R"({"status":"draining"})" : R"({"status":"ok"})");
      },
      RouteThread::kIoThread);
  server.route("GET", "/metrics",
               [&metrics](const HttpRequest&, std::shared_ptr<HttpResponder> responder) {
                 responder->send(200, "text/plain; version=0.0.4", metrics.render());
               });
  MX_ASSIGN_OR_RETURN(int port, server.start());
  spdlog::info("worker metrics on http://{}:{}/metrics", flags.http_host, port);
  return port;
}

// Splits "host:port"; the port may be 0.
Result<std::pair<std::string, int>> split_address(const std::string& address, const char* flag) {
  const size_t colon = address.rfind(':');
  int port = -1;
  if (colon != std::string::npos && colon > 0) {
    try {
      port = std::stoi(address.substr(colon + 1));
    } catch (...) {
      port = -1;
    }
  }
  if (port < 0 || port > 65535) {
    return make_error(ErrorCode::kInvalidArgument, "{} must be host:port, got '{}'", flag, address);
  }
  return std::pair{address.substr(0, colon), port};
}

void drain(const WorkerFlags& flags, WorkerService& service, Engine& engine, grpc::Server& server,
           Membership& membership) {
  using Clock = std::chrono::steady_clock;
  membership.stop();  // frontends stop routing here (the key goes at once)
  service.set_draining();
  const auto grace =
      Clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(flags.serve.shutdown_grace_seconds * 1000));
  while (service.active_streams() > 0 && Clock::now() < grace) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (service.active_streams() > 0) {
    spdlog::warn("{} request(s) still running after the grace period: cancelling",
                 service.active_streams());
  }
  engine.stop();  // every sequence gets its final event; the streams finish
  server.Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

int worker(const WorkerFlags& flags) {
  const sigset_t signals = block_stop_signals();
  auto config = engine_config(flags.serve);
  if (!config.ok()) return fail("worker", config.error(), 2);
  auto address = split_address(flags.listen, "--listen");
  if (!address.ok()) return fail("worker", address.error(), 2);
  auto model = Model::load(flags.serve.model);
  if (!model.ok()) return fail("worker", model.error());
  auto engine = Engine::create(**model, *config);
  if (!engine.ok()) return fail("worker", engine.error(), 2);
  LocalEngineClient client(**engine);
  std::string name = flags.serve.served_model_name;
  if (name.empty()) name = std::filesystem::path(flags.serve.model).filename().string();
  WorkerService service(client, WorkerIdentity{name, (*model)->fingerprint()});
  service.set_kv_events(&(*engine)->kv_events());

  Metrics metrics;
  add_engine_metrics(metrics, client, [&service] {
    return Metrics::Gauges{
        {"mxserve_worker_streams_active", static_cast<double>(service.active_streams())}};
  });
  HttpServerConfig http;
  http.host = flags.http_host;
  http.port = flags.http_port;
  HttpServer ops(http);
  if (auto started = start_ops_http(flags, ops, metrics, service); !started.ok()) {
    return fail("worker", started.error());
  }

  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(flags.listen, grpc::InsecureServerCredentials(), &bound_port);
  builder.RegisterService(&service);
  // Frontends ping every 2 s (a stopped worker is found without waiting for TCP); allow it.
  // A frontend that stops answering pings has its streams cancelled, freeing their KV.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 2000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 2000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound_port == 0) {
    return fail("worker", Error{ErrorCode::kIoError,
                                fmt::format("cannot listen on {} (in use, or not an address of "
                                            "this host?); pick another --listen",
                                            flags.listen)});
  }
  const std::string advertise =
      flags.advertise.empty() ? fmt::format("{}:{}", address->first, bound_port) : flags.advertise;
  Membership membership;
  if (!flags.cluster.etcd.empty()) {
    const EngineLimits limits = client.limits();
    Member self{name,
                "worker",
                advertise,
                fingerprint_hex((*model)->fingerprint()),
                0,
                limits.kv_blocks_total,
                limits.max_running};
    membership.on_change([&] { service.set_epoch(static_cast<uint64_t>(membership.epoch())); });
    if (Status joined = membership.start(membership_config(flags.cluster), self); !joined.ok()) {
      server->Shutdown();
      return fail("worker", joined.error());
    }
    service.set_epoch(static_cast<uint64_t>(membership.epoch()));
    spdlog::info("member of cluster '{}' as {} (epoch {:x})", flags.cluster.cluster, advertise,
                 membership.epoch());
  }
  spdlog::info("worker serving '{}' (weights {}) on grpc://{}:{}", name,
               fingerprint_hex((*model)->fingerprint()), address->first, bound_port);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("{}: draining — no new requests; running ones get {} s to finish",
               signal_number == SIGTERM ? "SIGTERM" : "SIGINT", flags.serve.shutdown_grace_seconds);
  drain(flags, service, **engine, *server, membership);
  ops.stop(std::chrono::seconds(1));
  spdlog::info("stopped");
  return 0;
}

}  // namespace

void register_worker(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<WorkerFlags>();
  CLI::App* sub =
      app.add_subcommand("worker", "Run an engine on one model for frontends to route to (gRPC)");
  add_model_flag(*sub, flags->serve.model);
  sub->add_option("--served-model-name", flags->serve.served_model_name,
                  "Model id clients use (default: the file or folder name)")
      ->envname("MXSERVE_SERVED_MODEL_NAME");
  sub->add_option("--listen", flags->listen, "host:port of the worker's gRPC service (port 0: any)")
      ->envname("MXSERVE_LISTEN")
      ->capture_default_str();
  sub->add_option("--data-dir", flags->serve.ledger.data_dir,
                  "Directory of the SSD KV tier (--kv-ssd-size)")
      ->envname("MXSERVE_DATA_DIR")
      ->capture_default_str();
  sub->add_option("--advertise", flags->advertise,
                  "host:port frontends dial, as announced in etcd (default: --listen's host "
                  "with the bound port)")
      ->envname("MXSERVE_ADVERTISE");
  sub->add_option("--host", flags->http_host, "Address of /health and /metrics")
      ->envname("MXSERVE_HOST")
      ->capture_default_str();
  sub->add_option("--port", flags->http_port, "Port of /health and /metrics (0: any free port)")
      ->envname("MXSERVE_PORT")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  add_cluster_flags(*sub, flags->cluster);
  add_engine_flags(*sub, flags->serve);
  add_shutdown_grace_flag(*sub, flags->serve);
  sub->callback([flags, &exit_code] { exit_code = worker(*flags); });
}

}  // namespace mx::app
