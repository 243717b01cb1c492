// cluster_member: one Membership in a process of its own, for the cluster tests to SIGSTOP and
// kill (a stopped process stops its keep-alives, as a hung worker would).
//   cluster_member <endpoint> <cluster> <name> <ttl seconds>
// Registers as role "worker", prints "epoch <hex>" whenever its epoch changes, runs until killed.
// (.cc, not .cpp: tests/CMakeLists.txt globs tests/unit/cluster/*.cpp into test_cluster.)
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "cluster/membership.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s <endpoint> <cluster> <name> <ttl seconds>\n", argv[0]);
    return 2;
  }
  mx::MembershipConfig config;
  config.endpoints = {argv[1]};
  config.cluster = argv[2];
  config.lease_ttl_seconds = std::atof(argv[4]);
  config.rpc_timeout_seconds = 0.5;
  mx::Member self;
  self.name = argv[3];
  self.role = "worker";
  self.address = "127.0.0.1:1";
  mx::Membership membership;
  mx::Status started = membership.start(config, self);
  if (!started.ok()) {
    std::fprintf(stderr, "cluster_member: %s\n", started.error().message.c_str());
    return 1;
  }
  int64_t printed = 0;
  while (true) {
    int64_t epoch = membership.epoch();
    if (epoch != printed && epoch != 0) {
      std::printf("epoch %016llx\n", static_cast<unsigned long long>(epoch));
      std::fflush(stdout);
      printed = epoch;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}
