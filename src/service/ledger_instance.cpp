#include "service/ledger_instance.h"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <system_error>

namespace mx {
namespace {

// 128 random bits as 32 hex digits.
std::string random_id() {
  std::random_device device;
  std::string id;
  for (int i = 0; i < 4; ++i) id += fmt::format("{:08x}", device());
  return id;
}

std::string host_name() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) return "localhost";
  return host;
}

// Pids compare only within one boot and one pid namespace; "" when either is unknown (no
// /proc): then only leases judge.
std::string node_id() {
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  std::string boot_id;
  if (!std::getline(boot, boot_id) || boot_id.empty()) return "";
  std::error_code ec;
  std::string pid_ns = std::filesystem::read_symlink("/proc/self/ns/pid", ec).string();
  if (ec || pid_ns.empty()) return "";
  return boot_id + "/" + pid_ns;
}

struct ProcessState {
  char state = '?';         // R, S, D, Z (zombie), X (dead), ...
  int64_t start_ticks = 0;  // field 22 of /proc/PID/stat
};

// nullopt: no such process.
std::optional<ProcessState> process_state(int64_t pid) {
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string text;
  if (!std::getline(stat, text)) return std::nullopt;
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so parse after the last ')'.
  size_t paren = text.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(paren + 1));
  ProcessState result;
  fields >> result.state;
  std::string skipped;
  for (int field = 4; field < 22; ++field) fields >> skipped;  // ppid ... priority, nice, ...
  fields >> result.start_ticks;
  return result;
}

}  // namespace

LedgerInstance this_process_instance() {
  LedgerInstance self;
  self.id = random_id();
  self.worker = host_name();
  self.node = node_id();
  self.pid = getpid();
  if (auto state = process_state(self.pid)) self.pid_start = state->start_ticks;
  return self;
}

bool process_is_gone(const LedgerInstance& other, const LedgerInstance& self) {
  if (other.node.empty() || other.node != self.node || other.pid <= 0) return false;
  if (other.pid == self.pid && other.pid_start == self.pid_start) return false;  // this process
  std::optional<ProcessState> state = process_state(other.pid);
  if (!state) return true;
  if (state->state == 'Z' || state->state == 'X') return true;           // exited, not yet reaped
  return other.pid_start != 0 && state->start_ticks != other.pid_start;  // the pid was reused
}

}  // namespace mx
