// Flags of the commands that serve (serve, worker, frontend) and what they build: the engine's
// configuration, the HTTP API's, the ledger. Each flag also comes from an MXSERVE_* environment
// variable and from the --config file; CLI11 merges the three, in this one place.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "app/service_flags.h"
#include "core/status.h"
#include "engine/engine.h"
#include "server/http_server.h"
#include "service/ledger.h"

namespace mx::app {

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

// --model is the caller's. Engine flags: threads, context, batch, queue, KV cache and its
// tiers, speculative decoding. API flags: the model name, HTTP, the Tokens service.
void add_engine_flags(CLI::App& sub, ServeFlags& flags);
void add_api_flags(CLI::App& sub, ServeFlags& flags);
void add_shutdown_grace_flag(CLI::App& sub, ServeFlags& flags);

Result<EngineConfig> engine_config(const ServeFlags& flags);
Result<HttpServerConfig> http_config(const ServeFlags& flags);
// The Tokens service's ledger (keys, usage records); null with --no-ledger.
Result<std::unique_ptr<Ledger>> start_ledger(const ServeFlags& flags);
// "512MiB", "2GiB", "1.5G", "4096" (bytes): more than 0 and at most `max_bytes`.
Result<int64_t> parse_size(const std::string& text, const char* flag,
                           int64_t max_bytes = int64_t{1} << 50);
bool is_loopback(const std::string& host);
// Who computed a record: this host and the port actually bound (not 0 under --port 0).
std::string worker_name(int port);

}  // namespace mx::app
