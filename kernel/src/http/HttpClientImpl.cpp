#include "http/HttpClientImpl.hpp"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <poll.h>

#include <thread>

namespace malipo {

// A Poco client session plus what the pool needs from its protected side: connecting before
// the request is written (so a failure to connect is told apart from a failure after the
// request went out) and the bytes it has read ahead.
class OutboundConnection {
 public:
  virtual ~OutboundConnection() = default;
  virtual Poco::Net::HTTPClientSession& http() = 0;
  virtual void open() = 0;
  virtual int readAhead() const = 0;

  // The per-call timeout. Poco applies setTimeout() to the socket only when it connects, so
  // on a reused connection the socket's own timeouts are set here too.
  void useTimeout(int ms) {
    if (ms == timeoutMs_) return;
    Poco::Timespan t(static_cast<long>(ms / 1000), static_cast<long>((ms % 1000) * 1000));
    http().setTimeout(t, t, t);
    if (http().connected()) {
      http().socket().setSendTimeout(t);
      http().socket().setReceiveTimeout(t);
    }
    timeoutMs_ = ms;
  }

  // False when the server has closed the connection (or reset it, or sent bytes nobody asked
  // for) while it sat in the pool: the socket is readable before any request was written.
  bool looksAlive() {
    if (!http().connected() || readAhead() > 0) return false;
    pollfd p{};
    p.fd = http().socket().impl()->sockfd();
    p.events = POLLIN | POLLRDHUP;
    return ::poll(&p, 1, 0) == 0;
  }

 private:
  int timeoutMs_ = -1;
};

namespace {

template <class Session>
class PooledSession final : public OutboundConnection, public Session {
 public:
  using Session::Session;
  Poco::Net::HTTPClientSession& http() override { return *this; }
  void open() override { this->reconnect(); }
  int readAhead() const override { return this->buffered(); }
};

Poco::Net::Context::Ptr tlsContext() {
  // Verifies the server certificate and host name against the system CA store.
  static Poco::Net::Context::Ptr ctx = new Poco::Net::Context(
      Poco::Net::Context::TLS_CLIENT_USE, "", "", "", Poco::Net::Context::VERIFY_RELAXED, 9, true);
  return ctx;
}

bool isIdempotent(const OutboundRequest& r) {
  return r.idempotent || r.method == "GET" || r.method == "DELETE" || r.method == "HEAD";
}

Error timedOut(const Poco::Exception& e) {
  return Error::make(ErrorCode::providerTimeout, "timed out: " + e.displayText(),
                     "the provider did not answer in time");
}

Error unreachable(const Poco::Exception& e) {
  return Error::make(ErrorCode::providerError, e.displayText(),
                     "the provider could not be reached");
}

}  // namespace

HttpClientImpl::HttpClientImpl(Logger& log, PoolLimits limits)
    : log_(log), limits_(limits), lastSweep_(Clock::now()) {}

HttpClientImpl::~HttpClientImpl() = default;

std::size_t HttpClientImpl::idleConnections() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::size_t n = 0;
  for (const auto& [origin, queue] : idle_) n += queue.size();
  return n;
}

void HttpClientImpl::expireLocked(Clock::time_point now, std::deque<Idle>& queue, Closing& out) {
  auto expire = [&](std::deque<Idle>& q) {
    while (!q.empty() && now - q.front().since > limits_.maxIdle) {
      out.push_back(std::move(q.front().connection));
      q.pop_front();
    }
  };
  expire(queue);
  if (now - lastSweep_ < std::chrono::seconds(1)) return;
  lastSweep_ = now;
  for (auto it = idle_.begin(); it != idle_.end();) {
    expire(it->second);
    if (it->second.empty() && &it->second != &queue)
      it = idle_.erase(it);
    else
      ++it;
  }
}

// Which pooled connection may carry a request. A connection the server closed while it sat
// idle is the risk: a request written into it may be lost, and whether the server read it
// first cannot be known from here. So:
// - Before any reuse the socket is checked: readable (FIN, RST, stray bytes) means closed,
//   and it is dropped. This catches every close that reached us before the request was sent.
// - Left is a close racing the request. An idempotent request (GET, HEAD, DELETE, or
//   `idempotent = true`) that then fails before the response's status line is sent once more
//   on a new connection (once(): a second delivery is harmless by definition).
// - A non-idempotent request (a payment push) is never sent twice. It goes only on a
//   connection idle at most maxIdleNonIdempotent (1 s): servers close idle connections after
//   their keep-alive timeout, at least 2 s for the common ones (gunicorn 2 s; Apache, Node.js,
//   uvicorn 5 s; nginx 75 s), so within 1 s the race needs a server that is shutting down or
//   shedding connections. If it happens anyway the call is not repeated and reports
//   providerTimeout (outcome unknown, like any failure after the request went out), so the
//   caller queries the provider rather than trying another one.
std::unique_ptr<OutboundConnection> HttpClientImpl::take(const std::string& origin,
                                                         bool idempotent) {
  Closing closing;  // closed after the lock is released, by leaving scope first
  for (;;) {
    std::unique_ptr<OutboundConnection> c;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto now = Clock::now();
      auto it = idle_.find(origin);
      if (it == idle_.end()) return nullptr;
      expireLocked(now, it->second, closing);
      if (it->second.empty()) return nullptr;
      Idle& newest = it->second.back();
      if (!idempotent && now - newest.since > limits_.maxIdleNonIdempotent) return nullptr;
      c = std::move(newest.connection);
      it->second.pop_back();
    }
    if (c->looksAlive()) return c;
    closing.push_back(std::move(c));
  }
}

void HttpClientImpl::give(const std::string& origin, std::unique_ptr<OutboundConnection> c) {
  Closing closing;
  std::lock_guard<std::mutex> lock(mutex_);
  auto now = Clock::now();
  auto& queue = idle_[origin];
  expireLocked(now, queue, closing);
  if (queue.size() >= limits_.idlePerOrigin) {
    closing.push_back(std::move(c));
    return;  // the lock is released before `closing` closes it (declared first)
  }
  queue.push_back(Idle{std::move(c), now});
}

Result<OutboundResponse> HttpClientImpl::once(const OutboundRequest& r, bool idempotent,
                                              const std::string& where) {
  Poco::URI uri;
  try {
    uri = Poco::URI(r.url);
  } catch (const Poco::Exception&) {
    return Error::make(ErrorCode::internal, "invalid outbound URL");
  }
  const bool https = uri.getScheme() == "https";
  if (!https && uri.getScheme() != "http")
    return Error::make(ErrorCode::internal, "unsupported URL scheme '" + uri.getScheme() + "'");
  const std::string origin =
      uri.getScheme() + "://" + uri.getHost() + ":" + std::to_string(uri.getPort());
  std::string target = uri.getPathAndQuery();
  if (target.empty()) target = "/";

  for (bool firstTry = true;; firstTry = false) {
    std::unique_ptr<OutboundConnection> c = firstTry ? take(origin, idempotent) : nullptr;
    const bool reused = c != nullptr;
    if (!reused) {
      if (https)
        c = std::make_unique<PooledSession<Poco::Net::HTTPSClientSession>>(
            uri.getHost(), uri.getPort(), tlsContext());
      else
        c = std::make_unique<PooledSession<Poco::Net::HTTPClientSession>>(uri.getHost(),
                                                                          uri.getPort());
      c->http().setKeepAlive(true);
      // The pool decides when an idle connection is too old; Poco must not silently open a
      // new one inside sendRequest(), where a connect error would look like a lost request.
      c->http().setKeepAliveTimeout(Poco::Timespan(24 * 3600, 0));
      c->useTimeout(r.timeoutMs);
      try {
        c->open();  // nothing has been sent if this fails
      } catch (const Poco::TimeoutException& e) {
        return timedOut(e);
      } catch (const Poco::Exception& e) {
        return unreachable(e);
      }
    } else {
      c->useTimeout(r.timeoutMs);
    }

    Poco::Net::HTTPRequest req(r.method, target, Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& h : r.headers) req.set(h.first, h.second);
    if (!r.body.empty() || r.method == "POST" || r.method == "PUT" || r.method == "PATCH") {
      req.setContentType(r.contentType);
      req.setContentLength64(static_cast<Poco::Int64>(r.body.size()));
    }
    bool answered = false;  // the status line has arrived
    try {
      std::ostream& os = c->http().sendRequest(req);
      os.write(r.body.data(), static_cast<std::streamsize>(r.body.size()));
      Poco::Net::HTTPResponse resp;
      std::istream& is = c->http().receiveResponse(resp);
      answered = true;
      OutboundResponse out;
      out.status = resp.getStatus();
      for (const auto& kv : resp) out.headers[kv.first] = kv.second;
      Poco::StreamCopier::copyToString(is, out.body);
      if (is.bad()) {  // the stream swallowed a read error: do not take a cut body for whole
        if (const Poco::Exception* ne = c->http().networkException()) ne->rethrow();
        throw Poco::Net::MessageException("the response body could not be read");
      }
      const bool hasBody =
          r.method != "HEAD" && out.status >= 200 && out.status != 204 && out.status != 304;
      if (hasBody && resp.hasContentLength() &&
          static_cast<Poco::Int64>(out.body.size()) != resp.getContentLength64())
        throw Poco::Net::MessageException("the connection closed inside the response body");
      // Reusable only after a complete exchange that both sides keep alive, whose end was
      // known from its framing (not from the server closing the connection).
      if (resp.getKeepAlive() && c->readAhead() == 0 &&
          (!hasBody || resp.hasContentLength() || resp.getChunkedTransferEncoding()))
        give(origin, std::move(c));
      return out;
    } catch (const Poco::TimeoutException& e) {
      return timedOut(e);  // never repeated here: the request may be in the provider's hands
    } catch (const Poco::Exception& e) {
      if (reused && !answered && idempotent && firstTry) {
        log_.debug("http-out", r.method + " " + where +
                                   ": the pooled connection was closed; again on a new one");
        continue;
      }
      if (!idempotent)
        return Error::make(
            ErrorCode::providerTimeout,
            "connection lost after the request was sent (outcome unknown): " + e.displayText(),
            "the provider did not answer");
      return unreachable(e);
    }
  }
}

Result<OutboundResponse> HttpClientImpl::send(const OutboundRequest& r) {
  const bool idempotent = isIdempotent(r);
  int attempts = idempotent ? r.maxRetries + 1 : 1;
  std::string where;
  try {
    Poco::URI uri(r.url);
    where = uri.getHost() + ":" + std::to_string(uri.getPort()) + uri.getPath();
  } catch (...) {
    where = "(bad url)";
  }
  for (int i = 1;; ++i) {
    auto started = std::chrono::steady_clock::now();
    auto res = once(r, idempotent, where);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - started)
                  .count();
    bool retryable =
        !res.ok() ? res.error().code != ErrorCode::internal : res.value().status >= 500;
    log_.info("http-out", r.method + " " + where + " -> " +
                              (res.ok() ? std::to_string(res.value().status)
                                        : std::string(errorCodeName(res.error().code))) +
                              " " + std::to_string(ms) + "ms" +
                              (i > 1 ? " (try " + std::to_string(i) + ")" : ""));
    if (!retryable || i >= attempts) return res;
    std::this_thread::sleep_for(std::chrono::milliseconds(100 * i * i));
  }
}

}  // namespace malipo
