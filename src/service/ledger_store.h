// LedgerStore: where keys and usage records live — SQLite (a file under --data-dir, WAL) or
// PostgreSQL (--ledger postgresql://...). The schema is created or upgraded by open_ledger_store.
// All methods are thread-safe: writes (write_batch and the key methods) and reads may come from
// different threads; each backend serializes what its connection(s) need.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/status.h"
#include "service/api_key.h"
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
using LedgerOp = std::variant<LedgerOpen, LedgerProgress, LedgerFinal>;

struct KeyTokens {
  std::string key_id;
  int64_t minute_start_ms = 0;  // the UTC minute the records started in
  int64_t tokens = 0;           // prompt + completion
};

class LedgerStore {
 public:
  virtual ~LedgerStore() = default;
  virtual std::string describe() const = 0;  // "sqlite:/path" or "postgresql://host/db" (no password)

  // All ops in one transaction, in order. On error nothing of the batch is applied.
  virtual Status write_batch(const std::vector<LedgerOp>& ops) = 0;
  // Settles every open record left by a process that died: status kAborted, recovered = true,
  // counts as last written, finished_at_ms = now_ms. Returns how many.
  virtual Result<int64_t> recover_open(int64_t now_ms) = 0;

  virtual Result<std::vector<UsageRow>> usage(const UsageQuery& query,
                                              const PriceTable& prices) = 0;
  // Records matching the query (group ignored), oldest first (CSV export, tests).
  virtual Result<std::vector<UsageRecord>> records(const UsageQuery& query) = 0;
  // Per key and minute: prompt + completion tokens of records started at or after since_ms
  // (open included): the quota windows at start.
  virtual Result<std::vector<KeyTokens>> tokens_since(int64_t since_ms) = 0;

  virtual Status insert_key(const ApiKey& key) = 0;      // error if the id exists
  virtual Status update_key(const ApiKey& key) = 0;      // by id; error if missing
  virtual Result<std::optional<ApiKey>> find_key(const std::string& id) = 0;
  virtual Result<std::optional<ApiKey>> find_key_by_hash(const std::string& secret_hash) = 0;
  virtual Result<std::vector<ApiKey>> list_keys() = 0;   // by created_at
};

// "postgresql://..." or "postgres://..." → PostgreSQL; anything else is a directory that gets
// (or has) ledger.sqlite3. Errors say what to fix (unreachable server, unwritable directory).
Result<std::unique_ptr<LedgerStore>> open_ledger_store(const std::string& location);

}  // namespace mx
