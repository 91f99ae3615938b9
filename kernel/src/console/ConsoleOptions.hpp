// console.* settings (declared in config/KernelSettings.cpp).
#pragma once

#include <cstdint>

namespace malipo {

struct ConsoleOptions {
  bool enabled = true;                         // still off unless an admin token is configured
  std::int64_t sessionMs = 8LL * 3600 * 1000;  // a session's lifetime from sign-in
  int signInAttemptsPerMinute = 5;             // per client address (429 above)
};

}  // namespace malipo
