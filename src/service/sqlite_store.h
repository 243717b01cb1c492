// The SQLite LedgerStore: one file, <dir>/ledger.sqlite3 (mode 0600), in WAL mode with
// synchronous=NORMAL, so a committed batch survives the process being killed (not a power cut:
// that needs FULL, a sync per commit). Several processes may share the file: writes take the
// lock with BEGIN IMMEDIATE and wait for another process's (busy timeout). One write connection and
// one read connection (and one for quota reservations), each behind its own mutex: WAL lets usage
// reports read a consistent snapshot while the ledger writer commits.
//
// Internal to src/service: callers use open_ledger_store(dir), which picks this backend.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "service/ledger_store.h"
#include "service/sqlite_db.h"

namespace mx {

// Creates the directory if missing, then the file and its schema (or upgrades it).
Result<std::unique_ptr<LedgerStore>> open_sqlite_store(const std::string& dir);

class SqliteStore final : public LedgerStore {
 public:
  SqliteStore(std::unique_ptr<SqliteConnection> writer, std::unique_ptr<SqliteConnection> reader,
              std::unique_ptr<SqliteConnection> quota)
      : writer_(std::move(writer)), reader_(std::move(reader)), quota_(std::move(quota)) {}

  std::string describe() const override { return "sqlite:" + writer_->path(); }

  Result<LedgerWriteOutcome> write_batch(const std::vector<LedgerOp>& ops) override;
  Result<int64_t> recover_open(const std::string& self, const std::vector<std::string>& gone,
                               int64_t now_ms) override;
  Result<std::vector<LedgerInstance>> instances() override;

  Result<std::vector<UsageRow>> usage(const UsageQuery& query, const PriceTable& prices) override;
  Result<std::vector<UsageRecord>> records(const UsageQuery& query) override;
  Result<QuotaDecision> reserve_quota(const ApiKey& key, int64_t tokens, int64_t now_ms) override;
  Status release_quota(const std::string& key_id, int64_t tokens, int64_t reserved_at_ms) override;

  Status insert_key(const ApiKey& key) override;
  Status update_key(const ApiKey& key) override;
  Result<std::optional<ApiKey>> find_key(const std::string& id) override;
  Result<std::optional<ApiKey>> find_key_by_hash(const std::string& secret_hash) override;
  Result<std::vector<ApiKey>> list_keys() override;

 private:
  Status apply(const LedgerOpen& op, LedgerWriteOutcome& outcome);
  Status apply(const LedgerProgress& op, LedgerWriteOutcome& outcome);
  Status apply(const LedgerFinal& op, LedgerWriteOutcome& outcome);
  Status apply(const LedgerHeartbeat& op, LedgerWriteOutcome& outcome);
  Result<std::optional<ApiKey>> find_key_where(const char* column, const std::string& value);

  std::mutex write_mutex_;  // guards writer_ and its statements
  std::unique_ptr<SqliteConnection> writer_;
  std::mutex read_mutex_;  // guards reader_ and its statements
  std::unique_ptr<SqliteConnection> reader_;
  // Admission's quota reservations: a connection of their own, so a reservation never waits
  // behind this process's ledger batch on writer_ (only on SQLite's file lock).
  std::mutex quota_mutex_;
  std::unique_ptr<SqliteConnection> quota_;
};

}  // namespace mx
