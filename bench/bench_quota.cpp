// What a quota reservation costs at admission (LedgerStore::reserve_quota): the latency of N
// reservations of a key with limits, one after another, on a SQLite ledger in a temp dir and,
// with --pg URL, on PostgreSQL; a key without limits as the baseline (it touches nothing).
// Prints one JSON object. Usage: bench_quota [--n 2000] [--pg postgresql://...]
// (bench/quota_overhead.sh starts a throwaway PostgreSQL and runs this).
#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "service/ledger_store.h"
#include "service/usage.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Stats {
  double p50_us = 0, p99_us = 0;
};

Stats percentiles(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100]};
}

// Reservations spread over the window's seconds, as a busy key's would be; all allowed.
Stats time_reservations(mx::LedgerStore& store, const mx::ApiKey& key, int n) {
  std::vector<double> us;
  const int64_t t0 = mx::unix_ms_now();
  for (int i = 0; i < n; ++i) {
    auto start = Clock::now();
    auto decision = store.reserve_quota(key, 10, t0 + i * 25);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    if (!decision.ok() || !decision->allowed) {
      fmt::print(stderr, "reservation {} failed: {}\n", i,
                 decision.ok() ? decision->message : decision.error().message);
      exit(1);
    }
  }
  return percentiles(us);
}

std::string measure(const std::string& name, mx::LedgerStore& store, int n) {
  mx::ApiKey limited;
  limited.id = "key_bench_limited";
  limited.requests_per_minute = 1'000'000;
  limited.tokens_per_minute = 1'000'000'000;
  limited.tokens_per_day = 1'000'000'000;
  mx::ApiKey free_key;
  free_key.id = "key_bench_free";
  Stats with = time_reservations(store, limited, n);
  Stats without = time_reservations(store, free_key, n);
  return fmt::format(
      R"("{}": {{"limited_p50_us": {:.1f}, "limited_p99_us": {:.1f}, "unlimited_p50_us": {:.2f}}})",
      name, with.p50_us, with.p99_us, without.p50_us);
}

}  // namespace

int main(int argc, char** argv) {
  int n = 2000;
  std::string pg;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--n") n = std::stoi(argv[i + 1]);
    if (flag == "--pg") pg = argv[i + 1];
  }
  std::string dir =
      (std::filesystem::temp_directory_path() / "mxserve-bench-quota-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) return 1;
  std::vector<std::string> parts;
  {
    auto sqlite = mx::open_ledger_store(dir);
    if (!sqlite.ok()) {
      fmt::print(stderr, "{}\n", sqlite.error().message);
      return 1;
    }
    parts.push_back(measure("sqlite", **sqlite, n));
  }
  std::filesystem::remove_all(dir);
  if (!pg.empty()) {
    auto postgres = mx::open_ledger_store(pg);
    if (!postgres.ok()) {
      fmt::print(stderr, "{}\n", postgres.error().message);
      return 1;
    }
    parts.push_back(measure("postgresql", **postgres, n));
  }
  std::string joined;
  for (const std::string& part : parts) joined += (joined.empty() ? "" : ", ") + part;
  fmt::print("{{\"reservations\": {}, {}}}\n", n, joined);
  return 0;
}
