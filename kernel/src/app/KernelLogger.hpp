// Log lines to stderr: time, level, context id (request or job), component, message.
#pragma once

#include <mutex>
#include <string>

#include "malipo/log.hpp"

namespace malipo {

class KernelLogger final : public Logger {
 public:
  explicit KernelLogger(LogLevel minimum = LogLevel::info, bool json = false) : min_(minimum), json_(json) {}
  void log(LogLevel level, const std::string& component, const std::string& message) override;
  void setLevel(LogLevel l) { min_ = l; }
  void setJson(bool j) { json_ = j; }
  static LogLevel parseLevel(const std::string& s);

 private:
  LogLevel min_;
  bool json_;
  std::mutex mutex_;
};

}  // namespace malipo
