// Time as the kernel sees it. Injected everywhere a deadline or schedule is computed, so
// tests move time instead of sleeping. Thread-safety: implementations are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>

namespace malipo {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual std::int64_t nowMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::int64_t nowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace malipo
