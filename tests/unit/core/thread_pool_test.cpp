#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <numeric>
#include <vector>

namespace mx {
namespace {

TEST(ThreadPool, EveryThreadRunsEachRegionOnce) {
  ThreadPool pool(3, /*pin=*/false);
  std::vector<std::atomic<int>> hits(3);
  for (int region = 0; region < 200; ++region) {
    pool.run([&](int index, int count) {
      EXPECT_EQ(count, 3);
      hits[index].fetch_add(1);
    });
  }
  for (auto& h : hits) EXPECT_EQ(h.load(), 200);
}

TEST(ThreadPool, ParallelForCoversRangeExactlyOnce) {
  ThreadPool pool(4, /*pin=*/false);
  for (int64_t n : {0, 1, 3, 4, 5, 1001}) {
    std::vector<int> seen(n, 0);
    pool.parallel_for(n, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) seen[i] += 1;
    });
    EXPECT_EQ(std::accumulate(seen.begin(), seen.end(), 0), n);
    for (int v : seen) EXPECT_EQ(v, 1);
  }
}

TEST(ThreadPool, ShareCoversClaimedWorkExactlyOnce) {
  // share() may skip late workers, so work is claimed from a counter; whatever threads take
  // part, every item must be done once, also when share and run regions alternate.
  ThreadPool pool(3, /*pin=*/false);
  for (int region = 0; region < 500; ++region) {
    const int64_t n = region % 7 == 0 ? 1 : 97;
    std::vector<std::atomic<int>> seen(n);
    std::atomic<int64_t> next{0};
    std::atomic<int> callers{0};
    pool.share([&](int index, int count) {
      EXPECT_EQ(count, 3);
      EXPECT_GE(index, 0);
      EXPECT_LT(index, 3);
      if (index == 0) callers.fetch_add(1);
      for (int64_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) seen[i].fetch_add(1);
    });
    EXPECT_EQ(callers.load(), 1);  // the caller always runs its share
    for (auto& v : seen) EXPECT_EQ(v.load(), 1);
    std::atomic<int> everyone{0};
    pool.run([&](int, int) { everyone.fetch_add(1); });
    EXPECT_EQ(everyone.load(), 3);
  }
}

TEST(ThreadPool, WorkersWakeAfterSleeping) {
  // Long enough between regions for the workers to go from spinning to sleeping.
  ThreadPool pool(2, /*pin=*/false);
  for (int region = 0; region < 3; ++region) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::atomic<int> hits{0};
    pool.run([&](int, int) { hits.fetch_add(1); });
    EXPECT_EQ(hits.load(), 2);
  }
}

TEST(ThreadPool, SingleThreadRunsInline) {
  ThreadPool pool(1);
  int calls = 0;
  pool.run([&](int index, int count) {
    EXPECT_EQ(index, 0);
    EXPECT_EQ(count, 1);
    ++calls;
  });
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace mx
