// Time as the kernel sees it. Injected everywhere a deadline or schedule is computed, so
// tests move time instead of sleeping. Thread-safety: implementations are thread-safe.
#pragma once

#include <Poco/DateTimeFormatter.h>
#include <Poco/Timestamp.h>

#include <chrono>
#include <cstdint>
#include <string>

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

// Epoch milliseconds as ISO 8601 UTC ("2025-05-03T10:15:30Z"), the form every API answer
// uses; 0 (not set) gives "".
inline std::string isoTime(std::int64_t ms) {
  return ms ? Poco::DateTimeFormatter::format(Poco::Timestamp(ms * 1000), "%Y-%m-%dT%H:%M:%SZ")
            : "";
}

}  // namespace malipo
