// The connection layer over real sockets: strict HTTP/1.1 framing (RFC 9112), pipelining,
// header/idle timeouts, connection caps, and health routes that keep answering while
// thousands of idle, slowloris and slow-upload connections are open.
#include <sys/resource.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "kernel_fixture.hpp"
#include "raw_socket.hpp"

using namespace malipo;
using namespace malipo::test;

namespace {

std::string yamlWith(const std::string& dbUrl, const std::string& serverExtra) {
  std::string y = kernelYaml(dbUrl);
  y.replace(y.find("  access_log: false\n"), 20, "  access_log: false\n" + serverExtra);
  return y;
}

}  // namespace

class ConnTest : public ::testing::Test {
 protected:
  void boot(const std::string& serverExtra = "") {
    kernel_ = std::make_unique<Kernel>(
        ConfigLoader::loadString(yamlWith("sqlite:" + dir_.file("c.db"), serverExtra), "c.yaml"));
    kernel_->open();
    kernel_->start();
    port_ = kernel_->port();
  }
  void SetUp() override {}
  void TearDown() override { kernel_.reset(); }

  // Sends `request` on a fresh connection: expects one 400 and the connection closed, and
  // nothing else answered (no request smuggled behind it).
  void expectRefused(const std::string& request, int status = 400) {
    Raw c(port_);
    ASSERT_TRUE(c.connected());
    c.send(request);
    auto rs = c.responses(2, 1500);
    ASSERT_GE(rs.size(), 1u) << request;
    EXPECT_EQ(statusOf(rs[0]), status) << rs[0];
    EXPECT_EQ(rs.size(), 1u) << "a second answer came back: " << rs.back();
    EXPECT_NE(rs[0].find("Connection: close"), std::string::npos) << rs[0];
    EXPECT_TRUE(c.closedWithin(3000)) << request;
  }

  TempDir dir_;
  std::unique_ptr<Kernel> kernel_;
  std::uint16_t port_ = 0;
};

TEST_F(ConnTest, FramingConflictingContentLengths) {
  boot();
  expectRefused(
      "POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde"
      "GET /test/hello/smuggled HTTP/1.1\r\nHost: x\r\n\r\n");
}

TEST_F(ConnTest, FramingDuplicateEqualContentLength) {
  boot();
  expectRefused(
      "POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc");
  expectRefused("POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc");
}

TEST_F(ConnTest, FramingContentLengthWithTransferEncoding) {
  boot();
  // The classic CL.TE smuggling: a front end reading Content-Length and a back end reading
  // chunked would see different requests. Refused whole.
  expectRefused(
      "POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: "
      "chunked\r\n\r\n"
      "0\r\n\r\nGET /test/hello/smuggled HTTP/1.1\r\nHost: x\r\n\r\n");
  expectRefused(
      "POST /test/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: "
      "4\r\n\r\n0\r\n\r\n");
}

TEST_F(ConnTest, FramingNegativeContentLength) {
  boot();
  expectRefused("POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n");
}

TEST_F(ConnTest, FramingNonNumericContentLength) {
  boot();
  expectRefused("POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n");
  expectRefused("POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc");
}

TEST_F(ConnTest, FramingObsFold) {
  boot();
  expectRefused("GET /test/hello/x HTTP/1.1\r\nHost: x\r\nX-Long: first\r\n second\r\n\r\n");
}

TEST_F(ConnTest, FramingHeaderWithoutColon) {
  boot();
  expectRefused("GET /test/hello/x HTTP/1.1\r\nHost: x\r\nThisLineHasNoColon\r\n\r\n");
  expectRefused("GET /test/hello/x HTTP/1.1\r\nHost: x\r\nX-Space : before colon\r\n\r\n");
}

TEST_F(ConnTest, FramingBadRequestLineBytes) {
  boot();
  expectRefused(std::string("GET /test/he\x01llo HTTP/1.1\r\nHost: x\r\n\r\n"));
  expectRefused("GET /test/hello x HTTP/1.1\r\nHost: x\r\n\r\n");
  expectRefused("G@T /test/hello/x HTTP/1.1\r\nHost: x\r\n\r\n");
  expectRefused("GET /test/hello/x HTTP/9.9\r\nHost: x\r\n\r\n");
  expectRefused("GET /test/hello/x HTTP/1.1\nHost: x\n\n");  // bare LF
}

TEST_F(ConnTest, FramingOtherTransferCodingsAndControlBytes) {
  boot();
  expectRefused(
      "POST /test/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n");
  expectRefused(
      "POST /test/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
      "chunked\r\n\r\n0\r\n\r\n");
  expectRefused(std::string("GET /test/hello/x HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n"));
  expectRefused("GET /test/hello/x HTTP/1.1\r\n\r\n");  // HTTP/1.1 without Host
  expectRefused(
      "POST /test/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
      "chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n");
}

TEST_F(ConnTest, HeaderBlockCapIs431) {
  boot("  max_header_bytes: 4096\n");
  expectRefused(
      "GET /test/hello/x HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(5000, 'a') + "\r\n\r\n",
      431);
  // Under the cap: fine.
  Raw c(port_);
  c.send("GET /test/hello/x HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(3000, 'a') + "\r\n\r\n");
  auto rs = c.responses(1);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(statusOf(rs[0]), 200);
}

TEST_F(ConnTest, PipelinedRequestsAnsweredInOrder) {
  boot();
  Raw c(port_);
  std::string all;
  for (int i = 0; i < 5; ++i)
    all += "GET /test/hello/n" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  all += "POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
  all +=
      "POST /test/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
      "chunked\r\n\r\n2\r\nde\r\n1;ext=1\r\nf\r\n0\r\nX-T: 1\r\n\r\n";
  all += "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(c.send(all));
  auto rs = c.responses(8);
  ASSERT_EQ(rs.size(), 8u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(statusOf(rs[static_cast<std::size_t>(i)]), 200);
    EXPECT_NE(bodyOf(rs[static_cast<std::size_t>(i)]).find("n" + std::to_string(i)),
              std::string::npos)
        << rs[static_cast<std::size_t>(i)];
  }
  EXPECT_EQ(bodyOf(rs[5]), "abc");
  EXPECT_EQ(bodyOf(rs[6]), "def");
  EXPECT_EQ(bodyOf(rs[7]), "{\"status\":\"ok\"}");
}

TEST_F(ConnTest, SlowHeaderGets408AndIdleKeepAliveIsClosed) {
  boot("  header_timeout_ms: 400\n  idle_timeout_ms: 700\n");
  Raw slow(port_);
  slow.send("GET /test/hello/x HTTP/1.1\r\nHo");
  auto started = std::chrono::steady_clock::now();
  auto rs = slow.responses(1, 3000);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(statusOf(rs[0]), 408) << rs[0];
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(350));
  EXPECT_TRUE(slow.closedWithin(3000));

  Raw idle(port_);
  idle.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(idle.responses(1).size(), 1u);
  // Keep-alive with nothing more: closed, quietly, after the idle timeout.
  started = std::chrono::steady_clock::now();
  EXPECT_TRUE(idle.closedWithin(3000));
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(500));
  EXPECT_EQ(idle.pending(), "");
  auto m = http(port_, "GET", "/metrics").body;
  EXPECT_NE(m.find("malipo_http_connections_timed_out_total 1"), std::string::npos) << m;
  EXPECT_NE(m.find("malipo_http_connections_idle_closed_total 1"), std::string::npos) << m;
}

TEST_F(ConnTest, ConnectionCapsRefuseAtAcceptAndAreCounted) {
  boot("  max_connections_per_client: 5\n");
  std::vector<std::unique_ptr<Raw>> held;
  for (int i = 0; i < 5; ++i) held.push_back(std::make_unique<Raw>(port_));
  // Wait until the server has accepted them all.
  ASSERT_TRUE(eventually([&] {
    Raw probe(port_);
    return probe.closedWithin(300);  // the 6th is closed at once
  }));
  Raw extra(port_);
  EXPECT_TRUE(extra.closedWithin(2000));
  held.pop_back();
  held.pop_back();  // two free slots: one for the metrics request
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto r = http(port_, "GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(
      r.body.find("malipo_http_connections_refused_total{limit=\"max_connections_per_client\"} "),
      std::string::npos);
  EXPECT_EQ(
      r.body.find("malipo_http_connections_refused_total{limit=\"max_connections_per_client\"} 0"),
      std::string::npos)
      << r.body;
}

TEST_F(ConnTest, MaxConnectionsRefusesTheExcess) {
  boot("  max_connections: 4\n");
  std::vector<std::unique_ptr<Raw>> held;
  for (int i = 0; i < 4; ++i) held.push_back(std::make_unique<Raw>(port_));
  ASSERT_TRUE(eventually([&] {
    Raw probe(port_);
    return probe.closedWithin(300);
  }));
  held.clear();
  ASSERT_TRUE(eventually([&] { return http(port_, "GET", "/healthz").status == 200; }));
  auto m = http(port_, "GET", "/metrics").body;
  EXPECT_EQ(m.find("malipo_http_connections_refused_total{limit=\"max_connections\"} 0"),
            std::string::npos)
      << m;
}

TEST_F(ConnTest, HealthAnswersUnderIdleSlowlorisAndSlowUploads) {
  boot();  // the kernel raises this process's descriptor limit to the hard limit
  // Both ends of every connection live in this process: 2,000 idle connections need 4,000+
  // descriptors. Fewer when the hard limit does not allow it (said so in the output).
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  const int nIdle =
      static_cast<int>(std::min<rlim_t>(2000, rl.rlim_cur > 1000 ? (rl.rlim_cur - 600) / 2 : 200));
  std::vector<std::unique_ptr<Raw>> idle, loris, uploads;
  for (int i = 0; i < nIdle; ++i) {
    idle.push_back(std::make_unique<Raw>(port_));
    ASSERT_TRUE(idle.back()->connected()) << i;
  }
  for (int i = 0; i < 64; ++i) {
    loris.push_back(std::make_unique<Raw>(port_));
    loris.back()->send("GET /test/hello/x HTTP/1.1\r\n");
  }
  for (int i = 0; i < 40; ++i) {
    uploads.push_back(std::make_unique<Raw>(port_));
    uploads.back()->send(
        "POST /test/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
        "1000000\r\n\r\n{");
  }
  // All of them are open at the server (accepted, not waiting in the backlog).
  auto openNow = [&] {
    auto m = http(port_, "GET", "/metrics").body;
    std::size_t at = m.find("\nmalipo_http_connections_open ");
    return at == std::string::npos ? 0 : std::stoi(m.substr(at + 30));
  };
  ASSERT_TRUE(eventually([&] { return openNow() >= nIdle + 104; })) << openNow();
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    const std::string chunk(1024, ' ');
    while (!stop) {
      for (auto& l : loris) l->send("X-a: b\r\n");
      for (auto& u : uploads) u->send(chunk);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  std::vector<double> ms;
  int ok = 0, plugin = 0;
  for (int i = 0; i < 100; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    ok += http(port_, "GET", "/healthz").status == 200;
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (i % 10 == 0)
      plugin += http(port_, "GET", "/test/hello/busy").status == 200;  // a worker-pool route
  }
  stop = true;
  trickle.join();
  std::sort(ms.begin(), ms.end());
  double p99 = ms[98];
  std::cout << "healthz under " << nIdle << " idle + 64 slowloris + 40 slow uploads: p50 " << ms[50]
            << " ms, p99 " << p99 << " ms\n";
  EXPECT_EQ(ok, 100);
  EXPECT_EQ(plugin, 10);
  // The target is 100 ms; loose here so two busy cores shared with other builds never flake.
  EXPECT_LT(p99, 1000.0);
  auto m = http(port_, "GET", "/metrics").body;
  EXPECT_NE(m.find("malipo_http_connections_open "), std::string::npos);
}

TEST_F(ConnTest, BodyTooLargeIs413AndTheClientSeesIt) {
  boot("  max_body_bytes: 1000\n");
  Raw c(port_);
  c.send("POST /test/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 50000\r\n\r\n" +
         std::string(20000, 'a'));
  auto rs = c.responses(1, 3000);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(statusOf(rs[0]), 413);
  // Expect: 100-continue with a body too large: 413 before the body is sent.
  Raw e(port_);
  e.send(
      "POST /test/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 50000\r\nExpect: "
      "100-continue\r\n\r\n");
  rs = e.responses(1, 3000);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(statusOf(rs[0]), 413);
  // Within the cap with Expect: 100-continue: 100 first, then the answer.
  Raw ok(port_);
  ok.send(
      "POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
  std::string cont = ok.readFor(500);
  EXPECT_EQ(cont.rfind("HTTP/1.1 100 Continue\r\n\r\n", 0), 0u) << cont;
  ok.send("abc");
  rs = ok.responses(1, 3000);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(bodyOf(rs[0]), "abc");
}

TEST_F(ConnTest, JsonBodiesAreValidUtf8) {
  boot();
  // The 404 message echoes the decoded path: %ff is not UTF-8 and becomes U+FFFD.
  auto r = http(port_, "GET", "/admin/%ff%fe/x%c3");
  EXPECT_EQ(r.status, 404);
  std::string b = r.body;
  EXPECT_EQ(b.find('\xff'), std::string::npos) << b;
  EXPECT_NE(b.find("\xEF\xBF\xBD"), std::string::npos) << b;
  std::string copy = b;
  EXPECT_FALSE(sanitizeUtf8(copy));  // already valid
  EXPECT_NO_THROW(Poco::JSON::Parser().parse(b));
  // Valid multi-byte text is untouched.
  auto ok = http(port_, "GET", "/nowhere/%C3%A9t%C3%A9");
  EXPECT_NE(ok.body.find("\xC3\xA9t\xC3\xA9"), std::string::npos) << ok.body;
}

TEST_F(ConnTest, HealthRoutesAreNeverRateLimited) {
  boot();
  kernel_.reset();
  std::string y = yamlWith("sqlite:" + dir_.file("rl.db"), "");
  y.replace(y.find("default: {requests_per_minute: 100000, burst: 10000}"), 52,
            "default: {requests_per_minute: 60, burst: 3}");
  kernel_ = std::make_unique<Kernel>(ConfigLoader::loadString(y, "rl.yaml"));
  kernel_->open();
  kernel_->start();
  port_ = kernel_->port();
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(http(port_, "GET", "/healthz").status, 200) << i;
    ASSERT_EQ(http(port_, "GET", "/readyz").status, 200) << i;
    ASSERT_EQ(http(port_, "GET", "/metrics").status, 200) << i;
  }
  int limited = 0;
  for (int i = 0; i < 6; ++i) limited += http(port_, "GET", "/test/hello/x").status == 429;
  EXPECT_GE(limited, 2);  // other routes are
}

TEST_F(ConnTest, DrainingAnswersCarryConnectionClose) {
  boot();
  HttpResult slow;
  std::thread t([&] { slow = http(port_, "GET", "/test/slow?ms=600"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Raw idle(port_);  // an idle keep-alive connection: closed at once when draining starts
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto started = std::chrono::steady_clock::now();
  std::thread stopper([&] { kernel_->shutdown(); });
  EXPECT_TRUE(idle.closedWithin(2000));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(550));
  t.join();
  stopper.join();
  EXPECT_EQ(slow.status, 200);
  EXPECT_EQ(slow.header("Connection"), "close");
}

TEST_F(ConnTest, BodiesInMemoryAreCappedServerWide) {
  boot("  max_buffered_body_bytes: 3000\n");
  auto upload = [&](Raw& c) {
    c.send("POST /test/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n{");
  };
  auto holder = std::make_unique<Raw>(port_);
  upload(*holder);  // 2,000 bytes reserved while its body trickles in
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Raw second(port_);
  upload(second);  // 2,000 more would pass 3,000: refused at once, body unread
  auto rs = second.responses(1, 3000);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(statusOf(rs[0]), 503) << rs[0];
  EXPECT_NE(rs[0].find("Retry-After: 1\r\n"), std::string::npos) << rs[0];
  EXPECT_TRUE(second.closedWithin(3000));
  holder.reset();  // its reservation is given back when its connection closes
  ASSERT_TRUE(eventually([&] {
    Raw third(port_);
    upload(third);
    third.send(std::string(1999, ' '));
    auto r = third.responses(1, 3000);
    return !r.empty() && statusOf(r[0]) != 503;
  }));
  EXPECT_NE(http(port_, "GET", "/metrics").body.find("malipo_http_body_budget_refused_total 1"),
            std::string::npos);
}
