// The SQL of the PostgreSQL ledger store (pg_store.cpp). Every value is a $n parameter; the
// texts here are constants. Parameters whose type PostgreSQL cannot infer are cast.
#pragma once

namespace mx::pg_sql {

constexpr int kSchemaVersion = 3;

// Runs in one transaction under an advisory lock, so two processes starting at once against an
// empty database do not race on CREATE ... IF NOT EXISTS (which is not atomic in PostgreSQL:
// the loser fails on a duplicate pg_type row). The lock number is arbitrary but fixed.
constexpr const char* kCreateSchema = R"sql(
BEGIN;
SELECT pg_advisory_xact_lock(7093184452771001);
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS usage_records (
  request_id TEXT PRIMARY KEY,
  key_id TEXT, tenant TEXT, model TEXT,
  prompt_tokens BIGINT, cached_tokens BIGINT, completion_tokens BIGINT, reasoning_tokens BIGINT,
  reserved_tokens BIGINT,
  status TEXT, recovered BOOLEAN,
  ttft_ms DOUBLE PRECISION, e2e_ms DOUBLE PRECISION,
  worker TEXT,
  started_at_ms BIGINT, finished_at_ms BIGINT);
CREATE INDEX IF NOT EXISTS usage_records_key_started ON usage_records (key_id, started_at_ms);
CREATE INDEX IF NOT EXISTS usage_records_started ON usage_records (started_at_ms);
CREATE INDEX IF NOT EXISTS usage_records_status ON usage_records (status);
CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY,
  name TEXT, tenant TEXT,
  models TEXT,
  tokens_per_day BIGINT, tokens_per_minute BIGINT, requests_per_minute BIGINT,
  expires_at_ms BIGINT,
  admin BOOLEAN, revoked BOOLEAN,
  created_at_ms BIGINT,
  secret_hash TEXT UNIQUE);
INSERT INTO schema_version (version) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM schema_version);
CREATE TABLE IF NOT EXISTS ledger_instances (
  id TEXT PRIMARY KEY,
  worker TEXT, node TEXT, pid BIGINT, pid_start BIGINT,
  started_at_ms BIGINT, heartbeat_at_ms BIGINT, expires_at_ms BIGINT);
-- 1 -> 2: the instance that opened a record ('' for records from before). Only when needed:
-- ALTER TABLE locks the table against every other frontend's writes while it runs.
DO $upgrade$ BEGIN
  IF (SELECT max(version) FROM schema_version) < 2 THEN
    ALTER TABLE usage_records ADD COLUMN IF NOT EXISTS instance_id TEXT NOT NULL DEFAULT '';
    CREATE INDEX IF NOT EXISTS usage_records_open_by_instance ON usage_records (instance_id)
      WHERE status = 'open';
    UPDATE schema_version SET version = 2;
  END IF;
  -- 2 -> 3: quota buckets shared by the frontends (quota.h), filled from the last 24 h of
  -- records so an upgrade resets no window (an open record counts its reservation).
  IF (SELECT max(version) FROM schema_version) < 3 THEN
    CREATE TABLE IF NOT EXISTS quota_usage (
      key_id TEXT NOT NULL, span_ms BIGINT NOT NULL, bucket_start_ms BIGINT NOT NULL,
      requests BIGINT NOT NULL, tokens BIGINT NOT NULL,
      PRIMARY KEY (key_id, span_ms, bucket_start_ms));
    INSERT INTO quota_usage (key_id, span_ms, bucket_start_ms, requests, tokens)
    SELECT key_id, s.span, started_at_ms - started_at_ms % s.span,
      CASE WHEN s.span = 1000 THEN count(*) ELSE 0 END,
      sum(CASE WHEN status = 'open' THEN reserved_tokens
          ELSE prompt_tokens + completion_tokens END)
    FROM usage_records, (VALUES (1000::bigint, 60000::bigint), (60000, 86400000)) AS s(span, window_ms)
    WHERE key_id <> '' AND started_at_ms >= (extract(epoch FROM now()) * 1000)::bigint - s.window_ms
    GROUP BY key_id, s.span, 3;
    UPDATE schema_version SET version = 3;
  END IF;
END $upgrade$;
COMMIT;
)sql";

constexpr const char* kSelectSchemaVersion = "SELECT max(version) FROM schema_version";

// $1..$16: the record's columns in table order (record_params), $17 its instance.
constexpr const char* kInsertOpen = R"sql(
INSERT INTO usage_records (request_id, key_id, tenant, model, prompt_tokens, cached_tokens,
  completion_tokens, reasoning_tokens, reserved_tokens, status, recovered, ttft_ms, e2e_ms,
  worker, started_at_ms, finished_at_ms, instance_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
ON CONFLICT (request_id) DO NOTHING)sql";

// Counts only rise (a late progress never lowers what an earlier one billed); a ttft of 0
// means "no token yet" and keeps the one recorded. A record recovery settled while its process
// was alive (recovered) still takes its owner's progress.
constexpr const char* kUpdateProgress = R"sql(
UPDATE usage_records SET
  prompt_tokens = GREATEST(prompt_tokens, $2::bigint),
  cached_tokens = GREATEST(cached_tokens, $3::bigint),
  completion_tokens = GREATEST(completion_tokens, $4::bigint),
  reasoning_tokens = GREATEST(reasoning_tokens, $5::bigint),
  ttft_ms = CASE WHEN $6::double precision > 0 THEN $6::double precision ELSE ttft_ms END
WHERE request_id = $1 AND (status = 'open' OR recovered))sql";

// $1..$16 of kInsertOpen. Applies to the open record; if none, kUpdateFinalRecovered to one
// that recovery settled (the real counts replace the estimate). A final has recovered =
// false, so nothing applies after it: exactly once.
#define MX_PG_UPDATE_FINAL                                                                    \
  "UPDATE usage_records SET key_id = $2, tenant = $3, model = $4, prompt_tokens = $5,"        \
  " cached_tokens = $6, completion_tokens = $7, reasoning_tokens = $8, reserved_tokens = $9," \
  " status = $10, recovered = $11, ttft_ms = $12, e2e_ms = $13, worker = $14,"                \
  " started_at_ms = $15, finished_at_ms = $16 WHERE request_id = $1"
constexpr const char* kUpdateFinal = MX_PG_UPDATE_FINAL " AND status = 'open'";
constexpr const char* kUpdateFinalRecovered = MX_PG_UPDATE_FINAL " AND recovered";
#undef MX_PG_UPDATE_FINAL
// $1 request id: the counts recovery settled a record's quota at.
constexpr const char* kSelectRecoveredCounts =
    "SELECT prompt_tokens + completion_tokens FROM usage_records WHERE request_id = $1 AND "
    "recovered";

// $1..$8: id, worker, node, pid, pid_start, started_at_ms, heartbeat_at_ms, expires_at_ms.
constexpr const char* kHeartbeat = R"sql(
INSERT INTO ledger_instances (id, worker, node, pid, pid_start, started_at_ms, heartbeat_at_ms,
  expires_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (id) DO UPDATE SET worker = excluded.worker,
  heartbeat_at_ms = excluded.heartbeat_at_ms, expires_at_ms = excluded.expires_at_ms)sql";

constexpr const char* kSelectInstances = R"sql(
SELECT id, worker, node, pid, pid_start, started_at_ms, heartbeat_at_ms, expires_at_ms
FROM ledger_instances ORDER BY started_at_ms, id)sql";

// $1 now_ms, $2 this instance: open records of instances without a live lease ('' included).
constexpr const char* kRecoverExpired = R"sql(
UPDATE usage_records SET status = 'aborted', recovered = true, finished_at_ms = $1::bigint
WHERE status = 'open' AND instance_id <> $2::text AND instance_id NOT IN
  (SELECT id FROM ledger_instances WHERE expires_at_ms >= $1::bigint))sql";
constexpr const char* kForgetExpired =
    "DELETE FROM ledger_instances WHERE id <> $2::text AND expires_at_ms < $1::bigint";
// $1 now_ms, $2 a gone instance.
constexpr const char* kRecoverGone = R"sql(
UPDATE usage_records SET status = 'aborted', recovered = true, finished_at_ms = $1::bigint
WHERE status = 'open' AND instance_id = $2::text)sql";
constexpr const char* kForgetGone = "DELETE FROM ledger_instances WHERE id = $1";

// $1 from_ms, $2 to_ms, $3 key_id, $4 tenant, $5 model ('' = any), $6 include_open.
#define MX_PG_RECORD_FILTER                                           \
  " WHERE started_at_ms >= $1::bigint AND started_at_ms < $2::bigint" \
  " AND ($3::text = '' OR key_id = $3::text)"                         \
  " AND ($4::text = '' OR tenant = $4::text)"                         \
  " AND ($5::text = '' OR model = $5::text)"                          \
  " AND ($6::boolean OR status <> 'open')"

constexpr const char* kSelectRecords =
    "SELECT request_id, key_id, tenant, model, prompt_tokens, cached_tokens, completion_tokens,"
    " reasoning_tokens, reserved_tokens, status, recovered, ttft_ms, e2e_ms, worker,"
    " started_at_ms, finished_at_ms, instance_id FROM usage_records" MX_PG_RECORD_FILTER
    " ORDER BY started_at_ms, request_id";

// Sums per (bucket, key, tenant, model); $7 = bucket width in ms, 0 for no time buckets.
// The bucket is floored (not truncated toward zero) so it is right for any sign.
constexpr const char* kSelectUsage =
    "SELECT CASE WHEN $7::bigint > 0 THEN"
    " started_at_ms - ((started_at_ms % $7::bigint) + $7::bigint) % $7::bigint ELSE 0 END,"
    " key_id, tenant, model, count(*), sum(prompt_tokens), sum(cached_tokens),"
    " sum(completion_tokens), sum(reasoning_tokens) FROM usage_records" MX_PG_RECORD_FILTER
    " GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4";

#undef MX_PG_RECORD_FILTER

// $1..$12: the key's columns in table order (key_params). An empty secret hash is stored as
// NULL, so keys without a secret do not collide on the UNIQUE constraint.
constexpr const char* kInsertKey = R"sql(
INSERT INTO api_keys (id, name, tenant, models, tokens_per_day, tokens_per_minute,
  requests_per_minute, expires_at_ms, admin, revoked, created_at_ms, secret_hash)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULLIF($12::text, '')))sql";

constexpr const char* kUpdateKey = R"sql(
UPDATE api_keys SET name = $2, tenant = $3, models = $4, tokens_per_day = $5,
  tokens_per_minute = $6, requests_per_minute = $7, expires_at_ms = $8, admin = $9,
  revoked = $10, created_at_ms = $11, secret_hash = NULLIF($12::text, '')
WHERE id = $1)sql";

#define MX_PG_SELECT_KEYS                                                           \
  "SELECT id, name, tenant, models, tokens_per_day, tokens_per_minute,"             \
  " requests_per_minute, expires_at_ms, admin, revoked, created_at_ms, secret_hash" \
  " FROM api_keys"
constexpr const char* kSelectKeyById = MX_PG_SELECT_KEYS " WHERE id = $1";
constexpr const char* kSelectKeyByHash = MX_PG_SELECT_KEYS " WHERE secret_hash = $1";
constexpr const char* kSelectKeys = MX_PG_SELECT_KEYS " ORDER BY created_at_ms, id";
#undef MX_PG_SELECT_KEYS

}  // namespace mx::pg_sql
