#include "engine/engine_client.h"

namespace mx {

Result<std::vector<SeqId>> LocalEngineClient::submit_all(std::vector<SequenceRequest> requests,
                                                         std::shared_ptr<TokenSink> sink) {
  std::vector<EngineRequest> queued;
  queued.reserve(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    EngineRequest request;
    static_cast<SequenceRequest&>(request) = std::move(requests[i]);
    request.on_event = [sink, index = static_cast<int32_t>(i)](const TokenEvent& event) {
      sink->on_event(index, event);
    };
    queued.push_back(std::move(request));
  }
  return engine_.submit_all(std::move(queued));
}

}  // namespace mx
