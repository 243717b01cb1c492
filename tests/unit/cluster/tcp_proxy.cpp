#include "tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>

namespace mx::test {
namespace {

sockaddr_in loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  return address;
}

}  // namespace

TcpProxy::TcpProxy(int upstream_port) : upstream_port_(upstream_port) { listen_on(0); }

TcpProxy::~TcpProxy() {
  cut();
  for (std::thread& pump : pumps_) pump.join();
}

bool TcpProxy::listen_on(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address = loopback(port);
  socklen_t size = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(fd, 16) != 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    close(fd);
    return false;
  }
  port_ = ntohs(address.sin_port);
  listen_fd_ = fd;
  cutting_ = false;
  acceptor_ = std::thread([this, fd] { accept_loop(fd); });
  return true;
}

bool TcpProxy::restore() { return listening() || listen_on(port_); }

void TcpProxy::cut() {
  if (listen_fd_ < 0) return;
  cutting_ = true;
  shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
  acceptor_.join();
  close(listen_fd_);
  listen_fd_ = -1;
  std::lock_guard lock(mutex_);
  for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);  // the pumps see EOF and close them
}

void TcpProxy::accept_loop(int listen_fd) {
  while (!cutting_) {
    int client = accept(listen_fd, nullptr, nullptr);
    if (client < 0) return;
    int upstream = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address = loopback(upstream_port_);
    if (connect(upstream, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      close(upstream);
      close(client);
      continue;
    }
    std::lock_guard lock(mutex_);
    open_fds_.push_back(client);
    open_fds_.push_back(upstream);
    pumps_.emplace_back([this, client, upstream] { pump(client, upstream); });
  }
}

// Copies both ways until either side closes, then closes both.
void TcpProxy::pump(int client_fd, int upstream_fd) {
  std::array<pollfd, 2> fds = {pollfd{client_fd, POLLIN, 0}, pollfd{upstream_fd, POLLIN, 0}};
  std::array<char, 16384> buffer;
  bool open = true;
  while (open && poll(fds.data(), fds.size(), 200) >= 0) {
    for (size_t i = 0; i < 2 && open; ++i) {
      if (fds[i].revents == 0) continue;
      ssize_t n = read(fds[i].fd, buffer.data(), buffer.size());
      int to = fds[1 - i].fd;
      for (ssize_t sent = 0; n > 0 && sent < n;) {
        ssize_t w = send(to, buffer.data() + sent, n - sent, MSG_NOSIGNAL);
        if (w <= 0) break;
        sent += w;
      }
      open = n > 0;
    }
  }
  std::lock_guard lock(mutex_);
  std::erase(open_fds_, client_fd);
  std::erase(open_fds_, upstream_fd);
  close(client_fd);
  close(upstream_fd);
}

}  // namespace mx::test
