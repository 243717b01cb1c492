// TcpProxy: forwards 127.0.0.1:<port()> to an upstream port, byte for byte, and can cut the path
// (test helper). cut() closes every forwarded connection and stops listening, so the client sees
// its connection reset and new connections refused, as when etcd is unreachable from one process
// only; restore() listens again on the same port.
#pragma once

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace mx::test {

class TcpProxy {
 public:
  explicit TcpProxy(int upstream_port);
  ~TcpProxy();

  bool listening() const { return listen_fd_ >= 0; }
  int port() const { return port_; }
  void cut();
  bool restore();

 private:
  bool listen_on(int port);
  void accept_loop(int listen_fd);
  void pump(int client_fd, int upstream_fd);

  int upstream_port_;
  int port_ = 0;
  int listen_fd_ = -1;
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<int> open_fds_;  // guarded by mutex_: every forwarded socket, shut down on cut()
  std::vector<std::thread> pumps_;
  std::atomic<bool> cutting_{false};
};

}  // namespace mx::test
