// Logging lent to plugins. Every line carries the current request id (or job id) that the
// kernel sets for the thread. Never pass secrets, full card numbers or tokens.
// Thread-safety: safe from any thread. Lifetime: owned by the kernel, outlives plugins.
#pragma once

#include <string>

namespace malipo {

enum class LogLevel { debug, info, warning, error };

class Logger {
 public:
  virtual ~Logger() = default;
  virtual void log(LogLevel level, const std::string& component, const std::string& message) = 0;
  void debug(const std::string& c, const std::string& m) { log(LogLevel::debug, c, m); }
  void info(const std::string& c, const std::string& m) { log(LogLevel::info, c, m); }
  void warning(const std::string& c, const std::string& m) { log(LogLevel::warning, c, m); }
  void error(const std::string& c, const std::string& m) { log(LogLevel::error, c, m); }
};

}  // namespace malipo
