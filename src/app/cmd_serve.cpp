// mxserve serve: the whole server in one process — HTTP API, engine, KV cache — on one model.
// Every flag also comes from an MXSERVE_* environment variable and from the --config file
// ([serve] section); CLI11 merges the three here, in this one place.
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include "app/commands.h"
#include "app/service_flags.h"
#include "engine/engine_client.h"
#include "kvstore/tiered_store.h"
#include "server/admin_service.h"
#include "server/http_server.h"
#include "server/metering.h"
#include "server/model_card.h"
#include "server/openai_service.h"
#include "service/ledger.h"

namespace mx::app {
namespace {

struct ServeFlags {
  std::string model;
  std::string served_model_name;
  std::string host = "127.0.0.1";
  int port = 8080;
  int threads = 0;
  bool pin = false;
  int http_threads = 1;
  int request_threads = 4;  // route handlers (parse, keys, templates, tokenize), off the I/O thread
  int text_threads = 2;     // generations' text pipelines, off the engine thread
  int64_t ctx = 0;
  int64_t max_seqs = 16;
  int64_t max_batch_tokens = 512;
  int64_t max_queue = 256;         // sequences waiting for the engine (n choices count n)
  int64_t default_max_tokens = 0;  // requests without max_tokens; 0: up to the context's end
  std::string kv_memory = "2GiB";
  std::string kv_type = "f16";
  int64_t block_size = 32;
  bool no_prefix_caching = false;
  std::string kv_host_memory = "0";  // host-memory tier under the prefix cache; 0: off
  std::string kv_ssd_size = "0";     // SSD tier under --data-dir/kvcache; 0: off
  double kv_ssd_wait = 5.0;
  std::string speculative = "none";  // none | ngram | mtp
  int64_t draft_tokens = 4;
  int64_t ngram_min = 2;
  int64_t ngram_max = 4;
  std::string max_body = "8MiB";
  double shutdown_grace_seconds = 30;
  LedgerFlags ledger;  // --data-dir / --ledger
  bool no_ledger = false;
  bool allow_no_auth = false;
  std::string prices;  // JSON price table file
};

// The most --max-body may allow: a bigger request body is no API call but an attack.
constexpr int64_t kMaxBodyLimit = int64_t{1} << 30;

bool is_loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// Who computed a record: this host and the port actually bound (not 0 under --port 0).
std::string worker_name(int port) {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "localhost");
  return fmt::format("{}:{}", host, port);
}

// The Tokens service's ledger (keys, usage records), unless --no-ledger.
Result<std::unique_ptr<Ledger>> start_ledger(const ServeFlags& flags) {
  if (flags.no_ledger) return std::unique_ptr<Ledger>();
  MX_ASSIGN_OR_RETURN(auto store, open_ledger_from_flags(flags.ledger));
  const std::string where = store->describe();
  MX_ASSIGN_OR_RETURN(auto ledger, Ledger::start(std::move(store)));
  spdlog::info("usage ledger: {}", where);
  if (ledger->recovered_at_start() > 0) {
    spdlog::warn(
        "settled {} usage records left open by processes that are gone (status "
        "aborted, from their last recorded progress)",
        ledger->recovered_at_start());
  }
  return ledger;
}

// "512MiB", "2GiB", "1.5G", "4096" (bytes): more than 0 and at most `max_bytes` (no NaN,
// infinity or 1e30 that would overflow into "no limit").
Result<int64_t> parse_size(const std::string& text, const char* flag,
                           int64_t max_bytes = int64_t{1} << 50) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (...) {
    used = 0;
  }
  std::string unit = text.substr(used);
  double scale = 0;
  if (unit.empty() || unit == "B") scale = 1;
  if (unit == "K" || unit == "KiB" || unit == "KB") scale = 1024.0;
  if (unit == "M" || unit == "MiB" || unit == "MB") scale = 1024.0 * 1024;
  if (unit == "G" || unit == "GiB" || unit == "GB") scale = 1024.0 * 1024 * 1024;
  if (used == 0 || scale == 0 || !std::isfinite(value) || value <= 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "{} must be a size such as 512MiB or 2GiB, got '{}'", flag, text);
  }
  if (value * scale > static_cast<double>(max_bytes)) {
    return make_error(ErrorCode::kInvalidArgument, "{} must be at most {} MiB, got '{}'", flag,
                      max_bytes >> 20, text);
  }
  return static_cast<int64_t>(value * scale);
}

// The tiers under the prefix cache: host memory, then SSD files under --data-dir/kvcache.
Status add_kv_tiers(const ServeFlags& flags, EngineConfig& config) {
  TieredKvStoreConfig tiers;
  if (flags.kv_host_memory != "0") {
    MX_ASSIGN_OR_RETURN(tiers.host_bytes, parse_size(flags.kv_host_memory, "--kv-host-memory"));
  }
  if (flags.kv_ssd_size != "0") {
    MX_ASSIGN_OR_RETURN(tiers.ssd_bytes, parse_size(flags.kv_ssd_size, "--kv-ssd-size"));
    tiers.ssd_root = (std::filesystem::path(flags.ledger.data_dir) / "kvcache").string();
  }
  if (tiers.host_bytes == 0 && tiers.ssd_bytes == 0) return ok_status();
  if (flags.no_prefix_caching) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--kv-host-memory / --kv-ssd-size keep prefix-cache blocks: they need "
                      "prefix caching, drop --no-prefix-caching");
  }
  config.kv_store_wait_seconds = flags.kv_ssd_wait;
  config.make_kv_store = [tiers](uint64_t seed,
                                 size_t block_bytes) -> Result<std::unique_ptr<KvStore>> {
    MX_ASSIGN_OR_RETURN(auto store, TieredKvStore::open(tiers, seed, block_bytes));
    spdlog::info("KV tiers: host {} MiB, SSD {} MiB", tiers.host_bytes >> 20,
                 tiers.ssd_bytes >> 20);
    return std::unique_ptr<KvStore>(std::move(store));
  };
  return ok_status();
}

Result<EngineConfig> engine_config(const ServeFlags& flags) {
  EngineConfig config;
  MX_ASSIGN_OR_RETURN(config.kv_memory_bytes, parse_size(flags.kv_memory, "--kv-memory"));
  MX_ASSIGN_OR_RETURN(config.kv_dtype, parse_kv_type(flags.kv_type));
  config.block_size = flags.block_size;
  config.max_context = flags.ctx;
  config.prefix_caching = !flags.no_prefix_caching;
  config.threads = flags.threads;
  config.pin_threads = flags.pin;
  config.scheduler.max_running = flags.max_seqs;
  config.scheduler.max_batch_tokens = flags.max_batch_tokens;
  config.max_waiting = flags.max_queue;
  MX_RETURN_IF_ERROR(add_kv_tiers(flags, config));
  MX_ASSIGN_OR_RETURN(config.speculative.method, parse_speculative_method(flags.speculative));
  config.speculative.draft_tokens = flags.draft_tokens;
  config.speculative.ngram_min = flags.ngram_min;
  config.speculative.ngram_max = flags.ngram_max;
  return config;
}

// Blocks SIGINT/SIGTERM in every thread created from here on; serve() waits for them.
sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// Seconds a client is told to wait (Retry-After) when it reaches a draining server.
constexpr int kDrainingRetryAfterSeconds = 5;

// The shutdown after SIGTERM/SIGINT. New work gets 503 + Retry-After at once; running requests
// get --shutdown-grace to finish; then the engine cancels what still runs (each stream gets an
// error event and [DONE], a whole response 503), the final usage records are committed, and
// only then does the HTTP server close the connections, so that nothing is cut mid-chunk.
void drain_and_stop(const ServeFlags& flags, OpenAiService& service, HttpServer& server,
                    Engine& engine, Ledger* ledger) {
  using Clock = std::chrono::steady_clock;
  service.set_draining();
  server.set_draining(kDrainingRetryAfterSeconds);
  const auto grace =
      std::chrono::milliseconds(static_cast<int64_t>(flags.shutdown_grace_seconds * 1000));
  if (!service.wait_idle(Clock::now() + grace)) {
    spdlog::warn("{} request{} still running after the grace period: cancelling",
                 service.active_requests(), service.active_requests() == 1 ? "" : "s");
  }
  engine.stop();                 // every sequence still running gets its final event
  service.stop_text_executor();  // ...and its text work runs: the error event / 503
  // Each response ends once its final record is committed (the ledger's thread writes it).
  if (!service.wait_idle(Clock::now() + std::chrono::seconds(10))) {
    spdlog::error("{} response(s) did not end after the engine stopped", service.active_requests());
  }
  if (ledger) {
    if (Status flushed = ledger->flush(); !flushed.ok()) {
      spdlog::error("usage ledger: {}", flushed.error().message);
    }
  }
  // Every response is complete: connections close once their last bytes are written.
  server.stop(std::chrono::seconds(2));
}

int serve(const ServeFlags& flags) {
  const sigset_t signals = block_stop_signals();
  auto config = engine_config(flags);
  if (!config.ok()) return fail("serve", config.error(), 2);
  HttpServerConfig http;
  http.host = flags.host;
  http.port = flags.port;
  http.io_threads = flags.http_threads;
  http.handler_threads = flags.request_threads;
  auto max_body = parse_size(flags.max_body, "--max-body", kMaxBodyLimit);
  if (!max_body.ok()) return fail("serve", max_body.error(), 2);
  http.max_body_bytes = static_cast<size_t>(*max_body);
  if (Status valid = http.validate(); !valid.ok()) return fail("serve", valid.error(), 2);

  auto prices = load_prices(flags.prices);
  if (!prices.ok()) return fail("serve", prices.error(), 2);
  auto ledger = start_ledger(flags);
  if (!ledger.ok()) return fail("serve", ledger.error());
  // No worker name here: the port is known only once bound (--port 0); the Ledger writes its
  // own into every record (set_worker below; the host name until then).
  Metering metering(*ledger ? &(*ledger)->store() : nullptr, ledger->get(), MeteringConfig{});
  if (Status seeded = metering.seed_quotas(unix_ms_now()); !seeded.ok()) {
    return fail("serve", seeded.error());
  }
  // Open mode only while the store has never held a key: revoked keys keep the server closed
  // (and on its --host), and an unreadable store counts as closed.
  if (metering.open_mode()) {
    if (!is_loopback(http.host) && !flags.allow_no_auth) {
      spdlog::warn(
          "no API key was ever created, so anyone who can reach the server may use it: "
          "listening on 127.0.0.1 instead of {} (create a key with `mxserve keys "
          "create --admin --data-dir {}`, or pass --allow-no-auth)",
          http.host, flags.ledger.data_dir);
      http.host = "127.0.0.1";
    } else if (!is_loopback(http.host)) {
      spdlog::warn(
          "--allow-no-auth: no API key was ever created and {} is not loopback: anyone "
          "on the network may use this server and its admin API until the first key "
          "is created",
          http.host);
    }
  }

  auto card = ModelCard::load(flags.model, flags.served_model_name);
  if (!card.ok()) return fail("serve", card.error());
  auto model = Model::load(flags.model);
  if (!model.ok()) return fail("serve", model.error());
  auto engine = Engine::create(**model, *config);
  if (!engine.ok()) return fail("serve", engine.error(), 2);
  OpenAiServiceConfig service_config;
  service_config.default_max_tokens = flags.default_max_tokens;
  service_config.text_threads = flags.text_threads;
  LocalEngineClient engine_client(**engine);
  OpenAiService service(**card, engine_client, metering, service_config);
  AdminService admin(metering, service.metrics(), *prices);
  HttpServer server(http);
  service.register_routes(server);
  admin.register_routes(server);
  auto port = server.start();
  if (!port.ok()) return fail("serve", port.error());
  if (*ledger) (*ledger)->set_worker(worker_name(*port));
  spdlog::info("serving '{}' on http://{}:{} (OpenAI API under /v1)", (*card)->name, http.host,
               *port);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("{}: draining — no new requests; running ones get {} s to finish",
               signal_number == SIGTERM ? "SIGTERM" : "SIGINT", flags.shutdown_grace_seconds);
  drain_and_stop(flags, service, server, **engine, ledger->get());
  spdlog::info("stopped");
  return 0;
}

}  // namespace

void register_serve(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* sub = app.add_subcommand("serve", "Run the OpenAI-compatible server on one model");
  add_model_flag(*sub, flags->model);
  sub->add_option("--served-model-name", flags->served_model_name,
                  "Model id clients use (default: the file or folder name)")
      ->envname("MXSERVE_SERVED_MODEL_NAME");
  sub->add_option("--host", flags->host, "Address to listen on")
      ->envname("MXSERVE_HOST")
      ->capture_default_str();
  sub->add_option("--port", flags->port, "Port to listen on (0: any free port)")
      ->envname("MXSERVE_PORT")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  sub->add_option("-t,--threads", flags->threads, "Compute threads (0: one per core)")
      ->envname("MXSERVE_THREADS")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  add_pin_flag(*sub, flags->pin);
  sub->add_option("--http-threads", flags->http_threads, "Threads serving sockets")
      ->envname("MXSERVE_HTTP_THREADS")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  sub->add_option("--request-threads", flags->request_threads,
                  "Threads running request handlers (JSON parsing, key lookups, chat templates, "
                  "tokenization); the HTTP threads only move bytes")
      ->envname("MXSERVE_REQUEST_THREADS")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  sub->add_option("--text-threads", flags->text_threads,
                  "Threads turning generated tokens into text and response chunks (off the "
                  "engine thread)")
      ->envname("MXSERVE_TEXT_THREADS")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  sub->add_option("--ctx", flags->ctx, "Context length per sequence (0: the model's)")
      ->envname("MXSERVE_CTX")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 24))
      ->capture_default_str();
  sub->add_option("--max-seqs", flags->max_seqs, "Sequences generating at once")
      ->envname("MXSERVE_MAX_SEQS")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  sub->add_option("--max-batch-tokens", flags->max_batch_tokens,
                  "Tokens computed per engine step (decodes + prefill chunks)")
      ->envname("MXSERVE_MAX_BATCH_TOKENS")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  sub->add_option("--max-queue", flags->max_queue,
                  "Sequences waiting for the engine at most (a request's n choices count n); "
                  "beyond it requests get 429 with Retry-After")
      ->envname("MXSERVE_MAX_QUEUE")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  sub->add_option("--default-max-tokens", flags->default_max_tokens,
                  "Tokens a choice may generate when the request sets no max_tokens (0: up to "
                  "the context's end)")
      ->envname("MXSERVE_DEFAULT_MAX_TOKENS")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 24))
      ->capture_default_str();
  sub->add_option("--kv-memory", flags->kv_memory, "Memory for the KV cache, e.g. 2GiB")
      ->envname("MXSERVE_KV_MEMORY")
      ->capture_default_str();
  add_kv_type_flag(*sub, flags->kv_type);
  sub->add_option("--block-size", flags->block_size, "Tokens per KV block")
      ->envname("MXSERVE_BLOCK_SIZE")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  sub->add_flag("--no-prefix-caching", flags->no_prefix_caching,
                "Do not reuse KV blocks of repeated prompt prefixes")
      ->envname("MXSERVE_NO_PREFIX_CACHING");
  sub->add_option("--kv-host-memory", flags->kv_host_memory,
                  "Host-memory tier for prefix blocks evicted from the KV cache, e.g. 8GiB; 0: off")
      ->envname("MXSERVE_KV_HOST_MEMORY")
      ->capture_default_str();
  sub->add_option("--kv-ssd-size", flags->kv_ssd_size,
                  "SSD tier under --data-dir/kvcache (kept across restarts), e.g. 100GiB; 0: off")
      ->envname("MXSERVE_KV_SSD_SIZE")
      ->capture_default_str();
  sub->add_option("--kv-ssd-wait", flags->kv_ssd_wait,
                  "Seconds a request waits for its prefix from the SSD tier before recomputing")
      ->envname("MXSERVE_KV_SSD_WAIT")
      ->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  sub->add_option("--speculative", flags->speculative,
                  "Speculative decoding: none, ngram (drafts copied from earlier text) or mtp "
                  "(drafts from the model's multi-token-prediction layers, DeepSeek-V3)")
      ->envname("MXSERVE_SPECULATIVE")
      ->capture_default_str();
  sub->add_option("--draft-tokens", flags->draft_tokens,
                  "Most draft tokens verified per sequence and step (--speculative ngram / mtp)")
      ->envname("MXSERVE_DRAFT_TOKENS")
      ->check(CLI::Range(1, 32))
      ->capture_default_str();
  sub->add_option("--ngram-min", flags->ngram_min, "Shortest suffix the n-gram drafter matches")
      ->envname("MXSERVE_NGRAM_MIN")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  sub->add_option("--ngram-max", flags->ngram_max, "Longest suffix the n-gram drafter matches")
      ->envname("MXSERVE_NGRAM_MAX")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  sub->add_option("--max-body", flags->max_body, "Largest request body, e.g. 8MiB")
      ->envname("MXSERVE_MAX_BODY")
      ->capture_default_str();
  sub->add_option("--shutdown-grace", flags->shutdown_grace_seconds,
                  "Seconds running requests get to finish after SIGTERM")
      ->envname("MXSERVE_SHUTDOWN_GRACE")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  add_ledger_flags(*sub, flags->ledger);
  sub->add_flag("--no-ledger", flags->no_ledger,
                "No Tokens service: no keys, no usage records (benchmarks, local tests)")
      ->envname("MXSERVE_NO_LEDGER");
  add_prices_flag(*sub, flags->prices);
  sub->add_flag("--allow-no-auth", flags->allow_no_auth,
                "Serve on a non-loopback --host even when no API key exists")
      ->envname("MXSERVE_ALLOW_NO_AUTH");
  sub->callback([flags, &exit_code] { exit_code = serve(*flags); });
}

}  // namespace mx::app
