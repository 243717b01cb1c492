#include "server/expert_load.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <nlohmann/json.hpp>

namespace mx {
namespace {

constexpr std::string_view kMetric = "mxserve_expert_tokens_total";

// One line `mxserve_expert_tokens_total{layer="L",expert="E"} N`.
Result<std::array<uint64_t, 3>> parse_line(std::string_view line) {
  auto bad = [&] {
    return make_error(ErrorCode::kCorruptData, "metrics: malformed expert line '{}'",
                      line.substr(0, 120));
  };
  std::array<uint64_t, 3> values{};
  std::string_view rest = line.substr(kMetric.size());
  for (size_t i = 0; i < 3; ++i) {
    const std::string_view prefix = i == 0 ? "{layer=\"" : i == 1 ? "\",expert=\"" : "\"} ";
    if (rest.substr(0, prefix.size()) != prefix) return bad();
    rest.remove_prefix(prefix.size());
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), values[i]);
    if (ec != std::errc() || end == rest.data()) return bad();
    rest.remove_prefix(static_cast<size_t>(end - rest.data()));
  }
  if (!rest.empty()) return bad();
  return values;
}

}  // namespace

void render_expert_tokens(const ExpertCounts& counts, std::string& out) {
  if (counts.tokens.empty()) return;
  out += fmt::format("# TYPE {} counter\n", kMetric);
  for (int64_t layer = 0; layer < counts.n_layers; ++layer) {
    for (int64_t expert = 0; expert < counts.n_experts; ++expert) {
      out += fmt::format("{}{{layer=\"{}\",expert=\"{}\"}} {}\n", kMetric, layer, expert,
                         counts.at(layer, expert));
    }
  }
}

Result<ExpertCounts> parse_expert_tokens(std::string_view text) {
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> seen;
  uint64_t max_layer = 0, max_expert = 0;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (line.substr(0, kMetric.size() + 1) != std::string(kMetric) + "{") continue;
    MX_ASSIGN_OR_RETURN(auto v, parse_line(line));
    if (v[0] >= (1u << 16) || v[1] >= (1u << 16) || !seen.emplace(std::pair{v[0], v[1]}, v[2]).second) {
      return make_error(ErrorCode::kCorruptData, "metrics: expert line out of range or repeated: '{}'",
                        line);
    }
    max_layer = std::max(max_layer, v[0]);
    max_expert = std::max(max_expert, v[1]);
  }
  ExpertCounts counts;
  if (seen.empty()) return counts;
  counts.n_layers = static_cast<int64_t>(max_layer) + 1;
  counts.n_experts = static_cast<int64_t>(max_expert) + 1;
  if (seen.size() != static_cast<size_t>(counts.n_layers * counts.n_experts)) {
    return make_error(ErrorCode::kCorruptData,
                      "metrics: {} expert lines do not cover {} layers x {} experts", seen.size(),
                      counts.n_layers, counts.n_experts);
  }
  counts.tokens.resize(seen.size());
  for (const auto& [key, value] : seen) {
    counts.tokens[key.first * counts.n_experts + key.second] = value;
  }
  return counts;
}

Result<ExpertCounts> expert_counts_delta(const ExpertCounts& before, const ExpertCounts& after) {
  if (before.n_layers != after.n_layers || before.n_experts != after.n_experts) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the server's expert layout changed during the window ({}x{} -> {}x{}): "
                      "was it restarted with another model?",
                      before.n_layers, before.n_experts, after.n_layers, after.n_experts);
  }
  ExpertCounts delta = after;
  for (size_t i = 0; i < delta.tokens.size(); ++i) {
    if (after.tokens[i] < before.tokens[i]) {
      return make_error(ErrorCode::kInvalidArgument,
                        "an expert counter went down during the window: the server restarted; "
                        "run the report again");
    }
    delta.tokens[i] = after.tokens[i] - before.tokens[i];
  }
  return delta;
}

std::vector<LayerLoad> summarize_expert_load(const ExpertCounts& counts) {
  std::vector<LayerLoad> layers;
  for (int64_t layer = 0; layer < counts.n_layers; ++layer) {
    LayerLoad load;
    load.layer = layer;
    for (int64_t expert = 0; expert < counts.n_experts; ++expert) {
      const uint64_t n = counts.at(layer, expert);
      load.total += n;
      if (n == 0) ++load.idle_experts;
      if (load.hottest < 0 || n > load.max) {
        load.max = n;
        load.hottest = expert;
      }
    }
    load.mean = static_cast<double>(load.total) / static_cast<double>(counts.n_experts);
    load.imbalance = load.total > 0 ? static_cast<double>(load.max) / load.mean : 0.0;
    layers.push_back(load);
  }
  return layers;
}

std::string expert_report_text(const ExpertCounts& counts, double window_seconds) {
  if (counts.tokens.empty()) return "the model has no experts (a dense model)\n";
  std::string out = fmt::format("expert load over {:.1f} s: {} layers x {} experts\n",
                                window_seconds, counts.n_layers, counts.n_experts);
  out += fmt::format("{:>5} {:>12} {:>10} {:>8} {:>10} {:>6}\n", "LAYER", "ASSIGNMENTS",
                     "MAX/MEAN", "HOTTEST", "ITS COUNT", "IDLE");
  for (const LayerLoad& l : summarize_expert_load(counts)) {
    if (l.total == 0 && l.idle_experts == counts.n_experts) {
      out += fmt::format("{:>5} {:>12} {:>10} {:>8} {:>10} {:>6}\n", l.layer, 0, "-", "-", "-",
                         l.idle_experts);
      continue;
    }
    out += fmt::format("{:>5} {:>12} {:>10.2f} {:>8} {:>10} {:>6}\n", l.layer, l.total,
                       l.imbalance, l.hottest, l.max, l.idle_experts);
  }
  return out;
}

std::string expert_report_json(const ExpertCounts& counts, double window_seconds) {
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerLoad& l : summarize_expert_load(counts)) {
    std::vector<uint64_t> row(counts.tokens.begin() + l.layer * counts.n_experts,
                              counts.tokens.begin() + (l.layer + 1) * counts.n_experts);
    layers.push_back({{"layer", l.layer},
                      {"assignments", l.total},
                      {"imbalance", l.imbalance},
                      {"hottest_expert", l.hottest},
                      {"idle_experts", l.idle_experts},
                      {"tokens", row}});
  }
  nlohmann::json report = {{"window_seconds", window_seconds},
                           {"n_layers", counts.n_layers},
                           {"n_experts", counts.n_experts},
                           {"layers", layers}};
  return report.dump(2) + "\n";
}

}  // namespace mx
