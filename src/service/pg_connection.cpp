#include "service/pg_connection.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>

namespace mx {
namespace {

// libpq messages end in a newline and put DETAIL / HINT on lines of their own.
std::string one_line(std::string_view message) {
  std::string out;
  for (char c : message) {
    if (c == '\n') {
      out += "; ";
    } else {
      out += c;
    }
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == ';')) out.pop_back();
  return out;
}

// Data exceptions (22: invalid UTF-8, out of range) and integrity violations (23: duplicate
// key, check) are the caller's values; anything else is the server or the network.
ErrorCode code_of(const PGresult* result) {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string_view sqlstate = state ? state : "";
  if (sqlstate.starts_with("22") || sqlstate.starts_with("23")) return ErrorCode::kInvalidArgument;
  return ErrorCode::kIoError;
}

// NOTICEs ("relation already exists, skipping") would go to stderr by default.
void ignore_notice(void*, const char*) {}

// Where a password=... item that starts at `value` (after the '=') ends, with its separator:
// '&' in a URI query, whitespace in a key=value string, whose values may be 'quoted \' too'.
size_t password_item_end(const std::string& url, size_t value) {
  if (value < url.size() && url[value] == '\'') {
    size_t i = value + 1;
    while (i < url.size() && url[i] != '\'') i += url[i] == '\\' ? 2 : 1;
    return std::min(i + 2, url.size());  // the closing quote and a separator
  }
  size_t end = url.find_first_of("& \t", value);
  return end == std::string::npos ? url.size() : end + 1;
}

}  // namespace

std::string redact_connection_url(std::string url) {
  size_t scheme = url.find("://");
  if (scheme != std::string::npos) {
    size_t start = scheme + 3;
    size_t authority_end = std::min(url.find_first_of("/?", start), url.size());
    size_t at = url.rfind('@', authority_end);
    size_t colon = url.find(':', start);
    if (at != std::string::npos && at >= start && colon < at) url.erase(colon, at - colon);
  }
  constexpr std::string_view kSeparators = "?& \t";
  for (size_t pos = url.find("password"); pos != std::string::npos;
       pos = url.find("password", pos)) {
    size_t equals = url.find_first_not_of(' ', pos + 8);
    bool starts_item = pos == 0 || kSeparators.find(url[pos - 1]) != std::string::npos;
    if (!starts_item || equals == std::string::npos || url[equals] != '=') {
      pos += 1;
      continue;
    }
    size_t value = std::min(url.find_first_not_of(' ', equals + 1), url.size());
    url.erase(pos, password_item_end(url, value) - pos);
  }
  while (!url.empty() && kSeparators.find(url.back()) != std::string::npos) url.pop_back();
  return url;
}

PgParams& PgParams::text(std::string_view value) {
  values_.emplace_back(value);
  return *this;
}

PgParams& PgParams::int64(int64_t value) {
  values_.push_back(std::to_string(value));
  return *this;
}

PgParams& PgParams::real(double value) {
  values_.push_back(fmt::format("{}", value));  // shortest round-trip form; "nan", "inf" too
  return *this;
}

PgParams& PgParams::boolean(bool value) {
  values_.emplace_back(value ? "true" : "false");
  return *this;
}

std::string PgResult::text(int row, int column) const {
  return PQgetvalue(result_.get(), row, column);
}

int64_t PgResult::int64(int row, int column) const {
  std::string_view text = PQgetvalue(result_.get(), row, column);
  int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

double PgResult::real(int row, int column) const {
  // PostgreSQL 12+ prints float8 in the shortest form that reads back exactly. strtod is
  // used (not from_chars) because it also reads "NaN" and "Infinity".
  return std::strtod(PQgetvalue(result_.get(), row, column), nullptr);
}

bool PgResult::boolean(int row, int column) const {
  return PQgetvalue(result_.get(), row, column)[0] == 't';
}

int64_t PgResult::affected_rows() const {
  return std::strtoll(PQcmdTuples(result_.get()), nullptr, 10);
}

Result<std::unique_ptr<PgConnection>> PgConnection::connect(const std::string& url,
                                                            std::string description) {
  // Keywords are applied in order: the URL may override the connect timeout and the
  // application name, but not the client encoding (text is UTF-8 everywhere in mxserve, and
  // the server then rejects invalid UTF-8 instead of storing it).
  const char* keywords[] = {"connect_timeout", "application_name", "dbname", "client_encoding",
                            nullptr};
  const char* values[] = {"10", "mxserve", url.c_str(), "UTF8", nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) {
    return make_error(ErrorCode::kIoError, "{}: out of memory opening a connection", description);
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    Error error = make_error(ErrorCode::kIoError,
                             "{}: cannot connect: {} (is the server running and the URL right?)",
                             description, one_line(PQerrorMessage(conn)));
    PQfinish(conn);
    return error;
  }
  PQsetNoticeProcessor(conn, &ignore_notice, nullptr);
  return std::unique_ptr<PgConnection>(new PgConnection(conn, std::move(description)));
}

PgConnection::~PgConnection() { PQfinish(conn_); }

Result<PgResult> PgConnection::exec(const char* sql, const PgParams& params) {
  const std::vector<std::string>& values = params.values();
  std::vector<const char*> pointers;
  for (size_t i = 0; i < values.size(); ++i) {
    // Text parameters end at the first NUL; PostgreSQL's text type cannot hold one anyway.
    if (values[i].find('\0') != std::string::npos) {
      return error(ErrorCode::kInvalidArgument,
                   fmt::format("parameter ${} contains a NUL byte, which PostgreSQL text "
                               "cannot store",
                               i + 1));
    }
    pointers.push_back(values[i].c_str());
  }
  PGresult* raw = values.empty()
                      ? PQexec(conn_, sql)
                      : PQexecParams(conn_, sql, static_cast<int>(pointers.size()), nullptr,
                                     pointers.data(), nullptr, nullptr, /*resultFormat=*/0);
  PgResult result(raw);
  ExecStatusType status = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
  const char* message = raw ? PQresultErrorMessage(raw) : "";
  if (*message == '\0') message = PQerrorMessage(conn_);
  return error(code_of(raw), one_line(message));
}

void PgConnection::rollback() {
  if (lost()) return;
  PGresult* result = PQexec(conn_, "ROLLBACK");
  PQclear(result);
}

Status PgConnection::reset() {
  PQreset(conn_);
  if (lost()) {
    return error(ErrorCode::kIoError, fmt::format("connection lost and reconnecting failed: {}",
                                                  one_line(PQerrorMessage(conn_))));
  }
  spdlog::warn("{}: connection lost; reconnected", description_);
  return ok_status();
}

Error PgConnection::error(ErrorCode code, std::string_view message) const {
  return Error{code, fmt::format("{}: {}", description_, message)};
}

}  // namespace mx
