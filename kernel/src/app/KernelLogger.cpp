#include "app/KernelLogger.hpp"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Object.h>
#include <Poco/Timestamp.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <sstream>

#include "app/LogContext.hpp"
#include "app/LogSanitizer.hpp"

namespace malipo {

namespace {
const char* levelName(LogLevel l) {
  switch (l) {
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warning:
      return "warning";
    case LogLevel::error:
      return "error";
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
  logFields(level, component, message, {});
}

void KernelLogger::logFields(LogLevel level, const std::string& component,
                             const std::string& message, const Fields& fields) {
  if (static_cast<int>(level) < static_cast<int>(min_.load(std::memory_order_relaxed))) return;
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
  std::size_t prefixLen = std::strlen(cachedPrefix);
  std::memcpy(ts, cachedPrefix, prefixLen);
  int ms = static_cast<int>((nowTs.epochMicroseconds() / 1000) % 1000);
  ts[prefixLen] = '.';
  ts[prefixLen + 1] = static_cast<char>('0' + ms / 100);
  ts[prefixLen + 2] = static_cast<char>('0' + ms / 10 % 10);
  ts[prefixLen + 3] = static_cast<char>('0' + ms % 10);
  ts[prefixLen + 4] = 'Z';
  ts[prefixLen + 5] = '\0';
  const std::string& ctx = LogContext::current();
  // Every field as it may be logged (control characters escaped, phones and emails masked).
  thread_local std::string comp, msg;
  comp.clear();
  msg.clear();
  appendSanitized(comp, component);
  // A message is capped (provider bodies end up in error texts): its head is enough to see
  // what happened, and the line stays small.
  constexpr std::size_t kMaxMessage = 2048;
  if (message.size() <= kMaxMessage) {
    appendSanitized(msg, message);
  } else {
    appendSanitized(msg, std::string_view(message).substr(0, kMaxMessage));
    msg.append(" … (").append(std::to_string(message.size() - kMaxMessage)).append(" more bytes)");
  }
  thread_local std::string line;  // reused: no allocation per line once warm
  line.clear();
  if (json_.load(std::memory_order_relaxed)) {
    Poco::JSON::Object o;
    o.set("ts", std::string(ts));
    o.set("level", levelName(level));
    if (!ctx.empty()) o.set("request_id", ctx);
    o.set("component", comp);
    o.set("msg", msg);
    for (const auto& [key, value] : fields) {
      if (value.isString()) {
        std::string clean;
        appendSanitized(clean, value.extract<std::string>());
        o.set(key, clean);
      } else {
        o.set(key, value);
      }
    }
    std::ostringstream os;
    o.stringify(os);
    line = os.str();
  } else {
    line.append(ts)
        .append(" ")
        .append(levelName(level))
        .append(" [")
        .append(ctx.empty() ? "-" : ctx);
    line.append("] ").append(comp).append(": ").append(msg);
  }
  line += '\n';
  Buffer& buffer = threadBuffer();
  bool wake;
  {
    std::lock_guard<std::mutex> lock(buffer.mutex);  // shared only with the writer's collection
    if (buffer.records.size() > (1 << 20)) {  // writer stuck (stderr blocked): drop, never block
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    // The sequence is taken under the buffer's lock, so a buffer's records stay in order.
    std::uint64_t seq = sequence_.fetch_add(1);
    std::uint32_t len = static_cast<std::uint32_t>(line.size());
    buffer.records.append(reinterpret_cast<const char*>(&seq), sizeof seq);
    buffer.records.append(reinterpret_cast<const char*>(&len), sizeof len);
    buffer.records.append(line);
    // The writer polls every few milliseconds; waking it per line would cost a futex call
    // on the request path. Wake it only when a burst piles up.
    wake = buffer.records.size() > (64 << 10);
  }
  if (line.capacity() > 4096) line = msg = std::string();  // one huge line is not kept
  // Only the line that raises the flag wakes the writer.
  if (wake && !drainSoon_.exchange(true)) wake_.notify_one();
}

KernelLogger::Buffer& KernelLogger::threadBuffer() {
  struct Slot {
    std::uint64_t logger = 0;
    std::shared_ptr<Buffer> buffer;
  };
  thread_local Slot slot;
  if (slot.logger != id_) {
    auto b = std::make_shared<Buffer>();
    {
      std::lock_guard<std::mutex> lock(buffersMutex_);
      buffers_.push_back(b);
    }
    slot = Slot{id_, std::move(b)};
  }
  return *slot.buffer;
}

KernelLogger::KernelLogger(LogLevel minimum, bool json)
    : min_(minimum), json_(json), id_([] {
        static std::atomic<std::uint64_t> next{0};
        return ++next;
      }()) {
  writer_ = std::thread([this] { writerLoop(); });
}

KernelLogger::~KernelLogger() {
  {
    std::lock_guard<std::mutex> lock(wakeMutex_);
    stop_ = true;
  }
  wake_.notify_one();
  writer_.join();
  drain();
}

void KernelLogger::writerLoop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(wakeMutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(5),
                     [this] { return stop_ || drainSoon_.load(); });
      if (stop_) return;
    }
    drainSoon_ = false;
    drain();
  }
}

void KernelLogger::drain() {
  std::lock_guard<std::mutex> drainLock(drainMutex_);
  if (std::uint64_t lost = dropped_.exchange(0))
    log(LogLevel::warning, "logger",
        std::to_string(lost) + " line(s) dropped while stderr was blocked");
  std::vector<std::shared_ptr<Buffer>> buffers;
  {
    std::lock_guard<std::mutex> lock(buffersMutex_);
    // A buffer only this logger still holds belongs to a thread that has ended: once it is
    // empty it goes.
    for (auto it = buffers_.begin(); it != buffers_.end();) {
      bool orphan = it->use_count() == 1;
      if (orphan) {
        std::lock_guard<std::mutex> bl((*it)->mutex);
        if ((*it)->records.empty()) {
          it = buffers_.erase(it);
          continue;
        }
      }
      ++it;
    }
    buffers = buffers_;
  }
  // Every line numbered below `limit` is in some buffer by the time its buffer is collected
  // (a number is taken and its record appended under the buffer's lock). Lines numbered
  // later may be collected too; they wait in carry_ for the next drain, so that no line is
  // written before one with a smaller number that is still on its way.
  const std::uint64_t limit = sequence_.load();
  // Collect each thread's records (its lock held only for a swap).
  thread_local std::vector<std::string> chunks;
  chunks.resize(buffers.size());
  bool any = !carry_.empty();
  for (std::size_t i = 0; i < buffers.size(); ++i) {
    chunks[i].clear();
    std::lock_guard<std::mutex> lock(buffers[i]->mutex);
    chunks[i].swap(buffers[i]->records);
    any = any || !chunks[i].empty();
    if (collectHook_) collectHook_();
  }
  if (!any) return;
  // Merge by sequence number: each chunk (and each carried run) is in order already.
  struct Cursor {
    const std::string* chunk;
    std::size_t pos;
    std::uint64_t seq;
  };
  auto readSeq = [](const std::string& c, std::size_t pos) {
    std::uint64_t seq;
    std::memcpy(&seq, c.data() + pos, sizeof seq);
    return seq;
  };
  std::vector<std::string> carried;
  carried.swap(carry_);
  std::vector<Cursor> cursors;
  for (const auto& c : carried)
    if (!c.empty()) cursors.push_back({&c, 0, readSeq(c, 0)});
  for (const auto& c : chunks)
    if (!c.empty()) cursors.push_back({&c, 0, readSeq(c, 0)});
  thread_local std::string out;
  out.clear();
  while (!cursors.empty()) {
    std::size_t best = 0;
    for (std::size_t i = 1; i < cursors.size(); ++i)
      if (cursors[i].seq < cursors[best].seq) best = i;
    Cursor& c = cursors[best];
    if (c.seq >= limit) break;  // the rest waits for the next drain
    std::uint32_t len;
    std::memcpy(&len, c.chunk->data() + c.pos + 8, sizeof len);
    out.append(*c.chunk, c.pos + 12, len);
    c.pos += 12 + len;
    if (c.pos >= c.chunk->size()) {
      cursors.erase(cursors.begin() + static_cast<std::ptrdiff_t>(best));
    } else {
      c.seq = readSeq(*c.chunk, c.pos);
    }
  }
  for (const auto& c : cursors) carry_.push_back(c.chunk->substr(c.pos));
  if (!out.empty()) {
    std::fwrite(out.data(), 1, out.size(), stderr);
    std::fflush(stderr);
  }
  // Give the chunks' memory back to the buffers, so a warm thread appends without growing.
  for (std::size_t i = 0; i < buffers.size(); ++i) {
    std::lock_guard<std::mutex> lock(buffers[i]->mutex);
    if (buffers[i]->records.empty() && chunks[i].capacity() <= (1 << 20)) {
      chunks[i].clear();
      buffers[i]->records.swap(chunks[i]);
    }
  }
  if (out.capacity() > (4 << 20)) out = std::string();
}

void KernelLogger::flush() {
  drain();
}

}  // namespace malipo
