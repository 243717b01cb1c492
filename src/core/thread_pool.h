// ThreadPool: a fixed set of worker threads, each pinned to one CPU, that run one parallel
// region at a time. Built for the decode loop: `run(fn)` calls fn(thread_index, n_threads) on
// every thread (the caller is thread 0) and returns when all are done. No allocation and no
// std::function per call: the callable is passed by reference through a type-erased pointer.
// Workers spin briefly, then sleep on a futex-like condition variable, so an idle server costs
// nothing while back-to-back regions (one per layer op) avoid wake-up latency.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace mx {

class ThreadPool {
 public:
  // n_threads >= 1 counts the caller. pin: pin thread i to CPU i (mod the CPUs allowed).
  explicit ThreadPool(int n_threads, bool pin = true);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(thread_index, n_threads) on all threads; thread 0 is the caller. Not reentrant:
  // one region at a time (call from one thread).
  template <typename Fn>
  void run(Fn&& fn) {
    using FnType = std::remove_reference_t<Fn>;
    run_erased(
        [](void* ctx, int index, int count) { (*static_cast<FnType*>(ctx))(index, count); },
        const_cast<void*>(static_cast<const void*>(&fn)));
  }

  // Splits [0, n) into contiguous chunks, one per thread: fn(begin, end).
  template <typename Fn>
  void parallel_for(int64_t n, Fn&& fn) {
    run([&](int index, int count) {
      int64_t begin = n * index / count;
      int64_t end = n * (index + 1) / count;
      if (begin < end) fn(begin, end);
    });
  }

 private:
  using Task = void (*)(void* ctx, int index, int count);
  void run_erased(Task task, void* ctx);
  void worker_loop(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  Task task_ = nullptr;
  void* task_ctx_ = nullptr;
  std::atomic<uint64_t> generation_{0};  // bumped for each region
  std::atomic<int> pending_{0};          // workers still running the current region
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
};

// Pins the calling thread to one CPU (index into the process's allowed CPUs); false on failure.
bool pin_current_thread(int cpu_index);

}  // namespace mx
