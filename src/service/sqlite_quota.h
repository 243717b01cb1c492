// The SQLite store's quota buckets (table quota_usage; see quota.h and LedgerStore::
// reserve_quota). Internal to src/service: SqliteStore calls these on its connections.
#pragma once

#include <string>

#include "service/quota.h"
#include "service/sqlite_db.h"

namespace mx {

// One transaction (BEGIN IMMEDIATE: the file's write lock serializes every process's
// reservations): drops the key's buckets that left the windows, decides, adds the charge.
Result<QuotaDecision> sqlite_reserve_quota(SqliteConnection& db, const ApiKey& key, int64_t tokens,
                                           int64_t now_ms);
// Adds delta tokens to the buckets of a reservation made at at_ms (never below zero; nothing
// when they are gone). Inside the caller's transaction.
Status sqlite_adjust_quota(SqliteConnection& db, const std::string& key_id, int64_t at_ms,
                           int64_t delta);
// Settles the reservations of open records matching `where` (a condition on usage_records
// with ?1 = now_ms and ?2 = an instance id) before recovery closes them: each bucket gets
// the record's counts so far minus its reservation. Inside the caller's transaction.
Status sqlite_settle_recovered(SqliteConnection& db, const char* where, int64_t now_ms,
                               const std::string& instance);
// Drops every key's buckets that left the windows at now_ms.
Status sqlite_prune_quota(SqliteConnection& db, int64_t now_ms);

}  // namespace mx
