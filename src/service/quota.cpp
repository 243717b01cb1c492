#include "service/quota.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <vector>

namespace mx {
namespace {

constexpr int64_t kSecondMs = 1000;

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// A rolling window of `n` buckets of bucket_ms each, as a ring indexed by the absolute bucket
// number (time / bucket_ms) modulo n. The window ends at the newest bucket seen; buckets that
// fall out of it are cleared lazily when time advances, so an idle key costs nothing.
// Time never moves the window backwards: an older now_ms (a wall clock stepped back) is
// counted against the newest window, which only errs on the side of refusing.
class Ring {
 public:
  Ring(int64_t bucket_ms, int64_t n) : bucket_ms_(bucket_ms), counts_(n, 0) {}

  int64_t size() const { return static_cast<int64_t>(counts_.size()); }
  int64_t total() const { return total_; }
  int64_t window_s() const { return size() * bucket_ms_ / kSecondMs; }

  // Moves the window's end to now_ms, clearing the buckets that left the window.
  void advance(int64_t now_ms) {
    int64_t bucket = floor_div(now_ms, bucket_ms_);
    if (bucket <= newest_) return;
    if (bucket - newest_ >= size()) {
      std::fill(counts_.begin(), counts_.end(), 0);
      total_ = 0;
    } else {
      for (int64_t b = newest_ + 1; b <= bucket; ++b) {
        total_ -= slot(b);
        slot(b) = 0;
      }
    }
    newest_ = bucket;
  }

  // Adds delta to the bucket of at_ms if that bucket is still in the window (else nothing:
  // what left the window no longer counts). A bucket never goes below zero. at_ms newer than
  // the window's end lands in the newest bucket.
  void add(int64_t at_ms, int64_t delta) {
    int64_t bucket = std::min(floor_div(at_ms, bucket_ms_), newest_);
    if (bucket <= newest_ - size()) return;
    int64_t& count = slot(bucket);
    int64_t updated = std::max<int64_t>(0, count + delta);
    total_ += updated - count;
    count = updated;
  }

  // Seconds from now_ms until enough of the oldest buckets have expired for total + need to
  // be at most limit (need <= limit, so emptying the whole window always suffices). Bucket b
  // expires when bucket b + n begins; the answer is rounded up and at least 1.
  int64_t retry_after_s(int64_t need, int64_t limit, int64_t now_ms) const {
    int64_t remaining = total_;
    int64_t oldest = newest_ - size() + 1;
    int64_t k = 0;
    while (remaining + need > limit && k < size()) {
      remaining -= slot_value(oldest + k);
      ++k;
    }
    int64_t fits_at_ms = (newest_ + k) * bucket_ms_;
    int64_t wait_ms = std::max<int64_t>(0, fits_at_ms - now_ms);
    return std::max<int64_t>(1, (wait_ms + kSecondMs - 1) / kSecondMs);
  }

 private:
  int64_t& slot(int64_t bucket) { return counts_[static_cast<size_t>(floor_mod(bucket))]; }
  int64_t slot_value(int64_t bucket) const {
    return counts_[static_cast<size_t>(floor_mod(bucket))];
  }
  int64_t floor_mod(int64_t bucket) const { return bucket - floor_div(bucket, size()) * size(); }

  int64_t bucket_ms_;
  std::vector<int64_t> counts_;
  int64_t newest_ = INT64_MIN / 2;  // far in the past: the first advance clears everything
  int64_t total_ = 0;
};

}  // namespace

// Every window of one key. All three are kept once any limit is set, so a limit raised later
// (update_key) sees the key's recent history.
struct QuotaTracker::Windows {
  Ring requests{kQuotaSecondMs, kQuotaSecondBuckets};       // requests, last 60 s
  Ring minute_tokens{kQuotaSecondMs, kQuotaSecondBuckets};  // tokens, last 60 s
  Ring day_tokens{kQuotaMinuteMs, kQuotaMinuteBuckets};     // tokens, last 24 h

  void advance(int64_t now_ms) {
    requests.advance(now_ms);
    minute_tokens.advance(now_ms);
    day_tokens.advance(now_ms);
  }
};

namespace {

// One limit of a key against its window, for a request that needs `need` more units.
struct LimitCheck {
  const char* name;  // the ApiKey field: tokens_per_minute, ...
  int64_t limit;     // 0: no limit
  const Ring* ring;
  int64_t need;
  bool tokens;  // tokens (with prompt + max_tokens wording) or requests
};

std::string window_name(const Ring& ring) {
  return ring.window_s() >= 86400 ? "24 h" : fmt::format("{} s", ring.window_s());
}

QuotaDecision never_fits(const LimitCheck& check, const std::string& key_id) {
  return {false, 0,
          fmt::format("this request needs {} tokens (prompt + max_tokens) but the {} limit of "
                      "key {} is {}: it can never fit; lower max_tokens or raise the limit",
                      check.need, check.name, key_id, check.limit)};
}

QuotaDecision over_limit(const LimitCheck& check, const std::string& key_id, int64_t now_ms) {
  int64_t retry = check.ring->retry_after_s(check.need, check.limit, now_ms);
  std::string usage = check.tokens ? fmt::format(
                                         "{} in use in the last {}, this request needs {} "
                                         "(prompt + max_tokens)",
                                         check.ring->total(), window_name(*check.ring), check.need)
                                   : fmt::format("{} requests in the last {}", check.ring->total(),
                                                 window_name(*check.ring));
  return {false, retry,
          fmt::format("{} limit of {} for key {}: {}; retry in {} s", check.name, check.limit,
                      key_id, usage, retry)};
}

// The refusal for the first limit that can never fit, else for the exceeded limit that frees
// up last (the request fits only when all do), else nothing.
std::optional<QuotaDecision> refusal(const std::vector<LimitCheck>& checks,
                                     const std::string& key_id, int64_t now_ms) {
  std::optional<QuotaDecision> worst;
  for (const LimitCheck& check : checks) {
    if (check.limit <= 0) continue;
    if (check.need > check.limit) return never_fits(check, key_id);
    if (check.ring->total() + check.need <= check.limit) continue;
    QuotaDecision decision = over_limit(check, key_id, now_ms);
    if (!worst || decision.retry_after_s > worst->retry_after_s) worst = std::move(decision);
  }
  return worst;
}

}  // namespace

bool has_quota_limits(const ApiKey& key) {
  return key.tokens_per_day > 0 || key.tokens_per_minute > 0 || key.requests_per_minute > 0;
}

// The windows advance to each bucket in time order while seeding, then to now_ms.
QuotaDecision decide_quota(const ApiKey& key, int64_t tokens, int64_t now_ms,
                           std::vector<QuotaBucket> used) {
  if (!has_quota_limits(key)) return {};
  std::sort(used.begin(), used.end(), [](const QuotaBucket& a, const QuotaBucket& b) {
    return a.bucket_start_ms < b.bucket_start_ms;
  });
  QuotaTracker windows;
  for (const QuotaBucket& b : used) {
    if (b.span_ms == kQuotaSecondMs) {
      windows.seed_minute(key.id, b.requests, b.tokens, b.bucket_start_ms);
    } else if (b.span_ms == kQuotaMinuteMs) {
      windows.seed_day(key.id, b.tokens, b.bucket_start_ms);
    }
  }
  return windows.reserve(key, tokens, now_ms);
}

std::array<QuotaBucket, 2> quota_charge(int64_t requests, int64_t tokens, int64_t at_ms) {
  return {
      QuotaBucket{kQuotaSecondMs, floor_div(at_ms, kQuotaSecondMs) * kQuotaSecondMs, requests,
                  tokens},
      QuotaBucket{kQuotaMinuteMs, floor_div(at_ms, kQuotaMinuteMs) * kQuotaMinuteMs, 0, tokens}};
}

int64_t quota_oldest_second(int64_t now_ms) {
  return (floor_div(now_ms, kQuotaSecondMs) - kQuotaSecondBuckets + 1) * kQuotaSecondMs;
}

int64_t quota_oldest_minute(int64_t now_ms) {
  return (floor_div(now_ms, kQuotaMinuteMs) - kQuotaMinuteBuckets + 1) * kQuotaMinuteMs;
}

QuotaTracker::QuotaTracker() = default;
QuotaTracker::~QuotaTracker() = default;

QuotaDecision QuotaTracker::reserve(const ApiKey& key, int64_t tokens, int64_t now_ms) {
  if (!has_quota_limits(key)) return {};
  tokens = std::max<int64_t>(0, tokens);
  std::lock_guard lock(mutex_);
  Windows& windows = windows_of(key.id);
  windows.advance(now_ms);
  std::vector<LimitCheck> checks = {
      {"requests_per_minute", key.requests_per_minute, &windows.requests, 1, false},
      {"tokens_per_minute", key.tokens_per_minute, &windows.minute_tokens, tokens, true},
      {"tokens_per_day", key.tokens_per_day, &windows.day_tokens, tokens, true},
  };
  if (auto refused = refusal(checks, key.id, now_ms)) return *refused;
  windows.requests.add(now_ms, 1);
  windows.minute_tokens.add(now_ms, tokens);
  windows.day_tokens.add(now_ms, tokens);
  return {};
}

void QuotaTracker::settle(const std::string& key_id, int64_t reserved_tokens, int64_t used_tokens,
                          int64_t reserved_at_ms, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  auto it = keys_.find(key_id);
  if (it == keys_.end()) return;  // a key without limits reserved nothing
  Windows& windows = *it->second;
  windows.advance(now_ms);
  int64_t delta = used_tokens - reserved_tokens;
  windows.minute_tokens.add(reserved_at_ms, delta);
  windows.day_tokens.add(reserved_at_ms, delta);
}

QuotaTracker::Windows& QuotaTracker::windows_of(const std::string& key_id) {
  std::unique_ptr<Windows>& slot = keys_[key_id];
  if (!slot) slot = std::make_unique<Windows>();
  return *slot;
}

// Advancing to at_ms keeps the seeded counts when the ledger's newest record is in the future
// of the windows so far (seeding runs before any reserve).
void QuotaTracker::seed_minute(const std::string& key_id, int64_t requests, int64_t tokens,
                               int64_t at_ms) {
  std::lock_guard lock(mutex_);
  Windows& windows = windows_of(key_id);
  windows.advance(at_ms);
  windows.requests.add(at_ms, requests);
  windows.minute_tokens.add(at_ms, tokens);
}

void QuotaTracker::seed_day(const std::string& key_id, int64_t tokens, int64_t at_ms) {
  std::lock_guard lock(mutex_);
  Windows& windows = windows_of(key_id);
  windows.advance(at_ms);
  windows.day_tokens.add(at_ms, tokens);
}

}  // namespace mx
