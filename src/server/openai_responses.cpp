// POST /v1/responses: the Responses API (responses_request.h) on the chat path — the same
// template, engine, metering and output pipeline as /v1/chat/completions, written in the
// Responses wire format (responses_format.h). Nothing is stored: previous_response_id is refused
// and GET /v1/responses/{id} is not served.
#include "server/openai_service.h"
#include "server/responses_request.h"

namespace mx {

void OpenAiService::handle_responses(const Caller& caller, const HttpRequest& http,
                                     std::shared_ptr<HttpResponder> responder) {
  const std::string route = "/v1/responses";
  auto request = parse_responses_request(http.body);
  if (!request.ok()) return reply_error(route, request.error(), responder);
  GenerationCallSettings settings;
  settings.api = CallApi::kResponses;
  settings.route = route;
  settings.response_echo = std::move(request->echo);
  start_chat(caller, request->chat, std::move(settings), responder);
}

}  // namespace mx
