// Tests of the PostgreSQL ledger store against a real server at MX_TEST_PG_URL
// (tests/e2e/test_ledger_postgres.sh starts a throwaway one and sets it). Each test gets a
// database of its own, created from the server URL and dropped at the end, so tests never see
// each other's rows. Without MX_TEST_PG_URL the tests skip, saying how to run them.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <random>
#include <string>

#include "core/status.h"
#include "service/ledger_store.h"
#include "service/pg_store.h"

namespace mx::pg_test {

inline std::string server_url() {
  const char* url = std::getenv("MX_TEST_PG_URL");
  return url ? url : "";
}

// url with its database replaced: postgresql://u@h:p/OLD?x → postgresql://u@h:p/NEW?x.
inline std::string with_database(const std::string& url, const std::string& database) {
  size_t authority = url.find("://") + 3;
  size_t query = std::min(url.find('?', authority), url.size());
  size_t path = std::min(url.find('/', authority), query);
  return url.substr(0, path) + "/" + database + url.substr(query);
}

// The first value of one statement run on a fresh connection of its own (what a test does
// behind the store's back), or the server's error.
inline Result<std::string> query_value(const std::string& url, const std::string& sql) {
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(url.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return make_error(ErrorCode::kIoError, "{}", PQerrorMessage(conn.get()));
  }
  std::unique_ptr<PGresult, void (*)(PGresult*)> result(PQexec(conn.get(), sql.c_str()), &PQclear);
  ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return make_error(ErrorCode::kIoError, "{}: {}", sql, PQresultErrorMessage(result.get()));
  }
  return PQntuples(result.get()) > 0 ? std::string(PQgetvalue(result.get(), 0, 0)) : "";
}

// A database of the test's own: CREATE DATABASE on the server at MX_TEST_PG_URL, dropped
// (connections and all) when this goes away.
class ScratchDatabase {
 public:
  ScratchDatabase() {
    std::random_device random;
    name_ = fmt::format("mx_test_{}_{:08x}", getpid(), random());
    Result<std::string> created = query_value(
        server_url(), fmt::format("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'", name_));
    if (created.ok()) {
      url_ = with_database(server_url(), name_);
    } else {
      error_ = created.error().message;
    }
  }
  ~ScratchDatabase() {
    if (!url_.empty()) {
      (void)query_value(server_url(),
                        fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", name_));
    }
  }
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  const std::string& name() const { return name_; }
  const std::string& url() const { return url_; }  // "" when creating it failed
  const std::string& error() const { return error_; }

 private:
  std::string name_, url_, error_;
};

class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (server_url().empty()) {
      GTEST_SKIP() << "MX_TEST_PG_URL is not set: run tests/e2e/test_ledger_postgres.sh "
                      "(ctest -R e2e.test_ledger_postgres), or set it to a PostgreSQL URL whose "
                      "user may CREATE DATABASE";
    }
    ASSERT_NE(server_url().find("://"), std::string::npos)
        << "MX_TEST_PG_URL must be a postgresql:// URL, got " << server_url();
    database_ = std::make_unique<ScratchDatabase>();
    ASSERT_FALSE(database_->url().empty()) << database_->error();
    Result<std::unique_ptr<LedgerStore>> store = open_postgres_store(database_->url());
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(store).value();
  }
  void TearDown() override {
    store_.reset();
    database_.reset();
  }

  // Runs sql in this test's database on a connection of its own.
  std::string sql(const std::string& statement) {
    Result<std::string> value = query_value(database_->url(), statement);
    EXPECT_TRUE(value.ok()) << value.error().message;
    return value.ok() ? value.value() : "";
  }

  std::unique_ptr<ScratchDatabase> database_;
  std::unique_ptr<LedgerStore> store_;
};

// An open record as the frontend writes it at admission.
inline UsageRecord open_record(const std::string& request_id, const std::string& key_id,
                               const std::string& model, int64_t started_at_ms) {
  UsageRecord record;
  record.request_id = request_id;
  record.key_id = key_id;
  record.tenant = key_id.empty() ? "" : "tenant_of_" + key_id;
  record.model = model;
  record.reserved_tokens = 4096;
  record.worker = "host-a:8080";
  record.started_at_ms = started_at_ms;
  return record;
}

// The same record, finished with these counts.
inline UsageRecord final_record(UsageRecord record, TokenCounts tokens,
                                UsageStatus status = UsageStatus::kOk) {
  record.tokens = tokens;
  record.status = status;
  record.ttft_ms = 12.5;
  record.e2e_ms = 250.125;
  record.finished_at_ms = record.started_at_ms + 250;
  return record;
}

inline UsageQuery all_records(bool include_open = true) {
  UsageQuery query;
  query.include_open = include_open;
  return query;
}

}  // namespace mx::pg_test
