// /metrics lines of the KV tiers under the prefix cache (engine/kv_store.h), one label per
// tier: mxserve_kv_tier_<what>{tier="host"|"ssd"}. Read bandwidth of a tier over a scrape
// interval = rate(read_bytes_total) / rate(read_seconds_total); the same for writes.
#pragma once

#include <string>
#include <vector>

#include "engine/kv_store.h"

namespace mx {

void render_kv_tiers(const std::vector<KvTierStats>& tiers, int64_t restored_blocks,
                     std::string& out);

}  // namespace mx
