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
// Threads: gRPC callback threads deliver events; a poller reads every worker's Status
// (limits, load, counters) each status_interval; a sweeper checks deadlines every 50 ms.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

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

  // Picks a worker for `request` among those up and not in `exclude`; nullptr if none.
  std::shared_ptr<Worker> pick(const RouteRequest& request,
                               const std::vector<std::shared_ptr<Worker>>& exclude);
  void mark_down(const std::shared_ptr<Worker>& worker, const std::string& why);
  // True if `worker` answered a status poll and its engine stepped within `within`: alive
  // and busy, so a missed token deadline is queueing, not a failure.
  bool progressing(const std::shared_ptr<Worker>& worker, std::chrono::milliseconds within) const;
  // The epoch a request to `worker` names: the one it last reported, else the view's.
  uint64_t epoch_of(const std::shared_ptr<Worker>& worker) const;
  void reserve(const std::shared_ptr<Worker>& worker, int64_t tokens, int64_t requests);
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
};

}  // namespace mx
