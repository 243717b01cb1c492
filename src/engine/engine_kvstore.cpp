// The engine's side of the tiers under the prefix cache (KvStore): waiting sequences look their
// prefix up below the compute tier and wait while disk blocks come back; admission copies ready
// blocks into fresh KV blocks and publishes them; evicted and published blocks are offered down.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "engine/engine_impl.h"

namespace mx {

bool Engine::Impl::consult_store(Sequence& seq, int64_t cached_blocks, SequenceView& view) {
  const int64_t usable = usable_prefix_blocks(seq);
  seq.store_ready_blocks = 0;
  if (cached_blocks >= usable) return true;
  const auto rest = std::span(seq.hashes).subspan(static_cast<size_t>(cached_blocks),
                                                  static_cast<size_t>(usable - cached_blocks));
  const KvStore::Lookup found = store->lookup(rest);
  if (found.found > found.ready) {
    // Wait while blocks are on their way back; stop when nothing more can come (no room in
    // memory, read errors) or after kv_store_wait_seconds: then what is ready is used and the
    // rest recomputed.
    const auto now = std::chrono::steady_clock::now();
    if (!seq.store_wait_since) seq.store_wait_since = now;
    const bool in_time = now - *seq.store_wait_since <
                         std::chrono::duration<double>(config.kv_store_wait_seconds);
    const int64_t started = store->prefetch(rest.subspan(static_cast<size_t>(found.ready)));
    if (in_time && (found.loading > 0 || started > 0)) return false;
  }
  seq.store_ready_blocks = found.ready;
  view.cached_blocks_free += found.ready;  // each takes one free block and no compute
  return true;
}

void Engine::Impl::restore_from_store(Sequence& seq) {
  const int64_t first = seq.n_published;  // after the compute tier's prefix
  const int64_t usable = usable_prefix_blocks(seq);
  const int64_t want = std::min(seq.store_ready_blocks, usable - first);
  seq.store_ready_blocks = 0;
  seq.store_wait_since.reset();
  int64_t restored = 0;
  const size_t base = seq.blocks.size();
  if (want > 0 && blocks.allocate(want, seq.blocks)) {
    for (; restored < want; ++restored) {
      const BlockId block = seq.blocks[base + static_cast<size_t>(restored)];
      const BlockHash hash = seq.hashes[static_cast<size_t>(first + restored)];
      // A block evicted or found corrupted since the lookup stops the run: the rest of the
      // allocated blocks are computed like any fresh block.
      if (!store->read(hash, std::span(kv.block_data(block), kv.block_bytes()))) break;
      blocks.publish(block, hash);
    }
  }
  seq.n_published = first + restored;
  seq.n_computed = seq.n_published * config.block_size;
  totals.store_restored_blocks += restored;
  if (usable > first + restored) store->count_misses(usable - first - restored);
}

void Engine::Impl::offer_block(BlockId block, BlockHash hash, bool persist) {
  store->offer(hash, std::span<const uint8_t>(kv.block_data(block), kv.block_bytes()), persist);
}

}  // namespace mx
