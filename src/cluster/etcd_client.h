// EtcdClient: the few etcd v3 calls mxserve's membership needs, over the gRPC stubs generated at
// build time from etcd's own .proto files (src/cluster/CMakeLists.txt). Every call has a deadline
// (EtcdClientConfig::rpc_timeout_seconds) and returns an Error whose message names the endpoint,
// the call and what to do; nothing throws. Unreachable or timed-out calls are kUnavailable (retry
// later) and move the client to the next endpoint of the list.
//
// Streams: EtcdKeepAlive (one lease's keep-alive stream) and EtcdWatch (a prefix: its contents at
// a revision R, then the events from R+1, so a new watch after a broken one never leaves a stale
// view). Both are used by one thread at a time and wait at most until the deadlines they are
// given: a stopped (SIGSTOP) etcd shows as a timeout, not as a blocked thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace mx {

struct EtcdClientConfig {
  std::vector<std::string> endpoints;  // "host:port" or "http://host:port" (no TLS yet)
  double rpc_timeout_seconds = 2.0;    // deadline of each call, and of each stream step

  Status validate() const;
};

struct EtcdKeyValue {
  std::string key;
  std::string value;
  int64_t mod_revision = 0;
  int64_t lease = 0;  // 0: no lease
};

// A prefix's keys at one revision of the store.
struct EtcdRange {
  std::vector<EtcdKeyValue> kvs;
  int64_t revision = 0;
};

struct EtcdEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  EtcdKeyValue kv;  // for kDelete only key and mod_revision are set
};

struct EtcdLease {
  int64_t id = 0;
  int64_t ttl_seconds = 0;
};

class EtcdKeepAlive;
class EtcdWatch;
struct EtcdChannels;

class EtcdClient {
 public:
  // Checks the config; connects lazily (the first call does).
  static Result<std::unique_ptr<EtcdClient>> create(const EtcdClientConfig& config);
  ~EtcdClient();

  Result<EtcdLease> lease_grant(int64_t ttl_seconds);
  Status lease_revoke(int64_t lease_id);  // kNotFound when the lease had expired already
  // Returns the store's revision after the put. lease_id 0: no lease.
  Result<int64_t> put(const std::string& key, const std::string& value, int64_t lease_id = 0);
  Result<EtcdRange> get_prefix(const std::string& prefix);
  Result<int64_t> delete_key(const std::string& key);  // how many keys were deleted (0 or 1)

  Result<std::unique_ptr<EtcdKeepAlive>> open_keep_alive(int64_t lease_id);
  // Reads the prefix, then watches it from the revision read + 1. `quiet_check`: after this long
  // without a message, EtcdWatch::next asks etcd for a progress answer, which must come within
  // the RPC timeout (a liveness check of the stream).
  Result<std::unique_ptr<EtcdWatch>> watch_prefix(const std::string& prefix,
                                                  std::chrono::milliseconds quiet_check);

  const std::string& endpoint() const;  // the endpoint the next call goes to

 private:
  explicit EtcdClient(std::unique_ptr<EtcdChannels> channels);
  std::unique_ptr<EtcdChannels> channels_;
};

class EtcdKeepAlive {
 public:
  struct Impl;
  explicit EtcdKeepAlive(std::unique_ptr<Impl> impl);
  ~EtcdKeepAlive();

  // Sends one keep-alive and waits (RPC timeout) for its answer: the lease's TTL in seconds from
  // now; 0 when the lease does not exist any more (expired or revoked: register again under a
  // new lease); also kNotFound if etcd ends the stream with NOT_FOUND. Other errors (the stream
  // broke, etcd did not answer, kUnavailable): open a new stream, the lease may still be alive.
  Result<int64_t> keep_alive();

 private:
  std::unique_ptr<Impl> impl_;
};

class EtcdWatch {
 public:
  struct Impl;
  explicit EtcdWatch(std::unique_ptr<Impl> impl);
  ~EtcdWatch();

  // The prefix's contents when the watch was opened; events follow from snapshot().revision + 1.
  const EtcdRange& snapshot() const;
  // Waits up to `wait` for events: empty when none came. An error when the stream broke, etcd
  // did not answer a progress check, or etcd cancelled the watch (compaction): the caller opens
  // a new watch, which reads the whole prefix again.
  Result<std::vector<EtcdEvent>> next(std::chrono::milliseconds wait);
  // The revision of the latest message etcd sent on this watch (events or progress).
  int64_t revision() const;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace mx
