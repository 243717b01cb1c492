// The SQLite ledger's files: who may read them, and files written by an older mxserve
// (schema version 1, before ledger instances).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>

#include "service/ledger_store.h"
#include "service_test_util.h"

namespace mx {
namespace {

using test::open_record;
using test::TempDir;

constexpr int64_t kT0 = 1'795'417'200'000;

mode_t mode_of(const std::string& path) {
  struct stat info {};
  EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
  return info.st_mode & 07777;
}

TEST(SqliteStoreFilesTest, OnlyTheOwnerMayReadTheLedger) {
  TempDir dir;
  std::string data = dir.path() + "/data";
  auto store = open_ledger_store(data);
  ASSERT_TRUE(store.ok()) << store.error().message;
  ASSERT_TRUE((*store)->write_batch({LedgerOpen{open_record("r1", "key_a", "m", kT0, 10)}}).ok());
  EXPECT_EQ(mode_of(data), 0700u);
  EXPECT_EQ(mode_of(data + "/ledger.sqlite3"), 0600u);
  EXPECT_EQ(mode_of(data + "/ledger.sqlite3-wal"), 0600u);
  EXPECT_EQ(mode_of(data + "/ledger.sqlite3-shm"), 0600u);
}

TEST(SqliteStoreFilesTest, ExistingDirectoryKeepsItsModeAndLooseFilesAreTightened) {
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  {
    auto store = open_ledger_store(dir.path());
    ASSERT_TRUE(store.ok());
  }
  std::string file = dir.path() + "/ledger.sqlite3";
  ASSERT_EQ(::chmod(file.c_str(), 0644), 0);  // as an older mxserve left it
  auto store = open_ledger_store(dir.path());
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(mode_of(file), 0600u);
  EXPECT_EQ(mode_of(dir.path()), 0755u);  // the operator's directory: not ours to change
}

// A file of schema version 1 (no instance ids) is upgraded in place; its open records have no
// instance, so the next recovery settles them.
TEST(SqliteStoreFilesTest, UpgradesAVersion1File) {
  TempDir dir;
  std::string file = dir.path() + "/ledger.sqlite3";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  const char* v1 = R"sql(
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (1);
CREATE TABLE usage_records (
  request_id TEXT PRIMARY KEY NOT NULL, key_id TEXT NOT NULL, tenant TEXT NOT NULL,
  model TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL,
  reserved_tokens INTEGER NOT NULL, status TEXT NOT NULL, recovered INTEGER NOT NULL,
  ttft_ms REAL NOT NULL, e2e_ms REAL NOT NULL, worker TEXT NOT NULL,
  started_at_ms INTEGER NOT NULL, finished_at_ms INTEGER NOT NULL);
CREATE TABLE api_keys (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, tenant TEXT NOT NULL,
  models TEXT NOT NULL, tokens_per_day INTEGER NOT NULL, tokens_per_minute INTEGER NOT NULL,
  requests_per_minute INTEGER NOT NULL, expires_at_ms INTEGER NOT NULL, admin INTEGER NOT NULL,
  revoked INTEGER NOT NULL, created_at_ms INTEGER NOT NULL, secret_hash TEXT NOT NULL UNIQUE);
INSERT INTO usage_records VALUES ('old', 'key_a', 't', 'm', 10, 0, 4, 0, 110, 'open', 0, 1.5,
  0, 'host:8080', 1795417200000, 0);
)sql";
  ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);

  auto store = open_ledger_store(dir.path());
  ASSERT_TRUE(store.ok()) << store.error().message;
  UsageQuery query;
  query.include_open = true;
  auto records = (*store)->records(query);
  ASSERT_TRUE(records.ok()) << records.error().message;
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].instance_id, "");
  EXPECT_EQ((*records)[0].tokens.completion, 4);
  auto settled = (*store)->recover_open("me", {}, kT0 + 1000);
  ASSERT_TRUE(settled.ok()) << settled.error().message;
  EXPECT_EQ(*settled, 1);
  auto instances = (*store)->instances();
  ASSERT_TRUE(instances.ok());
  EXPECT_TRUE(instances->empty());
}

}  // namespace
}  // namespace mx
