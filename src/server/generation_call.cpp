#include "server/generation_call.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "server/responses_format.h"

namespace mx {
namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::unique_ptr<CallFormat> make_format(const GenerationCallSettings& settings) {
  const ChatFormatOptions options{settings.include_usage, settings.want_logprobs};
  switch (settings.api) {
    case CallApi::kCompletion:
      return make_completion_format(settings.model_name, options);
    case CallApi::kResponses:
      return make_responses_format(settings.model_name, settings.response_echo);
    case CallApi::kChat:
      break;
  }
  return make_chat_format(settings.model_name, options);
}

void append(OutputDelta& into, OutputDelta&& more) {
  into.reasoning += more.reasoning;
  into.content += more.content;
  for (auto& call : more.tool_calls) into.tool_calls.push_back(std::move(call));
  into.stopped = into.stopped || more.stopped;
}

}  // namespace

GenerationCall::GenerationCall(GenerationCallSettings settings, int32_t n_choices,
                               const Tokenizer& tokenizer, EngineClient& engine, Metrics& metrics,
                               std::shared_ptr<HttpResponder> responder,
                               std::function<void()> on_done)
    : settings_(std::move(settings)),
      tokenizer_(tokenizer),
      engine_(engine),
      metrics_(metrics),
      responder_(std::move(responder)),
      on_done_(std::move(on_done)),
      start_(Clock::now()) {
  for (int32_t i = 0; i < n_choices; ++i) {
    choices_.push_back(
        std::make_unique<Choice>(tokenizer, settings_.skip_special, settings_.output));
  }
  format_ = make_format(settings_);
}

Status GenerationCall::start(const SequenceRequest& base) {
  {
    std::lock_guard lock(mutex_);  // events wait until every choice has its id
    std::vector<SequenceRequest> requests;
    for (size_t i = 0; i < choices_.size(); ++i) {
      SequenceRequest request = base;
      if (i > 0 && request.sampling.seed) *request.sampling.seed += i;
      requests.push_back(std::move(request));
    }
    auto seqs = engine_.submit_all(std::move(requests), shared_from_this());
    if (!seqs.ok()) return seqs.error();  // nothing was queued; the caller answers
    for (size_t i = 0; i < choices_.size(); ++i) choices_[i]->seq = (*seqs)[i];
    if (settings_.stream) {
      responder_->start_stream(200);
      if (std::string head = format_->stream_start(); !head.empty()) responder_->write(head);
    }
  }
  // Outside the lock: if the client is already gone the callback runs here, at once.
  std::weak_ptr<GenerationCall> weak = weak_from_this();
  responder_->on_close([weak] {
    if (auto self = weak.lock()) self->cancel_all();
  });
  return ok_status();
}

void GenerationCall::cancel_all() {
  std::lock_guard lock(mutex_);
  client_gone_ = true;
  for (auto& choice : choices_) {
    if (!choice->done) engine_.cancel(choice->seq);
  }
}

TokenLogprobs GenerationCall::logprobs_of(const SampledToken& token) const {
  TokenLogprobs out{tokenizer_.token_to_piece(token.token), token.logprob, {}};
  for (const TokenLogprob& alt : token.top_logprobs) {
    out.top.push_back({tokenizer_.token_to_piece(alt.token), alt.logprob});
  }
  return out;
}

void GenerationCall::on_event(int32_t index, const TokenEvent& event) {
  if (settings_.text_executor == nullptr) return process_event(index, event);
  {
    std::lock_guard lock(inbox_mutex_);
    inbox_.push_back(PendingEvent{index, event});
    if (drain_posted_) return;
    drain_posted_ = true;
  }
  // The executor refuses only once it is stopping: then the text work runs here.
  if (!settings_.text_executor->post([self = shared_from_this()] { self->drain(); })) drain();
}

void GenerationCall::drain() {
  std::vector<PendingEvent> batch;
  for (;;) {
    {
      std::lock_guard lock(inbox_mutex_);
      if (inbox_.empty()) {
        drain_posted_ = false;
        return;
      }
      batch.swap(inbox_);
    }
    for (const PendingEvent& pending : batch) process_event(pending.index, pending.event);
    batch.clear();
    {
      std::lock_guard lock(inbox_mutex_);
      if (inbox_.empty()) {
        drain_posted_ = false;
        return;
      }
    }
    // More came meanwhile: queue behind the other calls' drains instead of hogging a thread.
    if (settings_.text_executor->post([self = shared_from_this()] { self->drain(); })) return;
  }
}

void GenerationCall::process_event(int32_t index, const TokenEvent& event) {
  std::optional<FinalUsage> final_usage;
  {
    std::lock_guard lock(mutex_);
    if (!apply_event(index, event)) return;
    if (++choices_done_ == static_cast<int32_t>(choices_.size())) final_usage = complete();
  }
  // Outside the lock: without a ledger the end is sent at once, from this thread.
  if (final_usage) end_response(*final_usage);
}

bool GenerationCall::apply_event(int32_t index, const TokenEvent& event) {
  Choice& choice = *choices_[static_cast<size_t>(index)];
  if (choice.done) return false;
  choice.computed_tokens = event.completion_tokens;
  prompt_tokens_ = event.prompt_tokens;
  cached_tokens_ = std::max(cached_tokens_, event.cached_tokens);
  OutputDelta delta;
  if (event.token.token >= 0 && !event.stop_token) add_token(choice, event, delta);
  if (event.finished) finish_choice(index, choice, event, delta);
  if (event.finished && !event.served_by.empty() &&
      served_by_.find(event.served_by) == std::string::npos) {
    served_by_ += served_by_.empty() ? event.served_by : "," + event.served_by;
  }
  choice.content += delta.content;
  choice.reasoning += delta.reasoning;
  if (settings_.stream && !client_gone_) stream_delta(index, choice, delta, event.finished);
  return event.finished;
}

void GenerationCall::add_token(Choice& choice, const TokenEvent& event, OutputDelta& delta) {
  const Clock::time_point now = Clock::now();
  if (tokens_seen_++ == 0) first_token_ = now;
  last_token_ = now;
  const std::string text = choice.detokenizer.push(event.token.token);
  if (settings_.want_logprobs) choice.logprobs.push_back(logprobs_of(event.token));
  if (choice.output.stopped()) return;  // tokens computed before the cancel took effect
  append(delta, choice.output.feed(text));
  if (delta.stopped) engine_.cancel(choice.seq);  // a stop string: end the sequence
  // A token is a reasoning token if it produced reasoning text or left the splitter inside
  // <think> (a token holding part of the closing tag counts too).
  if (!delta.reasoning.empty() || choice.output.in_reasoning()) ++choice.reasoning_tokens;
}

void GenerationCall::finish_choice(int32_t, Choice& choice, const TokenEvent& event,
                                   OutputDelta& delta) {
  choice.done = true;
  const bool stopped_by_string = choice.output.stopped();
  if (!stopped_by_string) {
    append(delta, choice.output.feed(choice.detokenizer.flush()));
    append(delta, choice.output.finish());
  }
  choice.finish = FinishReason::kStop;
  if (!stopped_by_string) {
    switch (event.stop_reason) {
      case StopReason::kLength:
        choice.finish = FinishReason::kLength;
        break;
      case StopReason::kCancelled:
        if (!client_gone_) {
          error_ = "the server is shutting down; retry the request";
          cancelled_by_server_ = true;
        }
        break;
      case StopReason::kError:
        error_ = event.error;
        break;
      default:
        break;
    }
  }
  if (!choice.output.tool_calls().empty()) choice.finish = FinishReason::kToolCalls;
  usage_.prompt_tokens = event.prompt_tokens;
  usage_.cached_tokens = std::max(usage_.cached_tokens, event.cached_tokens);
  usage_.completion_tokens += event.completion_tokens;
  usage_.reasoning_tokens += choice.reasoning_tokens;
}

void GenerationCall::stream_delta(int32_t index, Choice& choice, const OutputDelta& delta,
                                  bool final) {
  if (final && !error_.empty()) return send_chunk(format_->stream_error(error_));
  std::optional<FinishReason> finish;
  if (final) finish = choice.finish;
  std::string data = format_->stream_delta(index, delta, choice.logprobs, finish);
  if (!data.empty()) send_chunk(std::move(data));
}

void GenerationCall::send_chunk(std::string data) {
  if (!meter_) return responder_->write(std::move(data));
  meter_->progress(counts_now(), ttft_ms(),
                   [responder = responder_, data = std::move(data), &metrics = metrics_,
                    ready = Clock::now()]() mutable {
                     metrics.ledger_wait_seconds.observe(seconds(Clock::now() - ready));
                     responder->write(std::move(data));
                   });
}

TokenCounts GenerationCall::counts_now() const {
  TokenCounts counts{prompt_tokens_, cached_tokens_, 0, 0};
  for (const auto& choice : choices_) {
    counts.completion += choice->computed_tokens;
    counts.reasoning += choice->reasoning_tokens;
  }
  return counts;
}

double GenerationCall::ttft_ms() const {
  return tokens_seen_ > 0 ? seconds(first_token_ - start_) * 1e3 : 0.0;
}

UsageStatus GenerationCall::final_status() const {
  // A shutdown cancels what is still running: aborted by the server, not an engine error.
  if (client_gone_ || cancelled_by_server_) return UsageStatus::kAborted;
  return error_.empty() ? UsageStatus::kOk : UsageStatus::kError;
}

GenerationCall::FinalUsage GenerationCall::complete() {
  const Clock::time_point end = Clock::now();
  int status = error_.empty() ? 200 : 503;
  if (client_gone_) status = 499;  // nginx's "client closed request", for the request counter
  metrics_.count_request(settings_.route, status);
  metrics_.e2e_seconds.observe(seconds(end - start_));
  if (tokens_seen_ > 0) {
    metrics_.ttft_seconds.observe(seconds(first_token_ - start_));
    const int64_t per_choice = tokens_seen_ / static_cast<int64_t>(choices_.size());
    if (per_choice > 1) {
      metrics_.tpot_seconds.observe(seconds(last_token_ - first_token_) / (per_choice - 1));
    }
  }
  metrics_.prompt_tokens += usage_.prompt_tokens;
  metrics_.cached_tokens += usage_.cached_tokens;
  metrics_.generated_tokens += usage_.completion_tokens;
  // Billed: what the client is told (usage_), and for an aborted call what was computed.
  TokenCounts billed{usage_.prompt_tokens, usage_.cached_tokens, usage_.completion_tokens,
                     usage_.reasoning_tokens};
  if (billed.prompt == 0) billed.prompt = prompt_tokens_;
  billed.completion = std::max(billed.completion, counts_now().completion);
  return FinalUsage{final_status(), billed, ttft_ms(), seconds(end - start_) * 1e3, end,
                    served_by_};
}

// The end of the response goes out once the final record is committed (at once without a
// meter or a ledger).
void GenerationCall::end_response(const FinalUsage& usage) {
  auto respond_now = [self = shared_from_this(), end = usage.end] {
    self->metrics_.ledger_wait_seconds.observe(seconds(Clock::now() - end));
    std::lock_guard lock(self->mutex_);
    self->respond();
  };
  if (!meter_) return respond_now();
  if (!usage.served_by.empty()) meter_->set_worker(usage.served_by);
  meter_->finish(usage.status, usage.tokens, usage.ttft_ms, usage.e2e_ms, std::move(respond_now));
}

void GenerationCall::respond() {
  if (client_gone_) {
    // nothing to send
  } else if (settings_.stream) {
    responder_->write(format_->stream_end(usage_, !error_.empty()));
    responder_->end_stream();
  } else if (!error_.empty()) {
    responder_->send(503, "application/json",
                     ApiError{503, "server_error", error_, {}, {}, 0}.to_json());
  } else {
    send_whole_response();
  }
  if (on_done_) on_done_();
}

void GenerationCall::send_whole_response() {
  std::vector<ChoiceResult> choices;
  for (size_t i = 0; i < choices_.size(); ++i) {
    Choice& c = *choices_[i];
    choices.push_back(ChoiceResult{static_cast<int32_t>(i), std::move(c.content),
                                   std::move(c.reasoning), c.output.tool_calls(),
                                   std::move(c.logprobs), c.finish});
  }
  responder_->send(200, "application/json", format_->whole_body(choices, usage_));
}

}  // namespace mx
