// QuotaTracker: each limit alone and combined, rolling expiry, settle, retry_after at bucket
// boundaries, the never-fit case, seeding, and concurrent reservations. Time is passed
// explicitly (now_ms), so nothing sleeps.
#include "service/quota.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace mx {
namespace {

// A realistic unix time that starts exactly on a UTC day (and so minute and second) boundary.
constexpr int64_t kT0 = 1'700'006'400'000;
constexpr int64_t kSec = 1000;
constexpr int64_t kMin = 60 * kSec;
constexpr int64_t kHour = 60 * kMin;

ApiKey key_with(int64_t tokens_per_minute, int64_t tokens_per_day, int64_t requests_per_minute) {
  ApiKey key;
  key.id = "key_abc";
  key.tokens_per_minute = tokens_per_minute;
  key.tokens_per_day = tokens_per_day;
  key.requests_per_minute = requests_per_minute;
  return key;
}

TEST(QuotaTracker, KeyWithoutLimitsIsAlwaysAllowed) {
  QuotaTracker quota;
  ApiKey key = key_with(0, 0, 0);
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(quota.reserve(key, 1'000'000'000, kT0).allowed);
  }
}

TEST(QuotaTracker, TokensPerMinuteAloneWithMessage) {
  QuotaTracker quota;
  ApiKey key = key_with(1000, 0, 0);
  EXPECT_TRUE(quota.reserve(key, 950, kT0).allowed);
  QuotaDecision refused = quota.reserve(key, 200, kT0 + 10 * kSec);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.message,
            "tokens_per_minute limit of 1000 for key key_abc: 950 in use in the last 60 s, "
            "this request needs 200 (prompt + max_tokens); retry in 50 s");
  EXPECT_EQ(refused.retry_after_s, 50);
  // What is refused is not reserved: 50 more still fit.
  EXPECT_TRUE(quota.reserve(key, 50, kT0 + 10 * kSec).allowed);
  EXPECT_FALSE(quota.reserve(key, 1, kT0 + 10 * kSec).allowed);
}

TEST(QuotaTracker, RequestsPerMinuteAlone) {
  QuotaTracker quota;
  ApiKey key = key_with(0, 0, 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(quota.reserve(key, 0, kT0 + i * kSec).allowed);
  }
  QuotaDecision refused = quota.reserve(key, 0, kT0 + 5 * kSec);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.message,
            "requests_per_minute limit of 3 for key key_abc: 3 requests in the last 60 s; "
            "retry in 55 s");
  // The first request (second 0) leaves the window when second 60 begins.
  EXPECT_EQ(refused.retry_after_s, 55);
  EXPECT_TRUE(quota.reserve(key, 0, kT0 + 60 * kSec).allowed);
}

TEST(QuotaTracker, TokensPerDayAlone) {
  QuotaTracker quota;
  ApiKey key = key_with(0, 10'000, 0);
  EXPECT_TRUE(quota.reserve(key, 6000, kT0).allowed);
  EXPECT_TRUE(quota.reserve(key, 4000, kT0 + 1 * kHour).allowed);
  QuotaDecision refused = quota.reserve(key, 1, kT0 + 2 * kHour);
  EXPECT_FALSE(refused.allowed);
  EXPECT_NE(refused.message.find("tokens_per_day limit of 10000 for key key_abc: 10000 in use "
                                 "in the last 24 h, this request needs 1"),
            std::string::npos)
      << refused.message;
  // The 6000 of minute 0 leave the day's window when minute 1440 begins: 22 h from now.
  EXPECT_EQ(refused.retry_after_s, 22 * 3600);
  EXPECT_FALSE(quota.reserve(key, 6000, kT0 + 24 * kHour - 1).allowed);
  EXPECT_TRUE(quota.reserve(key, 6000, kT0 + 24 * kHour).allowed);
}

TEST(QuotaTracker, CombinedLimitsReportTheOneThatFreesUpLast) {
  QuotaTracker quota;
  ApiKey key = key_with(1000, 1500, 10);
  EXPECT_TRUE(quota.reserve(key, 1000, kT0).allowed);
  // Both the minute (1000 + 600 > 1000, free in 30 s) and the day (1000 + 600 > 1500, free
  // in 24 h) are exceeded; the day frees up last, so it is the one named.
  QuotaDecision refused = quota.reserve(key, 600, kT0 + 30 * kSec);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.message.rfind("tokens_per_day limit of 1500", 0), 0u) << refused.message;
  EXPECT_EQ(refused.retry_after_s, 24 * 3600 - 30);
  // A minute later only the day counts: 400 more fit, then 101 more do not.
  EXPECT_TRUE(quota.reserve(key, 400, kT0 + kMin).allowed);
  QuotaDecision day = quota.reserve(key, 101, kT0 + 2 * kMin);
  EXPECT_FALSE(day.allowed);
  EXPECT_EQ(day.message.rfind("tokens_per_day", 0), 0u) << day.message;
}

TEST(QuotaTracker, RequestLimitRefusesEvenWhenTokensFit) {
  QuotaTracker quota;
  ApiKey key = key_with(1'000'000, 0, 1);
  EXPECT_TRUE(quota.reserve(key, 10, kT0).allowed);
  QuotaDecision refused = quota.reserve(key, 10, kT0 + 30 * kSec);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.message.rfind("requests_per_minute limit of 1", 0), 0u) << refused.message;
  EXPECT_EQ(refused.retry_after_s, 30);
}

TEST(QuotaTracker, RollingExpiryOneBucketAtATime) {
  QuotaTracker quota;
  ApiKey key = key_with(100, 0, 0);
  // 10 tokens at each of seconds 0..9.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(quota.reserve(key, 10, kT0 + i * kSec).allowed);
  EXPECT_FALSE(quota.reserve(key, 1, kT0 + 59 * kSec + 999).allowed);
  // Second 60 drops second 0's 10 tokens, second 61 drops second 1's.
  EXPECT_TRUE(quota.reserve(key, 10, kT0 + 60 * kSec).allowed);
  EXPECT_FALSE(quota.reserve(key, 1, kT0 + 60 * kSec + 999).allowed);
  EXPECT_TRUE(quota.reserve(key, 10, kT0 + 61 * kSec).allowed);
  // Long idle: everything expired, the whole limit is available again.
  EXPECT_TRUE(quota.reserve(key, 100, kT0 + 10 * kHour).allowed);
}

TEST(QuotaTracker, RetryAfterIsExactAtBucketBoundaries) {
  QuotaTracker quota;
  ApiKey key = key_with(1000, 0, 0);
  ASSERT_TRUE(quota.reserve(key, 900, kT0).allowed);
  ASSERT_TRUE(quota.reserve(key, 100, kT0 + 20 * kSec).allowed);
  // {now offset, expected retry_after_s} for 200 more: fits once second 0 (900) expires at 60 s.
  const std::vector<std::pair<int64_t, int64_t>> cases = {
      {20 * kSec, 40},      {30 * kSec, 30},    {30 * kSec + 1, 30}, {59 * kSec, 1},
      {59 * kSec + 999, 1}, {59 * kSec + 1, 1}, {58 * kSec + 999, 2}};
  for (const auto& [offset, expected] : cases) {
    QuotaDecision refused = quota.reserve(key, 200, kT0 + offset);
    ASSERT_FALSE(refused.allowed) << offset;
    EXPECT_EQ(refused.retry_after_s, expected) << "at +" << offset << " ms";
  }
  // Needing 950 means waiting for second 20's 100 too: at 80 s.
  EXPECT_EQ(quota.reserve(key, 950, kT0 + 59 * kSec).retry_after_s, 21);
}

TEST(QuotaTracker, RetryAfterIsWhenTheRequestFirstFits) {
  QuotaTracker quota;
  ApiKey key = key_with(1000, 0, 0);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(quota.reserve(key, 150, kT0 + i * 7 * kSec).allowed);
  // 900 in use; 401 more needs 3 reservations (seconds 0, 7, 14) to expire: at second 74.
  const int64_t now = kT0 + 40 * kSec + 250;
  QuotaDecision refused = quota.reserve(key, 401, now);
  ASSERT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_s, 34);  // 74 s - 40.25 s = 33.75 s, rounded up
  // A separate tracker with the same history: refused one second earlier, allowed on time.
  QuotaTracker replay;
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(replay.reserve(key, 150, kT0 + i * 7 * kSec).allowed);
  EXPECT_FALSE(replay.reserve(key, 401, now + (refused.retry_after_s - 1) * kSec).allowed);
  EXPECT_TRUE(replay.reserve(key, 401, now + refused.retry_after_s * kSec).allowed);
}

TEST(QuotaTracker, RequestThatCanNeverFit) {
  QuotaTracker quota;
  QuotaDecision minute = quota.reserve(key_with(1000, 0, 0), 1001, kT0);
  EXPECT_FALSE(minute.allowed);
  EXPECT_EQ(minute.retry_after_s, 0);
  EXPECT_EQ(minute.message,
            "this request needs 1001 tokens (prompt + max_tokens) but the tokens_per_minute "
            "limit of key key_abc is 1000: it can never fit; lower max_tokens or raise the limit");
  QuotaDecision day = quota.reserve(key_with(0, 500, 0), 501, kT0);
  EXPECT_FALSE(day.allowed);
  EXPECT_EQ(day.retry_after_s, 0);
  EXPECT_NE(day.message.find("tokens_per_day limit of key key_abc is 500"), std::string::npos);
  // Exactly the limit fits on an empty window.
  EXPECT_TRUE(quota.reserve(key_with(1000, 0, 0), 1000, kT0).allowed);
}

TEST(QuotaTracker, NeverFitWinsOverATemporaryRefusal) {
  QuotaTracker quota;
  ApiKey key = key_with(100, 0, 1);
  ASSERT_TRUE(quota.reserve(key, 10, kT0).allowed);
  QuotaDecision refused = quota.reserve(key, 101, kT0 + kSec);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_s, 0) << refused.message;
}

TEST(QuotaTracker, SettleLowersUsage) {
  QuotaTracker quota;
  ApiKey key = key_with(1000, 0, 0);
  ASSERT_TRUE(quota.reserve(key, 900, kT0).allowed);
  EXPECT_FALSE(quota.reserve(key, 200, kT0 + 5 * kSec).allowed);
  quota.settle(key.id, 900, 300, kT0, kT0 + 5 * kSec);
  EXPECT_TRUE(quota.reserve(key, 700, kT0 + 5 * kSec).allowed);
  EXPECT_FALSE(quota.reserve(key, 1, kT0 + 5 * kSec).allowed);
  // The settled 300 still belong to second 0: they expire at 60 s, the 700 at 65 s.
  EXPECT_EQ(quota.reserve(key, 300, kT0 + 30 * kSec).retry_after_s, 30);
  EXPECT_TRUE(quota.reserve(key, 300, kT0 + 60 * kSec).allowed);
}

TEST(QuotaTracker, SettleRaisesUsage) {
  QuotaTracker quota;
  ApiKey key = key_with(1000, 0, 0);
  ASSERT_TRUE(quota.reserve(key, 100, kT0).allowed);
  quota.settle(key.id, 100, 700, kT0, kT0 + 2 * kSec);
  EXPECT_TRUE(quota.reserve(key, 300, kT0 + 2 * kSec).allowed);
  EXPECT_FALSE(quota.reserve(key, 1, kT0 + 2 * kSec).allowed);
}

TEST(QuotaTracker, SettleNeverGoesBelowZeroNorTouchesExpiredBuckets) {
  QuotaTracker quota;
  ApiKey key = key_with(1000, 10'000, 0);
  ASSERT_TRUE(quota.reserve(key, 100, kT0).allowed);
  // Settling more than was reserved into the bucket leaves it at zero, not negative (which
  // would let the next requests exceed the limit).
  quota.settle(key.id, 5000, 0, kT0, kT0 + kSec);
  EXPECT_TRUE(quota.reserve(key, 1000, kT0 + kSec).allowed);
  EXPECT_FALSE(quota.reserve(key, 1, kT0 + kSec).allowed);
  // A reservation settled after it left the minute window changes only the day window.
  QuotaTracker late;
  ASSERT_TRUE(late.reserve(key, 1000, kT0).allowed);
  late.settle(key.id, 1000, 9000, kT0, kT0 + 2 * kMin);
  EXPECT_TRUE(late.reserve(key, 1000, kT0 + 2 * kMin).allowed);  // minute: 0 in use
  EXPECT_FALSE(late.reserve(key, 1, kT0 + 3 * kMin).allowed);    // day: 9000 + 1000 in use
}

TEST(QuotaTracker, SettleOfUnknownKeyIsIgnored) {
  QuotaTracker quota;
  quota.settle("key_none", 100, 50, kT0, kT0);
  ApiKey key = key_with(100, 0, 0);
  key.id = "key_none";
  EXPECT_TRUE(quota.reserve(key, 100, kT0).allowed);
}

TEST(QuotaTracker, SeedCountsTowardBothTokenWindows) {
  QuotaTracker quota;
  ApiKey key = key_with(1000, 4500, 0);
  quota.seed_day(key.id, 3000, kT0 - 3 * kHour);  // only the day window
  quota.seed_day(key.id, 800, kT0 - kMin);        // the record below, in its minute
  quota.seed_minute(key.id, 1, 800, kT0 - 10 * kSec);
  quota.seed_day(key.id, 9999, kT0 - 25 * kHour);  // before the window: ignored
  EXPECT_FALSE(quota.reserve(key, 201, kT0).allowed);
  EXPECT_TRUE(quota.reserve(key, 200, kT0).allowed);
  // A minute later the minute window is empty; the day holds 3000 + 800 + 200: 500 more fit.
  QuotaDecision refused = quota.reserve(key, 501, kT0 + kMin);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.message.rfind("tokens_per_day limit of 4500", 0), 0u) << refused.message;
  EXPECT_TRUE(quota.reserve(key, 500, kT0 + kMin).allowed);
}

// The issue: 3 requests before a restart and 3 after, within 5 s, on a 3-per-minute key.
TEST(QuotaTracker, SeededRequestsCountTowardRequestsPerMinute) {
  QuotaTracker quota;
  ApiKey key = key_with(0, 0, 3);
  quota.seed_minute(key.id, 2, 20, kT0 - 3 * kSec);
  quota.seed_minute(key.id, 1, 10, kT0 - 2 * kSec);
  QuotaDecision refused = quota.reserve(key, 10, kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_s, 57);  // the oldest two leave the window at kT0 + 57 s
  EXPECT_NE(refused.message.find("3 requests in the last 60 s"), std::string::npos)
      << refused.message;
  EXPECT_TRUE(quota.reserve(key, 10, kT0 + 57 * kSec).allowed);
}

// Tokens stay in the minute window for 60 s from their own second, not from the start of their
// minute: used 50 s into a minute, they still count 20 s after it ended.
TEST(QuotaTracker, SeededTokensKeepTheirSecond) {
  QuotaTracker quota;
  ApiKey key = key_with(600, 0, 0);
  quota.seed_minute(key.id, 1, 500, kT0 + 50 * kSec);
  QuotaDecision refused = quota.reserve(key, 200, kT0 + 70 * kSec);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_s, 40);
  EXPECT_TRUE(quota.reserve(key, 200, kT0 + 110 * kSec).allowed);
}

TEST(QuotaTracker, ConcurrentReservationsNeverExceedTheLimit) {
  QuotaTracker quota;
  ApiKey tokens_key = key_with(100'000, 0, 0);
  tokens_key.id = "key_tokens";
  ApiKey requests_key = key_with(0, 0, 30'000);
  requests_key.id = "key_requests";
  constexpr int kThreads = 4;
  constexpr int kAttempts = 40'000;  // per thread and key: 4x what the limits allow
  std::atomic<int64_t> granted_tokens{0};
  std::atomic<int64_t> granted_requests{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      ready += 1;
      while (ready.load() < kThreads) {
      }  // start together so the reservations contend
      for (int i = 0; i < kAttempts; ++i) {
        // All within one second: nothing expires, so the limits are reached exactly.
        int64_t now = kT0 + i / 100;
        if (quota.reserve(tokens_key, 3, now).allowed) granted_tokens += 3;
        if (quota.reserve(requests_key, 1, now).allowed) granted_requests += 1;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(granted_tokens.load(), 100'000 / 3 * 3);
  EXPECT_EQ(granted_requests.load(), 30'000);
}

}  // namespace
}  // namespace mx

namespace mx {
namespace {

// decide_quota: stored buckets in any order, outside the windows ignored, each span into its
// windows; quota_charge: the buckets of a reservation.
TEST(DecideQuota, StoredBucketsInAnyOrder) {
  ApiKey key;
  key.id = "key_abc";
  key.tokens_per_minute = 1000;
  key.tokens_per_day = 5000;
  key.requests_per_minute = 3;
  std::vector<QuotaBucket> used = {
      {kQuotaSecondMs, kT0 - 5 * kSec, 1, 400},
      {kQuotaMinuteMs, kT0 - 25 * kHour, 0, 99'999},  // left the day window
      {kQuotaSecondMs, kT0 - 61 * kSec, 5, 99'999},   // left the minute windows
      {kQuotaMinuteMs, kT0 - 3 * kHour, 0, 4000},
      {kQuotaSecondMs, kT0 - 30 * kSec, 1, 100},
  };
  EXPECT_TRUE(decide_quota(key, 500, kT0, used).allowed);
  QuotaDecision minute = decide_quota(key, 501, kT0, used);
  EXPECT_FALSE(minute.allowed);
  EXPECT_EQ(minute.retry_after_s, 30);  // the 100 of second -30 leave the window first
  // The day holds 4000 (only the minute buckets count there): 1001 more never fit today.
  key.tokens_per_minute = 0;
  QuotaDecision day = decide_quota(key, 1001, kT0, used);
  EXPECT_FALSE(day.allowed);
  EXPECT_NE(day.message.find("tokens_per_day limit of 5000"), std::string::npos) << day.message;
  key.requests_per_minute = 2;
  EXPECT_FALSE(decide_quota(key, 0, kT0, used).allowed);

  std::array<QuotaBucket, 2> charge = quota_charge(1, 70, kT0 + 61'500);
  EXPECT_EQ(charge[0].span_ms, kQuotaSecondMs);
  EXPECT_EQ(charge[0].bucket_start_ms, kT0 + 61'000);
  EXPECT_EQ(charge[0].requests, 1);
  EXPECT_EQ(charge[1].span_ms, kQuotaMinuteMs);
  EXPECT_EQ(charge[1].bucket_start_ms, kT0 + 60'000);
  EXPECT_EQ(charge[1].requests, 0);
  EXPECT_EQ(charge[1].tokens, 70);
  EXPECT_EQ(quota_oldest_second(kT0 + 500), kT0 - 59 * kSec);
  EXPECT_EQ(quota_oldest_minute(kT0 + 500), kT0 - 1439 * kMin);
}

}  // namespace
}  // namespace mx
