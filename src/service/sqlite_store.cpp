// SqliteStore: opening, the schema and its upgrades, and the ledger's write path.
// Reports and keys are in sqlite_store_reads.cpp.
#include "service/sqlite_store.h"

#include "service/sqlite_quota.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
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
    // 2: ledger instances (several processes on one file). Rows from before have no instance
    // (''): recovery treats them as a gone instance's.
    R"sql(
ALTER TABLE usage_records ADD COLUMN instance_id TEXT NOT NULL DEFAULT '';
CREATE INDEX usage_records_open_by_instance ON usage_records (instance_id) WHERE status = 'open';
CREATE TABLE ledger_instances (
  id TEXT PRIMARY KEY NOT NULL,
  worker TEXT NOT NULL,
  node TEXT NOT NULL,
  pid INTEGER NOT NULL,
  pid_start INTEGER NOT NULL,
  started_at_ms INTEGER NOT NULL,
  heartbeat_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER NOT NULL
);
)sql",
    // 3: quota buckets shared by the processes on the file (quota.h), filled from the last
    // 24 h of records so an upgrade resets no window (an open record counts its reservation).
    R"sql(
CREATE TABLE quota_usage (
  key_id TEXT NOT NULL,
  span_ms INTEGER NOT NULL,
  bucket_start_ms INTEGER NOT NULL,
  requests INTEGER NOT NULL,
  tokens INTEGER NOT NULL,
  PRIMARY KEY (key_id, span_ms, bucket_start_ms)
) WITHOUT ROWID;
INSERT INTO quota_usage (key_id, span_ms, bucket_start_ms, requests, tokens)
SELECT key_id, 1000, started_at_ms - started_at_ms % 1000, COUNT(*),
  SUM(CASE WHEN status = 'open' THEN reserved_tokens ELSE prompt_tokens + completion_tokens END)
FROM usage_records WHERE key_id <> ''
  AND started_at_ms >= (CAST(strftime('%s', 'now') AS INTEGER) - 60) * 1000
GROUP BY 1, 3;
INSERT INTO quota_usage (key_id, span_ms, bucket_start_ms, requests, tokens)
SELECT key_id, 60000, started_at_ms - started_at_ms % 60000, 0,
  SUM(CASE WHEN status = 'open' THEN reserved_tokens ELSE prompt_tokens + completion_tokens END)
FROM usage_records WHERE key_id <> ''
  AND started_at_ms >= (CAST(strftime('%s', 'now') AS INTEGER) - 86400) * 1000
GROUP BY 1, 3;
)sql",
};
constexpr int64_t kSchemaVersion = std::size(kMigrations);

// The ledger holds key hashes and everyone's usage: only its owner may read it. A directory
// created here is 0700 (its parents get the umask's default).
Status prepare_directory(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) {
    std::filesystem::path leaf = std::filesystem::path(dir).lexically_normal();
    if (leaf.has_parent_path()) std::filesystem::create_directories(leaf.parent_path(), ec);
    if (!ec && mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      ec = std::error_code(errno, std::generic_category());
    }
  }
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

// The file gets mode 0600 when it is created here; SQLite gives its -wal and -shm files the
// database file's mode. Files left group- or world-accessible by an older mxserve (0644) are
// tightened, with a warning.
Status secure_files(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return make_error(ErrorCode::kIoError,
                      "cannot create the ledger file '{}': {}; pass a writable directory "
                      "(--data-dir or MXSERVE_DATA_DIR) or fix its permissions",
                      path, std::strerror(errno));
  }
  ::close(fd);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::string file = path + suffix;
    struct stat info {};
    if (::stat(file.c_str(), &info) != 0 || (info.st_mode & 077) == 0) continue;
    mode_t tightened = info.st_mode & 0700;
    if (::chmod(file.c_str(), tightened) != 0) {
      spdlog::warn("ledger {}: others may read it (mode {:04o}) and chmod failed: {}", file,
                   info.st_mode & 07777, std::strerror(errno));
      continue;
    }
    spdlog::warn("ledger {}: mode {:04o} let others read it; now {:04o}", file,
                 info.st_mode & 07777, tightened);
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
  MX_RETURN_IF_ERROR(secure_files(path));
  MX_ASSIGN_OR_RETURN(auto writer, SqliteConnection::open(path));
  MX_RETURN_IF_ERROR(set_pragmas(*writer));
  MX_RETURN_IF_ERROR(upgrade_schema(*writer));
  MX_ASSIGN_OR_RETURN(auto reader, SqliteConnection::open(path));
  // The read connection never writes; query_only turns a mistake into an error.
  MX_RETURN_IF_ERROR(reader->exec("PRAGMA query_only=1", "make the read connection read-only"));
  MX_ASSIGN_OR_RETURN(auto quota, SqliteConnection::open(path));
  MX_RETURN_IF_ERROR(set_pragmas(*quota));
  return std::unique_ptr<LedgerStore>(
      new SqliteStore(std::move(writer), std::move(reader), std::move(quota)));
}

Result<LedgerWriteOutcome> SqliteStore::write_batch(const std::vector<LedgerOp>& ops) {
  LedgerWriteOutcome outcome;
  if (ops.empty()) return outcome;
  std::lock_guard lock(write_mutex_);
  MX_RETURN_IF_ERROR(in_transaction(*writer_, [&]() -> Status {
    for (const LedgerOp& op : ops) {
      MX_RETURN_IF_ERROR(std::visit([&](const auto& typed) { return apply(typed, outcome); }, op));
    }
    return ok_status();
  }));
  return outcome;
}

// DO NOTHING on a known request id: a batch retried after an ambiguous failure (the commit
// landed, the reply did not) must not fail on the records it already inserted. Not "INSERT OR
// IGNORE", which would also skip rows that break a CHECK instead of failing the batch.
Status SqliteStore::apply(const LedgerOpen& op, LedgerWriteOutcome&) {
  const UsageRecord& r = op.record;
  MX_ASSIGN_OR_RETURN(auto insert, writer_->prepare(R"sql(
INSERT INTO usage_records (request_id, key_id, tenant, model, prompt_tokens,
  cached_tokens, completion_tokens, reasoning_tokens, reserved_tokens, status, recovered,
  ttft_ms, e2e_ms, worker, started_at_ms, finished_at_ms, instance_id)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'open', 0, ?10, 0, ?11, ?12, 0, ?13)
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
      .bind(13, r.instance_id)
      .run();
}

// Counts only rise (MAX), so progress applied late or twice never lowers them; a ttft of 0
// means "no token yet" and keeps what is there. A record that recovery settled while its
// process was alive (recovered = 1) still takes its owner's progress.
Status SqliteStore::apply(const LedgerProgress& op, LedgerWriteOutcome&) {
  MX_ASSIGN_OR_RETURN(auto update, writer_->prepare(R"sql(
UPDATE usage_records SET prompt_tokens = MAX(prompt_tokens, ?2),
  cached_tokens = MAX(cached_tokens, ?3), completion_tokens = MAX(completion_tokens, ?4),
  reasoning_tokens = MAX(reasoning_tokens, ?5),
  ttft_ms = CASE WHEN ?6 > 0 THEN ?6 ELSE ttft_ms END
WHERE request_id = ?1 AND (status = 'open' OR recovered = 1))sql",
                                                    "update the progress of a usage record"));
  return update.bind(1, op.request_id)
      .bind(2, op.tokens.prompt)
      .bind(3, op.tokens.cached)
      .bind(4, op.tokens.completion)
      .bind(5, op.tokens.reasoning)
      .bind(6, op.ttft_ms)
      .run();
}

namespace {

constexpr const char* kFinalSet = R"sql(
UPDATE usage_records SET key_id = ?2, tenant = ?3, model = ?4, prompt_tokens = ?5,
  cached_tokens = ?6, completion_tokens = ?7, reasoning_tokens = ?8, reserved_tokens = ?9,
  status = ?10, recovered = ?11, ttft_ms = ?12, e2e_ms = ?13, worker = ?14,
  started_at_ms = ?15, finished_at_ms = ?16)sql";

void bind_final(SqliteStatement& update, const UsageRecord& r) {
  update.bind(1, r.request_id)
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
      .bind(16, r.finished_at_ms);
}

}  // namespace

// Exactly once: the final applies to the open record; else to a record recovery settled
// (recovered = 1: its process was taken for dead, the real counts beat the estimate). A final
// record has recovered = 0, so nothing applies after it.
Status SqliteStore::apply(const LedgerFinal& op, LedgerWriteOutcome& outcome) {
  const UsageRecord& r = op.record;
  if (r.status == UsageStatus::kOpen) {
    return make_error(ErrorCode::kInvalidArgument,
                      "ledger {}: the final record of request '{}' has status 'open'; a final "
                      "status is ok, aborted, error or timeout",
                      writer_->path(), r.request_id);
  }
  static const std::string kOfOpen =
      std::string(kFinalSet) + " WHERE request_id = ?1 AND status = 'open'";
  static const std::string kOfRecovered =
      std::string(kFinalSet) + " WHERE request_id = ?1 AND recovered = 1";
  const int64_t used = r.tokens.prompt + r.tokens.completion;
  {
    MX_ASSIGN_OR_RETURN(auto update, writer_->prepare(kOfOpen, "finalize a usage record"));
    bind_final(update, r);
    MX_RETURN_IF_ERROR(update.run());
  }
  if (writer_->changes() > 0) {
    return sqlite_adjust_quota(*writer_, r.key_id, r.started_at_ms, used - r.reserved_tokens);
  }
  // A recovered record: recovery settled its quota at the counts it had; the real ones win.
  int64_t recovered_used = -1;
  {
    MX_ASSIGN_OR_RETURN(auto counts, writer_->prepare(R"sql(
SELECT prompt_tokens + completion_tokens FROM usage_records
WHERE request_id = ?1 AND recovered = 1)sql",
                                                      "read a recovered record's counts"));
    counts.bind(1, r.request_id);
    MX_ASSIGN_OR_RETURN(bool found, counts.step());
    if (found) recovered_used = counts.int64(0);
  }
  if (recovered_used < 0) {
    outcome.unmatched_finals.push_back(r.request_id);
    return ok_status();
  }
  MX_ASSIGN_OR_RETURN(auto late, writer_->prepare(kOfRecovered, "finalize a recovered record"));
  bind_final(late, r);
  MX_RETURN_IF_ERROR(late.run());
  outcome.late_finals.push_back(r.request_id);
  return sqlite_adjust_quota(*writer_, r.key_id, r.started_at_ms, used - recovered_used);
}

// Inserts the row, or renews the lease (and the worker name, known once the port is bound).
Status SqliteStore::apply(const LedgerHeartbeat& op, LedgerWriteOutcome&) {
  const LedgerInstance& i = op.instance;
  MX_ASSIGN_OR_RETURN(auto upsert, writer_->prepare(R"sql(
INSERT INTO ledger_instances (id, worker, node, pid, pid_start, started_at_ms, heartbeat_at_ms,
  expires_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
ON CONFLICT (id) DO UPDATE SET worker = excluded.worker,
  heartbeat_at_ms = excluded.heartbeat_at_ms, expires_at_ms = excluded.expires_at_ms)sql",
                                                    "renew this process's ledger lease"));
  return upsert.bind(1, i.id)
      .bind(2, i.worker)
      .bind(3, i.node)
      .bind(4, i.pid)
      .bind(5, i.pid_start)
      .bind(6, i.started_at_ms)
      .bind(7, i.heartbeat_at_ms)
      .bind(8, i.expires_at_ms)
      .run();
}

Result<int64_t> SqliteStore::recover_open(const std::string& self,
                                          const std::vector<std::string>& gone, int64_t now_ms) {
  std::lock_guard lock(write_mutex_);
  int64_t recovered = 0;
  MX_RETURN_IF_ERROR(in_transaction(*writer_, [&]() -> Status {
    // Lease expired, no row, or no instance at all ('': written before instance ids).
    constexpr const char* kExpired = R"sql(status = 'open' AND instance_id <> ?2 AND
  instance_id NOT IN (SELECT id FROM ledger_instances WHERE expires_at_ms >= ?1))sql";
    MX_RETURN_IF_ERROR(sqlite_settle_recovered(*writer_, kExpired, now_ms, self));
    MX_ASSIGN_OR_RETURN(
        auto expired,
        writer_->prepare(std::string("UPDATE usage_records SET status = 'aborted', recovered = 1, "
                                     "finished_at_ms = ?1 WHERE ") +
                             kExpired,
                         "settle records of expired instances"));
    MX_RETURN_IF_ERROR(expired.bind(1, now_ms).bind(2, self).run());
    recovered += writer_->changes();
    MX_ASSIGN_OR_RETURN(auto forget,
                        writer_->prepare("DELETE FROM ledger_instances WHERE id <> ?2 AND "
                                         "expires_at_ms < ?1",
                                         "remove expired instances"));
    MX_RETURN_IF_ERROR(forget.bind(1, now_ms).bind(2, self).run());
    for (const std::string& id : gone) {
      if (id == self) continue;
      MX_RETURN_IF_ERROR(
          sqlite_settle_recovered(*writer_, "status = 'open' AND instance_id = ?2", now_ms, id));
      MX_ASSIGN_OR_RETURN(auto settle, writer_->prepare(R"sql(
UPDATE usage_records SET status = 'aborted', recovered = 1, finished_at_ms = ?1
WHERE status = 'open' AND instance_id = ?2)sql",
                                                        "settle records of a gone process"));
      MX_RETURN_IF_ERROR(settle.bind(1, now_ms).bind(2, id).run());
      recovered += writer_->changes();
      MX_ASSIGN_OR_RETURN(
          auto remove,
          writer_->prepare("DELETE FROM ledger_instances WHERE id = ?1", "remove a gone instance"));
      MX_RETURN_IF_ERROR(remove.bind(1, id).run());
    }
    return sqlite_prune_quota(*writer_, now_ms);
  }));
  return recovered;
}

Result<QuotaDecision> SqliteStore::reserve_quota(const ApiKey& key, int64_t tokens,
                                                 int64_t now_ms) {
  std::lock_guard lock(quota_mutex_);
  return sqlite_reserve_quota(*quota_, key, tokens, now_ms);
}

Status SqliteStore::release_quota(const std::string& key_id, int64_t tokens,
                                  int64_t reserved_at_ms) {
  std::lock_guard lock(quota_mutex_);
  return in_transaction(
      *quota_, [&] { return sqlite_adjust_quota(*quota_, key_id, reserved_at_ms, -tokens); });
}

}  // namespace mx
