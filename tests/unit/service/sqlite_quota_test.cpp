// Quotas shared by two SqliteStores on one file (two processes on one --data-dir), and the
// schema upgrade that fills the buckets from the records of the last 24 h.
#include <sqlite3.h>

#include "quota_store_checks.h"
#include "service_test_util.h"

namespace mx {
namespace {

using namespace quota_checks;

struct TwoStores {
  test::TempDir dir;
  std::unique_ptr<LedgerStore> a, b;
  TwoStores() {
    auto first = open_ledger_store(dir.path());
    auto second = open_ledger_store(dir.path());
    EXPECT_TRUE(first.ok() && second.ok());
    if (first.ok()) a = std::move(first).value();
    if (second.ok()) b = std::move(second).value();
  }
};

TEST(SqliteQuotaTest, LimitHoldsAcrossStores) {
  TwoStores s;
  limit_holds_across_stores(*s.a, *s.b);
}

TEST(SqliteQuotaTest, ConcurrentReservationsNeverExceedTheLimit) {
  TwoStores s;
  concurrent_reservations_never_exceed(*s.a, *s.b, 100);
}

TEST(SqliteQuotaTest, FinalRecordSettles) {
  TwoStores s;
  final_record_settles(*s.a, *s.b);
}

TEST(SqliteQuotaTest, RecoverySettles) {
  TwoStores s;
  recovery_settles(*s.a, *s.b);
}

// A file of schema version 2 with a record from a second ago: after the upgrade, its tokens
// count in the key's windows.
TEST(SqliteQuotaTest, UpgradeFillsTheBucketsFromRecentRecords) {
  test::TempDir dir;
  {
    auto store = open_ledger_store(dir.path());
    ASSERT_TRUE(store.ok());
  }
  const std::string path = dir.path() + "/ledger.sqlite3";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const int64_t now = unix_ms_now();
  const std::string downgrade =
      "DROP TABLE quota_usage; UPDATE schema_version SET version = 2; "
      "INSERT INTO usage_records (request_id, key_id, tenant, model, prompt_tokens, "
      "cached_tokens, completion_tokens, reasoning_tokens, reserved_tokens, status, recovered, "
      "ttft_ms, e2e_ms, worker, started_at_ms, finished_at_ms, instance_id) VALUES "
      "('cmpl-1', 'key_up', 't', 'm', 200, 0, 300, 0, 900, 'ok', 0, 1, 2, 'w', " +
      std::to_string(now - 1000) + ", " + std::to_string(now) + ", 'x')";
  ASSERT_EQ(sqlite3_exec(db, downgrade.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
  auto store = open_ledger_store(dir.path());
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_EQ(in_use(**store, limited_key("key_up", 1000), now), "500");
}

}  // namespace
}  // namespace mx
