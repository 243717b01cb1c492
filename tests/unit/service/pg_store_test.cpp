// The PostgreSQL LedgerStore's write path, keys and robustness against a real server:
// open → progress → final exactly once, atomic batches, recovery of open records, key CRUD,
// concurrent writers and readers, reconnecting, schema creation racing, and that no error or
// description shows the password. See pg_test_util.h for how to run them.
#include <atomic>
#include <thread>
#include <vector>

#include "pg_test_util.h"
#include "service/pg_connection.h"

namespace mx {
namespace {

using pg_test::all_records;
using pg_test::final_record;
using pg_test::open_record;
using pg_test::PgStoreTest;

constexpr int64_t kT0 = 1'700'006'400'000;  // a UTC midnight

void expect_same_record(const UsageRecord& actual, const UsageRecord& expected) {
  EXPECT_EQ(actual.request_id, expected.request_id);
  EXPECT_EQ(actual.key_id, expected.key_id);
  EXPECT_EQ(actual.tenant, expected.tenant);
  EXPECT_EQ(actual.model, expected.model);
  EXPECT_EQ(actual.tokens.prompt, expected.tokens.prompt);
  EXPECT_EQ(actual.tokens.cached, expected.tokens.cached);
  EXPECT_EQ(actual.tokens.completion, expected.tokens.completion);
  EXPECT_EQ(actual.tokens.reasoning, expected.tokens.reasoning);
  EXPECT_EQ(actual.reserved_tokens, expected.reserved_tokens);
  EXPECT_EQ(usage_status_name(actual.status), usage_status_name(expected.status));
  EXPECT_EQ(actual.recovered, expected.recovered);
  EXPECT_EQ(actual.ttft_ms, expected.ttft_ms);  // exact: doubles must round-trip
  EXPECT_EQ(actual.e2e_ms, expected.e2e_ms);
  EXPECT_EQ(actual.worker, expected.worker);
  EXPECT_EQ(actual.started_at_ms, expected.started_at_ms);
  EXPECT_EQ(actual.finished_at_ms, expected.finished_at_ms);
  EXPECT_EQ(actual.instance_id, expected.instance_id);
}

std::vector<UsageRecord> read_all(LedgerStore& store) {
  Result<std::vector<UsageRecord>> records = store.records(all_records());
  EXPECT_TRUE(records.ok()) << records.error().message;
  return records.ok() ? records.value() : std::vector<UsageRecord>{};
}

TEST_F(PgStoreTest, OpenProgressFinalExactlyOnce) {
  UsageRecord open = open_record("chatcmpl-1", "key_aaaaaaaaaaaa", "qwen3", kT0);
  ASSERT_TRUE(store_->write_batch({LedgerOpen{open}}).ok());
  ASSERT_TRUE(store_->write_batch({LedgerProgress{"chatcmpl-1", {100, 40, 7, 2}, 0.1 + 0.2}}).ok());
  // A late, lower progress does not lower what was billed; a ttft of 0 keeps the recorded one.
  ASSERT_TRUE(store_->write_batch({LedgerProgress{"chatcmpl-1", {100, 40, 5, 1}, 0.0}}).ok());
  std::vector<UsageRecord> records = read_all(*store_);
  ASSERT_EQ(records.size(), 1u);
  UsageRecord expected = open;
  expected.tokens = {100, 40, 7, 2};
  expected.ttft_ms = 0.1 + 0.2;
  expect_same_record(records[0], expected);

  UsageRecord done = final_record(open, {100, 40, 9, 3});
  ASSERT_TRUE(store_->write_batch({LedgerFinal{done}}).ok());
  // A second final, a late progress and a retried open of the same id change nothing.
  UsageRecord again = final_record(open, {1, 1, 1, 1}, UsageStatus::kError);
  ASSERT_TRUE(store_
                  ->write_batch({LedgerFinal{again}, LedgerOpen{open},
                                 LedgerProgress{"chatcmpl-1", {500, 0, 500, 0}, 1.0}})
                  .ok());
  records = read_all(*store_);
  ASSERT_EQ(records.size(), 1u);
  expect_same_record(records[0], done);
  // A final for an id never opened creates nothing.
  UsageRecord stray = final_record(open_record("chatcmpl-x", "", "qwen3", kT0), {1, 0, 1, 0});
  ASSERT_TRUE(store_->write_batch({LedgerFinal{stray}}).ok());
  EXPECT_EQ(read_all(*store_).size(), 1u);
}

TEST_F(PgStoreTest, OpenFinalAndProgressInOneBatchApplyInOrder) {
  UsageRecord a = open_record("cmpl-a", "key_1", "m", kT0);
  UsageRecord b = open_record("cmpl-b", "key_1", "m", kT0 + 1);
  ASSERT_TRUE(
      store_
          ->write_batch({LedgerOpen{a}, LedgerOpen{b}, LedgerProgress{"cmpl-a", {5, 0, 1, 0}, 3.0},
                         LedgerFinal{final_record(a, {5, 0, 2, 0})},
                         LedgerProgress{"cmpl-b", {8, 0, 0, 0}, 0.0}})
          .ok());
  std::vector<UsageRecord> records = read_all(*store_);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].status, UsageStatus::kOk);
  EXPECT_EQ(records[0].tokens.completion, 2);
  EXPECT_EQ(records[1].status, UsageStatus::kOpen);
  EXPECT_EQ(records[1].tokens.prompt, 8);
}

// Each bad batch holds good ops before and after the bad one; none of them may be applied.
TEST_F(PgStoreTest, FailedBatchAppliesNothing) {
  UsageRecord kept = open_record("cmpl-kept", "key_1", "m", kT0);
  ASSERT_TRUE(store_->write_batch({LedgerOpen{kept}}).ok());
  sql("ALTER TABLE usage_records ADD CONSTRAINT no_negative_prompt CHECK (prompt_tokens >= 0)");

  UsageRecord a = open_record("cmpl-a", "key_1", "m", kT0 + 1);
  UsageRecord bad_utf8 = open_record("cmpl-b", "key_1", "bad\xff\xfe model", kT0 + 2);
  UsageRecord bad_nul = open_record("cmpl-c", "key_1", std::string("nul\0model", 9), kT0 + 3);
  UsageRecord negative = final_record(kept, {-1, 0, 5, 0});
  const std::vector<std::pair<const char*, LedgerOp>> bad_ops = {
      {"invalid UTF-8", LedgerOpen{bad_utf8}},
      {"NUL byte", LedgerOpen{bad_nul}},
      {"check constraint", LedgerFinal{negative}},
  };
  for (const auto& [what, bad] : bad_ops) {
    auto status =
        store_->write_batch({LedgerOpen{a}, LedgerProgress{"cmpl-kept", {9, 0, 9, 0}, 1.0}, bad,
                             LedgerFinal{final_record(a, {1, 0, 1, 0})}});
    ASSERT_FALSE(status.ok()) << what;
    EXPECT_EQ(status.error().code, ErrorCode::kInvalidArgument) << status.error().message;
    EXPECT_NE(status.error().message.find(store_->describe()), std::string::npos)
        << status.error().message;
    std::vector<UsageRecord> records = read_all(*store_);
    ASSERT_EQ(records.size(), 1u) << what;
    expect_same_record(records[0], kept);
  }
  EXPECT_NE(store_->write_batch({LedgerOpen{bad_utf8}}).error().message.find("UTF8"),
            std::string::npos);
  // The connection is still usable, and the same batch without the bad op applies in full.
  ASSERT_TRUE(
      store_->write_batch({LedgerOpen{a}, LedgerFinal{final_record(a, {1, 0, 1, 0})}}).ok());
  EXPECT_EQ(read_all(*store_).size(), 2u);
}

TEST_F(PgStoreTest, RecoverOpenSettlesWhatWasLeftOpen) {
  UsageRecord a = open_record("cmpl-a", "key_1", "m", kT0);
  UsageRecord b = open_record("cmpl-b", "key_1", "m", kT0 + 1);
  UsageRecord c = open_record("cmpl-c", "key_2", "m", kT0 + 2);
  UsageRecord c_done = final_record(c, {3, 0, 4, 0});
  ASSERT_TRUE(
      store_
          ->write_batch({LedgerOpen{a}, LedgerOpen{b}, LedgerOpen{c},
                         LedgerProgress{"cmpl-a", {30, 10, 20, 5}, 40.0}, LedgerFinal{c_done}})
          .ok());
  Result<int64_t> recovered = store_->recover_open("me", {}, kT0 + 60'000);
  ASSERT_TRUE(recovered.ok()) << recovered.error().message;
  EXPECT_EQ(recovered.value(), 2);

  std::vector<UsageRecord> records = read_all(*store_);
  ASSERT_EQ(records.size(), 3u);
  UsageRecord a_expected = a;
  a_expected.tokens = {30, 10, 20, 5};  // as last written
  a_expected.ttft_ms = 40.0;
  a_expected.status = UsageStatus::kAborted;
  a_expected.recovered = true;
  a_expected.finished_at_ms = kT0 + 60'000;
  expect_same_record(records[0], a_expected);
  EXPECT_EQ(records[1].status, UsageStatus::kAborted);
  EXPECT_TRUE(records[1].recovered);
  expect_same_record(records[2], c_done);
  // Nothing is open any more. A late final (its process was alive after all) replaces the
  // recovered estimate, once; a final of a record that is final changes nothing.
  EXPECT_EQ(store_->recover_open("me", {}, kT0 + 70'000).value(), 0);
  UsageRecord a_late = final_record(a, {30, 10, 99, 5});
  Result<LedgerWriteOutcome> late = store_->write_batch({LedgerFinal{a_late}});
  ASSERT_TRUE(late.ok()) << late.error().message;
  EXPECT_EQ(late->late_finals, std::vector<std::string>{"cmpl-a"});
  expect_same_record(read_all(*store_)[0], a_late);
  Result<LedgerWriteOutcome> again =
      store_->write_batch({LedgerFinal{final_record(a, {1, 0, 1, 0}, UsageStatus::kError)},
                           LedgerFinal{final_record(c, {1, 0, 1, 0})}});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->unmatched_finals, (std::vector<std::string>{"cmpl-a", "cmpl-c"}));
  expect_same_record(read_all(*store_)[0], a_late);
}

ApiKey test_key(const std::string& id, int64_t created_at_ms) {
  ApiKey key;
  key.id = id;
  key.name = "ci runner ☃";
  key.tenant = "acme";
  key.models = {"qwen3-0.6b", "llama3"};
  key.tokens_per_day = 1'000'000;
  key.tokens_per_minute = 20'000;
  key.requests_per_minute = 60;
  key.expires_at_ms = kT0 + 86'400'000;
  key.admin = false;
  key.created_at_ms = created_at_ms;
  key.secret_hash = std::string(63, 'a') + id.back();
  return key;
}

void expect_same_key(const std::optional<ApiKey>& actual, const ApiKey& expected) {
  ASSERT_TRUE(actual.has_value()) << expected.id;
  EXPECT_EQ(actual->id, expected.id);
  EXPECT_EQ(actual->name, expected.name);
  EXPECT_EQ(actual->tenant, expected.tenant);
  EXPECT_EQ(actual->models, expected.models);
  EXPECT_EQ(actual->tokens_per_day, expected.tokens_per_day);
  EXPECT_EQ(actual->tokens_per_minute, expected.tokens_per_minute);
  EXPECT_EQ(actual->requests_per_minute, expected.requests_per_minute);
  EXPECT_EQ(actual->expires_at_ms, expected.expires_at_ms);
  EXPECT_EQ(actual->admin, expected.admin);
  EXPECT_EQ(actual->revoked, expected.revoked);
  EXPECT_EQ(actual->created_at_ms, expected.created_at_ms);
  EXPECT_EQ(actual->secret_hash, expected.secret_hash);
}

TEST_F(PgStoreTest, KeyCrudAndLookupByHash) {
  ApiKey first = test_key("key_00000000000b", kT0 + 5);
  ApiKey second = test_key("key_00000000000a", kT0 + 9);
  second.models = {};
  second.admin = true;
  ASSERT_TRUE(store_->insert_key(first).ok());
  ASSERT_TRUE(store_->insert_key(second).ok());
  expect_same_key(store_->find_key(first.id).value(), first);
  expect_same_key(store_->find_key_by_hash(second.secret_hash).value(), second);
  EXPECT_FALSE(store_->find_key("key_missing").value().has_value());
  EXPECT_FALSE(store_->find_key_by_hash(std::string(64, 'f')).value().has_value());

  // By creation time, not by id.
  Result<std::vector<ApiKey>> keys = store_->list_keys();
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].id, first.id);
  EXPECT_EQ((*keys)[1].id, second.id);

  first.revoked = true;
  first.models = {"only-this"};
  first.tokens_per_minute = 0;
  ASSERT_TRUE(store_->update_key(first).ok());
  expect_same_key(store_->find_key(first.id).value(), first);

  Status missing = store_->update_key(test_key("key_nothere00000", kT0));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(store_->insert_key(first).ok());  // the id exists
  ApiKey same_hash = test_key("key_00000000000c", kT0);
  same_hash.secret_hash = first.secret_hash;
  EXPECT_FALSE(store_->insert_key(same_hash).ok());
  ApiKey comma = test_key("key_00000000000d", kT0);
  comma.models = {"a,b"};
  Status comma_status = store_->insert_key(comma);
  ASSERT_FALSE(comma_status.ok());
  EXPECT_EQ(comma_status.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->list_keys()->size(), 2u);
}

TEST_F(PgStoreTest, KeysWithoutSecretDoNotCollide) {
  ApiKey a = test_key("key_0000000000e1", kT0);
  ApiKey b = test_key("key_0000000000e2", kT0);
  a.secret_hash.clear();
  b.secret_hash.clear();
  ASSERT_TRUE(store_->insert_key(a).ok());
  ASSERT_TRUE(store_->insert_key(b).ok());
  expect_same_key(store_->find_key(b.id).value(), b);
  EXPECT_FALSE(store_->find_key_by_hash("").value().has_value());
}

// Batches commit atomically while readers read: a reader never sees a record open (each batch
// opens and finalizes its record), and totals only grow.
TEST_F(PgStoreTest, OneWriterAndConcurrentReaders) {
  constexpr int kBatches = 150;
  std::atomic<bool> writing{true};
  std::atomic<int> read_failures{0};
  std::thread writer([&] {
    for (int i = 0; i < kBatches; ++i) {
      UsageRecord record = open_record(fmt::format("cmpl-{:04}", i), "key_1", "m", kT0 + i);
      auto status = store_->write_batch({LedgerOpen{record},
                                         LedgerProgress{record.request_id, {10, 0, 1, 0}, 1.0},
                                         LedgerFinal{final_record(record, {10, 0, 2, 0})}});
      EXPECT_TRUE(status.ok()) << status.error().message;
    }
    writing = false;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&, r] {
      int64_t last_requests = 0;
      while (writing.load()) {
        Result<std::vector<UsageRecord>> records = store_->records(all_records());
        Result<std::vector<UsageRow>> totals = store_->usage(all_records(), {});
        Result<std::vector<ApiKey>> keys = store_->list_keys();
        if (!records.ok() || !totals.ok() || !keys.ok()) {
          read_failures += 1;
          continue;
        }
        for (const UsageRecord& record : *records) {
          EXPECT_NE(record.status, UsageStatus::kOpen) << "reader " << r;
        }
        EXPECT_GE(totals->at(0).requests, last_requests);
        EXPECT_EQ(totals->at(0).tokens.completion, 2 * totals->at(0).requests);
        last_requests = totals->at(0).requests;
      }
    });
  }
  writer.join();
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(read_failures.load(), 0);
  EXPECT_EQ(read_all(*store_).size(), static_cast<size_t>(kBatches));
}

TEST_F(PgStoreTest, ReconnectsAfterTheServerClosedTheConnection) {
  UsageRecord a = open_record("cmpl-a", "key_1", "m", kT0);
  ASSERT_TRUE(store_->write_batch({LedgerOpen{a}}).ok());
  ASSERT_EQ(read_all(*store_).size(), 1u);
  const std::string kill_store_connections = fmt::format(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
      "WHERE datname = '{}' AND pid <> pg_backend_pid()",
      database_->name());
  // All of the store's connections (writer, reader, quota) are cut.
  EXPECT_EQ(sql(kill_store_connections), "3");
  UsageRecord b = open_record("cmpl-b", "key_1", "m", kT0 + 1);
  auto written = store_->write_batch({LedgerOpen{b}, LedgerFinal{final_record(b, {1, 0, 1, 0})}});
  ASSERT_TRUE(written.ok()) << written.error().message;
  ASSERT_EQ(read_all(*store_).size(), 2u);
  // Again (writer and reader: the quota connection, still cut, reconnects at its next use),
  // with a key read on the reader, a quota reservation and a recovery on the writer.
  EXPECT_EQ(sql(kill_store_connections), "2");
  EXPECT_TRUE(store_->find_key("key_1").ok());
  ApiKey limited;
  limited.id = "key_1";
  limited.requests_per_minute = 10;
  Result<QuotaDecision> reserved = store_->reserve_quota(limited, 5, kT0 + 5);
  ASSERT_TRUE(reserved.ok()) << reserved.error().message;
  EXPECT_TRUE(reserved->allowed);
  Result<int64_t> recovered = store_->recover_open("me", {}, kT0 + 5);
  ASSERT_TRUE(recovered.ok()) << recovered.error().message;
  EXPECT_EQ(recovered.value(), 1);
}

TEST_F(PgStoreTest, SchemaCreationIsSafeWhenProcessesStartTogether) {
  pg_test::ScratchDatabase fresh;
  ASSERT_FALSE(fresh.url().empty()) << fresh.error();
  std::vector<std::thread> openers;
  std::atomic<int> opened{0};
  for (int i = 0; i < 4; ++i) {
    openers.emplace_back([&] {
      Result<std::unique_ptr<LedgerStore>> store = open_postgres_store(fresh.url());
      EXPECT_TRUE(store.ok()) << store.error().message;
      if (store.ok()) opened += 1;
    });
  }
  for (auto& opener : openers) opener.join();
  EXPECT_EQ(opened.load(), 4);
  // Reopening keeps what is there.
  auto store = open_postgres_store(fresh.url());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->write_batch({LedgerOpen{open_record("cmpl-a", "", "m", kT0)}}).ok());
  auto reopened = open_postgres_store(fresh.url());
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(read_all(**reopened).size(), 1u);
  EXPECT_EQ(pg_test::query_value(fresh.url(), "SELECT version FROM schema_version").value(), "3");
}

TEST_F(PgStoreTest, DescribeShowsTheServerButNotThePassword) {
  std::string url = database_->url();
  size_t at = url.find('@');
  if (at != std::string::npos) url.insert(at, ":hunter2");  // trust auth ignores it
  url += (url.find('?') == std::string::npos ? "?" : "&") + std::string("password=hunter2");
  Result<std::unique_ptr<LedgerStore>> store = open_postgres_store(url);
  ASSERT_TRUE(store.ok()) << store.error().message;
  std::string description = (*store)->describe();
  EXPECT_EQ(description.find("hunter2"), std::string::npos) << description;
  EXPECT_EQ(description, store_->describe());
  EXPECT_NE(description.find(database_->name()), std::string::npos) << description;
}

// Needs no server: nothing listens on port 1.
TEST(PgStoreNoServer, ErrorNamesTheServerButNotThePassword) {
  Result<std::unique_ptr<LedgerStore>> store =
      open_postgres_store("postgresql://mx:hunter2@127.0.0.1:1/ledger?connect_timeout=5");
  ASSERT_FALSE(store.ok());
  const std::string& message = store.error().message;
  EXPECT_EQ(store.error().code, ErrorCode::kIoError);
  EXPECT_EQ(
      message.rfind("postgresql://mx@127.0.0.1:1/ledger?connect_timeout=5: cannot connect", 0), 0u)
      << message;
  EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
}

TEST(PgStoreNoServer, RedactsPasswordsFromConnectionUrls) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"postgresql://mx:hunter2@127.0.0.1:5432/ledger", "postgresql://mx@127.0.0.1:5432/ledger"},
      {"postgresql://mx:p%40ss:w@db/ledger", "postgresql://mx@db/ledger"},
      {"postgres://mx:x@db/ledger?sslmode=require&password=hunter2",
       "postgres://mx@db/ledger?sslmode=require"},
      {"postgresql://db:5432/ledger?password=hunter2&sslmode=require",
       "postgresql://db:5432/ledger?sslmode=require"},
      {"host=db port=5432 password='hun ter\\'2' dbname=ledger", "host=db port=5432 dbname=ledger"},
      {"password = hunter2 host=db", "host=db"},
      {"postgresql://mx@127.0.0.1:5432/ledger", "postgresql://mx@127.0.0.1:5432/ledger"},
      {"postgresql://mx@db/passwords?application_name=mypassword=x",
       "postgresql://mx@db/passwords?application_name=mypassword=x"},
  };
  for (const auto& [url, expected] : cases) {
    EXPECT_EQ(redact_connection_url(url), expected) << url;
  }
}

}  // namespace
}  // namespace mx
