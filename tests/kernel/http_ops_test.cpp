// Operations over real HTTP: Prometheus process metrics, provider call latency and errors,
// job queue depth by kind, the JSON access log.
#include <Poco/JSON/Parser.h>
#include <signal.h>

#include <cstring>
#include <ctime>
#include <regex>
#include <set>

#include "http/OpenApi.hpp"
#include "kernel_fixture.hpp"

using namespace malipo;
using namespace malipo::test;

namespace {

Poco::JSON::Object::Ptr parseObject(const std::string& s) {
  return Poco::JSON::Parser().parse(s).extract<Poco::JSON::Object::Ptr>();
}

std::string opsYaml(const std::string& dbUrl, const std::string& extra = "") {
  return "server: {listen: \"127.0.0.1:0\", access_log: false}\n"
         "database: {url: \"" +
         dbUrl +
         "\"}\n"
         "admin: {token: admin-token-0123456789abcdefghijklmnop}\n"
         "auth: {jwt_secret: test-secret-0123456789abcdefghijklmnop}\n"
         "jobs: {workers: 0}\n"
         "log: {level: error}\n"
         "sandbox: true\n" +
         extra +
         "plugins:\n"
         "  - name: testplugin\n    library: " +
         testPluginPath("testplugin") +
         "\n    settings: {greeting: jambo}\n"
         "  - name: fakepay\n    library: " +
         testPluginPath("fakepay") +
         "\n    settings: {timeout_ms: 2000}\n"
         "  - name: shop\n    library: " +
         testPluginPath("shop") + "\n    settings: {}\n";
}

// The value of the series `name{labels}` (labels as rendered, sorted by key), or -1.
double metric(const std::string& text, const std::string& series) {
  std::size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

class OpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kernel_ = std::make_unique<Kernel>(
        ConfigLoader::loadString(opsYaml("sqlite:" + dir_.file("o.db")), "o.yaml"));
    kernel_->open();
    kernel_->start();
    port_ = kernel_->port();
  }
  std::string metrics() {
    auto r = http(port_, "GET", "/metrics");
    EXPECT_EQ(r.status, 200);
    return r.body;
  }
  TempDir dir_;
  std::unique_ptr<Kernel> kernel_;
  std::uint16_t port_ = 0;
};

}  // namespace

TEST_F(OpsTest, ProcessMetricsAreExported) {
  std::string m = metrics();
  EXPECT_NE(m.find("# TYPE process_cpu_seconds_total counter"), std::string::npos) << m;
  EXPECT_GT(metric(m, "process_resident_memory_bytes"), 1e6) << m;
  // Whole numbers are written out, not rounded to six digits (2.59768e+07).
  EXPECT_EQ(m.find("e+0"), std::string::npos) << m;
  EXPECT_GE(metric(m, "process_cpu_seconds_total"), 0) << m;
  // This test process has the database, the listening socket and stdio open at least.
  EXPECT_GE(metric(m, "process_open_fds"), 4) << m;
  EXPECT_GT(metric(m, "process_max_fds"), 0) << m;
  double start = metric(m, "process_start_time_seconds");
  double now = static_cast<double>(std::time(nullptr));
  EXPECT_GT(start, now - 3600) << m;
  EXPECT_LE(start, now + 1) << m;
}

TEST_F(OpsTest, ProviderCallLatencyAndErrorsByProviderAndOperation) {
  ASSERT_EQ(http(port_, "POST", "/sandbox/fakepay/script", R"({"create_failures": 1})").status,
            200);
  const std::string order =
      R"({"amount_minor": 100000, "currency": "TZS", "providers": ["fakepay"]})";
  auto failed = http(port_, "POST", "/shop/orders", order);
  EXPECT_GE(failed.status, 500) << failed.body;
  auto created = http(port_, "POST", "/shop/orders", order);
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id = parseObject(created.body)->getObject("payment")->getValue<std::string>("id");
  EXPECT_EQ(http(port_, "GET", "/shop/payments/" + id).status, 200);

  std::string m = metrics();
  EXPECT_NE(m.find("# TYPE malipo_provider_call_duration_seconds histogram"), std::string::npos)
      << m;
  EXPECT_EQ(
      metric(
          m,
          R"(malipo_provider_call_duration_seconds_count{operation="initiate",provider="fakepay"})"),
      2)
      << m;
  EXPECT_EQ(
      metric(
          m,
          R"(malipo_provider_call_duration_seconds_bucket{operation="initiate",provider="fakepay",le="+Inf"})"),
      2)
      << m;
  EXPECT_GT(
      metric(
          m,
          R"(malipo_provider_call_duration_seconds_sum{operation="initiate",provider="fakepay"})"),
      0)
      << m;
  std::smatch hit;
  ASSERT_TRUE(std::regex_search(
      m, hit,
      std::regex(
          R"re(\nmalipo_provider_call_errors_total\{code="([a-z_]+)",operation="initiate",provider="fakepay"\} 1\n)re")))
      << m;
  EXPECT_EQ(m.find(R"(malipo_provider_call_errors_total{code="provider_error",operation="query")"),
            std::string::npos);
}

TEST_F(OpsTest, TheGrafanaDashboardQueriesOnlyMetricsTheServerExports) {
  // Produce the series that appear once counted: a provider error, a rejected webhook, jobs.
  http(port_, "POST", "/sandbox/fakepay/script", R"({"create_failures": 1})");
  http(port_, "POST", "/shop/orders",
       R"({"amount_minor": 100000, "currency": "TZS", "providers": ["fakepay"]})");
  http(port_, "POST", "/webhooks/fakepay", "{}");
  http(port_, "POST", "/test/jobs", R"({"note": "x"})");
  std::string m = metrics();
  std::string docs = readFile(std::string(MALIPO_SOURCE_DIR) + "/docs/operations.md");
  std::string dashboard =
      readFile(std::string(MALIPO_SOURCE_DIR) + "/contrib/grafana/malipo-dashboard.json");
  ASSERT_FALSE(dashboard.empty());
  parseObject(dashboard);  // valid JSON
  std::regex name(R"re(\b((malipo|process)_[a-z_]+))re");
  int seen = 0;
  for (auto it = std::sregex_iterator(dashboard.begin(), dashboard.end(), name);
       it != std::sregex_iterator(); ++it) {
    std::string n = (*it)[1];
    for (const char* suffix : {"_bucket", "_sum", "_count"})
      if (n.size() > std::strlen(suffix) &&
          n.compare(n.size() - std::strlen(suffix), std::string::npos, suffix) == 0)
        n.resize(n.size() - std::strlen(suffix));
    if (n == "malipo_overview") continue;  // the dashboard's uid
    ++seen;
    // Exported now, or (a counter not yet incremented here) documented with the metrics.
    EXPECT_TRUE(m.find("# TYPE " + n + " ") != std::string::npos ||
                docs.find("`" + n + "`") != std::string::npos)
        << n << " is neither exported nor documented";
  }
  EXPECT_GT(seen, 10);
}

TEST_F(OpsTest, JobQueueDepthByKind) {
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(http(port_, "POST", "/test/jobs", R"({"note": "x"})").status, 201);
  std::string m = metrics();
  EXPECT_EQ(metric(m, R"(malipo_jobs_by_kind{kind="test.record",state="queued"})"), 3) << m;
  EXPECT_EQ(metric(m, R"(malipo_jobs{state="queued"})"), 3) << m;
  // An emptied queue shows 0, not the last value seen.
  kernel_->store().exec("DELETE FROM jobs WHERE kind = 'test.record'");
  m = metrics();
  EXPECT_EQ(metric(m, R"(malipo_jobs_by_kind{kind="test.record",state="queued"})"), 0) << m;
}

TEST(AccessLog, JsonLinesNameTheRouteAndLeaveOutPathIdsQueriesAndHeaders) {
  TempDir dir;
  std::string yaml = opsYaml("sqlite:" + dir.file("a.db"));
  yaml.replace(yaml.find("access_log: false"), 17, "access_log: true");
  yaml.replace(yaml.find("log: {level: error}"), 19, "log: {level: info, format: json}");
  writeFile(dir.file("malipo.yaml"), yaml);
  Child server({MALIPO_BINARY, "serve", "--config", dir.file("malipo.yaml"), "--port-file",
                dir.file("port")},
               dir.file("server.log"));
  std::uint16_t port = waitForPortFile(dir.file("port"));
  ASSERT_NE(port, 0) << readFile(dir.file("server.log"));
  auto r = http(
      port, "GET", "/test/hello/zawadi4711?token=sekrit99", "",
      {{"X-Request-Id", "req-42"}, {"X-Customer", "+255712345678"}, {"User-Agent", "agent-leak"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(http(port, "GET", "/no/such/thing77").status, 404);
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(15000), 0);
  std::string log = readFile(dir.file("server.log"));
  EXPECT_EQ(log.find("zawadi4711"), std::string::npos) << log;
  EXPECT_EQ(log.find("sekrit99"), std::string::npos) << log;
  EXPECT_EQ(log.find("agent-leak"), std::string::npos) << log;
  EXPECT_EQ(log.find("712345678"), std::string::npos) << log;
  EXPECT_EQ(log.find("thing77"), std::string::npos) << log;
  Poco::JSON::Object::Ptr hello, missing;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    auto o = parseObject(line);  // every line is one JSON object
    if (o->optValue<std::string>("component", "") != "http" || !o->has("route")) continue;
    if (o->getValue<std::string>("route") == "/test/hello/{name}") hello = o;
    if (o->getValue<std::string>("route") == "unmatched") missing = o;
  }
  ASSERT_TRUE(hello) << log;
  EXPECT_EQ(hello->getValue<std::string>("method"), "GET");
  EXPECT_EQ(hello->getValue<int>("status"), 200);
  EXPECT_EQ(hello->getValue<std::string>("request_id"), "req-42");
  EXPECT_EQ(hello->getValue<std::size_t>("bytes"), r.body.size());
  EXPECT_GE(hello->getValue<double>("duration_ms"), 0);
  EXPECT_EQ(hello->getValue<std::string>("level"), "info");
  ASSERT_TRUE(missing) << log;
  EXPECT_EQ(missing->getValue<int>("status"), 404);
}

// ---- GET /openapi.json and GET / ----------------------------------------------------------

TEST_F(OpsTest, OpenApiListsExactlyTheRoutesOfTheRouter) {
  auto r = http(port_, "GET", "/openapi.json");
  ASSERT_EQ(r.status, 200);
  auto doc = parseObject(r.body);
  EXPECT_EQ(doc->getValue<std::string>("openapi"), "3.1.0");
  auto paths = doc->getObject("paths");
  // Every (method, pattern) of the router is one operation of the document, but the console's
  // HTML pages (mounted here: an admin token is set) are not listed …
  std::vector<const Route*> routes;
  std::size_t consoleRoutes = 0;
  for (const Route* route : kernel_->router().routes()) {
    const bool console = route->pattern == "/console" || route->pattern.rfind("/console/", 0) == 0;
    consoleRoutes += console;
    EXPECT_EQ(openapi::documented(*route), !console) << route->pattern;
    if (!console) routes.push_back(route);
  }
  EXPECT_GT(consoleRoutes, 10u) << "the console is mounted in this test";
  for (const auto& key : paths->getNames())
    EXPECT_NE(key.rfind("/console", 0), 0u) << key << " is listed";
  std::size_t operations = 0;
  for (const auto& key : paths->getNames()) operations += paths->getObject(key)->size();
  EXPECT_EQ(operations, routes.size());
  std::set<std::string> ids;
  for (const Route* route : routes) {
    // … under the path of the same shape ({name} segments may be named otherwise).
    Poco::JSON::Object::Ptr op;
    for (const auto& key : paths->getNames()) {
      auto segs = RouterImpl::split(key);
      if (segs.size() != route->segments.size()) continue;
      bool same = true;
      for (std::size_t i = 0; i < segs.size(); ++i)
        same = same && (route->isParam[i] ? segs[i].front() == '{' : segs[i] == route->segments[i]);
      std::string method = route->method;
      for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (same && paths->getObject(key)->has(method)) op = paths->getObject(key)->getObject(method);
    }
    ASSERT_TRUE(op) << route->method << " " << route->pattern << " is missing";
    EXPECT_TRUE(ids.insert(op->getValue<std::string>("operationId")).second);
    EXPECT_EQ(op->getValue<std::string>("x-malipo-route-name"), route->options.name);
    auto security = op->getArray("security");
    std::string scheme =
        security->size() ? security->getObject(security->size() - 1)->getNames().front() : "";
    switch (route->options.auth) {
      case Auth::none:
        EXPECT_EQ(security->size(), 0u) << route->pattern;
        break;
      case Auth::optional:
        EXPECT_EQ(security->size(), 2u) << route->pattern;
        EXPECT_EQ(scheme, "userJwt");
        break;
      case Auth::required:
        EXPECT_EQ(security->size(), 1u) << route->pattern;
        EXPECT_EQ(scheme, "userJwt");
        break;
      case Auth::admin:
        EXPECT_EQ(scheme, "adminToken") << route->pattern;
        break;
    }
  }
  // The kernel's routes carry their descriptions; a plugin route its name and pattern.
  EXPECT_EQ(paths->getObject("/admin/jobs/{id}/retry")
                ->getObject("post")
                ->getValue<std::string>("summary"),
            "Retry a dead job");
  EXPECT_EQ(paths->getObject("/test/echo")
                ->getObject("post")
                ->getValue<Poco::UInt64>("x-malipo-max-body-bytes"),
            64u);
  EXPECT_TRUE(paths->has("/sandbox/fakepay/script"));  // sandbox: the simulators are mounted
}

TEST_F(OpsTest, TheSandboxIndexLinksWhatIsLoaded) {
  auto r = http(port_, "GET", "/");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("<h1>Malipo sandbox</h1>"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("href=\"/openapi.json\""), std::string::npos);
  // None of the shipped flows' plugins is loaded here: none is offered.
  EXPECT_EQ(r.body.find("id=\"start-cvpdf\""), std::string::npos);
  EXPECT_EQ(r.body.find("id=\"start-credits\""), std::string::npos);
  EXPECT_EQ(r.body.find("id=\"phone\""), std::string::npos);
}

TEST(Index, OutsideSandboxGetRootIsAShortJson) {
  TempDir dir;
  std::string yaml = opsYaml("sqlite:" + dir.file("i.db"));
  yaml.replace(yaml.find("sandbox: true"), 13, "sandbox: false");
  Kernel k(ConfigLoader::loadString(yaml, "i.yaml"));
  k.open();
  k.start();
  auto r = http(k.port(), "GET", "/");
  ASSERT_EQ(r.status, 200);
  auto o = parseObject(r.body);
  EXPECT_EQ(o->getValue<std::string>("service"), "malipo");
  EXPECT_EQ(o->getValue<std::string>("openapi"), "/openapi.json");
  EXPECT_EQ(r.body.find("<html"), std::string::npos);
  auto doc = parseObject(http(k.port(), "GET", "/openapi.json").body);
  EXPECT_FALSE(doc->getObject("paths")->has("/sandbox/fakepay/script"));
}
