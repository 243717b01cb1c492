// KeyDirectory: the server's view of the API keys in the ledger store — Bearer secret → key,
// cached for a few seconds so that a request costs no store lookup, yet a key created,
// updated or revoked by `mxserve keys` (another process) takes effect within ttl.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "server/api_result.h"
#include "service/api_key.h"
#include "service/ledger_store.h"

namespace mx {

class KeyDirectory {
 public:
  using Clock = std::chrono::steady_clock;

  KeyDirectory(LedgerStore& store, std::chrono::milliseconds ttl = std::chrono::seconds(5))
      : store_(store), ttl_(ttl) {}

  // Open mode: the store has never held a key. Key rows are never deleted, so a revoked or
  // expired key still counts, and once a key has been seen this process stays closed for
  // good; while open, the store is re-read at most every ttl (and after invalidate()). Each
  // change of mode is logged as a warning. A store that cannot be read answers 503: fail
  // closed, never open.
  ApiResult<bool> open_mode();
  // The key of an "Authorization: Bearer <secret>" header value: 401 if missing or unknown,
  // 403 if revoked or expired.
  ApiResult<ApiKey> authenticate(const std::string& authorization, int64_t now_ms);
  // Forget cached entries (after the admin API changed a key); open mode is re-read too.
  void invalidate();

 private:
  struct Entry {
    std::optional<ApiKey> key;  // nullopt: no such secret (cached too, against hammering)
    Clock::time_point loaded;
  };
  ApiResult<std::optional<ApiKey>> lookup(const std::string& secret_hash);

  LedgerStore& store_;
  std::chrono::milliseconds ttl_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> by_hash_;
  bool keys_seen_ = false;       // a key exists (final: key rows are never deleted)
  bool open_announced_ = false;  // the open-mode warning was logged
  std::optional<Clock::time_point> open_checked_;  // when the store last held no key
};

}  // namespace mx
