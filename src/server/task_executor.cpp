#include "server/task_executor.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <exception>

namespace mx {

TaskExecutor::TaskExecutor(std::string name, int threads, size_t max_queued)
    : name_(std::move(name)), max_queued_(max_queued) {
  threads_.reserve(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this, i] {
      // Linux limits thread names to 15 characters.
      const std::string thread_name = ("mx-" + name_ + "-" + std::to_string(i)).substr(0, 15);
      pthread_setname_np(pthread_self(), thread_name.c_str());
      run();
    });
  }
}

TaskExecutor::~TaskExecutor() { stop(); }

bool TaskExecutor::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || (max_queued_ > 0 && tasks_.size() >= max_queued_)) return false;
    tasks_.push_back(std::move(task));
  }
  ready_.notify_one();
  return true;
}

void TaskExecutor::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

size_t TaskExecutor::queued() const {
  std::lock_guard lock(mutex_);
  return tasks_.size();
}

void TaskExecutor::run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping, and everything queued has run
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    try {
      task();
    } catch (const std::exception& error) {
      spdlog::error("{} executor: a task threw: {}", name_, error.what());
    }
  }
}

}  // namespace mx
