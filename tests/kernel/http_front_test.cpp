// The HTTP front's security and operations items over real HTTP: the client address behind
// trusted proxies (also through a real nginx when installed), strict JWT parsing, provider
// bulkheads, and a second server on a port already in use.
#include <Poco/Base64Encoder.h>
#include <Poco/File.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/ServerSocket.h>
#include <openssl/hmac.h>

#include <future>
#include <sstream>
#include <thread>

#include "http/ClientAddress.hpp"
#include "kernel_fixture.hpp"
#include "nginx.hpp"
#include "raw_socket.hpp"

using namespace malipo;
using namespace malipo::test;

namespace {

Poco::JSON::Object::Ptr parse(const std::string& s) {
  return Poco::JSON::Parser().parse(s).extract<Poco::JSON::Object::Ptr>();
}

// One GET from `source` with the given extra header lines; the whole response.
std::string getFrom(std::uint16_t port, const char* source, const std::string& target,
                    const std::string& headers = "") {
  Raw c(port, source);
  c.send("GET " + target + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" + headers + "\r\n");
  auto rs = c.responses(1, 5000);
  return rs.empty() ? "" : rs[0];
}

std::string clientIpOf(const std::string& response) {
  auto o = parse(bodyOf(response));
  return o->getValue<std::string>("client_ip");
}

std::string frontYaml(const std::string& dbUrl, const std::string& trusted,
                      const std::string& allowed) {
  return "server:\n"
         "  listen: 127.0.0.1:0\n"
         "  access_log: false\n"
         "  trusted_proxies: " +
         trusted +
         "\n"
         "  rate_limits:\n"
         "    default: {requests_per_minute: 100000, burst: 10000}\n"
         "    buckets: {tight: {requests_per_minute: 60, burst: 2}}\n"
         "database: {url: \"" +
         dbUrl +
         "\"}\n"
         "auth: {jwt_secret: test-secret-0123456789abcdefghijklmnop}\n"
         "jobs: {workers: 1, poll_interval_ms: 20}\n"
         "log: {level: error}\n"
         "sandbox: true\n"
         "plugins:\n"
         "  - name: testplugin\n    library: " +
         testPluginPath("testplugin") +
         "\n    settings: {greeting: jambo}\n"
         "  - name: fakepay\n    library: " +
         testPluginPath("fakepay") + "\n    settings: {allowed_ips: " + allowed + "}\n";
}

class Front {
 public:
  Front(const std::string& trusted, const std::string& allowed = "[\"203.0.113.7\"]") {
    kernel = std::make_unique<Kernel>(ConfigLoader::loadString(
        frontYaml("sqlite:" + dir.file("f.db"), trusted, allowed), "f.yaml"));
    kernel->open();
    kernel->start();
    port = kernel->port();
  }
  TempDir dir;
  std::unique_ptr<Kernel> kernel;
  std::uint16_t port = 0;
};

std::string b64url(const std::string& in) {
  std::ostringstream os;
  Poco::Base64Encoder enc(os, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
  enc << in;
  enc.close();
  return os.str();
}

// A JWT with exactly the header and payload given, signed with HMAC (sha256 or sha512).
std::string jwt(const std::string& header, const std::string& payload,
                const std::string& secret = "test-secret-0123456789abcdefghijklmnop",
                const EVP_MD* md = EVP_sha256()) {
  std::string signingInput = b64url(header) + "." + b64url(payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signingInput.data()), signingInput.size(), mac, &len);
  return signingInput + "." + b64url(std::string(reinterpret_cast<char*>(mac), len));
}

std::int64_t nowSec() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

std::string claims(const std::string& extra, std::int64_t expIn = 3600) {
  return "{\"sub\":\"user-7\",\"exp\":" + std::to_string(nowSec() + expIn) +
         (extra.empty() ? "" : "," + extra) + "}";
}

const std::string kHs256 = R"({"alg":"HS256","typ":"JWT"})";

}  // namespace

// ---- the client address --------------------------------------------------------------

TEST(ClientAddress, RightmostUntrustedHopAndCidrs) {
  TrustedProxies p({"127.0.0.1/32", "10.0.0.0/8", "2001:db8::/32"});
  EXPECT_TRUE(p.contains("10.200.3.4"));
  EXPECT_TRUE(p.contains("::ffff:10.1.1.1"));  // IPv4-mapped
  EXPECT_TRUE(p.contains("2001:db8:1::5"));
  EXPECT_FALSE(p.contains("2001:db9::5"));
  EXPECT_FALSE(p.contains("11.0.0.1"));
  // Untrusted peer: the socket address, whatever the header says.
  EXPECT_EQ(clientAddress("198.51.100.9", "203.0.113.7", p), "198.51.100.9");
  // Trusted peer: the rightmost entry that is not a trusted proxy.
  EXPECT_EQ(clientAddress("127.0.0.1", "203.0.113.7, 198.51.100.9, 10.0.0.5", p), "198.51.100.9");
  EXPECT_EQ(clientAddress("127.0.0.1", "2001:db8::1, [2a00:1450::1]:443", p), "2a00:1450::1");
  EXPECT_EQ(clientAddress("127.0.0.1", "198.51.100.9:5123", p), "198.51.100.9");
  // Only proxies in the chain: the leftmost of them.
  EXPECT_EQ(clientAddress("127.0.0.1", "10.0.0.9, 10.0.0.5", p), "10.0.0.9");
  // Garbage stops the walk at the proxy that passed it on.
  EXPECT_EQ(clientAddress("127.0.0.1", "203.0.113.7, unknown, 10.0.0.5", p), "10.0.0.5");
  EXPECT_EQ(clientAddress("127.0.0.1", "", p), "127.0.0.1");
  EXPECT_THROW(TrustedProxies({"10.0.0.0/33"}), std::invalid_argument);
  EXPECT_THROW(TrustedProxies({"not-an-ip"}), std::invalid_argument);
}

TEST(ClientAddressHttp, ForgedForwardedForFromAnUntrustedClientDoesNotPassAnAllowList) {
  Front f("[]");
  // No trusted proxy: the header is ignored.
  std::string r = getFrom(f.port, "127.0.0.1", "/sandbox/fakepay/allowlisted",
                          "X-Forwarded-For: 203.0.113.7\r\n");
  EXPECT_EQ(statusOf(r), 403) << r;
  EXPECT_EQ(clientIpOf(r), "127.0.0.1");
  Front g("[\"127.0.0.1/32\"]");
  // A peer that is not the trusted proxy: its header is ignored too.
  r = getFrom(g.port, "127.0.0.2", "/sandbox/fakepay/allowlisted",
              "X-Forwarded-For: 203.0.113.7\r\n");
  EXPECT_EQ(statusOf(r), 403) << r;
  EXPECT_EQ(clientIpOf(r), "127.0.0.2");
}

TEST(ClientAddressHttp, BehindATrustedProxyTheAddressItAppendedIsUsed) {
  Front f("[\"127.0.0.1/32\", \"10.0.0.0/8\"]");
  // The proxy (127.0.0.1) appended 203.0.113.7: allowed.
  std::string r = getFrom(f.port, "127.0.0.1", "/sandbox/fakepay/allowlisted",
                          "X-Forwarded-For: 203.0.113.7\r\n");
  EXPECT_EQ(statusOf(r), 200) << r;
  // The client wrote the allow-listed address itself; the proxy appended the real one.
  r = getFrom(f.port, "127.0.0.1", "/sandbox/fakepay/allowlisted",
              "X-Forwarded-For: 203.0.113.7, 198.51.100.9\r\n");
  EXPECT_EQ(statusOf(r), 403) << r;
  EXPECT_EQ(clientIpOf(r), "198.51.100.9");
  // Two header lines are one list; an inner proxy hop (10/8) is skipped.
  r = getFrom(f.port, "127.0.0.1", "/sandbox/fakepay/allowlisted",
              "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-For: 198.51.100.9, 10.1.2.3\r\n");
  EXPECT_EQ(clientIpOf(r), "198.51.100.9");
}

TEST(ClientAddressHttp, RateLimitsUseTheSameClientAddress) {
  {
    // Untrusted: forging a new X-Forwarded-For per request does not buy a fresh bucket.
    Front f("[]");
    int limited = 0;
    for (int i = 0; i < 4; ++i)
      limited +=
          statusOf(getFrom(f.port, "127.0.0.1", "/test/limited",
                           "X-Forwarded-For: 198.51.100." + std::to_string(i) + "\r\n")) == 429;
    EXPECT_EQ(limited, 2);
  }
  {
    // Behind the trusted proxy each real client has its own bucket.
    Front f("[\"127.0.0.1/32\"]");
    int limited = 0;
    for (int i = 0; i < 4; ++i)
      limited +=
          statusOf(getFrom(f.port, "127.0.0.1", "/test/limited",
                           "X-Forwarded-For: 198.51.100." + std::to_string(i) + "\r\n")) == 429;
    EXPECT_EQ(limited, 0);
  }
}

TEST(ClientAddressHttp, ThroughNginxAsTheTrustedProxy) {
  std::string nginx = findNginx();
  if (nginx.empty()) GTEST_SKIP() << "nginx is not installed (scripts/setup.sh --test installs it)";
  // The allow-list admits 127.0.0.2, the address our client connects to nginx from; nginx
  // reaches malipo from 127.0.0.1, the only trusted proxy.
  Front f("[\"127.0.0.1/32\"]", "[\"127.0.0.2\"]");
  TempDir dir;
  std::uint16_t port = freePort();
  Nginx proxy(
      dir, port,
      "  server {\n    listen 127.0.0.1:" + std::to_string(port) +
          ";\n    location / {\n      proxy_pass http://127.0.0.1:" + std::to_string(f.port) +
          ";\n      proxy_bind 127.0.0.1;\n      proxy_set_header Host $host;\n"
          "      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n    }\n  }\n");
  ASSERT_TRUE(proxy.up()) << proxy.errors();
  // A client at 127.0.0.3 forging the allow-listed address: nginx appends 127.0.0.3.
  std::string forged =
      getFrom(port, "127.0.0.3", "/sandbox/fakepay/allowlisted", "X-Forwarded-For: 127.0.0.2\r\n");
  EXPECT_EQ(statusOf(forged), 403) << forged << proxy.errors();
  EXPECT_EQ(clientIpOf(forged), "127.0.0.3");
  // The allow-listed client itself, through the proxy: admitted by the address nginx saw.
  std::string genuine = getFrom(port, "127.0.0.2", "/sandbox/fakepay/allowlisted",
                                "X-Forwarded-For: 198.51.100.9\r\n");
  EXPECT_EQ(statusOf(genuine), 200) << genuine;
  EXPECT_EQ(clientIpOf(genuine), "127.0.0.2");
}

// ---- JWT parsing ------------------------------------------------------------------------

class JwtTest : public KernelFixture {
 protected:
  int me(const std::string& token) {
    return http(port_, "GET", "/test/me", "", {{"Authorization", "Bearer " + token}}).status;
  }
};

TEST_F(JwtTest, AWellFormedTokenPasses) {
  EXPECT_EQ(me(jwt(kHs256, claims(""))), 200);
}

TEST_F(JwtTest, ExactlyThreeSegments) {
  std::string good = jwt(kHs256, claims(""));
  EXPECT_EQ(me(good + ".extra"), 401);
  EXPECT_EQ(me(good + "."), 401);
  EXPECT_EQ(me(good.substr(0, good.rfind('.'))), 401);
  EXPECT_EQ(me("." + good), 401);
}

TEST_F(JwtTest, AlgorithmExactlyHs256) {
  EXPECT_EQ(me(jwt(R"({"alg":"none","typ":"JWT"})", claims(""))), 401);
  EXPECT_EQ(me(jwt(R"({"alg":"RS256","typ":"JWT"})", claims(""))), 401);
  EXPECT_EQ(me(jwt(R"({"alg":"HS512","typ":"JWT"})", claims(""),
                   "test-secret-0123456789abcdefghijklmnop", EVP_sha512())),
            401);
  EXPECT_EQ(me(jwt(R"({"alg":"hs256","typ":"JWT"})", claims(""))), 401);
  EXPECT_EQ(me(jwt(R"({"typ":"JWT"})", claims(""))), 401);
  std::string unsignedNone = b64url(R"({"alg":"none"})") + "." + b64url(claims("")) + ".";
  EXPECT_EQ(me(unsignedNone), 401);
}

TEST_F(JwtTest, ExpiryRequired) {
  EXPECT_EQ(me(jwt(kHs256, R"({"sub":"user-7"})")), 401);
  EXPECT_EQ(me(jwt(kHs256, R"({"sub":"user-7","exp":"9999999999"})")), 401);  // not a number
  EXPECT_EQ(me(jwt(kHs256, claims("", -5))), 401);
}

TEST_F(JwtTest, NotBeforeAndIssuedAtWithLeeway) {
  EXPECT_EQ(me(jwt(kHs256, claims("\"nbf\":" + std::to_string(nowSec() + 30)))),
            200);  // within 60 s leeway
  EXPECT_EQ(me(jwt(kHs256, claims("\"nbf\":" + std::to_string(nowSec() + 600)))),
            401);  // not yet valid
  EXPECT_EQ(me(jwt(kHs256, claims("\"iat\":" + std::to_string(nowSec() + 30)))), 200);
  EXPECT_EQ(me(jwt(kHs256, claims("\"iat\":" + std::to_string(nowSec() + 600)))),
            401);  // issued in the future
  EXPECT_EQ(me(jwt(kHs256, claims("\"iat\":\"yesterday\""))), 401);
}

TEST_F(JwtTest, SubjectANonEmptyString) {
  std::string exp = std::to_string(nowSec() + 3600);
  EXPECT_EQ(me(jwt(kHs256, "{\"exp\":" + exp + "}")), 401);
  EXPECT_EQ(me(jwt(kHs256, "{\"sub\":\"\",\"exp\":" + exp + "}")), 401);
  EXPECT_EQ(me(jwt(kHs256, "{\"sub\":7,\"exp\":" + exp + "}")), 401);
  EXPECT_EQ(me(jwt(kHs256, "{\"sub\":[\"a\"],\"exp\":" + exp + "}")), 401);
  EXPECT_EQ(me(jwt(kHs256, claims(""), "another-secret-0123456789abcdefghijkl")), 401);
}

// ---- provider bulkheads -------------------------------------------------------------------

TEST(Bulkhead, AHangingProviderGets503AtOnceAndSlowsOnlyItself) {
  TempDir dir;
  std::string yaml =
      "server: {listen: \"127.0.0.1:0\", access_log: false, threads: 8, rate_limits: {default: "
      "{requests_per_minute: 1000000, burst: 100000}}}\n"
      "database: {url: \"sqlite:" +
      dir.file("b.db") +
      "\", pool_size: 8}\n"
      "jobs: {workers: 1, poll_interval_ms: 20}\n"
      "payments: {max_in_flight_by_provider: {fakepay: 2}}\n"
      "log: {level: error}\n"
      "sandbox: true\n"
      "plugins:\n"
      "  - name: fakepay\n    library: " +
      testPluginPath("fakepay") +
      "\n    settings: {timeout_ms: 10000}\n"
      "  - name: fakepay2\n    library: " +
      testPluginPath("fakepay2") +
      "\n"
      "  - name: shop\n    library: " +
      testPluginPath("shop") + "\n";
  Kernel k(ConfigLoader::loadString(yaml, "b.yaml"));
  k.open();
  k.start();
  const std::uint16_t port = k.port();
  ASSERT_EQ(http(port, "POST", "/sandbox/fakepay/script", R"({"call_delay_ms": 2500})").status,
            200);
  const std::string viaFakepay =
      R"({"amount_minor": 5000, "currency": "TZS", "providers": ["fakepay"]})";
  std::vector<std::future<HttpResult>> hung;
  for (int i = 0; i < 2; ++i)
    hung.push_back(std::async(std::launch::async,
                              [&] { return http(port, "POST", "/shop/orders", viaFakepay); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // The third call past the limit of 2: a 503 with Retry-After, at once.
  auto t0 = std::chrono::steady_clock::now();
  auto busy = http(port, "POST", "/shop/orders", viaFakepay);
  auto busyMs =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_EQ(busy.status, 503) << busy.body;
  EXPECT_EQ(busy.header("Retry-After"), "1");
  EXPECT_EQ(parse(busy.body)->getValue<std::string>("error"), "unavailable");
  EXPECT_LT(busyMs, 1500);
  // Another provider's routes and the health routes are not slowed down.
  t0 = std::chrono::steady_clock::now();
  auto other = http(port, "POST", "/shop/orders",
                    R"({"amount_minor": 5000, "currency": "TZS", "providers": ["fakepay2"]})");
  EXPECT_EQ(other.status, 201) << other.body;
  EXPECT_EQ(http(port, "GET", "/healthz").status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1500));
  for (auto& h : hung) EXPECT_EQ(h.get().status, 201);
  // The refusals do not open the breaker: once the calls are back, fakepay serves again.
  ASSERT_EQ(http(port, "POST", "/sandbox/fakepay/script", R"({"call_delay_ms": 0})").status, 200);
  EXPECT_EQ(http(port, "POST", "/shop/orders", viaFakepay).status, 201);
  EXPECT_NE(http(port, "GET", "/metrics")
                .body.find("malipo_provider_bulkhead_refused_total{provider=\"fakepay\"} 1"),
            std::string::npos);
}

// ---- a port already in use ----------------------------------------------------------------

TEST(Serve, ASecondServerOnAPortInUseRefusesWithOneLine) {
  TempDir dir;
  std::string cfg = dir.file("a.yaml");
  writeFile(cfg, kernelYaml("sqlite:" + dir.file("a.db")));
  Child first({MALIPO_BINARY, "serve", "--config", cfg, "--port-file", dir.file("a.port")},
              dir.file("a.log"));
  std::uint16_t port = waitForPortFile(dir.file("a.port"));
  ASSERT_NE(port, 0) << readFile(dir.file("a.log"));
  std::string yaml = kernelYaml("sqlite:" + dir.file("b.db"));
  yaml.replace(yaml.find("listen: 127.0.0.1:0"), 19, "listen: 127.0.0.1:" + std::to_string(port));
  writeFile(dir.file("b.yaml"), yaml);
  auto second = runCommand("timeout 20 " + std::string(MALIPO_BINARY) + " serve --config " +
                           dir.file("b.yaml"));
  EXPECT_EQ(second.first, 1) << second.second;
  EXPECT_EQ(second.second,
            "malipo: address 127.0.0.1:" + std::to_string(port) + " already in use\n");
  // The first server still has the port to itself.
  EXPECT_EQ(http(port, "GET", "/healthz").status, 200);
  first.signal(SIGTERM);
  EXPECT_EQ(first.wait(20000), 0);
}
