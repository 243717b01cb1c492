// libFuzzer target for the OpenAI protocol layer. The same bytes go to:
//  - both request parsers: they must never crash or throw, and every error must serialize
//    (ApiError::to_json, valid UTF-8); accepted chat requests must build their template input;
//  - the output-text pipeline (stop strings, reasoning split, each tool-call format) as if the
//    bytes were a generation's text: the result must not depend on how the text is cut into
//    pieces (whole, byte by byte, pseudo-random pieces), or the target aborts;
//  - the response builders, fed the pipeline's output (serialization must not throw).
// Seed corpus: tests/fuzz/corpus/openai_request (requests and model outputs); dictionary:
// tests/fuzz/fuzz_openai_request.dict.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "server/openai_request.h"
#include "server/openai_response.h"
#include "server/output_text.h"

namespace {

struct Collected {
  std::string reasoning;
  std::string content;
  std::vector<mx::ToolCall> calls;
  bool stopped = false;

  bool operator==(const Collected& other) const {
    if (reasoning != other.reasoning || content != other.content || stopped != other.stopped ||
        calls.size() != other.calls.size()) {
      return false;
    }
    for (size_t i = 0; i < calls.size(); ++i) {
      if (calls[i].id != other.calls[i].id || calls[i].name != other.calls[i].name ||
          calls[i].arguments != other.calls[i].arguments) {
        return false;
      }
    }
    return true;
  }
};

Collected run_pipeline(mx::OutputTextOptions options, const std::vector<std::string_view>& pieces) {
  int next_id = 0;
  options.make_tool_call_id = [&next_id] { return "call_" + std::to_string(next_id++); };
  mx::OutputText text(std::move(options));
  Collected out;
  auto take = [&](const mx::OutputDelta& delta) {
    out.reasoning += delta.reasoning;
    out.content += delta.content;
    out.stopped = out.stopped || delta.stopped;
    for (const mx::ToolCallDelta& call : delta.tool_calls) {
      out.calls.push_back({call.id, call.name, call.arguments});
    }
  };
  for (std::string_view piece : pieces) take(text.feed(piece));
  take(text.finish());
  return out;
}

std::vector<std::string_view> cut(std::string_view text, uint64_t seed, size_t max_piece) {
  std::vector<std::string_view> pieces;
  size_t pos = 0;
  while (pos < text.size()) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;  // LCG: cheap, deterministic
    const size_t length = 1 + (seed >> 33) % max_piece;
    pieces.push_back(text.substr(pos, length));
    pos += pieces.back().size();
  }
  return pieces;
}

void check_output_text(std::string_view text) {
  std::vector<std::string> stops = {"</s>", "STOP", "\n\nUser:"};
  if (!text.empty()) stops.emplace_back(text.substr(0, 1 + static_cast<uint8_t>(text[0]) % 4));
  const std::vector<std::string_view> whole = {text};
  const std::vector<std::string_view> bytes = cut(text, 0, 1);
  const std::vector<std::string_view> random = cut(text, text.size(), 7);
  for (mx::ToolCallFormat format :
       {mx::ToolCallFormat::kNone, mx::ToolCallFormat::kHermes, mx::ToolCallFormat::kDeepSeekV3,
        mx::ToolCallFormat::kLlama3Json}) {
    for (int reasoning = 0; reasoning < 3; ++reasoning) {
      mx::OutputTextOptions options;
      options.stop = stops;
      options.split_reasoning = reasoning > 0;
      options.starts_in_reasoning = reasoning == 2;
      options.tool_call_format = format;
      const Collected expected = run_pipeline(options, whole);
      if (!(run_pipeline(options, bytes) == expected) ||
          !(run_pipeline(options, random) == expected)) {
        std::fprintf(stderr, "output depends on the cut: format %s, reasoning mode %d\n",
                     mx::tool_call_format_name(format), reasoning);
        std::abort();
      }
      // The builders must serialize whatever the pipeline produced.
      mx::ChatChoice choice;
      choice.content = expected.content;
      choice.reasoning_content = expected.reasoning;
      choice.tool_calls = expected.calls;
      const std::vector<mx::ChatChoice> choices = {choice};
      const mx::ResponseMeta meta{"chatcmpl-x", 0, "m", ""};
      (void)mx::response_body(mx::chat_completion_json(meta, choices, mx::Usage{}));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  mx::ApiResult<mx::ChatCompletionRequest> chat = mx::parse_chat_completion_request(body);
  if (chat.ok()) {
    (void)mx::response_body(chat->template_input());
  } else {
    (void)chat.error().to_json();
  }
  mx::ApiResult<mx::CompletionRequest> completion = mx::parse_completion_request(body);
  if (!completion.ok()) (void)completion.error().to_json();
  check_output_text(body);
  return 0;
}
