#include "app/cluster_flags.h"

namespace mx::app {

void add_cluster_flags(CLI::App& sub, ClusterFlags& flags) {
  sub.add_option("--etcd", flags.etcd,
                 "etcd endpoints (host:port, comma-separated): membership, leases, epochs")
      ->envname("MXSERVE_ETCD")
      ->delimiter(',');
  sub.add_option("--cluster", flags.cluster, "Cluster name: the etcd key prefix it lives under")
      ->envname("MXSERVE_CLUSTER")
      ->capture_default_str();
  sub.add_option("--lease-ttl", flags.lease_ttl,
                 "Seconds a process stays a member after its last keep-alive (2-300)")
      ->envname("MXSERVE_LEASE_TTL")
      ->check(CLI::Range(2.0, 300.0))
      ->capture_default_str();
  sub.add_option("--etcd-wait", flags.etcd_wait,
                 "Seconds to keep trying to register with etcd at start before giving up "
                 "(etcd may be starting too, or slow)")
      ->envname("MXSERVE_ETCD_WAIT")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
}

MembershipConfig membership_config(const ClusterFlags& flags) {
  MembershipConfig config;
  config.endpoints = flags.etcd;
  config.cluster = flags.cluster;
  config.lease_ttl_seconds = flags.lease_ttl;
  config.rpc_timeout_seconds = std::min(2.0, flags.lease_ttl / 3);
  config.start_wait_seconds = flags.etcd_wait;
  return config;
}

}  // namespace mx::app
