// mxserve experts [--url http://127.0.0.1:8080] [--window SECONDS] [--api-key KEY] [--json]
//
// The expert load of a running server's MoE model over a window: reads the per-layer,
// per-expert routed-token counters from /metrics (admin key when keys are configured), waits
// the window, reads them again and reports the difference — per layer the token-expert
// assignments, max/mean imbalance, hottest expert and idle experts; --json adds the full
// [layer][expert] matrix, the input of expert placement. --window 0 reports the totals since
// the server started.
#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "app/commands.h"
#include "server/expert_load.h"
#include "server/http_client.h"

namespace mx::app {
namespace {

struct ExpertsOptions {
  std::string url = "http://127.0.0.1:8080";
  double window_seconds = 10;
  std::string api_key;
  bool json = false;
};

Result<ExpertCounts> read_counts(const HttpUrl& url, const std::string& key) {
  MX_ASSIGN_OR_RETURN(HttpGetResult got, http_get(url, "/metrics", key, std::chrono::seconds(30)));
  if (got.status == 401 || got.status == 403) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the server refused /metrics (HTTP {}): pass an admin key with --api-key "
                      "or MXSERVE_API_KEY",
                      got.status);
  }
  if (got.status != 200) {
    return make_error(ErrorCode::kIoError, "GET /metrics answered HTTP {}: {}", got.status,
                      got.body.substr(0, 200));
  }
  return parse_expert_tokens(got.body);
}

int run_experts(const ExpertsOptions& options) {
  if (!(options.window_seconds >= 0) || options.window_seconds > 86'400) {
    return fail("experts", Error{ErrorCode::kInvalidArgument,
                                 "--window must be between 0 and 86400 seconds"}, 2);
  }
  auto url = parse_http_url(options.url);
  if (!url.ok()) return fail("experts", url.error(), 2);
  ExpertCounts before;
  if (options.window_seconds > 0) {
    auto first = read_counts(*url, options.api_key);
    if (!first.ok()) return fail("experts", first.error());
    before = *first;
    std::this_thread::sleep_for(std::chrono::duration<double>(options.window_seconds));
  }
  auto after = read_counts(*url, options.api_key);
  if (!after.ok()) return fail("experts", after.error());
  if (options.window_seconds > 0) {
    auto delta = expert_counts_delta(before, *after);
    if (!delta.ok()) return fail("experts", delta.error());
    after = std::move(delta);
  }
  fmt::print("{}", options.json ? expert_report_json(*after, options.window_seconds)
                                : expert_report_text(*after, options.window_seconds));
  return 0;
}

}  // namespace

void register_experts(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<ExpertsOptions>();
  CLI::App* sub = app.add_subcommand(
      "experts", "Report a running server's per-layer, per-expert MoE load over a window");
  sub->add_option("--url", options->url, "The server, http://HOST:PORT")
      ->envname("MXSERVE_URL")
      ->capture_default_str();
  sub->add_option("--window", options->window_seconds,
                  "Seconds between the two readings; 0: totals since the server started")
      ->capture_default_str();
  sub->add_option("--api-key", options->api_key, "Admin key (when the server has keys)")
      ->envname("MXSERVE_API_KEY");
  sub->add_flag("--json", options->json, "JSON with the full [layer][expert] token matrix");
  sub->callback([options, &exit_code] { exit_code = run_experts(*options); });
}

}  // namespace mx::app
