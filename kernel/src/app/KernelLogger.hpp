// Log lines to stderr: time, level, context id (request or job), component, message.
// Each thread appends to a buffer of its own (no lock shared between request threads); one
// background thread collects the buffers every few milliseconds, puts the lines back in the
// order they were logged (a global sequence number), and writes them in one call. The
// destructor and flush() write what is pending.
#pragma once

#include <Poco/Dynamic/Var.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
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
  // Extra top-level keys of a JSON line (the access log: method, route, status, …). In the
  // text format the fields are not written: `message` is the whole line.
  using Fields = std::vector<std::pair<std::string, Poco::Dynamic::Var>>;
  void logFields(LogLevel level, const std::string& component, const std::string& message,
                 const Fields& fields);
  bool json() const { return json_.load(std::memory_order_relaxed); }
  // Writes every line logged before the call.
  void flush();
  void setLevel(LogLevel l) { min_ = l; }
  void setJson(bool j) { json_ = j; }
  static LogLevel parseLevel(const std::string& s);
  // Test seam: called by a drain after it collected each thread's buffer (a test widens the
  // gap between two collections to provoke the races the merge must survive).
  void setCollectHookForTest(std::function<void()> hook) { collectHook_ = std::move(hook); }

 private:
  // One thread's pending records: [8-byte sequence][4-byte length][line], back to back.
  struct Buffer {
    std::mutex mutex;
    std::string records;
  };
  Buffer& threadBuffer();
  void writerLoop();
  void drain();  // collects, orders and writes everything pending

  std::atomic<LogLevel> min_;
  std::atomic<bool> json_;
  const std::uint64_t id_;  // tells this logger's per-thread buffers from another's
  std::atomic<std::uint64_t> sequence_{0};
  std::atomic<std::uint64_t> dropped_{0};  // lines refused because a buffer was full
  std::mutex buffersMutex_;
  std::vector<std::shared_ptr<Buffer>> buffers_;
  std::mutex drainMutex_;  // one drain at a time (writer thread or flush)
  std::function<void()> collectHook_;
  std::vector<std::string>
      carry_;  // collected records numbered too late for the last write (under drainMutex_)
  std::mutex wakeMutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::atomic<bool> drainSoon_{false};  // a buffer passed 64 KiB: drain before the next tick
  std::thread writer_;
};

}  // namespace malipo
