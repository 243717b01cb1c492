#include "cluster/membership.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

namespace mx {
namespace {

constexpr auto kWatchStep = std::chrono::milliseconds(200);  // how often the watch sees stop()

bool valid_cluster_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

}  // namespace

Status MembershipConfig::validate() const {
  MX_RETURN_IF_ERROR((EtcdClientConfig{endpoints, rpc_timeout_seconds}.validate()));
  if (!valid_cluster_name(cluster)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "cluster name '{}' must be 1-64 characters of A-Z, a-z, 0-9, '_' and '-'",
                      cluster);
  }
  if (!(lease_ttl_seconds >= 2 && lease_ttl_seconds <= 300) ||
      lease_ttl_seconds != std::floor(lease_ttl_seconds)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "lease TTL must be a whole number of seconds from 2 to 300, got {}",
                      lease_ttl_seconds);
  }
  if (!(retry_min_seconds > 0 && retry_max_seconds >= retry_min_seconds &&
        retry_max_seconds <= 60)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "etcd retry backoff must satisfy 0 < min <= max <= 60 s, got {} and {}",
                      retry_min_seconds, retry_max_seconds);
  }
  return ok_status();
}

Membership::Membership() = default;
Membership::~Membership() { stop(); }

Status Membership::start(const MembershipConfig& config, Member self) {
  MX_RETURN_IF_ERROR(config.validate());
  MX_RETURN_IF_ERROR(validate_role(self.role));
  if (lease_thread_.joinable()) {
    return make_error(ErrorCode::kInternal, "membership started twice: stop() it first");
  }
  config_ = config;
  prefix_ = members_prefix(config.cluster);
  MX_ASSIGN_OR_RETURN(client_, EtcdClient::create({config.endpoints, config.rpc_timeout_seconds}));
  {
    std::lock_guard lock(mutex_);
    self_ = std::move(self);
    self_.epoch = 0;
  }
  // One try per endpoint (a failed call moves the client on to the next one), then the same
  // with backoff until start_wait_seconds have passed.
  const auto give_up =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(config.start_wait_seconds);
  Status registered = register_self();
  for (size_t i = 1; i < config.endpoints.size() && !registered.ok(); ++i) {
    registered = register_self();
  }
  for (double backoff = config.retry_min_seconds;
       !registered.ok() && std::chrono::steady_clock::now() < give_up;) {
    spdlog::warn("membership: cannot register with etcd yet ({}); retrying",
                 registered.error().message);
    std::this_thread::sleep_for(std::chrono::duration<double>(next_backoff(backoff)));
    registered = register_self();
  }
  if (!registered.ok()) {
    return std::move(registered)
        .error()
        .with_context(
            "membership: cannot register with etcd (is etcd running at the given endpoints?)");
  }
  stopping_ = false;
  lease_thread_ = std::thread([this] { lease_loop(); });
  watch_thread_ = std::thread([this] { watch_loop(); });
  return ok_status();
}

void Membership::stop() {
  if (!lease_thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  lease_thread_.join();
  watch_thread_.join();
  int64_t epoch = epoch_.exchange(0);
  if (epoch == 0) return;
  Status revoked = client_->lease_revoke(epoch);
  if (revoked.ok()) {
    spdlog::info("membership: left cluster '{}' (lease {:016x} revoked)", config_.cluster, epoch);
  } else {
    spdlog::warn("membership: could not revoke lease {:016x}, its key expires in {} s: {}", epoch,
                 config_.lease_ttl_seconds, revoked.error().message);
  }
}

int64_t Membership::epoch() const { return epoch_.load(); }

MembershipView Membership::view() const {
  std::lock_guard lock(mutex_);
  MembershipView view;
  view.revision = revision_;
  view.connected = connected_;
  for (const auto& [key, member] : members_) view.members.push_back(member);
  return view;
}

void Membership::on_change(std::function<void()> callback) {
  std::lock_guard lock(mutex_);
  on_change_ = std::move(callback);
}

void Membership::notify() {
  std::function<void()> callback;
  {
    std::lock_guard lock(mutex_);
    callback = on_change_;
  }
  if (callback) callback();
}

bool Membership::sleep_for(double seconds) {
  std::unique_lock lock(mutex_);
  auto duration = std::chrono::duration<double>(seconds);
  return !wake_.wait_for(lock, duration, [this] { return stopping_.load(); });
}

double Membership::next_backoff(double& backoff) const {
  double now = backoff;
  backoff = std::min(backoff * 2, config_.retry_max_seconds);
  return now;
}

// --- lease thread ---

Status Membership::register_self() {
  MX_ASSIGN_OR_RETURN(EtcdLease lease,
                      client_->lease_grant(static_cast<int64_t>(config_.lease_ttl_seconds)));
  Member me;
  {
    std::lock_guard lock(mutex_);
    me = self_;
  }
  me.epoch = lease.id;
  std::string key = member_key(config_.cluster, me);
  auto put = client_->put(key, member_to_json(me), lease.id);
  if (!put.ok()) {
    static_cast<void>(client_->lease_revoke(lease.id));  // else it expires after its TTL
    return std::move(put).error();
  }
  {
    std::lock_guard lock(mutex_);
    self_.epoch = lease.id;
  }
  epoch_ = lease.id;
  spdlog::info("membership: registered {} (epoch {:016x}, TTL {} s)", key, lease.id,
               lease.ttl_seconds);
  return ok_status();
}

Status Membership::keep_alive_until_broken(LeaseRetry& retry) {
  const int64_t epoch = epoch_.load();
  MX_ASSIGN_OR_RETURN(auto stream, client_->open_keep_alive(epoch));
  while (!stopping_) {
    MX_ASSIGN_OR_RETURN(int64_t ttl, stream->keep_alive());
    if (ttl <= 0) {
      return make_error(ErrorCode::kNotFound, "etcd no longer knows lease {:016x}: it expired",
                        epoch);
    }
    if (retry.failing) spdlog::info("membership: lease {:016x} kept alive again", epoch);
    retry.succeeded(config_.retry_min_seconds);
    if (!sleep_for(config_.lease_ttl_seconds / 3)) break;
  }
  return ok_status();
}

void Membership::lease_loop() {
  LeaseRetry retry;
  retry.backoff = config_.retry_min_seconds;
  // Retrying slower than ttl/3 would let a lease expire over a short blip.
  const double retry_max = std::min(config_.retry_max_seconds, config_.lease_ttl_seconds / 3);
  auto failed = [&](std::string_view what, const Error& error) {
    if (!retry.failing) spdlog::warn("membership: {}: {}", what, error.message);
    retry.failing = true;
    bool go_on = sleep_for(retry.backoff);
    retry.backoff = std::min(retry.backoff * 2, retry_max);
    return go_on;
  };
  while (!stopping_) {
    if (epoch_ == 0) {
      Status registered = register_self();
      if (!registered.ok()) {
        if (!failed("registering", registered.error())) break;
        continue;
      }
      retry.succeeded(config_.retry_min_seconds);
    }
    Status why = keep_alive_until_broken(retry);
    if (stopping_ || why.ok()) continue;
    if (why.error().code == ErrorCode::kNotFound) {
      spdlog::warn("membership: {}; registering again under a new lease (new epoch)",
                   why.error().message);
      epoch_ = 0;
      continue;
    }
    // The stream broke or etcd did not answer: the lease may still be alive, keep it.
    if (!failed("keep-alive", why.error())) break;
  }
}

// --- watch thread ---

Status Membership::watch_until_broken() {
  auto quiet_check =
      std::chrono::milliseconds(static_cast<int64_t>(config_.lease_ttl_seconds / 3 * 1000));
  MX_ASSIGN_OR_RETURN(auto watch, client_->watch_prefix(prefix_, quiet_check));
  size_t n_members = 0;
  {
    std::lock_guard lock(mutex_);
    members_.clear();
    for (const EtcdKeyValue& kv : watch->snapshot().kvs) {
      auto member = member_from_json(kv.value);
      if (!member.ok()) {
        spdlog::warn("membership: ignoring {}: {}", kv.key, member.error().message);
        continue;
      }
      member->epoch = kv.lease;
      members_[kv.key] = std::move(*member);
    }
    revision_ = watch->snapshot().revision;
    connected_ = true;
    n_members = members_.size();
  }
  spdlog::info("membership: {} members under {} at revision {}", n_members, prefix_,
               watch->snapshot().revision);
  notify();
  while (!stopping_) {
    MX_ASSIGN_OR_RETURN(std::vector<EtcdEvent> events, watch->next(kWatchStep));
    if (events.empty()) continue;
    {
      std::lock_guard lock(mutex_);
      for (const EtcdEvent& event : events) {
        if (event.type == EtcdEvent::Type::kDelete) {
          members_.erase(event.kv.key);
          continue;
        }
        auto member = member_from_json(event.kv.value);
        if (!member.ok()) {
          spdlog::warn("membership: ignoring {}: {}", event.kv.key, member.error().message);
          continue;
        }
        member->epoch = event.kv.lease;
        members_[event.kv.key] = std::move(*member);
      }
      revision_ = watch->revision();
    }
    notify();
  }
  return ok_status();
}

void Membership::watch_loop() {
  double backoff = config_.retry_min_seconds;
  while (!stopping_) {
    Status why = watch_until_broken();
    if (stopping_) break;
    bool was_connected = false;
    {
      std::lock_guard lock(mutex_);
      was_connected = connected_;
      connected_ = false;
    }
    if (was_connected) {
      backoff = config_.retry_min_seconds;
      spdlog::warn("membership: watch lost ({}); keeping the last view until etcd answers",
                   why.ok() ? "stream ended" : why.error().message);
      notify();
    }
    if (!sleep_for(next_backoff(backoff))) break;
  }
}

}  // namespace mx
