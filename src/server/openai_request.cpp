#include "server/openai_request.h"

#include <fmt/format.h>

#include <charconv>
#include <limits>

#include "server/openai_request_parts.h"

namespace mx {
namespace openai_detail {
namespace {

using json_fields::find;
using json_fields::Range;
using json_fields::read_bool;
using json_fields::read_int;
using json_fields::read_number;
using json_fields::read_string;
using json_fields::show;
using json_fields::wrong_type;

constexpr int64_t kMaxInt32 = std::numeric_limits<int32_t>::max();
constexpr size_t kMaxStopStrings = 4;

ApiError bad(std::string message, std::string_view param) {
  return ApiError::bad_request(std::move(message), std::string(param));
}

// Reads a float field of SamplingParams.
Check read_float(const Json& body, std::string_view key, const Range& range, float& out) {
  double value = out;
  if (auto error = read_number(body, key, key, range, value)) return error;
  out = static_cast<float>(value);
  return std::nullopt;
}

Check read_stop(const Json& body, std::vector<std::string>& out) {
  const Json* stop = find(body, "stop");
  if (stop == nullptr) return std::nullopt;
  if (stop->is_string()) {
    if (stop->get_ref<const std::string&>().empty()) {
      return bad(
          "stop must be a non-empty string or an array of up to 4 non-empty strings, "
          "got an empty string",
          "stop");
    }
    out = {stop->get<std::string>()};
    return std::nullopt;
  }
  if (!stop->is_array()) return wrong_type("stop", "a string or an array of strings", *stop);
  if (stop->size() > kMaxStopStrings) {
    return bad(
        fmt::format("stop may hold at most {} strings, got {}", kMaxStopStrings, stop->size()),
        "stop");
  }
  out.clear();
  for (size_t i = 0; i < stop->size(); ++i) {
    const Json& item = (*stop)[i];
    const std::string path = fmt::format("stop[{}]", i);
    if (!item.is_string()) return wrong_type(path, "a string", item);
    if (item.get_ref<const std::string&>().empty()) {
      return bad(fmt::format("{} must not be empty", path), path);
    }
    out.push_back(item.get<std::string>());
  }
  return std::nullopt;
}

// logit_bias: {"<token id>": bias in [-100, 100], ...}. Ids are checked against the vocabulary
// later (SamplingParams::validate), by the caller that knows the model.
Check read_logit_bias(const Json& body, SamplingParams& out) {
  const Json* bias = find(body, "logit_bias");
  if (bias == nullptr) return std::nullopt;
  if (!bias->is_object()) return wrong_type("logit_bias", "an object of token id → bias", *bias);
  out.logit_bias.clear();
  for (const auto& [key, value] : bias->items()) {
    const std::string path = "logit_bias." + show(Json(key), 32);
    int32_t token = -1;
    auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), token);
    if (key.empty() || ec != std::errc() || end != key.data() + key.size() || token < 0) {
      return bad(fmt::format("logit_bias keys must be token ids (non-negative integers as "
                             "strings), got {}",
                             show(Json(key), 32)),
                 "logit_bias");
    }
    if (!value.is_number()) return wrong_type(path, "a number", value);
    const Range range{-100.0, 100.0};
    if (!range.contains(value.get<double>())) {
      return bad(fmt::format("{} must be {}, got {}", path, range.describe(), show(value)), path);
    }
    out.logit_bias.emplace_back(token, static_cast<float>(value.get<double>()));
  }
  return std::nullopt;
}

}  // namespace

Check read_sampling_fields(const Json& body, SamplingParams& out) {
  if (auto e = read_float(body, "temperature", Range{0.0, 2.0}, out.temperature)) return e;
  if (auto e = read_float(body, "top_p", Range{0.0, 1.0, true, false}, out.top_p)) return e;
  if (auto e = read_float(body, "min_p", Range{0.0, 1.0}, out.min_p)) return e;
  const Range penalty{-2.0, 2.0};
  if (auto e = read_float(body, "presence_penalty", penalty, out.presence_penalty)) return e;
  if (auto e = read_float(body, "frequency_penalty", penalty, out.frequency_penalty)) return e;
  const Range repetition{0.0, 2.0, true, false};
  if (auto e = read_float(body, "repetition_penalty", repetition, out.repetition_penalty)) {
    return e;
  }
  if (const Json* top_k = find(body, "top_k")) {
    if (!top_k->is_number_integer()) return wrong_type("top_k", "an integer", *top_k);
    const std::optional<int64_t> value = json_fields::as_int64(*top_k);
    if (!value || *value < -1 || *value > kMaxInt32) {
      return bad(fmt::format("top_k must be -1 or 0 (both: off) or a positive integer, got {}",
                             show(*top_k)),
                 "top_k");
    }
    out.top_k = *value < 0 ? 0 : static_cast<int32_t>(*value);  // -1 (vLLM's "off") → 0
  }
  if (const Json* seed = find(body, "seed")) {
    if (!seed->is_number_integer()) return wrong_type("seed", "an integer", *seed);
    // Any 64-bit integer: negative seeds wrap (the seed only has to be reproducible).
    out.seed = seed->is_number_unsigned() ? seed->get<uint64_t>()
                                          : static_cast<uint64_t>(seed->get<int64_t>());
  }
  return read_logit_bias(body, out);
}

namespace {

Check read_stream_fields(const Json& body, GenerationRequest& out) {
  if (auto e = read_bool(body, "stream", "stream", out.stream)) return e;
  const Json* options = find(body, "stream_options");
  if (options == nullptr) return std::nullopt;
  if (!options->is_object()) return wrong_type("stream_options", "an object", *options);
  // Ignored without stream (usage is always in a non-streaming response).
  return read_bool(*options, "include_usage", "stream_options.include_usage", out.include_usage);
}

Check read_max_tokens(const Json& body, GenerationRequest& out) {
  int64_t value = 0;
  // max_completion_tokens is the newer name; when both are sent it wins.
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    if (find(body, key) == nullptr) continue;
    if (auto e = read_int(body, key, key, 1, kMaxInt32, value)) return e;
    out.max_tokens = static_cast<int32_t>(value);
  }
  return std::nullopt;
}

}  // namespace

Check read_generation_fields(const Json& body, GenerationRequest& out) {
  if (auto e = read_string(body, "model", "model", out.model)) return e;
  if (auto e = read_stream_fields(body, out)) return e;
  int64_t n = 1;
  if (auto e = read_int(body, "n", "n", 1, 16, n)) return e;
  out.n = static_cast<int32_t>(n);
  if (auto e = read_stop(body, out.stop)) return e;
  if (auto e = read_max_tokens(body, out)) return e;
  if (auto e = read_bool(body, "ignore_eos", "ignore_eos", out.ignore_eos)) return e;
  return read_sampling_fields(body, out.sampling);
}

Check read_response_format(const Json& body) {
  const Json* format = find(body, "response_format");
  if (format == nullptr) return std::nullopt;
  if (!format->is_object()) return wrong_type("response_format", "an object", *format);
  const Json* type = find(*format, "type");
  if (type == nullptr || !type->is_string()) {
    return bad("response_format.type must be a string; only {\"type\": \"text\"} is supported",
               "response_format.type");
  }
  if (type->get_ref<const std::string&>() != "text") {
    return bad(fmt::format("response_format type {} is unsupported: mxserve has no constrained "
                           "decoding; only {{\"type\": \"text\"}} is accepted",
                           show(*type)),
               "response_format");
  }
  return std::nullopt;
}

}  // namespace openai_detail

namespace {

using openai_detail::Check;
using openai_detail::Json;

Check read_completion_prompt(const Json& body, CompletionRequest& out);

}  // namespace

ApiResult<Json> parse_request_json(std::string_view body) {
  Result<Json> parsed = parse_json_bounded(body, kRequestJsonLimits, "request body");
  if (!parsed.ok()) return ApiError::bad_request(parsed.error().message);
  if (!parsed->is_object()) {
    return ApiError::bad_request(
        fmt::format("request body must be a JSON object, got {}", json_fields::type_name(*parsed)));
  }
  return std::move(*parsed);
}

ApiResult<CompletionRequest> parse_completion_request(std::string_view body) {
  ApiResult<Json> parsed = parse_request_json(body);
  if (!parsed.ok()) return std::move(parsed).error();
  const Json& json = *parsed;
  CompletionRequest request;
  if (auto e = openai_detail::read_generation_fields(json, request.generation)) return *e;
  if (auto e = read_completion_prompt(json, request)) return *e;
  int64_t logprobs = 0;
  if (json_fields::find(json, "logprobs") != nullptr) {
    if (auto e = json_fields::read_int(json, "logprobs", "logprobs", 0, 5, logprobs)) return *e;
    request.logprobs = static_cast<int32_t>(logprobs);
    request.generation.sampling.logprobs = true;
    request.generation.sampling.top_logprobs = static_cast<int32_t>(logprobs);
  }
  bool echo = false;
  if (auto e = json_fields::read_bool(json, "echo", "echo", echo)) return *e;
  if (echo) {
    return ApiError::bad_request(
        "echo=true is not supported: send echo=false (or leave it out) "
        "and prepend the prompt yourself",
        "echo");
  }
  std::string suffix;
  if (auto e = json_fields::read_string(json, "suffix", "suffix", suffix)) return *e;
  if (!suffix.empty()) {
    return ApiError::bad_request("suffix is not supported (no fill-in-the-middle); leave it out",
                                 "suffix");
  }
  if (auto e = openai_detail::read_response_format(json)) return *e;
  return request;
}

namespace {

Check read_token_ids(const Json& array, std::string_view path, std::vector<int32_t>& out) {
  if (array.empty()) {
    return ApiError::bad_request(fmt::format("{} must not be empty", path), std::string(path));
  }
  out.reserve(array.size());
  for (size_t i = 0; i < array.size(); ++i) {
    const std::optional<int64_t> id = json_fields::as_int64(array[i]);
    if (!id || *id < 0 || *id > std::numeric_limits<int32_t>::max()) {
      return ApiError::bad_request(
          fmt::format("{}[{}] must be a token id (a non-negative integer), got {}", path, i,
                      json_fields::show(array[i])),
          std::string(path));
    }
    out.push_back(static_cast<int32_t>(*id));
  }
  return std::nullopt;
}

// prompt: a string, an array of one string, an array of token ids, or an array of one array of
// token ids. Several prompts in one request are not supported.
Check read_completion_prompt(const Json& body, CompletionRequest& out) {
  const Json* prompt = json_fields::find(body, "prompt");
  constexpr const char* kExpected = "a string, an array of token ids, or an array of one of those";
  if (prompt == nullptr) {
    return ApiError::bad_request(fmt::format("prompt is required: {}", kExpected), "prompt");
  }
  if (prompt->is_string()) {
    out.prompt_text = prompt->get<std::string>();
    return std::nullopt;
  }
  if (!prompt->is_array()) return json_fields::wrong_type("prompt", kExpected, *prompt);
  if (prompt->empty()) return ApiError::bad_request("prompt must not be empty", "prompt");
  const Json& first = (*prompt)[0];
  if (first.is_string() || first.is_array()) {
    if (prompt->size() != 1) {
      return ApiError::bad_request(
          fmt::format("only one prompt per request is supported, got {}; send one request per "
                      "prompt (or use n for several choices)",
                      prompt->size()),
          "prompt");
    }
    if (first.is_string()) {
      out.prompt_text = first.get<std::string>();
      return std::nullopt;
    }
    out.prompt_is_tokens = true;
    return read_token_ids(first, "prompt[0]", out.prompt_tokens);
  }
  out.prompt_is_tokens = true;
  return read_token_ids(*prompt, "prompt", out.prompt_tokens);
}

}  // namespace

}  // namespace mx
