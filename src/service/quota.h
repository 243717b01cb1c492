// QuotaTracker: per-key rate limits and token quotas, enforced before any work starts.
// A request reserves prompt + max_tokens tokens (and one request) at admission; settle()
// replaces the reservation with what was used. Windows are rolling: requests and tokens per
// minute over the last 60 s (1 s buckets), tokens per day over the last 24 h (1 min buckets).
// Reservations count toward every window until settled. In memory; seeded at start from the
// ledger (LedgerStore::tokens_since: per second for the last minute, per minute for the day)
// so a restart resets no window. Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "service/api_key.h"

namespace mx {

struct QuotaDecision {
  bool allowed = true;
  int64_t retry_after_s = 0;  // when refused: seconds until the request could fit (>= 1)
  std::string message;        // when refused: which limit, its value, and what is in use
};

class QuotaTracker {
 public:
  QuotaTracker();
  ~QuotaTracker();  // out of line: Windows is complete only in quota.cpp

  // Checks the key's three limits with `tokens` more; records the reservation when allowed.
  // A request that could never fit (tokens > tokens_per_minute or tokens_per_day) is refused
  // with a message saying so (retry_after_s = 0 then; the caller answers 400, not 429).
  QuotaDecision reserve(const ApiKey& key, int64_t tokens, int64_t now_ms);
  // Replaces a reservation made at reserved_at_ms by the tokens actually used.
  void settle(const std::string& key_id, int64_t reserved_tokens, int64_t used_tokens,
              int64_t reserved_at_ms, int64_t now_ms);
  // Start-up seeding from the ledger. seed_minute: requests and tokens started in the second
  // at at_ms, into the per-minute windows (requests, tokens); seed_day: tokens started in the
  // minute at at_ms, into the per-day window. Seed each record once into each.
  void seed_minute(const std::string& key_id, int64_t requests, int64_t tokens, int64_t at_ms);
  void seed_day(const std::string& key_id, int64_t tokens, int64_t at_ms);

 private:
  struct Windows;
  Windows& windows_of(const std::string& key_id);  // created empty; caller holds mutex_
  std::mutex mutex_;
  std::unordered_map<std::string, std::unique_ptr<Windows>> keys_;
};

}  // namespace mx
