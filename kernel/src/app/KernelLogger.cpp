#include "app/KernelLogger.hpp"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Object.h>
#include <Poco/Timestamp.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <sstream>

#include "app/LogContext.hpp"

namespace malipo {

namespace {
const char* levelName(LogLevel l) {
  switch (l) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warning: return "warning";
    case LogLevel::error: return "error";
  }
  return "info";
}
}  // namespace

LogLevel KernelLogger::parseLevel(const std::string& s) {
  if (s == "debug") return LogLevel::debug;
  if (s == "warning") return LogLevel::warning;
  if (s == "error") return LogLevel::error;
  return LogLevel::info;
}

void KernelLogger::log(LogLevel level, const std::string& component, const std::string& message) {
  if (static_cast<int>(level) < static_cast<int>(min_)) return;
  // Formatting a date is costly at tens of thousands of lines a second: format the seconds
  // once per second per thread and append the milliseconds.
  thread_local std::time_t cachedSecond = -1;
  thread_local char cachedPrefix[32];
  Poco::Timestamp nowTs;
  std::time_t sec = nowTs.epochTime();
  if (sec != cachedSecond) {
    std::tm tm{};
    gmtime_r(&sec, &tm);
    std::strftime(cachedPrefix, sizeof cachedPrefix, "%Y-%m-%dT%H:%M:%S", &tm);
    cachedSecond = sec;
  }
  char ts[40];
  std::snprintf(ts, sizeof ts, "%s.%03dZ", cachedPrefix, static_cast<int>((nowTs.epochMicroseconds() / 1000) % 1000));
  const std::string& ctx = LogContext::current();
  std::string line;
  if (json_) {
    Poco::JSON::Object o;
    o.set("ts", std::string(ts));
    o.set("level", levelName(level));
    if (!ctx.empty()) o.set("request_id", ctx);
    o.set("component", component);
    o.set("msg", message);
    std::ostringstream os;
    o.stringify(os);
    line = os.str();
  } else {
    line.reserve(64 + ctx.size() + component.size() + message.size());
    line.append(ts).append(" ").append(levelName(level)).append(" [").append(ctx.empty() ? "-" : ctx);
    line.append("] ").append(component).append(": ").append(message);
  }
  line += '\n';
  std::lock_guard<std::mutex> lock(mutex_);
  if (pending_.size() > (8 << 20)) return;  // writer stuck (stderr blocked): drop, never block
  pending_ += line;
  // The writer polls every few milliseconds; waking it per line would cost a futex call
  // on the request path. Wake it only when a burst piles up.
  if (pending_.size() > (64 << 10)) cv_.notify_one();
}

KernelLogger::KernelLogger(LogLevel minimum, bool json) : min_(minimum), json_(json) {
  writer_ = std::thread([this] { writerLoop(); });
}

KernelLogger::~KernelLogger() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    cv_.notify_one();
  }
  writer_.join();
}

void KernelLogger::writerLoop() {
  std::string batch;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    cv_.wait_for(lock, std::chrono::milliseconds(5), [this] { return stop_ || pending_.size() > (64 << 10); });
    if (pending_.empty() && !stop_) continue;
    if (pending_.empty() && stop_) return;
    batch.swap(pending_);
    writing_ = true;
    lock.unlock();
    std::fwrite(batch.data(), 1, batch.size(), stderr);
    std::fflush(stderr);
    batch.clear();
    lock.lock();
    writing_ = false;
    flushed_.notify_all();
  }
}

void KernelLogger::flush() {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.notify_one();
  flushed_.wait(lock, [this] { return pending_.empty() && !writing_; });
}

}  // namespace malipo
