// Security headers on every answer: X-Content-Type-Options and Referrer-Policy everywhere;
// on HTML pages a Content-Security-Policy (scripts only from this origin, the layout's style
// by its hash, no plugins, no <base>, forms post here) whose frame-ancestors is 'none' except
// under the configured frameable paths (the checkout return page an integrator frames), where
// it is 'self' and the configured origins. A header a handler set itself is kept.
#pragma once

#include <string>
#include <vector>

#include "malipo/http.hpp"

namespace malipo {

struct SecurityOptions {
  std::vector<std::string> frameAncestors;  // origins, e.g. https://shop.example.com
  std::vector<std::string> frameablePaths;  // path prefixes whose pages they may frame
  std::string styleHash;                    // 'sha256-…' of the layout's <style>
  std::string referrerPolicy = "same-origin";
};

// Whether `path` is one of the prefixes (a whole segment: /a/b matches /a/b and /a/b/c).
bool frameablePath(const SecurityOptions& o, const std::string& path);
// The Content-Security-Policy of an HTML page at `path`.
std::string contentSecurityPolicy(const SecurityOptions& o, const std::string& path);
void addSecurityHeaders(const SecurityOptions& o, const std::string& path, Response& resp);

}  // namespace malipo
