// Matches method + path to a route; literal segments win over `{param}` segments.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "malipo/http.hpp"

namespace malipo {

struct Route {
  std::string method;
  std::string pattern;
  std::vector<std::string> segments;  // "{name}" for a parameter
  std::vector<bool> isParam;          // per segment, computed once at add()
  Handler handler;
  RouteOptions options;
};

struct RouteMatch {
  const Route* route = nullptr;
  std::map<std::string, std::string> params;
  std::vector<std::string> allowed;  // when the path matched but not the method (405)
};

class RouterImpl final : public Router {
 public:
  void add(const std::string& method, const std::string& pattern, Handler handler,
           RouteOptions options = {}) override;
  RouteMatch match(const std::string& method, const std::string& path) const;
  std::vector<std::pair<std::string, std::string>> list() const;  // (method, pattern)
  // Every route, in registration order (read-only; for /openapi.json and the sandbox index).
  std::vector<const Route*> routes() const;
  // After start-up no route is added: matching then takes no lock.
  void freeze() { frozen_ = true; }
  static std::vector<std::string> split(const std::string& path);

 private:
  mutable std::shared_mutex mutex_;
  std::atomic<bool> frozen_{false};
  std::vector<std::unique_ptr<Route>> routes_;
  std::vector<std::vector<const Route*>> bySegments_;  // routes by their number of segments
};

}  // namespace malipo
