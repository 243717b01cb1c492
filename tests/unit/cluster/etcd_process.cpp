#include "etcd_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace mx::test {

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t size = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    close(fd);
    return -1;
  }
  close(fd);
  return ntohs(address.sin_port);
}

bool ChildProcess::start(const std::vector<std::string>& argv, const std::string& log_path) {
  kill();
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return false;
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {  // child: only async-signal-safe calls until exec
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  close(log);
  if (pid < 0) return false;
  pid_ = pid;
  return true;
}

void ChildProcess::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGCONT);
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void ChildProcess::pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void ChildProcess::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

EtcdProcess::EtcdProcess() {
  std::string pattern = (std::filesystem::temp_directory_path() / "mx-etcd-XXXXXX").string();
  if (mkdtemp(pattern.data()) != nullptr) dir_ = pattern;
  client_port_ = free_port();
  peer_port_ = free_port();
}

EtcdProcess::~EtcdProcess() {
  process_.kill();
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

std::string EtcdProcess::endpoint() const { return "127.0.0.1:" + std::to_string(client_port_); }

bool EtcdProcess::start(std::string& error) {
  std::string client = "http://" + endpoint();
  std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
  std::vector<std::string> argv = {kBinary,
                                   "--name=test",
                                   "--data-dir=" + dir_ + "/data",
                                   "--listen-client-urls=" + client,
                                   "--advertise-client-urls=" + client,
                                   "--listen-peer-urls=" + peer,
                                   "--initial-advertise-peer-urls=" + peer,
                                   "--initial-cluster=test=" + peer,
                                   "--logger=zap",
                                   "--log-level=warn"};
  std::string log_path = dir_ + "/etcd.log";
  if (dir_.empty() || client_port_ <= 0 || peer_port_ <= 0 || !process_.start(argv, log_path)) {
    error = "could not start " + std::string(kBinary);
    return false;
  }
  bool up =
      wait_until([&] { return etcdctl("endpoint health").has_value(); }, std::chrono::seconds(10));
  if (!up) {
    std::ifstream log(log_path);
    std::stringstream text;
    text << log.rdbuf();
    error = "etcd did not answer within 10 s; its log:\n" + text.str();
  }
  return up;
}

std::optional<std::string> EtcdProcess::etcdctl(const std::string& args) const {
  std::string command = "ETCDCTL_API=3 timeout 5 etcdctl --endpoints=" + endpoint() +
                        " --dial-timeout=1s --command-timeout=2s " + args + " 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  std::string out;
  std::array<char, 4096> buffer;
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  int status = pclose(pipe);
  if (status != 0) return std::nullopt;
  return out;
}

std::optional<std::vector<std::string>> EtcdProcess::keys(const std::string& prefix) const {
  auto out = etcdctl("get --prefix --keys-only " + prefix);
  if (!out) return std::nullopt;
  std::istringstream lines(*out);
  std::vector<std::string> keys;
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) keys.push_back(line);
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

}  // namespace mx::test
