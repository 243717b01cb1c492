// Membership: which mxserve processes make up a cluster, kept in etcd (docs/architecture.md,
// "Membership (etcd)").
//
// Each process registers itself under its own lease: key members_prefix(cluster)/<role>/<epoch as
// 16 hex digits>, value the Member as JSON. The lease id is the process's epoch. Two threads, one
// job each:
//   - the lease thread registers, then keeps the lease alive every ttl/3 on a keep-alive stream;
//     when etcd says the lease is gone (it expired while this process or etcd was stopped) it
//     registers again under a NEW lease, i.e. a new epoch (logged);
//   - the watch thread reads the whole members prefix at a revision R and watches from R+1; any
//     failure (etcd unreachable, stopped, watch cancelled) marks the view disconnected and, once
//     etcd answers again, reads the whole prefix again, so a reconnect never keeps a stale view.
// During an etcd outage the last view stays (connected = false), both threads retry with a
// bounded backoff (0.2 s doubling to 2 s) and nothing exits or throws: serving goes on.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster/etcd_client.h"
#include "cluster/member.h"
#include "core/status.h"

namespace mx {

struct MembershipConfig {
  std::vector<std::string> endpoints;  // etcd client endpoints, "host:port" or "http://host:port"
  std::string cluster = "default";     // key segment: 1-64 characters of [A-Za-z0-9_-]
  double lease_ttl_seconds = 6;        // whole seconds, 2-300; keep-alive every ttl/3
  double rpc_timeout_seconds = 2;      // deadline of each etcd call (<= ttl/3 is sensible)
  double retry_min_seconds = 0.2;      // backoff while etcd is unreachable: doubles up to max
  double retry_max_seconds = 2;
  // At start: how long to keep trying to register (with the backoff above) before start()
  // fails — etcd may be starting too, or slow. 0: one try per endpoint.
  double start_wait_seconds = 0;

  Status validate() const;
};

struct MembershipView {
  std::vector<Member> members;  // every registered process, this one included; by role, epoch
  int64_t revision = 0;         // the etcd revision the view reflects
  bool connected = false;       // false: etcd unreachable, the view is the last one seen
};

class Membership {
 public:
  Membership();
  ~Membership();  // stop()
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  // Registers `self` (its epoch is ignored: the lease decides it) and starts the lease and watch
  // threads. Errors: an invalid config or role, or etcd not answering within start_wait_seconds
  // (kUnavailable: check the endpoints); later outages are survived, never reported as errors.
  Status start(const MembershipConfig& config, Member self);
  // Stops both threads and revokes the lease, so the key disappears at once (if etcd is
  // reachable; otherwise it expires after the TTL). Idempotent.
  void stop();

  int64_t epoch() const;  // the current lease id; 0 before start or while re-registering
  MembershipView view() const;
  // Called (on the watch thread) after the view or its connected flag changed. Keep it
  // short and do not call stop() from it. Set it before start().
  void on_change(std::function<void()> callback);

 private:
  void lease_loop();
  void watch_loop();
  Status register_self();  // grant a lease, put the key under it
  struct LeaseRetry {      // the lease thread's backoff while etcd does not answer
    double backoff = 0;
    bool failing = false;  // logged once per outage
    void succeeded(double min_backoff) {
      backoff = min_backoff;
      failing = false;
    }
  };
  Status keep_alive_until_broken(LeaseRetry& retry);  // returns why it stopped
  Status watch_until_broken();
  void notify();
  bool sleep_for(double seconds);  // false when stopping
  double next_backoff(double& backoff) const;

  MembershipConfig config_;
  std::unique_ptr<EtcdClient> client_;
  std::string prefix_;

  mutable std::mutex mutex_;  // guards self_, members_, revision_, connected_, on_change_
  std::condition_variable wake_;
  Member self_;
  std::map<std::string, Member> members_;  // by key
  int64_t revision_ = 0;
  bool connected_ = false;
  std::function<void()> on_change_;

  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> epoch_{0};
  std::thread lease_thread_;
  std::thread watch_thread_;
};

}  // namespace mx
