// HTTP as plugins see it: plain request/response values and a router to add routes to.
//
// Handlers run on the kernel's HTTP worker threads, concurrently; they must be thread-safe.
// A handler that throws is caught by the kernel and answered with a 500 JSON body carrying
// the request id; nothing a plugin throws reaches Poco. Bodies are fully buffered (the size
// cap is enforced before the handler runs), and responses always carry a Content-Length so
// connections stay alive.
// Lifetime: a Handler (std::function) created by a plugin lives in the router until the
// process ends; libraries are never unloaded, so its code stays valid.
#pragma once

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/URI.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "malipo/result.hpp"

namespace malipo {

struct CaseInsensitiveLess {
  bool operator()(const std::string& a, const std::string& b) const {
    // ASCII folding (header names are ASCII): no locale lookup per character.
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
      unsigned char ux = static_cast<unsigned char>(x), uy = static_cast<unsigned char>(y);
      if (ux >= 'A' && ux <= 'Z') ux = static_cast<unsigned char>(ux + 32);
      if (uy >= 'A' && uy <= 'Z') uy = static_cast<unsigned char>(uy + 32);
      return ux < uy;
    });
  }
};
using HeaderMap = std::map<std::string, std::string, CaseInsensitiveLess>;

struct Request {
  std::string method;  // "GET", "POST", …
  std::string path;    // decoded path, no query string
  std::string rawQuery;
  std::map<std::string, std::string> query;       // decoded query parameters (last wins)
  std::map<std::string, std::string> pathParams;  // from `{name}` segments of the route
  HeaderMap headers;
  std::string body;      // raw bytes, exactly as received (signatures are computed over it)
  std::string clientIp;  // client address: the peer, or behind server.trusted_proxies the rightmost
                         // untrusted X-Forwarded-For hop
  std::string requestId;
  // JWT `sub` when a valid token was presented; on an admin route (Auth::admin), the name of
  // the admin token that matched: the operator recorded as the actor of what they do.
  std::optional<std::string> userId;

  std::string header(const std::string& name, const std::string& dflt = {}) const {
    auto it = headers.find(name);
    return it == headers.end() ? dflt : it->second;
  }
  std::string param(const std::string& name) const {
    auto it = pathParams.find(name);
    return it == pathParams.end() ? std::string() : it->second;
  }
  std::string queryParam(const std::string& name, const std::string& dflt = {}) const {
    auto it = query.find(name);
    return it == query.end() ? dflt : it->second;
  }
};

struct Response {
  int status = 200;
  std::string contentType = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  Response& header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }

  static Response json(int status, const Poco::JSON::Object& obj) {
    std::ostringstream os;
    Poco::JSON::Stringifier::condense(obj, os);
    Response r;
    r.status = status;
    r.body = os.str();
    return r;
  }
  static Response text(int status, std::string body,
                       std::string type = "text/plain; charset=utf-8") {
    Response r;
    r.status = status;
    r.contentType = std::move(type);
    r.body = std::move(body);
    return r;
  }
  static Response html(int status, std::string body) {
    return text(status, std::move(body), "text/html; charset=utf-8");
  }
  static Response redirect(int status, const std::string& location) {
    Response r = text(status, "");
    r.header("Location", location);
    return r;
  }
  // The kernel's one JSON error shape: {"error": code, "message": …, "request_id": …}.
  static Response error(const Error& e, const std::string& requestId = {}) {
    Poco::JSON::Object o;
    o.set("error", errorCodeName(e.code));
    o.set("message", e.external);
    if (!requestId.empty()) o.set("request_id", requestId);
    Response r = json(httpStatus(e.code), o);
    if (e.retryAfterSeconds > 0) r.header("Retry-After", std::to_string(e.retryAfterSeconds));
    return r;
  }
};

// JSON text → its top-level object, or nullptr when the text is empty, is not JSON, or is
// not an object. For request bodies and provider replies.
inline Poco::JSON::Object::Ptr parseJsonObject(const std::string& text) {
  if (text.empty()) return nullptr;
  try {
    auto v = Poco::JSON::Parser().parse(text);
    if (v.type() == typeid(Poco::JSON::Object::Ptr)) return v.extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception&) {
  }
  return nullptr;
}

// application/x-www-form-urlencoded → fields ('+' is a space; the last of a repeated key
// wins; a pair that does not decode is skipped). For HTML form posts.
inline std::map<std::string, std::string> parseFormUrlEncoded(const std::string& body) {
  std::map<std::string, std::string> out;
  std::size_t pos = 0;
  while (pos <= body.size()) {
    std::size_t amp = body.find('&', pos);
    std::string pair = body.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    if (!pair.empty()) {
      std::replace(pair.begin(), pair.end(), '+', ' ');
      std::size_t eq = pair.find('=');
      std::string k, v;
      try {
        Poco::URI::decode(pair.substr(0, eq), k);
        if (eq != std::string::npos) Poco::URI::decode(pair.substr(eq + 1), v);
        if (!k.empty()) out[k] = v;
      } catch (const std::exception&) {
      }
    }
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return out;
}

using Handler = std::function<Response(const Request&)>;

enum class Auth {
  none,      // no token looked at
  optional,  // a valid token sets userId; a bad one is rejected with 401
  required,  // 401 unless a valid token is present
  admin,     // the admin token (Authorization: Bearer <admin.token>)
};

struct RouteOptions {
  Auth auth = Auth::none;
  std::string rateLimit;         // name of a rate-limit bucket from config (empty: the default)
  std::size_t maxBodyBytes = 0;  // 0: server.max_body_bytes
  std::string name;              // label for metrics; defaults to the pattern
  // Honour the Idempotency-Key header: the same key and body replay the first response,
  // the same key with another body is 422, the same key while the first runs is 409.
  bool idempotent = false;
  // A JSON body to answer 401 with instead of the kernel's error shape (for APIs that
  // promised their clients another shape, e.g. {"success": false, "message": "Unauthorized"}).
  std::string unauthorizedBody;
};

// Patterns: literal segments and `{name}` segments, e.g. "/api/cv-pdf/{request_id}/status".
// A trailing slash in a request matches the same route. Adding the same method and pattern
// twice is an error (thrown at start-up).
class Router {
 public:
  virtual ~Router() = default;
  virtual void add(const std::string& method, const std::string& pattern, Handler handler,
                   RouteOptions options = {}) = 0;
};

}  // namespace malipo
