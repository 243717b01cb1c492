// BidiStream: a client bidirectional gRPC stream where every operation waits at most until a
// deadline (gRPC's async API on a completion queue owned by the stream, driven by the calling
// thread: no thread of its own). The etcd keep-alive and watch streams are built on it, so a
// stopped or unreachable etcd shows as a timeout the caller sees, never as a thread blocked
// forever in a synchronous Read.
//
// One thread uses a stream at a time. At most one read and one write are in flight; a read that
// timed out stays in flight and the next read() waits for it. The destructor cancels the call and
// waits for gRPC to hand back every operation in flight before the queue is destroyed.
#pragma once

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/async_stream.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"

namespace mx::detail {

using Deadline = std::chrono::system_clock::time_point;

Error grpc_error(const grpc::Status& status, std::string_view what);

template <typename Request, typename Response>
class BidiStream {
 public:
  using Call = grpc::ClientAsyncReaderWriter<Request, Response>;

  // wait_for_ready: see prepare() in etcd_client.cpp; start() still bounds the wait.
  BidiStream() { context_.set_wait_for_ready(true); }
  BidiStream(const BidiStream&) = delete;
  BidiStream& operator=(const BidiStream&) = delete;
  ~BidiStream() { close(); }

  grpc::ClientContext* context() { return &context_; }
  grpc::CompletionQueue* queue() { return &queue_; }

  // `call` comes from stub->PrepareAsync<Rpc>(context(), queue()); waits for the call to start.
  Status start(std::unique_ptr<Call> call, Deadline deadline) {
    call_ = std::move(call);
    call_->StartCall(tag(kStart));
    start_pending_ = true;
    while (start_pending_) {
      if (!pump(deadline)) return timeout("start");
    }
    return broken_ ? make_error(ErrorCode::kUnavailable, "the stream ended at start") : Status();
  }

  Status write(const Request& request, Deadline deadline) {
    if (broken_) return make_error(ErrorCode::kUnavailable, "write on an ended stream");
    if (write_pending_) {  // gRPC allows one write in flight: a timed-out one must end first
      return make_error(ErrorCode::kUnavailable, "the previous write is still in flight");
    }
    call_->Write(request, tag(kWrite));
    write_pending_ = true;
    while (write_pending_) {
      if (!pump(deadline)) return timeout("write");
    }
    return broken_ ? make_error(ErrorCode::kUnavailable, "the stream ended") : Status();
  }

  // The next message; nullopt when none came by the deadline (the read stays in flight); an
  // error once the stream has ended (server closed it, connection lost, cancelled).
  Result<std::optional<Response>> read(Deadline deadline) {
    if (broken_ && !read_ready_) return make_error(ErrorCode::kUnavailable, "the stream ended");
    if (!read_pending_ && !read_ready_) {
      call_->Read(&incoming_, tag(kRead));
      read_pending_ = true;
    }
    while (read_pending_) {
      if (!pump(deadline)) return std::optional<Response>();
    }
    if (!read_ready_) return make_error(ErrorCode::kUnavailable, "the stream ended");
    read_ready_ = false;
    return std::optional<Response>(std::move(incoming_));
  }

  // The server's final status once the stream has ended (after an error from read or write).
  grpc::Status finish(Deadline deadline) {
    close_call(deadline);
    return final_status_;
  }

 private:
  enum Op : intptr_t { kStart = 1, kRead, kWrite, kFinish };
  static void* tag(Op op) { return reinterpret_cast<void*>(op); }

  // Handles one completion; false when the deadline passed first.
  bool pump(Deadline deadline) {
    void* got = nullptr;
    bool ok = false;
    auto status = queue_.AsyncNext(&got, &ok, deadline);
    if (status != grpc::CompletionQueue::GOT_EVENT) return false;
    switch (static_cast<Op>(reinterpret_cast<intptr_t>(got))) {
      case kStart:
        start_pending_ = false;
        break;
      case kRead:
        read_pending_ = false;
        read_ready_ = ok;
        break;
      case kWrite:
        write_pending_ = false;
        break;
      case kFinish:
        finish_pending_ = false;
        finished_ = true;
        break;
    }
    if (!ok) broken_ = true;
    return true;
  }

  Error timeout(const char* op) {
    return make_error(ErrorCode::kUnavailable, "no answer to the stream's {} before the deadline",
                      op);
  }

  // Cancels, waits for the operations in flight, then Finish. After TryCancel gRPC completes
  // them promptly; the deadline only guards against a bug.
  void close_call(Deadline deadline) {
    if (!call_ || finished_) return;
    context_.TryCancel();  // harmless once the call has ended
    broken_ = true;
    while ((start_pending_ || read_pending_ || write_pending_) && pump(deadline)) {
    }
    if (!finish_pending_ && !start_pending_) {
      call_->Finish(&final_status_, tag(kFinish));
      finish_pending_ = true;
    }
    while (finish_pending_ && pump(deadline)) {
    }
  }

  void close() {
    close_call(std::chrono::system_clock::now() + std::chrono::seconds(30));
    queue_.Shutdown();
    void* got = nullptr;
    bool ok = false;
    while (queue_.Next(&got, &ok)) {
    }
  }

  grpc::ClientContext context_;
  grpc::CompletionQueue queue_;
  std::unique_ptr<Call> call_;
  Response incoming_;
  grpc::Status final_status_;
  bool start_pending_ = false, read_pending_ = false, read_ready_ = false;
  bool write_pending_ = false, finish_pending_ = false, finished_ = false, broken_ = false;
};

}  // namespace mx::detail
