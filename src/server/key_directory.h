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

  // Whether any usable key exists (re-read at most every ttl). Without keys the server is
  // open (loopback only by default) and requests are metered under key_id "".
  bool has_keys();
  // The key of an "Authorization: Bearer <secret>" header value: 401 if missing or unknown,
  // 403 if revoked or expired.
  ApiResult<ApiKey> authenticate(const std::string& authorization, int64_t now_ms);
  // Forget cached entries (after the admin API changed a key).
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
  bool has_keys_ = false;
  Clock::time_point has_keys_loaded_{};
  bool has_keys_known_ = false;
};

}  // namespace mx
