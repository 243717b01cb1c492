// Quotas: per-key rate limits and token quotas, enforced before any work starts. A request
// reserves prompt + max_tokens tokens (and one request) at admission; its final usage record
// replaces the reservation with what was used. Windows are rolling: requests and tokens per
// minute over the last 60 s (1 s buckets), tokens per day over the last 24 h (1 min buckets).
// Reservations count toward every window until settled.
//
// The windows live in the ledger store (LedgerStore::reserve_quota), shared by every process
// on it, so N frontends never admit N times a key's limit and a restart resets nothing. The
// store keeps the buckets (QuotaBucket); the decision is decide_quota(), a pure function of a
// key's buckets, computed with QuotaTracker (the windows in memory, also usable on its own).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "service/api_key.h"

namespace mx {

struct QuotaDecision {
  bool allowed = true;
  int64_t retry_after_s = 0;  // when refused: seconds until the request could fit (>= 1)
  std::string message;        // when refused: which limit, its value, and what is in use
};

// One stored bucket of a key's usage: span_ms 1000 (requests and tokens, the minute windows)
// or 60000 (tokens, the day window), starting at bucket_start_ms (a multiple of span_ms).
struct QuotaBucket {
  int64_t span_ms = 0;
  int64_t bucket_start_ms = 0;
  int64_t requests = 0;
  int64_t tokens = 0;
};
constexpr int64_t kQuotaSecondMs = 1000;
constexpr int64_t kQuotaMinuteMs = 60'000;
constexpr int64_t kQuotaSecondBuckets = 60;    // the minute windows
constexpr int64_t kQuotaMinuteBuckets = 1440;  // the day window

bool has_quota_limits(const ApiKey& key);
// Whether `key` may reserve `tokens` more at now_ms, given its stored buckets (any order;
// those outside the windows are ignored).
QuotaDecision decide_quota(const ApiKey& key, int64_t tokens, int64_t now_ms,
                           std::vector<QuotaBucket> used);
// What an allowed reservation adds: one request and the tokens in the second of at_ms, the
// tokens in its minute. A settlement adds {0, delta} to the same two buckets.
std::array<QuotaBucket, 2> quota_charge(int64_t requests, int64_t tokens, int64_t at_ms);
// The oldest bucket start of each span still inside the windows at now_ms: stored buckets
// older than these can go.
int64_t quota_oldest_second(int64_t now_ms);
int64_t quota_oldest_minute(int64_t now_ms);

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
