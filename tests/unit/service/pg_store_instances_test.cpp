// PgStore with several frontends on one database: instance rows and leases, recovery of gone
// instances only, two Ledgers on one database, and the upgrade of a version-1 schema. Run by
// e2e.test_ledger_postgres (see pg_test_util.h).
#include <gtest/gtest.h>

#include "pg_test_util.h"
#include "service/ledger.h"
#include "service/pg_store.h"

namespace mx {
namespace {

using pg_test::all_records;
using pg_test::final_record;
using pg_test::open_record;
using pg_test::PgStoreTest;

constexpr int64_t kT0 = 1'700'006'400'000;

LedgerInstance instance(const std::string& id, int64_t expires_at_ms) {
  LedgerInstance i;
  i.id = id;
  i.worker = "host-" + id + ":8080";
  i.node = "node of " + id;
  i.pid = 4242;
  i.pid_start = 77;
  i.started_at_ms = kT0;
  i.heartbeat_at_ms = kT0 + 1000;
  i.expires_at_ms = expires_at_ms;
  return i;
}

UsageRecord open_of(const std::string& request_id, const std::string& instance_id) {
  UsageRecord record = open_record(request_id, "key_1", "m", kT0);
  record.instance_id = instance_id;
  return record;
}

UsageStatus status_of(LedgerStore& store, const std::string& request_id) {
  auto records = store.records(all_records());
  EXPECT_TRUE(records.ok());
  for (const UsageRecord& r : *records) {
    if (r.request_id == request_id) return r.status;
  }
  ADD_FAILURE() << "no record " << request_id;
  return UsageStatus::kError;
}

TEST_F(PgStoreTest, RecoverySettlesOnlyGoneInstances) {
  auto written = store_->write_batch(
      {LedgerHeartbeat{instance("live", kT0 + 15'000)},
       LedgerHeartbeat{instance("expired", kT0 + 5'000)},
       LedgerHeartbeat{instance("exited", kT0 + 15'000)}, LedgerHeartbeat{instance("me", kT0)},
       LedgerOpen{open_of("of-live", "live")}, LedgerOpen{open_of("of-expired", "expired")},
       LedgerOpen{open_of("of-exited", "exited")}, LedgerOpen{open_of("of-me", "me")},
       LedgerOpen{open_of("of-nobody", "")}, LedgerOpen{open_of("of-unknown", "no row")}});
  ASSERT_TRUE(written.ok()) << written.error().message;
  // A heartbeat renews the lease and the worker; the rest of the row stays.
  LedgerInstance renewed = instance("live", kT0 + 16'000);
  renewed.worker = "host-live:9999";
  renewed.heartbeat_at_ms = kT0 + 2000;
  ASSERT_TRUE(store_->write_batch({LedgerHeartbeat{renewed}}).ok());

  Result<int64_t> settled = store_->recover_open("me", {"exited"}, kT0 + 10'000);
  ASSERT_TRUE(settled.ok()) << settled.error().message;
  EXPECT_EQ(*settled, 4);  // expired, exited, nobody, unknown
  EXPECT_EQ(status_of(*store_, "of-live"), UsageStatus::kOpen);
  EXPECT_EQ(status_of(*store_, "of-me"), UsageStatus::kOpen);  // own lease lapsed: still not
  EXPECT_EQ(status_of(*store_, "of-expired"), UsageStatus::kAborted);
  EXPECT_EQ(status_of(*store_, "of-exited"), UsageStatus::kAborted);
  EXPECT_EQ(status_of(*store_, "of-nobody"), UsageStatus::kAborted);
  EXPECT_EQ(status_of(*store_, "of-unknown"), UsageStatus::kAborted);

  auto rows = store_->instances();
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  ASSERT_EQ(rows->size(), 2u);  // the gone ones' rows are removed
  EXPECT_EQ(rows->at(0).id, "live");
  EXPECT_EQ(rows->at(0).worker, "host-live:9999");
  EXPECT_EQ(rows->at(0).node, "node of live");
  EXPECT_EQ(rows->at(0).pid, 4242);
  EXPECT_EQ(rows->at(0).pid_start, 77);
  EXPECT_EQ(rows->at(0).started_at_ms, kT0);
  EXPECT_EQ(rows->at(0).heartbeat_at_ms, kT0 + 2000);
  EXPECT_EQ(rows->at(0).expires_at_ms, kT0 + 16'000);
  EXPECT_EQ(rows->at(1).id, "me");
}

// Two frontends on one database: the second one's start leaves the first one's live request
// alone, and the first one's final lands with the real counts.
TEST_F(PgStoreTest, TwoLedgersShareOneDatabase) {
  auto first = Ledger::start(std::move(store_));
  ASSERT_TRUE(first.ok()) << first.error().message;
  UsageRecord record = open_record("cmpl-live", "key_1", "m", kT0);
  ASSERT_TRUE((*first)->open(record));
  ASSERT_TRUE((*first)->flush().ok());
  auto second_store = open_postgres_store(database_->url());
  ASSERT_TRUE(second_store.ok());
  auto second = Ledger::start(std::move(second_store).value());
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ((*second)->recovered_at_start(), 0);
  (*first)->finalize(final_record(record, {5, 0, 1500, 0}));
  ASSERT_TRUE((*first)->flush().ok());
  auto records = (*second)->store().records(all_records());
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ(records->at(0).status, UsageStatus::kOk);
  EXPECT_EQ(records->at(0).tokens.completion, 1500);
  EXPECT_EQ(records->at(0).instance_id, (*first)->instance_id());
  EXPECT_EQ((*first)->late_finals(), 0);
}

// A database of schema version 1 (before instance ids) is upgraded at open; its open records
// have no instance and are settled by the next recovery.
TEST_F(PgStoreTest, UpgradesAVersion1Schema) {
  pg_test::ScratchDatabase old;
  ASSERT_FALSE(old.url().empty()) << old.error();
  for (const char* statement : {
           "CREATE TABLE schema_version (version INTEGER NOT NULL)",
           "INSERT INTO schema_version VALUES (1)",
           "CREATE TABLE usage_records (request_id TEXT PRIMARY KEY, key_id TEXT, tenant TEXT,"
           " model TEXT, prompt_tokens BIGINT, cached_tokens BIGINT, completion_tokens BIGINT,"
           " reasoning_tokens BIGINT, reserved_tokens BIGINT, status TEXT, recovered BOOLEAN,"
           " ttft_ms DOUBLE PRECISION, e2e_ms DOUBLE PRECISION, worker TEXT,"
           " started_at_ms BIGINT, finished_at_ms BIGINT)",
           "INSERT INTO usage_records VALUES ('cmpl-old', 'key_1', 't', 'm', 10, 0, 4, 0, 110,"
           " 'open', false, 1.5, 0, 'host:8080', 1700006400000, 0)",
       }) {
    Result<std::string> done = pg_test::query_value(old.url(), statement);
    ASSERT_TRUE(done.ok()) << done.error().message;
  }
  auto store = open_postgres_store(old.url());
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_EQ(pg_test::query_value(old.url(), "SELECT version FROM schema_version").value(), "3");
  auto records = (*store)->records(all_records());
  ASSERT_TRUE(records.ok()) << records.error().message;
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ(records->at(0).instance_id, "");
  auto settled = (*store)->recover_open("me", {}, kT0 + 1000);
  ASSERT_TRUE(settled.ok()) << settled.error().message;
  EXPECT_EQ(*settled, 1);
  // Opening again changes nothing.
  ASSERT_TRUE(open_postgres_store(old.url()).ok());
  EXPECT_EQ(pg_test::query_value(old.url(), "SELECT count(*) FROM schema_version").value(), "1");
}

}  // namespace
}  // namespace mx
