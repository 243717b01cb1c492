#include "core/thread_pool.h"

#include <pthread.h>
#include <sched.h>

namespace mx {
namespace {

// A worker waiting for the next region first polls (regions come back to back in a forward
// pass, microseconds apart), then gives its CPU to other runnable processes with sched_yield
// between polls, then sleeps. Poll counts are in pause instructions (~20-60 cycles on x86).
constexpr int kSpinPolls = 4000;
constexpr int kYieldPolls = 2000;

constexpr uint64_t kClosed = uint64_t{1} << 31;
constexpr uint64_t kJoinedMask = kClosed - 1;

inline uint32_t generation_of(uint64_t state) { return static_cast<uint32_t>(state >> 32); }

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Waits until pred() holds: polls, then yields. Used by the caller for joined workers, which
// are running (or were just preempted), so it never sleeps.
template <typename Pred>
void spin_then_yield(Pred pred) {
  for (int i = 0; !pred(); ++i) {
    if (i < kSpinPolls) {
      cpu_relax();
    } else {
      sched_yield();
    }
  }
}

}  // namespace

bool pin_current_thread(int cpu_index) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return false;
  int n_allowed = CPU_COUNT(&allowed);
  if (n_allowed <= 0) return false;
  int target = cpu_index % n_allowed;
  for (int cpu = 0, seen = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    if (seen++ != target) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return pthread_setaffinity_np(pthread_self(), sizeof(one), &one) == 0;
  }
  return false;
}

ThreadPool::ThreadPool(int n_threads, bool pin) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  if (pin) pin_current_thread(0);
  workers_.reserve(n_threads_ - 1);
  for (int i = 1; i < n_threads_; ++i) {
    workers_.emplace_back([this, i, pin] {
      if (pin) pin_current_thread(i);
      worker_loop(i);
    });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
    // A new generation, closed: workers wake up, see stop_ and leave without joining.
    uint64_t state = state_.load();
    state_.store((static_cast<uint64_t>(generation_of(state) + 1) << 32) | kClosed);
  }
  wake_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

void ThreadPool::region(Task task, void* ctx, bool every_thread) {
  if (n_threads_ == 1) {
    task(ctx, 0, 1);
    return;
  }
  // The previous region is closed and all its joined workers have finished, so nobody reads
  // task_ or finished_ now.
  task_ = task;
  task_ctx_ = ctx;
  finished_.store(0, std::memory_order_relaxed);
  const uint32_t generation = generation_of(state_.load(std::memory_order_relaxed)) + 1;
  // Opening the region publishes task_ (release); seq_cst so that the sleepers_ check below
  // cannot miss a worker that is about to sleep (it checks state_ after counting itself).
  state_.store(static_cast<uint64_t>(generation) << 32, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_.notify_all();
  }
  task(ctx, 0, n_threads_);
  const uint32_t n_workers = static_cast<uint32_t>(n_threads_ - 1);
  if (every_thread) {
    spin_then_yield([&] { return finished_.load(std::memory_order_acquire) == n_workers; });
  } else {
    // Close the region: workers that have not joined yet will skip it.
    uint64_t joined = state_.fetch_or(kClosed, std::memory_order_acq_rel) & kJoinedMask;
    spin_then_yield([&] { return finished_.load(std::memory_order_acquire) == joined; });
  }
  state_.fetch_or(kClosed, std::memory_order_relaxed);
}

// Returns the state once its generation differs from seen_generation (or stop_ is set).
uint64_t ThreadPool::wait_for_region(uint32_t seen_generation) {
  auto fresh = [&](uint64_t state) { return generation_of(state) != seen_generation; };
  for (int i = 0; i < kSpinPolls + kYieldPolls; ++i) {
    uint64_t state = state_.load(std::memory_order_acquire);
    if (fresh(state)) return state;
    if (i < kSpinPolls) {
      cpu_relax();
    } else {
      sched_yield();
    }
  }
  std::unique_lock<std::mutex> lock(mutex_);
  sleepers_.fetch_add(1, std::memory_order_seq_cst);
  wake_.wait(lock, [&] { return fresh(state_.load(std::memory_order_seq_cst)); });
  sleepers_.fetch_sub(1, std::memory_order_relaxed);
  return state_.load(std::memory_order_acquire);
}

void ThreadPool::worker_loop(int index) {
  uint32_t seen = 0;
  while (true) {
    uint64_t state = wait_for_region(seen);
    if (stop_.load(std::memory_order_acquire)) return;
    seen = generation_of(state);
    // Join unless the caller has already closed the region (it then did all the work).
    bool joined = false;
    while (!joined && generation_of(state) == seen && !(state & kClosed)) {
      joined = state_.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel,
                                            std::memory_order_acquire);
    }
    if (!joined) continue;
    task_(task_ctx_, index, n_threads_);
    finished_.fetch_add(1, std::memory_order_release);
  }
}

}  // namespace mx
