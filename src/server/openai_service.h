// OpenAiService: the OpenAI-compatible API of one served model on top of an EngineClient (the
// engine in this process, or workers behind the router).
//
// Routes (registered on an HttpServer):
//   POST /v1/chat/completions, /v1/completions   generation, streamed (SSE) or not
//   POST /v1/responses                           the Responses API over the chat path
//   GET  /v1/models                              the served model
//   POST /tokenize, /detokenize                  text ↔ token ids with the model's tokenizer
//   GET  /health                                 200 while serving, 503 while shutting down
//   GET  /metrics                                Prometheus text (server/metrics.h)
// Every route but /health checks the caller's key (server/metering.h); /metrics needs an admin
// key once keys exist. A generation is admitted (model allowed, quotas, ledger room) before
// anything is queued, and metered to its end.
// A generation request goes: parse + validate (openai_request.h) → chat template → tokenize →
// Engine::submit once per choice → TokenEvents, queued by the engine thread → per-choice text
// pipeline on the text executor (detokenize → stop strings → reasoning split → tool calls;
// output_text.h) → SSE chunks or one JSON body (openai_response.h). A client that disconnects
// cancels its sequences. Handlers run on HttpServer's request threads; /health alone runs on the
// I/O thread.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include "engine/engine_client.h"
#include "server/generation_call.h"
#include "server/http_server.h"
#include "server/metering.h"
#include "server/metrics.h"
#include "server/model_card.h"
#include "server/openai_request.h"
#include "server/task_executor.h"

namespace mx {

struct OpenAiServiceConfig {
  int64_t default_max_tokens = 0;  // 0: up to the context's end
  // Threads of the text executor: every generation's text pipeline (detokenize, stop strings,
  // reasoning and tool-call parsing, JSON, writes) runs there, off the engine thread.
  int text_threads = 2;
};

class OpenAiService {
 public:
  OpenAiService(const ModelCard& model, EngineClient& engine, Metering& metering,
                OpenAiServiceConfig config);

  void register_routes(HttpServer& server);
  // /health answers 503 from now on (load balancers stop sending); the other routes answer
  // 503 through HttpServer::set_draining.
  void set_draining() { draining_ = true; }
  // Requests still generating.
  int64_t active_requests() const { return active_requests_.load(); }
  // Waits until no request is generating (each has written the end of its response), or
  // `deadline`; true if none is.
  bool wait_idle(std::chrono::steady_clock::time_point deadline) const;
  // Runs the text work still queued (final events after Engine::stop) and joins its threads.
  void stop_text_executor() { text_executor_.stop(); }
  Metrics& metrics() { return metrics_; }

 private:
  void handle_chat(const Caller& caller, const HttpRequest& request,
                   std::shared_ptr<HttpResponder> responder);
  void handle_completion(const Caller& caller, const HttpRequest& request,
                         std::shared_ptr<HttpResponder> responder);
  void handle_responses(const Caller& caller, const HttpRequest& request,
                        std::shared_ptr<HttpResponder> responder);
  void start_chat(const Caller& caller, const ChatCompletionRequest& request,
                  GenerationCallSettings settings, const std::shared_ptr<HttpResponder>& responder);
  void start_generation(const Caller& caller, const GenerationRequest& options,
                        std::vector<int32_t> prompt, GenerationCallSettings settings,
                        const std::shared_ptr<HttpResponder>& responder);
  // The caller of an API route, or false after answering 401 / 403.
  bool identify(const std::string& route, const HttpRequest& request,
                const std::shared_ptr<HttpResponder>& responder, Caller& caller);
  void handle_models(const Caller& caller, std::shared_ptr<HttpResponder> responder);
  void handle_tokenize(const HttpRequest& request, std::shared_ptr<HttpResponder> responder);
  void handle_detokenize(const HttpRequest& request, std::shared_ptr<HttpResponder> responder);
  void reply_error(const std::string& route, const ApiError& error,
                   const std::shared_ptr<HttpResponder>& responder);
  void reply_json(const std::string& route, const std::string& body,
                  const std::shared_ptr<HttpResponder>& responder);

  const ModelCard& model_;
  EngineClient& engine_;
  Metering& metering_;
  OpenAiServiceConfig config_;
  Metrics metrics_;
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> active_requests_{0};
  TaskExecutor text_executor_;  // last: its threads stop before the members they use go
};

}  // namespace mx
