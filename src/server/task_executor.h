// TaskExecutor: a fixed set of worker threads taking tasks from one FIFO queue, optionally
// bounded. The server keeps two: the request executor (route handlers: parsing, key lookups,
// chat templates, tokenization — so an I/O thread only moves bytes) and the text executor
// (a generation's text pipeline — so the engine thread only runs steps).
//
// Invariants: post() never blocks; it refuses (returns false) when the queue holds
// `max_queued` tasks or the executor is stopping, and the caller answers "busy" itself. Tasks
// start in the order they were posted; with more than one thread they may run concurrently, so
// per-owner ordering (one generation's events) is the owner's job (see GenerationCall::drain).
// stop() refuses new tasks, runs every task already queued, and joins the threads.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mx {

class TaskExecutor {
 public:
  // `name` shows in thread names ("mx-<name>-0") and logs; max_queued 0: unbounded.
  TaskExecutor(std::string name, int threads, size_t max_queued);
  ~TaskExecutor();  // stop()
  TaskExecutor(const TaskExecutor&) = delete;
  TaskExecutor& operator=(const TaskExecutor&) = delete;

  // Queues `task`; false (and `task` dropped, not run) when full or stopping.
  bool post(std::function<void()> task);
  // Runs what is queued, then joins the threads. Idempotent; not from one of its own tasks.
  void stop();

  size_t queued() const;
  int threads() const { return static_cast<int>(threads_.size()); }

 private:
  void run();

  std::string name_;
  size_t max_queued_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;  // guarded by mutex_
  bool stopping_ = false;                    // guarded by mutex_
  std::vector<std::thread> threads_;
};

}  // namespace mx
