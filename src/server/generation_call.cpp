#include "server/generation_call.h"

#include <spdlog/spdlog.h>

#include <chrono>

namespace mx {
namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Code points in UTF-8 text (continuation bytes are not counted).
int64_t utf8_chars(const std::string& text) {
  int64_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

void append(OutputDelta& into, OutputDelta&& more) {
  into.reasoning += more.reasoning;
  into.content += more.content;
  for (auto& call : more.tool_calls) into.tool_calls.push_back(std::move(call));
  into.stopped = into.stopped || more.stopped;
}

}  // namespace

GenerationCall::GenerationCall(GenerationCallSettings settings, int32_t n_choices,
                               const Tokenizer& tokenizer, Engine& engine, Metrics& metrics,
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
  meta_.id = random_response_id(settings_.chat ? "chatcmpl-" : "cmpl-");
  meta_.created = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  meta_.model = settings_.model_name;
}

Status GenerationCall::start(const EngineRequest& base) {
  {
    std::lock_guard lock(mutex_);  // events wait until every choice has its id
    std::vector<EngineRequest> requests;
    for (size_t i = 0; i < choices_.size(); ++i) {
      EngineRequest request = base;
      if (i > 0 && request.sampling.seed) *request.sampling.seed += i;
      request.on_event = [self = shared_from_this(), index = static_cast<int32_t>(i)](
                             const TokenEvent& event) { self->on_event(index, event); };
      requests.push_back(std::move(request));
    }
    auto seqs = engine_.submit_all(std::move(requests));
    if (!seqs.ok()) return seqs.error();  // nothing was queued; the caller answers
    for (size_t i = 0; i < choices_.size(); ++i) choices_[i]->seq = (*seqs)[i];
    if (settings_.stream) responder_->start_stream(200);
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
  const bool has_text = !delta.content.empty() || !delta.reasoning.empty();
  if (final && !error_.empty()) {
    send_chunk(sse_event(
        nlohmann::ordered_json::parse(ApiError{503, "server_error", error_, {}, {}, 0}.to_json())));
    return;
  }
  std::optional<nlohmann::ordered_json> logprobs;
  if (settings_.want_logprobs && !choice.logprobs.empty() && (has_text || final)) {
    logprobs = settings_.chat ? chat_logprobs_json(choice.logprobs)
                              : completion_logprobs_json(choice.logprobs, choice.text_chars);
    choice.logprobs.clear();
  }
  if (settings_.chat) {
    ChatDelta chunk;
    chunk.index = index;
    chunk.role = !choice.role_sent;
    chunk.content = delta.content;
    chunk.reasoning_content = delta.reasoning;
    chunk.tool_calls = delta.tool_calls;
    if (final) chunk.finish_reason = choice.finish;
    chunk.logprobs = std::move(logprobs);
    if (!chunk.role && !has_text && chunk.tool_calls.empty() && !final) return;
    choice.role_sent = true;
    send_chunk(sse_event(chat_chunk_json(meta_, chunk, settings_.include_usage)));
    return;
  }
  CompletionChoice chunk;
  chunk.index = index;
  chunk.text = delta.content;
  if (final) chunk.finish_reason = choice.finish;
  chunk.logprobs = std::move(logprobs);
  if (chunk.text.empty() && !final) return;
  choice.text_chars += utf8_chars(chunk.text);
  send_chunk(sse_event(completion_chunk_json(meta_, chunk, settings_.include_usage)));
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
  return FinalUsage{final_status(), billed, ttft_ms(), seconds(end - start_) * 1e3, end};
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
  meter_->finish(usage.status, usage.tokens, usage.ttft_ms, usage.e2e_ms, std::move(respond_now));
}

void GenerationCall::respond() {
  if (client_gone_) {
    // nothing to send
  } else if (settings_.stream) {
    if (settings_.include_usage && error_.empty()) {
      responder_->write(sse_event(settings_.chat ? chat_usage_chunk_json(meta_, usage_)
                                                 : completion_usage_chunk_json(meta_, usage_)));
    }
    responder_->write(std::string(kSseDone));
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
  nlohmann::ordered_json body;
  if (settings_.chat) {
    std::vector<ChatChoice> choices;
    for (size_t i = 0; i < choices_.size(); ++i) {
      Choice& c = *choices_[i];
      ChatChoice out;
      out.index = static_cast<int32_t>(i);
      out.content = c.content;
      out.reasoning_content = c.reasoning;
      out.tool_calls = c.output.tool_calls();
      out.finish_reason = c.finish;
      if (settings_.want_logprobs) out.logprobs = chat_logprobs_json(c.logprobs);
      choices.push_back(std::move(out));
    }
    body = chat_completion_json(meta_, choices, usage_);
  } else {
    std::vector<CompletionChoice> choices;
    for (size_t i = 0; i < choices_.size(); ++i) {
      Choice& c = *choices_[i];
      CompletionChoice out;
      out.index = static_cast<int32_t>(i);
      out.text = c.content;
      out.finish_reason = c.finish;
      if (settings_.want_logprobs) out.logprobs = completion_logprobs_json(c.logprobs);
      choices.push_back(std::move(out));
    }
    body = completion_json(meta_, choices, usage_);
  }
  responder_->send(200, "application/json", response_body(body));
}

}  // namespace mx
