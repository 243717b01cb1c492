#include "app/serve_flags.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "app/commands.h"
#include "kvstore/tiered_store.h"

namespace mx::app {

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
Result<int64_t> parse_size(const std::string& text, const char* flag, int64_t max_bytes) {
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

Result<HttpServerConfig> http_config(const ServeFlags& flags) {
  HttpServerConfig http;
  http.host = flags.host;
  http.port = flags.port;
  http.io_threads = flags.http_threads;
  http.handler_threads = flags.request_threads;
  MX_ASSIGN_OR_RETURN(int64_t max_body, parse_size(flags.max_body, "--max-body", kMaxBodyLimit));
  http.max_body_bytes = static_cast<size_t>(max_body);
  MX_RETURN_IF_ERROR(http.validate());
  return http;
}

void add_engine_flags(CLI::App& sub, ServeFlags& flags) {
  sub.add_option("-t,--threads", flags.threads, "Compute threads (0: one per core)")
      ->envname("MXSERVE_THREADS")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  add_pin_flag(sub, flags.pin);
  sub.add_option("--ctx", flags.ctx, "Context length per sequence (0: the model's)")
      ->envname("MXSERVE_CTX")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 24))
      ->capture_default_str();
  sub.add_option("--max-seqs", flags.max_seqs, "Sequences generating at once")
      ->envname("MXSERVE_MAX_SEQS")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  sub.add_option("--max-batch-tokens", flags.max_batch_tokens,
                 "Tokens computed per engine step (decodes + prefill chunks)")
      ->envname("MXSERVE_MAX_BATCH_TOKENS")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  sub.add_option("--max-queue", flags.max_queue,
                 "Sequences waiting for the engine at most (a request's n choices count n); "
                 "beyond it requests get 429 with Retry-After")
      ->envname("MXSERVE_MAX_QUEUE")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  sub.add_option("--kv-memory", flags.kv_memory, "Memory for the KV cache, e.g. 2GiB")
      ->envname("MXSERVE_KV_MEMORY")
      ->capture_default_str();
  add_kv_type_flag(sub, flags.kv_type);
  sub.add_option("--block-size", flags.block_size, "Tokens per KV block")
      ->envname("MXSERVE_BLOCK_SIZE")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  sub.add_flag("--no-prefix-caching", flags.no_prefix_caching,
               "Do not reuse KV blocks of repeated prompt prefixes")
      ->envname("MXSERVE_NO_PREFIX_CACHING");
  sub.add_option("--kv-host-memory", flags.kv_host_memory,
                 "Host-memory tier for prefix blocks evicted from the KV cache, e.g. 8GiB; 0: off")
      ->envname("MXSERVE_KV_HOST_MEMORY")
      ->capture_default_str();
  sub.add_option("--kv-ssd-size", flags.kv_ssd_size,
                 "SSD tier under --data-dir/kvcache (kept across restarts), e.g. 100GiB; 0: off")
      ->envname("MXSERVE_KV_SSD_SIZE")
      ->capture_default_str();
  sub.add_option("--kv-ssd-wait", flags.kv_ssd_wait,
                 "Seconds a request waits for its prefix from the SSD tier before recomputing")
      ->envname("MXSERVE_KV_SSD_WAIT")
      ->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  sub.add_option("--speculative", flags.speculative,
                 "Speculative decoding: none, ngram (drafts copied from earlier text) or mtp "
                 "(drafts from the model's multi-token-prediction layers, DeepSeek-V3)")
      ->envname("MXSERVE_SPECULATIVE")
      ->capture_default_str();
  sub.add_option("--draft-tokens", flags.draft_tokens,
                 "Most draft tokens verified per sequence and step (--speculative ngram / mtp)")
      ->envname("MXSERVE_DRAFT_TOKENS")
      ->check(CLI::Range(1, 32))
      ->capture_default_str();
  sub.add_option("--ngram-min", flags.ngram_min, "Shortest suffix the n-gram drafter matches")
      ->envname("MXSERVE_NGRAM_MIN")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  sub.add_option("--ngram-max", flags.ngram_max, "Longest suffix the n-gram drafter matches")
      ->envname("MXSERVE_NGRAM_MAX")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
}

void add_api_flags(CLI::App& sub, ServeFlags& flags) {
  sub.add_option("--served-model-name", flags.served_model_name,
                 "Model id clients use (default: the file or folder name)")
      ->envname("MXSERVE_SERVED_MODEL_NAME");
  sub.add_option("--host", flags.host, "Address to listen on")
      ->envname("MXSERVE_HOST")
      ->capture_default_str();
  sub.add_option("--port", flags.port, "Port to listen on (0: any free port)")
      ->envname("MXSERVE_PORT")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  sub.add_option("--http-threads", flags.http_threads, "Threads serving sockets")
      ->envname("MXSERVE_HTTP_THREADS")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  sub.add_option("--request-threads", flags.request_threads,
                 "Threads running request handlers (JSON parsing, key lookups, chat templates, "
                 "tokenization); the HTTP threads only move bytes")
      ->envname("MXSERVE_REQUEST_THREADS")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  sub.add_option("--text-threads", flags.text_threads,
                 "Threads turning generated tokens into text and response chunks (off the "
                 "engine thread)")
      ->envname("MXSERVE_TEXT_THREADS")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  sub.add_option("--default-max-tokens", flags.default_max_tokens,
                 "Tokens a choice may generate when the request sets no max_tokens (0: up to "
                 "the context's end)")
      ->envname("MXSERVE_DEFAULT_MAX_TOKENS")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 24))
      ->capture_default_str();
  sub.add_option("--max-body", flags.max_body, "Largest request body, e.g. 8MiB")
      ->envname("MXSERVE_MAX_BODY")
      ->capture_default_str();
  add_ledger_flags(sub, flags.ledger);
  sub.add_flag("--no-ledger", flags.no_ledger,
               "No Tokens service: no keys, no usage records (benchmarks, local tests)")
      ->envname("MXSERVE_NO_LEDGER");
  add_prices_flag(sub, flags.prices);
  sub.add_flag("--allow-no-auth", flags.allow_no_auth,
               "Serve on a non-loopback --host even when no API key exists")
      ->envname("MXSERVE_ALLOW_NO_AUTH");
}

void add_shutdown_grace_flag(CLI::App& sub, ServeFlags& flags) {
  sub.add_option("--shutdown-grace", flags.shutdown_grace_seconds,
                 "Seconds running requests get to finish after SIGTERM")
      ->envname("MXSERVE_SHUTDOWN_GRACE")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
}

}  // namespace mx::app
