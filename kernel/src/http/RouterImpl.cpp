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

void RouterImpl::add(const std::string& method, const std::string& pattern, Handler handler,
                     RouteOptions options) {
  auto r = std::make_unique<Route>();
  r->method = method;
  r->pattern = pattern;
  r->segments = split(pattern);
  for (const auto& seg : r->segments)
    r->isParam.push_back(seg.size() > 2 && seg.front() == '{' && seg.back() == '}');
  r->handler = std::move(handler);
  if (options.name.empty()) options.name = pattern;
  r->options = std::move(options);
  if (frozen_) throw std::logic_error("route " + method + " " + pattern + " added after start-up");
  std::unique_lock<std::shared_mutex> lock(mutex_);
  auto shape = [](const std::vector<std::string>& segs) {
    std::vector<std::string> out;
    for (const auto& s : segs)
      out.push_back(s.size() > 2 && s.front() == '{' && s.back() == '}' ? "{}" : s);
    return out;
  };
  for (const auto& existing : routes_) {
    if (existing->method == method && shape(existing->segments) == shape(r->segments))
      throw std::logic_error("route " + method + " " + pattern + " is registered twice");
  }
  if (bySegments_.size() <= r->segments.size()) bySegments_.resize(r->segments.size() + 1);
  bySegments_[r->segments.size()].push_back(r.get());
  routes_.push_back(std::move(r));
}

RouteMatch RouterImpl::match(const std::string& method, const std::string& path) const {
  // Segments as views into the path, in a per-thread vector: no allocation per request.
  thread_local std::vector<std::string_view> segs;
  segs.clear();
  for (std::size_t i = 0; i < path.size();) {
    while (i < path.size() && path[i] == '/') ++i;
    std::size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) segs.emplace_back(path.data() + i, j - i);
    i = j;
  }
  RouteMatch best;
  int bestScore = -1;
  std::shared_lock<std::shared_mutex> lock(mutex_, std::defer_lock);
  if (!frozen_) lock.lock();
  if (segs.size() >= bySegments_.size()) return best;
  for (const Route* r : bySegments_[segs.size()]) {
    int score = 0;
    bool ok = true;
    for (std::size_t i = 0; i < segs.size() && ok; ++i) {
      if (r->isParam[i]) {
        ok = !segs[i].empty();
      } else {
        ok = segs[i] == r->segments[i];
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
      best.route = r;
    }
  }
  if (best.route) {
    const Route& r = *best.route;
    for (std::size_t i = 0; i < segs.size(); ++i)
      if (r.isParam[i])
        best.params[r.segments[i].substr(1, r.segments[i].size() - 2)] = std::string(segs[i]);
  }
  return best;
}

std::vector<std::pair<std::string, std::string>> RouterImpl::list() const {
  std::shared_lock<std::shared_mutex> lock(mutex_);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : routes_) out.emplace_back(r->method, r->pattern);
  return out;
}

std::vector<const Route*> RouterImpl::routes() const {
  std::shared_lock<std::shared_mutex> lock(mutex_);
  std::vector<const Route*> out;
  for (const auto& r : routes_) out.push_back(r.get());
  return out;
}

}  // namespace malipo
