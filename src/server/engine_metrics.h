// The engine's Prometheus series, for every role that runs or fronts an engine: `serve` and
// `worker` (their own engine) and `frontend` (the sum over its workers).
#pragma once

#include "engine/engine_client.h"
#include "server/metrics.h"

namespace mx {

// Gauges now: sequences waiting / running, KV blocks total / used / free, prefix-cache hit rate.
Metrics::Gauges engine_gauges(const EngineStats& stats);
// Totals since start (counters: rate() them).
Metrics::Gauges engine_counters(const EngineStats& stats);
// Registers the engine's gauges, counters, expert token counts and KV tiers on `metrics`,
// reading `engine` at each export; `extra` adds the caller's own gauges.
void add_engine_metrics(Metrics& metrics, const EngineClient& engine,
                        std::function<Metrics::Gauges()> extra = nullptr);

}  // namespace mx
