#include "cluster/etcd_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>

#include "cluster/grpc_stream.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"

namespace mx {
namespace {

using Clock = std::chrono::system_clock;
using detail::Deadline;

Clock::duration seconds(double value) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(value));
}

std::string strip_scheme(const std::string& endpoint) {
  constexpr std::string_view kHttp = "http://";
  return endpoint.starts_with(kHttp) ? endpoint.substr(kHttp.size()) : endpoint;
}

// The range end that covers every key starting with `prefix` ("a/b" -> "a/c").
std::string prefix_range_end(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    auto last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // "\0" as range end: every key
}

// Every unary call: a deadline, and wait_for_ready, so a call made while the channel is
// reconnecting waits for the connection (until the deadline) instead of failing at once. It
// matters for more than latency: the waiting call is what polls the connection attempt. With
// fail-fast calls and nobody else polling, gRPC 1.51 lets every reconnect attempt to a restarted
// etcd time out although the kernel has connected the socket (seen: never reconnected).
template <typename Channels>
void prepare(grpc::ClientContext& context, const Channels& channels) {
  context.set_deadline(channels.deadline());
  context.set_wait_for_ready(true);
}

EtcdKeyValue from_proto(const mvccpb::KeyValue& kv) {
  return EtcdKeyValue{kv.key(), kv.value(), kv.mod_revision(), kv.lease()};
}

}  // namespace

Error detail::grpc_error(const grpc::Status& status, std::string_view what) {
  ErrorCode code = ErrorCode::kInternal;
  std::string_view hint;
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      code = ErrorCode::kUnavailable;
      hint = "; check that etcd runs and that the etcd endpoints name it (retried)";
      break;
    case grpc::StatusCode::NOT_FOUND:
      code = ErrorCode::kNotFound;
      break;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
      code = ErrorCode::kInvalidArgument;
      break;
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
      code = ErrorCode::kUnsupported;
      hint = "; mxserve does not authenticate to etcd yet: use an etcd without auth";
      break;
    default:
      break;
  }
  return make_error(code, "{}: {} (gRPC code {}){}", what, status.error_message(),
                    static_cast<int>(status.error_code()), hint);
}

Status EtcdClientConfig::validate() const {
  if (endpoints.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "no etcd endpoint given: pass at least one, e.g. 127.0.0.1:2379");
  }
  for (const std::string& endpoint : endpoints) {
    std::string address = strip_scheme(endpoint);
    if (address.empty() || address.find("://") != std::string::npos ||
        address.find(':') == std::string::npos) {
      return make_error(ErrorCode::kInvalidArgument,
                        "etcd endpoint '{}' must be host:port or http://host:port (no TLS yet)",
                        endpoint);
    }
  }
  if (!(rpc_timeout_seconds >= 0.05 && rpc_timeout_seconds <= 60)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "etcd RPC timeout must be between 0.05 and 60 seconds, got {}",
                      rpc_timeout_seconds);
  }
  return ok_status();
}

// One channel per endpoint; calls go to `current`, which moves on when a call finds its
// endpoint unavailable.
struct EtcdChannels {
  EtcdClientConfig config;
  std::vector<std::string> addresses;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::atomic<size_t> current{0};

  size_t pick() const { return current.load() % channels.size(); }
  Deadline deadline() const { return Clock::now() + seconds(config.rpc_timeout_seconds); }

  Error error(const grpc::Status& status, size_t index, std::string_view call) {
    Error error = detail::grpc_error(status, fmt::format("etcd at {}: {}", addresses[index], call));
    if (error.code == ErrorCode::kUnavailable) unavailable(index);
    return error;
  }
  void unavailable(size_t index) {
    size_t expected = index;
    current.compare_exchange_strong(expected, (index + 1) % channels.size());
  }
};

Result<std::unique_ptr<EtcdClient>> EtcdClient::create(const EtcdClientConfig& config) {
  MX_RETURN_IF_ERROR(config.validate());
  auto channels = std::make_unique<EtcdChannels>();
  channels->config = config;
  grpc::ChannelArguments args;
  // gRPC's default reconnect backoff grows to 120 s: an etcd back after an outage would not be
  // seen for minutes. Retry the connection every 0.2-2 s instead.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // A silent partition (a link down: no RST, no ICMP) leaves the connection open with bytes
  // unacknowledged; TCP resends them on an exponential backoff, so after a 30 s partition the
  // old connection came back only ~30 s after the network did (e2e.test_cluster_netns). A ping
  // unanswered for 2 s (which also sets TCP_USER_TIMEOUT) drops it and dials again at the
  // backoff above. Every 10 s: etcd refuses pings closer than 5 s (--grpc-keepalive-min-time).
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 2000);
  for (const std::string& endpoint : config.endpoints) {
    channels->addresses.push_back(strip_scheme(endpoint));
    channels->channels.push_back(grpc::CreateCustomChannel(
        channels->addresses.back(), grpc::InsecureChannelCredentials(), args));
  }
  return std::unique_ptr<EtcdClient>(new EtcdClient(std::move(channels)));
}

EtcdClient::EtcdClient(std::unique_ptr<EtcdChannels> channels) : channels_(std::move(channels)) {}
EtcdClient::~EtcdClient() = default;

const std::string& EtcdClient::endpoint() const { return channels_->addresses[channels_->pick()]; }

Result<EtcdLease> EtcdClient::lease_grant(int64_t ttl_seconds) {
  size_t index = channels_->pick();
  auto stub = etcdserverpb::Lease::NewStub(channels_->channels[index]);
  grpc::ClientContext context;
  prepare(context, *channels_);
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(ttl_seconds);
  etcdserverpb::LeaseGrantResponse response;
  grpc::Status status = stub->LeaseGrant(&context, request, &response);
  if (!status.ok()) return channels_->error(status, index, "LeaseGrant");
  if (!response.error().empty()) {
    return make_error(ErrorCode::kUnavailable, "etcd at {}: LeaseGrant: {}",
                      channels_->addresses[index], response.error());
  }
  return EtcdLease{response.id(), response.ttl()};
}

Status EtcdClient::lease_revoke(int64_t lease_id) {
  size_t index = channels_->pick();
  auto stub = etcdserverpb::Lease::NewStub(channels_->channels[index]);
  grpc::ClientContext context;
  prepare(context, *channels_);
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(lease_id);
  etcdserverpb::LeaseRevokeResponse response;
  grpc::Status status = stub->LeaseRevoke(&context, request, &response);
  if (!status.ok()) {
    return channels_->error(status, index, fmt::format("LeaseRevoke {:016x}", lease_id));
  }
  return ok_status();
}

Result<int64_t> EtcdClient::put(const std::string& key, const std::string& value,
                                int64_t lease_id) {
  size_t index = channels_->pick();
  auto stub = etcdserverpb::KV::NewStub(channels_->channels[index]);
  grpc::ClientContext context;
  prepare(context, *channels_);
  etcdserverpb::PutRequest request;
  request.set_key(key);
  request.set_value(value);
  request.set_lease(lease_id);
  etcdserverpb::PutResponse response;
  grpc::Status status = stub->Put(&context, request, &response);
  if (!status.ok()) return channels_->error(status, index, fmt::format("Put {}", key));
  return response.header().revision();
}

Result<EtcdRange> EtcdClient::get_prefix(const std::string& prefix) {
  size_t index = channels_->pick();
  auto stub = etcdserverpb::KV::NewStub(channels_->channels[index]);
  grpc::ClientContext context;
  prepare(context, *channels_);
  etcdserverpb::RangeRequest request;
  request.set_key(prefix);
  request.set_range_end(prefix_range_end(prefix));
  etcdserverpb::RangeResponse response;
  grpc::Status status = stub->Range(&context, request, &response);
  if (!status.ok()) return channels_->error(status, index, fmt::format("Range {}*", prefix));
  EtcdRange range;
  range.revision = response.header().revision();
  for (const mvccpb::KeyValue& kv : response.kvs()) range.kvs.push_back(from_proto(kv));
  return range;
}

Result<int64_t> EtcdClient::delete_key(const std::string& key) {
  size_t index = channels_->pick();
  auto stub = etcdserverpb::KV::NewStub(channels_->channels[index]);
  grpc::ClientContext context;
  prepare(context, *channels_);
  etcdserverpb::DeleteRangeRequest request;
  request.set_key(key);
  etcdserverpb::DeleteRangeResponse response;
  grpc::Status status = stub->DeleteRange(&context, request, &response);
  if (!status.ok()) return channels_->error(status, index, fmt::format("DeleteRange {}", key));
  return response.deleted();
}

// --- lease keep-alive stream ---

struct EtcdKeepAlive::Impl {
  EtcdChannels* channels = nullptr;
  size_t index = 0;
  int64_t lease_id = 0;
  std::unique_ptr<etcdserverpb::Lease::Stub> stub;
  detail::BidiStream<etcdserverpb::LeaseKeepAliveRequest, etcdserverpb::LeaseKeepAliveResponse>
      stream;  // after stub: destroyed first

  Error broken(std::string_view what) {
    grpc::Status status = stream.finish(channels->deadline());
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) {  // etcd 3.4 answers TTL 0 instead
      return make_error(ErrorCode::kNotFound, "etcd at {}: lease {:016x} not found: {}",
                        channels->addresses[index], lease_id, status.error_message());
    }
    channels->unavailable(index);
    return make_error(
        ErrorCode::kUnavailable,
        "etcd at {}: keep-alive of lease {:016x}: {} (stream status: {}); open a new stream",
        channels->addresses[index], lease_id, what, status.error_message());
  }
};

EtcdKeepAlive::EtcdKeepAlive(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EtcdKeepAlive::~EtcdKeepAlive() = default;

Result<std::unique_ptr<EtcdKeepAlive>> EtcdClient::open_keep_alive(int64_t lease_id) {
  auto impl = std::make_unique<EtcdKeepAlive::Impl>();
  impl->channels = channels_.get();
  impl->index = channels_->pick();
  impl->lease_id = lease_id;
  impl->stub = etcdserverpb::Lease::NewStub(channels_->channels[impl->index]);
  auto& stream = impl->stream;
  Status started =
      stream.start(impl->stub->PrepareAsyncLeaseKeepAlive(stream.context(), stream.queue()),
                   channels_->deadline());
  if (!started.ok()) return impl->broken(started.error().message);
  return std::make_unique<EtcdKeepAlive>(std::move(impl));
}

Result<int64_t> EtcdKeepAlive::keep_alive() {
  Deadline deadline = impl_->channels->deadline();
  etcdserverpb::LeaseKeepAliveRequest request;
  request.set_id(impl_->lease_id);
  Status written = impl_->stream.write(request, deadline);
  if (!written.ok()) return impl_->broken(written.error().message);
  auto response = impl_->stream.read(deadline);
  if (!response.ok()) return impl_->broken(response.error().message);
  if (!response->has_value()) return impl_->broken("no answer before the deadline");
  return std::max<int64_t>(0, (*response)->ttl());
}

// --- prefix watch ---

struct EtcdWatch::Impl {
  EtcdChannels* channels = nullptr;
  size_t index = 0;
  std::chrono::milliseconds quiet_check{1000};
  std::unique_ptr<etcdserverpb::Watch::Stub> stub;
  detail::BidiStream<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse> stream;
  EtcdRange snapshot;
  int64_t revision = 0;
  Clock::time_point last_message;
  std::optional<Clock::time_point> progress_sent;  // a progress request awaits its answer

  Error broken(std::string_view what) {
    grpc::Status status = stream.finish(channels->deadline());
    channels->unavailable(index);
    return make_error(ErrorCode::kUnavailable,
                      "etcd at {}: watch: {} (stream status: {}); open a new watch",
                      channels->addresses[index], what, status.error_message());
  }
  // Takes one message; false (with `error`) when etcd cancelled the watch.
  Result<bool> take(const etcdserverpb::WatchResponse& response, std::vector<EtcdEvent>& events);
  Status open(const std::string& prefix);
};

Status EtcdWatch::Impl::open(const std::string& prefix) {
  auto& call = stream;
  MX_RETURN_IF_ERROR(
      call.start(stub->PrepareAsyncWatch(call.context(), call.queue()), channels->deadline()));
  etcdserverpb::WatchRequest request;
  auto* create = request.mutable_create_request();
  create->set_key(prefix);
  create->set_range_end(prefix_range_end(prefix));
  create->set_start_revision(snapshot.revision + 1);
  Deadline deadline = channels->deadline();
  MX_RETURN_IF_ERROR(call.write(request, deadline));
  auto response = call.read(deadline);
  if (!response.ok()) return std::move(response).error();
  if (!response->has_value()) {
    return make_error(ErrorCode::kUnavailable,
                      "no answer to the watch request before the deadline");
  }
  const etcdserverpb::WatchResponse& created = **response;
  if (!created.created() || created.canceled()) {
    return make_error(ErrorCode::kUnavailable, "etcd refused the watch from revision {}: {}",
                      snapshot.revision + 1, created.cancel_reason());
  }
  last_message = Clock::now();
  return ok_status();
}

Result<std::unique_ptr<EtcdWatch>> EtcdClient::watch_prefix(const std::string& prefix,
                                                            std::chrono::milliseconds quiet_check) {
  MX_ASSIGN_OR_RETURN(EtcdRange snapshot, get_prefix(prefix));
  auto impl = std::make_unique<EtcdWatch::Impl>();
  impl->channels = channels_.get();
  impl->index = channels_->pick();
  impl->quiet_check = quiet_check;
  impl->snapshot = std::move(snapshot);
  impl->revision = impl->snapshot.revision;
  impl->stub = etcdserverpb::Watch::NewStub(channels_->channels[impl->index]);
  Status opened = impl->open(prefix);
  if (!opened.ok()) return impl->broken(opened.error().message);
  return std::make_unique<EtcdWatch>(std::move(impl));
}

EtcdWatch::EtcdWatch(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EtcdWatch::~EtcdWatch() = default;

const EtcdRange& EtcdWatch::snapshot() const { return impl_->snapshot; }
int64_t EtcdWatch::revision() const { return impl_->revision; }

Result<bool> EtcdWatch::Impl::take(const etcdserverpb::WatchResponse& response,
                                   std::vector<EtcdEvent>& events) {
  last_message = Clock::now();
  progress_sent.reset();  // any message shows the stream is alive
  if (response.canceled() || response.compact_revision() > 0) {
    return make_error(ErrorCode::kUnavailable,
                      "etcd cancelled the watch (compacted at revision {}): {}",
                      response.compact_revision(), response.cancel_reason());
  }
  revision = std::max(revision, response.header().revision());
  for (const mvccpb::Event& event : response.events()) {
    EtcdEvent out;
    out.type =
        event.type() == mvccpb::Event::DELETE ? EtcdEvent::Type::kDelete : EtcdEvent::Type::kPut;
    out.kv = from_proto(event.kv());
    events.push_back(std::move(out));
  }
  return true;
}

Result<std::vector<EtcdEvent>> EtcdWatch::next(std::chrono::milliseconds wait) {
  Impl& watch = *impl_;
  const Clock::duration answer_within = seconds(watch.channels->config.rpc_timeout_seconds);
  const Deadline deadline = Clock::now() + wait;
  std::vector<EtcdEvent> events;
  while (true) {
    Deadline step = deadline;
    if (watch.progress_sent) step = std::min(step, *watch.progress_sent + answer_within);
    auto message = watch.stream.read(step);
    if (!message.ok()) return watch.broken(message.error().message);
    if (message->has_value()) {
      auto taken = watch.take(**message, events);
      if (!taken.ok()) return watch.broken(taken.error().message);
      if (!events.empty()) return events;
      continue;
    }
    Clock::time_point now = Clock::now();
    if (watch.progress_sent && now >= *watch.progress_sent + answer_within) {
      return watch.broken(
          fmt::format("no answer to a progress request within {} s: etcd is "
                      "stopped, overloaded or unreachable",
                      watch.channels->config.rpc_timeout_seconds));
    }
    if (now < deadline) continue;
    if (!watch.progress_sent && now - watch.last_message >= watch.quiet_check) {
      etcdserverpb::WatchRequest request;
      request.mutable_progress_request();
      Status written = watch.stream.write(request, now + answer_within);
      if (!written.ok()) return watch.broken(written.error().message);
      watch.progress_sent = now;
    }
    return events;
  }
}

}  // namespace mx
