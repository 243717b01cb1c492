// Test helpers: a real etcd per test (free ports, temp data dir, killed by pid), a child process
// killed by pid, and polling with a deadline. The child dies with the test binary too
// (PR_SET_PDEATHSIG), so a crashed test leaves no etcd behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mx::test {

// Polls `done` every 20 ms until it holds or `timeout` passes; returns its last value.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout);

int free_port();  // a TCP port on 127.0.0.1 nobody listens on right now

// A child process (argv[0] is a path), stdout and stderr appended to `log_path`.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { kill(); }

  bool start(const std::vector<std::string>& argv, const std::string& log_path);
  void kill();    // SIGKILL (SIGCONT first, in case it is stopped) and reap; no-op when not running
  void pause();   // SIGSTOP
  void resume();  // SIGCONT
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

class EtcdProcess {
 public:
  static constexpr const char* kBinary = "/usr/bin/etcd";

  EtcdProcess();   // picks ports and a temp dir; starts nothing
  ~EtcdProcess();  // kills etcd, removes the data dir

  // Starts etcd (on the same ports and data dir as before when restarted) and waits up to 10 s
  // for it to answer; false (with the log's tail in `error`) when it does not.
  bool start(std::string& error);
  void kill() { process_.kill(); }
  void pause() { process_.pause(); }
  void resume() { process_.resume(); }

  std::string endpoint() const;  // "127.0.0.1:<client port>"
  int client_port() const { return client_port_; }
  // Runs etcdctl (an independent client) against this etcd; its stdout, nullopt on failure.
  std::optional<std::string> etcdctl(const std::string& args) const;
  // The keys under `prefix`, read by etcdctl, sorted; nullopt when etcdctl failed.
  std::optional<std::vector<std::string>> keys(const std::string& prefix) const;

 private:
  std::string dir_;
  int client_port_ = 0;
  int peer_port_ = 0;
  ChildProcess process_;
};

}  // namespace mx::test
