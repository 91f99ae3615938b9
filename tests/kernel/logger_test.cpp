// The kernel logger: per-thread buffers merged back into the order the lines were logged.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fcntl.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "app/KernelLogger.hpp"
#include "app/LogContext.hpp"
#include "support/TestSupport.hpp"

using namespace malipo;
using namespace malipo::test;

namespace {
// Sends stderr to a file for the life of the object.
class CaptureStderr {
 public:
  explicit CaptureStderr(const std::string& path) {
    std::fflush(stderr);
    saved_ = dup(2);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
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
      ASSERT_EQ(got[i].substr(got[i].rfind(' ') + 1), std::to_string(i)) << "line " << i << ": " << got[i];
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
