// ClusterEngineClient's prefix index: one KvEvents subscription per worker feeding it, and the
// cached prompt tokens the router reads from it (cluster_client.h, "Cache-aware routing").
#include <spdlog/spdlog.h>

#include "cluster/cluster_client.h"
#include "cluster/routed_request.h"

namespace mx {
namespace pb = mxserve::worker;

// One KvEvents call's replies into the index. A reply the index cannot apply (a gap, a new
// epoch, another log) ends the call; the poller starts a new one from a snapshot.
class ClusterEngineClient::KvSubscription : public KvEventsObserver {
 public:
  KvSubscription(ClusterEngineClient& client, std::shared_ptr<Worker> worker, uint64_t generation)
      : client_(client),
        worker_(std::move(worker)),
        address_(worker_->endpoint.address),
        generation_(generation) {}

  void on_reply(const pb::KvEventsReply& reply) override {
    if (failed_) return;
    PrefixIndex::Applied applied = PrefixIndex::Applied::kOk;
    {
      std::lock_guard lock(client_.mutex_);
      if (worker_->kv_generation != generation_) return;  // stopped: the index forgot it
      std::lock_guard index_lock(client_.index_mutex_);
      PrefixIndex& index = client_.index_;
      if (reply.snapshot_begin())
        index.begin_snapshot(address_, reply.worker_epoch(), reply.log_id());
      if (reply.snapshot_hashes_size() > 0) {
        index.add_snapshot_hashes(address_, {reply.snapshot_hashes().data(),
                                             static_cast<size_t>(reply.snapshot_hashes_size())});
      }
      if (reply.snapshot_end()) applied = index.end_snapshot(address_, reply.snapshot_seq());
      if (applied == PrefixIndex::Applied::kOk && reply.events_size() > 0) {
        events_.clear();
        for (const pb::KvBlockEvent& event : reply.events()) {
          events_.push_back(KvBlockEvent{event.hash(), event.removed()});
        }
        applied = index.apply_events(address_, reply.worker_epoch(), reply.log_id(),
                                     reply.first_seq(), events_);
      }
      if (applied != PrefixIndex::Applied::kOk) index.reset(address_);
    }
    if (applied == PrefixIndex::Applied::kOk) return;
    failed_ = true;
    spdlog::info(
        "worker {}: KV events out of order (gap, new epoch or restart): resubscribing "
        "from a snapshot",
        address_);
    std::shared_ptr<GenerateStream> stream;
    {
      std::lock_guard lock(client_.mutex_);
      if (worker_->kv_generation == generation_) stream = worker_->kv_stream;
    }
    if (stream) stream->cancel();  // on_stream_end clears it; the poller resubscribes
  }

  void on_stream_end(const grpc::Status& status) override {
    std::lock_guard lock(client_.mutex_);
    if (worker_->kv_generation == generation_) {
      worker_->kv_stream.reset();
      if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
        spdlog::warn("worker {} sends no KV events (an older version?): routed by load only",
                     address_);
        worker_->kv_unsupported = true;
      }
    }
    --client_.kv_streams_live_;
    client_.wake_.notify_all();  // the poller resubscribes now; stop() may be waiting
  }

 private:
  ClusterEngineClient& client_;
  const std::shared_ptr<Worker> worker_;
  const std::string address_;
  const uint64_t generation_;
  bool failed_ = false;               // gRPC delivers one call's replies one at a time
  std::vector<KvBlockEvent> events_;  // reused
};

void ClusterEngineClient::subscribe_kv_events(const std::shared_ptr<Worker>& worker) {
  if (config_.policy != RoutePolicy::kCacheAware || stopping_ || worker->kv_stream ||
      worker->kv_unsupported || worker->departed || !worker->up || !worker->polled) {
    return;
  }
  const auto& limits = worker->status.limits();
  const PrefixLayout layout{limits.block_size(), limits.prefix_hash_seed()};
  PrefixIndex::Cursor cursor;
  {
    std::lock_guard lock(index_mutex_);
    index_.set_layout(worker->endpoint.address, layout);
    if (!layout.known()) return;
    cursor = index_.cursor(worker->endpoint.address);
  }
  pb::KvEventsRequest request;
  request.set_log_id(cursor.log_id);
  request.set_after_seq(cursor.after_seq);
  worker->kv_generation = ++kv_generation_;
  ++kv_streams_live_;
  worker->kv_stream = worker->client->kv_events(
      request, std::make_shared<KvSubscription>(*this, worker, worker->kv_generation));
}

void ClusterEngineClient::stop_kv_events(Worker& worker) {
  if (worker.kv_stream) {
    worker.kv_stream->cancel();
    worker.kv_stream.reset();
  }
  worker.kv_generation = ++kv_generation_;  // the old call's callbacks are ignored
  std::lock_guard lock(index_mutex_);
  index_.drop(worker.endpoint.address);
}

void ClusterEngineClient::fill_cached_tokens(
    std::span<const int32_t> prompt, const std::vector<std::shared_ptr<Worker>>& candidates,
    RouterState& state, std::vector<std::pair<PrefixLayout, std::vector<BlockHash>>>& hashes) {
  if (config_.policy != RoutePolicy::kCacheAware) return;
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(index_mutex_);
  for (size_t i = 0; i < candidates.size(); ++i) {
    const std::string& address = candidates[i]->endpoint.address;
    const PrefixLayout layout = index_.layout(address);
    if (!layout.known() || !state.workers[i].up) continue;
    // The prompt's hashes, once per layout (usually one for the whole cluster).
    auto it = std::find_if(hashes.begin(), hashes.end(),
                           [&](const auto& entry) { return entry.first == layout; });
    if (it == hashes.end()) {
      hashes.emplace_back(layout, std::vector<BlockHash>{});
      it = hashes.end() - 1;
      chain_block_hashes(prompt, layout.block_size, layout.seed, it->second);
    }
    state.workers[i].cached_prompt_tokens =
        index_.cached_blocks(address, it->second, now) * layout.block_size;
  }
}

}  // namespace mx
