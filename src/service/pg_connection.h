// PgConnection: one libpq connection of the PostgreSQL ledger store, with its mutex and its
// reconnect policy. Statements take text-format parameters ($1, $2, ...) only: values never
// become part of the SQL text. Errors name the server (the URL without its password) and carry
// libpq's message. Internal to src/service.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace mx {

// What errors and logs may show of a connection URL: "postgresql://user:secret@host/db?
// password=x&sslmode=y" → "postgresql://user@host/db?sslmode=y". password=... items of
// key=value strings ("host=h password='a b'") go too.
std::string redact_connection_url(std::string url);

// Statement parameters in PostgreSQL's text format, each written so that the server reads back
// exactly the value given (doubles as the shortest string that round-trips).
class PgParams {
 public:
  PgParams& text(std::string_view value);
  PgParams& int64(int64_t value);
  PgParams& real(double value);
  PgParams& boolean(bool value);
  const std::vector<std::string>& values() const { return values_; }

 private:
  std::vector<std::string> values_;
};

// A successful statement's result (text format). A NULL column reads as "" / 0 / false.
class PgResult {
 public:
  explicit PgResult(PGresult* result) : result_(result, &PQclear) {}
  int rows() const { return PQntuples(result_.get()); }
  std::string text(int row, int column) const;
  int64_t int64(int row, int column) const;
  double real(int row, int column) const;
  bool boolean(int row, int column) const;
  int64_t affected_rows() const;  // of an INSERT / UPDATE / DELETE

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

class PgConnection {
 public:
  // url: a libpq URI or key=value string. description names the server in every error.
  static Result<std::unique_ptr<PgConnection>> connect(const std::string& url,
                                                       std::string description);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs call(*this) holding this connection's mutex. When it fails because the connection
  // was lost (server restart, pg_terminate_backend, network cut), resets the connection once
  // and runs call once more: so every call must be safe to repeat after a failure, including
  // one whose COMMIT reached the server but whose answer did not.
  template <typename Call>
  auto run(Call&& call) -> decltype(call(std::declval<PgConnection&>()));

  // One statement. Without params it may hold several statements (schema DDL).
  Result<PgResult> exec(const char* sql, const PgParams& params = {});
  // Ends a failed transaction. Errors are ignored: a lost connection has nothing to end.
  void rollback();

 private:
  PgConnection(PGconn* conn, std::string description)
      : conn_(conn), description_(std::move(description)) {}
  bool lost() const { return PQstatus(conn_) == CONNECTION_BAD; }
  Status reset();
  Error error(ErrorCode code, std::string_view message) const;

  std::mutex mutex_;
  PGconn* conn_;
  std::string description_;
};

template <typename Call>
auto PgConnection::run(Call&& call) -> decltype(call(std::declval<PgConnection&>())) {
  std::lock_guard lock(mutex_);
  bool reset_done = false;
  if (lost()) {  // the last reset failed; the server may be back now
    MX_RETURN_IF_ERROR(reset());
    reset_done = true;
  }
  auto result = call(*this);
  if (result.ok() || reset_done || !lost()) return result;
  MX_RETURN_IF_ERROR(reset());
  return call(*this);
}

}  // namespace mx
