#include "service/ledger.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "service/ledger_instance.h"

namespace mx {
namespace {

constexpr std::chrono::milliseconds kFirstBackoff{10};
constexpr std::chrono::milliseconds kMaxBackoff{1000};

// An op the store would refuse forever (a CHECK constraint) would stall the writer, which
// retries until a commit succeeds; so caller mistakes are repaired here, with a warning.
void repair_counts(const std::string& request_id, TokenCounts& tokens) {
  if (tokens.prompt >= 0 && tokens.cached >= 0 && tokens.completion >= 0 && tokens.reasoning >= 0) {
    return;
  }
  spdlog::warn("ledger: request {}: negative token counts ({}, {}, {}, {}) recorded as 0",
               request_id, tokens.prompt, tokens.cached, tokens.completion, tokens.reasoning);
  tokens.prompt = std::max<int64_t>(tokens.prompt, 0);
  tokens.cached = std::max<int64_t>(tokens.cached, 0);
  tokens.completion = std::max<int64_t>(tokens.completion, 0);
  tokens.reasoning = std::max<int64_t>(tokens.reasoning, 0);
}

// One queued entry: an op and the callbacks to run after it is committed. No op: only
// callbacks (a progress or finalize that changes nothing still runs then() in order).
struct Pending {
  std::optional<LedgerOp> op;
  std::vector<std::function<void()>> callbacks;
};

struct Batch {
  std::vector<LedgerOp> ops;                     // a LedgerHeartbeat first when one is due
  std::vector<std::function<void()>> callbacks;  // in queue order
  int64_t end_seq = 0;                           // committed_seq once this batch is done
};

using SteadyTime = std::chrono::steady_clock::time_point;

// Settles the open records of instances that are gone: this machine's exited processes (by
// pid), and in the store's own check, every instance without a live lease.
Result<int64_t> recover_gone(LedgerStore& store, const LedgerInstance& self, int64_t now_ms) {
  MX_ASSIGN_OR_RETURN(std::vector<LedgerInstance> instances, store.instances());
  std::vector<std::string> gone;
  for (const LedgerInstance& instance : instances) {
    if (instance.id != self.id && process_is_gone(instance, self)) gone.push_back(instance.id);
  }
  return store.recover_open(self.id, gone, now_ms);
}

}  // namespace

struct Ledger::Impl {
  std::unique_ptr<LedgerStore> store;
  LedgerOptions options;
  int64_t recovered = 0;
  std::atomic<int64_t> recovered_later{0};
  std::atomic<int64_t> late_finals{0};
  const std::string instance_id;  // self.id, readable without the mutex

  // Writer thread only.
  int64_t last_heartbeat_ms = 0;  // unix ms of the last committed heartbeat
  SteadyTime next_recovery;

  mutable std::mutex mutex;
  std::condition_variable wake_writer;  // work queued, flush asked, or stopping
  std::condition_variable committed;    // committed_seq moved
  // Entries in order; entry i has sequence number queue_front_seq + i.
  std::deque<Pending> queue;
  int64_t queue_front_seq = 0;
  int64_t committed_seq = 0;  // entries below it are committed and their callbacks ran
  int64_t flush_seq = 0;      // a flush waits for entries below it: commit them at once
  // Request id → sequence number of its queued progress entry (coalescing target).
  std::unordered_map<std::string, int64_t> queued_progress;
  // Records opened and not finalized yet; then, until their final is committed, finalizing.
  // Admission counts both, so max_open bounds the queue even while the store is down (a
  // finalized record no longer frees its slot before its final is durable).
  std::unordered_set<std::string> open_ids;
  std::unordered_set<std::string> finalizing;
  bool stopping = false;
  std::thread writer;
  LedgerInstance self;        // guarded by mutex (set_worker changes worker)
  SteadyTime next_heartbeat;  // guarded by mutex

  explicit Impl(LedgerInstance instance) : instance_id(instance.id), self(std::move(instance)) {}

  int64_t end_seq() const { return queue_front_seq + static_cast<int64_t>(queue.size()); }
  int64_t admitted() const { return static_cast<int64_t>(open_ids.size() + finalizing.size()); }
  void enqueue(Pending pending);  // caller holds mutex
  void run_writer();
  std::optional<Batch> next_batch();
  void commit(Batch& batch);
  void after_commit(const Batch& batch, const LedgerWriteOutcome& outcome);
  void recover_periodically();
  LedgerInstance self_copy() {
    std::lock_guard lock(mutex);
    return self;
  }
};

void Ledger::Impl::enqueue(Pending pending) {
  if (!pending.op && pending.callbacks.empty()) return;  // nothing to write, nothing to run
  queue.push_back(std::move(pending));
  // The writer waits for a first entry, then up to flush_interval for a full batch.
  int64_t queued = static_cast<int64_t>(queue.size());
  if (queued == 1 || queued == options.max_batch) wake_writer.notify_one();
}

// Waits for work or a due heartbeat, then up to flush_interval for more (unless a batch is
// full, a flush waits, or the ledger stops), and takes up to max_batch entries, with a
// heartbeat first when one is due. Empty: stopping and nothing left.
std::optional<Batch> Ledger::Impl::next_batch() {
  std::unique_lock lock(mutex);
  auto heartbeat_due = [&] { return std::chrono::steady_clock::now() >= next_heartbeat; };
  wake_writer.wait_until(lock, next_heartbeat,
                         [&] { return stopping || !queue.empty() || heartbeat_due(); });
  auto urgent = [&] {
    return stopping || static_cast<int64_t>(queue.size()) >= options.max_batch ||
           flush_seq > queue_front_seq;
  };
  if (!queue.empty() && !urgent()) {  // a due heartbeat does not wait for a full batch
    SteadyTime until =
        std::min(std::chrono::steady_clock::now() + options.flush_interval, next_heartbeat);
    wake_writer.wait_until(lock, until, urgent);
  }
  if (queue.empty() && stopping) return std::nullopt;

  Batch batch;
  if (heartbeat_due()) {
    batch.ops.push_back(LedgerHeartbeat{self});  // its times are set at each commit attempt
    next_heartbeat = std::chrono::steady_clock::now() + options.heartbeat_interval;
  }
  int64_t count = std::min<int64_t>(static_cast<int64_t>(queue.size()), options.max_batch);
  for (int64_t i = 0; i < count; ++i) {
    Pending& pending = queue.front();
    if (pending.op) {
      if (auto* progress = std::get_if<LedgerProgress>(&*pending.op)) {
        queued_progress.erase(progress->request_id);  // later progress starts a new entry
      }
      batch.ops.push_back(std::move(*pending.op));
    }
    for (auto& callback : pending.callbacks) batch.callbacks.push_back(std::move(callback));
    queue.pop_front();
    ++queue_front_seq;
  }
  batch.end_seq = queue_front_seq;
  return batch;
}

// Never gives up: dropping a batch would lose billed tokens. Callers are held back meanwhile
// through their callbacks, and admission through max_open. A heartbeat in the batch is dated
// at each attempt, so a batch that commits late does not commit a lease that already ended.
void Ledger::Impl::commit(Batch& batch) {
  std::chrono::milliseconds backoff = kFirstBackoff;
  for (int attempt = 1;; ++attempt) {
    if (!batch.ops.empty()) {
      if (auto* heartbeat = std::get_if<LedgerHeartbeat>(&batch.ops.front())) {
        heartbeat->instance.heartbeat_at_ms = unix_ms_now();
        heartbeat->instance.expires_at_ms =
            heartbeat->instance.heartbeat_at_ms + options.lease.count();
      }
    }
    Result<LedgerWriteOutcome> outcome = store->write_batch(batch.ops);
    if (outcome.ok()) {
      if (attempt > 1) spdlog::info("ledger: committed after {} attempts", attempt);
      after_commit(batch, *outcome);
      return;
    }
    spdlog::warn("ledger: committing {} ops to {} failed (attempt {}), retrying in {} ms: {}",
                 batch.ops.size(), store->describe(), attempt, backoff.count(),
                 outcome.error().message);
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

// Logs what a shared store makes possible: this instance's lease lapsed (others may have
// settled its open records), and finals that replaced such a recovered record.
void Ledger::Impl::after_commit(const Batch& batch, const LedgerWriteOutcome& outcome) {
  if (!batch.ops.empty()) {
    if (auto* heartbeat = std::get_if<LedgerHeartbeat>(&batch.ops.front())) {
      int64_t gap_ms = heartbeat->instance.heartbeat_at_ms - last_heartbeat_ms;
      if (last_heartbeat_ms > 0 && gap_ms > options.lease.count()) {
        spdlog::warn(
            "ledger: no heartbeat of instance {} was committed for {} ms (lease {} ms): other "
            "processes may have settled its open records as aborted; their finals replace them",
            instance_id, gap_ms, options.lease.count());
      }
      last_heartbeat_ms = heartbeat->instance.heartbeat_at_ms;
    }
  }
  for (const std::string& id : outcome.late_finals) {
    spdlog::warn(
        "ledger: request {} had been settled by recovery as if its process were gone; "
        "its real final record replaced the recovered one",
        id);
  }
  late_finals += static_cast<int64_t>(outcome.late_finals.size());
  for (const std::string& id : outcome.unmatched_finals) {
    spdlog::warn(
        "ledger: the final record of request {} found no open record to complete "
        "(already final); nothing changed",
        id);
  }
}

void Ledger::Impl::recover_periodically() {
  if (std::chrono::steady_clock::now() < next_recovery) return;
  next_recovery = std::chrono::steady_clock::now() + options.recovery_interval;
  Result<int64_t> settled = recover_gone(*store, self_copy(), unix_ms_now());
  if (!settled.ok()) {
    spdlog::warn("ledger: settling records of gone processes failed (retried in {} ms): {}",
                 options.recovery_interval.count(), settled.error().message);
    return;
  }
  if (*settled > 0) {
    spdlog::warn(
        "ledger: settled {} usage records of processes that are gone (status aborted, "
        "counts as last committed)",
        *settled);
    recovered_later += *settled;
  }
}

void Ledger::Impl::run_writer() {
  while (std::optional<Batch> batch = next_batch()) {
    commit(*batch);
    for (auto& callback : batch->callbacks) {
      try {
        callback();
      } catch (const std::exception& e) {
        spdlog::error("ledger: a commit callback threw: {}", e.what());
      } catch (...) {
        spdlog::error("ledger: a commit callback threw a non-standard exception");
      }
    }
    {
      std::lock_guard lock(mutex);
      committed_seq = batch->end_seq;
      for (const LedgerOp& op : batch->ops) {
        if (auto* done = std::get_if<LedgerFinal>(&op)) finalizing.erase(done->record.request_id);
      }
    }
    committed.notify_all();
    recover_periodically();
  }
}

Result<std::unique_ptr<Ledger>> Ledger::start(std::unique_ptr<LedgerStore> store,
                                              LedgerOptions options) {
  if (!store) return make_error(ErrorCode::kInvalidArgument, "ledger: no store given");
  if (options.max_open < 1 || options.max_batch < 1 || options.flush_interval.count() < 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "ledger: max_open ({}) and max_batch ({}) must be at least 1 and "
                      "flush_interval ({} ms) not negative",
                      options.max_open, options.max_batch, options.flush_interval.count());
  }
  if (options.heartbeat_interval.count() < 1 || options.lease <= options.heartbeat_interval ||
      options.recovery_interval.count() < 1) {
    return make_error(ErrorCode::kInvalidArgument,
                      "ledger: the lease ({} ms) must be longer than the heartbeat interval "
                      "({} ms), and both and the recovery interval ({} ms) positive",
                      options.lease.count(), options.heartbeat_interval.count(),
                      options.recovery_interval.count());
  }
  auto impl = std::make_unique<Impl>(this_process_instance());
  impl->options = options;
  // Registered before recovery: a process starting at the same time sees this one as alive.
  LedgerInstance& self = impl->self;
  self.started_at_ms = self.heartbeat_at_ms = unix_ms_now();
  self.expires_at_ms = self.heartbeat_at_ms + options.lease.count();
  MX_RETURN_IF_ERROR(store->write_batch({LedgerHeartbeat{self}}));
  impl->last_heartbeat_ms = self.heartbeat_at_ms;
  MX_ASSIGN_OR_RETURN(impl->recovered, recover_gone(*store, self, unix_ms_now()));
  if (impl->recovered > 0) {
    spdlog::warn(
        "ledger: settled {} usage records left open by processes that are gone (status "
        "aborted, counts as last committed)",
        impl->recovered);
  }
  spdlog::info("ledger: instance {} (pid {}), lease {} ms", self.id, self.pid,
               options.lease.count());
  impl->store = std::move(store);
  impl->next_heartbeat = std::chrono::steady_clock::now() + options.heartbeat_interval;
  impl->next_recovery = std::chrono::steady_clock::now() + options.recovery_interval;
  impl->writer = std::thread([raw = impl.get()] { raw->run_writer(); });
  return std::unique_ptr<Ledger>(new Ledger(std::move(impl)));
}

Ledger::Ledger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Ledger::~Ledger() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake_writer.notify_one();
  impl_->writer.join();  // the writer drains the queue before it returns
  // End the lease: whatever is still open was abandoned, and the next recovery may settle it
  // now instead of after the lease. One try: if it fails, the lease ends on its own.
  LedgerInstance ended = impl_->self;
  ended.heartbeat_at_ms = unix_ms_now();
  ended.expires_at_ms = 0;
  if (auto done = impl_->store->write_batch({LedgerHeartbeat{ended}}); !done.ok()) {
    spdlog::warn("ledger: could not end the lease of instance {}: {}", ended.id,
                 done.error().message);
  }
}

void Ledger::set_worker(const std::string& worker) {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->self.worker = worker;
    impl_->next_heartbeat = std::chrono::steady_clock::now();  // the row gets it soon
  }
  impl_->wake_writer.notify_one();
}

const std::string& Ledger::instance_id() const { return impl_->instance_id; }

bool Ledger::open(const UsageRecord& record) {
  std::lock_guard lock(impl_->mutex);
  if (impl_->admitted() >= impl_->options.max_open) return false;
  if (impl_->finalizing.contains(record.request_id) ||
      !impl_->open_ids.insert(record.request_id).second) {
    spdlog::warn("ledger: request {} is already open; the second open is refused",
                 record.request_id);
    return false;
  }
  LedgerOpen op{record};
  op.record.instance_id = impl_->self.id;
  if (op.record.worker.empty()) op.record.worker = impl_->self.worker;
  repair_counts(op.record.request_id, op.record.tokens);
  op.record.reserved_tokens = std::max<int64_t>(op.record.reserved_tokens, 0);
  impl_->enqueue({LedgerOp(std::move(op)), {}});
  return true;
}

void Ledger::progress(const std::string& request_id, const TokenCounts& tokens, double ttft_ms,
                      std::function<void()> then) {
  std::lock_guard lock(impl_->mutex);
  Impl& impl = *impl_;
  Pending pending;
  if (then) pending.callbacks.push_back(std::move(then));
  if (!impl.open_ids.contains(request_id)) {  // finalized or never opened: nothing to write
    impl.enqueue(std::move(pending));
    return;
  }
  LedgerProgress op{request_id, tokens, ttft_ms};
  repair_counts(request_id, op.tokens);
  auto queued = impl.queued_progress.find(request_id);
  if (queued != impl.queued_progress.end()) {  // coalesce: latest counts, every callback
    Pending& target = impl.queue[static_cast<size_t>(queued->second - impl.queue_front_seq)];
    auto& coalesced = std::get<LedgerProgress>(*target.op);
    if (op.ttft_ms <= 0.0) op.ttft_ms = coalesced.ttft_ms;  // 0: not known yet, keep what was
    coalesced = std::move(op);
    for (auto& callback : pending.callbacks) target.callbacks.push_back(std::move(callback));
    return;
  }
  impl.queued_progress[request_id] = impl.end_seq();
  pending.op = LedgerOp(std::move(op));
  impl.enqueue(std::move(pending));
}

void Ledger::finalize(const UsageRecord& record, std::function<void()> then) {
  std::lock_guard lock(impl_->mutex);
  Pending pending;
  if (then) pending.callbacks.push_back(std::move(then));
  if (impl_->open_ids.erase(record.request_id) == 1) {  // the first final of an open record
    impl_->finalizing.insert(record.request_id);
    LedgerFinal op{record};
    op.record.instance_id = impl_->self.id;
    if (op.record.worker.empty()) op.record.worker = impl_->self.worker;
    repair_counts(record.request_id, op.record.tokens);
    if (op.record.status == UsageStatus::kOpen) {
      spdlog::warn("ledger: request {} finalized with status 'open'; recorded as 'error'",
                   record.request_id);
      op.record.status = UsageStatus::kError;
    }
    pending.op = LedgerOp(std::move(op));
  }
  impl_->enqueue(std::move(pending));
}

Status Ledger::flush() {
  if (std::this_thread::get_id() == impl_->writer.get_id()) {
    return make_error(ErrorCode::kInternal,
                      "ledger: flush() called from a commit callback would wait for itself");
  }
  std::unique_lock lock(impl_->mutex);
  int64_t target = impl_->end_seq();
  impl_->flush_seq = std::max(impl_->flush_seq, target);
  impl_->wake_writer.notify_one();
  impl_->committed.wait(lock, [&] { return impl_->committed_seq >= target; });
  return ok_status();
}

// Admitted and not yet durably final: what max_open bounds.
int64_t Ledger::open_records() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->admitted();
}

int64_t Ledger::recovered_at_start() const { return impl_->recovered; }

int64_t Ledger::recovered_since_start() const { return impl_->recovered_later.load(); }

int64_t Ledger::late_finals() const { return impl_->late_finals.load(); }

LedgerStore& Ledger::store() { return *impl_->store; }

}  // namespace mx
