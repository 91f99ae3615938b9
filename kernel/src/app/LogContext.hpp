// The request or job id of the current thread, stamped on every log line.
#pragma once

#include <string>

namespace malipo {

class LogContext {
 public:
  explicit LogContext(std::string id) : previous_(current()) { current() = std::move(id); }
  ~LogContext() { current() = previous_; }
  LogContext(const LogContext&) = delete;
  LogContext& operator=(const LogContext&) = delete;
  static std::string& current() {
    thread_local std::string id;
    return id;
  }

 private:
  std::string previous_;
};

}  // namespace malipo
