// Metering: the Tokens service on the request path. identify() says who is calling (the
// Bearer key, through KeyDirectory); admit() decides whether a generation may start — the key
// may use the model, its quotas have room for prompt + max_tokens (LedgerStore::reserve_quota:
// shared by every process on the store), the ledger
// can take one more open record — and returns the MeteredRequest that carries its usage record
// to the end. Nothing is computed for a request that is refused.
//
// Open mode: while the store has never held a key, every caller is let in without a key and
// metered under key_id "" (the server then listens on loopback only unless the operator
// allowed otherwise; see cmd_serve). Once a key exists — revoked or expired keys count — a
// request without a valid key is refused, always (KeyDirectory::open_mode). Without a store at
// all (--no-ledger) the server is always open and records nothing.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "server/api_result.h"
#include "server/http_server.h"
#include "server/key_directory.h"
#include "service/ledger.h"
#include "service/usage.h"

namespace mx {

struct Caller {
  std::optional<ApiKey> key;  // nullopt in open mode
  bool admin() const { return !key || key->admin; }
  std::string key_id() const { return key ? key->id : std::string(); }
};

class MeteredRequest {
 public:
  MeteredRequest(Ledger* ledger, UsageRecord record)
      : ledger_(ledger), record_(std::move(record)) {}

  const std::string& request_id() const { return record_.request_id; }
  // The counts so far; then() runs once they are durable in the ledger (at once without one).
  // Streamed output is sent from then(), so a delivered token is never missing from the
  // ledger, even after a crash.
  void progress(const TokenCounts& tokens, double ttft_ms, std::function<void()> then);
  // Who computed the request, for the final record (cluster: the workers); default: the
  // MeteringConfig's worker.
  void set_worker(std::string worker) { record_.worker = std::move(worker); }
  // The final record (first call only); it settles the quota reservation in the store (used
  // tokens replace the reserved ones); then() after commit.
  void finish(UsageStatus status, const TokenCounts& tokens, double ttft_ms, double e2e_ms,
              std::function<void()> then);

 private:
  Ledger* ledger_;
  UsageRecord record_;
  std::atomic<bool> finished_{false};
};

struct MeteringConfig {
  std::string worker;  // written into every record: who computed it
};

class Metering {
 public:
  // store and ledger may be null (--no-ledger): open, nothing recorded.
  Metering(LedgerStore* store, Ledger* ledger, MeteringConfig config);

  // The caller of an API route: 401 / 403 errors when keys exist and the header is wrong, 400
  // for more than one Authorization header, 503 when the key store cannot be read.
  ApiResult<Caller> identify(const HttpRequest& request);
  // The same, and the caller must hold an admin key (403 otherwise).
  ApiResult<Caller> identify_admin(const HttpRequest& request);
  // 403 (param "model") if the caller's key may not use `model`; nullopt if it may.
  std::optional<ApiError> check_model(const Caller& caller, const std::string& model) const;
  // Admission of a generation of `reserve_tokens` (prompt + max_tokens over all choices):
  // 403 if the key may not use `model`, 429 (with retry_after_s) if a quota is full, 400 if
  // the request can never fit the key's quota, 503 if the ledger has too many open records or
  // the quota cannot be read.
  ApiResult<std::shared_ptr<MeteredRequest>> admit(const Caller& caller,
                                                   const std::string& request_id,
                                                   const std::string& model,
                                                   const TokenCounts& prompt,
                                                   int64_t reserve_tokens);
  bool has_store() const { return store_ != nullptr; }
  LedgerStore& store() { return *store_; }
  KeyDirectory& keys() { return *keys_; }
  // Open mode now (see above); false when the key store cannot be read (fail closed).
  bool open_mode();

 private:
  LedgerStore* store_;
  Ledger* ledger_;
  MeteringConfig config_;
  std::unique_ptr<KeyDirectory> keys_;
};

}  // namespace mx
