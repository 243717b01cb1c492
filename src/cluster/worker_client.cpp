#include "cluster/worker_client.h"

#include "cluster/worker_messages.h"

namespace mx {
namespace pb = mxserve::worker;

namespace {

grpc::ChannelArguments channel_arguments() {
  grpc::ChannelArguments args;
  // A dead peer is found by keepalive pings even while no call is active; reconnects after a
  // failure start fast (a restarted worker is reachable again within a second).
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 2000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 2000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return args;
}

class GenerateCall : public grpc::ClientReadReactor<pb::GenerateReply>, public GenerateStream {
 public:
  GenerateCall(pb::GenerateRequest request, std::shared_ptr<GenerateObserver> observer)
      : request_(std::move(request)), observer_(std::move(observer)) {}

  void start(pb::Worker::Stub& stub, std::shared_ptr<GenerateCall> self) {
    self_ = std::move(self);  // released in OnDone
    // Wait for a (re)connecting channel instead of failing at once: gRPC 1.51 does not retry
    // a reconnect that only fail-fast calls poll. Bounded by the caller's admission deadline.
    context_.set_wait_for_ready(true);
    stub.async()->Generate(&context_, &request_, this);
    StartRead(&reply_);
    StartCall();
  }

  void cancel() override { context_.TryCancel(); }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream is over: OnDone follows
    if (reply_.has_admission()) observer_->on_admission(reply_.admission());
    for (const pb::TokenEvent& event : reply_.events()) {
      observer_->on_event(event.index(), from_proto(event));
    }
    StartRead(&reply_);
  }

  void OnDone(const grpc::Status& status) override {
    observer_->on_stream_end(status);
    observer_.reset();
    self_.reset();  // may destroy this
  }

 private:
  grpc::ClientContext context_;
  pb::GenerateRequest request_;
  pb::GenerateReply reply_;
  std::shared_ptr<GenerateObserver> observer_;
  std::shared_ptr<GenerateCall> self_;
};

class KvEventsCall : public grpc::ClientReadReactor<pb::KvEventsReply>, public GenerateStream {
 public:
  KvEventsCall(pb::KvEventsRequest request, std::shared_ptr<KvEventsObserver> observer)
      : request_(std::move(request)), observer_(std::move(observer)) {}

  void start(pb::Worker::Stub& stub, std::shared_ptr<KvEventsCall> self) {
    self_ = std::move(self);  // released in OnDone
    stub.async()->KvEvents(&context_, &request_, this);
    StartRead(&reply_);
    StartCall();
  }

  void cancel() override { context_.TryCancel(); }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    observer_->on_reply(reply_);
    StartRead(&reply_);
  }

  void OnDone(const grpc::Status& status) override {
    observer_->on_stream_end(status);
    observer_.reset();
    self_.reset();  // may destroy this
  }

 private:
  grpc::ClientContext context_;
  pb::KvEventsRequest request_;
  pb::KvEventsReply reply_;
  std::shared_ptr<KvEventsObserver> observer_;
  std::shared_ptr<KvEventsCall> self_;
};

struct CancelCall {
  grpc::ClientContext context;
  pb::CancelRequest request;
  pb::CancelReply reply;
};

}  // namespace

WorkerClient::WorkerClient(std::string address)
    : address_(std::move(address)),
      channel_(grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(),
                                         channel_arguments())),
      stub_(pb::Worker::NewStub(channel_)) {}

std::shared_ptr<GenerateStream> WorkerClient::generate(pb::GenerateRequest request,
                                                       std::shared_ptr<GenerateObserver> observer) {
  auto call = std::make_shared<GenerateCall>(std::move(request), std::move(observer));
  call->start(*stub_, call);
  return call;
}

std::shared_ptr<GenerateStream> WorkerClient::kv_events(
    pb::KvEventsRequest request, std::shared_ptr<KvEventsObserver> observer) {
  auto call = std::make_shared<KvEventsCall>(std::move(request), std::move(observer));
  call->start(*stub_, call);
  return call;
}

void WorkerClient::cancel(const std::string& request_id, std::vector<int32_t> indexes,
                          std::chrono::milliseconds timeout) {
  auto* call = new CancelCall();
  call->request.set_request_id(request_id);
  call->request.mutable_indexes()->Assign(indexes.begin(), indexes.end());
  call->context.set_deadline(std::chrono::system_clock::now() + timeout);
  call->context.set_wait_for_ready(true);
  stub_->async()->Cancel(&call->context, &call->request, &call->reply,
                         [call](grpc::Status) { delete call; });
}

Result<pb::StatusReply> WorkerClient::status(std::chrono::milliseconds timeout) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  context.set_wait_for_ready(true);  // a restarted worker is found again (see GenerateCall)
  pb::StatusRequest request;
  pb::StatusReply reply;
  grpc::Status status = stub_->Status(&context, request, &reply);
  if (!status.ok()) {
    return make_error(ErrorCode::kUnavailable, "worker {}: {} ({})", address_,
                      status.error_message(), static_cast<int>(status.error_code()));
  }
  return reply;
}

}  // namespace mx
