// EngineClient: what the serving layer needs of an engine — queue a request's sequences, cancel
// one, read the load and the limits — whether the engine runs in this process
// (LocalEngineClient, below) or in a worker process behind gRPC (src/cluster). Everything that
// crosses it is plain data that serializes: SequenceRequests in; TokenEvents out, to a TokenSink
// (an object the caller keeps alive through a shared_ptr; no std::function crosses);
// EngineStats and EngineLimits.
//
// Contract (both implementations): submit_all queues all sequences or none; every queued
// sequence gets exactly one final event (finished = true), after which its sink hears nothing
// more of it; events of one sequence arrive in order, never two at once for one sink. Sinks must
// not block: they run on the engine thread (local) or an RPC thread (remote).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/status.h"
#include "engine/engine.h"

namespace mx {

// Receives the events of a request's sequences; `index` is the sequence's place in submit_all.
class TokenSink {
 public:
  virtual ~TokenSink() = default;
  virtual void on_event(int32_t index, const TokenEvent& event) = 0;
};

class EngineClient {
 public:
  virtual ~EngineClient() = default;
  // Queues the sequences of one request, all or none (Engine::submit_all's checks and errors);
  // their events go to `sink`. The ids are this client's: cancel() takes them.
  virtual Result<std::vector<SeqId>> submit_all(std::vector<SequenceRequest> requests,
                                                std::shared_ptr<TokenSink> sink) = 0;
  // Ends a queued or running sequence (final event kCancelled); unknown ids are ignored.
  virtual void cancel(SeqId id) = 0;
  virtual EngineStats stats() const = 0;
  virtual EngineLimits limits() const = 0;
  // Tokens each MoE layer routed to each expert since start, layer-major
  // [limits().moe_layers * limits().n_experts]; empty for a dense model.
  virtual std::vector<uint64_t> expert_token_counts() const = 0;
};

// The engine in this process.
class LocalEngineClient : public EngineClient {
 public:
  explicit LocalEngineClient(Engine& engine) : engine_(engine) {}
  Result<std::vector<SeqId>> submit_all(std::vector<SequenceRequest> requests,
                                        std::shared_ptr<TokenSink> sink) override;
  void cancel(SeqId id) override { engine_.cancel(id); }
  EngineStats stats() const override { return engine_.stats(); }
  EngineLimits limits() const override { return engine_.limits(); }
  std::vector<uint64_t> expert_token_counts() const override {
    return engine_.model().expert_token_counts();
  }

 private:
  Engine& engine_;
};

}  // namespace mx
