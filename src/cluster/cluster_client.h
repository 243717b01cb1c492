// ClusterEngineClient: the EngineClient of a frontend — the engines of its workers, behind the
// router. submit_all routes a request (router.h) to a worker of the current membership view
// whose weights match the frontend's, opens a Generate stream (worker_client.h) and waits for
// its admission (bounded); a worker that refuses because it is full or draining, or does not
// answer in time, is passed over for the next. The request's TokenEvents go to its sink as the
// worker streams them.
//
// Failover: a stream that ends before every sequence has its final event (the worker died, was
// cut off, or missed a deadline: admission, first token, next token) marks that worker down at
// once (it is routed to again only after it answers a status poll) and moves the unfinished
// sequences to another worker, which re-prefills prompt + the tokens already delivered
// (SequenceRequest::resumed_tokens). The sink sees one unbroken stream: no token twice, none
// missing, counts going on (prompt_tokens stay the original prompt's; the recomputed prefill is
// not billed). Greedy output is identical; sampled output continues with the worker's own
// random stream. After max_migrations moves, or with no worker left, the sequences end with
// an error event.
//
// Cache-aware routing (--route cache): each worker up that announces its prefix layout (block
// size and hash seed, in its Status limits) is followed by one KvEvents stream, whose
// snapshots and events keep a PrefixIndex of the blocks it caches; the router counts a
// request's leading prompt blocks a worker holds as cached there. A gap in the events, a new
// epoch or another log resubscribes from a snapshot; a stream that breaks is resubscribed from
// where it stopped at the next poll; a worker that leaves the view is dropped from the index.
//
// Threads: gRPC callback threads deliver events; a poller reads every worker's Status
// (limits, load, counters) each status_interval and (re)subscribes KV events; a sweeper checks
// deadlines every 50 ms. Lock order: mutex_, then index_mutex_.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cluster/prefix_index.h"
#include "cluster/router.h"
#include "cluster/worker_client.h"
#include "engine/engine_client.h"

namespace mx {

struct WorkerEndpoint {
  std::string address;              // host:port of its gRPC service
  uint64_t epoch = 0;               // its membership lease; 0: static (no etcd)
  std::string weights_fingerprint;  // as announced ("" : not announced)
};

struct ClusterClientConfig {
  RoutePolicy policy = RoutePolicy::kCacheAware;
  uint64_t weights_fingerprint = 0;  // the frontend's model; 0: not checked
  uint64_t frontend_epoch = 0;
  std::chrono::milliseconds admission_timeout{5000};
  // A request whose worker sends no token this long is moved — unless the worker answers its
  // status polls and its engine keeps stepping (the request is queued or preempted there).
  std::chrono::milliseconds first_token_timeout{60000};  // from admission
  std::chrono::milliseconds token_timeout{10000};        // between tokens
  std::chrono::milliseconds status_interval{500};
  // A worker that left the membership view stays a candidate this long while it answers status
  // polls: after an etcd outage, leases that expired meanwhile are re-granted a moment later
  // (the worker re-registers under a new epoch), and requests must not fail in between.
  std::chrono::milliseconds departed_grace{0};
  int max_migrations = 3;
  // A prefix routed to a worker counts as cached there this long, or until the worker's events
  // say otherwise: the requests right behind it follow it while its prefill runs.
  std::chrono::milliseconds routed_prefix_ttl{5000};

  Status validate() const;
};

// One worker as the frontend sees it (dashboard, /metrics).
struct WorkerView {
  std::string address;
  uint64_t epoch = 0;
  bool up = false;
  EngineStats stats;
  EngineLimits limits;
  int64_t requests = 0;  // this frontend's requests running there
  // Prefix blocks the frontend's index says it caches (from its KV events); -1: not followed
  // (not cache-aware routing, no layout announced, or no snapshot yet).
  int64_t indexed_blocks = -1;
};

class RoutedRequest;

class ClusterEngineClient : public EngineClient {
 public:
  explicit ClusterEngineClient(ClusterClientConfig config);
  ~ClusterEngineClient() override;

  // The workers that may be routed to from now on (the membership view, or a static list).
  // One no longer listed stays a candidate for departed_grace (see above), then is forgotten;
  // its streams break or finish on their own. A listed address with a new epoch is the same
  // worker re-registered (or restarted): its connection and state are kept.
  void set_workers(const std::vector<WorkerEndpoint>& workers);
  std::vector<WorkerView> workers() const;
  // Cancels every request and waits (bounded) until their streams have ended.
  void stop();

  Result<std::vector<SeqId>> submit_all(std::vector<SequenceRequest> requests,
                                        std::shared_ptr<TokenSink> sink) override;
  void cancel(SeqId id) override;
  EngineStats stats() const override;
  EngineLimits limits() const override;
  std::vector<uint64_t> expert_token_counts() const override;

 private:
  friend class RoutedRequest;
  struct Worker;
  class KvSubscription;

  // Picks a worker for `request` (whose first sequence's prompt is `prompt`) among those up
  // and not in `exclude`; nullptr if none. cached_tokens_out: the prompt tokens the chosen
  // worker caches, per the prefix index.
  std::shared_ptr<Worker> pick(const RouteRequest& request, std::span<const int32_t> prompt,
                               const std::vector<std::shared_ptr<Worker>>& exclude,
                               int64_t* cached_tokens_out);
  // Under mutex_: the cached prompt tokens of each candidate, per the index; notes the prefix
  // as routed to the chosen one (after the choice).
  void fill_cached_tokens(std::span<const int32_t> prompt,
                          const std::vector<std::shared_ptr<Worker>>& candidates,
                          RouterState& state,
                          std::vector<std::pair<PrefixLayout, std::vector<BlockHash>>>& hashes);
  // Under mutex_: starts the worker's KvEvents stream if it should have one and has none.
  void subscribe_kv_events(const std::shared_ptr<Worker>& worker);
  void stop_kv_events(Worker& worker);  // under mutex_: cancels it, forgets its index entry
  void mark_down(const std::shared_ptr<Worker>& worker, const std::string& why);
  // True if `worker` answered a status poll and its engine stepped within `within`: alive
  // and busy, so a missed token deadline is queueing, not a failure.
  bool progressing(const std::shared_ptr<Worker>& worker, std::chrono::milliseconds within) const;
  // The epoch a request to `worker` names: the one it last reported, else the view's.
  uint64_t epoch_of(const std::shared_ptr<Worker>& worker) const;
  // Adds (or with negative numbers, releases) a request's reservation (Worker::reserved_tokens,
  // footprint_tokens).
  void reserve(const std::shared_ptr<Worker>& worker, int64_t tokens, int64_t footprint,
               int64_t requests);
  void finished(RoutedRequest* request);
  void poll_loop();
  void sweep_loop();

  const ClusterClientConfig config_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::map<std::string, std::shared_ptr<Worker>> workers_;  // by address: members and departed
  uint64_t round_robin_ = 0;
  uint64_t next_request_ = 0;
  SeqId next_seq_ = 1;
  std::unordered_map<SeqId, std::pair<std::shared_ptr<RoutedRequest>, int32_t>> seqs_;
  std::map<RoutedRequest*, std::shared_ptr<RoutedRequest>> active_;
  std::thread poller_, sweeper_;
  int64_t kv_streams_live_ = 0;  // KvEvents calls not yet ended (stop() waits for them)
  uint64_t kv_generation_ = 0;   // numbers KvEvents calls: callbacks of an old one are ignored
  mutable std::mutex index_mutex_;
  PrefixIndex index_;
};

}  // namespace mx
