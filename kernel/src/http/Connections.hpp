// The kernel's connection layer: Boost.Asio sockets on a few I/O threads, a strict HTTP/1.1
// request reader (RFC 9112) and a response writer. A connection costs no thread while it is
// idle or while its request arrives: the I/O threads read whole requests without blocking
// and hand each to the application (HttpServer), which runs it inline (health routes) or on
// a worker pool and answers through Exchange::reply from any thread.
//
// With TLS (server.tls) each connection first completes a TLS 1.2+ handshake (within the
// header timeout); plain HTTP sent to the TLS port gets a plain 400 and is closed. The
// certificate can be reloaded while serving (SIGHUP): new connections get the new one.
//
// What the reader refuses with 400 and a closed connection: a request line that is not
// `token SP visible-ASCII SP HTTP/1.x`, bare LF or CR, obs-fold, a header line without a
// colon (or with white space before it), control bytes in a value, more than one
// Content-Length (even equal ones), a Content-Length that is not a plain decimal number,
// Content-Length together with Transfer-Encoding, a Transfer-Encoding other than `chunked`,
// bad chunk framing, a duplicate Host and an HTTP/1.1 request without one. A header block
// larger than maxHeaderBytes is 431; a body above the route's cap is 413 (then a lingering
// close); a header block or body that does not arrive in time is 408. Pipelined requests are
// read one at a time, so their answers go out in order.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "http/RouterImpl.hpp"
#include "malipo/http.hpp"

namespace malipo {

struct ConnectionOptions {
  std::string listen = "127.0.0.1:8080";
  int ioThreads = 2;
  std::int64_t headerTimeoutMs = 10000;  // first byte of a request → end of its header block
  std::int64_t idleTimeoutMs = 60000;    // keep-alive connection with no request
  std::int64_t bodyTimeoutMs = 60000;    // end of the header block → end of the body
  std::size_t maxHeaderBytes = 16384;    // request line + header block (431 above)
  int maxConnections = 10000;
  int maxConnectionsPerClient = 2500;
  // Request bodies held in memory at once, over all connections (being received or being
  // handled). A body that would pass it: 503 with Retry-After, connection closed.
  std::size_t maxBufferedBodyBytes = 256u << 20;
  // TLS (server.tls): PEM certificate chain and private key. Both empty: plain HTTP.
  std::string tlsCert, tlsKey;
};

class Connection;

// One request from the moment its header block was read until its answer is queued.
struct Exchange {
  Request req;  // method, target, headers, body; path/query/clientIp as the app set them
  std::string target;
  std::string peer;  // socket peer address (IPv4-mapped IPv6 shown as IPv4)
  RouteMatch match;
  bool bodyTooLarge = false;
  bool head = false;
  bool clientWantsClose = false;
  std::shared_ptr<Connection> conn;
  // Bytes of the server-wide body budget this request holds (given back when it ends).
  std::shared_ptr<std::atomic<std::int64_t>> budget;
  std::int64_t reserved = 0;
  bool reserve(std::uint64_t bytes, std::size_t cap) {
    const auto n = static_cast<std::int64_t>(bytes);
    if (budget->fetch_add(n) + n > static_cast<std::int64_t>(cap)) {
      budget->fetch_sub(n);
      return false;
    }
    reserved += n;
    return true;
  }
  ~Exchange() {
    if (budget) budget->fetch_sub(reserved);
  }
  // Queues the answer on the connection (from any thread, exactly once). `close`: close the
  // connection after it (keep-alive otherwise, unless the client or draining says so).
  void reply(const Response& r, bool close = false);
};

class HttpApp {
 public:
  virtual ~HttpApp() = default;
  // On the I/O thread once the header block is read: sets req.path/query/clientIp and
  // `match`, and returns the body cap for this request.
  virtual std::size_t begin(Exchange& ex) = 0;
  // On the I/O thread once the body is read (or found too large): must lead to exactly one
  // ex->reply(...), from this or any other thread.
  virtual void dispatch(std::shared_ptr<Exchange> ex) = 0;
};

struct ConnectionStats {
  std::atomic<std::int64_t> open{0};
  std::atomic<std::int64_t> accepted{0};
  std::atomic<std::int64_t> refusedTotal{0};        // server.max_connections reached
  std::atomic<std::int64_t> refusedPerClient{0};    // server.max_connections_per_client reached
  std::atomic<std::int64_t> headerTimeouts{0};      // 408 while reading a header block or body
  std::atomic<std::int64_t> idleClosed{0};          // keep-alive connections closed when idle
  std::atomic<std::int64_t> badRequests{0};         // 400/431 from the reader
  std::atomic<std::int64_t> bodyBudgetRefused{0};   // 503: server.max_buffered_body_bytes reached
  std::atomic<std::int64_t> tlsHandshakeFailed{0};  // TLS handshakes refused (old versions, junk)
  std::atomic<std::int64_t> plainOnTls{0};          // plain HTTP sent to the TLS port (400)
};

struct TlsState;

class Connections {
 public:
  Connections(HttpApp& app, ConnectionOptions options);
  ~Connections();

  // Binds and listens (SO_REUSEADDR, never SO_REUSEPORT). Throws std::runtime_error
  // "address HOST:PORT already in use" when another process holds the port.
  void bind();
  void start();
  std::uint16_t port() const { return port_; }
  // Stops accepting; from now on every answer carries `Connection: close` and idle
  // keep-alive connections are closed.
  void stopAccepting();
  // Closes every connection and stops the I/O threads.
  void closeAll();
  bool draining() const { return draining_.load(std::memory_order_relaxed); }
  // Addresses the per-client limit does not apply to (trusted proxies carry many clients).
  void setPerClientExempt(std::function<bool(const std::string&)> exempt) {
    exempt_ = std::move(exempt);
  }
  std::shared_ptr<ConnectionStats> stats() const { return stats_; }
  bool tls() const { return tls_ != nullptr; }
  // Reads the certificate and key files again: new connections use them, running ones keep
  // theirs. Throws std::runtime_error (the running certificate stays) when they do not load.
  void reloadTls();
  // Loads a certificate and key as start-up would (check-config); throws std::runtime_error.
  static void checkTls(const std::string& cert, const std::string& key);
  const ConnectionOptions& options() const { return opts_; }

  // Serialises an answer (status line, headers, Content-Length, Connection, Date).
  static std::string serialize(const Response& r, bool head, bool keepAlive);

 private:
  friend class Connection;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  HttpApp& app_;
  ConnectionOptions opts_;
  std::atomic<bool> draining_{false};
  std::uint16_t port_ = 0;
  std::function<bool(const std::string&)> exempt_;
  std::shared_ptr<TlsState> tls_;
  std::shared_ptr<ConnectionStats> stats_ = std::make_shared<ConnectionStats>();
  std::shared_ptr<std::atomic<std::int64_t>> bodyBytes_ =
      std::make_shared<std::atomic<std::int64_t>>(0);
  std::mutex perClientMutex_;
  std::unordered_map<std::string, int> perClient_;
};

// Replaces every byte sequence that is not UTF-8 by U+FFFD (JSON bodies the server writes).
// Returns true when `s` was changed.
bool sanitizeUtf8(std::string& s);
bool validUtf8(const std::string& s);

}  // namespace malipo
