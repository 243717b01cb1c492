// Quotas shared through a ledger store, checked the same way on SQLite and PostgreSQL: two
// stores on one database stand for two processes (two frontends). Time is passed explicitly.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "service/ledger_store.h"

namespace mx::quota_checks {

constexpr int64_t kT0 = 1'700'006'400'000;  // a UTC midnight
constexpr int64_t kSec = 1000;

inline ApiKey limited_key(const std::string& id, int64_t tokens_per_minute,
                          int64_t requests_per_minute = 0) {
  ApiKey key;
  key.id = id;
  key.tokens_per_minute = tokens_per_minute;
  key.requests_per_minute = requests_per_minute;
  return key;
}

inline QuotaDecision reserve(LedgerStore& store, const ApiKey& key, int64_t tokens, int64_t at) {
  Result<QuotaDecision> decision = store.reserve_quota(key, tokens, at);
  EXPECT_TRUE(decision.ok()) << decision.error().message;
  return decision.ok() ? *decision : QuotaDecision{false, 0, "error"};
}

// The tokens in use that a refusal of a request needing the whole limit reports (a refusal
// reserves nothing, so this only reads).
inline std::string in_use(LedgerStore& store, const ApiKey& key, int64_t at) {
  QuotaDecision probe = reserve(store, key, key.tokens_per_minute, at);
  if (probe.allowed) return "nothing (the probe was allowed)";
  size_t colon = probe.message.find(": ");
  size_t end = probe.message.find(" in use");
  return probe.message.substr(colon + 2, end - colon - 2);
}

// What one store reserved, the other sees: the limit holds across both.
inline void limit_holds_across_stores(LedgerStore& a, LedgerStore& b) {
  ApiKey key = limited_key("key_shared", 1000);
  EXPECT_TRUE(reserve(a, key, 600, kT0).allowed);
  QuotaDecision refused = reserve(b, key, 600, kT0 + kSec);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.message,
            "tokens_per_minute limit of 1000 for key key_shared: 600 in use in the last 60 s, "
            "this request needs 600 (prompt + max_tokens); retry in 59 s");
  EXPECT_TRUE(reserve(b, key, 400, kT0 + kSec).allowed);
  EXPECT_FALSE(reserve(a, key, 1, kT0 + 2 * kSec).allowed);
  // The window rolls: a's 600 leave at 60 s, b's 400 at 61 s.
  EXPECT_TRUE(reserve(a, key, 600, kT0 + 60 * kSec).allowed);
  EXPECT_FALSE(reserve(b, key, 1, kT0 + 60 * kSec).allowed);
  // A key without limits is always allowed and leaves no trace.
  EXPECT_TRUE(reserve(a, limited_key("key_free", 0), 1'000'000, kT0).allowed);
}

// Threads on both stores race for one key: exactly the limit is granted, never more.
inline void concurrent_reservations_never_exceed(LedgerStore& a, LedgerStore& b, int attempts) {
  ApiKey key = limited_key("key_race", 0, 40);
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (LedgerStore* store : {&a, &b, &a, &b}) {
    threads.emplace_back([&, store] {
      for (int i = 0; i < attempts; ++i) {
        Result<QuotaDecision> d = store->reserve_quota(key, 1, kT0 + i % 50);
        if (d.ok() && d->allowed) granted += 1;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(granted.load(), 40);
}

// The final record settles the reservation in the same transaction: used tokens replace the
// reserved ones; a retried final changes nothing more.
inline void final_record_settles(LedgerStore& a, LedgerStore& b) {
  ApiKey key = limited_key("key_final", 1000);
  EXPECT_TRUE(reserve(a, key, 900, kT0).allowed);
  UsageRecord record;
  record.request_id = "cmpl-final";
  record.key_id = key.id;
  record.reserved_tokens = 900;
  record.started_at_ms = kT0;
  record.instance_id = "instance-a";
  ASSERT_TRUE(a.write_batch({LedgerOpen{record}}).ok());
  EXPECT_EQ(in_use(b, key, kT0 + kSec), "900");
  UsageRecord final = record;
  final.tokens = {100, 0, 200, 0};
  final.status = UsageStatus::kOk;
  final.finished_at_ms = kT0 + 500;
  ASSERT_TRUE(a.write_batch({LedgerFinal{final}}).ok());
  EXPECT_EQ(in_use(b, key, kT0 + kSec), "300");
  ASSERT_TRUE(a.write_batch({LedgerFinal{final}}).ok());  // a retried batch
  EXPECT_EQ(in_use(b, key, kT0 + kSec), "300");
  EXPECT_TRUE(reserve(b, key, 700, kT0 + kSec).allowed);
  // A reservation that never became a record is given back.
  ApiKey other = limited_key("key_release", 1000);
  EXPECT_TRUE(reserve(a, other, 800, kT0).allowed);
  ASSERT_TRUE(a.release_quota(other.id, 800, kT0).ok());
  EXPECT_TRUE(reserve(b, other, 1000, kT0 + kSec).allowed);
}

// A gone process's open record: recovery (by another process) settles its reservation at the
// counts written so far; a late final from the process taken for dead replaces them.
inline void recovery_settles(LedgerStore& a, LedgerStore& b) {
  ApiKey key = limited_key("key_gone", 1000);
  EXPECT_TRUE(reserve(a, key, 900, kT0).allowed);
  UsageRecord record;
  record.request_id = "cmpl-gone";
  record.key_id = key.id;
  record.reserved_tokens = 900;
  record.started_at_ms = kT0;
  record.instance_id = "instance-gone";
  ASSERT_TRUE(a.write_batch({LedgerOpen{record}}).ok());
  ASSERT_TRUE(a.write_batch({LedgerProgress{record.request_id, {100, 0, 50, 0}, 1.0}}).ok());
  EXPECT_EQ(in_use(b, key, kT0 + kSec), "900");
  Result<int64_t> recovered = b.recover_open("instance-b", {"instance-gone"}, kT0 + 2 * kSec);
  ASSERT_TRUE(recovered.ok()) << recovered.error().message;
  EXPECT_EQ(*recovered, 1);
  EXPECT_EQ(in_use(b, key, kT0 + 3 * kSec), "150");
  UsageRecord late = record;
  late.tokens = {100, 0, 300, 0};
  late.status = UsageStatus::kOk;
  late.finished_at_ms = kT0 + 4 * kSec;
  ASSERT_TRUE(a.write_batch({LedgerFinal{late}}).ok());
  EXPECT_EQ(in_use(b, key, kT0 + 5 * kSec), "400");
}

}  // namespace mx::quota_checks
