#include "server/engine_metrics.h"

#include "server/expert_load.h"
#include "server/kv_tier_metrics.h"

namespace mx {

Metrics::Gauges engine_gauges(const EngineStats& s) {
  const double hit_rate =
      s.prefix_queries > 0 ? static_cast<double>(s.prefix_hits) / s.prefix_queries : 0.0;
  return Metrics::Gauges{
      {"mxserve_sequences_waiting", static_cast<double>(s.waiting)},
      {"mxserve_sequences_running", static_cast<double>(s.running)},
      {"mxserve_kv_blocks_total", static_cast<double>(s.kv_blocks_total)},
      {"mxserve_kv_blocks_used", static_cast<double>(s.kv_blocks_used)},
      {"mxserve_kv_blocks_free", static_cast<double>(s.kv_blocks_free)},
      {"mxserve_prefix_cache_hit_rate", hit_rate},
  };
}

// Speculative decoding: acceptance rate = accepted / draft; tokens a sequence gets per
// verification step = emitted / verify steps (per sampling step overall: generated / steps).
Metrics::Gauges engine_counters(const EngineStats& s) {
  return Metrics::Gauges{
      {"mxserve_prefix_cache_queries_total", static_cast<double>(s.prefix_queries)},
      {"mxserve_prefix_cache_hits_total", static_cast<double>(s.prefix_hits)},
      {"mxserve_engine_steps_total", static_cast<double>(s.steps)},
      {"mxserve_preemptions_total", static_cast<double>(s.preemptions)},
      {"mxserve_spec_proposed_tokens_total", static_cast<double>(s.spec_proposed_tokens)},
      {"mxserve_spec_draft_tokens_total", static_cast<double>(s.spec_draft_tokens)},
      {"mxserve_spec_accepted_tokens_total", static_cast<double>(s.spec_accepted_tokens)},
      {"mxserve_spec_verify_steps_total", static_cast<double>(s.spec_verify_steps)},
      {"mxserve_spec_emitted_tokens_total", static_cast<double>(s.spec_emitted_tokens)},
      {"mxserve_sampling_steps_total", static_cast<double>(s.sampling_steps)},
      {"mxserve_engine_generated_tokens_total", static_cast<double>(s.generated_tokens)},
  };
}

void add_engine_metrics(Metrics& metrics, const EngineClient& engine,
                        std::function<Metrics::Gauges()> extra) {
  metrics.set_collector([&engine, extra] {
    Metrics::Gauges gauges = engine_gauges(engine.stats());
    if (extra) {
      for (auto& gauge : extra()) gauges.push_back(std::move(gauge));
    }
    return gauges;
  });
  metrics.add_section([&engine](std::string& out) {
    const EngineLimits limits = engine.limits();
    ExpertCounts counts{limits.moe_layers, limits.n_experts, engine.expert_token_counts()};
    render_expert_tokens(counts, out);
  });
  metrics.add_section([&engine](std::string& out) {
    const EngineStats s = engine.stats();
    render_kv_tiers(s.kv_tiers, s.store_restored_blocks, out);
  });
  metrics.set_counter_collector([&engine] { return engine_counters(engine.stats()); });
}

}  // namespace mx
