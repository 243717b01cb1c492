// The chat and completion wire formats (call_format.h).
#include "server/call_format.h"

#include <chrono>

#include "server/api_error.h"

namespace mx {
namespace {

using Json = nlohmann::ordered_json;

// Code points in UTF-8 text (continuation bytes are not counted).
int64_t utf8_chars(const std::string& text) {
  int64_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

std::string error_event(std::string_view message) {
  return sse_event(
      Json::parse(ApiError{503, "server_error", std::string(message), {}, {}, 0}.to_json()));
}

std::string done_event(const std::string& usage_chunk) {
  return usage_chunk + std::string(kSseDone);
}

class ChatFormat final : public CallFormat {
 public:
  ChatFormat(ResponseMeta meta, ChatFormatOptions options)
      : CallFormat(std::move(meta)), options_(options) {}

  std::string stream_delta(int32_t index, const OutputDelta& delta,
                           std::vector<TokenLogprobs>& logprobs,
                           std::optional<FinishReason> finish) override {
    const bool has_text = !delta.content.empty() || !delta.reasoning.empty();
    if (static_cast<size_t>(index) >= role_sent_.size()) role_sent_.resize(index + 1, false);
    ChatDelta chunk;
    chunk.index = index;
    chunk.role = !role_sent_[index];
    chunk.content = delta.content;
    chunk.reasoning_content = delta.reasoning;
    chunk.tool_calls = delta.tool_calls;
    chunk.finish_reason = finish;
    if (!chunk.role && !has_text && chunk.tool_calls.empty() && !finish) return {};
    if (options_.want_logprobs && !logprobs.empty() && (has_text || finish)) {
      chunk.logprobs = chat_logprobs_json(logprobs);
      logprobs.clear();
    }
    role_sent_[index] = true;
    return sse_event(chat_chunk_json(meta_, chunk, options_.include_usage));
  }

  std::string stream_error(std::string_view message) override { return error_event(message); }

  std::string stream_end(const Usage& usage, bool failed) override {
    const bool usage_chunk = options_.include_usage && !failed;
    return done_event(usage_chunk ? sse_event(chat_usage_chunk_json(meta_, usage)) : "");
  }

  std::string whole_body(std::span<const ChoiceResult> choices, const Usage& usage) override {
    std::vector<ChatChoice> out;
    for (const ChoiceResult& c : choices) {
      ChatChoice choice;
      choice.index = c.index;
      choice.content = c.content;
      choice.reasoning_content = c.reasoning;
      choice.tool_calls = c.tool_calls;
      choice.finish_reason = c.finish;
      if (options_.want_logprobs) choice.logprobs = chat_logprobs_json(c.logprobs);
      out.push_back(std::move(choice));
    }
    return response_body(chat_completion_json(meta_, out, usage));
  }

 private:
  ChatFormatOptions options_;
  std::vector<bool> role_sent_;
};

class CompletionFormat final : public CallFormat {
 public:
  CompletionFormat(ResponseMeta meta, ChatFormatOptions options)
      : CallFormat(std::move(meta)), options_(options) {}

  std::string stream_delta(int32_t index, const OutputDelta& delta,
                           std::vector<TokenLogprobs>& logprobs,
                           std::optional<FinishReason> finish) override {
    if (delta.content.empty() && !finish) return {};
    if (static_cast<size_t>(index) >= text_chars_.size()) text_chars_.resize(index + 1, 0);
    CompletionChoice chunk;
    chunk.index = index;
    chunk.text = delta.content;
    chunk.finish_reason = finish;
    if (options_.want_logprobs && !logprobs.empty()) {
      chunk.logprobs = completion_logprobs_json(logprobs, text_chars_[index]);
      logprobs.clear();
    }
    text_chars_[index] += utf8_chars(chunk.text);
    return sse_event(completion_chunk_json(meta_, chunk, options_.include_usage));
  }

  std::string stream_error(std::string_view message) override { return error_event(message); }

  std::string stream_end(const Usage& usage, bool failed) override {
    const bool usage_chunk = options_.include_usage && !failed;
    return done_event(usage_chunk ? sse_event(completion_usage_chunk_json(meta_, usage)) : "");
  }

  std::string whole_body(std::span<const ChoiceResult> choices, const Usage& usage) override {
    std::vector<CompletionChoice> out;
    for (const ChoiceResult& c : choices) {
      CompletionChoice choice;
      choice.index = c.index;
      choice.text = c.content;
      choice.finish_reason = c.finish;
      if (options_.want_logprobs) choice.logprobs = completion_logprobs_json(c.logprobs);
      out.push_back(std::move(choice));
    }
    return response_body(completion_json(meta_, out, usage));
  }

 private:
  ChatFormatOptions options_;
  std::vector<int64_t> text_chars_;  // characters of text sent per choice (text_offset)
};

}  // namespace

ResponseMeta new_response_meta(std::string_view id_prefix, std::string model) {
  ResponseMeta meta;
  meta.id = random_response_id(id_prefix);
  meta.created = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  meta.model = std::move(model);
  return meta;
}

std::unique_ptr<CallFormat> make_chat_format(std::string model, ChatFormatOptions options) {
  return std::make_unique<ChatFormat>(new_response_meta("chatcmpl-", std::move(model)), options);
}

std::unique_ptr<CallFormat> make_completion_format(std::string model, ChatFormatOptions options) {
  return std::make_unique<CompletionFormat>(new_response_meta("cmpl-", std::move(model)), options);
}

}  // namespace mx
