#include "service/pg_quota.h"

#include <algorithm>
#include <vector>

namespace mx {
namespace {

// $1 key; the lock is released at COMMIT / ROLLBACK.
constexpr const char* kLockKey = "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))";
// $1 key, $2 oldest second bucket, $3 oldest minute bucket.
constexpr const char* kPruneKey = R"sql(
DELETE FROM quota_usage WHERE key_id = $1::text AND ((span_ms = 1000 AND
  bucket_start_ms < $2::bigint) OR (span_ms = 60000 AND bucket_start_ms < $3::bigint)))sql";
constexpr const char* kSelectBuckets =
    "SELECT span_ms, bucket_start_ms, requests, tokens FROM quota_usage WHERE key_id = $1::text";
// $1 key, $2 span, $3 bucket start, $4 requests, $5 tokens.
constexpr const char* kCharge = R"sql(
INSERT INTO quota_usage (key_id, span_ms, bucket_start_ms, requests, tokens)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key_id, span_ms, bucket_start_ms)
DO UPDATE SET requests = quota_usage.requests + excluded.requests,
  tokens = quota_usage.tokens + excluded.tokens)sql";
// $1 key, $2 span, $3 bucket start, $4 delta.
constexpr const char* kAdjust = R"sql(
UPDATE quota_usage SET tokens = GREATEST(0, tokens + $4::bigint)
WHERE key_id = $1::text AND span_ms = $2::bigint AND bucket_start_ms = $3::bigint)sql";
// $1 oldest second bucket, $2 oldest minute bucket.
constexpr const char* kPruneAll = R"sql(
DELETE FROM quota_usage WHERE (span_ms = 1000 AND bucket_start_ms < $1::bigint)
  OR (span_ms = 60000 AND bucket_start_ms < $2::bigint))sql";
static_assert(kQuotaSecondMs == 1000 && kQuotaMinuteMs == 60000, "the SQL spells these out");

Status exec_status(PgConnection& conn, const char* sql, const PgParams& params) {
  MX_RETURN_IF_ERROR(conn.exec(sql, params));
  return ok_status();
}

Result<QuotaDecision> reserve_in(PgConnection& conn, const ApiKey& key, int64_t tokens,
                                 int64_t now_ms) {
  MX_RETURN_IF_ERROR(exec_status(conn, kLockKey, PgParams().text(key.id)));
  MX_RETURN_IF_ERROR(exec_status(conn, kPruneKey,
                                 PgParams()
                                     .text(key.id)
                                     .int64(quota_oldest_second(now_ms))
                                     .int64(quota_oldest_minute(now_ms))));
  MX_ASSIGN_OR_RETURN(PgResult rows, conn.exec(kSelectBuckets, PgParams().text(key.id)));
  std::vector<QuotaBucket> used;
  for (int i = 0; i < rows.rows(); ++i) {
    used.push_back({rows.int64(i, 0), rows.int64(i, 1), rows.int64(i, 2), rows.int64(i, 3)});
  }
  QuotaDecision decision = decide_quota(key, tokens, now_ms, std::move(used));
  if (!decision.allowed) return decision;
  for (const QuotaBucket& b : quota_charge(1, std::max<int64_t>(0, tokens), now_ms)) {
    MX_RETURN_IF_ERROR(exec_status(conn, kCharge,
                                   PgParams()
                                       .text(key.id)
                                       .int64(b.span_ms)
                                       .int64(b.bucket_start_ms)
                                       .int64(b.requests)
                                       .int64(b.tokens)));
  }
  return decision;
}

}  // namespace

Result<QuotaDecision> pg_reserve_quota(PgConnection& conn, const ApiKey& key, int64_t tokens,
                                       int64_t now_ms) {
  if (!has_quota_limits(key)) return QuotaDecision{};
  MX_RETURN_IF_ERROR(conn.exec("BEGIN"));
  Result<QuotaDecision> decision = reserve_in(conn, key, tokens, now_ms);
  Status committed = decision.ok() ? exec_status(conn, "COMMIT", {}) : Status(decision.error());
  if (!committed.ok()) {
    conn.rollback();
    return committed.error();
  }
  return decision;
}

Status pg_adjust_quota(PgConnection& conn, const std::string& key_id, int64_t at_ms,
                       int64_t delta) {
  if (key_id.empty() || delta == 0) return ok_status();
  for (const QuotaBucket& b : quota_charge(0, delta, at_ms)) {
    MX_RETURN_IF_ERROR(exec_status(
        conn, kAdjust,
        PgParams().text(key_id).int64(b.span_ms).int64(b.bucket_start_ms).int64(delta)));
  }
  return ok_status();
}

Status pg_settle_recovered(PgConnection& conn, const char* select, int64_t now_ms,
                           const std::string& instance) {
  MX_ASSIGN_OR_RETURN(PgResult rows, conn.exec(select, PgParams().int64(now_ms).text(instance)));
  for (int i = 0; i < rows.rows(); ++i) {
    MX_RETURN_IF_ERROR(pg_adjust_quota(conn, rows.text(i, 0), rows.int64(i, 1), rows.int64(i, 2)));
  }
  return ok_status();
}

Status pg_prune_quota(PgConnection& conn, int64_t now_ms) {
  return exec_status(
      conn, kPruneAll,
      PgParams().int64(quota_oldest_second(now_ms)).int64(quota_oldest_minute(now_ms)));
}

}  // namespace mx
