#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
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
