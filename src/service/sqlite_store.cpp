// SqliteStore: opening, the schema and its upgrades, and the ledger's write path.
// Reports and keys are in sqlite_store_reads.cpp.
#include "service/sqlite_store.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

namespace mx {
namespace {

constexpr const char* kFileName = "ledger.sqlite3";

// Schema upgrades: kMigrations[i] takes the schema from version i to i + 1. Append only;
// never edit a step that has shipped (files in the field are at that step's version).
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE usage_records (
  request_id TEXT PRIMARY KEY NOT NULL,
  key_id TEXT NOT NULL,
  tenant TEXT NOT NULL,
  model TEXT NOT NULL,
  prompt_tokens INTEGER NOT NULL CHECK (prompt_tokens >= 0),
  cached_tokens INTEGER NOT NULL CHECK (cached_tokens >= 0),
  completion_tokens INTEGER NOT NULL CHECK (completion_tokens >= 0),
  reasoning_tokens INTEGER NOT NULL CHECK (reasoning_tokens >= 0),
  reserved_tokens INTEGER NOT NULL CHECK (reserved_tokens >= 0),
  status TEXT NOT NULL CHECK (status IN ('open', 'ok', 'aborted', 'error', 'timeout')),
  recovered INTEGER NOT NULL,
  ttft_ms REAL NOT NULL,
  e2e_ms REAL NOT NULL,
  worker TEXT NOT NULL,
  started_at_ms INTEGER NOT NULL,
  finished_at_ms INTEGER NOT NULL
);
CREATE INDEX usage_records_by_key ON usage_records (key_id, started_at_ms);
CREATE INDEX usage_records_by_start ON usage_records (started_at_ms);
CREATE INDEX usage_records_by_status ON usage_records (status);
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  tenant TEXT NOT NULL,
  models TEXT NOT NULL,  -- JSON array of model names; [] = all
  tokens_per_day INTEGER NOT NULL,
  tokens_per_minute INTEGER NOT NULL,
  requests_per_minute INTEGER NOT NULL,
  expires_at_ms INTEGER NOT NULL,
  admin INTEGER NOT NULL,
  revoked INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL,
  secret_hash TEXT NOT NULL UNIQUE
);
)sql",
};
constexpr int64_t kSchemaVersion = std::size(kMigrations);

// Runs body() inside BEGIN IMMEDIATE ... COMMIT; rolls back when anything fails. IMMEDIATE
// takes the write lock up front, so a busy database fails (or waits) before any work is done.
template <typename Body>
Status in_transaction(SqliteConnection& db, Body&& body) {
  MX_RETURN_IF_ERROR(db.exec("BEGIN IMMEDIATE", "begin a transaction"));
  Status status = body();
  if (status.ok()) status = db.exec("COMMIT", "commit");
  if (!status.ok()) (void)db.exec("ROLLBACK", "roll back");  // the first error is the one to report
  return status;
}

Status prepare_directory(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return make_error(ErrorCode::kIoError,
                      "cannot create the ledger directory '{}': {}; pass a writable directory "
                      "(--data-dir or MXSERVE_DATA_DIR)",
                      dir, ec.message());
  }
  if (access(dir.c_str(), W_OK | X_OK) != 0) {
    return make_error(ErrorCode::kIoError,
                      "the ledger directory '{}' is not writable; pass a writable directory "
                      "(--data-dir or MXSERVE_DATA_DIR) or fix its permissions",
                      dir);
  }
  return ok_status();
}

Status set_pragmas(SqliteConnection& db) {
  MX_ASSIGN_OR_RETURN(auto wal, db.prepare("PRAGMA journal_mode=WAL", "switch to WAL mode"));
  MX_ASSIGN_OR_RETURN(bool row, wal.step());
  if (!row || wal.text(0) != "wal") {
    // Still correct, only slower: readers wait for writers instead of reading a snapshot.
    spdlog::warn("ledger {}: the file system does not support WAL mode; using journal mode '{}'",
                 db.path(), row ? wal.text(0) : "unknown");
  }
  // NORMAL in WAL mode: a commit is durable once written to the OS (survives a killed
  // process); only a power cut can lose the last commits. FULL would sync every commit.
  return db.exec("PRAGMA synchronous=NORMAL", "set synchronous=NORMAL");
}

Result<int64_t> read_schema_version(SqliteConnection& db) {
  MX_RETURN_IF_ERROR(db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
                             "create the schema_version table"));
  MX_ASSIGN_OR_RETURN(auto query, db.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_version",
                                             "read the schema version"));
  MX_ASSIGN_OR_RETURN(bool row, query.step());
  return row ? query.int64(0) : int64_t{0};
}

Status upgrade_schema(SqliteConnection& db) {
  return in_transaction(db, [&]() -> Status {
    MX_ASSIGN_OR_RETURN(int64_t version, read_schema_version(db));
    if (version > kSchemaVersion) {
      return make_error(ErrorCode::kUnsupported,
                        "ledger {}: schema version {} was written by a newer mxserve (this one "
                        "knows up to {}); upgrade mxserve",
                        db.path(), version, kSchemaVersion);
    }
    for (; version < kSchemaVersion; ++version) {
      MX_RETURN_IF_ERROR(db.exec(kMigrations[version], "upgrade the schema"));
    }
    MX_RETURN_IF_ERROR(db.exec("DELETE FROM schema_version", "record the schema version"));
    MX_ASSIGN_OR_RETURN(auto insert, db.prepare("INSERT INTO schema_version (version) VALUES (?1)",
                                                "record the schema version"));
    return insert.bind(1, kSchemaVersion).run();
  });
}

}  // namespace

Result<std::unique_ptr<LedgerStore>> open_sqlite_store(const std::string& dir) {
  MX_RETURN_IF_ERROR(prepare_directory(dir));
  std::string path = (std::filesystem::path(dir) / kFileName).string();
  MX_ASSIGN_OR_RETURN(auto writer, SqliteConnection::open(path));
  MX_RETURN_IF_ERROR(set_pragmas(*writer));
  MX_RETURN_IF_ERROR(upgrade_schema(*writer));
  MX_ASSIGN_OR_RETURN(auto reader, SqliteConnection::open(path));
  // The read connection never writes; query_only turns a mistake into an error.
  MX_RETURN_IF_ERROR(reader->exec("PRAGMA query_only=1", "make the read connection read-only"));
  return std::unique_ptr<LedgerStore>(new SqliteStore(std::move(writer), std::move(reader)));
}

Status SqliteStore::write_batch(const std::vector<LedgerOp>& ops) {
  if (ops.empty()) return ok_status();
  std::lock_guard lock(write_mutex_);
  return in_transaction(*writer_, [&]() -> Status {
    for (const LedgerOp& op : ops) {
      MX_RETURN_IF_ERROR(std::visit([&](const auto& typed) { return apply(typed); }, op));
    }
    return ok_status();
  });
}

// DO NOTHING on a known request id: a batch retried after an ambiguous failure (the commit
// landed, the reply did not) must not fail on the records it already inserted. Not "INSERT OR
// IGNORE", which would also skip rows that break a CHECK instead of failing the batch.
Status SqliteStore::apply(const LedgerOpen& op) {
  const UsageRecord& r = op.record;
  MX_ASSIGN_OR_RETURN(auto insert, writer_->prepare(R"sql(
INSERT INTO usage_records (request_id, key_id, tenant, model, prompt_tokens,
  cached_tokens, completion_tokens, reasoning_tokens, reserved_tokens, status, recovered,
  ttft_ms, e2e_ms, worker, started_at_ms, finished_at_ms)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'open', 0, ?10, 0, ?11, ?12, 0)
ON CONFLICT (request_id) DO NOTHING)sql",
                                                    "insert an open usage record"));
  return insert.bind(1, r.request_id)
      .bind(2, r.key_id)
      .bind(3, r.tenant)
      .bind(4, r.model)
      .bind(5, r.tokens.prompt)
      .bind(6, r.tokens.cached)
      .bind(7, r.tokens.completion)
      .bind(8, r.tokens.reasoning)
      .bind(9, r.reserved_tokens)
      .bind(10, r.ttft_ms)
      .bind(11, r.worker)
      .bind(12, r.started_at_ms)
      .run();
}

// Counts only rise (MAX), so progress applied late or twice never lowers them; a ttft of 0
// means "no token yet" and keeps what is there.
Status SqliteStore::apply(const LedgerProgress& op) {
  MX_ASSIGN_OR_RETURN(auto update, writer_->prepare(R"sql(
UPDATE usage_records SET prompt_tokens = MAX(prompt_tokens, ?2),
  cached_tokens = MAX(cached_tokens, ?3), completion_tokens = MAX(completion_tokens, ?4),
  reasoning_tokens = MAX(reasoning_tokens, ?5),
  ttft_ms = CASE WHEN ?6 > 0 THEN ?6 ELSE ttft_ms END
WHERE request_id = ?1 AND status = 'open')sql",
                                                    "update the progress of a usage record"));
  return update.bind(1, op.request_id)
      .bind(2, op.tokens.prompt)
      .bind(3, op.tokens.cached)
      .bind(4, op.tokens.completion)
      .bind(5, op.tokens.reasoning)
      .bind(6, op.ttft_ms)
      .run();
}

// "AND status = 'open'" makes the final exactly-once: a second final matches no row.
Status SqliteStore::apply(const LedgerFinal& op) {
  const UsageRecord& r = op.record;
  if (r.status == UsageStatus::kOpen) {
    return make_error(ErrorCode::kInvalidArgument,
                      "ledger {}: the final record of request '{}' has status 'open'; a final "
                      "status is ok, aborted, error or timeout",
                      writer_->path(), r.request_id);
  }
  MX_ASSIGN_OR_RETURN(auto update, writer_->prepare(R"sql(
UPDATE usage_records SET key_id = ?2, tenant = ?3, model = ?4, prompt_tokens = ?5,
  cached_tokens = ?6, completion_tokens = ?7, reasoning_tokens = ?8, reserved_tokens = ?9,
  status = ?10, recovered = ?11, ttft_ms = ?12, e2e_ms = ?13, worker = ?14,
  started_at_ms = ?15, finished_at_ms = ?16
WHERE request_id = ?1 AND status = 'open')sql",
                                                    "finalize a usage record"));
  return update.bind(1, r.request_id)
      .bind(2, r.key_id)
      .bind(3, r.tenant)
      .bind(4, r.model)
      .bind(5, r.tokens.prompt)
      .bind(6, r.tokens.cached)
      .bind(7, r.tokens.completion)
      .bind(8, r.tokens.reasoning)
      .bind(9, r.reserved_tokens)
      .bind(10, usage_status_name(r.status))
      .bind(11, r.recovered)
      .bind(12, r.ttft_ms)
      .bind(13, r.e2e_ms)
      .bind(14, r.worker)
      .bind(15, r.started_at_ms)
      .bind(16, r.finished_at_ms)
      .run();
}

Result<int64_t> SqliteStore::recover_open(int64_t now_ms) {
  std::lock_guard lock(write_mutex_);
  int64_t recovered = 0;
  MX_RETURN_IF_ERROR(in_transaction(*writer_, [&]() -> Status {
    MX_ASSIGN_OR_RETURN(auto update, writer_->prepare(R"sql(
UPDATE usage_records SET status = 'aborted', recovered = 1, finished_at_ms = ?1
WHERE status = 'open')sql",
                                                      "settle open usage records"));
    MX_RETURN_IF_ERROR(update.bind(1, now_ms).run());
    recovered = writer_->changes();
    return ok_status();
  }));
  return recovered;
}

}  // namespace mx
