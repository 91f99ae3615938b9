// Token buckets per (bucket, client). In memory: a limiter is per process, as the
// architecture allows for caches and limiters.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace malipo {

class RateLimiter {
 public:
  struct Limit {
    double perMinute = 600;
    double burst = 60;
  };
  // Takes one token; returns 0 when allowed, otherwise the seconds to wait (Retry-After).
  int take(const std::string& bucket, const Limit& limit, const std::string& client,
           std::int64_t nowMs);

 private:
  struct State {
    double tokens;
    std::int64_t lastMs;
    double ratePerMs;
    double burst;
  };
  // Sharded so concurrent clients rarely meet on one lock.
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, State> states;
    std::int64_t lastSweepMs = 0;
  };
  static constexpr std::size_t kShards = 16;
  Shard shards_[kShards];
};

}  // namespace malipo
