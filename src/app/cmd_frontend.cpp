// mxserve frontend: the OpenAI API, keys, quotas, ledger, chat templates and tokenization —
// no weights — in front of workers (`mxserve worker`), routed per request
// (src/cluster/cluster_client.h). -m names the same GGUF file or HF folder the workers serve:
// the frontend reads its tokenizer, template and metadata, and routes only to workers whose
// weights fingerprint matches. Workers come from etcd (--etcd: the members with role "worker"
// of --cluster, followed as they join, leave and change epoch) or from --worker (a static
// list).
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "app/cluster_flags.h"
#include "app/commands.h"
#include "app/serve_api.h"
#include "app/serve_flags.h"
#include "cluster/cluster_client.h"
#include "cluster/worker_messages.h"

namespace mx::app {
namespace {

struct FrontendFlags {
  ServeFlags serve;
  ClusterFlags cluster;
  std::vector<std::string> workers;  // static membership: host:port of each worker
  std::string route = "cache";
  double admission_timeout = 5;
  double first_token_timeout = 60;
  double token_timeout = 10;
  int max_migrations = 3;
};

std::chrono::milliseconds millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

Result<ClusterClientConfig> cluster_config(const FrontendFlags& flags, const ModelCard& card) {
  ClusterClientConfig config;
  MX_ASSIGN_OR_RETURN(config.policy, parse_route_policy(flags.route));
  config.weights_fingerprint = card.weights_fingerprint;
  config.admission_timeout = millis(flags.admission_timeout);
  config.first_token_timeout = millis(flags.first_token_timeout);
  config.token_timeout = millis(flags.token_timeout);
  config.max_migrations = flags.max_migrations;
  // Long enough for workers whose leases expired during an etcd outage to register again.
  config.departed_grace = millis(2 * flags.cluster.lease_ttl);
  MX_RETURN_IF_ERROR(config.validate());
  return config;
}

// GET /cluster/workers (an admin key, like /metrics): the workers this frontend routes to,
// with their load and state.
void add_cluster_routes(HttpServer& server, Metering& metering,
                        const ClusterEngineClient& cluster) {
  server.route(
      "GET", "/cluster/workers",
      [&cluster, &metering](const HttpRequest& request, std::shared_ptr<HttpResponder> responder) {
        auto caller = metering.identify_admin(request);
        if (!caller.ok()) {
          const ApiError& error = caller.error();
          return responder->send(error.http_status, "application/json", error.to_json());
        }
        nlohmann::json workers = nlohmann::json::array();
        for (const WorkerView& w : cluster.workers()) {
          workers.push_back({{"address", w.address},
                             {"epoch", fingerprint_hex(w.epoch)},
                             {"state", w.up ? "up" : "down"},
                             {"requests", w.requests},
                             {"running", w.stats.running},
                             {"waiting", w.stats.waiting},
                             {"kv_blocks_used", w.stats.kv_blocks_used},
                             {"kv_blocks_total", w.stats.kv_blocks_total},
                             // The frontend's prefix index (cache-aware routing; -1: none).
                             {"prefix_blocks_indexed", w.indexed_blocks}});
        }
        responder->send(200, "application/json", nlohmann::json{{"workers", workers}}.dump());
      });
}

// The workers of a membership view: members with role "worker" (those announcing other
// weights are left out, and said so once by the client's status poll).
std::vector<WorkerEndpoint> workers_of(const MembershipView& view) {
  std::vector<WorkerEndpoint> out;
  for (const Member& member : view.members) {
    if (member.role != "worker" || member.address.empty()) continue;
    out.push_back(WorkerEndpoint{member.address, static_cast<uint64_t>(member.epoch),
                                 member.weights_fingerprint});
  }
  return out;
}

// Membership (etcd) or the static list feeds the client's workers.
Status follow_workers(const FrontendFlags& flags, ClusterEngineClient& cluster,
                      Membership& membership) {
  if (flags.cluster.etcd.empty()) {
    std::vector<WorkerEndpoint> endpoints;
    for (const std::string& address : flags.workers) {
      endpoints.push_back(WorkerEndpoint{address, 0, ""});
    }
    cluster.set_workers(endpoints);
    return ok_status();
  }
  membership.on_change([&cluster, &membership] {
    const MembershipView view = membership.view();
    // An etcd outage freezes the view: keep routing to the workers last seen.
    if (view.connected) cluster.set_workers(workers_of(view));
  });
  const std::string address =
      flags.serve.port == 0 ? "" : fmt::format("{}:{}", flags.serve.host, flags.serve.port);
  Member self;
  self.role = "frontend";
  self.address = address;
  MX_RETURN_IF_ERROR(membership.start(membership_config(flags.cluster), self));
  cluster.set_workers(workers_of(membership.view()));
  return ok_status();
}

// The cluster client and the membership that feeds it, owned together.
struct FrontendEngine {
  std::unique_ptr<ClusterEngineClient> cluster;
  Membership membership;
  ~FrontendEngine() { membership.stop(); }  // before the client it feeds goes
};

int frontend(const FrontendFlags& flags) {
  const sigset_t signals = block_stop_signals();
  if (flags.workers.empty() == flags.cluster.etcd.empty()) {
    return fail("frontend",
                Error{ErrorCode::kInvalidArgument,
                      "name the workers either through etcd (--etcd host:port) or one by one "
                      "(--worker host:port), not both"},
                2);
  }
  return run_api("frontend", flags.serve, signals, [&](const ModelCard& card) -> Result<ApiEngine> {
    MX_ASSIGN_OR_RETURN(ClusterClientConfig config, cluster_config(flags, card));
    auto owned = std::make_shared<FrontendEngine>();
    owned->cluster = std::make_unique<ClusterEngineClient>(config);
    MX_RETURN_IF_ERROR(follow_workers(flags, *owned->cluster, owned->membership));
    spdlog::info("routing to the workers of {} (policy {})",
                 flags.cluster.etcd.empty()
                     ? "--worker"
                     : fmt::format("cluster '{}' in etcd", flags.cluster.cluster),
                 route_policy_name(config.policy));
    ClusterEngineClient* raw = owned->cluster.get();
    ApiEngine api;
    api.client = raw;
    api.stop = [raw] { raw->stop(); };
    api.add_routes = [raw](HttpServer& server, Metering& metering) {
      add_cluster_routes(server, metering, *raw);
    };
    api.owner = owned;
    return api;
  });
}

}  // namespace

void register_frontend(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<FrontendFlags>();
  CLI::App* sub = app.add_subcommand(
      "frontend", "Run the OpenAI API in front of workers (no weights; routes each request)");
  add_model_flag(*sub, flags->serve.model);
  add_api_flags(*sub, flags->serve);
  add_shutdown_grace_flag(*sub, flags->serve);
  add_cluster_flags(*sub, flags->cluster);
  sub->add_option("--worker", flags->workers, "A worker's gRPC address, host:port (repeatable)")
      ->envname("MXSERVE_WORKERS")
      ->delimiter(',');
  sub->add_option("--route", flags->route,
                  "Routing policy: cache (prefix-cache and load aware), load (least load) or "
                  "round-robin")
      ->envname("MXSERVE_ROUTE")
      ->capture_default_str();
  sub->add_option("--admission-timeout", flags->admission_timeout,
                  "Seconds a worker has to admit a request before it goes elsewhere")
      ->envname("MXSERVE_ADMISSION_TIMEOUT")
      ->check(CLI::Range(0.01, 600.0))
      ->capture_default_str();
  sub->add_option("--first-token-timeout", flags->first_token_timeout,
                  "Seconds from admission to the first token before the request moves to "
                  "another worker")
      ->envname("MXSERVE_FIRST_TOKEN_TIMEOUT")
      ->check(CLI::Range(0.01, 3600.0))
      ->capture_default_str();
  sub->add_option("--token-timeout", flags->token_timeout,
                  "Seconds between tokens before the request moves to another worker")
      ->envname("MXSERVE_TOKEN_TIMEOUT")
      ->check(CLI::Range(0.01, 3600.0))
      ->capture_default_str();
  sub->add_option("--max-migrations", flags->max_migrations,
                  "Times a request may move between failing workers before it ends in an error")
      ->envname("MXSERVE_MAX_MIGRATIONS")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  sub->callback([flags, &exit_code] { exit_code = frontend(*flags); });
}

}  // namespace mx::app
