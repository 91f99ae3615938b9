#include "http/HttpServer.hpp"

#include <Poco/JSON/Parser.h>
#include <Poco/String.h>
#include <Poco/URI.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>

#include "app/KernelLogger.hpp"
#include "app/LogContext.hpp"
#include "http/Idempotency.hpp"
#include "http/PagesImpl.hpp"
#include "http/WorkerPool.hpp"

namespace malipo {

namespace {

bool validRequestId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      return false;
  return true;
}

bool constantTimeEquals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Response jsonError(ErrorCode code, const std::string& message, const std::string& requestId) {
  return Response::error(Error::make(code, message), requestId);
}

// base64url (RFC 4648 §5, no padding) → bytes; false on any other character.
bool base64UrlDecode(const std::string& in, std::string& out) {
  out.clear();
  unsigned buf = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '-')
      v = 62;
    else if (c == '_')
      v = 63;
    else
      return false;
    buf = (buf << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buf >> bits) & 0xff));
    }
  }
  return bits < 6;  // a lone trailing character is not base64
}

bool numericClaim(const Poco::JSON::Object::Ptr& o, const std::string& name, double& value) {
  if (!o->has(name)) return false;
  Poco::Dynamic::Var v = o->get(name);
  if (!v.isNumeric() || v.isBoolean()) return false;
  value = v.convert<double>();
  return true;
}

}  // namespace

HttpServer::HttpServer(RouterImpl& router, MetricsRegistry& metrics, Logger& log,
                       const Clock& clock, HttpOptions options)
    : router_(router),
      metrics_(metrics),
      log_(log),
      clock_(clock),
      opts_(std::move(options)),
      proxies_(opts_.trustedProxies) {
  metrics_.describe("malipo_http_requests_total", "HTTP requests by route, method and status",
                    "counter");
  metrics_.describe("malipo_http_request_duration_seconds", "HTTP request latency by route",
                    "histogram");
  if (auto* kl = dynamic_cast<KernelLogger*>(&log_); kl && kl->json()) jsonAccessLog_ = kl;
  healthz_ = router_.match("GET", "/healthz").route;
  readyz_ = router_.match("GET", "/readyz").route;
  metricsRoute_ = router_.match("GET", "/metrics").route;
  ConnectionOptions co;
  co.listen = opts_.listen;
  co.ioThreads = opts_.ioThreads;
  co.headerTimeoutMs = opts_.headerTimeoutMs;
  co.idleTimeoutMs = opts_.idleTimeoutMs;
  co.bodyTimeoutMs = opts_.bodyTimeoutMs;
  co.maxHeaderBytes = opts_.maxHeaderBytes;
  co.maxConnections = opts_.maxConnections;
  co.maxConnectionsPerClient = opts_.maxConnectionsPerClient;
  co.maxBufferedBodyBytes = opts_.maxBufferedBodyBytes;
  co.tlsCert = opts_.tlsCert;
  co.tlsKey = opts_.tlsKey;
  conns_ = std::make_unique<Connections>(*this, co);
  // A trusted proxy carries many clients: the per-client connection cap is not applied to it.
  if (!proxies_.empty())
    conns_->setPerClientExempt([this](const std::string& ip) { return proxies_.contains(ip); });
  std::shared_ptr<ConnectionStats> stats = conns_->stats();
  metrics_.describe("malipo_http_connections_open", "client connections open now", "gauge");
  metrics_.describe("malipo_http_connections_refused_total",
                    "connections closed at accept, by the limit that refused them", "counter");
  metrics_.describe("malipo_http_connections_timed_out_total",
                    "connections closed with 408 (header block or body too slow)", "counter");
  metrics_.describe("malipo_http_connections_idle_closed_total",
                    "keep-alive connections closed after server.idle_timeout_ms", "counter");
  metrics_.describe("malipo_http_body_budget_refused_total",
                    "requests refused with 503 because server.max_buffered_body_bytes was reached",
                    "counter");
  metrics_.describe("malipo_http_bad_requests_total",
                    "requests refused by the HTTP reader (400, 431)", "counter");
  if (conns_->tls()) {
    metrics_.describe("malipo_tls_handshake_failures_total",
                      "TLS handshakes that failed (old protocol versions, no shared cipher, junk)",
                      "counter");
    metrics_.describe("malipo_tls_plain_http_refused_total",
                      "plain HTTP requests sent to the TLS port (400)", "counter");
  }
  metrics_.addCollector([stats, tls = conns_->tls()](Metrics& m) {
    m.setGauge("malipo_http_connections_open", {}, static_cast<double>(stats->open.load()));
    m.setGauge("malipo_http_connections_refused_total", {{"limit", "max_connections"}},
               static_cast<double>(stats->refusedTotal.load()));
    m.setGauge("malipo_http_connections_refused_total", {{"limit", "max_connections_per_client"}},
               static_cast<double>(stats->refusedPerClient.load()));
    m.setGauge("malipo_http_connections_timed_out_total", {},
               static_cast<double>(stats->headerTimeouts.load()));
    m.setGauge("malipo_http_connections_idle_closed_total", {},
               static_cast<double>(stats->idleClosed.load()));
    m.setGauge("malipo_http_bad_requests_total", {},
               static_cast<double>(stats->badRequests.load()));
    m.setGauge("malipo_http_body_budget_refused_total", {},
               static_cast<double>(stats->bodyBudgetRefused.load()));
    if (tls) {
      m.setGauge("malipo_tls_handshake_failures_total", {},
                 static_cast<double>(stats->tlsHandshakeFailed.load()));
      m.setGauge("malipo_tls_plain_http_refused_total", {},
                 static_cast<double>(stats->plainOnTls.load()));
    }
  });
}

HttpServer::~HttpServer() {
  if (stop(0)) conns_.reset();
}

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
  conns_->bind();
}

void HttpServer::start() {
  if (started_) return;
  started_ = true;
  pool_ = std::make_unique<WorkerPool>(opts_.threads, static_cast<std::size_t>(opts_.queue));
  // Readiness and metrics (they touch the database) on a thread of their own: never queued
  // behind the other routes' work.
  healthPool_ = std::make_unique<WorkerPool>(1, 64);
  conns_->start();
}

std::uint16_t HttpServer::port() const {
  return conns_->port();
}

std::size_t HttpServer::begin(Exchange& ex) {
  Request& req = ex.req;
  const std::string& target = ex.target;
  std::size_t q = target.find('?');
  if (target.find('%') == std::string::npos && target.find('+') == std::string::npos &&
      !target.empty() && target[0] == '/' && q == std::string::npos) {
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
  req.clientIp = clientAddress(ex.peer, req.header("X-Forwarded-For"), proxies_);
  ex.match = router_.match(req.method, req.path);
  return bodyLimitFor(ex.match);
}

void HttpServer::run(const std::shared_ptr<Exchange>& ex) {
  try {
    Response r = handle(ex->req, ex->match, ex->bodyTooLarge);
    ex->reply(r);
  } catch (...) {
    // Never let anything reach the connection layer without an answer.
    try {
      ex->reply(jsonError(ErrorCode::internal, "internal error", LogContext::current()), true);
    } catch (...) {
    }
  }
  --inflight;
}

void HttpServer::dispatch(std::shared_ptr<Exchange> ex) {
  ++inflight;
  const Route* r = ex->match.route;
  if (r && r == healthz_) return run(ex);  // trivial: answered on the I/O thread
  if (isHealth(r) && healthPool_->post([this, ex] { run(ex); })) return;
  if (!isHealth(r) && pool_->post([this, ex] { run(ex); })) return;
  // Every worker busy and the queue full: say so at once instead of queueing without end.
  Response busy = Response::error(
      Error::make(ErrorCode::unavailable, "server busy; retry shortly").retryAfter(1),
      newRequestId());
  ex->reply(busy);
  --inflight;
}

bool HttpServer::stop(std::int64_t graceMs) {
  if (!started_ || stopped_) return true;
  stopped_ = true;
  // From here on every answer closes its connection, so keep-alive clients go away after
  // their current request instead of sending more; idle connections are closed now.
  draining_ = true;
  conns_->stopAccepting();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(graceMs);
  while (inflight.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const int stuck = inflight.load();
  conns_->closeAll();
  if (stuck > 0) {
    log_.error("http", std::to_string(stuck) + " request(s) still running after " +
                           std::to_string(graceMs) + " ms: their connections were closed");
    // Their threads still use this server, its pools and connections: all stay (the process exits).
    (void)pool_.release();
    (void)healthPool_.release();
    (void)conns_.release();
    return false;
  }
  pool_->stop();
  healthPool_->stop();
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
  // Exactly header.payload.signature, each non-empty base64url.
  std::size_t d1 = token.find('.');
  std::size_t d2 = d1 == std::string::npos ? d1 : token.find('.', d1 + 1);
  if (d1 == std::string::npos || d2 == std::string::npos ||
      token.find('.', d2 + 1) != std::string::npos || d1 == 0 || d2 == d1 + 1 ||
      d2 + 1 == token.size()) {
    why = "malformed token (not header.payload.signature)";
    return false;
  }
  std::string headerJson, payloadJson, signature;
  if (!base64UrlDecode(token.substr(0, d1), headerJson) ||
      !base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1), payloadJson) ||
      !base64UrlDecode(token.substr(d2 + 1), signature)) {
    why = "malformed token (bad base64url)";
    return false;
  }
  auto header = parseJsonObject(headerJson);
  if (!header || !header->has("alg") || !header->get("alg").isString() ||
      header->getValue<std::string>("alg") != "HS256") {
    why = "unsupported token algorithm (only HS256)";
    return false;
  }
  if (header->has("crit")) {
    why = "unsupported critical token header";
    return false;
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int macLen = 0;
  HMAC(EVP_sha256(), opts_.jwtSecret.data(), static_cast<int>(opts_.jwtSecret.size()),
       reinterpret_cast<const unsigned char*>(token.data()), d2, mac, &macLen);
  if (signature.size() != macLen || CRYPTO_memcmp(signature.data(), mac, macLen) != 0) {
    why = "invalid token signature";
    return false;
  }
  auto payload = parseJsonObject(payloadJson);
  if (!payload) {
    why = "malformed token payload";
    return false;
  }
  const double now = static_cast<double>(clock_.nowMs()) / 1000.0;
  double exp = 0, nbf = 0, iat = 0;
  if (!numericClaim(payload, "exp", exp)) {
    why = "token has no numeric expiry";
    return false;
  }
  if (exp <= now) {
    why = "token expired";
    return false;
  }
  if (payload->has("nbf") &&
      (!numericClaim(payload, "nbf", nbf) || nbf > now + kJwtLeewaySeconds)) {
    why = "token not yet valid";
    return false;
  }
  if (payload->has("iat") &&
      (!numericClaim(payload, "iat", iat) || iat > now + kJwtLeewaySeconds)) {
    why = "token issued in the future";
    return false;
  }
  if (!opts_.jwtIssuer.empty() && (!payload->has("iss") || !payload->get("iss").isString() ||
                                   payload->getValue<std::string>("iss") != opts_.jwtIssuer)) {
    why = "wrong token issuer";
    return false;
  }
  if (!payload->has("sub") || !payload->get("sub").isString() ||
      payload->getValue<std::string>("sub").empty()) {
    why = "token has no subject";
    return false;
  }
  subject = payload->getValue<std::string>("sub");
  return true;
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
  static const std::string unmatched = "unmatched", notAllowed = "method_not_allowed",
                           preflight = "preflight";
  const std::string* routeName =
      m.route ? &m.route->options.name : (m.allowed.empty() ? &unmatched : &notAllowed);

  if (req.method == "OPTIONS" && !req.header("Access-Control-Request-Method").empty()) {
    resp = Response::text(204, "");
    addCors(req, resp);
    if (!resp.headers.empty()) {
      resp.header("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS");
      resp.header("Access-Control-Allow-Headers",
                  "Authorization, Content-Type, Idempotency-Key, X-Request-Id");
      resp.header("Access-Control-Max-Age", std::to_string(opts_.corsMaxAge));
    }
    routeName = &preflight;
  } else {
    {
      PagesImpl::CurrentRequest current(req);  // the pages' language switcher links here
      resp = route(req, m, bodyTooLarge);
    }
    PagesImpl::rememberLanguage(req, resp);
    addCors(req, resp);
  }
  resp.header("X-Request-Id", req.requestId);
  addSecurityHeaders(opts_.security, req.path, resp);

  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.recordRequest(*routeName, req.method, resp.status, seconds);
  if (opts_.accessLog && jsonAccessLog_) {
    // One JSON object per request: the route's name (its pattern by default), never the
    // path with its ids, nor the query string, nor a header the client sent.
    std::string msg = req.method + " " + *routeName + " " + std::to_string(resp.status);
    jsonAccessLog_->logFields(
        LogLevel::info, "http", msg,
        {{"method", req.method},
         {"route", *routeName},
         {"status", resp.status},
         {"duration_ms", std::round(seconds * 1e6) / 1e3},
         {"bytes", static_cast<std::int64_t>(req.method == "HEAD" ? 0 : resp.body.size())}});
  } else if (opts_.accessLog) {
    thread_local std::string line;  // reused: no allocation per request
    line.clear();
    line.append(req.clientIp)
        .append(" \"")
        .append(req.method)
        .append(" ")
        .append(req.path)
        .append("\" ");
    line.append(std::to_string(resp.status))
        .append(" ")
        .append(std::to_string(resp.body.size()))
        .append("B ");
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
      Response r = jsonError(ErrorCode::conflict, "method " + req.method + " not allowed here",
                             req.requestId);
      r.status = 405;
      Poco::JSON::Object o;
      o.set("error", "method_not_allowed");
      o.set("message",
            "method " + req.method + " is not allowed on this path (allowed: " + allow + ")");
      o.set("request_id", req.requestId);
      r = Response::json(405, o);
      r.header("Allow", allow);
      return r;
    }
    return jsonError(ErrorCode::notFound, "no route for " + req.method + " " + req.path,
                     req.requestId);
  }
  const Route& route = *m.route;
  req.pathParams = m.params;
  if (bodyTooLarge) {
    return jsonError(ErrorCode::payloadTooLarge, "request body too large", req.requestId);
  }

  // Health routes are never rate-limited (a monitor polls them from one address).
  const bool exempt = isHealth(&route);
  const std::string& bucket = route.options.rateLimit;
  RateLimiter::Limit limit = opts_.defaultLimit;
  if (!bucket.empty()) {
    auto it = opts_.buckets.find(bucket);
    if (it != opts_.buckets.end()) limit = it->second;
  }
  if (int wait = exempt ? 0
                        : limiter_.take(bucket.empty() ? "default" : bucket, limit, req.clientIp,
                                        clock_.nowMs())) {
    Response r =
        jsonError(ErrorCode::rateLimited,
                  "too many requests; retry in " + std::to_string(wait) + " s", req.requestId);
    r.header("Retry-After", std::to_string(wait));
    return r;
  }

  std::string authz = req.header("Authorization");
  std::string bearer = authz.rfind("Bearer ", 0) == 0 ? Poco::trim(authz.substr(7)) : std::string();
  switch (route.options.auth) {
    case Auth::none:
      break;
    case Auth::optional:
    case Auth::required: {
      auto unauthorized = [&] {
        Response r = route.options.unauthorizedBody.empty()
                         ? jsonError(ErrorCode::unauthorized, "Unauthorized", req.requestId)
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
    case Auth::admin: {
      if (opts_.adminToken.empty() && opts_.adminTokens.empty())
        return jsonError(ErrorCode::forbidden,
                         "the admin API is disabled (admin.token and admin.tokens are empty)",
                         req.requestId);
      // Every token is compared (in constant time), so the time taken says nothing of which
      // one matched or how much of one.
      std::string actor, role;
      if (!bearer.empty()) {
        if (!opts_.adminToken.empty() && constantTimeEquals(bearer, opts_.adminToken)) {
          actor = "admin";
          role = "operator";
        }
        for (const auto& [name, t] : opts_.adminTokens)
          if (!t.token.empty() && constantTimeEquals(bearer, t.token)) {
            actor = name;
            role = t.role;
          }
      }
      if (actor.empty()) return jsonError(ErrorCode::unauthorized, "Unauthorized", req.requestId);
      if (role != "operator" && req.method != "GET" && req.method != "HEAD")
        return jsonError(ErrorCode::forbidden,
                         "the admin token '" + actor + "' may only read (role " + role + ")",
                         req.requestId);
      // On an admin route userId is the operator who acts (the actor recorded with what they
      // do): the name of the admin token that matched.
      req.userId = actor;
      break;
    }
  }

  try {
    if (route.options.idempotent && idempotency_)
      return idempotency_->run(req, route.method + " " + route.pattern, route.handler);
    return route.handler(req);
  } catch (const std::exception& e) {
    log_.error("http", route.method + " " + route.pattern + " threw: " + e.what());
  } catch (...) {
    log_.error("http", route.method + " " + route.pattern + " threw a non-standard exception");
  }
  return jsonError(ErrorCode::internal, "internal error; quote request id " + req.requestId,
                   req.requestId);
}

}  // namespace malipo
