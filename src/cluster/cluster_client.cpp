#include "cluster/cluster_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "cluster/routed_request.h"
#include "cluster/worker_messages.h"

namespace mx {

Status ClusterClientConfig::validate() const {
  using std::chrono::milliseconds;
  for (auto [value, name] : {std::pair{admission_timeout, "admission timeout"},
                             {first_token_timeout, "first-token timeout"},
                             {token_timeout, "token timeout"},
                             {status_interval, "status interval"}}) {
    if (value < milliseconds(10)) {
      return make_error(ErrorCode::kInvalidArgument, "the {} must be at least 10 ms, got {} ms",
                        name, value.count());
    }
  }
  if (max_migrations < 0) {
    return make_error(ErrorCode::kInvalidArgument, "max migrations must be >= 0, got {}",
                      max_migrations);
  }
  return ok_status();
}

ClusterEngineClient::ClusterEngineClient(ClusterClientConfig config) : config_(config) {
  poller_ = std::thread([this] { poll_loop(); });
  sweeper_ = std::thread([this] { sweep_loop(); });
}

ClusterEngineClient::~ClusterEngineClient() { stop(); }

void ClusterEngineClient::set_workers(const std::vector<WorkerEndpoint>& endpoints) {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  std::map<std::string, std::shared_ptr<Worker>> next;
  for (const WorkerEndpoint& endpoint : endpoints) {
    auto it = workers_.find(endpoint.address);
    if (it != workers_.end()) {
      std::shared_ptr<Worker> worker = it->second;
      if (worker->endpoint.epoch != endpoint.epoch || worker->departed) {
        spdlog::info("worker {} is a member again (epoch {:x})", endpoint.address, endpoint.epoch);
      }
      worker->endpoint = endpoint;
      worker->departed.reset();
      next[endpoint.address] = worker;
      continue;
    }
    auto worker = std::make_shared<Worker>();
    worker->endpoint = endpoint;
    worker->client = std::make_shared<WorkerClient>(endpoint.address);
    next[endpoint.address] = worker;
    spdlog::info("worker {} (epoch {:x}) joined", endpoint.address, endpoint.epoch);
  }
  for (const auto& [address, worker] : workers_) {
    if (next.contains(address)) continue;
    if (!worker->departed) {
      worker->departed = now;
      stop_kv_events(*worker);  // left the view: dropped from the prefix index
      spdlog::info("worker {} left the membership", address);
    }
    if (now - *worker->departed < config_.departed_grace) next[address] = worker;
  }
  workers_ = std::move(next);
  wake_.notify_all();  // poll the new ones now
}

bool ClusterEngineClient::progressing(const std::shared_ptr<Worker>& worker,
                                      std::chrono::milliseconds within) const {
  std::lock_guard lock(mutex_);
  const auto since = std::chrono::steady_clock::now() - within;
  return worker->up && worker->last_answer >= since && worker->last_step >= since;
}

uint64_t ClusterEngineClient::epoch_of(const std::shared_ptr<Worker>& worker) const {
  std::lock_guard lock(mutex_);
  return worker->polled ? worker->status.worker_epoch() : worker->endpoint.epoch;
}

std::vector<WorkerView> ClusterEngineClient::workers() const {
  std::lock_guard lock(mutex_);
  std::vector<WorkerView> out;
  for (const auto& [address, worker] : workers_) {
    if (worker->departed) continue;  // not a member (a candidate only for the grace period)
    WorkerView view;
    view.address = address;
    view.epoch = worker->endpoint.epoch;
    view.up = worker->up;
    if (worker->polled) {
      view.stats = from_proto(worker->status.stats());
      view.limits = from_proto(worker->status.limits());
    }
    view.requests = worker->requests;
    {
      std::lock_guard index_lock(index_mutex_);
      if (index_.ready(address))
        view.indexed_blocks = static_cast<int64_t>(index_.n_hashes(address));
    }
    out.push_back(std::move(view));
  }
  return out;
}

std::shared_ptr<ClusterEngineClient::Worker> ClusterEngineClient::pick(
    const RouteRequest& request, std::span<const int32_t> prompt,
    const std::vector<std::shared_ptr<Worker>>& exclude, int64_t* cached_tokens_out) {
  std::lock_guard lock(mutex_);
  RouterState state;
  state.round_robin_next = round_robin_;
  std::vector<std::shared_ptr<Worker>> candidates;
  for (const auto& [address, worker] : workers_) {
    const bool excluded = std::find(exclude.begin(), exclude.end(), worker) != exclude.end();
    const bool gone = worker->departed && std::chrono::steady_clock::now() - *worker->departed >=
                                              config_.departed_grace;
    WorkerLoad load;
    load.up = worker->up && worker->polled && !excluded && !gone;
    if (worker->polled) {
      const auto& s = worker->status.stats();
      const int64_t block = worker->status.limits().block_size();
      load.kv_tokens_total = s.kv_blocks_total() * block;
      // The KV of others' requests: as reported, less the footprint of this frontend's in
      // flight and of those that finished since the report may have been made; ours count as
      // the new KV they take. A finish is seen at once, not a status poll later, and requests
      // sharing a cached prefix do not count it again.
      const int64_t ours =
          worker->footprint_tokens + (worker->released_total - worker->released_reported);
      load.kv_tokens_used = std::max<int64_t>(0, s.kv_blocks_used() * block - ours);
      load.waiting_sequences = s.waiting();
    }
    load.reserved_tokens = worker->reserved_tokens;
    state.workers.push_back(load);
    candidates.push_back(worker);
  }
  std::vector<std::pair<PrefixLayout, std::vector<BlockHash>>> hashes;
  fill_cached_tokens(prompt, candidates, state, hashes);
  const Choice choice = route(state, request, config_.policy);
  if (choice.worker < 0) return nullptr;
  ++round_robin_;
  const std::shared_ptr<Worker>& chosen = candidates[choice.worker];
  *cached_tokens_out = state.workers[choice.worker].cached_prompt_tokens;
  if (config_.policy == RoutePolicy::kCacheAware) {
    std::lock_guard index_lock(index_mutex_);
    const PrefixLayout layout = index_.layout(chosen->endpoint.address);
    for (const auto& [hashed_layout, prompt_hashes] : hashes) {
      if (hashed_layout != layout) continue;
      const auto now = std::chrono::steady_clock::now();
      index_.note_routed(chosen->endpoint.address, prompt_hashes, now + config_.routed_prefix_ttl,
                         now);
    }
  }
  return chosen;
}

void ClusterEngineClient::mark_down(const std::shared_ptr<Worker>& worker, const std::string& why) {
  std::lock_guard lock(mutex_);
  if (worker->up) spdlog::warn("worker {} marked down: {}", worker->endpoint.address, why);
  worker->up = false;
}

void ClusterEngineClient::reserve(const std::shared_ptr<Worker>& worker, int64_t tokens,
                                  int64_t footprint, int64_t requests) {
  std::lock_guard lock(mutex_);
  worker->reserved_tokens += tokens;
  worker->footprint_tokens += footprint;
  if (footprint < 0) worker->released_total -= footprint;
  worker->requests += requests;
}

void ClusterEngineClient::finished(RoutedRequest* request) {
  std::lock_guard lock(mutex_);
  active_.erase(request);
  std::erase_if(seqs_, [&](const auto& entry) { return entry.second.first.get() == request; });
  wake_.notify_all();
}

Result<std::vector<SeqId>> ClusterEngineClient::submit_all(std::vector<SequenceRequest> requests,
                                                           std::shared_ptr<TokenSink> sink) {
  if (requests.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "a request needs at least one sequence");
  }
  std::shared_ptr<RoutedRequest> routed;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      return make_error(ErrorCode::kUnavailable, "the frontend is shutting down; retry elsewhere");
    }
    const std::string id = fmt::format("{:x}-{}", config_.frontend_epoch, ++next_request_);
    routed = std::make_shared<RoutedRequest>(*this, id, std::move(requests), std::move(sink));
    active_[routed.get()] = routed;
  }
  if (Status started = routed->start(); !started.ok()) {
    std::lock_guard lock(mutex_);
    active_.erase(routed.get());
    return started.error();
  }
  std::lock_guard lock(mutex_);
  std::vector<SeqId> ids;
  for (size_t i = 0; i < routed->size(); ++i) {
    const SeqId id = next_seq_++;
    seqs_[id] = {routed, static_cast<int32_t>(i)};
    ids.push_back(id);
  }
  return ids;
}

void ClusterEngineClient::cancel(SeqId id) {
  std::shared_ptr<RoutedRequest> routed;
  int32_t index = 0;
  {
    std::lock_guard lock(mutex_);
    auto it = seqs_.find(id);
    if (it == seqs_.end()) return;
    routed = it->second.first;
    index = it->second.second;
  }
  routed->cancel(index);
}

EngineStats ClusterEngineClient::stats() const {
  std::lock_guard lock(mutex_);
  EngineStats total;
  for (const auto& [address, worker] : workers_) {
    if (!worker->polled) continue;
    const EngineStats s = from_proto(worker->status.stats());
    total.waiting += s.waiting;
    total.running += s.running;
    total.kv_blocks_total += s.kv_blocks_total;
    total.kv_blocks_used += s.kv_blocks_used;
    total.kv_blocks_free += s.kv_blocks_free;
    total.prefix_queries += s.prefix_queries;
    total.prefix_hits += s.prefix_hits;
    total.prompt_tokens += s.prompt_tokens;
    total.cached_tokens += s.cached_tokens;
    total.generated_tokens += s.generated_tokens;
    total.steps += s.steps;
    total.preemptions += s.preemptions;
    total.sampling_steps += s.sampling_steps;
  }
  return total;
}

EngineLimits ClusterEngineClient::limits() const {
  // What every worker up now takes: the smallest of each.
  std::lock_guard lock(mutex_);
  std::optional<EngineLimits> out;
  for (const auto& [address, worker] : workers_) {
    if (!worker->polled || !worker->up) continue;
    const EngineLimits l = from_proto(worker->status.limits());
    if (!out) {
      out = l;
      continue;
    }
    out->max_context = std::min(out->max_context, l.max_context);
    out->kv_blocks_total = std::min(out->kv_blocks_total, l.kv_blocks_total);
    out->max_running = std::min(out->max_running, l.max_running);
    out->max_waiting = std::min(out->max_waiting, l.max_waiting);
  }
  return out.value_or(EngineLimits{});
}

std::vector<uint64_t> ClusterEngineClient::expert_token_counts() const {
  std::lock_guard lock(mutex_);
  std::vector<uint64_t> total;
  for (const auto& [address, worker] : workers_) {
    const auto& counts = worker->status.expert_token_counts();
    if (!worker->polled || counts.empty()) continue;
    if (total.empty()) total.assign(counts.size(), 0);
    if (total.size() != static_cast<size_t>(counts.size())) continue;
    for (int i = 0; i < counts.size(); ++i) total[i] += counts[i];
  }
  return total;
}

void ClusterEngineClient::poll_loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    // Departed workers past their grace are forgotten here (set_workers may not run again).
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(workers_, [&](const auto& entry) {
      const bool gone =
          entry.second->departed && now - *entry.second->departed >= config_.departed_grace;
      if (gone) stop_kv_events(*entry.second);
      return gone;
    });
    std::vector<std::shared_ptr<Worker>> workers;
    std::vector<int64_t> released_before_poll;  // what each had released before its poll
    for (const auto& [address, worker] : workers_) {
      workers.push_back(worker);
      released_before_poll.push_back(worker->released_total);
    }
    lock.unlock();
    for (size_t i = 0; i < workers.size(); ++i) {
      const std::shared_ptr<Worker>& worker = workers[i];
      auto reply = worker->client->status(std::chrono::milliseconds(1000));
      std::lock_guard relock(mutex_);
      if (!reply.ok()) {
        if (worker->up)
          spdlog::warn("worker {} is down: {}", worker->endpoint.address, reply.error().message);
        worker->up = false;
        continue;
      }
      const bool matches = config_.weights_fingerprint == 0 || reply->weights_fingerprint() == 0 ||
                           reply->weights_fingerprint() == config_.weights_fingerprint;
      if (!matches && !worker->polled) {
        spdlog::error("worker {} serves other weights ({}, the frontend's are {}): not routed to",
                      worker->endpoint.address, fingerprint_hex(reply->weights_fingerprint()),
                      fingerprint_hex(config_.weights_fingerprint));
      }
      const bool up = matches && !reply->draining();
      if (up && !worker->up) spdlog::info("worker {} is up", worker->endpoint.address);
      if (!up && worker->up) {
        spdlog::info("worker {} is {}", worker->endpoint.address,
                     reply->draining() ? "draining" : "serving other weights");
      }
      const auto now = std::chrono::steady_clock::now();
      worker->last_answer = now;
      if (!worker->polled || reply->stats().steps() != worker->status.stats().steps()) {
        worker->last_step = now;
      }
      worker->status = std::move(*reply);
      worker->released_reported = worker->released_at_last_poll;
      worker->released_at_last_poll = released_before_poll[i];
      worker->polled = true;
      worker->up = up;
      subscribe_kv_events(worker);
    }
    lock.lock();
    wake_.wait_for(lock, config_.status_interval);
  }
}

void ClusterEngineClient::sweep_loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    std::vector<std::shared_ptr<RoutedRequest>> active;
    for (const auto& [raw, request] : active_) active.push_back(request);
    lock.unlock();
    const auto now = RoutedRequest::Clock::now();
    for (const auto& request : active) request->sweep(now);
    active.clear();
    lock.lock();
    wake_.wait_for(lock, std::chrono::milliseconds(50), [&] { return stopping_; });
  }
}

void ClusterEngineClient::stop() {
  std::vector<std::shared_ptr<RoutedRequest>> active;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !poller_.joinable()) return;
    stopping_ = true;
    for (const auto& [raw, request] : active_) active.push_back(request);
  }
  wake_.notify_all();
  for (const auto& request : active) request->abort();
  active.clear();
  {
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, std::chrono::seconds(5), [&] { return active_.empty(); });
  }
  if (poller_.joinable()) poller_.join();
  if (sweeper_.joinable()) sweeper_.join();
  // The KvEvents calls hold this client: wait until gRPC has ended each one.
  std::unique_lock lock(mutex_);
  for (auto& [address, worker] : workers_) stop_kv_events(*worker);
  if (!wake_.wait_for(lock, std::chrono::seconds(10), [&] { return kv_streams_live_ == 0; })) {
    spdlog::error("{} KV event stream(s) did not end in 10 s", kv_streams_live_);
  }
}

}  // namespace mx
