// Ledger: the metering ledger's write path, off the request's hot path. Request handlers and
// the engine thread hand it records (open at admission, progress while generating, final at
// the end); one writer thread commits them in batches (one transaction every flush_interval or
// when max_batch ops are queued) and then runs each op's `then` callback, so a caller can hold
// back what must not happen before the record is durable (a streamed token is sent only after
// the progress that bills it is committed: a crash never loses a delivered token's record).
//
// Bounded: at most max_open records may be open at once; open() refuses more (the caller
// answers 503), which bounds the queue since progress ops coalesce per record (latest counts
// win; their callbacks all run after the commit). If the store fails (disk full, server gone)
// the writer keeps the ops, logs, and retries with backoff; nothing is dropped.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "core/status.h"
#include "service/ledger_store.h"

namespace mx {

struct LedgerOptions {
  int64_t max_open = 4096;
  std::chrono::milliseconds flush_interval{5};
  int64_t max_batch = 512;
};

class Ledger {
 public:
  // Settles what a previous process left open (LedgerStore::recover_open), then starts the
  // writer thread.
  static Result<std::unique_ptr<Ledger>> start(std::unique_ptr<LedgerStore> store,
                                               LedgerOptions options = {});
  ~Ledger();  // commits everything queued, then stops

  // Admission: queues the open record; false (nothing queued) when max_open are open.
  bool open(const UsageRecord& record);
  // Progress of an open record; then() runs on the writer thread after it is committed.
  void progress(const std::string& request_id, const TokenCounts& tokens, double ttft_ms,
                std::function<void()> then = {});
  // The final record; only the first call per request id counts (later ones run then() and
  // change nothing). then() runs after the commit.
  void finalize(const UsageRecord& record, std::function<void()> then = {});
  // Blocks until everything queued before the call is committed.
  Status flush();

  int64_t open_records() const;
  int64_t recovered_at_start() const;
  LedgerStore& store();  // reads (usage reports, keys)

 private:
  struct Impl;
  explicit Ledger(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mx
