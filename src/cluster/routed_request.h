// RoutedRequest: one request of the frontend's ClusterEngineClient in flight — its sequences,
// what each has delivered, and the current attempt (a Generate stream on one worker). When an
// attempt's stream breaks or misses a deadline, the unfinished sequences move to another worker
// as a new attempt; events of an old attempt are ignored. See cluster_client.h.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cluster/cluster_client.h"

namespace mx {

struct ClusterEngineClient::Worker {
  WorkerEndpoint endpoint;
  std::shared_ptr<WorkerClient> client;
  bool up = false;      // answered its last status poll and failed no call since
  bool polled = false;  // `status` holds a reply
  mxserve::worker::StatusReply status;
  // This frontend's requests there: the new KV they take (prompt less the prefix cached there
  // when routed, + expected output), and their whole footprint (prompt + expected output,
  // what the worker's reports count while they run: shared prefix blocks included).
  int64_t reserved_tokens = 0;
  int64_t footprint_tokens = 0;
  // Footprints released since start; of those, how many the worker's reports surely no
  // longer count: those released before the poll before the last answered one (a report may
  // come from before the step that ended a request whose end we already heard).
  int64_t released_total = 0, released_reported = 0, released_at_last_poll = 0;
  int64_t requests = 0;
  // When a status poll last answered, and when the engine's step counter last advanced.
  std::chrono::steady_clock::time_point last_answer{}, last_step{};
  // Left the membership view at this time (a candidate until departed_grace after it);
  // nullopt while a member.
  std::optional<std::chrono::steady_clock::time_point> departed;
  // Its KvEvents call (cache-aware routing), numbered kv_generation; null when none runs.
  std::shared_ptr<GenerateStream> kv_stream;
  uint64_t kv_generation = 0;
  bool kv_unsupported = false;  // answered UNIMPLEMENTED (an older worker): not asked again
};

class RoutedRequest : public std::enable_shared_from_this<RoutedRequest> {
 public:
  using Clock = std::chrono::steady_clock;
  using Worker = ClusterEngineClient::Worker;

  RoutedRequest(ClusterEngineClient& client, std::string id, std::vector<SequenceRequest> originals,
                std::shared_ptr<TokenSink> sink);

  // Request thread: routes and waits until a worker admitted the request (ok), or none would
  // (the last refusal, or kUnavailable). Nothing reaches the sink before it returns ok.
  Status start();
  void cancel(int32_t index);
  // Sweeper thread: abandons the attempt if it missed its deadline.
  void sweep(Clock::time_point now);
  // Ends the request: every unfinished sequence gets a final event (cancelled).
  void abort();
  size_t size() const { return seqs_.size(); }

 private:
  class Attempt;
  struct Seq {
    std::vector<int32_t> generated;  // tokens delivered (stop tokens excluded)
    int64_t completion_tokens = 0;   // as last delivered
    int64_t base_completion = 0;     // delivered before the current attempt
    int64_t cached_tokens = 0;       // from the first attempt
    std::string served_by;           // "host:port@epoch" of each worker it ran on
    bool finished = false;
    bool cancel_requested = false;
  };
  enum class Phase { kAdmitting, kRunning, kEnded };

  // Under the lock. cached_tokens: of the prompt, cached there per the router (not reserved).
  void launch(const std::shared_ptr<Worker>& worker, int64_t cached_tokens);
  void next_worker(const std::string& why);                                     // under the lock
  void fail(ErrorCode code, const std::string& message);                        // under the lock
  void finish_seq(int32_t index, StopReason reason, const std::string& error);  // under the lock
  void on_admission(int attempt, const mxserve::worker::Admission& admission);
  void on_event(int attempt, int32_t stream_index, const TokenEvent& event);
  void on_stream_end(int attempt, const grpc::Status& status);
  bool all_finished() const;
  void release_worker();  // under the lock: its reservation
  RouteRequest route_request() const;

  ClusterEngineClient& client_;
  const std::string id_;
  const std::vector<SequenceRequest> originals_;
  const std::shared_ptr<TokenSink> sink_;
  std::recursive_mutex mutex_;  // sinks may call back (cancel) on the same thread
  std::condition_variable_any settled_;
  std::vector<Seq> seqs_;
  std::vector<std::shared_ptr<Worker>> tried_;
  std::optional<Error> start_error_;
  bool started_ = false;  // admitted once: errors go to the sink from now on
  bool done_ = false;
  int migrations_ = 0;
  // The current attempt.
  int attempt_ = 0;
  Phase phase_ = Phase::kEnded;
  std::shared_ptr<Worker> worker_;
  std::shared_ptr<GenerateStream> stream_;
  std::vector<int32_t> stream_to_seq_;
  int64_t reserved_ = 0;   // new KV tokens (ClusterEngineClient::Worker::reserved_tokens)
  int64_t footprint_ = 0;  // prompt + expected output tokens
  Clock::time_point deadline_{};
  bool got_token_ = false;
  bool abandoned_ = false;
};

}  // namespace mx
