// EtcdClient against a real etcd (a fresh one per test); etcdctl is the independent client that
// checks what our calls wrote and writes what our watch must see.
#include "cluster/etcd_client.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

#include "etcd_process.h"

namespace mx {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

class EtcdClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(test::EtcdProcess::kBinary, X_OK) != 0) {
      GTEST_SKIP() << test::EtcdProcess::kBinary << " missing: apt-get install etcd-server";
    }
    std::string error;
    ASSERT_TRUE(etcd_.start(error)) << error;
    auto client = EtcdClient::create({{"http://" + etcd_.endpoint()}, 0.5});
    ASSERT_TRUE(client.ok()) << client.error().message;
    client_ = std::move(*client);
  }

  test::EtcdProcess etcd_;
  std::unique_ptr<EtcdClient> client_;
};

TEST(EtcdClientConfigTest, RejectsWhatCannotWork) {
  EXPECT_FALSE((EtcdClientConfig{{}, 1}.validate().ok()));
  EXPECT_FALSE((EtcdClientConfig{{"https://127.0.0.1:2379"}, 1}.validate().ok()));
  EXPECT_FALSE((EtcdClientConfig{{"127.0.0.1"}, 1}.validate().ok()));
  EXPECT_FALSE((EtcdClientConfig{{"127.0.0.1:2379"}, 0}.validate().ok()));
  EXPECT_TRUE((EtcdClientConfig{{"127.0.0.1:2379", "http://[::1]:2379"}, 1}.validate().ok()));
}

TEST_F(EtcdClientTest, PutGetDeleteAsEtcdctlSeesThem) {
  ASSERT_TRUE(client_->put("/p/a", "1").ok());
  ASSERT_TRUE(client_->put("/p/b", "2").ok());
  ASSERT_TRUE(client_->put("/q", "outside").ok());
  EXPECT_EQ(etcd_.etcdctl("get /p/b --print-value-only"), "2\n");

  auto range = client_->get_prefix("/p/");
  ASSERT_TRUE(range.ok()) << range.error().message;
  ASSERT_EQ(range->kvs.size(), 2u);
  EXPECT_EQ(range->kvs[0].key, "/p/a");
  EXPECT_EQ(range->kvs[1].value, "2");
  EXPECT_GT(range->revision, 0);

  auto deleted = client_->delete_key("/p/a");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 1);
  EXPECT_EQ(etcd_.keys("/p/"), std::vector<std::string>{"/p/b"});
}

TEST_F(EtcdClientTest, LeaseKeepsItsKeyUntilRevoked) {
  auto lease = client_->lease_grant(5);
  ASSERT_TRUE(lease.ok()) << lease.error().message;
  EXPECT_EQ(lease->ttl_seconds, 5);
  ASSERT_TRUE(client_->put("/leased", "x", lease->id).ok());
  std::string id = fmt::format("{:x}", lease->id);
  EXPECT_NE(etcd_.etcdctl("lease timetolive " + id + " --keys")->find("/leased"),
            std::string::npos);

  auto stream = client_->open_keep_alive(lease->id);
  ASSERT_TRUE(stream.ok()) << stream.error().message;
  auto ttl = (*stream)->keep_alive();
  ASSERT_TRUE(ttl.ok()) << ttl.error().message;
  EXPECT_EQ(*ttl, 5);

  ASSERT_TRUE(client_->lease_revoke(lease->id).ok());
  EXPECT_EQ(etcd_.keys("/leased"), std::vector<std::string>{});
  ttl = (*stream)->keep_alive();  // etcd answers a keep-alive of an unknown lease with TTL 0
  ASSERT_TRUE(ttl.ok()) << ttl.error().message;
  EXPECT_EQ(*ttl, 0);
}

TEST_F(EtcdClientTest, UnreachableEtcdFailsWithinTheDeadline) {
  auto client = EtcdClient::create({{"127.0.0.1:" + std::to_string(test::free_port())}, 0.5});
  ASSERT_TRUE(client.ok());
  auto start = Clock::now();
  auto put = (*client)->put("/k", "v");
  EXPECT_LT(Clock::now() - start, milliseconds(1500));
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(put.error().message.find("check that etcd runs"), std::string::npos)
      << put.error().message;
}

// The same client (same gRPC channel) works again once etcd is back: gRPC reconnects on its
// own, and calls made meanwhile fail within their deadline.
TEST_F(EtcdClientTest, ReconnectsAfterEtcdRestarts) {
  ASSERT_TRUE(client_->put("/k", "1").ok());
  etcd_.kill();
  auto down = Clock::now();
  while (Clock::now() - down < milliseconds(2500)) {  // let gRPC's reconnect backoff grow
    auto start = Clock::now();
    EXPECT_FALSE(client_->put("/k", "2").ok());
    EXPECT_LT(Clock::now() - start, milliseconds(1500));
    std::this_thread::sleep_for(milliseconds(300));
  }
  std::string error;
  ASSERT_TRUE(etcd_.start(error)) << error;
  EXPECT_TRUE(test::wait_until([&] { return client_->put("/k", "3").ok(); }, milliseconds(4000)));
  EXPECT_EQ(etcd_.etcdctl("get /k --print-value-only"), "3\n");
}

TEST_F(EtcdClientTest, WatchStartsAfterTheSnapshotAndSeesOtherClients) {
  ASSERT_TRUE(client_->put("/w/old", "1").ok());
  auto watch = client_->watch_prefix("/w/", milliseconds(500));
  ASSERT_TRUE(watch.ok()) << watch.error().message;
  ASSERT_EQ((*watch)->snapshot().kvs.size(), 1u);

  ASSERT_TRUE(etcd_.etcdctl("put /w/new 2").has_value());
  ASSERT_TRUE(etcd_.etcdctl("del /w/old").has_value());
  std::vector<EtcdEvent> events;
  ASSERT_TRUE(test::wait_until(
      [&] {
        auto next = (*watch)->next(milliseconds(100));
        if (next.ok()) events.insert(events.end(), next->begin(), next->end());
        return events.size() >= 2;
      },
      milliseconds(3000)));
  ASSERT_EQ(events.size(), 2u);  // the snapshot's key is not repeated as an event
  EXPECT_EQ(events[0].type, EtcdEvent::Type::kPut);
  EXPECT_EQ(events[0].kv.key, "/w/new");
  EXPECT_EQ(events[0].kv.value, "2");
  EXPECT_EQ(events[1].type, EtcdEvent::Type::kDelete);
  EXPECT_EQ(events[1].kv.key, "/w/old");
}

// A SIGSTOPped etcd keeps its TCP connections open and says nothing: only the progress check
// shows the watch is dead. next() must report it within quiet_check + RPC timeout (+ slack).
TEST_F(EtcdClientTest, WatchOfAStoppedEtcdFailsWithinItsChecks) {
  auto watch = client_->watch_prefix("/w/", milliseconds(300));
  ASSERT_TRUE(watch.ok()) << watch.error().message;
  etcd_.pause();
  auto start = Clock::now();
  bool failed =
      test::wait_until([&] { return !(*watch)->next(milliseconds(100)).ok(); }, milliseconds(3000));
  auto elapsed = Clock::now() - start;
  etcd_.resume();
  EXPECT_TRUE(failed);
  EXPECT_LT(elapsed, milliseconds(300 + 500 + 700));
}

}  // namespace
}  // namespace mx
