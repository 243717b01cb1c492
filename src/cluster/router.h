// Router: which worker runs a request — a pure policy over a snapshot of the workers, tested
// without processes (like the engine's schedule()). The frontend's cluster client builds the
// RouterState from the membership view and the workers' last reported load, and executes the
// Choice.
//
// Cache-aware cost of a worker, in tokens:
//   prompt tokens it has not cached (its prefix blocks, from the prefix index)
//   + decode load: KV tokens in use plus those reserved for expected output of requests in
//     flight through this frontend
//   + queue: tokens of the sequences waiting there
// over its capacity; the cheapest wins (cache-aware: the load terms count a quarter, so that a
// worker holding the prefix keeps its requests through moderate load differences), ties broken by
// `tie_break` (random per request). A full worker (the request cannot fit its free KV even after
// its queue drains) is skipped while another can take the request. Least-load ignores the cache;
// round-robin ignores both.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace mx {

enum class RoutePolicy { kCacheAware, kLeastLoad, kRoundRobin };
Result<RoutePolicy> parse_route_policy(const std::string& name);  // "cache", "load", "round-robin"
const char* route_policy_name(RoutePolicy policy);

struct WorkerLoad {
  int64_t kv_tokens_total = 0;       // capacity: KV blocks × block size
  int64_t kv_tokens_used = 0;        // as last reported
  int64_t reserved_tokens = 0;       // prompt + expected output of this frontend's requests there
  int64_t waiting_sequences = 0;     // queued there, as last reported
  int64_t cached_prompt_tokens = 0;  // of this request's prompt, per the prefix index
  bool up = true;                    // false: marked down (failed an RPC), never chosen
};

struct RouterState {
  std::vector<WorkerLoad> workers;  // the candidates: members of the current view
  uint64_t round_robin_next = 0;    // the round-robin cursor
};

struct RouteRequest {
  int64_t prompt_tokens = 0;
  int64_t expected_output_tokens = 0;  // per sequence
  int64_t sequences = 1;
  uint64_t tie_break = 0;  // random per request
};

struct Choice {
  int64_t worker = -1;  // index into RouterState::workers; -1: none is up
  int64_t cost = 0;     // the chosen worker's cost (tokens), for logs and tests
};

Choice route(const RouterState& state, const RouteRequest& request, RoutePolicy policy);

}  // namespace mx
