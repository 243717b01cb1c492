// mxserve frontend: the OpenAI API, keys, quotas, ledger, chat templates and tokenization —
// no weights — in front of workers (`mxserve worker`), routed per request
// (src/cluster/cluster_client.h). -m names the same GGUF file or HF folder the workers serve:
// the frontend reads its tokenizer, template and metadata, and routes only to workers whose
// weights fingerprint matches. Workers come from --worker (a static list).
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "app/commands.h"
#include "app/serve_api.h"
#include "app/serve_flags.h"
#include "cluster/cluster_client.h"
#include "cluster/worker_messages.h"

namespace mx::app {
namespace {

struct FrontendFlags {
  ServeFlags serve;
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
  MX_RETURN_IF_ERROR(config.validate());
  return config;
}

// GET /cluster/workers: the workers this frontend routes to, with their load and state.
void add_cluster_routes(HttpServer& server, const ClusterEngineClient& cluster) {
  server.route("GET", "/cluster/workers",
               [&cluster](const HttpRequest&, std::shared_ptr<HttpResponder> responder) {
                 nlohmann::json workers = nlohmann::json::array();
                 for (const WorkerView& w : cluster.workers()) {
                   workers.push_back({{"address", w.address},
                                      {"epoch", fingerprint_hex(w.epoch)},
                                      {"state", w.up ? "up" : "down"},
                                      {"requests", w.requests},
                                      {"running", w.stats.running},
                                      {"waiting", w.stats.waiting},
                                      {"kv_blocks_used", w.stats.kv_blocks_used},
                                      {"kv_blocks_total", w.stats.kv_blocks_total}});
                 }
                 responder->send(200, "application/json",
                                 nlohmann::json{{"workers", workers}}.dump());
               });
}

int frontend(const FrontendFlags& flags) {
  const sigset_t signals = block_stop_signals();
  if (flags.workers.empty()) {
    return fail("frontend",
                Error{ErrorCode::kInvalidArgument,
                      "no workers: name each with --worker host:port"},
                2);
  }
  return run_api("frontend", flags.serve, signals,
                 [&](const ModelCard& card) -> Result<ApiEngine> {
                   MX_ASSIGN_OR_RETURN(ClusterClientConfig config, cluster_config(flags, card));
                   auto cluster = std::make_shared<ClusterEngineClient>(config);
                   std::vector<WorkerEndpoint> endpoints;
                   for (const std::string& address : flags.workers) {
                     endpoints.push_back(WorkerEndpoint{address, 0, ""});
                   }
                   cluster->set_workers(endpoints);
                   spdlog::info("routing to {} worker(s), policy {}", endpoints.size(),
                                route_policy_name(config.policy));
                   ApiEngine api;
                   api.client = cluster.get();
                   api.stop = [raw = cluster.get()] { raw->stop(); };
                   api.add_routes = [raw = cluster.get()](HttpServer& server) {
                     add_cluster_routes(server, *raw);
                   };
                   api.owner = cluster;
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
