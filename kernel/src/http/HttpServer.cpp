#include "http/HttpServer.hpp"

#include <Poco/Crypto/Crypto.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/URI.h>
#include <Poco/UUIDGenerator.h>
#include <openssl/crypto.h>

#include <chrono>
#include <cstring>
#include <random>
#include <istream>
#include <thread>

#include "app/LogContext.hpp"
#include "http/Idempotency.hpp"

namespace malipo {

namespace {

bool validRequestId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

// The client's address as text. A keep-alive connection stays on one thread and keeps its
// peer, so each thread remembers the last address it formatted.
std::string clientHost(const Poco::Net::SocketAddress& peer) {
  thread_local unsigned char last[sizeof(sockaddr_storage)];
  thread_local socklen_t lastLength = 0;
  thread_local std::string lastText;
  socklen_t length = peer.length();
  if (length != lastLength || length > sizeof last || std::memcmp(last, peer.addr(), length) != 0) {
    lastText = peer.host().toString();
    lastLength = length <= sizeof last ? length : 0;
    if (lastLength) std::memcpy(last, peer.addr(), lastLength);
  }
  return lastText;
}

bool constantTimeEquals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Response jsonError(ErrorCode code, const std::string& message, const std::string& requestId) {
  return Response::error(Error::make(code, message), requestId);
}

class KernelHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit KernelHandler(HttpServer& server) : server_(server) {}

  void handleRequest(Poco::Net::HTTPServerRequest& in, Poco::Net::HTTPServerResponse& out) override {
    ++server_.inflight;
    try {
      Request req;
      req.method = in.getMethod();
      bool bodyTooLarge = false;
      const std::string& target = in.getURI();
      std::size_t q = target.find('?');
      if (target.find('%') == std::string::npos && target.find('+') == std::string::npos && !target.empty() &&
          target[0] == '/' && q == std::string::npos) {
        req.path = target;  // the common case: nothing to decode, no query (no URI parse)
      } else {
        try {
          Poco::URI uri(target);
          req.path = uri.getPath();
          req.rawQuery = uri.getRawQuery();
          for (const auto& kv : uri.getQueryParameters()) req.query[kv.first] = kv.second;
        } catch (const Poco::Exception&) {
          req.path = "/\x01invalid";  // matches no route: a 404, not a crash
        }
      }
      for (const auto& kv : in) req.headers[kv.first] = kv.second;
      req.clientIp = clientHost(in.clientAddress());
      if (server_.options().trustProxy) {
        std::string xff = req.header("X-Forwarded-For");
        if (!xff.empty()) req.clientIp = Poco::trim(xff.substr(0, xff.find(',')));
      }
      RouteMatch match = server_.match(req);
      std::size_t limit = server_.bodyLimitFor(match);
      if (in.hasContentLength() && in.getContentLength64() > static_cast<Poco::Int64>(limit)) {
        bodyTooLarge = true;
        // Read and drop a moderately large body so the client sees the 413 instead of a
        // reset connection; a huge one is not worth reading (the connection closes).
        if (in.getContentLength64() <= static_cast<Poco::Int64>(std::max<std::size_t>(limit * 4, 8 << 20))) {
          std::istream& is = in.stream();
          char buf[8192];
          while (is.read(buf, sizeof buf) || is.gcount() > 0) {
          }
        }
      } else if (in.hasContentLength() || in.getChunkedTransferEncoding()) {
        // No length and not chunked: HTTP/1.1 says there is no body (reading would block).
        std::istream& is = in.stream();
        char buf[8192];
        while (is && req.body.size() <= limit) {
          is.read(buf, sizeof buf);
          req.body.append(buf, static_cast<std::size_t>(is.gcount()));
        }
        if (req.body.size() > limit) bodyTooLarge = true;
      }
      Response resp = server_.handle(req, match, bodyTooLarge);
      if (bodyTooLarge || server_.draining()) out.setKeepAlive(false);  // body unread / shutting down
      write(out, resp, req.method == "HEAD");
    } catch (...) {
      // Never let anything reach Poco (it would drop the connection without a reply).
      try {
        Response r = jsonError(ErrorCode::internal, "internal error", LogContext::current());
        write(out, r, false);
      } catch (...) {
      }
    }
    --server_.inflight;
  }

 private:
  static void write(Poco::Net::HTTPServerResponse& out, const Response& r, bool head) {
    out.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(r.status));
    out.setReason(Poco::Net::HTTPResponse::getReasonForStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(r.status)));
    if (!r.contentType.empty()) out.setContentType(r.contentType);
    for (const auto& h : r.headers) out.add(h.first, h.second);
    out.setContentLength64(static_cast<Poco::Int64>(r.body.size()));
    if (head) {
      out.send();
    } else {
      out.sendBuffer(r.body.data(), r.body.size());
    }
  }
  HttpServer& server_;
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(HttpServer& s) : s_(s) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new KernelHandler(s_);
  }

 private:
  HttpServer& s_;
};

}  // namespace

HttpServer::HttpServer(RouterImpl& router, MetricsRegistry& metrics, Logger& log, const Clock& clock, HttpOptions options)
    : router_(router), metrics_(metrics), log_(log), clock_(clock), opts_(std::move(options)) {
  metrics_.describe("malipo_http_requests_total", "HTTP requests by route, method and status", "counter");
  metrics_.describe("malipo_http_request_duration_seconds", "HTTP request latency by route", "histogram");
}

HttpServer::~HttpServer() { stop(0); }

std::string HttpServer::newRequestId() {
  // A random (version 4) UUID from a per-thread generator seeded once from the OS: request
  // ids must be unique, not secret, and OpenSSL's locked DRBG cost ~5% of a trivial request.
  thread_local std::mt19937_64 rng([] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }());
  std::uint64_t hi = rng(), lo = rng();
  unsigned char b[16];
  for (int i = 0; i < 8; ++i) {
    b[i] = static_cast<unsigned char>(hi >> (8 * i));
    b[8 + i] = static_cast<unsigned char>(lo >> (8 * i));
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  static const char* hex = "0123456789abcdef";
  char text[36];
  int pos = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text[pos++] = '-';
    text[pos++] = hex[b[i] >> 4];
    text[pos++] = hex[b[i] & 0x0f];
  }
  return std::string(text, sizeof text);
}

void HttpServer::bind() {
  socket_ = std::make_unique<Poco::Net::ServerSocket>(Poco::Net::SocketAddress(opts_.listen), 128);
}

void HttpServer::start() {
  if (!socket_) bind();
  Poco::Net::ServerSocket socket = *socket_;
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(opts_.threads);
  params->setMaxQueued(opts_.queue);
  params->setKeepAlive(true);
  params->setMaxKeepAliveRequests(10000);
  params->setKeepAliveTimeout(Poco::Timespan(15, 0));
  params->setTimeout(Poco::Timespan(30, 0));
  // A dedicated pool: the default pool is shared and too small for the configured threads.
  static std::vector<std::unique_ptr<Poco::ThreadPool>> pools;  // live until exit, like Poco's default
  pools.push_back(std::make_unique<Poco::ThreadPool>(2, opts_.threads + 2, 60));
  server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), *pools.back(), socket, params);
  server_->start();
}

std::uint16_t HttpServer::port() const {
  return server_ ? server_->port() : socket_ ? socket_->address().port() : 0;
}

bool HttpServer::stop(std::int64_t graceMs) {
  if (!server_) return true;
  // From here on every answer closes its connection, so keep-alive clients go away after
  // their current request instead of sending more.
  draining_ = true;
  // Stop accepting. (Poco's stopAll(false) would wait on every connection's lock, which an
  // idle keep-alive connection holds while it waits for its next request: up to the
  // keep-alive timeout, and forever behind a handler that never returns.)
  server_->stop();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(graceMs);
  while (inflight.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const int stuck = inflight.load();
  // Shut the remaining sockets down (idle keep-alive connections, and those of requests
  // still running): this takes no connection lock.
  server_->stopAll(true);
  if (stuck > 0) {
    log_.error("http", std::to_string(stuck) + " request(s) still running after " + std::to_string(graceMs) +
                           " ms: their connections were closed");
    // Their threads still use this server and the Poco one: both stay (the process exits).
    (void)server_.release();
    return false;
  }
  auto closed = std::chrono::steady_clock::now() + std::chrono::milliseconds(1000);
  while (server_->currentConnections() > 0 && std::chrono::steady_clock::now() < closed)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  server_.reset();
  return true;
}

std::size_t HttpServer::bodyLimitFor(const RouteMatch& m) const {
  if (m.route && m.route->options.maxBodyBytes > 0) return m.route->options.maxBodyBytes;
  return opts_.maxBodyBytes;
}

bool HttpServer::verifyJwt(const std::string& token, std::string& subject, std::string& why) const {
  if (opts_.jwtSecret.empty()) {
    why = "authentication is not configured (auth.jwt_secret is empty)";
    return false;
  }
  try {
    Poco::JWT::Signer signer(opts_.jwtSecret);
    signer.addAlgorithm(Poco::JWT::Signer::ALGO_HS256);
    Poco::JWT::Token t;
    if (!signer.tryVerify(token, t)) {
      why = "invalid token signature";
      return false;
    }
    if (t.getAlgorithm() != "HS256") {
      why = "unsupported token algorithm";
      return false;
    }
    Poco::Timestamp now = Poco::Timestamp::fromEpochTime(clock_.nowMs() / 1000);
    if (!t.payload().has("exp")) {
      why = "token has no expiry";
      return false;
    }
    if (t.getExpiration() <= now) {
      why = "token expired";
      return false;
    }
    if (t.payload().has("nbf") && t.getNotBefore() > now) {
      why = "token not yet valid";
      return false;
    }
    if (!opts_.jwtIssuer.empty() && t.getIssuer() != opts_.jwtIssuer) {
      why = "wrong token issuer";
      return false;
    }
    subject = t.getSubject();
    if (subject.empty()) {
      why = "token has no subject";
      return false;
    }
    return true;
  } catch (const Poco::Exception&) {
    why = "malformed token";
    return false;
  }
}

void HttpServer::addCors(const Request& req, Response& resp) const {
  std::string origin = req.header("Origin");
  if (origin.empty() || opts_.corsOrigins.empty()) return;
  bool any = false, match = false;
  for (const auto& o : opts_.corsOrigins) {
    any = any || o == "*";
    match = match || o == origin;
  }
  if (!any && !match) return;
  resp.header("Access-Control-Allow-Origin", match ? origin : "*");
  resp.header("Vary", "Origin");
  resp.header("Access-Control-Expose-Headers", "X-Request-Id, Retry-After");
}

Response HttpServer::handle(Request& req, const RouteMatch& m, bool bodyTooLarge) {
  auto started = std::chrono::steady_clock::now();
  std::string incoming = req.header("X-Request-Id");
  req.requestId = validRequestId(incoming) ? incoming : newRequestId();
  LogContext ctx(req.requestId);
  Response resp;
  static const std::string unmatched = "unmatched", notAllowed = "method_not_allowed", preflight = "preflight";
  const std::string* routeName = m.route ? &m.route->options.name : (m.allowed.empty() ? &unmatched : &notAllowed);

  if (req.method == "OPTIONS" && !req.header("Access-Control-Request-Method").empty()) {
    resp = Response::text(204, "");
    addCors(req, resp);
    if (!resp.headers.empty()) {
      resp.header("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS");
      resp.header("Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key, X-Request-Id");
      resp.header("Access-Control-Max-Age", std::to_string(opts_.corsMaxAge));
    }
    routeName = &preflight;
  } else {
    resp = route(req, m, bodyTooLarge);
    addCors(req, resp);
  }
  resp.header("X-Request-Id", req.requestId);

  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.recordRequest(*routeName, req.method, resp.status, seconds);
  if (opts_.accessLog) {
    thread_local std::string line;  // reused: no allocation per request
    line.clear();
    line.append(req.clientIp).append(" \"").append(req.method).append(" ").append(req.path).append("\" ");
    line.append(std::to_string(resp.status)).append(" ").append(std::to_string(resp.body.size())).append("B ");
    line.append(std::to_string(static_cast<int>(seconds * 1e6))).append("us");
    log_.info("http", line);
  }
  return resp;
}

Response HttpServer::route(Request& req, const RouteMatch& m, bool bodyTooLarge) {
  if (!m.route) {
    if (!m.allowed.empty()) {
      std::string allow;
      for (const auto& a : m.allowed) allow += (allow.empty() ? "" : ", ") + a;
      Response r = jsonError(ErrorCode::conflict, "method " + req.method + " not allowed here", req.requestId);
      r.status = 405;
      Poco::JSON::Object o;
      o.set("error", "method_not_allowed");
      o.set("message", "method " + req.method + " is not allowed on this path (allowed: " + allow + ")");
      o.set("request_id", req.requestId);
      r = Response::json(405, o);
      r.header("Allow", allow);
      return r;
    }
    return jsonError(ErrorCode::notFound, "no route for " + req.method + " " + req.path, req.requestId);
  }
  const Route& route = *m.route;
  req.pathParams = m.params;
  if (bodyTooLarge) {
    return jsonError(ErrorCode::payloadTooLarge, "request body too large", req.requestId);
  }

  const std::string& bucket = route.options.rateLimit;
  RateLimiter::Limit limit = opts_.defaultLimit;
  if (!bucket.empty()) {
    auto it = opts_.buckets.find(bucket);
    if (it != opts_.buckets.end()) limit = it->second;
  }
  if (int wait = limiter_.take(bucket.empty() ? "default" : bucket, limit, req.clientIp, clock_.nowMs())) {
    Response r = jsonError(ErrorCode::rateLimited, "too many requests; retry in " + std::to_string(wait) + " s", req.requestId);
    r.header("Retry-After", std::to_string(wait));
    return r;
  }

  std::string authz = req.header("Authorization");
  std::string bearer = authz.rfind("Bearer ", 0) == 0 ? Poco::trim(authz.substr(7)) : std::string();
  switch (route.options.auth) {
    case Auth::none: break;
    case Auth::optional:
    case Auth::required: {
      auto unauthorized = [&] {
        Response r = route.options.unauthorizedBody.empty() ? jsonError(ErrorCode::unauthorized, "Unauthorized", req.requestId)
                                                            : Response::text(401, route.options.unauthorizedBody, "application/json");
        return r.header("WWW-Authenticate", "Bearer");
      };
      if (bearer.empty()) {
        if (route.options.auth == Auth::required) return unauthorized();
        break;
      }
      std::string sub, why;
      if (!verifyJwt(bearer, sub, why)) {
        log_.info("auth", "rejected token: " + why);
        return unauthorized();
      }
      req.userId = sub;
      break;
    }
    case Auth::admin:
      if (opts_.adminToken.empty())
        return jsonError(ErrorCode::forbidden, "the admin API is disabled (admin.token is empty)", req.requestId);
      if (bearer.empty() || !constantTimeEquals(bearer, opts_.adminToken))
        return jsonError(ErrorCode::unauthorized, "Unauthorized", req.requestId);
      break;
  }

  try {
    if (route.options.idempotent && idempotency_) return idempotency_->run(req, route.method + " " + route.pattern, route.handler);
    return route.handler(req);
  } catch (const std::exception& e) {
    log_.error("http", route.method + " " + route.pattern + " threw: " + e.what());
  } catch (...) {
    log_.error("http", route.method + " " + route.pattern + " threw a non-standard exception");
  }
  return jsonError(ErrorCode::internal, "internal error; quote request id " + req.requestId, req.requestId);
}

}  // namespace malipo
