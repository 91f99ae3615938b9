// Bulkheads for outbound provider calls: each provider may have at most N calls in flight
// (payments.max_in_flight, default 16; payments.max_in_flight_by_provider overrides it per
// provider). A call past the limit is not made: the caller gets 503 with Retry-After at
// once, so a provider that hangs holds at most N worker threads and slows only its own
// routes.
#pragma once

#include <map>
#include <mutex>
#include <string>

namespace malipo {

class Bulkheads {
 public:
  Bulkheads(int defaultLimit, std::map<std::string, int> perProvider)
      : default_(defaultLimit), perProvider_(std::move(perProvider)) {}

  int limit(const std::string& provider) const {
    auto it = perProvider_.find(provider);
    return it == perProvider_.end() ? default_ : it->second;
  }

  // Holds one slot of a provider's bulkhead while it lives; `ok()` false when it was full.
  class Slot {
   public:
    Slot(Bulkheads& b, const std::string& provider) : b_(b), provider_(provider) {
      std::lock_guard<std::mutex> lock(b_.mutex_);
      int& n = b_.inFlight_[provider_];
      if (n >= b_.limit(provider_)) return;
      ++n;
      ok_ = true;
    }
    ~Slot() {
      if (!ok_) return;
      std::lock_guard<std::mutex> lock(b_.mutex_);
      --b_.inFlight_[provider_];
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    bool ok() const { return ok_; }

   private:
    Bulkheads& b_;
    std::string provider_;
    bool ok_ = false;
  };

 private:
  int default_;
  std::map<std::string, int> perProvider_;
  std::mutex mutex_;
  std::map<std::string, int> inFlight_;
};

}  // namespace malipo
