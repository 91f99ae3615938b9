// Shared helpers for kernel and plugin tests: temporary folders, the PostgreSQL URL the test
// script provides, a clock tests move by hand, loopback HTTP calls, child processes.
#pragma once

#include <Poco/File.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Path.h>
#include <Poco/StreamCopier.h>
#include <Poco/TemporaryFile.h>
#include <gtest/gtest.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "malipo/clock.hpp"

namespace malipo::test {

class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t start = 1700000000000) : now_(start) {}
  std::int64_t nowMs() const override { return now_.load(); }
  void advance(std::int64_t ms) { now_ += ms; }
  void set(std::int64_t ms) { now_ = ms; }

 private:
  std::atomic<std::int64_t> now_;
};

class TempDir {
 public:
  TempDir() {
    path_ = Poco::TemporaryFile::tempName();
    Poco::File(path_).createDirectories();
  }
  ~TempDir() {
    try {
      Poco::File(path_).remove(true);
    } catch (...) {
    }
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The throwaway cluster started by scripts/test.sh. Each call gives a fresh database.
inline std::string postgresUrl() {
  const char* base = std::getenv("MALIPO_TEST_PG_URL");
  return base ? base : "";
}

// A fresh, empty database URL per engine for one test. PostgreSQL: a new schema-less
// database created through the admin URL.
std::string freshDatabaseUrl(const std::string& engine, const TempDir& dir);

inline void writeFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

inline std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
  std::string header(const std::string& name) const {
    for (const auto& kv : headers)
      if (strcasecmp(kv.first.c_str(), name.c_str()) == 0) return kv.second;
    return {};
  }
};

// The answer to the request just sent on `s`.
inline HttpResult receive(Poco::Net::HTTPClientSession& s) {
  Poco::Net::HTTPResponse resp;
  std::istream& is = s.receiveResponse(resp);
  HttpResult r;
  r.status = resp.getStatus();
  for (const auto& kv : resp) r.headers[kv.first] = kv.second;
  Poco::StreamCopier::copyToString(is, r.body);
  return r;
}

// One request on `s` and its answer.
inline HttpResult send(Poco::Net::HTTPClientSession& s, const std::string& method,
                       const std::string& target, const std::string& body,
                       const std::map<std::string, std::string>& headers,
                       const std::string& contentType) {
  s.setTimeout(Poco::Timespan(30, 0));
  Poco::Net::HTTPRequest req(method, target, Poco::Net::HTTPMessage::HTTP_1_1);
  req.setHost("127.0.0.1", s.getPort());
  for (const auto& kv : headers) req.set(kv.first, kv.second);
  if (!body.empty() || method == "POST") {
    req.setContentType(contentType);
    req.setContentLength64(static_cast<Poco::Int64>(body.size()));
  }
  s.sendRequest(req) << body;
  return receive(s);
}

inline HttpResult http(std::uint16_t port, const std::string& method, const std::string& target,
                       const std::string& body = {},
                       const std::map<std::string, std::string>& headers = {},
                       const std::string& contentType = "application/json") {
  Poco::Net::HTTPClientSession s("127.0.0.1", port);
  return send(s, method, target, body, headers, contentType);
}

// The same from another loopback address (e.g. 127.0.0.2): a second client as the server
// sees it.
inline HttpResult httpFrom(const std::string& sourceIp, std::uint16_t port,
                           const std::string& method, const std::string& target,
                           const std::string& body = {},
                           const std::map<std::string, std::string>& headers = {},
                           const std::string& contentType = "application/json") {
  Poco::Net::StreamSocket socket;
  socket.impl()->bind(Poco::Net::SocketAddress(sourceIp, 0), false);
  socket.connect(Poco::Net::SocketAddress("127.0.0.1", port), Poco::Timespan(10, 0));
  Poco::Net::HTTPClientSession s(socket);
  return send(s, method, target, body, headers, contentType);
}

// One GET on an open session that asks to keep the connection (keep-alive tests).
inline HttpResult getKeepingAlive(Poco::Net::HTTPClientSession& s, const std::string& target) {
  s.setKeepAlive(true);
  Poco::Net::HTTPRequest req("GET", target, Poco::Net::HTTPMessage::HTTP_1_1);
  req.setKeepAlive(true);
  s.sendRequest(req);
  return receive(s);
}

// A child process (the malipo binary) with its stderr in a file.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::string& logFile,
        const std::map<std::string, std::string>& env = {}) {
    pid_ = fork();
    if (pid_ == 0) {
      for (const auto& kv : env) setenv(kv.first.c_str(), kv.second.c_str(), 1);
      FILE* f = freopen(logFile.c_str(), "a", stderr);
      (void)f;
      FILE* o = freopen(logFile.c_str(), "a", stdout);
      (void)o;
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  void signal(int sig) { kill(pid_, sig); }
  // Waits for exit; returns the exit code, or 128+signal, or -1 on timeout.
  int wait(int timeoutMs = 30000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        if (WIFEXITED(status)) return WEXITSTATUS(status);
        if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// Waits until `path` exists and holds a port number.
inline std::uint16_t waitForPortFile(const std::string& path, int timeoutMs = 20000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string s = readFile(path);
    if (!s.empty()) return static_cast<std::uint16_t>(std::stoi(s));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return 0;
}

// Runs a command and returns (exit code, combined output).
inline std::pair<int, std::string> runCommand(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {-1, ""};
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// hex(HMAC-SHA256(key, msg)): how the test provider (fakepay) signs its webhooks.
inline std::string hmacSha256Hex(const std::string& key, const std::string& msg) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out, &len);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < len; ++i) {
    s += hex[out[i] >> 4];
    s += hex[out[i] & 15];
  }
  return s;
}

template <class Pred>
bool eventually(Pred pred, int timeoutMs = 10000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

}  // namespace malipo::test
