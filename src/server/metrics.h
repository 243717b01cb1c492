// Metrics: the server's one registry, exported as Prometheus text (GET /metrics).
//
// Counters and histograms are updated from any thread (atomics / a mutex per histogram);
// gauges that mirror engine state are set by a collector callback right before export, so
// /metrics always shows the current KV use and queue lengths. Names follow Prometheus
// conventions: mxserve_<what>_<unit>, _total for counters, _seconds for times.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace mx {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  void render(const std::string& name, std::string& out) const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative); last one is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();

  // Requests answered, by route and HTTP status.
  void count_request(const std::string& route, int status);
  Histogram ttft_seconds;  // time to first token
  Histogram tpot_seconds;  // time per output token after the first
  Histogram e2e_seconds;   // request start to last byte
  // How long output waited for the ledger to make its usage durable before it was sent (each
  // streamed chunk and each final response): the latency the metering adds.
  Histogram ledger_wait_seconds;
  std::atomic<int64_t> prompt_tokens{0};
  std::atomic<int64_t> cached_tokens{0};
  std::atomic<int64_t> generated_tokens{0};

  // Gauges: name → value, filled by the collector at export time.
  using Gauges = std::vector<std::pair<std::string, double>>;
  void set_collector(std::function<Gauges()> collector);
  // Labeled families rendered by their owner (e.g. expert load), appended at export.
  void add_section(std::function<void(std::string& out)> section);
  // Counters kept elsewhere (the engine's totals), read at export time like the gauges.
  void set_counter_collector(std::function<Gauges()> collector);

  std::string render() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::function<Gauges()> collector_;
  std::vector<std::function<void(std::string&)>> sections_;
  std::function<Gauges()> counter_collector_;
};

}  // namespace mx
