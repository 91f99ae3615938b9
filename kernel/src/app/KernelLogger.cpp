#include "app/KernelLogger.hpp"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Object.h>
#include <Poco/Timestamp.h>

#include <iostream>
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
  std::string ts = Poco::DateTimeFormatter::format(Poco::Timestamp(), "%Y-%m-%dT%H:%M:%S.%iZ");
  const std::string& ctx = LogContext::current();
  std::string line;
  if (json_) {
    Poco::JSON::Object o;
    o.set("ts", ts);
    o.set("level", levelName(level));
    if (!ctx.empty()) o.set("request_id", ctx);
    o.set("component", component);
    o.set("msg", message);
    std::ostringstream os;
    o.stringify(os);
    line = os.str();
  } else {
    line = ts + " " + levelName(level) + " [" + (ctx.empty() ? "-" : ctx) + "] " + component + ": " + message;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  std::cerr << line << '\n';
}

}  // namespace malipo
