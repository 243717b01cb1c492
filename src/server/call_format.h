// CallFormat: the wire format of one generation call — what GenerationCall writes for the API
// the request came in on. GenerationCall runs the engine sequences and the text pipeline
// (detokenize → OutputText) and hands each choice's OutputDelta to its format; the format turns
// it into bytes: SSE events while streaming, or one JSON body at the end. Three formats:
//
//   chat        /v1/chat/completions: chat.completion(.chunk), data-only SSE ending "[DONE]"
//   completion  /v1/completions: text_completion, data-only SSE ending "[DONE]"
//   responses   /v1/responses: the Response object and its typed event stream
//               (server/responses_format.h)
//
// A format is stateful per call (which choice sent its role, the text offset of completion
// logprobs, the Responses event sequence and open output items) and called under the call's
// lock, one thread at a time. Its methods are pure apart from that state: no I/O, so each is
// unit-tested on its own.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/openai_response.h"
#include "server/output_text.h"

namespace mx {

enum class CallApi { kChat, kCompletion, kResponses };

// One choice at the end of a call (non-streaming body).
struct ChoiceResult {
  int32_t index = 0;
  std::string content, reasoning;
  std::vector<ToolCall> tool_calls;
  std::vector<TokenLogprobs> logprobs;  // every token's (when logprobs were asked for)
  FinishReason finish = FinishReason::kStop;
};

class CallFormat {
 public:
  explicit CallFormat(ResponseMeta meta) : meta_(std::move(meta)) {}
  virtual ~CallFormat() = default;

  // id ("chatcmpl-…", "cmpl-…", "resp_…"; also the ledger's request id), created, model.
  const ResponseMeta& meta() const { return meta_; }

  // Streaming: what goes out as soon as the stream opens (empty for chat and completion).
  virtual std::string stream_start() { return {}; }
  // One choice's new output. `logprobs` holds the tokens not sent yet: the format takes what it
  // sends (and clears them). `finish` is set on the choice's last delta. Empty: nothing to send.
  virtual std::string stream_delta(int32_t index, const OutputDelta& delta,
                                   std::vector<TokenLogprobs>& logprobs,
                                   std::optional<FinishReason> finish) = 0;
  // The stream fails (engine error, shutdown): the event that says so.
  virtual std::string stream_error(std::string_view message) = 0;
  // After every choice's last delta: the end of the stream (`failed`: after stream_error).
  virtual std::string stream_end(const Usage& usage, bool failed) = 0;
  // Not streaming: the whole response body.
  virtual std::string whole_body(std::span<const ChoiceResult> choices, const Usage& usage) = 0;

 protected:
  ResponseMeta meta_;
};

struct ChatFormatOptions {
  bool include_usage = false;  // stream_options.include_usage
  bool want_logprobs = false;
};

// meta.id is made here from the API's prefix; created is now.
std::unique_ptr<CallFormat> make_chat_format(std::string model, ChatFormatOptions options);
std::unique_ptr<CallFormat> make_completion_format(std::string model, ChatFormatOptions options);

// A fresh ResponseMeta: prefix + random id, created now (Unix seconds).
ResponseMeta new_response_meta(std::string_view id_prefix, std::string model);

}  // namespace mx
