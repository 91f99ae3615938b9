#include <Poco/JSON/Parser.h>

#include <thread>
#include <vector>

#include "kernel_fixture.hpp"
#include "plugins/Abi.hpp"

using namespace malipo;
using namespace malipo::test;

namespace {
Poco::JSON::Object::Ptr parse(const std::string& s) {
  return Poco::JSON::Parser().parse(s).extract<Poco::JSON::Object::Ptr>();
}
}  // namespace

class HttpTest : public KernelFixture {};

TEST_F(HttpTest, RoutesFromAPluginWithParams) {
  auto r = http(port_, "GET", "/test/hello/amina");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(parse(r.body)->getValue<std::string>("greeting"), "jambo, amina");
}

TEST_F(HttpTest, NotFoundAndMethodNotAllowedAreJson) {
  auto nf = http(port_, "GET", "/nowhere");
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(parse(nf.body)->getValue<std::string>("error"), "not_found");
  auto na = http(port_, "DELETE", "/test/hello/x");
  EXPECT_EQ(na.status, 405);
  EXPECT_EQ(na.header("Allow"), "GET");
  EXPECT_EQ(parse(na.body)->getValue<std::string>("error"), "method_not_allowed");
}

TEST_F(HttpTest, RequestIdAcceptedOrGeneratedAndEchoed) {
  auto mine = http(port_, "GET", "/test/hello/x", "", {{"X-Request-Id", "req-42.a_b"}});
  EXPECT_EQ(mine.header("X-Request-Id"), "req-42.a_b");
  EXPECT_EQ(parse(mine.body)->getValue<std::string>("request_id"), "req-42.a_b");
  auto bad = http(port_, "GET", "/test/hello/x", "", {{"X-Request-Id", "evil\"id with spaces"}});
  EXPECT_EQ(bad.header("X-Request-Id").size(), 36u);  // replaced by a UUID
  auto gen = http(port_, "GET", "/test/hello/x");
  EXPECT_EQ(gen.header("X-Request-Id").size(), 36u);
}

TEST_F(HttpTest, HandlerExceptionBecomes500WithRequestId) {
  auto r = http(port_, "GET", "/test/throws", "", {{"X-Request-Id", "trace-me"}});
  EXPECT_EQ(r.status, 500);
  auto o = parse(r.body);
  EXPECT_EQ(o->getValue<std::string>("error"), "internal");
  EXPECT_EQ(o->getValue<std::string>("request_id"), "trace-me");
  EXPECT_EQ(r.body.find("boom"), std::string::npos);      // internals stay in the log
  EXPECT_EQ(http(port_, "GET", "/healthz").status, 200);  // the server is fine
}

TEST_F(HttpTest, BodyLimitGives413) {
  auto ok = http(port_, "POST", "/test/echo", std::string(64, 'a'));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, std::string(64, 'a'));
  auto big = http(port_, "POST", "/test/echo", std::string(65, 'a'));
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(parse(big.body)->getValue<std::string>("error"), "payload_too_large");
}

TEST_F(HttpTest, RateLimitGives429WithRetryAfter) {
  EXPECT_EQ(http(port_, "GET", "/test/limited").status, 200);
  EXPECT_EQ(http(port_, "GET", "/test/limited").status, 200);
  auto r = http(port_, "GET", "/test/limited");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.header("Retry-After"), "1");
  EXPECT_EQ(parse(r.body)->getValue<std::string>("error"), "rate_limited");
  EXPECT_EQ(http(port_, "GET", "/test/hello/x").status, 200);  // other buckets unaffected
}

TEST_F(HttpTest, JwtRequiredOptionalAndRejected) {
  EXPECT_EQ(http(port_, "GET", "/test/me").status, 401);
  std::string good = makeJwt("test-secret-0123456789abcdefghijklmnop", "user-7", 3600);
  auto me = http(port_, "GET", "/test/me", "", {{"Authorization", "Bearer " + good}});
  EXPECT_EQ(me.status, 200);
  EXPECT_EQ(parse(me.body)->getValue<std::string>("user"), "user-7");
  std::string expired = makeJwt("test-secret-0123456789abcdefghijklmnop", "user-7", -10);
  EXPECT_EQ(http(port_, "GET", "/test/me", "", {{"Authorization", "Bearer " + expired}}).status,
            401);
  std::string forged = makeJwt("other-secret", "user-7", 3600);
  EXPECT_EQ(http(port_, "GET", "/test/me", "", {{"Authorization", "Bearer " + forged}}).status,
            401);
  EXPECT_EQ(http(port_, "GET", "/test/me", "", {{"Authorization", "Bearer not.a.jwt"}}).status,
            401);
  // alg=none must never pass.
  std::string none =
      "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1c2VyLTciLCJleHAiOjk5OTk5OTk5OTl9.";
  EXPECT_EQ(http(port_, "GET", "/test/me", "", {{"Authorization", "Bearer " + none}}).status, 401);
  auto anon = http(port_, "GET", "/test/maybe-me");
  EXPECT_EQ(parse(anon.body)->getValue<std::string>("user"), "anonymous");
  auto opt = http(port_, "GET", "/test/maybe-me", "", {{"Authorization", "Bearer " + good}});
  EXPECT_EQ(parse(opt.body)->getValue<std::string>("user"), "user-7");
  EXPECT_EQ(
      http(port_, "GET", "/test/maybe-me", "", {{"Authorization", "Bearer " + forged}}).status,
      401);
}

TEST_F(HttpTest, AdminTokenGuardsAdminRoutes) {
  EXPECT_EQ(http(port_, "GET", "/admin/jobs").status, 401);
  EXPECT_EQ(http(port_, "GET", "/admin/jobs", "", {{"Authorization", "Bearer wrong"}}).status, 401);
  auto ok = http(port_, "GET", "/admin/jobs", "",
                 {{"Authorization", "Bearer admin-token-0123456789abcdefghijklmnop"}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_TRUE(parse(ok.body)->has("jobs"));
  auto plugins = http(port_, "GET", "/admin/plugins", "",
                      {{"Authorization", "Bearer admin-token-0123456789abcdefghijklmnop"}});
  EXPECT_NE(plugins.body.find("\"testplugin\""), std::string::npos);
  EXPECT_NE(plugins.body.find("1.2.3"), std::string::npos);
}

// Named admin tokens: each request acts as the token's name; a viewer reads but never acts.
TEST_F(HttpTest, NamedAdminTokensActAsTheirNameAndViewersOnlyRead) {
  auto as = [&](const std::string& method, const std::string& token) {
    return http(port_, method, "/test/admin/actor", method == "POST" ? "{}" : "",
                {{"Authorization", "Bearer " + token}});
  };
  auto legacy = as("POST", "admin-token-0123456789abcdefghijklmnop");
  ASSERT_EQ(legacy.status, 200) << legacy.body;
  EXPECT_EQ(parse(legacy.body)->getValue<std::string>("actor"), "admin");
  auto alice = as("POST", "alice-operator-token-0123456789abcdef");
  ASSERT_EQ(alice.status, 200) << alice.body;
  EXPECT_EQ(parse(alice.body)->getValue<std::string>("actor"), "alice");
  auto victorReads = as("GET", "victor-viewer-token-0123456789abcdefgh");
  ASSERT_EQ(victorReads.status, 200) << victorReads.body;
  EXPECT_EQ(parse(victorReads.body)->getValue<std::string>("actor"), "victor");
  auto victorActs = as("POST", "victor-viewer-token-0123456789abcdefgh");
  EXPECT_EQ(victorActs.status, 403);
  EXPECT_NE(victorActs.body.find("may only read"), std::string::npos) << victorActs.body;
  // A kernel action route refuses the viewer before it runs.
  EXPECT_EQ(http(port_, "POST", "/admin/jobs/1/retry", "",
                 {{"Authorization", "Bearer victor-viewer-token-0123456789abcdefgh"}})
                .status,
            403);
  EXPECT_EQ(as("GET", "victor-viewer-token-0123456789abcdefgh-").status, 401);
  EXPECT_EQ(as("GET", "").status, 401);
}

TEST_F(HttpTest, CorsForAllowedOriginsOnly) {
  auto pre = http(port_, "OPTIONS", "/test/hello/x", "",
                  {{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "GET"}});
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(pre.header("Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_NE(pre.header("Access-Control-Allow-Headers").find("Idempotency-Key"), std::string::npos);
  auto get = http(port_, "GET", "/test/hello/x", "", {{"Origin", "https://app.example"}});
  EXPECT_EQ(get.header("Access-Control-Allow-Origin"), "https://app.example");
  auto other = http(port_, "GET", "/test/hello/x", "", {{"Origin", "https://evil.example"}});
  EXPECT_EQ(other.header("Access-Control-Allow-Origin"), "");
}

TEST_F(HttpTest, HealthReadyAndMetrics) {
  EXPECT_EQ(http(port_, "GET", "/healthz").status, 200);
  auto ready = http(port_, "GET", "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(parse(ready.body)->getValue<std::string>("status"), "ready");
  http(port_, "GET", "/test/hello/metrics");
  auto m = http(port_, "GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(
      m.body.find(
          "malipo_http_requests_total{method=\"GET\",route=\"/test/hello/{name}\",status=\"200\"}"),
      std::string::npos)
      << m.body;
  EXPECT_NE(
      m.body.find(
          "malipo_http_request_duration_seconds_bucket{route=\"/test/hello/{name}\",le=\"+Inf\"}"),
      std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("malipo_jobs{state=\"queued\"}"), std::string::npos);
  EXPECT_NE(m.body.find("malipo_plugin_info{plugin=\"testplugin\",sdk=\"" + kernelSdkVersion() +
                        "\",version=\"1.2.3\"} 1"),
            std::string::npos);
  // A plugin's collector runs at each scrape.
  EXPECT_NE(m.body.find("\nmalipo_testplugin_runs 0\n"), std::string::npos) << m.body;
  kernel_->store().exec("INSERT INTO test_runs (job_id, note, pid) VALUES (1, 'x', 1)");
  EXPECT_NE(http(port_, "GET", "/metrics").body.find("\nmalipo_testplugin_runs 1\n"),
            std::string::npos);
}

TEST_F(HttpTest, RequestMetricsAddUpOverThreadsAndRoutes) {
  // Requests land on many server threads (each counts in its own shard) and alternate
  // between routes and statuses; /metrics must show the exact totals.
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t)
    clients.emplace_back([this] {
      for (int i = 0; i < 20; ++i) {
        http(port_, "GET", "/test/hello/m" + std::to_string(i));
        http(port_, "GET", "/nowhere/at/all");
      }
    });
  for (auto& c : clients) c.join();
  auto m = http(port_, "GET", "/metrics").body;
  EXPECT_NE(m.find("malipo_http_requests_total{method=\"GET\",route=\"/test/hello/"
                   "{name}\",status=\"200\"} 120\n"),
            std::string::npos)
      << m;
  EXPECT_NE(
      m.find("malipo_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 120\n"),
      std::string::npos)
      << m;
  EXPECT_NE(
      m.find("malipo_http_request_duration_seconds_count{route=\"/test/hello/{name}\"} 120\n"),
      std::string::npos)
      << m;
}

TEST_F(HttpTest, PagesEscapeUserInput) {
  auto r = http(port_, "GET", "/test/page?name=%3Cscript%3Ealert(1)%3C%2Fscript%3E");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.header("Content-Type").find("text/html"), std::string::npos);
  EXPECT_EQ(r.body.find("<script>alert"), std::string::npos);
  EXPECT_NE(r.body.find("&lt;script&gt;"), std::string::npos);
  EXPECT_NE(r.body.find("name=\"viewport\""), std::string::npos);
}

TEST_F(HttpTest, JobsRunThroughThePluginHandler) {
  auto r = http(port_, "POST", "/test/jobs", "{\"note\":\"hi\",\"unique\":\"u1\"}");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(http(port_, "POST", "/test/jobs", "{\"note\":\"hi\",\"unique\":\"u1\"}").status, 200);
  ASSERT_TRUE(eventually([&] {
    return kernel_->store().query("SELECT COUNT(*) AS n FROM test_runs").i64(0, "n") == 1;
  }));
}

TEST_F(HttpTest, KeepAliveConnectionServesManyRequests) {
  Poco::Net::HTTPClientSession s("127.0.0.1", port_);
  for (int i = 0; i < 20; ++i) {
    auto r = getKeepingAlive(s, "/healthz");
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(r.header("Connection"), "Keep-Alive");
  }
}
