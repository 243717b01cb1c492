#include "service/sqlite_quota.h"

#include <string>
#include <vector>

namespace mx {

Result<QuotaDecision> sqlite_reserve_quota(SqliteConnection& db, const ApiKey& key, int64_t tokens,
                                           int64_t now_ms) {
  if (!has_quota_limits(key)) return QuotaDecision{};
  QuotaDecision decision;
  MX_RETURN_IF_ERROR(in_transaction(db, [&]() -> Status {
    MX_ASSIGN_OR_RETURN(auto prune, db.prepare(R"sql(
DELETE FROM quota_usage WHERE key_id = ?1 AND ((span_ms = ?2 AND bucket_start_ms < ?3)
  OR (span_ms = ?4 AND bucket_start_ms < ?5)))sql",
                                               "drop a key's expired quota buckets"));
    MX_RETURN_IF_ERROR(prune.bind(1, key.id)
                           .bind(2, kQuotaSecondMs)
                           .bind(3, quota_oldest_second(now_ms))
                           .bind(4, kQuotaMinuteMs)
                           .bind(5, quota_oldest_minute(now_ms))
                           .run());
    MX_ASSIGN_OR_RETURN(auto select, db.prepare(R"sql(
SELECT span_ms, bucket_start_ms, requests, tokens FROM quota_usage WHERE key_id = ?1)sql",
                                                "read a key's quota buckets"));
    select.bind(1, key.id);
    std::vector<QuotaBucket> used;
    while (true) {
      MX_ASSIGN_OR_RETURN(bool more, select.step());
      if (!more) break;
      used.push_back({select.int64(0), select.int64(1), select.int64(2), select.int64(3)});
    }
    decision = decide_quota(key, tokens, now_ms, std::move(used));
    if (!decision.allowed) return ok_status();
    for (const QuotaBucket& b : quota_charge(1, std::max<int64_t>(0, tokens), now_ms)) {
      MX_ASSIGN_OR_RETURN(auto add, db.prepare(R"sql(
INSERT INTO quota_usage (key_id, span_ms, bucket_start_ms, requests, tokens)
VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (key_id, span_ms, bucket_start_ms)
DO UPDATE SET requests = requests + excluded.requests, tokens = tokens + excluded.tokens)sql",
                                               "add a reservation to the quota buckets"));
      MX_RETURN_IF_ERROR(add.bind(1, key.id)
                             .bind(2, b.span_ms)
                             .bind(3, b.bucket_start_ms)
                             .bind(4, b.requests)
                             .bind(5, b.tokens)
                             .run());
    }
    return ok_status();
  }));
  return decision;
}

Status sqlite_adjust_quota(SqliteConnection& db, const std::string& key_id, int64_t at_ms,
                           int64_t delta) {
  if (key_id.empty() || delta == 0) return ok_status();
  for (const QuotaBucket& b : quota_charge(0, delta, at_ms)) {
    MX_ASSIGN_OR_RETURN(auto update, db.prepare(R"sql(
UPDATE quota_usage SET tokens = MAX(0, tokens + ?4)
WHERE key_id = ?1 AND span_ms = ?2 AND bucket_start_ms = ?3)sql",
                                                "settle a quota reservation"));
    MX_RETURN_IF_ERROR(
        update.bind(1, key_id).bind(2, b.span_ms).bind(3, b.bucket_start_ms).bind(4, delta).run());
  }
  return ok_status();
}

Status sqlite_settle_recovered(SqliteConnection& db, const char* where, int64_t now_ms,
                               const std::string& instance) {
  struct Reservation {
    std::string key_id;
    int64_t at_ms, delta;
  };
  std::vector<Reservation> settled;
  {
    MX_ASSIGN_OR_RETURN(
        auto select,
        db.prepare(std::string("SELECT key_id, started_at_ms, prompt_tokens + completion_tokens - "
                               "reserved_tokens FROM usage_records WHERE key_id <> '' AND ") +
                       where,
                   "read the reservations of records to recover"));
    select.bind(1, now_ms).bind(2, instance);
    while (true) {
      MX_ASSIGN_OR_RETURN(bool more, select.step());
      if (!more) break;
      settled.push_back({select.text(0), select.int64(1), select.int64(2)});
    }
  }
  for (const Reservation& r : settled) {
    MX_RETURN_IF_ERROR(sqlite_adjust_quota(db, r.key_id, r.at_ms, r.delta));
  }
  return ok_status();
}

Status sqlite_prune_quota(SqliteConnection& db, int64_t now_ms) {
  MX_ASSIGN_OR_RETURN(auto prune, db.prepare(R"sql(
DELETE FROM quota_usage WHERE (span_ms = ?1 AND bucket_start_ms < ?2)
  OR (span_ms = ?3 AND bucket_start_ms < ?4))sql",
                                             "drop expired quota buckets"));
  return prune.bind(1, kQuotaSecondMs)
      .bind(2, quota_oldest_second(now_ms))
      .bind(3, kQuotaMinuteMs)
      .bind(4, quota_oldest_minute(now_ms))
      .run();
}

}  // namespace mx
