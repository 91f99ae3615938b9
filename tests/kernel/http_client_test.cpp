// The kernel's outbound HTTP client (http/HttpClientImpl): keep-alive connections reused from a
// pool, stale ones never losing or doubling a request, timeouts per call. Against a loopback
// server whose connection handling each test scripts and whose counters it reads.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/HttpClientImpl.hpp"

using namespace malipo;
using namespace std::chrono_literals;

namespace {

// An HTTP/1.1 server on 127.0.0.1, port 0, one thread per connection. Counts the connections
// it accepts and the requests it reads ("delivered", by "METHOD /path") and answers.
class ScriptedServer {
 public:
  std::atomic<int> idleCloseMs{0};      // close a connection idle this long (0: never)
  std::atomic<bool> dropReused{false};  // read the 2nd, 3rd… request of a connection, then
                                        // close it without an answer (a close racing the call)
  std::atomic<bool> sayClose{false};    // answer "Connection: close" yet keep serving
  std::atomic<int> slowMs{0};           // paths starting "/slow" wait this long to answer
  std::atomic<int> delayMs{0};          // every answer waits this long

  ScriptedServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 128);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { acceptLoop(); });
  }
  ~ScriptedServer() {
    stop_ = true;
    acceptor_.join();
    std::vector<std::thread> ts;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ts.swap(connections_);
    }
    for (auto& t : ts) t.join();
    ::close(fd_);
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int port() const { return port_; }
  int accepted() const { return accepted_; }
  int delivered(const std::string& what) {
    std::lock_guard<std::mutex> lock(mutex_);
    return delivered_[what];
  }
  int answered(const std::string& what) {
    std::lock_guard<std::mutex> lock(mutex_);
    return answered_[what];
  }

 private:
  void acceptLoop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      ++accepted_;
      std::lock_guard<std::mutex> lock(mutex_);
      connections_.emplace_back([this, c] {
        serve(c);
        ::close(c);
      });
    }
  }

  // Waits up to `ms` (20 ms steps, watching stop_); false on stop.
  bool pause(int ms) {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < until) {
      if (stop_) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }

  void serve(int c) {
    std::string buf;
    int requests = 0;
    auto idleSince = std::chrono::steady_clock::now();
    for (;;) {
      std::size_t end = buf.find("\r\n\r\n");
      std::size_t length = 0;
      if (end != std::string::npos) {
        std::string head = buf.substr(0, end);
        for (auto& ch : head) ch = static_cast<char>(::tolower(ch));
        std::size_t cl = head.find("content-length:");
        if (cl != std::string::npos) length = std::stoul(head.substr(cl + 15));
      }
      if (end == std::string::npos || buf.size() < end + 4 + length) {
        if (stop_) return;
        int idle = idleCloseMs;
        if (idle > 0 && buf.empty() &&
            std::chrono::steady_clock::now() - idleSince > std::chrono::milliseconds(idle))
          return;  // the server's keep-alive timeout
        pollfd p{c, POLLIN, 0};
        if (::poll(&p, 1, 10) <= 0) continue;
        char chunk[4096];
        ssize_t n = ::recv(c, chunk, sizeof chunk, 0);
        if (n <= 0) return;
        buf.append(chunk, static_cast<std::size_t>(n));
        continue;
      }
      std::string line = buf.substr(0, buf.find("\r\n"));
      buf.erase(0, end + 4 + length);
      std::string method = line.substr(0, line.find(' '));
      std::string path = line.substr(method.size() + 1);
      path = path.substr(0, path.find(' '));
      path = path.substr(0, path.find('?'));
      const std::string what = method + " " + path;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ++delivered_[what];
      }
      if (++requests >= 2 && dropReused) return;
      if (!pause(delayMs)) return;
      if (path.rfind("/slow", 0) == 0 && !pause(slowMs)) return;
      std::string body = "ok " + what;
      std::string out = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n";
      if (path == "/unframed") {
        out += "Connection: keep-alive\r\n\r\n" + body;  // ends where the connection does
      } else {
        out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
        if (sayClose) out += "Connection: close\r\n";
        out += "\r\n" + body;
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ++answered_[what];  // before it leaves: the client may look as soon as it arrives
      }
      if (::send(c, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size()))
        return;
      if (path == "/unframed") return;
      idleSince = std::chrono::steady_clock::now();
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<std::thread> connections_;
  std::map<std::string, int> delivered_, answered_;
};

class Lines final : public Logger {
 public:
  void log(LogLevel level, const std::string& component, const std::string& message) override {
    if (level == LogLevel::debug) return;
    std::lock_guard<std::mutex> lock(mutex_);
    lines_.push_back(component + ": " + message);
  }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

OutboundRequest request(const std::string& method, const std::string& url,
                        const std::string& body = "") {
  OutboundRequest r;
  r.method = method;
  r.url = url;
  r.body = body;
  r.timeoutMs = 5000;
  r.maxRetries = 0;  // as the providers do: only the pool's own second try may happen
  return r;
}

}  // namespace

TEST(HttpClientPool, SequentialCallsShareOneConnection) {
  ScriptedServer server;
  Lines log;
  HttpClientImpl client(log);
  for (int i = 0; i < 3; ++i) {
    auto got = client.send(request("GET", server.url("/orders/1?key=secret-query")));
    ASSERT_TRUE(got.ok()) << got.error().internal;
    EXPECT_EQ(got->status, 200);
    EXPECT_EQ(got->body, "ok GET /orders/1");
    auto posted = client.send(request("POST", server.url("/orders"), R"({"amount": 1})"));
    ASSERT_TRUE(posted.ok()) << posted.error().internal;
    EXPECT_EQ(posted->body, "ok POST /orders");
  }
  EXPECT_EQ(server.accepted(), 1);
  EXPECT_EQ(server.delivered("POST /orders"), 3);
  EXPECT_EQ(client.idleConnections(), 1u);
  // One line per call, as before: method, host:port/path, status, duration; no query string.
  auto lines = log.lines();
  ASSERT_EQ(lines.size(), 6u);
  const std::string start =
      "http-out: GET 127.0.0.1:" + std::to_string(server.port()) + "/orders/1 -> 200 ";
  EXPECT_EQ(lines[0].rfind(start, 0), 0u) << lines[0];
  for (const auto& l : lines) EXPECT_EQ(l.find("secret"), std::string::npos) << l;
}

TEST(HttpClientPool, IdleConnectionsClosedByTheServerLoseAndDoubleNothing) {
  ScriptedServer server;
  server.idleCloseMs = 100;  // a server with a short keep-alive timeout
  Lines log;
  HttpClientImpl client(log);
  ASSERT_TRUE(client.send(request("GET", server.url("/status"))).ok());
  std::this_thread::sleep_for(500ms);
  auto again = client.send(request("GET", server.url("/status")));
  ASSERT_TRUE(again.ok()) << again.error().internal;
  EXPECT_EQ(again->status, 200);
  std::this_thread::sleep_for(500ms);
  // Idle 500 ms: within the 1 s a push may reuse a connection, but this one is closed.
  auto pushed = client.send(request("POST", server.url("/push"), "{}"));
  ASSERT_TRUE(pushed.ok()) << pushed.error().internal;
  EXPECT_EQ(pushed->status, 200);
  EXPECT_EQ(server.delivered("POST /push"), 1);
  EXPECT_EQ(server.delivered("GET /status"), 2);
  EXPECT_EQ(server.accepted(), 3);
}

TEST(HttpClientPool, CloseRacingTheRequestRepeatsOnlyIdempotentCallsOnANewConnection) {
  ScriptedServer server;
  server.dropReused = true;  // every reused connection is closed as the request arrives
  Lines log;
  HttpClientImpl client(log);
  ASSERT_TRUE(client.send(request("GET", server.url("/status"))).ok());
  // The GET goes on the pooled connection, is dropped there, and is sent again on a new one.
  auto got = client.send(request("GET", server.url("/status")));
  ASSERT_TRUE(got.ok()) << got.error().internal;
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(server.delivered("GET /status"), 3);
  EXPECT_EQ(server.answered("GET /status"), 2);
  EXPECT_EQ(server.accepted(), 2);
  EXPECT_EQ(log.lines().size(), 2u);  // the second try inside one call is not a retry

  // A push after more than 1 s idle takes a new connection, not the pooled one.
  std::this_thread::sleep_for(1200ms);
  auto pushed = client.send(request("POST", server.url("/push"), "{}"));
  ASSERT_TRUE(pushed.ok()) << pushed.error().internal;
  EXPECT_EQ(server.accepted(), 3);
  EXPECT_EQ(server.delivered("POST /push"), 1);

  // Within 1 s it reuses one; dropped there, it is not sent again: outcome unknown.
  auto lost = client.send(request("POST", server.url("/push"), "{}"));
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.error().code, ErrorCode::providerTimeout) << lost.error().internal;
  EXPECT_EQ(server.delivered("POST /push"), 2);
  EXPECT_EQ(server.answered("POST /push"), 1);
  EXPECT_EQ(server.accepted(), 3);
}

TEST(HttpClientPool, ConnectionCloseAndUnframedAnswersAreNotPooled) {
  ScriptedServer server;
  server.sayClose = true;  // says close, but would serve on: only the client's rule closes
  Lines log;
  HttpClientImpl client(log);
  for (int i = 0; i < 3; ++i) {
    auto got = client.send(request("GET", server.url("/status")));
    ASSERT_TRUE(got.ok()) << got.error().internal;
    EXPECT_EQ(got->body, "ok GET /status");
  }
  EXPECT_EQ(server.accepted(), 3);
  EXPECT_EQ(client.idleConnections(), 0u);

  server.sayClose = false;
  auto unframed = client.send(request("GET", server.url("/unframed")));
  ASSERT_TRUE(unframed.ok()) << unframed.error().internal;
  EXPECT_EQ(unframed->body, "ok GET /unframed");
  EXPECT_EQ(client.idleConnections(), 0u);  // its end was the connection's end
}

TEST(HttpClientPool, ConcurrentCallsShareABoundedSetOfConnections) {
  ScriptedServer server;
  server.delayMs = 2;
  Lines log;
  HttpClientImpl client(log);
  constexpr int threads = 8, calls = 25;
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < calls; ++i) {
        auto r = (i + t) % 2 ? client.send(request("GET", server.url("/status")))
                             : client.send(request("POST", server.url("/push"), "{}"));
        if (r.ok() && r->status == 200) ++ok;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), threads * calls);
  EXPECT_EQ(server.delivered("GET /status") + server.delivered("POST /push"), threads * calls);
  EXPECT_GE(server.accepted(), 1);
  EXPECT_LE(server.accepted(), threads);  // never more than the calls in flight at once
  EXPECT_LE(client.idleConnections(), static_cast<std::size_t>(threads));
}

TEST(HttpClientPool, IdleConnectionsAreCappedAndExpire) {
  ScriptedServer server;
  server.delayMs = 400;  // the 8 calls overlap, so (nearly) 8 connections are open at once
  Lines log;
  HttpClientImpl::PoolLimits limits;
  limits.idlePerOrigin = 4;
  limits.maxIdle = 300ms;
  HttpClientImpl client(log, limits);
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t)
    ts.emplace_back([&] { EXPECT_TRUE(client.send(request("GET", server.url("/status"))).ok()); });
  for (auto& t : ts) t.join();
  const int opened = server.accepted();
  EXPECT_GT(opened, 4);
  EXPECT_EQ(client.idleConnections(), 4u);

  server.delayMs = 0;
  std::this_thread::sleep_for(500ms);  // older than maxIdle: closed, not reused
  ASSERT_TRUE(client.send(request("GET", server.url("/status"))).ok());
  EXPECT_EQ(server.accepted(), opened + 1);
  EXPECT_EQ(client.idleConnections(), 1u);
}

TEST(HttpClientPool, TimedOutPostOnAReusedConnectionIsProviderTimeoutAndNotRepeated) {
  ScriptedServer server;
  server.slowMs = 1500;
  Lines log;
  HttpClientImpl client(log);
  ASSERT_TRUE(client.send(request("GET", server.url("/status"))).ok());  // 5 s timeout
  OutboundRequest slow = request("POST", server.url("/slow/push"), "{}");
  slow.timeoutMs = 300;  // applies on the reused connection too
  slow.maxRetries = 2;   // ignored: a POST is tried once
  auto started = std::chrono::steady_clock::now();
  auto res = client.send(slow);
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, ErrorCode::providerTimeout) << res.error().internal;
  EXPECT_LT(took, 1200ms);
  std::this_thread::sleep_for(1700ms);  // anything sent again would have arrived by now
  EXPECT_EQ(server.delivered("POST /slow/push"), 1);
  EXPECT_EQ(server.accepted(), 1);
  EXPECT_EQ(log.lines().size(), 2u);
}
