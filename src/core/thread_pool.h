// ThreadPool: a fixed set of worker threads that run one parallel region at a time. Built for the
// decode loop (~20 regions per layer, a few microseconds to a few milliseconds each) on machines
// that may be shared with other processes.
//
// Two kinds of region, both calling fn(thread_index, n_threads) with the caller as thread 0:
//  - run(fn): every thread runs fn exactly once (a barrier; for work split by thread index).
//  - share(fn): fn runs on the caller and on each worker that arrives before the caller's own
//    call has returned; a worker that arrives later skips the region. fn must therefore claim
//    its work dynamically (an atomic counter), never by thread index. This is what the kernels
//    use: when another process holds a worker's CPU, the caller does all the work instead of
//    waiting for a thread that is not running (on a loaded 2-core machine that wait was most of
//    the decode time).
// parallel_for() is a share() region over chunks claimed from a counter.
// No allocation and no std::function per call: the callable is passed by reference through a
// type-erased pointer. Workers spin briefly, then yield the CPU, then sleep on a condition
// variable, so an idle server costs nothing while back-to-back regions avoid wake-up latency.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace mx {

class ThreadPool {
 public:
  // n_threads >= 1 counts the caller. pin: pin thread i to CPU i (mod the CPUs allowed). Pinning
  // helps only on a machine the process has to itself; on a shared one it keeps a thread on a
  // busy CPU while another is idle, so it is off by default (as in llama.cpp).
  explicit ThreadPool(int n_threads, bool pin = false);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(thread_index, n_threads) on all threads; thread 0 is the caller. Not reentrant:
  // one region at a time (call from one thread).
  template <typename Fn>
  void run(Fn&& fn) {
    region(&invoke<std::remove_reference_t<Fn>>, const_cast<void*>(static_cast<const void*>(&fn)),
           /*every_thread=*/true);
  }

  // Runs fn(thread_index, n_threads) on the caller and on the workers that arrive in time (see
  // the file comment): fn must claim work dynamically.
  template <typename Fn>
  void share(Fn&& fn) {
    region(&invoke<std::remove_reference_t<Fn>>, const_cast<void*>(static_cast<const void*>(&fn)),
           /*every_thread=*/false);
  }

  // Covers [0, n) exactly once with fn(begin, end) calls on contiguous chunks of at least
  // min_chunk elements, claimed dynamically by the threads that take part.
  template <typename Fn>
  void parallel_for(int64_t n, Fn&& fn, int64_t min_chunk = 1) {
    if (n <= 0) return;
    // ~4 chunks per thread: balance when one thread is slowed, few claims otherwise.
    const int64_t chunk = std::max<int64_t>(std::max<int64_t>(min_chunk, 1), n / (4 * n_threads_));
    if (n_threads_ == 1 || chunk >= n) {
      fn(int64_t{0}, n);
      return;
    }
    std::atomic<int64_t> next{0};
    share([&](int, int) {
      for (int64_t begin = next.fetch_add(chunk); begin < n; begin = next.fetch_add(chunk)) {
        fn(begin, std::min(n, begin + chunk));
      }
    });
  }

 private:
  using Task = void (*)(void* ctx, int index, int count);
  template <typename FnType>
  static void invoke(void* ctx, int index, int count) {
    (*static_cast<FnType*>(ctx))(index, count);
  }
  void region(Task task, void* ctx, bool every_thread);
  void worker_loop(int index);
  uint64_t wait_for_region(uint32_t seen_generation);

  int n_threads_;
  std::vector<std::thread> workers_;
  Task task_ = nullptr;
  void* task_ctx_ = nullptr;
  // Region state, one word so that joining is a single compare-and-swap against the generation
  // the worker saw: bits 32-63 generation, bit 31 closed (no more joins), bits 0-30 workers
  // joined.
  alignas(64) std::atomic<uint64_t> state_{0};
  alignas(64) std::atomic<uint32_t> finished_{0};  // joined workers done with this region
  alignas(64) std::atomic<int> sleepers_{0};       // workers blocked on wake_
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
};

// Pins the calling thread to one CPU (index into the process's allowed CPUs); false on failure.
bool pin_current_thread(int cpu_index);

}  // namespace mx
