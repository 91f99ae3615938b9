#include "http/Connections.hpp"

#include <openssl/ssl.h>
#include <sys/resource.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <cstring>
#include <ctime>
#include <future>
#include <stdexcept>
#include <string_view>
#include <unordered_set>

namespace malipo {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool isTchar(unsigned char c) {
  if (std::isalnum(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool iequals(const char* a, std::size_t n, const char* lower) {
  std::size_t m = std::strlen(lower);
  if (n != m) return false;
  for (std::size_t i = 0; i < n; ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != lower[i]) return false;
  return true;
}

std::string lowerCopy(const std::string& s) {
  std::string r = s;
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

const char* reasonFor(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

// "Date: …\r\n", formatted once per second per thread.
const std::string& dateLine() {
  thread_local std::time_t last = 0;
  thread_local std::string line;
  std::time_t now = std::time(nullptr);
  if (now != last) {
    last = now;
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    std::size_t n = std::strftime(buf, sizeof buf, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    line.assign(buf, n);
  }
  return line;
}

void appendClean(std::string& out, const std::string& s) {
  for (char c : s)
    if (c != '\r' && c != '\n') out.push_back(c);  // no response splitting through a header
}

std::string peerText(const tcp::endpoint& ep) {
  auto a = ep.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return a.to_v6().to_v4().to_string();
  return a.to_string();
}

}  // namespace

namespace {

// Length of the well-formed UTF-8 sequence at s[at], or 0 (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF).
std::size_t utf8SequenceAt(const std::string& s, std::size_t at) {
  const std::size_t n = s.size();
  unsigned char c = static_cast<unsigned char>(s[at]);
  if (c < 0x80) return 1;
  std::size_t len;
  unsigned cp;
  if (c >= 0xC2 && c <= 0xDF)
    len = 2, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF)
    len = 3, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4)
    len = 4, cp = c & 0x07;
  else
    return 0;
  if (at + len > n) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    unsigned char cc = static_cast<unsigned char>(s[at + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
      (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
    return 0;
  return len;
}

std::size_t validPrefix(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t l = utf8SequenceAt(s, i);
    if (l == 0) break;
    i += l;
  }
  return i;
}

}  // namespace

bool validUtf8(const std::string& s) {
  return validPrefix(s) == s.size();
}

bool sanitizeUtf8(std::string& s) {
  std::size_t i = validPrefix(s), n = s.size();
  if (i == n) return false;
  std::string out(s, 0, i);
  while (i < n) {
    std::size_t l = utf8SequenceAt(s, i);
    if (l == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s, i, l);
      i += l;
    }
  }
  s.swap(out);
  return true;
}

std::string Connections::serialize(const Response& r, bool head, bool keepAlive) {
  std::string s;
  s.reserve(200 + r.headers.size() * 40 + (head ? 0 : r.body.size()));
  s.append("HTTP/1.1 ")
      .append(std::to_string(r.status))
      .append(" ")
      .append(reasonFor(r.status))
      .append("\r\n");
  if (!r.contentType.empty()) {
    s.append("Content-Type: ");
    appendClean(s, r.contentType);
    s.append("\r\n");
  }
  for (const auto& h : r.headers) {
    appendClean(s, h.first);
    s.append(": ");
    appendClean(s, h.second);
    s.append("\r\n");
  }
  const std::string* body = &r.body;
  std::string fixed;
  if (r.contentType.find("json") != std::string::npos && !validUtf8(r.body)) {
    // Every JSON body we write is UTF-8: bytes a message echoed (a path, a provider's
    // answer) that are not become U+FFFD, which keeps the JSON valid.
    fixed = r.body;
    sanitizeUtf8(fixed);
    body = &fixed;
  }
  if (r.status != 204 && r.status != 304 && r.status >= 200)
    s.append("Content-Length: ").append(std::to_string(body->size())).append("\r\n");
  s.append(keepAlive ? "Connection: Keep-Alive\r\n" : "Connection: close\r\n");
  s.append(dateLine()).append("\r\n");
  if (!head) s.append(*body);
  return s;
}

// The TLS context of the listening port; reloadTls() swaps it (under the mutex) for a new one.
struct TlsState {
  std::string cert, key;
  std::mutex mutex;
  std::shared_ptr<asio::ssl::context> current;

  static std::shared_ptr<asio::ssl::context> load(const std::string& cert, const std::string& key) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                     asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use |
                     SSL_OP_NO_RENEGOTIATION);
    SSL_CTX* h = ctx->native_handle();
    SSL_CTX_set_min_proto_version(h, TLS1_2_VERSION);  // TLS 1.2 and 1.3 only
    SSL_CTX_set_mode(h, SSL_MODE_RELEASE_BUFFERS);     // idle connections hold no buffers
    boost::system::error_code ec;
    ctx->use_certificate_chain_file(cert, ec);
    if (ec) throw std::runtime_error("server.tls.cert: cannot load " + cert + ": " + ec.message());
    ctx->use_private_key_file(key, asio::ssl::context::pem, ec);
    if (ec && ec.message().find("mismatch") != std::string::npos)
      throw std::runtime_error("server.tls: the key " + key + " does not match the certificate " +
                               cert);
    if (ec) throw std::runtime_error("server.tls.key: cannot load " + key + ": " + ec.message());
    if (SSL_CTX_check_private_key(h) != 1)
      throw std::runtime_error("server.tls: the key " + key + " does not match the certificate " +
                               cert);
    return ctx;
  }
  std::shared_ptr<asio::ssl::context> get() {
    std::lock_guard<std::mutex> lock(mutex);
    return current;
  }
};

struct IoThread {
  std::unordered_set<Connection*> conns;  // only touched on this thread
  asio::io_context ioc{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  asio::steady_timer sweep{ioc};
  std::thread thread;
};

struct Connections::Impl {
  std::vector<std::unique_ptr<IoThread>> io;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::steady_timer> acceptRetry;
  std::size_t next = 0;
  bool started = false, closed = false;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  enum class Phase { handshake, idle, header, body, handling, writing, lingering, closed };

  Connection(Connections& owner, IoThread& io, tcp::socket s, std::string peer,
             std::shared_ptr<asio::ssl::context> tls)
      : owner_(owner),
        io_(io),
        sock_(std::move(s)),
        peer_(std::move(peer)),
        tlsCtx_(std::move(tls)) {
    if (tlsCtx_) tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(sock_, *tlsCtx_);
  }

  ~Connection() {
    owner_.stats_->open--;
    std::lock_guard<std::mutex> lock(owner_.perClientMutex_);
    auto it = owner_.perClient_.find(peer_);
    if (it != owner_.perClient_.end() && --it->second <= 0) owner_.perClient_.erase(it);
  }

  void start() {
    io_.conns.insert(this);
    boost::system::error_code ec;
    sock_.non_blocking(true, ec);
    sock_.set_option(tcp::no_delay(true), ec);
    if (tls_) return startTls();
    enterIdle();
    if (phase_ != Phase::closed) waitRead();
  }

  // Called by the sweeper on this connection's thread.
  void expire(std::int64_t now) {
    if (deadline_ == 0 || now < deadline_) return;
    switch (phase_) {
      case Phase::handshake:  // no answer is possible before the handshake
        owner_.stats_->headerTimeouts++;
        close();
        break;
      case Phase::idle:
        owner_.stats_->idleClosed++;
        close();
        break;
      case Phase::header:
      case Phase::body:
        owner_.stats_->headerTimeouts++;
        fail(408, "request_timeout",
             phase_ == Phase::header ? "the request headers took too long to arrive"
                                     : "the request body took too long to arrive");
        break;
      case Phase::writing:
      case Phase::lingering:
        close();
        break;
      default:
        break;
    }
  }

  void closeIfIdle() {
    if (phase_ == Phase::idle && in_.empty()) close();
  }

  void close() {
    if (phase_ == Phase::closed) return;
    phase_ = Phase::closed;
    boost::system::error_code ec;
    sock_.close(ec);
    io_.conns.erase(this);
    ex_.reset();
  }

  // The answer to the current exchange (on this connection's thread).
  void complete(std::string bytes, bool closeAfter) {
    if (phase_ != Phase::handling) return;  // closed meanwhile
    out_ = std::move(bytes);
    closeAfter_ = closeAfter || peerEof_;
    phase_ = Phase::writing;
    deadline_ = nowMs() + std::max<std::int64_t>(owner_.opts_.idleTimeoutMs, 5000);
    ex_.reset();
    if (continuing_) return;  // the 100 Continue is still being written: sent after it
    writeOut();
  }

  void writeOut() {
    auto self = shared_from_this();
    auto done = [self](const boost::system::error_code& ec, std::size_t) {
      if (self->phase_ != Phase::writing) return;
      if (ec) return self->close();
      if (self->out_.capacity() > 65536)
        std::string().swap(self->out_);
      else
        self->out_.clear();
      if (self->peerEof_) return self->close();
      if (self->closeAfter_) return self->linger();
      self->enterIdle();
      self->process();
      self->maybeRead();
    };
    if (tls_)
      asio::async_write(*tls_, asio::buffer(out_), std::move(done));
    else
      asio::async_write(sock_, asio::buffer(out_), std::move(done));
  }

  asio::io_context& ioc() { return io_.ioc; }
  Connections& owner() { return owner_; }

 private:
  void enterIdle() {
    phase_ = Phase::idle;
    if (owner_.draining() && in_.empty()) return close();
    deadline_ = nowMs() + owner_.opts_.idleTimeoutMs;
    if (in_.empty() && in_.capacity() > 16384) std::string().swap(in_);
  }

  void maybeRead() {
    if (phase_ == Phase::idle || phase_ == Phase::header || phase_ == Phase::body ||
        phase_ == Phase::lingering)
      waitRead();
  }

  // TLS: the first byte tells a TLS handshake (0x16) from plain HTTP sent to the TLS port,
  // which gets a plain 400 instead of a TLS alert it could not read.
  void startTls() {
    phase_ = Phase::handshake;
    deadline_ = nowMs() + owner_.opts_.headerTimeoutMs;
    auto self = shared_from_this();
    sock_.async_wait(tcp::socket::wait_read, [self](const boost::system::error_code& ec) {
      if (ec || self->phase_ != Phase::handshake) return self->close();
      unsigned char first = 0;
      boost::system::error_code pe;
      std::size_t n = self->sock_.receive(asio::buffer(&first, 1), tcp::socket::message_peek, pe);
      if (pe == asio::error::would_block || pe == asio::error::try_again) return self->startTls();
      if (pe || n == 0) return self->close();
      if (first != 0x16) {
        self->tls_.reset();  // answered in plain text, then closed
        self->owner_.stats_->plainOnTls++;
        return self->fail(400, "bad_request",
                          "this port speaks HTTPS; plain HTTP is not served here");
      }
      self->tls_->async_handshake(asio::ssl::stream_base::server,
                                  [self](const boost::system::error_code& hec) {
                                    if (self->phase_ != Phase::handshake) return;
                                    if (hec) {
                                      self->owner_.stats_->tlsHandshakeFailed++;
                                      return self->close();
                                    }
                                    self->enterIdle();
                                    if (self->phase_ != Phase::closed) self->waitRead();
                                  });
    });
  }

  void waitRead() {
    if (reading_ || phase_ == Phase::closed) return;
    reading_ = true;
    auto self = shared_from_this();
    if (tls_) {
      // TLS records are read (and decrypted) by OpenSSL: an asynchronous read into a buffer of
      // this connection, which is given back while the connection waits for its answer.
      if (!tlsBuf_) tlsBuf_.reset(new char[kTlsBuf]);
      tls_->async_read_some(asio::buffer(tlsBuf_.get(), kTlsBuf),
                            [self](const boost::system::error_code& ec, std::size_t n) {
                              self->reading_ = false;
                              if (self->phase_ == Phase::closed) return;
                              if (n > 0 && !self->absorb(self->tlsBuf_.get(), n)) return;
                              self->afterRead(static_cast<bool>(ec));
                              if (!self->reading_) self->tlsBuf_.reset();
                            });
      return;
    }
    sock_.async_wait(tcp::socket::wait_read, [self](const boost::system::error_code& ec) {
      self->reading_ = false;
      if (ec || self->phase_ == Phase::closed) return self->close();
      self->onReadable();
    });
  }

  void onReadable() {
    thread_local char buf[65536];
    bool eof = false;
    for (;;) {
      boost::system::error_code ec;
      std::size_t n = sock_.read_some(asio::buffer(buf), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) break;
      if (ec || n == 0) {
        eof = true;
        break;
      }
      if (!absorb(buf, n)) return;
      if (phase_ != Phase::lingering &&
          in_.size() >
              owner_.opts_.maxHeaderBytes + (phase_ == Phase::body ? bodyWant_ + 65536 : 0) + 65536)
        break;
    }
    afterRead(eof);
  }

  // Takes bytes read from the client; false when the connection was closed.
  bool absorb(const char* buf, std::size_t n) {
    if (phase_ == Phase::lingering) {
      lingered_ += n;
      if (lingered_ > (8u << 20)) return close(), false;
      return true;
    }
    in_.append(buf, n);
    return true;
  }

  void afterRead(bool eof) {
    if (phase_ == Phase::lingering) return eof ? close() : waitRead();
    process();
    if (eof) {
      // The peer closed its side (or the connection): a request it completed is still
      // answered, then the connection closes.
      peerEof_ = true;
      if (phase_ != Phase::handling && phase_ != Phase::writing) close();
      return;
    }
    maybeRead();
  }

  // Reads as much of the next request as the buffer holds; dispatches it when complete.
  void process() {
    while (phase_ == Phase::idle || phase_ == Phase::header || phase_ == Phase::body) {
      if (phase_ == Phase::body) {
        if (!readBody()) return;
        continue;
      }
      // Clients may send empty lines between requests (RFC 9112 §2.2).
      std::size_t skip = 0;
      while (skip + 1 < in_.size() && in_[skip] == '\r' && in_[skip + 1] == '\n') skip += 2;
      if (skip) in_.erase(0, skip);
      if (in_.empty()) return;
      if (phase_ == Phase::idle) {
        phase_ = Phase::header;
        deadline_ = nowMs() + owner_.opts_.headerTimeoutMs;
      }
      std::string_view head(in_.data(), std::min(in_.size(), owner_.opts_.maxHeaderBytes + 4));
      std::size_t end = head.find("\r\n\r\n");
      std::size_t bareEnd =
          head.substr(0, end == std::string::npos ? head.size() : end).find("\n\n");
      if (bareEnd != std::string::npos)
        return fail(400, "bad_request", "header lines must end with CRLF");
      if (end == std::string::npos) {
        if (in_.size() > owner_.opts_.maxHeaderBytes)
          return fail(431, "header_too_large", "request header block too large");
        return;
      }
      if (end + 4 > owner_.opts_.maxHeaderBytes)
        return fail(431, "header_too_large", "request header block too large");
      ex_ = std::make_shared<Exchange>();
      std::string why = parseHead(end + 2);
      in_.erase(0, end + 4);
      if (!why.empty()) return fail(400, "bad_request", why);
      ex_->peer = peer_;
      ex_->head = ex_->req.method == "HEAD";
      ex_->budget = owner_.bodyBytes_;
      bodyLimit_ = owner_.app_.begin(*ex_);
      if (chunked_) {
        chunkState_ = ChunkState::size;
        trailerBytes_ = 0;
      } else if (contentLength_ > bodyLimit_) {
        ex_->bodyTooLarge = true;
        return dispatch();
      } else if (contentLength_ == 0) {
        return dispatch();
      } else if (!ex_->reserve(contentLength_, owner_.opts_.maxBufferedBodyBytes)) {
        return busy();
      }
      bodyWant_ = chunked_ ? 0 : static_cast<std::size_t>(contentLength_);
      phase_ = Phase::body;
      deadline_ = nowMs() + owner_.opts_.bodyTimeoutMs;
      if (expectContinue_ && in_.empty()) {
        // 25 bytes on an idle socket: one non-blocking write (skipped if it would block; the
        // client then sends its body after its own short wait).
        static const std::string cont = "HTTP/1.1 100 Continue\r\n\r\n";
        boost::system::error_code ec;
        if (tls_) {
          // One TLS write at a time: an answer ready meanwhile waits for this one.
          continuing_ = true;
          auto self = shared_from_this();
          asio::async_write(*tls_, asio::buffer(cont),
                            [self](const boost::system::error_code& e, std::size_t) {
                              self->continuing_ = false;
                              if (e) return self->close();
                              if (self->phase_ == Phase::writing) self->writeOut();
                            });
        } else {
          sock_.write_some(asio::buffer(cont), ec);
        }
      }
    }
  }

  enum class ChunkState { size, data, dataEnd, trailers };

  // Returns false when more bytes are needed or the exchange moved on.
  bool readBody() {
    if (!chunked_) {
      if (in_.size() < bodyWant_) return false;
      ex_->req.body.assign(in_, 0, bodyWant_);
      in_.erase(0, bodyWant_);
      dispatch();
      return false;
    }
    for (;;) {
      switch (chunkState_) {
        case ChunkState::size: {
          std::size_t eol = in_.find("\r\n");
          if (eol == std::string::npos) {
            if (in_.size() > 1024) return fail(400, "bad_request", "bad chunk size line"), false;
            return false;
          }
          std::size_t i = 0;
          std::uint64_t size = 0;
          while (i < eol && std::isxdigit(static_cast<unsigned char>(in_[i]))) {
            if (i >= 15) return fail(400, "bad_request", "chunk size too large"), false;
            char c = in_[i];
            size =
                size * 16 + static_cast<std::uint64_t>(std::isdigit(static_cast<unsigned char>(c))
                                                           ? c - '0'
                                                           : (std::tolower(c) - 'a' + 10));
            ++i;
          }
          if (i == 0) return fail(400, "bad_request", "bad chunk size"), false;
          for (std::size_t k = i; k < eol; ++k) {
            unsigned char c = static_cast<unsigned char>(in_[k]);
            if (k == i && c != ';' && c != ' ' && c != '\t')
              return fail(400, "bad_request", "bad chunk size"), false;
            if (c < 0x20 && c != '\t')
              return fail(400, "bad_request", "bad chunk extension"), false;
          }
          in_.erase(0, eol + 2);
          if (size == 0) {
            chunkState_ = ChunkState::trailers;
            break;
          }
          if (ex_->req.body.size() + size > bodyLimit_) {
            ex_->bodyTooLarge = true;
            dispatch();
            return false;
          }
          if (!ex_->reserve(size, owner_.opts_.maxBufferedBodyBytes)) return busy(), false;
          chunkLeft_ = size;
          chunkState_ = ChunkState::data;
          break;
        }
        case ChunkState::data: {
          std::size_t take =
              static_cast<std::size_t>(std::min<std::uint64_t>(chunkLeft_, in_.size()));
          ex_->req.body.append(in_, 0, take);
          in_.erase(0, take);
          chunkLeft_ -= take;
          if (chunkLeft_ > 0) return false;
          chunkState_ = ChunkState::dataEnd;
          break;
        }
        case ChunkState::dataEnd:
          if (in_.size() < 2) return false;
          if (in_[0] != '\r' || in_[1] != '\n')
            return fail(400, "bad_request", "chunk data not followed by CRLF"), false;
          in_.erase(0, 2);
          chunkState_ = ChunkState::size;
          break;
        case ChunkState::trailers: {
          std::size_t eol = in_.find("\r\n");
          if (eol == std::string::npos) {
            if (trailerBytes_ + in_.size() > owner_.opts_.maxHeaderBytes)
              return fail(431, "header_too_large", "trailer section too large"), false;
            return false;
          }
          if (eol == 0) {
            in_.erase(0, 2);
            dispatch();
            return false;
          }
          // Trailer fields are read and dropped; they must still be well-formed.
          if (in_[0] == ' ' || in_[0] == '\t' || in_.find(':') > eol || in_.find('\n') < eol)
            return fail(400, "bad_request", "malformed trailer field"), false;
          trailerBytes_ += eol + 2;
          if (trailerBytes_ > owner_.opts_.maxHeaderBytes)
            return fail(431, "header_too_large", "trailer section too large"), false;
          in_.erase(0, eol + 2);
          break;
        }
      }
    }
  }

  // Parses the request line and header fields of in_[0, n) into ex_; "" or why it is refused.
  std::string parseHead(std::size_t n) {
    const char* p = in_.data();
    chunked_ = false;
    expectContinue_ = false;
    contentLength_ = 0;
    bool haveLength = false, haveTe = false, haveHost = false;
    // Request line.
    std::size_t i = 0;
    while (i < n && isTchar(static_cast<unsigned char>(p[i]))) ++i;
    if (i == 0 || i >= n || p[i] != ' ') return "malformed request line";
    ex_->req.method.assign(p, i);
    std::size_t t = ++i;
    while (i<n&& static_cast<unsigned char>(p[i])> 0x20 && static_cast<unsigned char>(p[i]) < 0x7F)
      ++i;
    if (i == t || i >= n || p[i] != ' ') return "malformed request target";
    ex_->target.assign(p + t, i - t);
    ++i;
    if (i + 10 > n || std::memcmp(p + i, "HTTP/1.", 7) != 0 ||
        (p[i + 7] != '1' && p[i + 7] != '0') || p[i + 8] != '\r' || p[i + 9] != '\n')
      return "malformed HTTP version";
    const bool http10 = p[i + 7] == '0';
    bool keepAliveToken = false, closeToken = false;
    i += 10;
    // Header fields.
    while (i < n) {
      std::size_t eol = i;
      while (eol < n && p[eol] != '\r' && p[eol] != '\n') ++eol;
      if (eol >= n || p[eol] != '\r' || eol + 1 >= n || p[eol + 1] != '\n')
        return "header lines must end with CRLF";
      if (p[i] == ' ' || p[i] == '\t') return "obsolete line folding is not accepted";
      std::size_t c = i;
      while (c < eol && isTchar(static_cast<unsigned char>(p[c]))) ++c;
      if (c == eol) return "header line without a colon";
      if (c == i || p[c] != ':') return "malformed header field name";
      std::size_t vs = c + 1, ve = eol;
      while (vs < ve && (p[vs] == ' ' || p[vs] == '\t')) ++vs;
      while (ve > vs && (p[ve - 1] == ' ' || p[ve - 1] == '\t')) --ve;
      for (std::size_t k = vs; k < ve; ++k) {
        unsigned char b = static_cast<unsigned char>(p[k]);
        if ((b < 0x20 && b != '\t') || b == 0x7F) return "control character in a header value";
      }
      const char* name = p + i;
      std::size_t nameLen = c - i;
      std::string value(p + vs, ve - vs);
      if (iequals(name, nameLen, "content-length")) {
        if (haveLength) return "more than one Content-Length";
        if (value.empty() || value.size() > 18) return "invalid Content-Length";
        for (char d : value)
          if (d < '0' || d > '9') return "invalid Content-Length";
        contentLength_ = std::stoull(value);
        haveLength = true;
      } else if (iequals(name, nameLen, "transfer-encoding")) {
        if (haveTe) return "more than one Transfer-Encoding";
        if (http10) return "Transfer-Encoding in an HTTP/1.0 request";
        if (lowerCopy(value) != "chunked") return "unsupported Transfer-Encoding (only chunked)";
        haveTe = true;
        chunked_ = true;
      } else if (iequals(name, nameLen, "host")) {
        if (haveHost) return "more than one Host";
        haveHost = true;
      } else if (iequals(name, nameLen, "connection")) {
        std::string v = lowerCopy(value);
        closeToken = closeToken || v.find("close") != std::string::npos;
        keepAliveToken = keepAliveToken || v.find("keep-alive") != std::string::npos;
      } else if (iequals(name, nameLen, "expect")) {
        expectContinue_ = lowerCopy(value) == "100-continue";
      }
      std::string key(name, nameLen);
      auto it = ex_->req.headers.find(key);
      if (it == ex_->req.headers.end())
        ex_->req.headers.emplace(std::move(key), std::move(value));
      else
        it->second.append(", ").append(value);  // a repeated field is one list (RFC 9110 §5.3)
      i = eol + 2;
    }
    if (haveLength && haveTe) return "both Content-Length and Transfer-Encoding";
    if (!http10 && !haveHost) return "an HTTP/1.1 request needs a Host header";
    ex_->clientWantsClose = closeToken || (http10 && !keepAliveToken);
    return {};
  }

  void dispatch() {
    phase_ = Phase::handling;
    deadline_ = 0;
    auto ex = ex_;
    ex->conn = shared_from_this();
    owner_.app_.dispatch(ex);
  }

  void fail(int status, const char* code, const std::string& message, int retryAfter = 0) {
    if (status == 400 || status == 431) owner_.stats_->badRequests++;
    Poco::JSON::Object o;
    o.set("error", code);
    o.set("message", message);
    in_.clear();
    phase_ = Phase::handling;
    Response r = Response::json(status, o);
    if (retryAfter > 0) r.header("Retry-After", std::to_string(retryAfter));
    complete(Connections::serialize(r, false, false), true);
  }

  // The server-wide body budget is spent: this body is not read.
  void busy() {
    owner_.stats_->bodyBudgetRefused++;
    fail(503, "unavailable", "server busy receiving other request bodies; retry shortly", 1);
  }

  void linger() {
    if (tls_) {
      // TLS: close_notify, then close (what the client still sends is not read).
      phase_ = Phase::lingering;
      in_.clear();
      deadline_ = nowMs() + 2000;
      auto self = shared_from_this();
      tls_->async_shutdown([self](const boost::system::error_code&) { self->close(); });
      return;
    }
    // Half-close, then read and drop what the client still sends (a body we refused) for a
    // moment, so it sees our answer instead of a reset.
    boost::system::error_code ec;
    sock_.shutdown(tcp::socket::shutdown_send, ec);
    phase_ = Phase::lingering;
    lingered_ = 0;
    in_.clear();
    deadline_ = nowMs() + 2000;
    waitRead();
  }

  Connections& owner_;
  IoThread& io_;
  tcp::socket sock_;
  std::string peer_;
  std::shared_ptr<asio::ssl::context> tlsCtx_;  // the certificate this connection was accepted with
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
  static constexpr std::size_t kTlsBuf = 16384;
  std::unique_ptr<char[]> tlsBuf_;
  bool continuing_ = false;
  std::string in_, out_;
  Phase phase_ = Phase::idle;
  std::int64_t deadline_ = 0;
  bool reading_ = false, closeAfter_ = false, peerEof_ = false;
  std::shared_ptr<Exchange> ex_;
  bool chunked_ = false, expectContinue_ = false;
  std::uint64_t contentLength_ = 0, chunkLeft_ = 0;
  std::size_t bodyLimit_ = 0, bodyWant_ = 0, trailerBytes_ = 0, lingered_ = 0;
  ChunkState chunkState_ = ChunkState::size;
};

void Exchange::reply(const Response& r, bool close) {
  if (!conn) return;
  auto c = std::move(conn);
  conn.reset();
  bool keepAlive = !(close || bodyTooLarge || clientWantsClose || c->owner().draining());
  std::string bytes = Connections::serialize(r, head, keepAlive);
  asio::dispatch(c->ioc(), [c, bytes = std::move(bytes), keepAlive]() mutable {
    c->complete(std::move(bytes), !keepAlive);
  });
}

Connections::Connections(HttpApp& app, ConnectionOptions options)
    : impl_(std::make_unique<Impl>()), app_(app), opts_(std::move(options)) {
  int n = std::max(1, opts_.ioThreads);
  for (int i = 0; i < n; ++i) impl_->io.push_back(std::make_unique<IoThread>());
  if (!opts_.tlsCert.empty() || !opts_.tlsKey.empty()) {
    if (opts_.tlsCert.empty() || opts_.tlsKey.empty())
      throw std::runtime_error("server.tls needs both cert and key");
    tls_ = std::make_shared<TlsState>();
    tls_->cert = opts_.tlsCert;
    tls_->key = opts_.tlsKey;
    tls_->current = TlsState::load(tls_->cert, tls_->key);
  }
}

void Connections::checkTls(const std::string& cert, const std::string& key) {
  if (cert.empty() != key.empty()) throw std::runtime_error("server.tls needs both cert and key");
  if (!cert.empty()) TlsState::load(cert, key);
}

void Connections::reloadTls() {
  if (!tls_) return;
  auto fresh = TlsState::load(tls_->cert, tls_->key);  // throws: the running one stays
  std::lock_guard<std::mutex> lock(tls_->mutex);
  tls_->current = std::move(fresh);
}

Connections::~Connections() {
  closeAll();
  impl_.reset();
}

void Connections::bind() {
  // 2,000+ connections need as many descriptors: take the hard limit.
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  std::string host = opts_.listen, portText = "0";
  std::size_t colon = opts_.listen.rfind(':');
  if (colon != std::string::npos) {
    host = opts_.listen.substr(0, colon);
    portText = opts_.listen.substr(colon + 1);
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) {
    asio::ip::tcp::resolver resolver(impl_->io[0]->ioc);
    auto results = resolver.resolve(host, portText, ec);
    if (ec || results.empty())
      throw std::runtime_error("cannot resolve listen address " + opts_.listen);
    address = results.begin()->endpoint().address();
  }
  int portNumber = 0;
  try {
    portNumber = std::stoi(portText);
  } catch (...) {
    throw std::runtime_error("bad port in listen address " + opts_.listen);
  }
  tcp::endpoint ep(address, static_cast<unsigned short>(portNumber));
  auto acc = std::make_unique<tcp::acceptor>(impl_->io[0]->ioc);
  acc->open(ep.protocol());
  // SO_REUSEADDR lets a restart bind while old connections sit in TIME_WAIT; it does not let
  // two processes listen on one port. SO_REUSEPORT (which would) is never set.
  acc->set_option(tcp::acceptor::reuse_address(true));
  acc->bind(ep, ec);
  if (ec == asio::error::address_in_use)
    throw std::runtime_error("address " + opts_.listen + " already in use");
  if (ec) throw std::runtime_error("cannot listen on " + opts_.listen + ": " + ec.message());
  acc->listen(1024, ec);
  if (ec) throw std::runtime_error("cannot listen on " + opts_.listen + ": " + ec.message());
  port_ = acc->local_endpoint().port();
  impl_->acceptor = std::move(acc);
}

namespace {

void sweep(IoThread& io) {
  io.sweep.expires_after(std::chrono::milliseconds(100));
  io.sweep.async_wait([&io](const boost::system::error_code& ec) {
    if (ec) return;
    std::int64_t now = nowMs();
    std::vector<std::shared_ptr<Connection>> all;
    all.reserve(io.conns.size());
    for (Connection* c : io.conns) all.push_back(c->shared_from_this());
    for (auto& c : all) c->expire(now);
    sweep(io);
  });
}

}  // namespace

void Connections::start() {
  if (!impl_->acceptor) bind();
  if (impl_->started) return;
  impl_->started = true;
  for (auto& io : impl_->io) {
    sweep(*io);
    IoThread* t = io.get();
    io->thread = std::thread([t] {
      for (;;) {
        try {
          t->ioc.run();
          return;
        } catch (...) {
          // A handler that throws must not take the server down; carry on.
        }
      }
    });
  }
  impl_->acceptRetry = std::make_unique<asio::steady_timer>(impl_->io[0]->ioc);
  struct Acceptor {
    static void next(Connections& self) {
      Impl& impl = *self.impl_;
      if (!impl.acceptor || !impl.acceptor->is_open()) return;
      IoThread& target = *impl.io[impl.next++ % impl.io.size()];
      impl.acceptor->async_accept(
          target.ioc, [&self, &target](const boost::system::error_code& ec, tcp::socket sock) {
            Impl& impl = *self.impl_;
            if (ec == asio::error::operation_aborted || !impl.acceptor || !impl.acceptor->is_open())
              return;
            if (ec) {
              // Out of descriptors or the like: wait a little instead of spinning.
              impl.acceptRetry->expires_after(std::chrono::milliseconds(50));
              impl.acceptRetry->async_wait([&self](const boost::system::error_code& e) {
                if (!e) next(self);
              });
              return;
            }
            next(self);
            boost::system::error_code pe;
            auto remote = sock.remote_endpoint(pe);
            if (pe) return;
            std::string peer = peerText(remote);
            self.stats_->accepted++;
            if (self.stats_->open.load() >= self.opts_.maxConnections) {
              self.stats_->refusedTotal++;
              return;  // the socket closes here
            }
            if (self.opts_.maxConnectionsPerClient > 0 && !(self.exempt_ && self.exempt_(peer))) {
              std::lock_guard<std::mutex> lock(self.perClientMutex_);
              int& n = self.perClient_[peer];
              if (n >= self.opts_.maxConnectionsPerClient) {
                self.stats_->refusedPerClient++;
                return;
              }
              ++n;
            } else {
              std::lock_guard<std::mutex> lock(self.perClientMutex_);
              ++self.perClient_[peer];
            }
            self.stats_->open++;
            auto conn = std::make_shared<Connection>(self, target, std::move(sock), std::move(peer),
                                                     self.tls_ ? self.tls_->get() : nullptr);
            asio::post(target.ioc, [conn] { conn->start(); });
          });
    }
  };
  asio::post(impl_->io[0]->ioc, [this] { Acceptor::next(*this); });
}

void Connections::stopAccepting() {
  draining_ = true;
  if (!impl_ || !impl_->started) return;
  std::promise<void> done;
  auto f = done.get_future();
  asio::post(impl_->io[0]->ioc, [this, &done] {
    boost::system::error_code ec;
    if (impl_->acceptor) impl_->acceptor->close(ec);
    if (impl_->acceptRetry) impl_->acceptRetry->cancel();
    done.set_value();
  });
  f.wait_for(std::chrono::seconds(5));
  for (auto& io : impl_->io) {
    IoThread* t = io.get();
    asio::post(t->ioc, [t] {
      std::vector<std::shared_ptr<Connection>> all;
      for (Connection* c : t->conns) all.push_back(c->shared_from_this());
      for (auto& c : all) c->closeIfIdle();
    });
  }
}

void Connections::closeAll() {
  if (!impl_ || impl_->closed) return;
  impl_->closed = true;
  draining_ = true;
  if (!impl_->started) {
    impl_->acceptor.reset();
    return;
  }
  for (auto& io : impl_->io) {
    IoThread* t = io.get();
    asio::post(t->ioc, [t, this, first = io.get() == impl_->io[0].get()] {
      if (first) {
        boost::system::error_code ec;
        if (impl_->acceptor) impl_->acceptor->close(ec);
        if (impl_->acceptRetry) impl_->acceptRetry->cancel();
      }
      std::vector<std::shared_ptr<Connection>> all;
      for (Connection* c : t->conns) all.push_back(c->shared_from_this());
      for (auto& c : all) c->close();
      t->sweep.cancel();
      t->work.reset();
      t->ioc.stop();
    });
  }
  for (auto& io : impl_->io)
    if (io->thread.joinable()) io->thread.join();
  impl_->acceptor.reset();
  impl_->acceptRetry.reset();
}

}  // namespace malipo
