// route(): the routing policy, without processes (src/cluster/router.h).
#include "cluster/router.h"

#include <gtest/gtest.h>

#include <set>

namespace mx {
namespace {

WorkerLoad worker(int64_t used, int64_t cached = 0, int64_t waiting = 0) {
  WorkerLoad w;
  w.kv_tokens_total = 10'000;
  w.kv_tokens_used = used;
  w.cached_prompt_tokens = cached;
  w.waiting_sequences = waiting;
  return w;
}

RouteRequest request(int64_t prompt, int64_t output = 100, uint64_t tie = 1) {
  RouteRequest r;
  r.prompt_tokens = prompt;
  r.expected_output_tokens = output;
  r.tie_break = tie;
  return r;
}

TEST(RouterTest, CacheAwarePrefersTheWorkerHoldingThePrefixUnlessItIsMuchBusier) {
  RouterState state{{worker(1000, 0), worker(1200, 900)}, 0};
  EXPECT_EQ(route(state, request(1000), RoutePolicy::kCacheAware).worker, 1);
  // 900 cached tokens do not outweigh 5,000 more tokens of decode load.
  state.workers[1].kv_tokens_used = 6000;
  EXPECT_EQ(route(state, request(1000), RoutePolicy::kCacheAware).worker, 0);
}

// A tenant's prefix stays on its worker while that worker prefills one new prompt (a moderate
// load difference); computing the prefix on the idle worker would cache it twice.
TEST(RouterTest, CacheAwareKeepsAPrefixThroughModerateLoad) {
  RouterState state{{worker(0, 512), worker(0)}, 0};
  state.workers[0].reserved_tokens = 536;  // one uncached 528-token request in flight
  EXPECT_EQ(route(state, request(528, 8), RoutePolicy::kCacheAware).worker, 0);
  EXPECT_EQ(route(state, request(528, 8), RoutePolicy::kLeastLoad).worker, 1);
}

TEST(RouterTest, LeastLoadIgnoresTheCache) {
  RouterState state{{worker(1000, 0), worker(1200, 900)}, 0};
  EXPECT_EQ(route(state, request(1000), RoutePolicy::kLeastLoad).worker, 0);
}

TEST(RouterTest, ReservationsAndQueuesCountAsLoad) {
  RouterState state{{worker(0), worker(0)}, 0};
  state.workers[0].reserved_tokens = 3000;
  EXPECT_EQ(route(state, request(100), RoutePolicy::kLeastLoad).worker, 1);
  state.workers[0].reserved_tokens = 0;
  state.workers[1].waiting_sequences = 4;
  EXPECT_EQ(route(state, request(100), RoutePolicy::kLeastLoad).worker, 0);
}

TEST(RouterTest, DownWorkersAreNeverChosen) {
  RouterState state{{worker(9000), worker(0)}, 0};
  state.workers[1].up = false;
  for (RoutePolicy policy :
       {RoutePolicy::kCacheAware, RoutePolicy::kLeastLoad, RoutePolicy::kRoundRobin}) {
    EXPECT_EQ(route(state, request(10), policy).worker, 0) << route_policy_name(policy);
  }
  state.workers[0].up = false;
  EXPECT_EQ(route(state, request(10), RoutePolicy::kCacheAware).worker, -1);
  EXPECT_EQ(route(state, request(10), RoutePolicy::kRoundRobin).worker, -1);
  EXPECT_EQ(route(RouterState{}, request(10), RoutePolicy::kLeastLoad).worker, -1);
}

TEST(RouterTest, AWorkerTheRequestFitsWinsOverACheaperOneItDoesNot) {
  RouterState state{{worker(9'500, 900), worker(5'000)}, 0};
  // Worker 0 is cheaper (most of the prompt cached) but has 500 free tokens for a 1,100 need.
  EXPECT_EQ(route(state, request(1000), RoutePolicy::kCacheAware).worker, 1);
  // When it fits nowhere, the cheapest still gets it (it will queue there).
  state.workers[1].kv_tokens_used = 9'900;
  EXPECT_EQ(route(state, request(1000), RoutePolicy::kCacheAware).worker, 0);
}

TEST(RouterTest, TiesGoToDifferentWorkersForDifferentRequests) {
  RouterState state{{worker(0), worker(0), worker(0), worker(0)}, 0};
  std::set<int64_t> chosen;
  for (uint64_t tie = 0; tie < 64; ++tie) {
    chosen.insert(route(state, request(100, 100, tie * 7919), RoutePolicy::kCacheAware).worker);
  }
  EXPECT_EQ(chosen.size(), 4u);
}

TEST(RouterTest, RoundRobinRotatesFromTheCursor) {
  RouterState state{{worker(0), worker(5000), worker(0)}, 0};
  for (uint64_t cursor = 0; cursor < 6; ++cursor) {
    state.round_robin_next = cursor;
    EXPECT_EQ(route(state, request(10), RoutePolicy::kRoundRobin).worker,
              static_cast<int64_t>(cursor % 3));
  }
}

TEST(RouterTest, PolicyNamesRoundTrip) {
  for (RoutePolicy policy :
       {RoutePolicy::kCacheAware, RoutePolicy::kLeastLoad, RoutePolicy::kRoundRobin}) {
    auto parsed = parse_route_policy(route_policy_name(policy));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, policy);
  }
  EXPECT_FALSE(parse_route_policy("random").ok());
}

}  // namespace
}  // namespace mx
