// Expert load: how many tokens each MoE layer routed to each expert — the input of expert
// placement (EPLB). The server exports the model's cumulative counters in /metrics as
//   mxserve_expert_tokens_total{layer="L",expert="E"} N
// and `mxserve experts` reads them twice over a window and reports the difference.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace mx {

// Counts per (layer, expert), layer-major, as Model::expert_token_counts() gives them.
struct ExpertCounts {
  int64_t n_layers = 0;
  int64_t n_experts = 0;
  std::vector<uint64_t> tokens;  // [n_layers * n_experts]

  uint64_t at(int64_t layer, int64_t expert) const { return tokens[layer * n_experts + expert]; }
};

// Appends the Prometheus lines (nothing for a dense model: empty counts).
void render_expert_tokens(const ExpertCounts& counts, std::string& out);

// The counters back from /metrics text. A text without any expert line gives empty counts
// (a dense model); a malformed or duplicated line is an error.
Result<ExpertCounts> parse_expert_tokens(std::string_view metrics_text);

// What changed between two readings of the same server; an error if the shapes differ or a
// counter went down (the server restarted in between).
Result<ExpertCounts> expert_counts_delta(const ExpertCounts& before, const ExpertCounts& after);

// Per-layer load summary of a window.
struct LayerLoad {
  int64_t layer = 0;
  uint64_t total = 0;          // token-expert assignments (tokens x top-k)
  double mean = 0;             // total / n_experts
  uint64_t max = 0;
  int64_t hottest = -1;        // expert with the max count
  double imbalance = 0;        // max / mean (1 = perfectly balanced; 0 when idle)
  int64_t idle_experts = 0;    // experts that got no token
};

std::vector<LayerLoad> summarize_expert_load(const ExpertCounts& counts);

// The report `mxserve experts` prints: a table, or JSON with the full matrix.
std::string expert_report_text(const ExpertCounts& counts, double window_seconds);
std::string expert_report_json(const ExpertCounts& counts, double window_seconds);

}  // namespace mx
