// OpenAiService's generation routes: request → prompt tokens → SequenceRequest → GenerationCall
// (server/generation_call.h). /v1/responses (openai_responses.cpp) shares the chat path.
#include <nlohmann/json.hpp>

#include "server/generation_call.h"
#include "server/openai_request.h"
#include "server/openai_service.h"

namespace mx {
namespace {

// The prompt ends inside a <think> block the template opened (DeepSeek-R1, Qwen3 forced).
bool ends_in_think(const std::string& prompt) {
  size_t end = prompt.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return false;
  const std::string_view head(prompt.data(), end + 1);
  return head.ends_with("<think>");
}

// The request field errors about the prompt and the output length name, per API.
const char* prompt_param(CallApi api) {
  switch (api) {
    case CallApi::kCompletion:
      return "prompt";
    case CallApi::kResponses:
      return "input";
    case CallApi::kChat:
      break;
  }
  return "messages";
}

const char* max_tokens_param(CallApi api) {
  return api == CallApi::kResponses ? "max_output_tokens" : "max_tokens";
}

}  // namespace

// Shared tail of every generation route: model check, max_tokens, sampling check, start the call.
void OpenAiService::start_generation(const Caller& caller, const GenerationRequest& options,
                                     std::vector<int32_t> prompt, GenerationCallSettings settings,
                                     const std::shared_ptr<HttpResponder>& responder) {
  const std::string route = settings.route;  // a copy: settings is moved into the call
  if (!options.model.empty() && options.model != model_.name) {
    return reply_error(route,
                       ApiError{404, "not_found_error",
                                fmt::format("The model '{}' does not exist; this server "
                                            "serves '{}' (see GET /v1/models)",
                                            options.model, model_.name),
                                "model", "model_not_found", 0},
                       responder);
  }
  // A frontend's limits are its workers' (none may be up): read them per request.
  const EngineLimits limits = engine_.limits();
  if (limits.max_context <= 0) {
    return reply_error(route,
                       ApiError::from(Error{ErrorCode::kUnavailable,
                                            "no worker is serving this model right now; retry "
                                            "shortly"}),
                       responder);
  }
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());
  const int64_t room = limits.max_context - n_prompt;
  if (room < 1) {
    return reply_error(
        route,
        ApiError::bad_request(
            fmt::format("This model's maximum context length is {} tokens, but the prompt has {} "
                        "tokens; shorten the prompt",
                        limits.max_context, n_prompt),
            prompt_param(settings.api)),
        responder);
  }
  SequenceRequest request;
  request.prompt = std::move(prompt);
  request.sampling = options.sampling;
  request.max_new_tokens = options.max_tokens ? *options.max_tokens : room;
  // Without max_tokens a choice generates up to --default-max-tokens, the context's end, what
  // lets all n choices fit the KV pool together and what the key's token limits allow; it then
  // stops with finish_reason "length". (Below one token each, the engine's refusal explains.)
  int64_t smallest_token_limit = 0;
  if (caller.key) {
    for (int64_t limit : {caller.key->tokens_per_minute, caller.key->tokens_per_day}) {
      if (limit > 0 && (smallest_token_limit == 0 || limit < smallest_token_limit)) {
        smallest_token_limit = limit;
      }
    }
  }
  if (!options.max_tokens) {
    int64_t cap = std::min(room, max_new_tokens_for(limits, n_prompt, options.n));
    if (config_.default_max_tokens > 0) cap = std::min(cap, config_.default_max_tokens);
    if (smallest_token_limit > 0)
      cap = std::min(cap, (smallest_token_limit - n_prompt) / options.n);
    if (cap >= 1) request.max_new_tokens = cap;
  }
  request.stop_token_ids = model_.stop_token_ids;
  request.ignore_eos = options.ignore_eos;
  const int32_t vocab = static_cast<int32_t>(limits.vocab_size);
  if (Status valid = request.sampling.validate(vocab); !valid.ok()) {
    const bool bias = valid.error().message.find("logit_bias") != std::string::npos;
    return reply_error(route, ApiError::from(valid.error(), bias ? "logit_bias" : ""), responder);
  }
  settings.stream = options.stream;
  settings.include_usage = options.include_usage;
  settings.want_logprobs = options.sampling.logprobs || options.sampling.top_logprobs > 0;
  settings.top_logprobs = options.sampling.top_logprobs;
  settings.output.stop = options.stop;
  settings.model_name = model_.name;
  const CallApi api = settings.api;
  settings.text_executor = &text_executor_;
  auto call =
      std::make_shared<GenerationCall>(std::move(settings), options.n, *model_.tokenizer, engine_,
                                       metrics_, responder, [this] { --active_requests_; });
  // Quota reserved: the prompt once and max_tokens per choice. Without max_tokens that is an
  // estimate (--default-max-tokens, else at most kUnsetMaxTokensEstimate a choice), and the
  // meter settles the reservation with the tokens actually used when the request ends.
  constexpr int64_t kUnsetMaxTokensEstimate = 1024;
  int64_t per_choice = request.max_new_tokens;
  if (!options.max_tokens && config_.default_max_tokens <= 0) {
    per_choice = std::min(per_choice, kUnsetMaxTokensEstimate);
  }
  const int64_t reserve = n_prompt + per_choice * options.n;
  auto meter =
      metering_.admit(caller, call->id(), model_.name, TokenCounts{n_prompt, 0, 0, 0}, reserve);
  if (!meter.ok()) return reply_error(route, meter.error(), responder);
  call->attach_meter(*meter);
  ++active_requests_;
  if (Status started = call->start(request); !started.ok()) {
    --active_requests_;
    (*meter)->finish(UsageStatus::kError, TokenCounts{}, 0.0, 0.0, {});  // nothing computed
    const bool too_long = started.error().code == ErrorCode::kOutOfRange;
    return reply_error(
        route, ApiError::from(started.error(), too_long ? max_tokens_param(api) : ""), responder);
  }
}

void OpenAiService::handle_chat(const Caller& caller, const HttpRequest& http,
                                std::shared_ptr<HttpResponder> responder) {
  auto request = parse_chat_completion_request(http.body);
  if (!request.ok()) return reply_error("/v1/chat/completions", request.error(), responder);
  GenerationCallSettings settings;
  settings.api = CallApi::kChat;
  settings.route = "/v1/chat/completions";
  start_chat(caller, *request, std::move(settings), responder);
}

// Chat template → prompt tokens, then the shared tail (chat and /v1/responses).
void OpenAiService::start_chat(const Caller& caller, const ChatCompletionRequest& request,
                               GenerationCallSettings settings,
                               const std::shared_ptr<HttpResponder>& responder) {
  const std::string route = settings.route;
  if (!model_.chat_template) {
    return reply_error(route,
                       ApiError::bad_request(fmt::format("this model has no chat template, which "
                                                         "{} needs; use /v1/completions with a "
                                                         "prompt",
                                                         route)),
                       responder);
  }
  auto prompt_text = model_.chat_template->render(request.template_input());
  if (!prompt_text.ok()) {
    return reply_error(route, ApiError::from(prompt_text.error(), prompt_param(settings.api)),
                       responder);
  }
  const std::string& source = model_.chat_template->source();
  settings.output.split_reasoning = source.find("<think>") != std::string::npos;
  settings.output.starts_in_reasoning =
      settings.output.split_reasoning && ends_in_think(*prompt_text);
  const bool tools_on = !request.tools.is_null() && !request.tools.empty() &&
                        request.tool_choice.mode != ToolChoiceMode::kNone;
  if (tools_on) settings.output.tool_call_format = detect_tool_call_format(source);
  // DeepSeek's tool-call markers are special tokens: keep them in the text for the parser.
  settings.skip_special = settings.output.tool_call_format != ToolCallFormat::kDeepSeekV3;
  std::vector<int32_t> prompt = model_.tokenizer->encode(*prompt_text, /*add_special=*/false);
  start_generation(caller, request.generation, std::move(prompt), std::move(settings), responder);
}

void OpenAiService::handle_completion(const Caller& caller, const HttpRequest& http,
                                      std::shared_ptr<HttpResponder> responder) {
  const std::string route = "/v1/completions";
  auto request = parse_completion_request(http.body);
  if (!request.ok()) return reply_error(route, request.error(), responder);
  std::vector<int32_t> prompt;
  if (request->prompt_is_tokens) {
    const int32_t vocab = model_.tokenizer->vocab_size();
    for (int32_t id : request->prompt_tokens) {
      if (id < 0 || id >= vocab) {
        return reply_error(
            route,
            ApiError::bad_request(
                fmt::format("prompt token id {} is outside the vocabulary (0..{})", id, vocab - 1),
                "prompt"),
            responder);
      }
    }
    prompt = request->prompt_tokens;
  } else {
    prompt = model_.tokenizer->encode(request->prompt_text, /*add_special=*/true);
  }
  if (prompt.empty()) {
    return reply_error(route, ApiError::bad_request("the prompt is empty", "prompt"), responder);
  }
  GenerationCallSettings settings;
  settings.api = CallApi::kCompletion;
  settings.route = route;
  start_generation(caller, request->generation, std::move(prompt), std::move(settings), responder);
}

}  // namespace mx
