#include "http/RateLimiter.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

namespace malipo {

int RateLimiter::take(const std::string& bucket, const Limit& limit, const std::string& client,
                      std::int64_t nowMs) {
  const double ratePerMs = limit.perMinute / 60000.0;
  thread_local std::string key;  // reused: no allocation per request
  key.assign(bucket).append(1, '|').append(client);
  Shard& shard = shards_[std::hash<std::string>{}(key) % kShards];
  std::lock_guard<std::mutex> lock(shard.mutex);
  auto& states_ = shard.states;
  // Forget clients whose buckets are full again, so the map stays bounded by active clients.
  if (states_.size() > 10000 || nowMs - shard.lastSweepMs > 60000) {
    for (auto it = states_.begin(); it != states_.end();) {
      const State& st = it->second;
      double refill = st.tokens + static_cast<double>(nowMs - st.lastMs) * st.ratePerMs;
      it = refill >= st.burst ? states_.erase(it) : std::next(it);
    }
    shard.lastSweepMs = nowMs;
  }
  auto it = states_.find(key);
  bool inserted = it == states_.end();
  if (inserted) it = states_.emplace(key, State{limit.burst, nowMs, ratePerMs, limit.burst}).first;
  State& s = it->second;
  if (!inserted) {
    s.tokens = std::min(limit.burst, s.tokens + static_cast<double>(nowMs - s.lastMs) * ratePerMs);
    s.lastMs = nowMs;
  }
  if (s.tokens >= 1.0) {
    s.tokens -= 1.0;
    return 0;
  }
  double waitMs = (1.0 - s.tokens) / ratePerMs;
  return std::max(1, static_cast<int>(std::ceil(waitMs / 1000.0)));
}

}  // namespace malipo
