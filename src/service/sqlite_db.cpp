#include "service/sqlite_db.h"

#include <chrono>
#include <utility>

namespace mx {
namespace {

// Waiting this long for another process's write lock covers a checkpoint or a long batch; past
// it the write fails and the Ledger retries it.
constexpr std::chrono::milliseconds kBusyTimeout{5000};

std::string code_name(int code) {
  switch (code & 0xff) {
    case SQLITE_BUSY:
      return "SQLITE_BUSY";
    case SQLITE_LOCKED:
      return "SQLITE_LOCKED";
    case SQLITE_READONLY:
      return "SQLITE_READONLY";
    case SQLITE_IOERR:
      return "SQLITE_IOERR";
    case SQLITE_CORRUPT:
      return "SQLITE_CORRUPT";
    case SQLITE_FULL:
      return "SQLITE_FULL";
    case SQLITE_CANTOPEN:
      return "SQLITE_CANTOPEN";
    case SQLITE_CONSTRAINT:
      return "SQLITE_CONSTRAINT";
    case SQLITE_NOTADB:
      return "SQLITE_NOTADB";
    default:
      return "SQLite error " + std::to_string(code);
  }
}

ErrorCode error_code_of(int code) {
  switch (code & 0xff) {
    case SQLITE_CONSTRAINT:
      return ErrorCode::kInvalidArgument;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return ErrorCode::kCorruptData;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_READONLY:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
      return ErrorCode::kIoError;
    default:
      return ErrorCode::kInternal;
  }
}

}  // namespace

Result<std::unique_ptr<SqliteConnection>> SqliteConnection::open(const std::string& path) {
  sqlite3* db = nullptr;
  // NOMUTEX: SQLite's own locking is redundant, the store serializes each connection.
  int code = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<SqliteConnection> connection(new SqliteConnection(db, path));
  if (code != SQLITE_OK) return connection->error(code, "open the database");
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, static_cast<int>(kBusyTimeout.count()));
  return connection;
}

SqliteConnection::~SqliteConnection() {
  for (auto& [sql, statement] : statements_) sqlite3_finalize(statement);
  sqlite3_close_v2(db_);
}

Status SqliteConnection::exec(const char* sql, const char* what) {
  int code = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (code != SQLITE_OK) return error(code, what);
  return ok_status();
}

Result<SqliteStatement> SqliteConnection::prepare(const std::string& sql, const char* what) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    sqlite3_stmt* statement = nullptr;
    int code = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size() + 1),
                                  SQLITE_PREPARE_PERSISTENT, &statement, nullptr);
    if (code != SQLITE_OK) return error(code, what);
    it = statements_.emplace(sql, statement).first;
  }
  return SqliteStatement(this, it->second, what);
}

int64_t SqliteConnection::changes() const { return sqlite3_changes64(db_); }

Error SqliteConnection::error(int code, std::string_view what) const {
  const char* message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(code);
  return make_error(error_code_of(code), "ledger {}: {}: {} ({})", path_, what, message,
                    code_name(code));
}

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : connection_(other.connection_),
      statement_(std::exchange(other.statement_, nullptr)),
      what_(other.what_),
      bind_error_(other.bind_error_) {}

SqliteStatement::~SqliteStatement() {
  if (!statement_) return;
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
}

SqliteStatement& SqliteStatement::bind(int index, int64_t value) {
  int code = sqlite3_bind_int64(statement_, index, value);
  if (bind_error_ == SQLITE_OK) bind_error_ = code;
  return *this;
}

SqliteStatement& SqliteStatement::bind(int index, double value) {
  int code = sqlite3_bind_double(statement_, index, value);
  if (bind_error_ == SQLITE_OK) bind_error_ = code;
  return *this;
}

SqliteStatement& SqliteStatement::bind(int index, std::string_view value) {
  int code = sqlite3_bind_text64(statement_, index, value.data(), value.size(), SQLITE_TRANSIENT,
                                 SQLITE_UTF8);
  if (bind_error_ == SQLITE_OK) bind_error_ = code;
  return *this;
}

Result<bool> SqliteStatement::step() {
  if (bind_error_ != SQLITE_OK) return connection_->error(bind_error_, what_);
  int code = sqlite3_step(statement_);
  if (code == SQLITE_ROW) return true;
  if (code == SQLITE_DONE) return false;
  return connection_->error(code, what_);
}

Status SqliteStatement::run() {
  while (true) {
    MX_ASSIGN_OR_RETURN(bool row, step());
    if (!row) return ok_status();
  }
}

int64_t SqliteStatement::int64(int column) const {
  return sqlite3_column_int64(statement_, column);
}

double SqliteStatement::real(int column) const { return sqlite3_column_double(statement_, column); }

std::string SqliteStatement::text(int column) const {
  const unsigned char* data = sqlite3_column_text(statement_, column);
  if (!data) return "";
  return std::string(reinterpret_cast<const char*>(data),
                     static_cast<size_t>(sqlite3_column_bytes(statement_, column)));
}

}  // namespace mx
