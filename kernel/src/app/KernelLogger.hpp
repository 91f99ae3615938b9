// Log lines to stderr: time, level, context id (request or job), component, message.
// Lines are queued and written by one background thread in batches (one write for many
// lines), so a busy server does not serialise on stderr. The destructor flushes.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "malipo/log.hpp"

namespace malipo {

class KernelLogger final : public Logger {
 public:
  explicit KernelLogger(LogLevel minimum = LogLevel::info, bool json = false);
  ~KernelLogger() override;
  void log(LogLevel level, const std::string& component, const std::string& message) override;
  void flush();
  void setLevel(LogLevel l) { min_ = l; }
  void setJson(bool j) { json_ = j; }
  static LogLevel parseLevel(const std::string& s);

 private:
  void writerLoop();

  LogLevel min_;
  bool json_;
  std::mutex mutex_;
  std::condition_variable cv_, flushed_;
  std::string pending_;
  bool stop_ = false, writing_ = false;
  std::thread writer_;
};

}  // namespace malipo
