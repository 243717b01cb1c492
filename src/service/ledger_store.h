// LedgerStore: where keys and usage records live — SQLite (a file under --data-dir, WAL) or
// PostgreSQL (--ledger postgresql://...). The schema is created or upgraded by open_ledger_store.
// All methods are thread-safe: writes (write_batch and the key methods) and reads may come from
// different threads; each backend serializes what its connection(s) need.
//
// Several processes may share one store (two `mxserve serve` on one --data-dir, or a cluster's
// frontends on one PostgreSQL). Each process's Ledger is an *instance*: a random id written
// into every record it opens and a row in the instances table whose lease it renews with
// heartbeats. Recovery settles only the open records of instances that are gone (lease expired,
// or a process on this machine that no longer exists), never those of a live one.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/status.h"
#include "service/api_key.h"
#include "service/quota.h"
#include "service/usage.h"

namespace mx {

// Inserts a record with status kOpen (the reservation made at admission).
struct LedgerOpen {
  UsageRecord record;
};
// The counts of an open record so far (only raises them; ignored once the record is final).
struct LedgerProgress {
  std::string request_id;
  TokenCounts tokens;
  double ttft_ms = 0.0;
};
// Makes a record final: status, counts, times. Applied only while the record is open, so a
// second final for the same id changes nothing (exactly once).
struct LedgerFinal {
  UsageRecord record;
};
// One process's Ledger in the store (see ledger_instance.h for how it is made and judged).
struct LedgerInstance {
  std::string id;      // random, new at every process start; UsageRecord::instance_id
  std::string worker;  // hostname:port once the server is bound, hostname before
  std::string node;    // boot id + pid namespace: pids are comparable between equal nodes
  int64_t pid = 0;
  int64_t pid_start = 0;  // the process's start time (clock ticks after boot): pid reuse
  int64_t started_at_ms = 0;
  int64_t heartbeat_at_ms = 0;
  int64_t expires_at_ms = 0;  // the lease: alive until then without a further heartbeat
};
// Inserts or renews an instance's row. Part of a batch, so that a batch's opens are never
// committed under an instance whose row is missing or expired.
struct LedgerHeartbeat {
  LedgerInstance instance;
};
using LedgerOp = std::variant<LedgerOpen, LedgerProgress, LedgerFinal, LedgerHeartbeat>;

// What a committed batch did besides the obvious, for the Ledger's logs and counters.
struct LedgerWriteOutcome {
  // Finals that replaced a record which recovery had settled (recovered = true) because its
  // instance was taken for dead: the real counts win over the recovered estimate.
  std::vector<std::string> late_finals;
  // Finals that found no record to change (already final; or a retried batch).
  std::vector<std::string> unmatched_finals;
};

class LedgerStore {
 public:
  virtual ~LedgerStore() = default;
  // "sqlite:/path" or "postgresql://host/db" (no password)
  virtual std::string describe() const = 0;

  // All ops in one transaction, in order. On error nothing of the batch is applied.
  // A final applies to an open record, or to one recovery settled (recovered = true): then it
  // replaces the recovered estimate (LedgerWriteOutcome::late_finals). Progress likewise.
  virtual Result<LedgerWriteOutcome> write_batch(const std::vector<LedgerOp>& ops) = 0;
  // Settles the open records of instances that are gone: status kAborted, recovered = true,
  // counts as last written, finished_at_ms = now_ms. Gone: listed in `gone` (a process of
  // this machine that no longer exists), or no row with expires_at_ms >= now_ms (lease
  // expired; records without an instance, written before instance ids existed; a row removed).
  // Never touches the records of instance `self`. Removes the rows of the instances it
  // judged gone. Returns how many records it settled.
  virtual Result<int64_t> recover_open(const std::string& self,
                                       const std::vector<std::string>& gone, int64_t now_ms) = 0;
  // Every instance row (diagnostics, and the Ledger's check of this machine's processes).
  virtual Result<std::vector<LedgerInstance>> instances() = 0;

  virtual Result<std::vector<UsageRow>> usage(const UsageQuery& query,
                                              const PriceTable& prices) = 0;
  // Records matching the query (group ignored), oldest first (CSV export, tests).
  virtual Result<std::vector<UsageRecord>> records(const UsageQuery& query) = 0;
  // Quotas, shared by every process on the store (see quota.h). Reserves `tokens` and one
  // request for `key` at now_ms when its limits have room — atomically with every other
  // process's reservations for the key — else returns the refusal. A key without limits is
  // always allowed and touches nothing. The reservation is settled by the request's final
  // record (write_batch: the bucket gets used - reserved_tokens), or by recovery when its
  // process is gone (counts as last written), or by release_quota.
  virtual Result<QuotaDecision> reserve_quota(const ApiKey& key, int64_t tokens,
                                              int64_t now_ms) = 0;
  // Gives back the tokens of a reservation that never became a record (the request was
  // refused after reserving); its request still counts, as a refused attempt.
  virtual Status release_quota(const std::string& key_id, int64_t tokens,
                               int64_t reserved_at_ms) = 0;

  virtual Status insert_key(const ApiKey& key) = 0;  // error if the id exists
  virtual Status update_key(const ApiKey& key) = 0;  // by id; error if missing
  virtual Result<std::optional<ApiKey>> find_key(const std::string& id) = 0;
  virtual Result<std::optional<ApiKey>> find_key_by_hash(const std::string& secret_hash) = 0;
  virtual Result<std::vector<ApiKey>> list_keys() = 0;  // by created_at
};

// "postgresql://..." or "postgres://..." → PostgreSQL; anything else is a directory that gets
// (or has) ledger.sqlite3. Errors say what to fix (unreachable server, unwritable directory).
Result<std::unique_ptr<LedgerStore>> open_ledger_store(const std::string& location);

}  // namespace mx
