// The worker's KvEvents stream over real gRPC (WorkerService + KvEventStream on a loopback
// server, WorkerClient's call): a new subscriber gets a snapshot, then events as the log grows;
// one that resumes from its last event gets only what followed; another log's or a too old
// cursor gets a snapshot; draining ends the stream. The engine behind the service is not used
// by KvEvents: a stub that refuses everything stands in for it.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "cluster/worker_client.h"
#include "cluster/worker_service.h"
#include "engine/kv_event_log.h"

namespace mx {
namespace {
namespace pb = mxserve::worker;
using namespace std::chrono_literals;

class NoEngine : public EngineClient {
 public:
  Result<std::vector<SeqId>> submit_all(std::vector<SequenceRequest>,
                                        std::shared_ptr<TokenSink>) override {
    return make_error(ErrorCode::kUnavailable, "no engine in this test");
  }
  void cancel(SeqId) override {}
  EngineStats stats() const override { return {}; }
  EngineLimits limits() const override { return {}; }
  std::vector<uint64_t> expert_token_counts() const override { return {}; }
};

class Collector : public KvEventsObserver {
 public:
  void on_reply(const pb::KvEventsReply& reply) override {
    std::lock_guard lock(mutex_);
    replies_.push_back(reply);
    changed_.notify_all();
  }
  void on_stream_end(const grpc::Status& status) override {
    std::lock_guard lock(mutex_);
    ended_ = true;
    status_ = status;
    changed_.notify_all();
  }
  // Waits (bounded) until `n` replies came; returns them.
  std::vector<pb::KvEventsReply> wait_replies(size_t n) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 10s, [&] { return replies_.size() >= n || ended_; });
    return replies_;
  }
  bool wait_end(grpc::StatusCode* code) {
    std::unique_lock lock(mutex_);
    const bool ended = changed_.wait_for(lock, 10s, [&] { return ended_; });
    if (ended) *code = status_.error_code();
    return ended;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<pb::KvEventsReply> replies_;
  bool ended_ = false;
  grpc::Status status_;
};

class KvEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    service_.set_kv_events(&log_);
    service_.set_epoch(0x77);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_ && port_ > 0);
    client_ = std::make_unique<WorkerClient>("127.0.0.1:" + std::to_string(port_));
  }
  void TearDown() override {
    for (auto& stream : streams_) stream->cancel();
    server_->Shutdown(std::chrono::system_clock::now() + 5s);
  }
  std::shared_ptr<Collector> subscribe(uint64_t log_id, uint64_t after_seq) {
    pb::KvEventsRequest request;
    request.set_log_id(log_id);
    request.set_after_seq(after_seq);
    auto collector = std::make_shared<Collector>();
    streams_.push_back(client_->kv_events(request, collector));
    return collector;
  }
  void append(std::vector<KvBlockEvent> events) { log_.append(events); }

  KvEventLog log_{4};
  NoEngine engine_;
  WorkerService service_{engine_, WorkerIdentity{"test", 0}};
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<WorkerClient> client_;
  std::vector<std::shared_ptr<GenerateStream>> streams_;
};

std::vector<uint64_t> sorted_hashes(const pb::KvEventsReply& reply) {
  std::vector<uint64_t> out(reply.snapshot_hashes().begin(), reply.snapshot_hashes().end());
  std::sort(out.begin(), out.end());
  return out;
}

TEST_F(KvEventsTest, SnapshotThenEventsAsTheLogGrows) {
  append({{1, false}, {2, false}, {3, false}});
  auto collector = subscribe(0, 0);
  auto replies = collector->wait_replies(1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(replies[0].snapshot_begin());
  EXPECT_TRUE(replies[0].snapshot_end());
  EXPECT_EQ(replies[0].snapshot_seq(), 3u);
  EXPECT_EQ(sorted_hashes(replies[0]), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(replies[0].worker_epoch(), 0x77u);
  EXPECT_EQ(replies[0].log_id(), log_.log_id());
  append({{2, true}, {4, false}});
  replies = collector->wait_replies(2);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_FALSE(replies[1].snapshot_begin());
  EXPECT_EQ(replies[1].first_seq(), 4u);
  ASSERT_EQ(replies[1].events_size(), 2);
  EXPECT_EQ(replies[1].events(0).hash(), 2u);
  EXPECT_TRUE(replies[1].events(0).removed());
  EXPECT_EQ(replies[1].events(1).hash(), 4u);
}

TEST_F(KvEventsTest, AResumedCursorGetsOnlyWhatFollowed) {
  append({{1, false}, {2, false}, {3, false}});
  auto collector = subscribe(log_.log_id(), 2);
  auto replies = collector->wait_replies(1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_FALSE(replies[0].snapshot_begin());
  EXPECT_EQ(replies[0].first_seq(), 3u);
  ASSERT_EQ(replies[0].events_size(), 1);
  EXPECT_EQ(replies[0].events(0).hash(), 3u);
}

TEST_F(KvEventsTest, AnotherLogOrATooOldCursorGetsASnapshot) {
  append({{1, false}, {2, false}, {3, false}, {4, false}, {5, false}, {6, false}});
  // The log holds events 3..6: a reader at 1 needs event 2, which is gone.
  auto behind = subscribe(log_.log_id(), 1);
  auto replies = behind->wait_replies(1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(replies[0].snapshot_begin());
  EXPECT_EQ(replies[0].snapshot_seq(), 6u);
  EXPECT_EQ(replies[0].snapshot_hashes_size(), 6);
  // A cursor of a previous process at this address (another log id).
  auto other = subscribe(log_.log_id() + 1, 6);
  replies = other->wait_replies(1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(replies[0].snapshot_begin());
  EXPECT_TRUE(replies[0].snapshot_end());
}

TEST_F(KvEventsTest, DrainingEndsTheStream) {
  auto collector = subscribe(0, 0);
  ASSERT_EQ(collector->wait_replies(1).size(), 1u);  // the (empty) snapshot
  service_.set_draining();
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  ASSERT_TRUE(collector->wait_end(&code));
  EXPECT_EQ(code, grpc::StatusCode::OK);
}

}  // namespace
}  // namespace mx
