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
//
// Shared stores: the Ledger is one instance of the store (LedgerInstance: a random id written
// into each record it opens). Its writer renews the instance's lease every heartbeat_interval
// (in the batch itself, so opens never commit under a lapsed lease) and, at start and every
// recovery_interval, settles the open records of instances that are gone (lease expired, or a
// process of this machine that exited). A live instance's records are never settled; if an
// instance was wrongly taken for dead (stalled past its lease), its late finals replace the
// recovered estimates, and are logged and counted (late_finals()).
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
  // Lease of this instance: renewed every heartbeat_interval; another process may settle its
  // open records once `lease` passed without a renewal. Clocks of processes sharing a store
  // must agree to well within the lease (NTP).
  std::chrono::milliseconds heartbeat_interval{2000};
  std::chrono::milliseconds lease{15000};
  // How often the writer settles the records of instances that are gone (besides at start).
  std::chrono::milliseconds recovery_interval{15000};
};

class Ledger {
 public:
  // Registers this instance (its first heartbeat), settles what gone instances left open
  // (LedgerStore::recover_open), then starts the writer thread.
  static Result<std::unique_ptr<Ledger>> start(std::unique_ptr<LedgerStore> store,
                                               LedgerOptions options = {});
  // Commits everything queued, then ends the lease: what is still open (never finalized) is
  // settled by the next process that starts or recovers.
  ~Ledger();

  // The worker name ("host:port") written into records that carry none and into this
  // instance's row; set once the server knows its port. Before, the host name.
  void set_worker(const std::string& worker);
  const std::string& instance_id() const;

  // Admission: queues the open record (stamped with this instance, and the worker if it has
  // none); false (nothing queued) when max_open are open.
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
  int64_t recovered_since_start() const;  // other instances' records settled by later recoveries
  int64_t late_finals() const;            // finals that replaced a recovered record
  LedgerStore& store();                   // reads (usage reports, keys)

 private:
  struct Impl;
  explicit Ledger(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mx
