// Outbound HTTP over Poco (see malipo/http_client.hpp): TLS verified, timeouts, retries for
// idempotent calls, a log line without secrets, and keep-alive connections reused from a
// small pool per origin (docs/kernel.md, "Outbound HTTP", says when a pooled connection may
// carry a request and what happens when it turns out to be stale).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "malipo/http_client.hpp"
#include "malipo/log.hpp"

namespace malipo {

class OutboundConnection;  // a Poco client session with the pool's extras (HttpClientImpl.cpp)

class HttpClientImpl final : public HttpClient {
 public:
  struct PoolLimits {
    std::size_t idlePerOrigin = 32;  // idle connections kept per scheme+host+port
    // An idle connection older than this is closed, not reused: below the keep-alive timeout
    // of common servers (Apache httpd, Node.js and uvicorn close after 5 s).
    std::chrono::milliseconds maxIdle{4000};
    // A non-idempotent request only goes on a connection idle at most this long (else a new
    // one): see the comment on take() in HttpClientImpl.cpp.
    std::chrono::milliseconds maxIdleNonIdempotent{1000};
  };

  explicit HttpClientImpl(Logger& log) : HttpClientImpl(log, PoolLimits{}) {}
  HttpClientImpl(Logger& log, PoolLimits limits);
  ~HttpClientImpl() override;
  Result<OutboundResponse> send(const OutboundRequest& request) override;

  // Idle pooled connections, all origins (for tests and metrics).
  std::size_t idleConnections() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Idle {
    std::unique_ptr<OutboundConnection> connection;
    Clock::time_point since;
  };

  using Closing = std::vector<std::unique_ptr<OutboundConnection>>;

  Result<OutboundResponse> once(const OutboundRequest& request, bool idempotent,
                                const std::string& where);
  // An idle connection to `origin` that may carry the request, or null (then a new one).
  std::unique_ptr<OutboundConnection> take(const std::string& origin, bool idempotent);
  // Back into the pool after a complete keep-alive exchange (or closed if the pool is full).
  void give(const std::string& origin, std::unique_ptr<OutboundConnection> connection);
  // Moves the connections idle longer than maxIdle into `out`, to be closed by the caller
  // once mutex_ is released: all origins at most once a second, `queue` always. Needs mutex_.
  void expireLocked(Clock::time_point now, std::deque<Idle>& queue, Closing& out);

  Logger& log_;
  const PoolLimits limits_;
  mutable std::mutex mutex_;  // guards idle_ and lastSweep_; never held during I/O
  std::map<std::string, std::deque<Idle>> idle_;  // oldest first
  Clock::time_point lastSweep_;
};

}  // namespace malipo
