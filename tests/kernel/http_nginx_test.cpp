// The shipped contrib/nginx/malipo.conf in front of Malipo (Debian's nginx, loopback): a
// payment from order to settlement through it, the client address via the trusted proxy,
// the body cap, the metrics restriction and the request id. The file is used as shipped,
// only its ports changed.
#include <Poco/JSON/Parser.h>

#include "kernel_fixture.hpp"
#include "nginx.hpp"

using namespace malipo;
using namespace malipo::test;

namespace {

Poco::JSON::Object::Ptr parseObject(const std::string& s) {
  return Poco::JSON::Parser().parse(s).extract<Poco::JSON::Object::Ptr>();
}

// One request from the loopback address `source` (the whole response).
std::string send(std::uint16_t port, const char* source, const std::string& method,
                 const std::string& target, const std::string& body = "",
                 const std::string& headers = "") {
  Raw c(port, source);
  c.send(method + " " + target + " HTTP/1.1\r\nHost: pay.example.com\r\nConnection: close\r\n" +
         headers +
         (body.empty() && method == "GET" ? ""
                                          : "Content-Type: application/json\r\nContent-Length: " +
                                                std::to_string(body.size()) + "\r\n") +
         "\r\n" + body);
  auto rs = c.responses(1, 10000);
  return rs.empty() ? c.pending() : rs[0];
}

std::string headerOf(const std::string& response, const std::string& name) {
  std::size_t at = response.find("\r\n" + name + ": ");
  if (at == std::string::npos) return "";
  at += name.size() + 4;
  return response.substr(at, response.find("\r\n", at) - at);
}

// The shipped file with its listen port and upstream address changed (and nothing else).
std::string shippedConfig(std::uint16_t listen, std::uint16_t upstream) {
  std::string conf = readFile(std::string(MALIPO_SOURCE_DIR) + "/contrib/nginx/malipo.conf");
  auto replace = [&](const std::string& from, const std::string& to) {
    std::size_t at = conf.find(from);
    if (at != std::string::npos) conf.replace(at, from.size(), to);
    return at != std::string::npos;
  };
  EXPECT_TRUE(
      replace("server 127.0.0.1:8080;", "server 127.0.0.1:" + std::to_string(upstream) + ";"));
  EXPECT_TRUE(replace("    listen 80;", "    listen 127.0.0.1:" + std::to_string(listen) + ";"));
  return conf;
}

}  // namespace

TEST(Nginx, APaymentThroughTheShippedConfig) {
  if (findNginx().empty())
    GTEST_SKIP() << "nginx is not installed (scripts/setup.sh --test installs it)";
  TempDir dir;
  std::string yaml =
      "server: {listen: \"127.0.0.1:0\", access_log: false, trusted_proxies: [\"127.0.0.1/32\"]}\n"
      "database: {url: \"sqlite:" +
      dir.file("n.db") +
      "\"}\n"
      "auth: {jwt_secret: test-secret-0123456789abcdefghijklmnop}\n"
      "jobs: {workers: 2, poll_interval_ms: 20}\n"
      "log: {level: error}\n"
      "sandbox: true\n"
      "plugins:\n"
      "  - name: fakepay\n    library: " +
      testPluginPath("fakepay") +
      "\n    settings: {timeout_ms: 2000, allowed_ips: [\"127.0.0.3\"]}\n"
      "  - name: shop\n    library: " +
      testPluginPath("shop") + "\n    settings: {}\n";
  Kernel kernel(ConfigLoader::loadString(yaml, "n.yaml"));
  kernel.open();
  kernel.start();
  std::uint16_t port = freePort();
  Nginx nginx(dir, port, shippedConfig(port, kernel.port()));
  ASSERT_TRUE(nginx.up()) << nginx.errors();

  // The customer (at 127.0.0.3) orders, pays at the simulator, the provider's webhook
  // arrives: all through nginx.
  std::string r = send(port, "127.0.0.3", "POST", "/shop/orders",
                       R"({"amount_minor": 100000, "currency": "TZS", "providers": ["fakepay"]})");
  ASSERT_EQ(statusOf(r), 201) << r << nginx.errors();
  auto payment = parseObject(bodyOf(r))->getObject("payment");
  const std::string id = payment->getValue<std::string>("id");
  r = send(port, "127.0.0.3", "POST",
           "/sandbox/fakepay/orders/" + payment->getValue<std::string>("provider_ref") + "/pay",
           R"({"webhooks": 0})");
  ASSERT_EQ(statusOf(r), 200) << r;
  std::string webhook = parseObject(bodyOf(r))->getValue<std::string>("webhook_body");
  r = send(port, "127.0.0.4", "POST", "/webhooks/fakepay", webhook,
           "X-Fakepay-Signature: " + hmacSha256Hex("fake-secret", webhook) + "\r\n");
  EXPECT_EQ(statusOf(r), 200) << r;
  std::string status;
  EXPECT_TRUE(eventually([&] {
    std::string s = send(port, "127.0.0.3", "GET", "/shop/payments/" + id);
    status = statusOf(s) == 200 ? parseObject(bodyOf(s))->getValue<std::string>("status") : s;
    return status == "succeeded";
  })) << status;

  // The client address is the one nginx saw, whatever the client wrote in X-Forwarded-For.
  r = send(port, "127.0.0.3", "GET", "/sandbox/fakepay/allowlisted", "",
           "X-Forwarded-For: 127.0.0.9\r\n");
  EXPECT_EQ(statusOf(r), 200) << r;
  EXPECT_EQ(parseObject(bodyOf(r))->getValue<std::string>("client_ip"), "127.0.0.3");
  r = send(port, "127.0.0.5", "GET", "/sandbox/fakepay/allowlisted", "",
           "X-Forwarded-For: 127.0.0.3\r\n");
  EXPECT_EQ(statusOf(r), 403) << r;

  // nginx's request id reaches Malipo and comes back.
  std::string rid = headerOf(r, "X-Request-Id");
  EXPECT_EQ(rid.size(), 32u) << r;

  // Bodies above client_max_body_size are refused by nginx before Malipo buffers them.
  r = send(port, "127.0.0.3", "POST", "/shop/orders", std::string(2 << 20, 'x'));
  EXPECT_EQ(statusOf(r), 413) << r.substr(0, 300);

  // /metrics only for the addresses the file allows (loopback 127.0.0.1).
  EXPECT_EQ(statusOf(send(port, "127.0.0.3", "GET", "/metrics")), 403);
  r = send(port, "127.0.0.1", "GET", "/metrics");
  EXPECT_EQ(statusOf(r), 200);
  EXPECT_NE(
      r.find("malipo_payments_transitions_total{provider=\"fakepay\",status=\"succeeded\"} 1"),
      std::string::npos)
      << r.substr(0, 2000);
}
