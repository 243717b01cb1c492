#include "server/task_executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <vector>

namespace mx {
namespace {

TEST(TaskExecutor, RunsTasksInOrderOnItsThreads) {
  TaskExecutor executor("test", 1, 0);
  std::vector<int> order;
  std::promise<std::thread::id> ran_on;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(executor.post([&order, i] { order.push_back(i); }));
  ASSERT_TRUE(executor.post([&ran_on] { ran_on.set_value(std::this_thread::get_id()); }));
  auto future = ran_on.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_NE(future.get(), std::this_thread::get_id());
  executor.stop();
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[static_cast<size_t>(i)], i);
}

TEST(TaskExecutor, BoundedQueueRefusesWhenFullAndStopRunsWhatIsQueued) {
  TaskExecutor executor("test", 1, 2);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> started;
  ASSERT_TRUE(executor.post([&started, released] {
    started.set_value();
    released.wait_for(std::chrono::seconds(10));
  }));
  ASSERT_EQ(started.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  std::atomic<int> ran{0};
  EXPECT_TRUE(executor.post([&ran] { ++ran; }));
  EXPECT_TRUE(executor.post([&ran] { ++ran; }));
  EXPECT_FALSE(executor.post([&ran] { ++ran; })) << "a third task beyond max_queued 2";
  EXPECT_EQ(executor.queued(), 2u);
  release.set_value();
  executor.stop();
  EXPECT_EQ(ran.load(), 2);
  EXPECT_FALSE(executor.post([] {})) << "stopped";
}

TEST(TaskExecutor, ThrowingTaskDoesNotKillTheThread) {
  TaskExecutor executor("test", 1, 0);
  std::promise<void> after;
  ASSERT_TRUE(executor.post([] { throw std::runtime_error("boom"); }));
  ASSERT_TRUE(executor.post([&after] { after.set_value(); }));
  EXPECT_EQ(after.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
}

}  // namespace
}  // namespace mx
