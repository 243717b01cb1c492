// Subcommands whose issues have not landed yet: each says so clearly and exits 2.
#include <fmt/format.h>

#include <string>
#include <vector>

#include "app/commands.h"

namespace mx::app {
namespace {

struct LaterCommand {
  const char* name;
  const char* description;
  const char* issue;
};

constexpr LaterCommand kLater[] = {
    {"prefill", "Cluster role: prefill worker", "cluster roles"},
    {"decode", "Cluster role: decode worker", "cluster roles"},
    {"kvpool", "Cluster role: pooled KV cache", "cluster roles"},
    {"expert", "Cluster role: MoE expert worker", "cluster roles"},
};

}  // namespace

void register_later_commands(CLI::App& app, int& exit_code) {
  for (const LaterCommand& command : kLater) {
    CLI::App* sub = app.add_subcommand(command.name, command.description);
    sub->allow_extras();
    sub->callback([&exit_code, command] {
      fmt::print(stderr,
                 "mxserve {}: not yet implemented in this build (planned in the '{}' work). "
                 "Run mxserve --help for the commands available now.\n",
                 command.name, command.issue);
      exit_code = 2;
    });
  }
}

}  // namespace mx::app
