// The kernel's HTTP front: the connection layer (http/Connections: Boost.Asio, a strict
// HTTP/1.1 reader, timeouts and connection limits) hands each whole request to this class,
// which runs the middleware pipeline on a worker thread (health routes: at once, never
// queued behind other work):
// request id → CORS → route (404/405) → body limit (413) → rate limit (429) → auth (JWT /
// admin, 401/403) → handler (exceptions → 500 with the request id) → metrics, access log.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "http/ClientAddress.hpp"
#include "http/Connections.hpp"
#include "http/MetricsRegistry.hpp"
#include "http/RateLimiter.hpp"
#include "http/RouterImpl.hpp"
#include "http/SecurityHeaders.hpp"
#include "malipo/clock.hpp"
#include "malipo/log.hpp"

namespace malipo {

class WorkerPool;

struct HttpOptions {
  std::string listen = "127.0.0.1:8080";
  int threads = 32;
  int queue = 256;  // requests waiting for a worker thread (503 above)
  int ioThreads = 2;
  std::int64_t headerTimeoutMs = 10000;
  std::int64_t idleTimeoutMs = 30000;
  std::int64_t bodyTimeoutMs = 60000;
  std::size_t maxHeaderBytes = 16384;
  int maxConnections = 10000;
  int maxConnectionsPerClient = 2500;
  std::size_t maxBufferedBodyBytes = 256u << 20;
  std::size_t maxBodyBytes = 1 << 20;
  std::string tlsCert, tlsKey;              // server.tls (PEM files); empty: plain HTTP
  std::vector<std::string> trustedProxies;  // CIDRs whose X-Forwarded-For is believed
  bool accessLog = true;
  std::vector<std::string> corsOrigins;
  int corsMaxAge = 600;
  RateLimiter::Limit defaultLimit;
  std::map<std::string, RateLimiter::Limit> buckets;
  std::string jwtSecret, jwtIssuer, adminToken;
  // admin.tokens: named operator tokens; the name is the actor recorded with what they do.
  // A viewer reads (GET, HEAD) admin routes; an operator also acts.
  struct AdminToken {
    std::string token;
    std::string role = "operator";
  };
  std::map<std::string, AdminToken> adminTokens;
  SecurityOptions security;  // pages.* (frame ancestors) and the layout's style hash
};

class HttpServer final : public HttpApp {
 public:
  HttpServer(RouterImpl& router, MetricsRegistry& metrics, Logger& log, const Clock& clock,
             HttpOptions options);
  ~HttpServer() override;

  // Binds the listening socket (the port is known from here on), then serves. bind() throws
  // std::runtime_error("address HOST:PORT already in use") when the port is taken.
  void bind();
  void start();
  std::uint16_t port() const;
  bool tls() const { return conns_->tls(); }
  // SIGHUP: reads the TLS certificate and key again (new connections use them). Throws
  // std::runtime_error when they do not load; the running certificate stays then.
  void reloadTls() { conns_->reloadTls(); }
  // Stops accepting, lets in-flight requests finish (up to graceMs; answers meanwhile close
  // their connections, idle connections are closed at once), then closes the remaining
  // connections. Returns false when requests were still running at the deadline: their
  // handler threads keep using this object, which must then not be destroyed (the process
  // should exit).
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
  // Leeway for a JWT's nbf and iat (clock skew between the issuer and us).
  static constexpr std::int64_t kJwtLeewaySeconds = 60;

  const HttpOptions& options() const { return opts_; }
  void setIdempotency(class Idempotency* i) { idempotency_ = i; }
  std::atomic<int> inflight{0};

  // HttpApp (called by the connection layer).
  std::size_t begin(Exchange& ex) override;
  void dispatch(std::shared_ptr<Exchange> ex) override;

 private:
  Response route(Request& req, const RouteMatch& m, bool bodyTooLarge);
  void addCors(const Request& req, Response& resp) const;
  void run(const std::shared_ptr<Exchange>& ex);
  bool isHealth(const Route* r) const {
    return r && (r == healthz_ || r == readyz_ || r == metricsRoute_);
  }

  RouterImpl& router_;
  MetricsRegistry& metrics_;
  Logger& log_;
  const Clock& clock_;
  HttpOptions opts_;
  TrustedProxies proxies_;
  RateLimiter limiter_;
  std::unique_ptr<Connections> conns_;
  std::unique_ptr<WorkerPool> pool_, healthPool_;
  const Route* healthz_ = nullptr;
  const Route* readyz_ = nullptr;
  const Route* metricsRoute_ = nullptr;
  class Idempotency* idempotency_ = nullptr;
  class KernelLogger* jsonAccessLog_ = nullptr;  // log.format json: structured access lines
  std::atomic<bool> draining_{false};
  bool started_ = false, stopped_ = false;
};

}  // namespace malipo
