#include "http/SecurityHeaders.hpp"

#include <strings.h>

namespace malipo {

namespace {

bool hasHeader(const Response& r, const char* name) {
  for (const auto& [k, v] : r.headers)
    if (strcasecmp(k.c_str(), name) == 0) return true;
  return false;
}

}  // namespace

bool frameablePath(const SecurityOptions& o, const std::string& path) {
  for (std::string p : o.frameablePaths) {
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    if (p.empty()) continue;
    if (path == p || (path.compare(0, p.size(), p) == 0 && path.size() > p.size() &&
                      (path[p.size()] == '/' || p == "/")))
      return true;
  }
  return false;
}

std::string contentSecurityPolicy(const SecurityOptions& o, const std::string& path) {
  std::string ancestors = "'none'";
  if (frameablePath(o, path)) {
    ancestors = "'self'";
    for (const auto& origin : o.frameAncestors)
      if (!origin.empty()) ancestors += " " + origin;
  }
  std::string style = "'self'";
  if (!o.styleHash.empty()) style += " " + o.styleHash;
  return "default-src 'self'; script-src 'self'; style-src " + style +
         "; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
         "frame-ancestors " +
         ancestors;
}

void addSecurityHeaders(const SecurityOptions& o, const std::string& path, Response& resp) {
  if (!hasHeader(resp, "X-Content-Type-Options")) resp.header("X-Content-Type-Options", "nosniff");
  if (!hasHeader(resp, "Referrer-Policy") && !o.referrerPolicy.empty())
    resp.header("Referrer-Policy", o.referrerPolicy);
  if (resp.contentType.compare(0, 9, "text/html") != 0) return;
  if (!hasHeader(resp, "Content-Security-Policy"))
    resp.header("Content-Security-Policy", contentSecurityPolicy(o, path));
  if (!frameablePath(o, path) && !hasHeader(resp, "X-Frame-Options"))
    resp.header("X-Frame-Options", "DENY");
}

}  // namespace malipo
