// SqliteStore: usage reports and records (on the read connection) and API keys.
#include <nlohmann/json.hpp>

#include <map>
#include <tuple>

#include "service/sqlite_store.h"

namespace mx {
namespace {

constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kDayMs = 86'400'000;

// The WHERE clause of a usage query. Parameters are numbered so that a filter left out (an
// empty string matches everything) leaves no gap to bind: ?1 from, ?2 to, ?3 key, ?4 tenant,
// ?5 model. Leaving the condition out, rather than "?3 = '' OR key_id = ?3", lets SQLite use
// the (key_id, started_at_ms) index.
std::string usage_where(const UsageQuery& query) {
  std::string where = "started_at_ms >= ?1 AND started_at_ms < ?2";
  if (!query.key_id.empty()) where += " AND key_id = ?3";
  if (!query.tenant.empty()) where += " AND tenant = ?4";
  if (!query.model.empty()) where += " AND model = ?5";
  if (!query.include_open) where += " AND status <> 'open'";
  return where;
}

void bind_usage_filter(SqliteStatement& statement, const UsageQuery& query) {
  statement.bind(1, query.from_ms).bind(2, query.to_ms);
  if (!query.key_id.empty()) statement.bind(3, query.key_id);
  if (!query.tenant.empty()) statement.bind(4, query.tenant);
  if (!query.model.empty()) statement.bind(5, query.model);
}

// The start of the record's UTC hour or day in SQL; 0 when the report is not grouped by time.
const char* bucket_sql(UsageGroup group) {
  switch (group) {
    case UsageGroup::kHour:
      return "started_at_ms - started_at_ms % 3600000";
    case UsageGroup::kDay:
      return "started_at_ms - started_at_ms % 86400000";
    default:
      return "0";
  }
}
static_assert(kHourMs == 3600000 && kDayMs == 86400000, "bucket_sql spells these out");

// Which report row a SQL group (bucket, key, tenant, model) adds into: the fields that the
// report does not group on are blanked, so their groups merge.
using RowKey = std::tuple<int64_t, std::string, std::string, std::string>;
RowKey row_key(UsageGroup group, int64_t bucket, std::string key_id, std::string tenant,
               std::string model) {
  switch (group) {
    case UsageGroup::kHour:
    case UsageGroup::kDay:
      return {bucket, "", "", ""};
    case UsageGroup::kModel:
      return {0, "", "", std::move(model)};
    case UsageGroup::kKey:
      return {0, std::move(key_id), std::move(tenant), ""};
    case UsageGroup::kNone:
      break;
  }
  return {0, "", "", ""};
}

constexpr const char* kRecordColumns =
    "request_id, key_id, tenant, model, prompt_tokens, cached_tokens, completion_tokens, "
    "reasoning_tokens, reserved_tokens, status, recovered, ttft_ms, e2e_ms, worker, "
    "started_at_ms, finished_at_ms, instance_id";

UsageRecord record_from_row(const SqliteStatement& row) {
  UsageRecord r;
  r.request_id = row.text(0);
  r.key_id = row.text(1);
  r.tenant = row.text(2);
  r.model = row.text(3);
  r.tokens = {row.int64(4), row.int64(5), row.int64(6), row.int64(7)};
  r.reserved_tokens = row.int64(8);
  // The schema's CHECK admits only known names.
  r.status = parse_usage_status(row.text(9)).value_or(UsageStatus::kError);
  r.recovered = row.int64(10) != 0;
  r.ttft_ms = row.real(11);
  r.e2e_ms = row.real(12);
  r.worker = row.text(13);
  r.started_at_ms = row.int64(14);
  r.finished_at_ms = row.int64(15);
  r.instance_id = row.text(16);
  return r;
}

constexpr const char* kKeyColumns =
    "id, name, tenant, models, tokens_per_day, tokens_per_minute, requests_per_minute, "
    "expires_at_ms, admin, revoked, created_at_ms, secret_hash";

std::string models_to_text(const std::vector<std::string>& models) {
  return nlohmann::json(models).dump();
}

// A JSON array, as written here; a comma list is accepted too (a key edited by hand).
std::vector<std::string> models_from_text(const std::string& text) {
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  std::vector<std::string> models;
  if (parsed.is_array()) {
    for (const auto& model : parsed) {
      if (model.is_string()) models.push_back(model.get<std::string>());
    }
    return models;
  }
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = std::min(text.find(',', start), text.size());
    std::string model = text.substr(start, comma - start);
    if (!model.empty()) models.push_back(std::move(model));
    start = comma + 1;
  }
  return models;
}

ApiKey key_from_row(const SqliteStatement& row) {
  ApiKey key;
  key.id = row.text(0);
  key.name = row.text(1);
  key.tenant = row.text(2);
  key.models = models_from_text(row.text(3));
  key.tokens_per_day = row.int64(4);
  key.tokens_per_minute = row.int64(5);
  key.requests_per_minute = row.int64(6);
  key.expires_at_ms = row.int64(7);
  key.admin = row.int64(8) != 0;
  key.revoked = row.int64(9) != 0;
  key.created_at_ms = row.int64(10);
  key.secret_hash = row.text(11);
  return key;
}

// Binds ?1..?12 in kKeyColumns order.
void bind_key(SqliteStatement& statement, const ApiKey& key) {
  statement.bind(1, key.id)
      .bind(2, key.name)
      .bind(3, key.tenant)
      .bind(4, models_to_text(key.models))
      .bind(5, key.tokens_per_day)
      .bind(6, key.tokens_per_minute)
      .bind(7, key.requests_per_minute)
      .bind(8, key.expires_at_ms)
      .bind(9, key.admin)
      .bind(10, key.revoked)
      .bind(11, key.created_at_ms)
      .bind(12, key.secret_hash);
}

}  // namespace

// Sums per (bucket, key, tenant, model) in SQL, so the cost can use each record's own model's
// price, then adds those sums into the report's rows here.
Result<std::vector<UsageRow>> SqliteStore::usage(const UsageQuery& query,
                                                 const PriceTable& prices) {
  std::string sql = fmt::format(
      "SELECT {} AS bucket, key_id, tenant, model, COUNT(*), SUM(prompt_tokens), "
      "SUM(cached_tokens), SUM(completion_tokens), SUM(reasoning_tokens) FROM usage_records "
      "WHERE {} GROUP BY bucket, key_id, tenant, model",
      bucket_sql(query.group), usage_where(query));
  std::map<RowKey, UsageRow> rows;
  std::lock_guard lock(read_mutex_);
  MX_ASSIGN_OR_RETURN(auto select, reader_->prepare(sql, "sum usage"));
  bind_usage_filter(select, query);
  while (true) {
    MX_ASSIGN_OR_RETURN(bool more, select.step());
    if (!more) break;
    std::string model = select.text(3);
    TokenCounts tokens{select.int64(5), select.int64(6), select.int64(7), select.int64(8)};
    double cost = prices.cost(model, tokens);
    RowKey key = row_key(query.group, select.int64(0), select.text(1), select.text(2), model);
    UsageRow& row = rows[key];
    std::tie(row.bucket_start_ms, row.key_id, row.tenant, row.model) = key;
    row.requests += select.int64(4);
    row.tokens.prompt += tokens.prompt;
    row.tokens.cached += tokens.cached;
    row.tokens.completion += tokens.completion;
    row.tokens.reasoning += tokens.reasoning;
    row.cost += cost;
  }
  std::vector<UsageRow> report;
  report.reserve(rows.size());
  for (auto& [key, row] : rows) report.push_back(std::move(row));
  return report;
}

Result<std::vector<UsageRecord>> SqliteStore::records(const UsageQuery& query) {
  std::string sql =
      fmt::format("SELECT {} FROM usage_records WHERE {} ORDER BY started_at_ms, rowid",
                  kRecordColumns, usage_where(query));
  std::lock_guard lock(read_mutex_);
  MX_ASSIGN_OR_RETURN(auto select, reader_->prepare(sql, "read usage records"));
  bind_usage_filter(select, query);
  std::vector<UsageRecord> records;
  while (true) {
    MX_ASSIGN_OR_RETURN(bool more, select.step());
    if (!more) return records;
    records.push_back(record_from_row(select));
  }
}

Result<std::vector<LedgerInstance>> SqliteStore::instances() {
  std::lock_guard lock(read_mutex_);
  MX_ASSIGN_OR_RETURN(auto select, reader_->prepare(R"sql(
SELECT id, worker, node, pid, pid_start, started_at_ms, heartbeat_at_ms, expires_at_ms
FROM ledger_instances ORDER BY started_at_ms, id)sql",
                                                    "list ledger instances"));
  std::vector<LedgerInstance> result;
  while (true) {
    MX_ASSIGN_OR_RETURN(bool more, select.step());
    if (!more) return result;
    result.push_back({select.text(0), select.text(1), select.text(2), select.int64(3),
                      select.int64(4), select.int64(5), select.int64(6), select.int64(7)});
  }
}

Status SqliteStore::insert_key(const ApiKey& key) {
  std::string sql = fmt::format(
      "INSERT INTO api_keys ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
      kKeyColumns);
  std::lock_guard lock(write_mutex_);
  MX_ASSIGN_OR_RETURN(auto insert, writer_->prepare(sql, "insert an API key"));
  bind_key(insert, key);
  Status status = insert.run();
  if (!status.ok() && status.error().code == ErrorCode::kInvalidArgument) {
    return make_error(ErrorCode::kInvalidArgument,
                      "an API key with id '{}' or the same secret already exists ({})", key.id,
                      status.error().message);
  }
  return status;
}

Status SqliteStore::update_key(const ApiKey& key) {
  std::lock_guard lock(write_mutex_);
  MX_ASSIGN_OR_RETURN(auto update, writer_->prepare(R"sql(
UPDATE api_keys SET name = ?2, tenant = ?3, models = ?4, tokens_per_day = ?5,
  tokens_per_minute = ?6, requests_per_minute = ?7, expires_at_ms = ?8, admin = ?9,
  revoked = ?10, created_at_ms = ?11, secret_hash = ?12
WHERE id = ?1)sql",
                                                    "update an API key"));
  bind_key(update, key);
  MX_RETURN_IF_ERROR(update.run());
  if (writer_->changes() == 0) {
    return make_error(ErrorCode::kNotFound, "no API key with id '{}'", key.id);
  }
  return ok_status();
}

Result<std::optional<ApiKey>> SqliteStore::find_key(const std::string& id) {
  return find_key_where("id", id);
}

Result<std::optional<ApiKey>> SqliteStore::find_key_by_hash(const std::string& secret_hash) {
  return find_key_where("secret_hash", secret_hash);
}

Result<std::optional<ApiKey>> SqliteStore::find_key_where(const char* column,
                                                          const std::string& value) {
  std::string sql = fmt::format("SELECT {} FROM api_keys WHERE {} = ?1", kKeyColumns, column);
  std::lock_guard lock(read_mutex_);
  MX_ASSIGN_OR_RETURN(auto select, reader_->prepare(sql, "look up an API key"));
  select.bind(1, value);
  MX_ASSIGN_OR_RETURN(bool found, select.step());
  if (!found) return std::optional<ApiKey>();
  return std::optional<ApiKey>(key_from_row(select));
}

Result<std::vector<ApiKey>> SqliteStore::list_keys() {
  std::string sql = fmt::format("SELECT {} FROM api_keys ORDER BY created_at_ms, id", kKeyColumns);
  std::lock_guard lock(read_mutex_);
  MX_ASSIGN_OR_RETURN(auto select, reader_->prepare(sql, "list API keys"));
  std::vector<ApiKey> keys;
  while (true) {
    MX_ASSIGN_OR_RETURN(bool more, select.step());
    if (!more) return keys;
    keys.push_back(key_from_row(select));
  }
}

}  // namespace mx
