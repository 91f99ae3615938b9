#include "http/RouterImpl.hpp"

#include <algorithm>
#include <stdexcept>

namespace malipo {

std::vector<std::string> RouterImpl::split(const std::string& path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    std::size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

void RouterImpl::add(const std::string& method, const std::string& pattern, Handler handler, RouteOptions options) {
  auto r = std::make_unique<Route>();
  r->method = method;
  r->pattern = pattern;
  r->segments = split(pattern);
  r->handler = std::move(handler);
  if (options.name.empty()) options.name = pattern;
  r->options = std::move(options);
  if (frozen_) throw std::logic_error("route " + method + " " + pattern + " added after start-up");
  std::unique_lock<std::shared_mutex> lock(mutex_);
  auto shape = [](const std::vector<std::string>& segs) {
    std::vector<std::string> out;
    for (const auto& s : segs) out.push_back(s.size() > 2 && s.front() == '{' && s.back() == '}' ? "{}" : s);
    return out;
  };
  for (const auto& existing : routes_) {
    if (existing->method == method && shape(existing->segments) == shape(r->segments))
      throw std::logic_error("route " + method + " " + pattern + " is registered twice");
  }
  routes_.push_back(std::move(r));
}

RouteMatch RouterImpl::match(const std::string& method, const std::string& path) const {
  auto segs = split(path);
  RouteMatch best;
  int bestScore = -1;
  std::shared_lock<std::shared_mutex> lock(mutex_, std::defer_lock);
  if (!frozen_) lock.lock();
  for (const auto& r : routes_) {
    if (r->segments.size() != segs.size()) continue;
    int score = 0;
    bool ok = true;
    for (std::size_t i = 0; i < segs.size() && ok; ++i) {
      const std::string& s = r->segments[i];
      bool param = s.size() > 2 && s.front() == '{' && s.back() == '}';
      if (param) {
        ok = !segs[i].empty();
      } else {
        ok = s == segs[i];
        score += 1 << (segs.size() - i);  // earlier literal segments weigh more
      }
    }
    if (!ok) continue;
    bool methodOk = r->method == method || (method == "HEAD" && r->method == "GET");
    if (!methodOk) {
      if (std::find(best.allowed.begin(), best.allowed.end(), r->method) == best.allowed.end())
        best.allowed.push_back(r->method);
      continue;
    }
    if (score > bestScore) {
      bestScore = score;
      best.route = r.get();
      best.params.clear();
      for (std::size_t i = 0; i < segs.size(); ++i) {
        const std::string& s = r->segments[i];
        if (s.size() > 2 && s.front() == '{' && s.back() == '}') best.params[s.substr(1, s.size() - 2)] = segs[i];
      }
    }
  }
  return best;
}

std::vector<std::pair<std::string, std::string>> RouterImpl::list() const {
  std::shared_lock<std::shared_mutex> lock(mutex_);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : routes_) out.emplace_back(r->method, r->pattern);
  return out;
}

}  // namespace malipo
