// mxserve serve: the whole server in one process — HTTP API, engine, KV cache — on one model.
// Every flag also comes from an MXSERVE_* environment variable and from the --config file
// ([serve] section); CLI11 merges the three (app/serve_flags.h).
#include <memory>

#include "app/commands.h"
#include "app/serve_api.h"
#include "app/serve_flags.h"
#include "engine/engine_client.h"

namespace mx::app {
namespace {

// The model and its engine, owned together for the API's lifetime.
struct LocalEngine {
  std::unique_ptr<Model> model;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<LocalEngineClient> client;
};

int serve(const ServeFlags& flags) {
  const sigset_t signals = block_stop_signals();
  auto config = engine_config(flags);
  if (!config.ok()) return fail("serve", config.error(), 2);
  return run_api("serve", flags, signals, [&](const ModelCard&) -> Result<ApiEngine> {
    auto local = std::make_shared<LocalEngine>();
    MX_ASSIGN_OR_RETURN(local->model, Model::load(flags.model));
    auto engine = Engine::create(*local->model, *config);
    if (!engine.ok()) return Error{ErrorCode::kInvalidArgument, engine.error().message};
    local->engine = std::move(*engine);
    local->client = std::make_unique<LocalEngineClient>(*local->engine);
    ApiEngine api;
    api.client = local->client.get();
    api.stop = [raw = local.get()] { raw->engine->stop(); };
    api.owner = local;
    return api;
  });
}

}  // namespace

void register_serve(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* sub = app.add_subcommand("serve", "Run the OpenAI-compatible server on one model");
  add_model_flag(*sub, flags->model);
  add_api_flags(*sub, *flags);
  add_engine_flags(*sub, *flags);
  add_shutdown_grace_flag(*sub, *flags);
  sub->callback([flags, &exit_code] { exit_code = serve(*flags); });
}

}  // namespace mx::app
