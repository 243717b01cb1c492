#include "server/openai_service.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <thread>

#include "server/api_error.h"
#include "server/engine_metrics.h"
#include "server/expert_load.h"
#include "server/kv_tier_metrics.h"
#include "server/openai_request.h"

namespace mx {

using nlohmann::json;

OpenAiService::OpenAiService(const ModelCard& model, EngineClient& engine, Metering& metering,
                             OpenAiServiceConfig config)
    : model_(model),
      engine_(engine),
      metering_(metering),
      config_(config),
      text_executor_("text", std::max(config.text_threads, 1), /*max_queued=*/0) {
  add_engine_metrics(metrics_, engine_, [this] {
    return Metrics::Gauges{
        {"mxserve_requests_active", static_cast<double>(active_requests_.load())}};
  });
}

void OpenAiService::register_routes(HttpServer& server) {
  // Routes behind the caller's key: handler(caller, request, responder).
  auto keyed = [this, &server](const char* method, const std::string& path, auto handler) {
    server.route(method, path, [this, path, handler](const HttpRequest& r, auto responder) {
      Caller caller;
      if (identify(path, r, responder, caller)) handler(caller, r, std::move(responder));
    });
  };
  keyed("POST", "/v1/chat/completions",
        [this](const Caller& c, const HttpRequest& r, auto responder) {
          handle_chat(c, r, std::move(responder));
        });
  keyed("POST", "/v1/completions", [this](const Caller& c, const HttpRequest& r, auto responder) {
    handle_completion(c, r, std::move(responder));
  });
  keyed("POST", "/v1/responses", [this](const Caller& c, const HttpRequest& r, auto responder) {
    handle_responses(c, r, std::move(responder));
  });
  keyed("GET", "/v1/models", [this](const Caller& c, const HttpRequest&, auto responder) {
    handle_models(c, std::move(responder));
  });
  keyed("POST", "/tokenize", [this](const Caller& c, const HttpRequest& r, auto responder) {
    auto denied = metering_.check_model(c, model_.name);
    if (denied) return reply_error("/tokenize", *denied, responder);
    handle_tokenize(r, std::move(responder));
  });
  keyed("POST", "/detokenize", [this](const Caller& c, const HttpRequest& r, auto responder) {
    auto denied = metering_.check_model(c, model_.name);
    if (denied) return reply_error("/detokenize", *denied, responder);
    handle_detokenize(r, std::move(responder));
  });
  // The one route on the I/O thread: it answers from memory, at once, whatever the load.
  server.route(
      "GET", "/health",
      [this](const HttpRequest&, auto responder) {
        if (draining_) {
          reply_error("/health", ApiError{503, "service_unavailable", "shutting down", {}, {}, 0},
                      responder);
        } else {
          reply_json("/health", R"({"status":"ok"})", responder);
        }
      },
      RouteThread::kIoThread);
  server.route("GET", "/metrics", [this](const HttpRequest& r, auto responder) {
    auto caller = metering_.identify_admin(r);
    if (!caller.ok()) return reply_error("/metrics", caller.error(), responder);
    metrics_.count_request("/metrics", 200);
    responder->send(200, "text/plain; version=0.0.4", metrics_.render());
  });
}

bool OpenAiService::wait_idle(std::chrono::steady_clock::time_point deadline) const {
  // Polled: a shutdown happens once, and the calls must not depend on a waiter to finish.
  while (active_requests_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return active_requests_.load() == 0;
}

bool OpenAiService::identify(const std::string& route, const HttpRequest& request,
                             const std::shared_ptr<HttpResponder>& responder, Caller& caller) {
  auto identified = metering_.identify(request);
  if (!identified.ok()) {
    reply_error(route, identified.error(), responder);
    return false;
  }
  caller = std::move(*identified);
  return true;
}

void OpenAiService::reply_error(const std::string& route, const ApiError& error,
                                const std::shared_ptr<HttpResponder>& responder) {
  metrics_.count_request(route, error.http_status);
  HttpHeaders headers;
  if (error.retry_after_s > 0)
    headers.emplace_back("Retry-After", std::to_string(error.retry_after_s));
  responder->send(error.http_status, "application/json", error.to_json(), std::move(headers));
}

void OpenAiService::reply_json(const std::string& route, const std::string& body,
                               const std::shared_ptr<HttpResponder>& responder) {
  metrics_.count_request(route, 200);
  responder->send(200, "application/json", body);
}

// Only the models the caller's key may use (OpenAI lists a key's models the same way).
void OpenAiService::handle_models(const Caller& caller, std::shared_ptr<HttpResponder> responder) {
  json data = json::array();
  if (!metering_.check_model(caller, model_.name)) {
    data.push_back({{"id", model_.name},
                    {"object", "model"},
                    {"created", model_.created},
                    {"owned_by", "mxserve"},
                    {"max_model_len", engine_.limits().max_context}});
  }
  reply_json("/v1/models", json{{"object", "list"}, {"data", std::move(data)}}.dump(), responder);
}

// {"prompt": "text", "add_special_tokens"?: bool} or {"messages": [...], ...chat fields}
// → {"tokens": [...], "count": n, "max_model_len": ctx} (the shape vLLM answers).
void OpenAiService::handle_tokenize(const HttpRequest& request,
                                    std::shared_ptr<HttpResponder> responder) {
  auto body = parse_request_json(request.body);
  if (!body.ok()) return reply_error("/tokenize", body.error(), responder);
  std::string text;
  bool add_special = true;
  if (body->contains("messages")) {
    auto chat = parse_chat_completion_request(request.body);
    if (!chat.ok()) return reply_error("/tokenize", chat.error(), responder);
    if (!model_.chat_template) {
      return reply_error("/tokenize",
                         ApiError::bad_request("this model has no chat template", "messages"),
                         responder);
    }
    auto rendered = model_.chat_template->render(chat->template_input());
    if (!rendered.ok())
      return reply_error("/tokenize", ApiError::from(rendered.error()), responder);
    text = std::move(*rendered);
    add_special = false;
  } else {
    const auto prompt = body->find("prompt");
    if (prompt == body->end() || !prompt->is_string()) {
      return reply_error(
          "/tokenize",
          ApiError::bad_request("send \"prompt\" (a string) or \"messages\" (a chat) to tokenize",
                                "prompt"),
          responder);
    }
    text = prompt->get<std::string>();
    const auto special = body->find("add_special_tokens");
    if (special != body->end()) {
      if (!special->is_boolean()) {
        return reply_error(
            "/tokenize",
            ApiError::bad_request("add_special_tokens must be a boolean", "add_special_tokens"),
            responder);
      }
      add_special = special->get<bool>();
    }
  }
  const std::vector<int32_t> tokens = model_.tokenizer->encode(text, add_special);
  reply_json("/tokenize",
             json{{"tokens", tokens},
                  {"count", tokens.size()},
                  {"max_model_len", engine_.limits().max_context}}
                 .dump(),
             responder);
}

// {"tokens": [ids]} → {"prompt": "text"}.
void OpenAiService::handle_detokenize(const HttpRequest& request,
                                      std::shared_ptr<HttpResponder> responder) {
  auto body = parse_request_json(request.body);
  if (!body.ok()) return reply_error("/detokenize", body.error(), responder);
  const auto tokens = body->find("tokens");
  if (tokens == body->end() || !tokens->is_array()) {
    return reply_error("/detokenize",
                       ApiError::bad_request("send \"tokens\": an array of token ids", "tokens"),
                       responder);
  }
  std::vector<int32_t> ids;
  const int32_t vocab = model_.tokenizer->vocab_size();
  for (const auto& token : *tokens) {
    if (!token.is_number_integer() || token.get<int64_t>() < 0 || token.get<int64_t>() >= vocab) {
      return reply_error(
          "/detokenize",
          ApiError::bad_request(
              fmt::format("tokens must be integers in 0..{}, got {}", vocab - 1, token.dump()),
              "tokens"),
          responder);
    }
    ids.push_back(token.get<int32_t>());
  }
  reply_json("/detokenize", json{{"prompt", model_.tokenizer->decode(ids)}}.dump(), responder);
}

}  // namespace mx
