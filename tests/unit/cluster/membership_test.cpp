// Membership against a real etcd (one per test, TTL 2 s): etcdctl checks the keys and leases,
// faults are real (SIGSTOP / SIGKILL of etcd or of a member process, a cut TCP path).
#include "cluster/membership.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "etcd_process.h"
#include "tcp_proxy.h"

namespace mx {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

std::set<std::string> names(const MembershipView& view) {
  std::set<std::string> out;
  for (const Member& member : view.members) out.insert(member.name);
  return out;
}

std::optional<Member> find(const MembershipView& view, const std::string& name) {
  for (const Member& member : view.members) {
    if (member.name == name) return member;
  }
  return std::nullopt;
}

// Timings worth knowing (not asserted beyond their bounds): printed for docs and reports.
void report(const char* what, Clock::duration elapsed) {
  std::printf("[ measured ] %s: %lld ms\n", what,
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
}

Member member(std::string name, std::string role) {
  Member out;
  out.name = std::move(name);
  out.role = std::move(role);
  return out;
}

class MembershipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(test::EtcdProcess::kBinary, X_OK) != 0) {
      GTEST_SKIP() << test::EtcdProcess::kBinary << " missing: apt-get install etcd-server";
    }
    std::string error;
    ASSERT_TRUE(etcd_.start(error)) << error;
  }

  MembershipConfig config(std::string endpoint = "") const {
    MembershipConfig config;
    config.endpoints = {endpoint.empty() ? etcd_.endpoint() : endpoint};
    config.cluster = "t";
    config.lease_ttl_seconds = 2;
    config.rpc_timeout_seconds = 0.5;
    config.retry_max_seconds = 1;
    return config;
  }
  // The keys etcd holds for these processes' current epochs, as member_key names them.
  std::vector<std::string> expected_keys(std::vector<std::pair<std::string, int64_t>> roles) {
    std::vector<std::string> keys;
    for (auto& [role, epoch] : roles) {
      Member m = member("", role);
      m.epoch = epoch;
      keys.push_back(member_key("t", m));
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  test::EtcdProcess etcd_;
};

TEST_F(MembershipTest, TwoMembersSeeEachOther) {
  Membership worker, frontend;
  std::atomic<int> changes{0};
  frontend.on_change([&] { ++changes; });
  Member self = member("w1", "worker");
  self.address = "10.0.0.1:7000";
  self.weights_fingerprint = "sha256:abc";
  self.capacity_kv_blocks = 1024;
  self.max_running = 8;
  self.epoch = 12345;  // ignored: the lease decides
  ASSERT_TRUE(worker.start(config(), self).ok());
  ASSERT_TRUE(frontend.start(config(), member("f1", "frontend")).ok());
  EXPECT_NE(worker.epoch(), 12345);
  EXPECT_NE(worker.epoch(), frontend.epoch());

  for (Membership* m : {&worker, &frontend}) {
    EXPECT_TRUE(test::wait_until(
        [&] {
          return names(m->view()) == std::set<std::string>{"w1", "f1"};
        },
        milliseconds(3000)));
    EXPECT_TRUE(m->view().connected);
  }
  EXPECT_GT(changes.load(), 0);
  auto seen = find(frontend.view(), "w1");
  ASSERT_TRUE(seen);
  self.epoch = worker.epoch();
  EXPECT_EQ(*seen, self);

  // etcd itself (read by etcdctl): one key per process, named by role and epoch, held by the
  // lease whose id is the epoch, with the JSON value.
  EXPECT_EQ(etcd_.keys("/mxserve/t/members/"),
            expected_keys({{"worker", worker.epoch()}, {"frontend", frontend.epoch()}}));
  std::string key = member_key("t", self);
  auto lease = etcd_.etcdctl(fmt::format("lease timetolive {:x} --keys", worker.epoch()));
  ASSERT_TRUE(lease);
  EXPECT_NE(lease->find("granted with TTL(2s)"), std::string::npos) << *lease;
  EXPECT_NE(lease->find(key), std::string::npos) << *lease;
  auto value = etcd_.etcdctl("get " + key + " --print-value-only");
  ASSERT_TRUE(value);
  auto json = nlohmann::json::parse(*value);
  EXPECT_EQ(json["address"], "10.0.0.1:7000");
  EXPECT_EQ(json["capacity_kv_blocks"], 1024);
}

TEST_F(MembershipTest, StopRemovesTheKeyAtOnce) {
  Membership worker, frontend;
  ASSERT_TRUE(worker.start(config(), member("w1", "worker")).ok());
  ASSERT_TRUE(frontend.start(config(), member("f1", "frontend")).ok());
  ASSERT_TRUE(
      test::wait_until([&] { return frontend.view().members.size() == 2; }, milliseconds(3000)));
  int64_t frontend_epoch = frontend.epoch();
  worker.stop();
  auto stopped = Clock::now();
  EXPECT_EQ(worker.epoch(), 0);
  EXPECT_EQ(etcd_.keys("/mxserve/t/members/"), expected_keys({{"frontend", frontend_epoch}}));
  // The others see it go well before the 2 s TTL would have expired it.
  EXPECT_TRUE(
      test::wait_until([&] { return frontend.view().members.size() == 1; }, milliseconds(1000)));
  EXPECT_LT(Clock::now() - stopped, milliseconds(1000));
  report("stop() -> gone from another member's view", Clock::now() - stopped);
}

TEST_F(MembershipTest, StoppedProcessVanishesAfterItsTtlAndReturnsUnderANewEpoch) {
  Membership frontend;
  ASSERT_TRUE(frontend.start(config(), member("f1", "frontend")).ok());
  test::ChildProcess child;
  std::string log = ::testing::TempDir() + "cluster_member.log";
  ASSERT_TRUE(child.start({MX_CLUSTER_MEMBER_BIN, etcd_.endpoint(), "t", "hung", "2"}, log));
  ASSERT_TRUE(test::wait_until([&] { return find(frontend.view(), "hung").has_value(); },
                               milliseconds(5000)));
  int64_t old_epoch = find(frontend.view(), "hung")->epoch;

  child.pause();  // SIGSTOP: no more keep-alives
  auto paused = Clock::now();
  EXPECT_TRUE(test::wait_until([&] { return !find(frontend.view(), "hung").has_value(); },
                               milliseconds(5000)));
  auto gone_after = Clock::now() - paused;
  report("member SIGSTOPped -> gone from the view (TTL 2 s)", gone_after);
  EXPECT_GT(gone_after, milliseconds(1000));  // its lease, not something else, removed it
  EXPECT_LT(gone_after, milliseconds(4000));

  child.resume();  // its keep-alive hears "TTL 0" and it registers under a new lease
  EXPECT_TRUE(test::wait_until(
      [&] {
        auto back = find(frontend.view(), "hung");
        return back && back->epoch != old_epoch;
      },
      milliseconds(5000)));
  auto back = find(frontend.view(), "hung");
  ASSERT_TRUE(back);
  EXPECT_EQ(etcd_.keys("/mxserve/t/members/"),
            expected_keys({{"frontend", frontend.epoch()}, {"worker", back->epoch}}));
  child.kill();
}

// etcd down (SIGKILL or SIGSTOP) for longer than the TTL: the views stay as they were
// (connected = false), nothing exits; once etcd is back every process is registered again
// (same epoch if etcd kept the lease, a new one if it expired) and the views are complete.
void outage_test(test::EtcdProcess& etcd, const MembershipConfig& config, bool kill) {
  Membership worker, frontend;
  ASSERT_TRUE(worker.start(config, member("w1", "worker")).ok());
  ASSERT_TRUE(frontend.start(config, member("f1", "frontend")).ok());
  for (Membership* m : {&worker, &frontend}) {
    ASSERT_TRUE(
        test::wait_until([&] { return m->view().members.size() == 2; }, milliseconds(3000)));
  }
  if (kill) {
    etcd.kill();
  } else {
    etcd.pause();
  }
  auto down = Clock::now();
  for (Membership* m : {&worker, &frontend}) {
    EXPECT_TRUE(test::wait_until([&] { return !m->view().connected; }, milliseconds(2500)));
  }
  report(kill ? "etcd SIGKILLed -> both views disconnected"
              : "etcd SIGSTOPped -> both views disconnected",
         Clock::now() - down);
  while (Clock::now() - down < milliseconds(3000)) {  // > TTL
    for (Membership* m : {&worker, &frontend}) {
      EXPECT_EQ(names(m->view()), (std::set<std::string>{"w1", "f1"}));  // frozen
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  if (kill) {
    std::string error;
    ASSERT_TRUE(etcd.start(error)) << error;  // same ports, same data dir
  } else {
    etcd.resume();
  }
  auto complete = [&] {
    std::set<int64_t> epochs = {worker.epoch(), frontend.epoch()};
    for (Membership* m : {&worker, &frontend}) {
      MembershipView view = m->view();
      std::set<int64_t> seen;
      for (const Member& member : view.members) seen.insert(member.epoch);
      if (!view.connected || seen != epochs || names(view).size() != 2) return false;
    }
    return true;
  };
  auto back = Clock::now();
  EXPECT_TRUE(test::wait_until(complete, milliseconds(8000)));
  report(kill ? "etcd restarted (answering) -> views complete and connected"
              : "etcd SIGCONT -> views complete and connected",
         Clock::now() - back);
  std::vector<std::string> keys;
  for (auto [role, epoch] : {std::pair<std::string, int64_t>{"worker", worker.epoch()},
                             std::pair<std::string, int64_t>{"frontend", frontend.epoch()}}) {
    Member m = member("", role);
    m.epoch = epoch;
    keys.push_back(member_key("t", m));
  }
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(etcd.keys("/mxserve/t/members/"), keys);  // no stale key of an old epoch
}

TEST_F(MembershipTest, EtcdKilledLongerThanTheTtlFreezesTheViewThenRecovers) {
  outage_test(etcd_, config(), /*kill=*/true);
}

TEST_F(MembershipTest, EtcdStoppedLongerThanTheTtlFreezesTheViewThenRecovers) {
  outage_test(etcd_, config(), /*kill=*/false);
}

// The frontend's path to etcd is cut; meanwhile one worker leaves and another joins. The view
// stays frozen while cut; on reconnect it is read whole again: the newcomer is there and the
// leaver gone (a watch resumed at "now" would miss both).
TEST_F(MembershipTest, WatchReconnectResyncsTheWholePrefix) {
  test::TcpProxy proxy(etcd_.client_port());
  ASSERT_TRUE(proxy.listening());
  MembershipConfig via_proxy = config("127.0.0.1:" + std::to_string(proxy.port()));
  via_proxy.lease_ttl_seconds = 6;  // the frontend's own lease outlives the cut
  Membership frontend, leaver, joiner;
  ASSERT_TRUE(frontend.start(via_proxy, member("f1", "frontend")).ok());
  ASSERT_TRUE(leaver.start(config(), member("leaver", "worker")).ok());
  ASSERT_TRUE(test::wait_until(
      [&] {
        return names(frontend.view()) == std::set<std::string>{"f1", "leaver"};
      },
      milliseconds(3000)));

  proxy.cut();
  ASSERT_TRUE(test::wait_until([&] { return !frontend.view().connected; }, milliseconds(2500)));
  leaver.stop();
  ASSERT_TRUE(joiner.start(config(), member("joiner", "worker")).ok());
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(names(frontend.view()), (std::set<std::string>{"f1", "leaver"}));  // frozen

  ASSERT_TRUE(proxy.restore());
  EXPECT_TRUE(test::wait_until(
      [&] {
        MembershipView view = frontend.view();
        return view.connected && names(view) == std::set<std::string>{"f1", "joiner"};
      },
      milliseconds(5000)))
      << "view: " << fmt::format("{}", fmt::join(names(frontend.view()), ","));
}

// A dead endpoint first in the list: start() and the threads move on to the live one.
TEST_F(MembershipTest, MovesOnFromADeadEndpoint) {
  MembershipConfig two = config();
  two.endpoints = {"127.0.0.1:" + std::to_string(test::free_port()), etcd_.endpoint()};
  Membership worker;
  ASSERT_TRUE(worker.start(two, member("w1", "worker")).ok());
  EXPECT_TRUE(test::wait_until(
      [&] {
        MembershipView view = worker.view();
        return view.connected && names(view) == std::set<std::string>{"w1"};
      },
      milliseconds(3000)));
  EXPECT_EQ(etcd_.keys("/mxserve/t/members/"), expected_keys({{"worker", worker.epoch()}}));
}

// A worker started before etcd (a reboot with both units starting at once; a slow etcd) waits
// for it, up to start_wait_seconds, instead of exiting.
TEST_F(MembershipTest, StartWaitsForAnEtcdThatComesUpLater) {
  test::EtcdProcess late;
  MembershipConfig waiting = config(late.endpoint());
  waiting.start_wait_seconds = 20;
  // etcd starts on this thread (its child dies with the thread that forked it: PDEATHSIG).
  Membership worker;
  Status started = make_error(ErrorCode::kInternal, "not started");
  auto start = Clock::now();
  std::thread registering([&] { started = worker.start(waiting, member("w1", "worker")); });
  std::this_thread::sleep_for(milliseconds(1500));
  std::string error;
  EXPECT_TRUE(late.start(error)) << error;
  registering.join();
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_GT(Clock::now() - start, milliseconds(1500));
  EXPECT_EQ(late.keys("/mxserve/t/members/"), expected_keys({{"worker", worker.epoch()}}));
}

TEST_F(MembershipTest, StartSaysWhatToDoWhenEtcdIsNotThere) {
  Membership membership;
  auto start = Clock::now();
  Status started = membership.start(config("127.0.0.1:" + std::to_string(test::free_port())),
                                    member("w1", "worker"));
  EXPECT_LT(Clock::now() - start, milliseconds(2000));
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(started.error().message.find("is etcd running"), std::string::npos)
      << started.error().message;

  MembershipConfig bad = config();
  bad.lease_ttl_seconds = 2.5;
  EXPECT_FALSE(bad.validate().ok());
  EXPECT_FALSE(membership.start(config(), member("w1", "Bad Role")).ok());
}

}  // namespace
}  // namespace mx
