// The operator console (/console/, docs/console.md) over real HTTP on loopback: sign-in with
// an admin token (rate-limited, no token logged), the session cookie and its expiry (the
// kernel's clock), CSRF on every POST, viewer vs operator, search by phone number, sync and
// retry of a dead job, security headers.
#include <Poco/StreamCopier.h>
#include <Poco/String.h>
#include <Poco/URI.h>
#include <fcntl.h>
#include <unistd.h>

#include <regex>

#include "console/Sessions.hpp"
#include "engines.hpp"
#include "kernel_fixture.hpp"

using namespace malipo;
using namespace malipo::test;

namespace {

const char* kAdmin = "admin-token-0123456789abcdefghijklmnop";
const char* kAlice = "alice-operator-token-0123456789abcdef";
const char* kVictor = "victor-viewer-token-0123456789abcdefgh";

std::string consoleYaml(const std::string& dbUrl, bool adminTokens = true) {
  return "server: {listen: \"127.0.0.1:0\", access_log: false, rate_limits: {default: "
         "{requests_per_minute: 1000000, burst: 100000}}}\n"
         "database: {url: \"" +
         dbUrl + "\"}\n" +
         (adminTokens ? std::string("admin: {token: ") + kAdmin + ", tokens: {alice: {token: " +
                            kAlice + "}, victor: {token: " + kVictor + ", role: viewer}}}\n"
                      : std::string()) +
         "auth: {jwt_secret: test-secret-0123456789abcdefghijklmnop}\n"
         "console: {session_minutes: 5, sign_in_attempts_per_minute: 3}\n"
         "jobs: {workers: 2, poll_interval_ms: 20}\n"
         "payments: {breaker_threshold: 2}\n"
         "log: {level: warning}\n"
         "sandbox: true\n"
         "plugins:\n"
         "  - name: fakepay\n    library: " +
         testPluginPath("fakepay") +
         "\n    settings: {secret: console-test-webhook-secret-4711}\n"
         "  - name: shop\n    library: " +
         testPluginPath("shop") + "\n";
}

// Sends stderr to a file for the life of the object (the kernel logs there).
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

// An answer with every Set-Cookie kept (HttpResult keeps one value per header name).
struct Answer {
  int status = 0;
  std::string body, location;
  std::vector<std::string> cookies;
  std::map<std::string, std::string> headers;
  std::string header(const std::string& n) const {
    auto it = headers.find(n);
    return it == headers.end() ? "" : it->second;
  }
};

Answer request(std::uint16_t port, const std::string& method, const std::string& target,
               const std::string& cookie = {}, const std::string& form = {},
               const std::string& fromIp = "127.0.0.1") {
  Poco::Net::StreamSocket socket;
  socket.impl()->bind(Poco::Net::SocketAddress(fromIp, 0), false);
  socket.connect(Poco::Net::SocketAddress("127.0.0.1", port), Poco::Timespan(10, 0));
  Poco::Net::HTTPClientSession s(socket);
  s.setTimeout(Poco::Timespan(30, 0));
  Poco::Net::HTTPRequest req(method, target, Poco::Net::HTTPMessage::HTTP_1_1);
  req.setHost("127.0.0.1", port);
  if (!cookie.empty()) req.set("Cookie", cookie);
  if (method == "POST") {
    req.setContentType("application/x-www-form-urlencoded");
    req.setContentLength64(static_cast<Poco::Int64>(form.size()));
  }
  s.sendRequest(req) << form;
  Poco::Net::HTTPResponse resp;
  std::istream& is = s.receiveResponse(resp);
  Answer a;
  a.status = resp.getStatus();
  for (const auto& kv : resp) {
    if (Poco::icompare(kv.first, "Set-Cookie") == 0) a.cookies.push_back(kv.second);
    a.headers[Poco::toLower(kv.first)] = kv.second;
  }
  a.location = a.header("location");
  Poco::StreamCopier::copyToString(is, a.body);
  return a;
}

std::string csrfOf(const std::string& html) {
  std::smatch m;
  std::regex re("name=\"csrf\" value=\"([0-9a-f]+)\"");
  return std::regex_search(html, m, re) ? m[1].str() : std::string();
}

// name=value of the Set-Cookie for `name` (empty when none).
std::string cookieFrom(const Answer& a, const std::string& name, std::string* full = nullptr) {
  for (const auto& c : a.cookies)
    if (c.rfind(name + "=", 0) == 0) {
      if (full) *full = c;
      return c.substr(0, c.find(';'));
    }
  return {};
}

std::string urlEncode(const std::string& s) {
  std::string out;
  Poco::URI::encode(s, "&=+?#/ %", out);
  return out;
}

}  // namespace

class ConsoleTest : public EngineTest {
 protected:
  void SetUp() override {
    if (skipIfNoEngine()) GTEST_SKIP() << "no PostgreSQL (run through scripts/test.sh)";
    boot(true);
  }
  void boot(bool adminTokens) {
    kernel_.reset();
    url_ = url();
    kernel_ = std::make_unique<Kernel>(
        ConfigLoader::loadString(consoleYaml(url_, adminTokens), "c.yaml"), &clock_);
    kernel_->open();
    kernel_->start();
    port_ = kernel_->port();
  }
  void TearDown() override { kernel_.reset(); }

  // GET the sign-in form, POST the token; the answer to the POST.
  Answer signInAnswer(const std::string& token, const std::string& ip = "127.0.0.1") {
    Answer form = request(port_, "GET", "/console/sign-in", "", "", ip);
    EXPECT_EQ(form.status, 200) << form.body;
    return request(port_, "POST", "/console/sign-in", cookieFrom(form, Console::kPreCookie),
                   "csrf=" + csrfOf(form.body) + "&token=" + urlEncode(token), ip);
  }
  // Signed in: the session cookie ("malipo_console=…").
  std::string signIn(const std::string& token, const std::string& ip = "127.0.0.1") {
    Answer a = signInAnswer(token, ip);
    EXPECT_EQ(a.status, 303) << a.body;
    EXPECT_EQ(a.location, "/console/overview");
    return cookieFrom(a, Console::kCookie);
  }
  std::string csrfFor(const std::string& cookie) {
    Answer a = request(port_, "GET", "/console/overview", cookie);
    EXPECT_EQ(a.status, 200);
    return csrfOf(a.body);
  }
  std::string order(const std::string& phone) {
    auto r =
        http(port_, "POST", "/shop/orders",
             R"({"amount_minor": 150000, "currency": "TZS", "providers": ["fakepay"], "phone": ")" +
                 phone + "\"}");
    EXPECT_EQ(r.status, 201) << r.body;
    return Poco::JSON::Parser()
        .parse(r.body)
        .extract<Poco::JSON::Object::Ptr>()
        ->getObject("payment")
        ->getValue<std::string>("id");
  }
  std::int64_t deadJob() {
    const std::int64_t now = clock_.nowMs();
    const std::string key = "console-test-" + std::to_string(++deadJobs_);
    kernel_->store().exec(
        "INSERT INTO jobs (kind, payload, state, attempts, max_attempts, run_at, lease_ms, "
        "unique_key, last_error, created_at, updated_at) VALUES ('kernel.purge_jobs', '', "
        "'dead', 5, 5, ?, 30000, ?, 'test: gave up', ?, ?)",
        {now, key, now, now});
    return kernel_->store().query("SELECT id FROM jobs WHERE unique_key = ?", {key}).i64(0, "id");
  }
  std::string jobState(std::int64_t id) {
    return kernel_->store().query("SELECT state FROM jobs WHERE id = ?", {id}).str(0, "state");
  }

  ManualClock clock_{Poco::Timestamp().epochMicroseconds() / 1000};
  std::string url_;  // the database of kernel_
  std::unique_ptr<Kernel> kernel_;
  std::uint16_t port_ = 0;
  int deadJobs_ = 0;
};

TEST_P(ConsoleTest, SignInSetsAStrictHttpOnlyExpiringCookieAndStoresOnlyAHash) {
  Answer root = request(port_, "GET", "/console/");
  EXPECT_EQ(root.status, 303);
  EXPECT_EQ(root.location, "/console/sign-in");
  Answer a = signInAnswer(kAlice);
  ASSERT_EQ(a.status, 303) << a.body;
  std::string full;
  std::string cookie = cookieFrom(a, Console::kCookie, &full);
  ASSERT_FALSE(cookie.empty());
  EXPECT_NE(full.find("; HttpOnly"), std::string::npos) << full;
  EXPECT_NE(full.find("; SameSite=Strict"), std::string::npos) << full;
  EXPECT_NE(full.find("; Path=/console"), std::string::npos) << full;
  EXPECT_NE(full.find("; Max-Age=300"), std::string::npos) << full;
  EXPECT_EQ(full.find("Secure"), std::string::npos) << "plain HTTP: no Secure flag: " << full;
  const std::string id = cookie.substr(cookie.find('=') + 1);
  Rows r = kernel_->store().query("SELECT id_hash, actor, role FROM console_sessions");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r.str(0, "id_hash"), ConsoleSessions::sha256Hex(id));
  EXPECT_EQ(r.str(0, "actor"), "alice");
  EXPECT_EQ(r.str(0, "role"), "operator");
  Answer page = request(port_, "GET", "/console/overview", cookie);
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("alice (operator)"), std::string::npos);
  // The security headers of a console page; no script at all.
  const std::string csp = page.header("content-security-policy");
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  EXPECT_EQ(page.header("x-content-type-options"), "nosniff");
  EXPECT_EQ(page.header("referrer-policy"), "no-referrer");
  EXPECT_EQ(page.header("cache-control"), "no-store");
  EXPECT_EQ(page.body.find("<script"), std::string::npos);
  EXPECT_EQ(page.body.find("style="), std::string::npos);
  // Sign-out ends the session: the cookie no longer opens a page.
  Answer out = request(port_, "POST", "/console/sign-out", cookie, "csrf=" + csrfOf(page.body));
  EXPECT_EQ(out.status, 303);
  EXPECT_EQ(kernel_->store().query("SELECT COUNT(*) AS n FROM console_sessions").i64(0, "n"), 0);
  EXPECT_EQ(request(port_, "GET", "/console/overview", cookie).status, 303);
}

TEST_P(ConsoleTest, AWrongTokenIsRefusedRateLimitedAndNotLogged) {
  const std::string wrong = "not-a-token-but-a-guess-0123456789";
  std::string log;
  {
    CaptureStderr capture(dir_.file("stderr.log"));
    for (int i = 0; i < 3; ++i) {
      Answer a = signInAnswer(wrong);
      EXPECT_EQ(a.status, 401) << a.body;
      EXPECT_TRUE(cookieFrom(a, Console::kCookie).empty());
      EXPECT_NE(a.body.find("not an admin token"), std::string::npos);
    }
    Answer limited = signInAnswer(wrong);
    EXPECT_EQ(limited.status, 429) << limited.body;
    EXPECT_FALSE(limited.header("retry-after").empty());
    // The limit holds for a right token from that address too; another address signs in.
    EXPECT_EQ(signInAnswer(kAlice).status, 429);
    EXPECT_FALSE(signIn(kAlice, "127.0.0.2").empty());
  }
  log = readFile(dir_.file("stderr.log"));
  EXPECT_NE(log.find("failed sign-in"), std::string::npos) << log;
  EXPECT_EQ(log.find(wrong), std::string::npos) << log;
  EXPECT_EQ(log.find(kAlice), std::string::npos) << log;
  // A sign-in form without its cookie (login CSRF) is refused.
  Answer forged = request(port_, "POST", "/console/sign-in", "",
                          std::string("csrf=00&token=") + kAdmin, "127.0.0.3");
  EXPECT_EQ(forged.status, 403);
}

TEST_P(ConsoleTest, APostWithoutTheCsrfTokenIsRefused) {
  std::int64_t job = deadJob();
  std::string cookie = signIn(kAdmin);
  for (const std::string& form : {std::string(), std::string("csrf=") + std::string(64, 'a')}) {
    Answer a =
        request(port_, "POST", "/console/jobs/" + std::to_string(job) + "/retry", cookie, form);
    EXPECT_EQ(a.status, 403) << form;
  }
  // No session at all: refused too.
  EXPECT_EQ(request(port_, "POST", "/console/jobs/" + std::to_string(job) + "/retry").status, 403);
  EXPECT_EQ(jobState(job), "dead");
}

TEST_P(ConsoleTest, AnOperatorRetriesADeadJob) {
  std::int64_t job = deadJob();
  std::string cookie = signIn(kAlice);
  Answer page = request(port_, "GET", "/console/jobs", cookie);
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("test: gave up"), std::string::npos);
  const std::string action = "action=\"/console/jobs/" + std::to_string(job) + "/retry\"";
  ASSERT_NE(page.body.find(action), std::string::npos);
  Answer a = request(port_, "POST", "/console/jobs/" + std::to_string(job) + "/retry", cookie,
                     "csrf=" + csrfOf(page.body));
  EXPECT_EQ(a.status, 303) << a.body;
  EXPECT_TRUE(eventually([&] { return jobState(job) == "done"; })) << jobState(job);
  // Not dead any more: a second retry says so.
  Answer again = request(port_, "POST", "/console/jobs/" + std::to_string(job) + "/retry", cookie,
                         "csrf=" + csrfOf(page.body));
  EXPECT_EQ(again.status, 409);
}

TEST_P(ConsoleTest, AViewerSeesNoActionAndIsRefusedOne) {
  std::int64_t job = deadJob();
  std::string id = order("0754 123 456");
  std::string cookie = signIn(kVictor);
  Answer jobs = request(port_, "GET", "/console/jobs", cookie);
  ASSERT_EQ(jobs.status, 200);
  EXPECT_NE(jobs.body.find("test: gave up"), std::string::npos);
  EXPECT_EQ(jobs.body.find("/retry"), std::string::npos) << "no retry button for a viewer";
  Answer payment = request(port_, "GET", "/console/payments/" + id, cookie);
  ASSERT_EQ(payment.status, 200);
  EXPECT_EQ(payment.body.find("/sync"), std::string::npos) << "no sync button for a viewer";
  EXPECT_EQ(request(port_, "GET", "/console/payments/" + id + "/sync", cookie).status, 403);
  const std::string csrf = csrfOf(jobs.body);
  ASSERT_FALSE(csrf.empty());
  EXPECT_EQ(request(port_, "POST", "/console/jobs/" + std::to_string(job) + "/retry", cookie,
                    "csrf=" + csrf)
                .status,
            403);
  EXPECT_EQ(request(port_, "POST", "/console/payments/" + id + "/sync", cookie,
                    "csrf=" + csrf + "&reason=x")
                .status,
            403);
  EXPECT_EQ(jobState(job), "dead");
  for (const auto& e : kernel_->payments().events(id)) EXPECT_NE(e.kind, "operator_sync");
}

TEST_P(ConsoleTest, ASessionExpires) {
  std::string cookie = signIn(kAlice);
  const std::string csrf = csrfFor(cookie);
  std::int64_t job = deadJob();
  clock_.advance(5 * 60 * 1000 - 1000);
  EXPECT_EQ(request(port_, "GET", "/console/overview", cookie).status, 200);
  clock_.advance(2000);
  Answer a = request(port_, "GET", "/console/overview", cookie);
  EXPECT_EQ(a.status, 303);
  EXPECT_EQ(a.location, "/console/sign-in");
  EXPECT_EQ(request(port_, "POST", "/console/jobs/" + std::to_string(job) + "/retry", cookie,
                    "csrf=" + csrf)
                .status,
            403);
  EXPECT_EQ(jobState(job), "dead");
}

TEST_P(ConsoleTest, SearchFindsAPaymentByPhoneEmailOrReference) {
  std::string asha = order("0754 123 456");
  std::string other = order("0713 999 888");
  std::string cookie = signIn(kVictor);
  auto search = [&](const std::string& query) {
    Answer a = request(port_, "GET", "/console/payments?" + query, cookie);
    EXPECT_EQ(a.status, 200) << query;
    return a.body;
  };
  for (const char* q : {"0754123456", "%2B255%20754%20123%20456", "255754123456"}) {
    std::string body = search(std::string("q=") + q);
    EXPECT_NE(body.find(asha), std::string::npos) << q;
    EXPECT_EQ(body.find(other), std::string::npos) << q;
  }
  // Digits of another number that merely occur in the record: not a match.
  EXPECT_EQ(search("q=1234567").find(asha), std::string::npos);
  std::string byEmail = search("q=Buyer%40Example.com");
  EXPECT_NE(byEmail.find(asha), std::string::npos);
  EXPECT_NE(byEmail.find(other), std::string::npos);
  std::string ref = kernel_->store()
                        .query("SELECT provider_ref FROM payments WHERE id = ?", {asha})
                        .str(0, "provider_ref");
  std::string byRef = search("q=" + urlEncode(ref));
  EXPECT_NE(byRef.find(asha), std::string::npos);
  EXPECT_EQ(byRef.find(other), std::string::npos);
  EXPECT_NE(search("q=" + asha).find(asha), std::string::npos);
  // Filters: a status no payment has, then the one they have.
  EXPECT_EQ(search("status=succeeded").find(asha), std::string::npos);
  EXPECT_NE(search("status=pending&provider=fakepay&product=shop").find(asha), std::string::npos);
  EXPECT_EQ(search("product=credits").find(asha), std::string::npos);
  // Creation dates (UTC days, inclusive).
  const std::int64_t now = clock_.nowMs();
  const std::string today = isoTime(now).substr(0, 10),
                    yesterday = isoTime(now - 86400000).substr(0, 10),
                    tomorrow = isoTime(now + 86400000).substr(0, 10);
  EXPECT_NE(search("from=" + today + "&to=" + today).find(asha), std::string::npos);
  EXPECT_EQ(search("to=" + yesterday).find(asha), std::string::npos);
  EXPECT_EQ(search("from=" + tomorrow).find(asha), std::string::npos);
  // The provider's transaction id (what the customer's SMS receipt shows), once paid.
  ASSERT_EQ(http(port_, "POST", "/sandbox/fakepay/orders/" + ref + "/pay",
                 R"({"txn_id": "FPTXN-CONSOLE-4711"})")
                .status,
            200);
  ASSERT_TRUE(eventually([&] {
    return kernel_->store()
               .query("SELECT provider_txn_id FROM payments WHERE id = ?", {asha})
               .str(0, "provider_txn_id") == "FPTXN-CONSOLE-4711";
  }));
  std::string byTxn = search("q=FPTXN-CONSOLE-4711");
  EXPECT_NE(byTxn.find(asha), std::string::npos);
  EXPECT_EQ(byTxn.find(other), std::string::npos);
  EXPECT_EQ(request(port_, "GET", "/console/payments?from=yesterday", cookie).status, 400);
  // A quote in the search is data, not SQL; the page escapes it.
  std::string odd = search("q=%27%20OR%201%3D1%20--%20%3Cb%3E");
  EXPECT_EQ(odd.find(asha), std::string::npos);
  EXPECT_EQ(odd.find("<b>"), std::string::npos);
}

TEST_P(ConsoleTest, AnOperatorSyncsAPaymentWithAReasonRecordedWithTheActor) {
  std::string id = order("0754 123 456");
  std::string cookie = signIn(kAlice);
  Answer page = request(port_, "GET", "/console/payments/" + id, cookie);
  ASSERT_EQ(page.status, 200);
  ASSERT_NE(page.body.find("href=\"/console/payments/" + id + "/sync\""), std::string::npos);
  // The payment's attempts (SDK 1.1), as the admin API lists them: one, open, its reference.
  const std::string ref = kernel_->payments().get(id).value().providerRef;
  ASSERT_FALSE(ref.empty());
  std::size_t attempts = page.body.find("id=\"attempts\"");
  ASSERT_NE(attempts, std::string::npos);
  EXPECT_NE(page.body.find(ref, attempts), std::string::npos);
  EXPECT_NE(page.body.find("<td data-label=\"State\">open</td>", attempts), std::string::npos);
  Answer confirm = request(port_, "GET", "/console/payments/" + id + "/sync", cookie);
  ASSERT_EQ(confirm.status, 200);
  const std::string csrf = csrfOf(confirm.body);
  EXPECT_EQ(request(port_, "POST", "/console/payments/" + id + "/sync", cookie,
                    "csrf=" + csrf + "&reason=%20")
                .status,
            400);
  Answer a = request(port_, "POST", "/console/payments/" + id + "/sync", cookie,
                     "csrf=" + csrf + "&reason=" + urlEncode("customer called, says paid"));
  ASSERT_EQ(a.status, 303) << a.body;
  EXPECT_EQ(a.location, "/console/payments/" + id);
  bool recorded = false, queried = false;
  for (const auto& e : kernel_->payments().events(id)) {
    if (e.kind == "operator_sync" && e.detail.find("by alice") != std::string::npos &&
        e.detail.find("customer called, says paid") != std::string::npos)
      recorded = true;
    if (e.kind == "query") queried = true;  // the provider was asked
  }
  EXPECT_TRUE(recorded);
  EXPECT_TRUE(queried);
  Answer after = request(port_, "GET", a.location, cookie);
  EXPECT_NE(after.body.find("customer called, says paid"), std::string::npos);
  EXPECT_NE(after.body.find("Synced: pending"), std::string::npos);
}

TEST_P(ConsoleTest, ReadViewsRender) {
  std::string id = order("0754 123 456");
  std::string cookie = signIn(kVictor);
  Answer overview = request(port_, "GET", "/console/overview", cookie);
  EXPECT_NE(overview.body.find("<svg"), std::string::npos);
  EXPECT_NE(overview.body.find("id=\"today-total\">1<"), std::string::npos) << overview.body;
  for (const char* path : {"/console/held", "/console/webhooks", "/console/plugins"}) {
    Answer a = request(port_, "GET", path, cookie);
    EXPECT_EQ(a.status, 200) << path;
  }
  Answer plugins = request(port_, "GET", "/console/plugins", cookie);
  EXPECT_NE(plugins.body.find("fakepay"), std::string::npos);
  // Settings with the secrets masked, as check-config prints them.
  EXPECT_NE(plugins.body.find("secret: &quot;***&quot;"), std::string::npos) << plugins.body;
  EXPECT_EQ(plugins.body.find("console-test-webhook-secret-4711"), std::string::npos);
  Answer css = request(port_, "GET", "/console/console.css");
  EXPECT_EQ(css.status, 200);
  EXPECT_NE(css.header("content-type").find("text/css"), std::string::npos);
}

TEST_P(ConsoleTest, OffWithoutAnAdminToken) {
  boot(false);
  EXPECT_EQ(request(port_, "GET", "/console/sign-in").status, 404);
  EXPECT_EQ(request(port_, "GET", "/console/").status, 404);
}

TEST_P(ConsoleTest, HeldQueueWebhooksAndOverviewShowWhatThePaymentsWrote) {
  std::string held = order("0754 123 456");
  std::string paid = order("0713 999 888");
  auto refOf = [&](const std::string& id) {
    return kernel_->store()
        .query("SELECT provider_ref FROM payments WHERE id = ?", {id})
        .str(0, "provider_ref");
  };
  auto status = [&](const std::string& id) {
    return kernel_->store()
        .query("SELECT status FROM payments WHERE id = ?", {id})
        .str(0, "status");
  };
  // The customer pays less than asked: held. The other pays in full: succeeded.
  EXPECT_EQ(http(port_, "POST", "/sandbox/fakepay/orders/" + refOf(held) + "/pay",
                 R"({"amount_minor": 99900})")
                .status,
            200);
  EXPECT_EQ(http(port_, "POST", "/sandbox/fakepay/orders/" + refOf(paid) + "/pay", "{}").status,
            200);
  ASSERT_TRUE(eventually([&] { return status(held) == "held" && status(paid) == "succeeded"; }));
  std::string cookie = signIn(kVictor);
  Answer queue = request(port_, "GET", "/console/held", cookie);
  ASSERT_EQ(queue.status, 200);
  EXPECT_NE(queue.body.find(held), std::string::npos);
  EXPECT_EQ(queue.body.find(paid), std::string::npos);
  std::string reason = kernel_->store()
                           .query(
                               "SELECT detail FROM payment_events WHERE payment_id = ? AND "
                               "kind = 'held'",
                               {held})
                           .str(0, "detail");
  ASSERT_FALSE(reason.empty());
  EXPECT_NE(queue.body.find(reason.substr(0, 20)), std::string::npos) << queue.body;
  Answer hooks = request(port_, "GET", "/console/webhooks?provider=fakepay", cookie);
  ASSERT_EQ(hooks.status, 200);
  EXPECT_NE(hooks.body.find("/console/payments/" + paid), std::string::npos);
  EXPECT_NE(hooks.body.find("<td>accepted</td>"), std::string::npos) << hooks.body;
  EXPECT_EQ(hooks.body.find("/sync\""), std::string::npos) << "a viewer gets no sync link";
  Answer asOperator =
      request(port_, "GET", "/console/webhooks?provider=fakepay", signIn(kAlice, "127.0.0.2"));
  EXPECT_NE(asOperator.body.find("href=\"/console/payments/" + paid + "/sync\""),
            std::string::npos);
  Answer overview = request(port_, "GET", "/console/overview", cookie);
  EXPECT_NE(overview.body.find("id=\"held-count\">1<"), std::string::npos);
  EXPECT_NE(overview.body.find("id=\"success-rate\">100.0 %<"), std::string::npos);
  EXPECT_NE(overview.body.find("<td>TZS</td>"), std::string::npos);
}

TEST_P(ConsoleTest, AnOperatorRefundsPartlyCancelsAndResolvesAHeldPayment) {
  auto refOf = [&](const std::string& id) {
    return kernel_->store()
        .query("SELECT provider_ref FROM payments WHERE id = ?", {id})
        .str(0, "provider_ref");
  };
  auto status = [&](const std::string& id) {
    return kernel_->store()
        .query("SELECT status FROM payments WHERE id = ?", {id})
        .str(0, "status");
  };
  std::string paid = order("0754 123 456"), pending = order("0754 123 457"),
              held = order("0754 123 458");
  http(port_, "POST", "/sandbox/fakepay/orders/" + refOf(paid) + "/pay", "{}");
  http(port_, "POST", "/sandbox/fakepay/orders/" + refOf(held) + "/pay",
       R"({"amount_minor": 99900})");
  ASSERT_TRUE(eventually([&] { return status(paid) == "succeeded" && status(held) == "held"; }));

  // A viewer gets neither the form nor the action.
  std::string viewer = signIn(kVictor);
  Answer vpage = request(port_, "GET", "/console/payments/" + paid, viewer);
  EXPECT_EQ(vpage.body.find("/refund\""), std::string::npos);
  EXPECT_EQ(request(port_, "GET", "/console/payments/" + paid + "/refund", viewer).status, 403);
  EXPECT_EQ(request(port_, "POST", "/console/payments/" + paid + "/refund", viewer,
                    "csrf=" + csrfOf(vpage.body) + "&reason=x&amount=1")
                .status,
            403);

  std::string cookie = signIn(kAlice);
  Answer page = request(port_, "GET", "/console/payments/" + paid, cookie);
  ASSERT_NE(page.body.find("href=\"/console/payments/" + paid + "/refund\""), std::string::npos);
  Answer form = request(port_, "GET", "/console/payments/" + paid + "/refund", cookie);
  ASSERT_EQ(form.status, 200);
  std::smatch key;
  ASSERT_TRUE(std::regex_search(form.body, key, std::regex("name=\"key\" value=\"([^\"]+)\"")));
  const std::string post = "csrf=" + csrfOf(form.body) + "&key=" + urlEncode(key[1].str()) +
                           "&amount=500&reason=" + urlEncode("wrong size, customer kept half");
  Answer a = request(port_, "POST", "/console/payments/" + paid + "/refund", cookie, post);
  ASSERT_EQ(a.status, 303) << a.body;
  // The same form sent twice asks for one refund.
  EXPECT_EQ(request(port_, "POST", "/console/payments/" + paid + "/refund", cookie, post).status,
            303);
  Rows refunds = kernel_->store().query(
      "SELECT amount_minor, actor, reason FROM refunds WHERE payment_id = ?", {paid});
  ASSERT_EQ(refunds.size(), 1u);
  EXPECT_EQ(refunds.i64(0, "amount_minor"), 50000);
  EXPECT_EQ(refunds.str(0, "actor"), "alice");
  EXPECT_EQ(refunds.str(0, "reason"), "wrong size, customer kept half");
  EXPECT_TRUE(eventually([&] {
    return kernel_->store()
               .query("SELECT refunded_minor FROM payments WHERE id = ?", {paid})
               .i64(0, "refunded_minor") == 50000;
  }));
  Answer after = request(port_, "GET", "/console/payments/" + paid, cookie);
  EXPECT_NE(after.body.find("id=\"refunds\""), std::string::npos);
  EXPECT_NE(after.body.find("wrong size, customer kept half"), std::string::npos);

  // Cancel a pending payment; a reason is required.
  Answer cform = request(port_, "GET", "/console/payments/" + pending + "/cancel", cookie);
  ASSERT_EQ(cform.status, 200);
  EXPECT_EQ(request(port_, "POST", "/console/payments/" + pending + "/cancel", cookie,
                    "csrf=" + csrfOf(cform.body) + "&reason=")
                .status,
            400);
  EXPECT_EQ(request(port_, "POST", "/console/payments/" + pending + "/cancel", cookie,
                    "csrf=" + csrfOf(cform.body) + "&reason=customer%20asked")
                .status,
            303);
  EXPECT_NE(status(pending), "pending");

  // Accept the held payment: delivered.
  Answer hform = request(port_, "GET", "/console/payments/" + held + "/resolve", cookie);
  ASSERT_EQ(hform.status, 200);
  Answer r =
      request(port_, "POST", "/console/payments/" + held + "/resolve", cookie,
              "csrf=" + csrfOf(hform.body) + "&resolution=accept&reason=checked%20by%20phone");
  EXPECT_EQ(r.status, 303) << r.body;
  EXPECT_TRUE(eventually([&] { return status(held) == "succeeded"; })) << status(held);
}

TEST_P(ConsoleTest, TheNoticeAfterAnActionIsShownOnceFromTheSessionNeverFromTheUrl) {
  std::int64_t job = deadJob();
  std::string cookie = signIn(kAlice);
  // A crafted link cannot put words in the console's mouth.
  Answer crafted =
      request(port_, "GET", "/console/overview?notice=" + urlEncode("Refund approved: call +1 555"),
              cookie);
  ASSERT_EQ(crafted.status, 200);
  EXPECT_EQ(crafted.body.find("Refund approved"), std::string::npos);
  EXPECT_EQ(crafted.body.find("role=\"status\""), std::string::npos);
  Answer a = request(port_, "POST", "/console/jobs/" + std::to_string(job) + "/retry", cookie,
                     "csrf=" + csrfFor(cookie));
  ASSERT_EQ(a.status, 303) << a.body;
  EXPECT_EQ(a.location, "/console/jobs") << "no notice in the URL";
  const std::string notice = "Job " + std::to_string(job) + " queued again.";
  EXPECT_EQ(kernel_->store()
                .query("SELECT flash FROM console_sessions WHERE actor = 'alice'")
                .str(0, "flash"),
            notice);
  // Another operator's session does not see it; the next page of this one does, once.
  Answer other = request(port_, "GET", "/console/jobs", signIn(kAdmin, "127.0.0.2"));
  EXPECT_EQ(other.body.find(notice), std::string::npos);
  Answer next = request(port_, "GET", a.location, cookie);
  EXPECT_NE(next.body.find("<p class=\"ok\" role=\"status\">" + notice + "</p>"), std::string::npos)
      << next.body;
  Answer again = request(port_, "GET", a.location, cookie);
  EXPECT_EQ(again.body.find(notice), std::string::npos) << "shown once";
}

TEST_P(ConsoleTest, TheSignInLimitHoldsAcrossTwoServersOnOneDatabase) {
  // A second server on the same database (no plugins: it serves the console only).
  std::string yaml = consoleYaml(url_);
  yaml = yaml.substr(0, yaml.find("plugins:"));
  Kernel second(ConfigLoader::loadString(yaml, "second.yaml"), &clock_);
  second.open();
  second.start();
  const std::uint16_t first = port_;
  const std::string wrong = "not-a-token-but-a-guess-0123456789";
  auto attempt = [&](std::uint16_t port, const std::string& token) {
    port_ = port;
    Answer a = signInAnswer(token);
    port_ = first;
    return a;
  };
  // Three a minute from one address, whichever server is asked.
  EXPECT_EQ(attempt(first, wrong).status, 401);
  EXPECT_EQ(attempt(second.port(), wrong).status, 401);
  EXPECT_EQ(attempt(first, wrong).status, 401);
  Answer limited = attempt(second.port(), wrong);
  EXPECT_EQ(limited.status, 429) << limited.body;
  const int wait = std::atoi(limited.header("retry-after").c_str());
  EXPECT_GE(wait, 1);
  EXPECT_LE(wait, 60);
  EXPECT_EQ(attempt(first, kAlice).status, 429);
  EXPECT_EQ(attempt(second.port(), kAlice).status, 429);
  // The minute over, both let the address in again.
  clock_.advance(60 * 1000);
  EXPECT_EQ(attempt(second.port(), kAlice).status, 303);
  EXPECT_EQ(attempt(first, kAlice).status, 303);
}

TEST_P(ConsoleTest, TheOverviewShowsEachProvidersBreakerErrorRateAndP95Latency) {
  std::string cookie = signIn(kVictor);
  auto cell = [&](const std::string& body, const std::string& id) {
    std::smatch m;
    std::regex re("id=\"" + id + "\">([^<]*(<span[^>]*>[^<]*</span>[^<]*)*)</td>");
    return std::regex_search(body, m, re) ? m[1].str() : std::string("(no cell " + id + ")");
  };
  Answer before = request(port_, "GET", "/console/overview", cookie);
  ASSERT_EQ(before.status, 200);
  EXPECT_NE(cell(before.body, "breaker-fakepay").find(">closed<"), std::string::npos)
      << before.body;
  EXPECT_EQ(cell(before.body, "p95-fakepay"), "—");
  // Three slow calls (300 ms), then two failures in a row: the breaker (threshold 2) opens.
  ASSERT_EQ(http(port_, "POST", "/sandbox/fakepay/script", R"({"call_delay_ms": 300})").status,
            200);
  for (const char* phone : {"0754 000 001", "0754 000 002", "0754 000 003"}) order(phone);
  ASSERT_EQ(http(port_, "POST", "/sandbox/fakepay/script", R"({"create_failures": 2})").status,
            200);
  const std::string body =
      R"({"amount_minor": 150000, "currency": "TZS", "providers": ["fakepay"], "phone": "0754000004"})";
  for (int i = 0; i < 2; ++i) EXPECT_GE(http(port_, "POST", "/shop/orders", body).status, 500);
  Answer after = request(port_, "GET", "/console/overview", cookie);
  ASSERT_EQ(after.status, 200);
  const std::string breaker = cell(after.body, "breaker-fakepay");
  EXPECT_NE(breaker.find(">open<"), std::string::npos) << breaker;
  EXPECT_NE(breaker.find("skipped by routing for 30 s more"), std::string::npos) << breaker;
  // 2 failed of the calls made (5 initiations; the provider may also have been queried).
  const std::string rate = cell(after.body, "error-rate-fakepay");
  EXPECT_NE(rate.find(" % (2 of "), std::string::npos) << rate;
  EXPECT_GT(std::atof(rate.c_str()), 0) << rate;
  // p95 lies in the 250–500 ms bucket that holds the slow calls.
  const std::string p95 = cell(after.body, "p95-fakepay");
  ASSERT_NE(p95.find(" ms"), std::string::npos) << p95;
  const double ms = std::atof(p95.c_str());
  EXPECT_GT(ms, 250) << p95;
  EXPECT_LE(ms, 500) << p95;
  EXPECT_NE(after.body.find("aria-label=\"p95 latency of provider calls"), std::string::npos);
  // The breaker closes again when its time is over.
  clock_.advance(31 * 1000);
  Answer later = request(port_, "GET", "/console/overview", cookie);
  EXPECT_NE(cell(later.body, "breaker-fakepay").find(">closed<"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Engines, ConsoleTest, ::testing::Values("sqlite", "postgresql"),
                         engineName);
