// The kernel's HTTP front: Poco HTTPServer → one handler running the middleware pipeline:
// request id → CORS → route (404/405) → body limit (413) → rate limit (429) → auth (JWT /
// admin, 401/403) → handler (exceptions → 500 with the request id) → metrics, access log.
#pragma once

#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/ServerSocket.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "http/MetricsRegistry.hpp"
#include "http/RateLimiter.hpp"
#include "http/RouterImpl.hpp"
#include "malipo/clock.hpp"
#include "malipo/log.hpp"

namespace malipo {

struct HttpOptions {
  std::string listen = "127.0.0.1:8080";
  int threads = 32;
  int queue = 256;
  std::size_t maxBodyBytes = 1 << 20;
  bool trustProxy = false;
  bool accessLog = true;
  std::vector<std::string> corsOrigins;
  int corsMaxAge = 600;
  RateLimiter::Limit defaultLimit;
  std::map<std::string, RateLimiter::Limit> buckets;
  std::string jwtSecret, jwtIssuer, adminToken;
};

class HttpServer {
 public:
  HttpServer(RouterImpl& router, MetricsRegistry& metrics, Logger& log, const Clock& clock, HttpOptions options);
  ~HttpServer();

  // Binds the listening socket (the port is known from here on), then serves.
  void bind();
  void start();
  std::uint16_t port() const;
  // Stops accepting, lets in-flight requests finish (up to graceMs; answers meanwhile close
  // their connections), then closes the remaining connections. Returns false when requests
  // were still running at the deadline: their handler threads keep using this object, which
  // must then not be destroyed (the process should exit).
  bool stop(std::int64_t graceMs = 10000);
  bool draining() const { return draining_.load(std::memory_order_relaxed); }

  // The pipeline after the body was read; `bodyTooLarge` when the reader stopped at the cap.
  Response handle(Request& req, const RouteMatch& match, bool bodyTooLarge);
  RouteMatch match(const Request& req) const { return router_.match(req.method, req.path); }
  // The body cap of a matched route (or the server's).
  std::size_t bodyLimitFor(const RouteMatch& m) const;
  // Verifies an HS256 JWT; returns the subject or an error message.
  bool verifyJwt(const std::string& token, std::string& subject, std::string& why) const;
  static std::string newRequestId();

  const HttpOptions& options() const { return opts_; }
  void setIdempotency(class Idempotency* i) { idempotency_ = i; }
  std::atomic<int> inflight{0};

 private:
  Response route(Request& req, const RouteMatch& m, bool bodyTooLarge);
  void addCors(const Request& req, Response& resp) const;

  RouterImpl& router_;
  MetricsRegistry& metrics_;
  Logger& log_;
  const Clock& clock_;
  HttpOptions opts_;
  RateLimiter limiter_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  std::unique_ptr<Poco::Net::ServerSocket> socket_;
  class Idempotency* idempotency_ = nullptr;
  std::atomic<bool> draining_{false};
};

}  // namespace malipo
