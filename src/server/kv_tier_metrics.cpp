#include "server/kv_tier_metrics.h"

#include <fmt/format.h>

namespace mx {
namespace {

template <typename T>
void family(std::string& out, const char* name, const char* type,
            const std::vector<KvTierStats>& tiers, T KvTierStats::*field) {
  out += fmt::format("# TYPE mxserve_kv_tier_{} {}\n", name, type);
  for (const KvTierStats& t : tiers) {
    out += fmt::format("mxserve_kv_tier_{}{{tier=\"{}\"}} {}\n", name, t.tier, t.*field);
  }
}

}  // namespace

void render_kv_tiers(const std::vector<KvTierStats>& tiers, int64_t restored_blocks,
                     std::string& out) {
  if (tiers.empty()) return;
  out += fmt::format("# TYPE mxserve_kv_restored_blocks_total counter\n"
                     "mxserve_kv_restored_blocks_total {}\n",
                     restored_blocks);
  family(out, "capacity_bytes", "gauge", tiers, &KvTierStats::capacity_bytes);
  family(out, "used_bytes", "gauge", tiers, &KvTierStats::used_bytes);
  family(out, "blocks", "gauge", tiers, &KvTierStats::blocks);
  family(out, "hits_total", "counter", tiers, &KvTierStats::hits);
  family(out, "misses_total", "counter", tiers, &KvTierStats::misses);
  family(out, "stored_blocks_total", "counter", tiers, &KvTierStats::stores);
  family(out, "evictions_total", "counter", tiers, &KvTierStats::evictions);
  family(out, "bad_blocks_total", "counter", tiers, &KvTierStats::bad_blocks);
  family(out, "io_errors_total", "counter", tiers, &KvTierStats::io_errors);
  family(out, "dropped_writes_total", "counter", tiers, &KvTierStats::dropped_writes);
  family(out, "read_bytes_total", "counter", tiers, &KvTierStats::bytes_read);
  family(out, "written_bytes_total", "counter", tiers, &KvTierStats::bytes_written);
  family(out, "read_seconds_total", "counter", tiers, &KvTierStats::read_seconds);
  family(out, "write_seconds_total", "counter", tiers, &KvTierStats::write_seconds);
}

}  // namespace mx
