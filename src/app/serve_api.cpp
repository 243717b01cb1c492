#include "app/serve_api.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "app/commands.h"
#include "server/admin_service.h"
#include "server/metering.h"
#include "server/openai_service.h"

namespace mx::app {

sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

namespace {

// Seconds a client is told to wait (Retry-After) when it reaches a draining server.
constexpr int kDrainingRetryAfterSeconds = 5;

// The shutdown after SIGTERM/SIGINT. New work gets 503 + Retry-After at once; running requests
// get --shutdown-grace to finish; then the engine cancels what still runs (each stream gets an
// error event and [DONE], a whole response 503), the final usage records are committed, and
// only then does the HTTP server close the connections, so that nothing is cut mid-chunk.
void drain_and_stop(const ServeFlags& flags, OpenAiService& service, HttpServer& server,
                    const ApiEngine& engine, Ledger* ledger) {
  using Clock = std::chrono::steady_clock;
  service.set_draining();
  server.set_draining(kDrainingRetryAfterSeconds);
  const auto grace =
      std::chrono::milliseconds(static_cast<int64_t>(flags.shutdown_grace_seconds * 1000));
  if (!service.wait_idle(Clock::now() + grace)) {
    spdlog::warn("{} request{} still running after the grace period: cancelling",
                 service.active_requests(), service.active_requests() == 1 ? "" : "s");
  }
  engine.stop();                 // every sequence still running gets its final event
  service.stop_text_executor();  // ...and its text work runs: the error event / 503
  // Each response ends once its final record is committed (the ledger's thread writes it).
  if (!service.wait_idle(Clock::now() + std::chrono::seconds(10))) {
    spdlog::error("{} response(s) did not end after the engine stopped", service.active_requests());
  }
  if (ledger) {
    if (Status flushed = ledger->flush(); !flushed.ok()) {
      spdlog::error("usage ledger: {}", flushed.error().message);
    }
  }
  // Every response is complete: connections close once their last bytes are written.
  server.stop(std::chrono::seconds(2));
}
}  // namespace

int run_api(const char* command, const ServeFlags& flags, const sigset_t& signals,
            const std::function<Result<ApiEngine>(const ModelCard&)>& start_engine) {
  auto http_or = http_config(flags);
  if (!http_or.ok()) return fail(command, http_or.error(), 2);
  HttpServerConfig http = *http_or;

  auto prices = load_prices(flags.prices);
  if (!prices.ok()) return fail(command, prices.error(), 2);
  auto ledger = start_ledger(flags);
  if (!ledger.ok()) return fail(command, ledger.error());
  // No worker name here: the port is known only once bound (--port 0); the Ledger writes its
  // own into every record (set_worker below; the host name until then).
  Metering metering(*ledger ? &(*ledger)->store() : nullptr, ledger->get(), MeteringConfig{});
  // Open mode only while the store has never held a key: revoked keys keep the server closed
  // (and on its --host), and an unreadable store counts as closed.
  if (metering.open_mode()) {
    if (!is_loopback(http.host) && !flags.allow_no_auth) {
      spdlog::warn(
          "no API key was ever created, so anyone who can reach the server may use it: "
          "listening on 127.0.0.1 instead of {} (create a key with `mxserve keys "
          "create --admin --data-dir {}`, or pass --allow-no-auth)",
          http.host, flags.ledger.data_dir);
      http.host = "127.0.0.1";
    } else if (!is_loopback(http.host)) {
      spdlog::warn(
          "--allow-no-auth: no API key was ever created and {} is not loopback: anyone "
          "on the network may use this server and its admin API until the first key "
          "is created",
          http.host);
    }
  }

  auto card = ModelCard::load(flags.model, flags.served_model_name);
  if (!card.ok()) return fail(command, card.error());
  auto engine = start_engine(**card);
  if (!engine.ok()) return fail(command, engine.error(), exit_code_for(engine.error()));
  OpenAiServiceConfig service_config;
  service_config.default_max_tokens = flags.default_max_tokens;
  service_config.text_threads = flags.text_threads;
  OpenAiService service(**card, *engine->client, metering, service_config);
  AdminService admin(metering, service.metrics(), *prices);
  HttpServer server(http);
  service.register_routes(server);
  admin.register_routes(server);
  if (engine->add_routes) engine->add_routes(server, metering);
  auto port = server.start();
  if (!port.ok()) return fail(command, port.error());
  if (*ledger) (*ledger)->set_worker(worker_name(*port));
  spdlog::info("serving '{}' on http://{}:{} (OpenAI API under /v1)", (*card)->name, http.host,
               *port);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("{}: draining — no new requests; running ones get {} s to finish",
               signal_number == SIGTERM ? "SIGTERM" : "SIGINT", flags.shutdown_grace_seconds);
  drain_and_stop(flags, service, server, *engine, ledger->get());
  spdlog::info("stopped");
  return 0;
}

}  // namespace mx::app
