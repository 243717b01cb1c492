// GenerationCall: one /v1/chat/completions, /v1/completions or /v1/responses request in flight —
// its n choices, each an engine sequence with its own text pipeline (Detokenizer → OutputText),
// and the response being written: SSE events as tokens arrive, or one JSON body at the end, in
// the wire format of the request's API (CallFormat, server/call_format.h).
//
// Engine events arrive on the engine thread (on_event), which only queues them in the call's
// inbox and posts one drain of the call onto the text executor (settings.text_executor); the
// drain runs the text pipeline, the JSON and the writes there, in event order, with at most one
// drain of a call running at a time. The client going away arrives on an I/O thread
// (cancel_all). One mutex guards the call's state, another the inbox. When every choice has its
// final event the call writes the end of the response, records metrics, and is released.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine_client.h"
#include "server/api_error.h"
#include "server/call_format.h"
#include "server/http_server.h"
#include "server/metering.h"
#include "server/metrics.h"
#include "server/openai_response.h"
#include "server/output_text.h"
#include "server/task_executor.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/tokenizer.h"

namespace mx {

struct GenerationCallSettings {
  CallApi api = CallApi::kChat;          // the wire format
  nlohmann::ordered_json response_echo;  // kResponses: the request fields a Response repeats
  bool stream = false;
  bool include_usage = false;  // chat and completion streams: a last chunk with usage
  bool want_logprobs = false;
  int32_t top_logprobs = 0;
  bool skip_special = true;  // detokenizer: drop special tokens from the text
  OutputTextOptions output;
  std::string route;  // for metrics
  std::string model_name;
  // Where the text pipeline runs; nullptr: on the engine thread, inside on_event (unit tests).
  TaskExecutor* text_executor = nullptr;
};

class GenerationCall : public TokenSink, public std::enable_shared_from_this<GenerationCall> {
 public:
  GenerationCall(GenerationCallSettings settings, int32_t n_choices, const Tokenizer& tokenizer,
                 EngineClient& engine, Metrics& metrics, std::shared_ptr<HttpResponder> responder,
                 std::function<void()> on_done);

  // The response id ("chatcmpl-...", "cmpl-...", "resp_..."), also the ledger's request id.
  const std::string& id() const { return format_->meta().id; }
  // Meters this call (before start()): its output is sent only once the usage it bills is in
  // the ledger, and its record is finalized when the call completes.
  void attach_meter(std::shared_ptr<MeteredRequest> meter) { meter_ = std::move(meter); }
  // Submits one engine sequence per choice, all together (seed + index for choices after the
  // first). On error nothing is queued and the caller answers with the error.
  Status start(const SequenceRequest& base);
  // The client is gone: cancel every sequence.
  void cancel_all();

 private:
  struct Choice {
    Choice(const Tokenizer& tokenizer, bool skip_special, OutputTextOptions options)
        : detokenizer(tokenizer, skip_special), output(std::move(options)) {}
    SeqId seq = 0;
    Detokenizer detokenizer;
    OutputText output;
    bool done = false;
    std::string content, reasoning;
    std::vector<TokenLogprobs> logprobs;  // all (non-stream) or not yet sent (stream)
    int64_t completion_tokens = 0, reasoning_tokens = 0;
    int64_t computed_tokens = 0;  // the engine's count so far (the last event's)
    FinishReason finish = FinishReason::kStop;
  };

  // What the final record bills, taken under the lock when the last choice is done.
  struct FinalUsage {
    UsageStatus status;
    TokenCounts tokens;
    double ttft_ms, e2e_ms;
    std::chrono::steady_clock::time_point end;
    std::string served_by;  // the workers that computed it (cluster), for the record
  };

  struct PendingEvent {
    int32_t index;
    TokenEvent event;
  };

  // TokenSink, on the engine (or RPC) thread: queue the event; post a drain unless one is
  // queued or running.
  void on_event(int32_t index, const TokenEvent& event) override;
  // On the text executor: the events queued so far, in order; reposts itself if more came.
  void drain();
  // One event through the text pipeline to the response.
  void process_event(int32_t index, const TokenEvent& event);
  // Under the lock: one event into its choice; true if it was the choice's last.
  bool apply_event(int32_t index, const TokenEvent& event);
  void add_token(Choice& choice, const TokenEvent& event, OutputDelta& delta);
  void finish_choice(int32_t index, Choice& choice, const TokenEvent& event, OutputDelta& delta);
  void stream_delta(int32_t index, Choice& choice, const OutputDelta& delta, bool final);
  FinalUsage complete();  // every choice is done: metrics, and what is billed
  void end_response(const FinalUsage& usage);
  // Writes one SSE chunk, after the ledger holds the usage up to it (metered calls).
  void send_chunk(std::string data);
  TokenCounts counts_now() const;
  double ttft_ms() const;
  UsageStatus final_status() const;
  void respond();  // the end of the response (after the final record is committed)
  void send_whole_response();
  TokenLogprobs logprobs_of(const SampledToken& token) const;

  GenerationCallSettings settings_;
  const Tokenizer& tokenizer_;
  EngineClient& engine_;
  Metrics& metrics_;
  std::shared_ptr<HttpResponder> responder_;
  std::function<void()> on_done_;
  std::shared_ptr<MeteredRequest> meter_;
  std::unique_ptr<CallFormat> format_;  // used under mutex_
  std::string served_by_;               // under mutex_: the workers of the final events

  std::mutex inbox_mutex_;
  std::vector<PendingEvent> inbox_;  // guarded by inbox_mutex_
  bool drain_posted_ = false;        // guarded by inbox_mutex_: a drain is queued or running

  std::mutex mutex_;
  std::vector<std::unique_ptr<Choice>> choices_;
  int32_t choices_done_ = 0;
  Usage usage_;
  std::string error_;  // an engine error or shutdown: the response becomes an error
  bool client_gone_ = false;
  bool cancelled_by_server_ = false;  // shutdown
  std::chrono::steady_clock::time_point start_, first_token_, last_token_;
  int64_t tokens_seen_ = 0;
  int64_t prompt_tokens_ = 0, cached_tokens_ = 0;  // from the engine's events
};

}  // namespace mx
