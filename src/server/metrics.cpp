#include "server/metrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace mx {
namespace {

std::vector<double> latency_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  std::lock_guard lock(mutex_);
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

void Histogram::render(const std::string& name, std::string& out) const {
  std::lock_guard lock(mutex_);
  out += fmt::format("# TYPE {} histogram\n", name);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[i], cumulative);
  }
  cumulative += counts_.back();
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative);
  out += fmt::format("{}_sum {}\n{}_count {}\n", name, sum_, name, count_);
}

Metrics::Metrics()
    : ttft_seconds(latency_buckets()),
      tpot_seconds({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}),
      e2e_seconds(latency_buckets()),
      ledger_wait_seconds({0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}) {}

void Metrics::count_request(const std::string& route, int status) {
  std::lock_guard lock(mutex_);
  ++requests_[{route, status}];
}

void Metrics::set_collector(std::function<Gauges()> collector) {
  std::lock_guard lock(mutex_);
  collector_ = std::move(collector);
}

void Metrics::add_section(std::function<void(std::string& out)> section) {
  std::lock_guard lock(mutex_);
  sections_.push_back(std::move(section));
}

void Metrics::set_counter_collector(std::function<Gauges()> collector) {
  std::lock_guard lock(mutex_);
  counter_collector_ = std::move(collector);
}

std::string Metrics::render() const {
  std::string out;
  Gauges gauges, counters;
  std::vector<std::function<void(std::string&)>> sections;
  {
    std::lock_guard lock(mutex_);
    out += "# TYPE mxserve_requests_total counter\n";
    for (const auto& [key, count] : requests_) {
      out += fmt::format("mxserve_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", key.first,
                         key.second, count);
    }
    if (collector_) gauges = collector_();
    sections = sections_;
    if (counter_collector_) counters = counter_collector_();
  }
  ttft_seconds.render("mxserve_time_to_first_token_seconds", out);
  tpot_seconds.render("mxserve_time_per_output_token_seconds", out);
  e2e_seconds.render("mxserve_request_duration_seconds", out);
  ledger_wait_seconds.render("mxserve_ledger_wait_seconds", out);
  for (const auto& [name, value] :
       {std::pair{"mxserve_prompt_tokens_total", prompt_tokens.load()},
        std::pair{"mxserve_cached_prompt_tokens_total", cached_tokens.load()},
        std::pair{"mxserve_generated_tokens_total", generated_tokens.load()}}) {
    out += fmt::format("# TYPE {} counter\n{} {}\n", name, name, value);
  }
  for (const auto& [name, value] : counters) {
    out += fmt::format("# TYPE {} counter\n{} {}\n", name, name, value);
  }
  for (const auto& [name, value] : gauges) {
    out += fmt::format("# TYPE {} gauge\n{} {}\n", name, name, value);
  }
  for (const auto& section : sections) section(out);
  return out;
}

}  // namespace mx
