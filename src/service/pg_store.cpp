// The PostgreSQL LedgerStore: usage records and API keys in a shared database, for frontends
// on several machines. Three connections: one for writes (batches, keys, recovery), one for
// reads (reports, key lookups on the request path) and one for quota reservations, so a long usage
// report never holds up a ledger batch. Every write is idempotent under retry (ON CONFLICT DO
// NOTHING, GREATEST, WHERE status = 'open'), which is what lets PgConnection::run repeat a batch
// whose COMMIT may or may not have reached the server before the connection dropped.
#include "service/pg_store.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

#include "service/pg_connection.h"
#include "service/pg_quota.h"
#include "service/pg_store_sql.h"

namespace mx {
namespace {

constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kDayMs = 24 * kHourMs;

// The columns of kSelectRecords, in order.
UsageRecord record_from_row(const PgResult& r, int row) {
  UsageRecord record;
  record.request_id = r.text(row, 0);
  record.key_id = r.text(row, 1);
  record.tenant = r.text(row, 2);
  record.model = r.text(row, 3);
  record.tokens = {r.int64(row, 4), r.int64(row, 5), r.int64(row, 6), r.int64(row, 7)};
  record.reserved_tokens = r.int64(row, 8);
  record.status = parse_usage_status(r.text(row, 9)).value_or(UsageStatus::kError);
  record.recovered = r.boolean(row, 10);
  record.ttft_ms = r.real(row, 11);
  record.e2e_ms = r.real(row, 12);
  record.worker = r.text(row, 13);
  record.started_at_ms = r.int64(row, 14);
  record.finished_at_ms = r.int64(row, 15);
  record.instance_id = r.text(row, 16);
  return record;
}

// $1..$16 of kInsertOpen and kUpdateFinal.
PgParams record_params(const UsageRecord& record) {
  PgParams params;
  params.text(record.request_id).text(record.key_id).text(record.tenant).text(record.model);
  params.int64(record.tokens.prompt).int64(record.tokens.cached);
  params.int64(record.tokens.completion).int64(record.tokens.reasoning);
  params.int64(record.reserved_tokens).text(usage_status_name(record.status));
  params.boolean(record.recovered).real(record.ttft_ms).real(record.e2e_ms).text(record.worker);
  params.int64(record.started_at_ms).int64(record.finished_at_ms);
  return params;
}

// $1..$6 of kRecordFilter.
PgParams filter_params(const UsageQuery& query) {
  PgParams params;
  params.int64(query.from_ms).int64(query.to_ms);
  params.text(query.key_id).text(query.tenant).text(query.model).boolean(query.include_open);
  return params;
}

std::string join_models(const std::vector<std::string>& models) {
  std::string joined;
  for (const std::string& model : models) {
    if (!joined.empty()) joined += ',';
    joined += model;
  }
  return joined;
}

std::vector<std::string> split_models(const std::string& joined) {
  std::vector<std::string> models;
  size_t start = 0;
  while (start < joined.size()) {
    size_t comma = std::min(joined.find(',', start), joined.size());
    models.push_back(joined.substr(start, comma - start));
    start = comma + 1;
  }
  return models;
}

// $1..$12 of kInsertKey and kUpdateKey; models are stored comma-separated, so a name with a
// comma could not be read back.
Result<PgParams> key_params(const ApiKey& key) {
  for (const std::string& model : key.models) {
    if (model.find(',') != std::string::npos) {
      return make_error(ErrorCode::kInvalidArgument,
                        "key {}: model name '{}' contains a comma; served-model names cannot",
                        key.id, model);
    }
  }
  PgParams params;
  params.text(key.id).text(key.name).text(key.tenant).text(join_models(key.models));
  params.int64(key.tokens_per_day).int64(key.tokens_per_minute);
  params.int64(key.requests_per_minute).int64(key.expires_at_ms);
  params.boolean(key.admin).boolean(key.revoked).int64(key.created_at_ms).text(key.secret_hash);
  return params;
}

// The columns of the kSelectKey* statements, in order.
ApiKey key_from_row(const PgResult& r, int row) {
  ApiKey key;
  key.id = r.text(row, 0);
  key.name = r.text(row, 1);
  key.tenant = r.text(row, 2);
  key.models = split_models(r.text(row, 3));
  key.tokens_per_day = r.int64(row, 4);
  key.tokens_per_minute = r.int64(row, 5);
  key.requests_per_minute = r.int64(row, 6);
  key.expires_at_ms = r.int64(row, 7);
  key.admin = r.boolean(row, 8);
  key.revoked = r.boolean(row, 9);
  key.created_at_ms = r.int64(row, 10);
  key.secret_hash = r.text(row, 11);
  return key;
}

// A statement whose result is not needed.
Status exec_only(PgConnection& conn, const char* sql, const PgParams& params = {}) {
  MX_RETURN_IF_ERROR(conn.exec(sql, params));
  return ok_status();
}

Status apply(PgConnection& conn, const LedgerOpen& op, LedgerWriteOutcome&) {
  UsageRecord record = op.record;
  record.status = UsageStatus::kOpen;  // an open is a reservation, whatever the caller set
  record.recovered = false;
  record.finished_at_ms = 0;
  PgParams params = record_params(record);
  params.text(record.instance_id);
  return exec_only(conn, pg_sql::kInsertOpen, params);
}

Status apply(PgConnection& conn, const LedgerProgress& op, LedgerWriteOutcome&) {
  PgParams params;
  params.text(op.request_id).int64(op.tokens.prompt).int64(op.tokens.cached);
  params.int64(op.tokens.completion).int64(op.tokens.reasoning).real(op.ttft_ms);
  return exec_only(conn, pg_sql::kUpdateProgress, params);
}

// The quota buckets are settled with the record, in its transaction: the reservation becomes
// what was used; after recovery, the recovered counts become the real ones.
Status apply(PgConnection& conn, const LedgerFinal& op, LedgerWriteOutcome& outcome) {
  const UsageRecord& r = op.record;
  const int64_t used = r.tokens.prompt + r.tokens.completion;
  PgParams params = record_params(r);
  MX_ASSIGN_OR_RETURN(PgResult of_open, conn.exec(pg_sql::kUpdateFinal, params));
  if (of_open.affected_rows() > 0) {
    return pg_adjust_quota(conn, r.key_id, r.started_at_ms, used - r.reserved_tokens);
  }
  MX_ASSIGN_OR_RETURN(PgResult counted,
                      conn.exec(pg_sql::kSelectRecoveredCounts, PgParams().text(r.request_id)));
  if (counted.rows() == 0) {
    outcome.unmatched_finals.push_back(r.request_id);
    return ok_status();
  }
  MX_RETURN_IF_ERROR(conn.exec(pg_sql::kUpdateFinalRecovered, params));
  outcome.late_finals.push_back(r.request_id);
  return pg_adjust_quota(conn, r.key_id, r.started_at_ms, used - counted.int64(0, 0));
}

Status apply(PgConnection& conn, const LedgerHeartbeat& op, LedgerWriteOutcome&) {
  const LedgerInstance& i = op.instance;
  PgParams params;
  params.text(i.id).text(i.worker).text(i.node).int64(i.pid).int64(i.pid_start);
  params.int64(i.started_at_ms).int64(i.heartbeat_at_ms).int64(i.expires_at_ms);
  return exec_only(conn, pg_sql::kHeartbeat, params);
}

// The row that the sums of one (bucket, key, tenant, model) belong to: its grouped-on fields
// set, the others "" / 0.
UsageRow group_row(UsageGroup group, int64_t bucket, const std::string& key_id,
                   const std::string& model) {
  UsageRow row;
  if (group == UsageGroup::kHour || group == UsageGroup::kDay) row.bucket_start_ms = bucket;
  if (group == UsageGroup::kModel) row.model = model;
  if (group == UsageGroup::kKey) row.key_id = key_id;
  return row;
}

int64_t bucket_ms_of(UsageGroup group) {
  if (group == UsageGroup::kHour) return kHourMs;
  if (group == UsageGroup::kDay) return kDayMs;
  return 0;
}

// Rolls the SQL sums up into the query's groups. Cost is computed per model sum (it is linear
// in the counts, so this equals the sum of per-record costs).
std::vector<UsageRow> roll_up(const PgResult& sums, UsageGroup group, const PriceTable& prices) {
  // Ordered: time buckets by time, models and keys by name.
  std::map<std::tuple<int64_t, std::string, std::string>, UsageRow> rows;
  for (int i = 0; i < sums.rows(); ++i) {
    std::string key_id = sums.text(i, 1), model = sums.text(i, 3);
    UsageRow grouped = group_row(group, sums.int64(i, 0), key_id, model);
    auto [it, inserted] = rows.try_emplace({grouped.bucket_start_ms, grouped.key_id, grouped.model},
                                           std::move(grouped));
    UsageRow& row = it->second;
    TokenCounts tokens{sums.int64(i, 5), sums.int64(i, 6), sums.int64(i, 7), sums.int64(i, 8)};
    row.requests += sums.int64(i, 4);
    row.tokens.prompt += tokens.prompt;
    row.tokens.cached += tokens.cached;
    row.tokens.completion += tokens.completion;
    row.tokens.reasoning += tokens.reasoning;
    row.cost += prices.cost(model, tokens);
  }
  std::vector<UsageRow> out;
  for (auto& [group_key, row] : rows) out.push_back(std::move(row));
  // A total is a total even when nothing matched.
  if (group == UsageGroup::kNone && out.empty()) out.emplace_back();
  return out;
}

class PgStore final : public LedgerStore {
 public:
  PgStore(std::string description, std::unique_ptr<PgConnection> writer,
          std::unique_ptr<PgConnection> reader, std::unique_ptr<PgConnection> quota)
      : description_(std::move(description)),
        writer_(std::move(writer)),
        reader_(std::move(reader)),
        quota_(std::move(quota)) {}

  std::string describe() const override { return description_; }
  Result<LedgerWriteOutcome> write_batch(const std::vector<LedgerOp>& ops) override;
  Result<int64_t> recover_open(const std::string& self, const std::vector<std::string>& gone,
                               int64_t now_ms) override;
  Result<std::vector<LedgerInstance>> instances() override;
  Result<std::vector<UsageRow>> usage(const UsageQuery& query, const PriceTable& prices) override;
  Result<std::vector<UsageRecord>> records(const UsageQuery& query) override;
  Result<QuotaDecision> reserve_quota(const ApiKey& key, int64_t tokens, int64_t now_ms) override {
    return quota_->run(
        [&](PgConnection& conn) { return pg_reserve_quota(conn, key, tokens, now_ms); });
  }
  Status release_quota(const std::string& key_id, int64_t tokens, int64_t reserved_at_ms) override {
    return quota_->run(
        [&](PgConnection& conn) { return pg_adjust_quota(conn, key_id, reserved_at_ms, -tokens); });
  }
  Status insert_key(const ApiKey& key) override;
  Status update_key(const ApiKey& key) override;
  Result<std::optional<ApiKey>> find_key(const std::string& id) override;
  Result<std::optional<ApiKey>> find_key_by_hash(const std::string& secret_hash) override;
  Result<std::vector<ApiKey>> list_keys() override;

 private:
  Result<std::optional<ApiKey>> find_one_key(const char* sql, const std::string& value);

  std::string description_;
  std::unique_ptr<PgConnection> writer_;  // write_batch, recover_open, insert/update_key
  std::unique_ptr<PgConnection> reader_;  // everything else
  std::unique_ptr<PgConnection> quota_;   // admission's reservations, never behind a batch
};

Result<LedgerWriteOutcome> write_ops(PgConnection& conn, const std::vector<LedgerOp>& ops) {
  LedgerWriteOutcome outcome;
  MX_RETURN_IF_ERROR(conn.exec("BEGIN"));
  for (const LedgerOp& op : ops) {
    Status status = std::visit([&](const auto& typed) { return apply(conn, typed, outcome); }, op);
    if (!status.ok()) {
      conn.rollback();
      return status.error();
    }
  }
  Status committed = exec_only(conn, "COMMIT");
  if (!committed.ok()) {
    conn.rollback();
    return committed.error();
  }
  return outcome;
}

Result<LedgerWriteOutcome> PgStore::write_batch(const std::vector<LedgerOp>& ops) {
  if (ops.empty()) return LedgerWriteOutcome{};
  return writer_->run([&](PgConnection& conn) { return write_ops(conn, ops); });
}

// One transaction; safe to repeat (only open records change, only dead rows go).
Result<int64_t> recover_in(PgConnection& conn, const std::string& self,
                           const std::vector<std::string>& gone, int64_t now_ms) {
  PgParams now_self = PgParams().int64(now_ms).text(self);
  MX_RETURN_IF_ERROR(pg_settle_recovered(conn, pg_sql::kReservationsExpired, now_ms, self));
  MX_ASSIGN_OR_RETURN(PgResult expired, conn.exec(pg_sql::kRecoverExpired, now_self));
  int64_t recovered = expired.affected_rows();
  MX_RETURN_IF_ERROR(exec_only(conn, pg_sql::kForgetExpired, now_self));
  for (const std::string& id : gone) {
    if (id == self) continue;
    MX_RETURN_IF_ERROR(pg_settle_recovered(conn, pg_sql::kReservationsGone, now_ms, id));
    MX_ASSIGN_OR_RETURN(PgResult settled,
                        conn.exec(pg_sql::kRecoverGone, PgParams().int64(now_ms).text(id)));
    recovered += settled.affected_rows();
    MX_RETURN_IF_ERROR(exec_only(conn, pg_sql::kForgetGone, PgParams().text(id)));
  }
  MX_RETURN_IF_ERROR(pg_prune_quota(conn, now_ms));
  return recovered;
}

Result<int64_t> PgStore::recover_open(const std::string& self, const std::vector<std::string>& gone,
                                      int64_t now_ms) {
  return writer_->run([&](PgConnection& conn) -> Result<int64_t> {
    MX_RETURN_IF_ERROR(conn.exec("BEGIN"));
    Result<int64_t> recovered = recover_in(conn, self, gone, now_ms);
    Status committed = recovered.ok() ? exec_only(conn, "COMMIT") : Status(recovered.error());
    if (!committed.ok()) {
      conn.rollback();
      return committed.error();
    }
    return recovered;
  });
}

Result<std::vector<LedgerInstance>> PgStore::instances() {
  return reader_->run([&](PgConnection& conn) -> Result<std::vector<LedgerInstance>> {
    MX_ASSIGN_OR_RETURN(PgResult rows, conn.exec(pg_sql::kSelectInstances));
    std::vector<LedgerInstance> out;
    for (int i = 0; i < rows.rows(); ++i) {
      out.push_back({rows.text(i, 0), rows.text(i, 1), rows.text(i, 2), rows.int64(i, 3),
                     rows.int64(i, 4), rows.int64(i, 5), rows.int64(i, 6), rows.int64(i, 7)});
    }
    return out;
  });
}

Result<std::vector<UsageRow>> PgStore::usage(const UsageQuery& query, const PriceTable& prices) {
  PgParams params = filter_params(query);
  params.int64(bucket_ms_of(query.group));
  return reader_->run([&](PgConnection& conn) -> Result<std::vector<UsageRow>> {
    MX_ASSIGN_OR_RETURN(PgResult sums, conn.exec(pg_sql::kSelectUsage, params));
    return roll_up(sums, query.group, prices);
  });
}

Result<std::vector<UsageRecord>> PgStore::records(const UsageQuery& query) {
  return reader_->run([&](PgConnection& conn) -> Result<std::vector<UsageRecord>> {
    MX_ASSIGN_OR_RETURN(PgResult rows, conn.exec(pg_sql::kSelectRecords, filter_params(query)));
    std::vector<UsageRecord> records;
    records.reserve(static_cast<size_t>(rows.rows()));
    for (int i = 0; i < rows.rows(); ++i) records.push_back(record_from_row(rows, i));
    return records;
  });
}

// A plain INSERT: if the connection drops after the server committed it, the retry reports the
// id as existing. Key creation is rare and interactive, so that is left to the admin to see.
Status PgStore::insert_key(const ApiKey& key) {
  MX_ASSIGN_OR_RETURN(PgParams params, key_params(key));
  return writer_->run(
      [&](PgConnection& conn) { return exec_only(conn, pg_sql::kInsertKey, params); });
}

Status PgStore::update_key(const ApiKey& key) {
  MX_ASSIGN_OR_RETURN(PgParams params, key_params(key));
  return writer_->run([&](PgConnection& conn) -> Status {
    MX_ASSIGN_OR_RETURN(PgResult result, conn.exec(pg_sql::kUpdateKey, params));
    if (result.affected_rows() == 0) {
      return make_error(ErrorCode::kNotFound, "{}: no key {} to update (see mxserve keys list)",
                        description_, key.id);
    }
    return ok_status();
  });
}

Result<std::optional<ApiKey>> PgStore::find_one_key(const char* sql, const std::string& value) {
  return reader_->run([&](PgConnection& conn) -> Result<std::optional<ApiKey>> {
    MX_ASSIGN_OR_RETURN(PgResult rows, conn.exec(sql, PgParams().text(value)));
    if (rows.rows() == 0) return std::optional<ApiKey>();
    return std::optional<ApiKey>(key_from_row(rows, 0));
  });
}

Result<std::optional<ApiKey>> PgStore::find_key(const std::string& id) {
  return find_one_key(pg_sql::kSelectKeyById, id);
}

Result<std::optional<ApiKey>> PgStore::find_key_by_hash(const std::string& secret_hash) {
  return find_one_key(pg_sql::kSelectKeyByHash, secret_hash);
}

Result<std::vector<ApiKey>> PgStore::list_keys() {
  return reader_->run([&](PgConnection& conn) -> Result<std::vector<ApiKey>> {
    MX_ASSIGN_OR_RETURN(PgResult rows, conn.exec(pg_sql::kSelectKeys));
    std::vector<ApiKey> keys;
    for (int i = 0; i < rows.rows(); ++i) keys.push_back(key_from_row(rows, i));
    return keys;
  });
}

Status create_schema(PgConnection& conn, const std::string& description) {
  return conn.run([&](PgConnection& c) -> Status {
    Status created = exec_only(c, pg_sql::kCreateSchema);
    if (!created.ok()) {
      c.rollback();
      return created;
    }
    MX_ASSIGN_OR_RETURN(PgResult version, c.exec(pg_sql::kSelectSchemaVersion));
    if (version.int64(0, 0) > pg_sql::kSchemaVersion) {
      return make_error(ErrorCode::kUnsupported,
                        "{}: the ledger's schema is version {}, newer than this mxserve knows "
                        "({}); upgrade mxserve",
                        description, version.int64(0, 0), pg_sql::kSchemaVersion);
    }
    return ok_status();
  });
}

}  // namespace

Result<std::unique_ptr<LedgerStore>> open_postgres_store(const std::string& url) {
  std::string description = redact_connection_url(url);
  MX_ASSIGN_OR_RETURN(auto writer, PgConnection::connect(url, description));
  MX_RETURN_IF_ERROR(create_schema(*writer, description));
  MX_ASSIGN_OR_RETURN(auto reader, PgConnection::connect(url, description));
  MX_ASSIGN_OR_RETURN(auto quota, PgConnection::connect(url, description));
  return std::unique_ptr<LedgerStore>(
      new PgStore(description, std::move(writer), std::move(reader), std::move(quota)));
}

}  // namespace mx
