// Flags of the cluster roles' membership: where etcd is, which cluster, the lease's TTL.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "cluster/membership.h"

namespace mx::app {

struct ClusterFlags {
  std::vector<std::string> etcd;  // endpoints; empty: no membership (static --worker list)
  std::string cluster = "default";
  double lease_ttl = 6;
  double etcd_wait = 30;  // seconds to keep trying to register at start
};

void add_cluster_flags(CLI::App& sub, ClusterFlags& flags);
MembershipConfig membership_config(const ClusterFlags& flags);

}  // namespace mx::app
