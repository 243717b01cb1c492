// The PostgreSQL store's quota buckets (table quota_usage; see quota.h and LedgerStore::
// reserve_quota). Internal to src/service: PgStore calls these on its connections.
#pragma once

#include <string>

#include "service/pg_connection.h"
#include "service/quota.h"

namespace mx {

// One transaction under the key's advisory lock (every frontend's reservations for one key
// take turns; other keys do not wait): drops the key's buckets that left the windows,
// decides, adds the charge. Repeated after a lost connection whose COMMIT had landed, it
// reserves twice: that errs on the side of refusing, for at most a window.
Result<QuotaDecision> pg_reserve_quota(PgConnection& conn, const ApiKey& key, int64_t tokens,
                                       int64_t now_ms);
// Adds delta tokens to the buckets of a reservation made at at_ms (never below zero; nothing
// when they are gone). Inside the caller's transaction.
Status pg_adjust_quota(PgConnection& conn, const std::string& key_id, int64_t at_ms, int64_t delta);
// Settles the reservations of the open records that `select` ($1 now_ms, $2 an instance id)
// picks, before recovery closes them: each bucket gets the record's counts so far minus its
// reservation. Inside the caller's transaction.
Status pg_settle_recovered(PgConnection& conn, const char* select, int64_t now_ms,
                           const std::string& instance);
// Drops every key's buckets that left the windows at now_ms.
Status pg_prune_quota(PgConnection& conn, int64_t now_ms);

namespace pg_sql {
// $1 now_ms, $2 this instance: the reservations of records kRecoverExpired will settle.
constexpr const char* kReservationsExpired = R"sql(
SELECT key_id, started_at_ms, prompt_tokens + completion_tokens - reserved_tokens
FROM usage_records WHERE key_id <> '' AND status = 'open' AND instance_id <> $2::text
  AND instance_id NOT IN (SELECT id FROM ledger_instances WHERE expires_at_ms >= $1::bigint))sql";
// $1 now_ms (unused), $2 a gone instance: those kRecoverGone will settle.
constexpr const char* kReservationsGone = R"sql(
SELECT key_id, started_at_ms, prompt_tokens + completion_tokens - reserved_tokens
FROM usage_records WHERE key_id <> '' AND status = 'open' AND instance_id = $2::text
  AND $1::bigint IS NOT NULL)sql";
}  // namespace pg_sql

}  // namespace mx
