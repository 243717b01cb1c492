#include "service/ledger_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "service_test_util.h"

namespace mx {
namespace {

using test::final_record;
using test::open_record;
using test::TempDir;

constexpr int64_t kT0 = 1'795'417'200'000;  // 2026-11-23T07:00:00Z
constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 24 * kHour;

std::unique_ptr<LedgerStore> open_store(const std::string& dir) {
  auto store = open_ledger_store(dir);
  EXPECT_TRUE(store.ok()) << store.error().message;
  return store.ok() ? std::move(store).value() : nullptr;
}

std::vector<UsageRecord> all_records(LedgerStore& store) {
  UsageQuery query;
  query.include_open = true;
  auto records = store.records(query);
  EXPECT_TRUE(records.ok()) << records.error().message;
  return records.ok() ? *records : std::vector<UsageRecord>{};
}

void write(LedgerStore& store, std::vector<LedgerOp> ops) {
  auto status = store.write_batch(ops);
  ASSERT_TRUE(status.ok()) << status.error().message;
}

TEST(SqliteStoreTest, CreatesDirectoryAndFile) {
  TempDir dir;
  std::string nested = dir.path() + "/a/b";
  auto store = open_store(nested);
  ASSERT_TRUE(store);
  EXPECT_TRUE(std::filesystem::exists(nested + "/ledger.sqlite3"));
  EXPECT_EQ(store->describe(), "sqlite:" + nested + "/ledger.sqlite3");
}

TEST(SqliteStoreTest, UnusableDirectoryIsAClearError) {
  TempDir dir;
  std::string file = dir.path() + "/not-a-dir";
  std::ofstream(file) << "x";
  auto store = open_ledger_store(file + "/ledger");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kIoError);
  EXPECT_NE(store.error().message.find(file + "/ledger"), std::string::npos)
      << store.error().message;
  EXPECT_NE(store.error().message.find("--data-dir"), std::string::npos) << store.error().message;
}

TEST(SqliteStoreTest, PostgresUrlsGoToThePostgresBackend) {
  auto store = open_ledger_store("postgresql://user:secret@127.0.0.1:1/none");
  ASSERT_FALSE(store.ok());  // no server on port 1, or no PostgreSQL support in this build
  EXPECT_EQ(store.error().message.find("secret"), std::string::npos) << store.error().message;
}

TEST(SqliteStoreTest, RefusesASchemaFromTheFuture) {
  TempDir dir;
  ASSERT_TRUE(open_store(dir.path()));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path() + "/ledger.sqlite3").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE schema_version SET version = 99", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = open_ledger_store(dir.path());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(store.error().message.find("newer mxserve"), std::string::npos);
}

TEST(SqliteStoreTest, OpenProgressFinalExactlyOnce) {
  TempDir dir;
  auto store = open_store(dir.path());
  UsageRecord record = open_record("req-1", "key_a", "qwen3", kT0, 40);
  write(*store, {LedgerOpen{record}});
  write(*store, {LedgerProgress{"req-1", {40, 8, 5, 1}, 30.0}});
  // Lower counts never lower what is stored; ttft 0 keeps the known one.
  write(*store, {LedgerProgress{"req-1", {40, 8, 3, 0}, 0.0}});
  auto records = all_records(*store);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].status, UsageStatus::kOpen);
  EXPECT_EQ(records[0].tokens.completion, 5);
  EXPECT_EQ(records[0].tokens.reasoning, 1);
  EXPECT_DOUBLE_EQ(records[0].ttft_ms, 30.0);

  write(*store, {LedgerFinal{final_record(record, {40, 8, 9, 2})}});
  write(*store, {LedgerFinal{final_record(record, {40, 8, 99, 2}, UsageStatus::kError)},
                 LedgerProgress{"req-1", {50, 8, 100, 2}, 1.0}, LedgerOpen{record}});
  records = all_records(*store);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].status, UsageStatus::kOk);
  EXPECT_EQ(records[0].tokens.prompt, 40);
  EXPECT_EQ(records[0].tokens.completion, 9);
  EXPECT_DOUBLE_EQ(records[0].e2e_ms, 250.0);
  EXPECT_EQ(records[0].finished_at_ms, kT0 + 250);
  EXPECT_EQ(records[0].worker, "test:8080");
  EXPECT_EQ(records[0].reserved_tokens, 140);
}

TEST(SqliteStoreTest, RetriedOpenIsIdempotent) {
  TempDir dir;
  auto store = open_store(dir.path());
  UsageRecord record = open_record("req-1", "key_a", "qwen3", kT0, 40);
  write(*store, {LedgerOpen{record}, LedgerProgress{"req-1", {40, 0, 7, 0}, 3.0}});
  write(*store, {LedgerOpen{record}, LedgerProgress{"req-1", {40, 0, 7, 0}, 3.0}});
  auto records = all_records(*store);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].tokens.completion, 7);
}

TEST(SqliteStoreTest, FailingBatchLeavesNothing) {
  TempDir dir;
  auto store = open_store(dir.path());
  write(*store, {LedgerOpen{open_record("kept", "key_a", "m", kT0, 10)}});
  UsageRecord bad = open_record("bad", "key_a", "m", kT0, -5);  // violates CHECK
  auto status = store->write_batch({LedgerOpen{open_record("lost", "key_a", "m", kT0, 10)},
                                    LedgerProgress{"kept", {10, 0, 50, 0}, 1.0}, LedgerOpen{bad}});
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find(dir.path()), std::string::npos) << status.error().message;
  // A final with status open is refused too, and takes its batch with it.
  UsageRecord still_open = open_record("kept", "key_a", "m", kT0, 10);
  status =
      store->write_batch({LedgerProgress{"kept", {10, 0, 60, 0}, 1.0}, LedgerFinal{still_open}});
  ASSERT_FALSE(status.ok());
  auto records = all_records(*store);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].request_id, "kept");
  EXPECT_EQ(records[0].tokens.completion, 0);
  // The connection is usable after the rollbacks.
  write(*store, {LedgerProgress{"kept", {10, 0, 70, 0}, 1.0}});
  EXPECT_EQ(all_records(*store)[0].tokens.completion, 70);
}

TEST(SqliteStoreTest, RecoversOpenRecordsOfADeadProcess) {
  TempDir dir;
  {
    auto crashed = open_store(dir.path());
    UsageRecord done = open_record("done", "key_a", "m", kT0 + 2, 10);
    write(*crashed, {LedgerOpen{open_record("left-1", "key_a", "m", kT0, 10)},
                     LedgerOpen{open_record("left-2", "key_b", "m", kT0 + 1, 20)}, LedgerOpen{done},
                     LedgerProgress{"left-1", {10, 2, 33, 4}, 15.0},
                     LedgerFinal{final_record(done, {10, 0, 5, 0})}});
  }  // the store object goes away without settling anything, as a killed process would
  auto store = open_store(dir.path());
  auto recovered = store->recover_open("me", {}, kT0 + 60'000);
  ASSERT_TRUE(recovered.ok()) << recovered.error().message;
  EXPECT_EQ(*recovered, 2);
  auto records = all_records(*store);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].request_id, "left-1");
  EXPECT_EQ(records[0].status, UsageStatus::kAborted);
  EXPECT_TRUE(records[0].recovered);
  EXPECT_EQ(records[0].tokens.completion, 33);  // as last written
  EXPECT_EQ(records[0].tokens.reasoning, 4);
  EXPECT_EQ(records[0].finished_at_ms, kT0 + 60'000);
  EXPECT_EQ(records[2].request_id, "done");
  EXPECT_EQ(records[2].status, UsageStatus::kOk);
  EXPECT_FALSE(records[2].recovered);
  EXPECT_EQ(store->recover_open("me", {}, kT0 + 120'000).value(), 0);
}

// Three keys, two models, records over two hours of one day and one of the next.
struct UsageFixture {
  TempDir dir;
  std::unique_ptr<LedgerStore> store = open_store(dir.path());
  PriceTable prices;

  UsageFixture() {
    prices.by_model["big"] = {2.0, 1.0, 8.0};
    prices.by_model["small"] = {0.5, 0.5, 1.0};
    add("r1", "key_a", "big", kT0 + 10, {1000, 200, 100, 10});
    add("r2", "key_a", "small", kT0 + kHour - 1, {400, 0, 40, 0});
    add("r3", "key_b", "big", kT0 + kHour, {300, 100, 30, 0});
    add("r4", "key_b", "small", kT0 + kDay, {50, 0, 5, 0});
    // Open records count only when asked for.
    write(*store, {LedgerOpen{open_record("r5", "key_c", "big", kT0 + 20, 700)}});
  }
  void add(const std::string& id, const std::string& key, const std::string& model, int64_t started,
           TokenCounts tokens) {
    UsageRecord record = open_record(id, key, model, started, tokens.prompt);
    write(*store, {LedgerOpen{record}, LedgerFinal{final_record(record, tokens)}});
  }
  std::vector<UsageRow> usage(UsageGroup group, UsageQuery query = {}) {
    query.group = group;
    auto rows = store->usage(query, prices);
    EXPECT_TRUE(rows.ok()) << rows.error().message;
    return rows.ok() ? *rows : std::vector<UsageRow>{};
  }
};

// Costs by hand, per 1M tokens: (prompt - cached) * input + cached * cached_input + out * output.
constexpr double kCostR1 = (800 * 2.0 + 200 * 1.0 + 100 * 8.0) / 1e6;  // 2600e-6
constexpr double kCostR2 = (400 * 0.5 + 40 * 1.0) / 1e6;               // 240e-6
constexpr double kCostR3 = (200 * 2.0 + 100 * 1.0 + 30 * 8.0) / 1e6;   // 740e-6
constexpr double kCostR4 = (50 * 0.5 + 5 * 1.0) / 1e6;                 // 30e-6

TEST(SqliteStoreTest, UsageGroupedByHourAndDay) {
  UsageFixture f;
  auto hours = f.usage(UsageGroup::kHour);
  ASSERT_EQ(hours.size(), 3u);
  EXPECT_EQ(hours[0].bucket_start_ms, kT0);
  EXPECT_EQ(hours[0].requests, 2);
  EXPECT_EQ(hours[0].tokens.prompt, 1400);
  EXPECT_EQ(hours[0].tokens.cached, 200);
  EXPECT_EQ(hours[0].tokens.completion, 140);
  EXPECT_EQ(hours[0].tokens.reasoning, 10);
  EXPECT_DOUBLE_EQ(hours[0].cost, kCostR1 + kCostR2);
  EXPECT_EQ(hours[0].key_id, "");
  EXPECT_EQ(hours[1].bucket_start_ms, kT0 + kHour);
  EXPECT_DOUBLE_EQ(hours[1].cost, kCostR3);
  EXPECT_EQ(hours[2].bucket_start_ms, kT0 + kDay);

  auto days = f.usage(UsageGroup::kDay);
  ASSERT_EQ(days.size(), 2u);
  EXPECT_EQ(days[0].bucket_start_ms, kT0 - 7 * kHour);  // 2026-11-23T00:00Z
  EXPECT_EQ(days[0].requests, 3);
  EXPECT_DOUBLE_EQ(days[0].cost, kCostR1 + kCostR2 + kCostR3);
  EXPECT_EQ(days[1].requests, 1);
  EXPECT_DOUBLE_EQ(days[1].cost, kCostR4);
}

TEST(SqliteStoreTest, UsageGroupedByModelKeyAndNone) {
  UsageFixture f;
  auto models = f.usage(UsageGroup::kModel);
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0].model, "big");
  EXPECT_EQ(models[0].requests, 2);
  EXPECT_DOUBLE_EQ(models[0].cost, kCostR1 + kCostR3);
  EXPECT_EQ(models[1].model, "small");
  EXPECT_DOUBLE_EQ(models[1].cost, kCostR2 + kCostR4);

  auto keys = f.usage(UsageGroup::kKey);
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].key_id, "key_a");
  EXPECT_EQ(keys[0].tenant, "tenant-key_a");
  EXPECT_EQ(keys[0].model, "");
  EXPECT_DOUBLE_EQ(keys[0].cost, kCostR1 + kCostR2);
  EXPECT_EQ(keys[1].key_id, "key_b");

  auto total = f.usage(UsageGroup::kNone);
  ASSERT_EQ(total.size(), 1u);
  EXPECT_EQ(total[0].requests, 4);
  EXPECT_EQ(total[0].tokens.prompt, 1750);
  EXPECT_DOUBLE_EQ(total[0].cost, kCostR1 + kCostR2 + kCostR3 + kCostR4);

  UsageQuery with_open;
  with_open.include_open = true;
  auto keys_with_open = f.usage(UsageGroup::kKey, with_open);
  ASSERT_EQ(keys_with_open.size(), 3u);
  EXPECT_EQ(keys_with_open[2].key_id, "key_c");
  EXPECT_EQ(keys_with_open[2].tokens.prompt, 700);
  EXPECT_DOUBLE_EQ(keys_with_open[2].cost, 700 * 2.0 / 1e6);
}

TEST(SqliteStoreTest, UsageFilters) {
  UsageFixture f;
  UsageQuery query;
  query.key_id = "key_b";
  EXPECT_EQ(f.usage(UsageGroup::kNone, query)[0].requests, 2);
  query.model = "small";
  EXPECT_EQ(f.usage(UsageGroup::kNone, query)[0].requests, 1);
  query = {};
  query.tenant = "tenant-key_a";
  EXPECT_EQ(f.usage(UsageGroup::kNone, query)[0].requests, 2);
  query = {};
  query.from_ms = kT0 + kHour - 1;  // [from, to): r2 and r3
  query.to_ms = kT0 + kDay;
  EXPECT_EQ(f.usage(UsageGroup::kNone, query)[0].requests, 2);
  query.key_id = "nobody";
  EXPECT_TRUE(f.usage(UsageGroup::kNone, query).empty());
}

TEST(SqliteStoreTest, RecordsOldestFirst) {
  UsageFixture f;
  auto finals = f.store->records({});
  ASSERT_TRUE(finals.ok());
  ASSERT_EQ(finals->size(), 4u);
  EXPECT_EQ((*finals)[0].request_id, "r1");
  EXPECT_EQ((*finals)[3].request_id, "r4");
  EXPECT_EQ(all_records(*f.store).size(), 5u);
  UsageQuery query;
  query.model = "big";
  query.include_open = true;
  auto big = f.store->records(query);
  ASSERT_TRUE(big.ok());
  ASSERT_EQ(big->size(), 3u);
  EXPECT_EQ((*big)[1].request_id, "r5");  // started at kT0 + 20
}

ApiKey sample_key(const std::string& id, int64_t created_at_ms) {
  ApiKey key;
  key.id = id;
  key.name = "name of " + id;
  key.tenant = "acme";
  key.models = {"qwen3", "odd,name"};
  key.tokens_per_day = 1'000'000;
  key.tokens_per_minute = 10'000;
  key.requests_per_minute = 60;
  key.expires_at_ms = kT0 + kDay;
  key.admin = true;
  key.created_at_ms = created_at_ms;
  key.secret_hash = hash_secret("secret of " + id);
  return key;
}

void expect_same_key(const ApiKey& a, const ApiKey& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.tenant, b.tenant);
  EXPECT_EQ(a.models, b.models);
  EXPECT_EQ(a.tokens_per_day, b.tokens_per_day);
  EXPECT_EQ(a.tokens_per_minute, b.tokens_per_minute);
  EXPECT_EQ(a.requests_per_minute, b.requests_per_minute);
  EXPECT_EQ(a.expires_at_ms, b.expires_at_ms);
  EXPECT_EQ(a.admin, b.admin);
  EXPECT_EQ(a.revoked, b.revoked);
  EXPECT_EQ(a.created_at_ms, b.created_at_ms);
  EXPECT_EQ(a.secret_hash, b.secret_hash);
}

TEST(SqliteStoreTest, KeysCrud) {
  TempDir dir;
  auto store = open_store(dir.path());
  ApiKey first = sample_key("key_000000000002", kT0);
  ApiKey second = sample_key("key_000000000001", kT0 + 1);
  second.models.clear();
  second.admin = false;
  ASSERT_TRUE(store->insert_key(first).ok());
  ASSERT_TRUE(store->insert_key(second).ok());
  Status duplicate = store->insert_key(first);
  ASSERT_FALSE(duplicate.ok());
  EXPECT_NE(duplicate.error().message.find(first.id), std::string::npos);

  auto found = store->find_key(first.id);
  ASSERT_TRUE(found.ok() && found->has_value());
  expect_same_key(**found, first);
  auto by_hash = store->find_key_by_hash(hash_secret("secret of key_000000000001"));
  ASSERT_TRUE(by_hash.ok() && by_hash->has_value());
  expect_same_key(**by_hash, second);
  EXPECT_FALSE(store->find_key("key_missing").value().has_value());
  EXPECT_FALSE(store->find_key_by_hash(hash_secret("wrong")).value().has_value());

  first.revoked = true;
  first.models = {"llama3"};
  first.tokens_per_minute = 0;
  ASSERT_TRUE(store->update_key(first).ok());
  expect_same_key(store->find_key(first.id).value().value(), first);
  Status missing = store->update_key(sample_key("key_missing", 0));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

  auto keys = store->list_keys();
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].id, first.id);  // by created_at, not by id
  EXPECT_EQ((*keys)[1].id, second.id);
  // Keys outlive the store object.
  store.reset();
  auto reopened = open_store(dir.path());
  expect_same_key(reopened->find_key(first.id).value().value(), first);
}

// A writer commits batches of 5 records while readers report: WAL snapshots mean a reader
// sees whole batches only, and the count never goes back.
TEST(SqliteStoreTest, ReadersRunWhileTheWriterCommits) {
  TempDir dir;
  auto store = open_store(dir.path());
  constexpr int kBatches = 200;
  constexpr int kPerBatch = 5;
  std::atomic<bool> done{false};
  std::atomic<int> errors{0};
  std::thread writer([&] {
    for (int b = 0; b < kBatches; ++b) {
      std::vector<LedgerOp> ops;
      for (int i = 0; i < kPerBatch; ++i) {
        UsageRecord record = open_record(fmt::format("r{}-{}", b, i), "key_a", "m", kT0 + b, 10);
        ops.push_back(LedgerOpen{record});
        ops.push_back(LedgerFinal{final_record(record, {10, 0, 1, 0})});
      }
      if (!store->write_batch(ops).ok()) ++errors;
    }
    done = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      int64_t last = 0;
      while (!done) {
        auto rows = store->usage({}, {});
        auto records = store->records({});
        if (!rows.ok() || !records.ok()) {
          ++errors;
          continue;
        }
        int64_t requests = rows->empty() ? 0 : (*rows)[0].requests;
        if (requests % kPerBatch != 0 || requests < last) ++errors;
        last = requests;
      }
    });
  }
  writer.join();
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(store->usage({}, {}).value()[0].requests, kBatches * kPerBatch);
}

}  // namespace
}  // namespace mx
