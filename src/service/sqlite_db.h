// A thin layer over the SQLite C API for the ledger store: one connection with a cache of
// prepared statements, and a borrowed statement that binds, steps and resets itself. Errors
// name what failed and the database file, e.g.
//   "ledger /data/ledger.sqlite3: insert usage record: database or disk is full (SQLITE_FULL)".
// Not thread-safe: the owner serializes each connection behind its own mutex.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace mx {

class SqliteStatement;

class SqliteConnection {
 public:
  // Opens (creating if missing) the database file; sets busy_timeout so a second process
  // waits for the lock instead of failing at once.
  static Result<std::unique_ptr<SqliteConnection>> open(const std::string& path);
  ~SqliteConnection();
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  // Runs SQL without results (schema, PRAGMA, BEGIN/COMMIT); `what` names it in errors.
  Status exec(const char* sql, const char* what);
  // A cached prepared statement; valid until the connection closes. Reset when the returned
  // SqliteStatement goes out of scope. `what` is a literal naming the statement in errors.
  Result<SqliteStatement> prepare(const std::string& sql, const char* what);
  // Rows changed by the last INSERT/UPDATE/DELETE.
  int64_t changes() const;
  // "ledger PATH: WHAT: sqlite message (CODE)", with the code's kind mapped to an ErrorCode.
  Error error(int code, std::string_view what) const;
  const std::string& path() const { return path_; }

 private:
  SqliteConnection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
  std::map<std::string, sqlite3_stmt*, std::less<>> statements_;
};

// One use of a cached statement: bind(1, ...), then step() or run().
class SqliteStatement {
 public:
  SqliteStatement(SqliteConnection* connection, sqlite3_stmt* statement, const char* what)
      : connection_(connection), statement_(statement), what_(what) {}
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&&) = delete;
  ~SqliteStatement();

  // Parameters are 1-based, as in SQL's ?1, ?2, ...
  SqliteStatement& bind(int index, int64_t value);
  SqliteStatement& bind(int index, double value);
  SqliteStatement& bind(int index, std::string_view value);  // copied (SQLITE_TRANSIENT)
  SqliteStatement& bind(int index, bool value) { return bind(index, int64_t{value}); }

  Result<bool> step();  // true: a row is ready; false: done
  Status run();         // steps to the end, ignoring rows

  // Columns are 0-based, as in sqlite3_column_*.
  int64_t int64(int column) const;
  double real(int column) const;
  std::string text(int column) const;

 private:
  SqliteConnection* connection_;
  sqlite3_stmt* statement_;
  const char* what_;
  int bind_error_ = SQLITE_OK;  // the first failed bind, reported by step()
};

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

}  // namespace mx
