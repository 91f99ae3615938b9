// A plain blocking TCP client for tests of the HTTP front: bytes in, bytes out, no HTTP
// library in between (so malformed requests reach the server as written).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

namespace malipo::test {

// A plain blocking TCP client: bytes in, bytes out, no HTTP library in between.
class Raw {
 public:
  // `source`: the local address to connect from (any 127.x.y.z works on Linux loopback).
  explicit Raw(std::uint16_t port, const char* source = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (source) {
      sockaddr_in s{};
      s.sin_family = AF_INET;
      inet_pton(AF_INET, source, &s.sin_addr);
      ::bind(fd_, reinterpret_cast<sockaddr*>(&s), sizeof s);
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Raw() {
    if (fd_ >= 0) ::close(fd_);
  }
  Raw(const Raw&) = delete;
  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  bool eof() const { return eof_; }
  bool send(const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }
  // Reads what arrives within timeoutMs; stops early at EOF. Sets eof().
  std::string readFor(int timeoutMs) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (!eof_) {
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - std::chrono::steady_clock::now())
                                      .count());
      if (left <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, left) <= 0) break;
      char buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        eof_ = true;
        break;
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
  // Reads until `count` complete responses (with Content-Length bodies) or EOF/timeout.
  std::vector<std::string> responses(std::size_t count, int timeoutMs = 5000) {
    std::vector<std::string> out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
      std::size_t end = buf_.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::size_t len = 0;
        std::string head = buf_.substr(0, end);
        std::string lower = head;
        std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
        std::size_t cl = lower.find("content-length:");
        if (cl != std::string::npos) len = std::stoul(head.substr(cl + 15));
        if (buf_.size() >= end + 4 + len) {
          out.push_back(buf_.substr(0, end + 4 + len));
          buf_.erase(0, end + 4 + len);
          continue;
        }
      }
      if (eof_) break;
      buf_ += readFor(100);
    }
    return out;
  }
  // True when the server closed the connection within timeoutMs (after draining any bytes).
  bool closedWithin(int timeoutMs) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (!eof_ && std::chrono::steady_clock::now() < deadline) buf_ += readFor(50);
    return eof_;
  }
  const std::string& pending() const { return buf_; }

 private:
  int fd_ = -1;
  bool connected_ = false, eof_ = false;
  std::string buf_;
};

inline int statusOf(const std::string& response) {
  if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) return 0;
  return std::stoi(response.substr(9, 3));
}

inline std::string bodyOf(const std::string& response) {
  std::size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

}  // namespace malipo::test
