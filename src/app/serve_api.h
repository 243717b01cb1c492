// The OpenAI API over an EngineClient, from start to drain: what `serve` (the engine in this
// process) and `frontend` (workers behind the router) share. It checks the API flags, starts
// the ledger and the Tokens service, loads the ModelCard, asks the caller for its engine,
// serves until SIGTERM / SIGINT, then drains: new work 503, running requests get
// --shutdown-grace, the engine stops (final events), usage records are committed, connections
// close.
#pragma once

#include <signal.h>

#include <functional>
#include <memory>

#include "app/serve_flags.h"
#include "engine/engine_client.h"
#include "server/http_server.h"
#include "server/metering.h"
#include "server/model_card.h"

namespace mx::app {

// The engine side of the API: the client, how to stop it (every running sequence gets its
// final event), extra routes (e.g. the cluster's; `Metering` identifies their callers), and
// whatever must live as long.
struct ApiEngine {
  EngineClient* client = nullptr;
  std::function<void()> stop;
  std::function<void(HttpServer&, Metering&)> add_routes;
  std::shared_ptr<void> owner;
};

// Blocks SIGINT/SIGTERM in every thread created from here on; run_api waits for them.
sigset_t block_stop_signals();

int run_api(const char* command, const ServeFlags& flags, const sigset_t& signals,
            const std::function<Result<ApiEngine>(const ModelCard&)>& start_engine);

}  // namespace mx::app
