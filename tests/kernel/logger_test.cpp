// The kernel logger: per-thread buffers merged back into the order the lines were logged.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "app/KernelLogger.hpp"
#include "app/LogContext.hpp"
#include "app/LogSanitizer.hpp"
#include "kernel_fixture.hpp"
#include "support/TestSupport.hpp"

using namespace malipo;
using namespace malipo::test;

namespace {
// Sends stderr to a file for the life of the object.
class CaptureStderr {
 public:
  explicit CaptureStderr(const std::string& path)
      : CaptureStderr(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600)) {}
  // Takes over `fd` (e.g. the write end of a pipe).
  explicit CaptureStderr(int fd) {
    std::fflush(stderr);
    saved_ = dup(2);
    dup2(fd, 2);
    ::close(fd);
  }
  ~CaptureStderr() {
    std::fflush(stderr);
    dup2(saved_, 2);
    ::close(saved_);
  }

 private:
  int saved_;
};

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}
}  // namespace

TEST(LoggerTest, LinesFromManyThreadsComeOutOnceInTheOrderTheyWereLogged) {
  TempDir dir;
  const std::string file = dir.file("stderr.log");
  constexpr int kThreads = 8, kPerThread = 3000;
  {
    CaptureStderr capture(file);
    KernelLogger log(LogLevel::info);
    // Lines keep coming between the collection of one thread's buffer and the next's.
    log.setCollectHookForTest([] { std::this_thread::sleep_for(std::chrono::microseconds(20)); });
    std::mutex order;
    int next = 0;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        LogContext ctx("thread-" + std::to_string(t));
        for (int i = 0; i < kPerThread; ++i) {
          // Serialised: a line logged after another returned must be written after it.
          std::lock_guard<std::mutex> lock(order);
          log.info("test", "line " + std::to_string(next++));
        }
      });
    }
    // Drains running all along (as the writer's would under load) must not let a line
    // overtake one numbered before it that was still being appended.
    std::atomic<bool> done{false};
    std::thread flusher([&] {
      while (!done) log.flush();
    });
    for (auto& th : threads) th.join();  // the threads (and their buffers' owners) are gone
    done = true;
    flusher.join();
    log.flush();
    std::string text = readFile(file);
    auto got = lines(text);
    ASSERT_EQ(got.size(), static_cast<std::size_t>(kThreads * kPerThread)) << text.substr(0, 500);
    for (std::size_t i = 0; i < got.size(); ++i) {
      ASSERT_NE(got[i].find(" info [thread-"), std::string::npos) << got[i];
      ASSERT_EQ(got[i].substr(got[i].rfind(' ') + 1), std::to_string(i))
          << "line " << i << ": " << got[i];
    }
    log.info("test", "after flush");
  }  // the destructor writes what is pending
  auto all = lines(readFile(file));
  ASSERT_FALSE(all.empty());
  EXPECT_NE(all.back().find("] test: after flush"), std::string::npos) << all.back();
}

TEST(LoggerTest, LevelFilterAndJsonLines) {
  TempDir dir;
  const std::string file = dir.file("stderr.log");
  {
    CaptureStderr capture(file);
    KernelLogger log(LogLevel::warning, true);
    log.info("test", "hidden");
    LogContext ctx("req-1");
    log.warning("test", "say \"hi\"");
    log.flush();
  }
  auto got = lines(readFile(file));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].find("\"request_id\":\"req-1\""), std::string::npos) << got[0];
  EXPECT_NE(got[0].find("\"msg\":\"say \\\"hi\\\"\""), std::string::npos) << got[0];
  EXPECT_NE(got[0].find("\"level\":\"warning\""), std::string::npos) << got[0];
}

TEST(LoggerTest, ABlockedStderrDropsLinesInsteadOfBlockingAndSaysHowMany) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::string text;
  std::thread reader;
  constexpr int kLines = 40000;  // about 4 MB: far more than the pipe and the 1 MiB buffer hold
  {
    CaptureStderr capture(fds[1]);  // nobody reads the pipe yet: stderr is blocked
    KernelLogger log(LogLevel::info);
    std::atomic<bool> finished{false};
    std::thread writer([&] {
      for (int i = 0; i < kLines; ++i)
        log.info("test", "line " + std::to_string(i) + " " + std::string(80, 'x'));
      finished = true;
    });
    for (int i = 0; i < 1000 && !finished; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(finished) << "log() blocked on a stderr nobody reads";
    reader = std::thread([&] {  // stderr drains again
      char buf[65536];
      for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
        text.append(buf, static_cast<std::size_t>(n));
    });
    writer.join();
    log.flush();
    log.flush();  // the notice is logged by the first drain, written by the second
  }               // logger gone, stderr restored: the pipe's write end is closed
  reader.join();
  ::close(fds[0]);
  auto got = lines(text);
  std::size_t written = 0;
  std::uint64_t dropped = 0;
  for (const auto& l : got) {
    if (l.find("] test: line ") != std::string::npos) ++written;
    auto at = l.find("] logger: ");
    if (at != std::string::npos) dropped += std::stoull(l.substr(at + 10));
  }
  EXPECT_GT(dropped, 0u) << text.substr(0, 300);
  EXPECT_GT(written, 0u);
  EXPECT_EQ(written + dropped, static_cast<std::size_t>(kLines));
}

TEST(LogSanitizerTest, EscapesControlBytesAndInvalidUtf8) {
  EXPECT_EQ(sanitizeForLog("a\nb\rc\td\x1b[31m"), "a\\nb\\rc\\td\\x1b[31m");
  EXPECT_EQ(sanitizeForLog("bad \xff\xfe end"), "bad \\xff\\xfe end");
  EXPECT_EQ(sanitizeForLog("Dar es Salaam — Zürich ✓"),
            "Dar es Salaam — Zürich ✓");  // valid UTF-8 stays
  EXPECT_EQ(sanitizeForLog("\xc0\xaf overlong"), "\\xc0\\xaf overlong");
}

TEST(LogSanitizerTest, MasksPhoneNumbersAndEmailsButNotIdentifiers) {
  EXPECT_EQ(sanitizeForLog("msisdn:233244555666 paid"), "msisdn:*********666 paid");
  EXPECT_EQ(sanitizeForLog("call +255 712 345 678 now"), "call *********678 now");
  EXPECT_EQ(sanitizeForLog("to 0754-123-456."), "to *******456.");
  EXPECT_EQ(sanitizeForLog("card 4187427415564246"), "card *************246");
  EXPECT_EQ(sanitizeForLog("mail juma.k@example.co.tz or a@b.io"),
            "mail j***@example.co.tz or a***@b.io");
  // Not personal data: short numbers, amounts, UUIDs, references with letters, versions.
  const std::string kept =
      "1000 TZS, id 3f2b1c4d-1111-4222-8333-123456789012, ref FLW-123456789012, job 42, v1.2.3, "
      "12345678";
  EXPECT_EQ(sanitizeForLog(kept), kept);
  EXPECT_EQ(sanitizeForLog("not@an-address"), "not@an-address");
}

TEST(LoggerTest, LongMessagesAreCapped) {
  TempDir dir;
  const std::string file = dir.file("stderr.log");
  {
    CaptureStderr capture(file);
    KernelLogger log(LogLevel::info);
    log.info("http-out", "provider said: " + std::string(100000, 'x'));
    log.flush();
  }
  std::string text = readFile(file);
  EXPECT_LT(text.size(), 2300u);
  EXPECT_NE(text.find("more bytes)"), std::string::npos) << text;
}

// Through real HTTP: what a client puts in a path cannot forge a log line, phone numbers in
// paths are masked in the access log, and the log stays valid UTF-8.
TEST(LoggerTest, AccessLogCannotBeForgedAndMasksPersonalData) {
  TempDir dir;
  const std::string file = dir.file("stderr.log");
  {
    CaptureStderr capture(file);
    std::string yaml = kernelYaml("sqlite:" + dir.file("k.db"));
    yaml.replace(yaml.find("access_log: false"), 17, "access_log: true");
    yaml.replace(yaml.find("log: {level: error}"), 19, "log: {level: info}");
    Kernel k(ConfigLoader::loadString(yaml, "test.yaml"));
    k.open();
    k.start();
    EXPECT_EQ(
        http(k.port(), "GET", "/nothing%0a2026-12-01T00:00:00.000Z%20info%20[-]%20http:%20FORGED")
            .status,
        404);
    EXPECT_EQ(http(k.port(), "GET", "/lookup/255712345678").status, 404);
    EXPECT_EQ(http(k.port(), "GET", "/admin/%ff%0d").status, 404);
    k.logger().flush();
  }
  std::string text = readFile(file);
  ASSERT_NE(text.find("FORGED"), std::string::npos) << text;  // it was logged, escaped
  for (const auto& l : lines(text)) {
    EXPECT_NE(l.rfind("2026-12-01T00:00:00.000Z", 0), 0u) << "a forged line: " << l;
    EXPECT_EQ(sanitizeForLog(l), l) << "a line with bytes the sanitiser would change";
    EXPECT_TRUE(l.size() > 24 && l[4] == '-' && l[10] == 'T')
        << "a line that is not the logger's: " << l;
    EXPECT_EQ(l.find("255712345678"), std::string::npos) << l;
  }
  EXPECT_NE(text.find("/lookup/*********678"), std::string::npos) << text;
  EXPECT_NE(text.find("/admin/\\xff\\r"), std::string::npos) << text;
}
