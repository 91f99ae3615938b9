// The CV PDF product through the kernel: validation, the state machine, pages, download
// rules, rate limits. Payments go through the kernel's test provider (fakepay) here; the
// Selcom end-to-end flow is in selcom_flow_test.cpp.
#include <Poco/File.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "../../../tests/kernel/engines.hpp"
#include "../../../tests/kernel/kernel_fixture.hpp"
#include "cv_validation.hpp"
#include "links.hpp"
#include "support/TestSupport.hpp"

using namespace malipo;
using namespace malipo::test;

namespace {

Poco::JSON::Object::Ptr parse(const std::string& s) {
  return Poco::JSON::Parser().parse(s).extract<Poco::JSON::Object::Ptr>();
}

const std::string kJwtSecret = "cv-secret-0123456789abcdefghijklmnop";
const std::string kLinkSecret = "cv-link-secret-0123456789abcdefghijklmnop";

std::map<std::string, std::string> bearer(const std::string& sub) {
  return {{"Authorization", "Bearer " + makeJwt(kJwtSecret, sub, 3600)}};
}

// What follows "access=" in a URL (a signed page or download link).
std::string accessOf(const std::string& url) {
  std::size_t at = url.find("access=");
  if (at == std::string::npos) return "";
  return url.substr(at + 7, url.find_first_of("&\"", at + 7) - at - 7);
}

// The path and query of an absolute URL.
std::string target(const std::string& url) {
  std::size_t scheme = url.find("://");
  return scheme == std::string::npos ? url : url.substr(url.find('/', scheme + 3));
}

const std::string kCv =
    R"({"template_id": "modern", "cv_data": {"name": "Zoë Ñandú", "title": "Software <Engineer>",
  "email": "zoe@example.com", "phone": "+255 754 123 456", "summary": "Builds payment systems.",
  "experience": [{"position": "Senior Developer", "company": "Tech Solutions Ltd", "duration": "2020-2023", "description": "Led a team."}],
  "education": [{"degree": "BSc Computer Science", "school": "University of Dar es Salaam", "duration": "2015-2019"}],
  "skills": ["C++", "SQL"], "languages": ["English", "Swahili"]}})";

// On SQLite, and on PostgreSQL when scripts/test.sh provides one.
class CvPdfTest : public EngineTest {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_ENGINE();
    // clang-format off
    std::string yaml =
        "server: {listen: \"127.0.0.1:0\", access_log: false}\n"
        "database: {url: \"" + url() + "\"}\n"
        "auth: {jwt_secret: " + kJwtSecret + "}\n"
        "brand: {name: CV Chap Chap, support_phone: \"+255 700 111 222\", support_email: help@cvchapchap.example}\n"
        "jobs: {workers: 2, poll_interval_ms: 20}\n"
        "log: {level: error}\nsandbox: true\n"
        "plugins:\n"
        "  - {name: fakepay, library: " TEST_PLUGIN_DIR "/libmalipo_fakepay.so}\n"
        "  - name: cvpdf\n    library: " CVPDF_PLUGIN "\n"
        "    settings: {providers: [fakepay], storage_dir: \"" + dir_.file("pdfs") + "\", verify_backoff_ms: 50, "
        "verify_retries: 2, verify_max_attempts: 4, link_secret: " + kLinkSecret + "}\n";
    // clang-format on
    kernel_ = std::make_unique<Kernel>(ConfigLoader::loadString(yaml, "cv.yaml"));
    kernel_->open();
    kernel_->start();
    port_ = kernel_->port();
  }
  void TearDown() override { kernel_.reset(); }

  std::string initiate(const std::string& body = kCv,
                       const std::map<std::string, std::string>& headers = {},
                       std::string* paymentPageUrl = nullptr) {
    auto r = http(port_, "POST", "/api/cv-pdf/anonymous/initiate-ussd", body, headers);
    EXPECT_EQ(r.status, 200) << r.body;
    auto o = parse(r.body);
    EXPECT_TRUE(o->getValue<bool>("success"));
    EXPECT_EQ(o->getValue<std::string>("payment_page_url").rfind("http://127.0.0.1:", 0), 0u);
    if (paymentPageUrl) *paymentPageUrl = o->getValue<std::string>("payment_page_url");
    return o->getValue<std::string>("request_id");
  }
  std::string paymentId(const std::string& rid) {
    return kernel_->store()
        .query("SELECT payment_id FROM cv_requests WHERE id = ?", {rid})
        .str(0, "payment_id");
  }
  std::string providerRef(const std::string& rid) {
    return kernel_->store()
        .query("SELECT provider_ref FROM payments WHERE id = ?", {paymentId(rid)})
        .str(0, "provider_ref");
  }
  std::string payInSim(const std::string& rid, const std::string& body = R"({"webhooks": 0})") {
    auto r = http(port_, "POST", "/sandbox/fakepay/orders/" + providerRef(rid) + "/pay", body);
    return parse(r.body)->getValue<std::string>("txn_id");
  }
  std::string status(const std::string& rid,
                     const std::map<std::string, std::string>& headers = {}) {
    auto r = http(port_, "GET", "/api/cv-pdf/" + rid + "/status", "", headers);
    return r.status == 200 ? parse(r.body)->getValue<std::string>("status")
                           : "HTTP " + std::to_string(r.status);
  }
  HttpResult verify(const std::string& rid, const std::string& sms,
                    const std::map<std::string, std::string>& headers = {},
                    const std::string& query = "") {
    std::string form = "payment_message=";
    for (char c : sms) form += (c == ' ') ? std::string("+") : std::string(1, c);
    return http(port_, "POST", "/api/cv-pdf/" + rid + "/verify" + query, form, headers,
                "application/x-www-form-urlencoded");
  }
  std::int64_t verifyJobs() {
    return kernel_->store()
        .query("SELECT COUNT(*) AS n FROM jobs WHERE kind = 'cvpdf.verify'")
        .i64(0, "n");
  }

  std::unique_ptr<Kernel> kernel_;
  std::uint16_t port_ = 0;
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Engines, CvPdfTest, ::testing::Values("sqlite", "postgresql"), engineName);

TEST(CvValidation, RequiresNameAndCapsSizes) {
  cvpdf::CvLimits limits;
  auto ok = cvpdf::validateCv(parse(R"({"name": "Đorđe Šećerović", "skills": ["C++"]})"), limits);
  EXPECT_TRUE(ok.ok) << ok.message;
  EXPECT_EQ(ok.cv.name, "Đorđe Šećerović");
  EXPECT_EQ(cvpdf::validateCv(parse(R"({"title": "x"})"), limits).message,
            "cv_data.name is required");
  EXPECT_EQ(cvpdf::validateCv(parse(R"({"name": "  "})"), limits).message,
            "cv_data.name is required");
  EXPECT_EQ(cvpdf::validateCv(parse(R"({"name": 5})"), limits).message,
            "cv_data.name must be a string");
  std::string longName(121, 'a');
  EXPECT_EQ(cvpdf::validateCv(parse("{\"name\": \"" + longName + "\"}"), limits).message,
            "cv_data.name is longer than 120 characters");
  // 120 two-byte characters are fine: limits count characters, not bytes.
  std::string wide;
  for (int i = 0; i < 120; ++i) wide += "ë";
  EXPECT_TRUE(cvpdf::validateCv(parse("{\"name\": \"" + wide + "\"}"), limits).ok);
  std::string many = "{\"name\": \"x\", \"skills\": [";
  for (int i = 0; i < 51; ++i) many += std::string(i ? "," : "") + "\"s\"";
  EXPECT_EQ(cvpdf::validateCv(parse(many + "]}"), limits).message,
            "cv_data.skills has more than 50 entries");
  EXPECT_EQ(
      cvpdf::validateCv(parse(R"({"name": "x", "experience": [{"position": 1}]})"), limits).message,
      "cv_data.experience[0].position must be a string");
  EXPECT_EQ(cvpdf::validateCv(parse(R"({"name": "x", "experience": "lots"})"), limits).message,
            "cv_data.experience must be a list");
  EXPECT_FALSE(cvpdf::validateCv(nullptr, limits).ok);
  EXPECT_TRUE(cvpdf::isUuid("7f4c2b3a-1d5e-4f9a-8c3d-6b7a9c8d0e1f"));
  EXPECT_FALSE(cvpdf::isUuid("7f4c2b3a-1d5e-4f9a-8c3d-6b7a9c8d0e1"));
  EXPECT_FALSE(cvpdf::isUuid("../../etc/passwd-xxxxxxxxxxxxxxxxxxxx"));
  EXPECT_TRUE(cvpdf::isCvId("anonymous"));
  EXPECT_FALSE(cvpdf::isCvId("a/b"));
}

TEST_P(CvPdfTest, InitiateValidatesInput) {
  auto bad = http(port_, "POST", "/api/cv-pdf/anonymous/initiate-ussd",
                  R"({"template_id": "fancy", "cv_data": {"name": "x"}})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(parse(bad.body)->getValue<std::string>("error"),
            "Unknown template_id 'fancy'. Valid templates: modern, classic, minimal.");
  auto noName = http(port_, "POST", "/api/cv-pdf/anonymous/initiate-ussd",
                     R"({"template_id": "classic", "cv_data": {}})");
  EXPECT_EQ(noName.status, 400);
  EXPECT_EQ(parse(noName.body)->getValue<std::string>("error"), "cv_data.name is required");
  EXPECT_EQ(http(port_, "POST", "/api/cv-pdf/anonymous/initiate-ussd", "not json").status, 400);
  EXPECT_EQ(http(port_, "POST", "/api/cv-pdf/bad%20id/initiate-ussd", kCv).status, 404);
  EXPECT_EQ(
      http(port_, "POST", "/api/cv-pdf/anonymous/initiate-ussd", std::string(70000, ' ')).status,
      413);
  EXPECT_EQ(http(port_, "GET", "/api/cv-pdf/not-a-uuid/status").status, 404);
  EXPECT_EQ(http(port_, "GET", "/api/cv-pdf/7f4c2b3a-1d5e-4f9a-8c3d-6b7a9c8d0e1f/status").status,
            404);
  EXPECT_EQ(kernel_->store().query("SELECT COUNT(*) AS n FROM cv_requests").i64(0, "n"), 0);
}

TEST_P(CvPdfTest, PastedProofCompletesAndDownloads) {
  std::string rid = initiate();
  EXPECT_EQ(status(rid), "pending_payment");
  auto pageResp = http(port_, "GET", "/api/cv-pdf/" + rid + "/payment-page");
  EXPECT_EQ(pageResp.status, 200);
  EXPECT_NE(pageResp.body.find("TSh 1,000"), std::string::npos);
  EXPECT_NE(pageResp.body.find("/verify"), std::string::npos);
  EXPECT_EQ(http(port_, "GET", "/api/cv-pdf/" + rid + "/download").status, 409);
  std::string txn = payInSim(rid);
  auto v = verify(rid, "PAID " + txn);
  EXPECT_EQ(v.status, 303);
  EXPECT_EQ(v.header("Location"), "/api/cv-pdf/" + rid + "/status-page");
  ASSERT_TRUE(eventually([&] { return status(rid) == "completed"; })) << status(rid);
  auto st = parse(http(port_, "GET", "/api/cv-pdf/" + rid + "/status").body);
  EXPECT_EQ(st->getValue<std::string>("download_url"), "/api/cv-pdf/" + rid + "/download");
  EXPECT_FALSE(st->isNull("completed_at"));
  auto dl = http(port_, "GET", "/api/cv-pdf/" + rid + "/download");
  EXPECT_EQ(dl.status, 200);
  EXPECT_EQ(dl.header("Content-Type"), "application/pdf");
  EXPECT_EQ(dl.body.rfind("%PDF-", 0), 0u);
  EXPECT_NE(dl.header("Content-Disposition").find("attachment; filename=\"cv-zo"),
            std::string::npos)
      << dl.header("Content-Disposition");
  EXPECT_NE(dl.header("Cache-Control").find("max-age"), std::string::npos);
  EXPECT_NE(
      dl.header("Content-Disposition").find("filename*=UTF-8''cv-Zo%C3%AB%20%C3%91and%C3%BA.pdf"),
      std::string::npos)
      << dl.header("Content-Disposition");
  std::string stored = kernel_->store()
                           .query("SELECT pdf_path FROM cv_requests WHERE id = ?", {rid})
                           .str(0, "pdf_path");
  EXPECT_EQ(stored.rfind(dir_.file("pdfs") + "/", 0), 0u) << stored;  // inside storage_dir
  std::string etag = dl.header("ETag");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(
      http(port_, "GET", "/api/cv-pdf/" + rid + "/download", "", {{"If-None-Match", etag}}).status,
      304);
  EXPECT_EQ(http(port_, "GET", "/api/cv-pdf/" + rid + "/download").status, 200);
  EXPECT_EQ(kernel_->store()
                .query("SELECT download_count FROM cv_requests WHERE id = ?", {rid})
                .i64(0, "download_count"),
            2);
  // The status page offers the download; the completed request never makes a second PDF.
  auto sp = http(port_, "GET", "/api/cv-pdf/" + rid + "/status-page");
  EXPECT_NE(sp.body.find("id=\"download\""), std::string::npos);
  EXPECT_EQ(sp.body.find("http-equiv=\"refresh\""), std::string::npos);
  EXPECT_EQ(verify(rid, "PAID " + txn).status, 303);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(kernel_->store()
                .query("SELECT COUNT(*) AS n FROM jobs WHERE kind = 'payment.settled'")
                .i64(0, "n"),
            1);
}

TEST_P(CvPdfTest, WebhookAloneCompletes) {
  std::string rid = initiate();
  payInSim(rid, "{}");  // the simulator sends its webhook
  ASSERT_TRUE(eventually([&] { return status(rid) == "completed"; })) << status(rid);
}

TEST_P(CvPdfTest, NotPaidRetriesThenFailsWithAMessageAndCanRetry) {
  std::string rid = initiate();
  EXPECT_EQ(verify(rid, "PAID TXNOTYET").status, 303);
  auto page = http(port_, "GET", "/api/cv-pdf/" + rid + "/status-page");
  EXPECT_NE(page.body.find("http-equiv=\"refresh\" content=\"5\""), std::string::npos);
  ASSERT_TRUE(eventually([&] { return status(rid) == "failed"; }));
  auto st = parse(http(port_, "GET", "/api/cv-pdf/" + rid + "/status").body);
  EXPECT_NE(st->getValue<std::string>("error").find("has not been confirmed yet"),
            std::string::npos);
  EXPECT_EQ(kernel_->store()
                .query("SELECT attempts FROM jobs WHERE kind = 'cvpdf.verify'")
                .i64(0, "attempts"),
            3);
  EXPECT_TRUE(kernel_->store()
                  .query("SELECT pending_message FROM cv_requests WHERE id = ?", {rid})
                  .isNull(0, "pending_message"));
  // Retrying a failed request is allowed: pay, then verify again.
  std::string txn = payInSim(rid);
  EXPECT_EQ(verify(rid, "PAID " + txn).status, 303);
  ASSERT_TRUE(eventually([&] { return status(rid) == "completed"; }));
}

TEST_P(CvPdfTest, WrongProofFailsAtOnceAndPagesEscapeInput) {
  std::string rid = initiate();
  payInSim(rid, R"({"webhooks": 0, "txn_id": "TXREAL"})");
  verify(rid, "PAID TXOTHER");
  ASSERT_TRUE(eventually([&] { return status(rid) == "failed"; }));
  auto st = parse(http(port_, "GET", "/api/cv-pdf/" + rid + "/status").body);
  EXPECT_EQ(st->getValue<std::string>("error"), "This transaction ID does not match the payment.");
  auto form = http(port_, "POST", "/api/cv-pdf/" + rid + "/verify", "payment_message=", {},
                   "application/x-www-form-urlencoded");
  EXPECT_EQ(form.status, 400);
  auto xss = http(port_, "POST", "/api/cv-pdf/" + rid + "/verify", "", {},
                  "application/x-www-form-urlencoded");
  EXPECT_EQ(xss.status, 400);
  // A JSON body works too, and what the person typed is escaped when shown back.
  auto again = http(port_, "POST", "/api/cv-pdf/" + rid + "/verify", R"({"payment_message": ""})");
  EXPECT_EQ(again.status, 400);
}

TEST_P(CvPdfTest, VerifyAttemptsAreLimitedPerRequest) {
  std::string rid = initiate();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(verify(rid, "<b>nonsense</b>").status, 303);
    ASSERT_TRUE(eventually([&] { return status(rid) == "failed"; }));
  }
  auto limited = verify(rid, "<b>nonsense</b>");
  EXPECT_EQ(limited.status, 429);
  EXPECT_NE(limited.body.find("Too many verification attempts"), std::string::npos);
  EXPECT_NE(limited.body.find("&lt;b&gt;nonsense&lt;"), std::string::npos);
  EXPECT_EQ(limited.body.find("<b>nonsense</b>"), std::string::npos);
}

TEST_P(CvPdfTest, LoggedInRequestDownloadsOnlyForItsOwner) {
  std::string alice = makeJwt(kJwtSecret, "alice", 3600), bob = makeJwt(kJwtSecret, "bob", 3600);
  std::string rid = initiate(kCv, {{"Authorization", "Bearer " + alice}});
  payInSim(rid, "{}");
  ASSERT_TRUE(eventually([&] { return status(rid, bearer("alice")) == "completed"; }));
  EXPECT_EQ(http(port_, "GET", "/api/cv-pdf/" + rid + "/download").status, 403);
  EXPECT_EQ(http(port_, "GET", "/api/cv-pdf/" + rid + "/download", "",
                 {{"Authorization", "Bearer " + bob}})
                .status,
            403);
  EXPECT_EQ(http(port_, "GET", "/api/cv-pdf/" + rid + "/download", "",
                 {{"Authorization", "Bearer " + alice}})
                .status,
            200);
}

TEST_P(CvPdfTest, IdempotencyKeyReturnsTheSameRequest) {
  auto a = http(port_, "POST", "/api/cv-pdf/anonymous/initiate-ussd", kCv,
                {{"Idempotency-Key", "cv-1"}});
  auto b = http(port_, "POST", "/api/cv-pdf/anonymous/initiate-ussd", kCv,
                {{"Idempotency-Key", "cv-1"}});
  EXPECT_EQ(a.body, b.body);
  EXPECT_EQ(kernel_->store().query("SELECT COUNT(*) AS n FROM cv_requests").i64(0, "n"), 1);
}

TEST_P(CvPdfTest, ExpiredPaymentCanBeRestarted) {
  std::string rid = initiate();
  std::string pid = paymentId(rid);
  kernel_->store().exec("UPDATE payments SET expires_at = 1 WHERE id = ?", {pid});
  kernel_->payments().sync(pid);
  ASSERT_TRUE(eventually([&] { return status(rid) == "failed"; }));
  auto sp = http(port_, "GET", "/api/cv-pdf/" + rid + "/status-page");
  EXPECT_NE(sp.body.find("Start a new payment"), std::string::npos);
  auto rs = http(port_, "POST", "/api/cv-pdf/" + rid + "/restart", "", {},
                 "application/x-www-form-urlencoded");
  EXPECT_EQ(rs.status, 303);
  EXPECT_EQ(status(rid), "pending_payment");
  EXPECT_NE(paymentId(rid), pid);
  payInSim(rid, "{}");
  ASSERT_TRUE(eventually([&] { return status(rid) == "completed"; }));
}

// ---------------------------------------------------------------- who may see and act (issue 12)

TEST_P(CvPdfTest, SignedInUsersRequestAnswersOnlyThatUser) {
  std::string pageUrl;
  std::string rid = initiate(kCv, bearer("alice"), &pageUrl);
  const std::string base = "/api/cv-pdf/" + rid + "/";
  // Nobody else reads it: not without a token, not as another signed-in user.
  for (const std::string leaf : {"status", "status-page", "payment-page", "verify"}) {
    EXPECT_EQ(http(port_, "GET", base + leaf).status, 403) << leaf;
    auto asBob = http(port_, "GET", base + leaf, "", bearer("bob"));
    EXPECT_EQ(asBob.status, 403) << leaf;
    EXPECT_EQ(asBob.body.find("754"), std::string::npos) << leaf << ": the owner's phone leaks";
    EXPECT_EQ(http(port_, "GET", base + leaf, "", bearer("alice")).status, 200) << leaf;
  }
  // Nor acts on it: no SMS, no push to a number of bob's choice, no restart.
  EXPECT_EQ(verify(rid, "PAID TX1", bearer("bob")).status, 403);
  EXPECT_EQ(http(port_, "POST", base + "push", "phone=0754000001", bearer("bob"),
                 "application/x-www-form-urlencoded")
                .status,
            403);
  EXPECT_EQ(
      http(port_, "POST", base + "restart", "", bearer("bob"), "application/x-www-form-urlencoded")
          .status,
      403);
  EXPECT_EQ(verifyJobs(), 0);
  EXPECT_EQ(kernel_->store()
                .query("SELECT COUNT(*) AS n FROM payment_events WHERE kind LIKE 'push%'")
                .i64(0, "n"),
            0);
  EXPECT_EQ(status(rid, bearer("alice")), "pending_payment");

  // Alice's browser has no JWT: the payment page URL she got carries a link signed for her,
  // and every link of the pages carries it on.
  const std::string token = accessOf(pageUrl);
  ASSERT_FALSE(token.empty()) << pageUrl;
  auto page = http(port_, "GET", target(pageUrl));
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_NE(page.body.find("value=\"+255 754 123 456\""), std::string::npos)
      << "the owner sees her own number";
  EXPECT_NE(page.body.find("/verify?access=" + token), std::string::npos);
  EXPECT_NE(page.body.find("/push?access=" + token), std::string::npos);
  EXPECT_EQ(http(port_, "GET", base + "status-page?access=" + token).status, 200);
  EXPECT_EQ(http(port_, "GET", base + "status?access=" + token).status, 200);
  // The link opens this request only: not another one of hers, and not when tampered with.
  std::string other = initiate(kCv, bearer("alice"));
  EXPECT_EQ(http(port_, "GET", "/api/cv-pdf/" + other + "/status-page?access=" + token).status,
            403);
  std::string tampered = token;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(http(port_, "GET", base + "status-page?access=" + tampered).status, 403);
  // One signed for someone else (with the right key) does not open hers.
  std::int64_t later = std::time(nullptr) + 3600;
  EXPECT_EQ(
      http(port_, "GET",
           base + "status-page?access=" + cvpdf::signLink(kLinkSecret, "page", rid, "bob", later))
          .status,
      403);
  EXPECT_EQ(
      http(port_, "GET",
           base + "status-page?access=" + cvpdf::signLink(kLinkSecret, "page", rid, "alice", later))
          .status,
      200);
  auto expired =
      http(port_, "GET",
           base + "status-page?access=" +
               cvpdf::signLink(kLinkSecret, "page", rid, "alice", std::time(nullptr) - 1));
  EXPECT_EQ(expired.status, 403);
  EXPECT_NE(expired.body.find("expired"), std::string::npos);
  // Through her link she verifies (the form posts and redirects keep it).
  std::string txn = payInSim(rid);
  auto v = verify(rid, "PAID " + txn, {}, "?access=" + token);
  EXPECT_EQ(v.status, 303);
  EXPECT_EQ(v.header("Location"), base + "status-page?access=" + token);
  ASSERT_TRUE(eventually([&] { return status(rid, bearer("alice")) == "completed"; }));
}

TEST_P(CvPdfTest, AnonymousRequestPagesMaskThePhone) {
  std::string rid = initiate();
  auto page = http(port_, "GET", "/api/cv-pdf/" + rid + "/payment-page");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.body.find("754 123"), std::string::npos)
      << "whoever holds the id must not see the CV's number";
  EXPECT_EQ(page.body.find("754123"), std::string::npos);
  EXPECT_EQ(page.body.find("zoe@example.com"), std::string::npos);
  EXPECT_NE(page.body.find("ends in 456"), std::string::npos);
  for (const std::string leaf : {"status-page", "verify"}) {
    auto p = http(port_, "GET", "/api/cv-pdf/" + rid + "/" + leaf);
    EXPECT_EQ(p.body.find("754"), std::string::npos) << leaf;
    EXPECT_EQ(p.body.find("zoe@"), std::string::npos) << leaf;
  }
}

// ---------------------------------------------------------------- the owner's browser download
// (issue 14)

TEST_P(CvPdfTest, OwnerDownloadsThroughAShortLivedSignedLink) {
  std::string rid = initiate(kCv, bearer("alice")), other = initiate(kCv, bearer("alice"));
  payInSim(rid, "{}");
  ASSERT_TRUE(eventually([&] { return status(rid, bearer("alice")) == "completed"; }));
  auto st = parse(http(port_, "GET", "/api/cv-pdf/" + rid + "/status", "", bearer("alice")).body);
  EXPECT_EQ(st->getValue<std::string>("download_url"),
            "/api/cv-pdf/" + rid + "/download");  // the JWT route stays
  const std::string signedUrl = st->getValue<std::string>("signed_download_url");
  ASSERT_EQ(signedUrl.rfind("/api/cv-pdf/" + rid + "/download?access=", 0), 0u) << signedUrl;
  EXPECT_FALSE(st->getValue<std::string>("signed_download_expires_at").empty());
  // No JWT: the signed link alone downloads.
  auto dl = http(port_, "GET", signedUrl);
  EXPECT_EQ(dl.status, 200) << dl.body;
  EXPECT_EQ(dl.body.rfind("%PDF-", 0), 0u);
  // The status page (opened through her page link) offers the same kind of link.
  std::string pageToken =
      cvpdf::signLink(kLinkSecret, "page", rid, "alice", std::time(nullptr) + 600);
  auto sp = http(port_, "GET", "/api/cv-pdf/" + rid + "/status-page?access=" + pageToken);
  std::size_t at = sp.body.find("id=\"download\" href=\"");
  ASSERT_NE(at, std::string::npos) << sp.body;
  std::string href = sp.body.substr(at + 20, sp.body.find('"', at + 20) - at - 20);
  EXPECT_NE(href.find("access="), std::string::npos) << href;
  EXPECT_EQ(http(port_, "GET", href).status, 200);
  // Refused: another request's link, one for another user, an expired one, a page link.
  const std::string token = accessOf(signedUrl);
  EXPECT_EQ(http(port_, "GET", "/api/cv-pdf/" + other + "/download?access=" + token).status, 403);
  std::int64_t later = std::time(nullptr) + 300;
  EXPECT_EQ(http(port_, "GET",
                 "/api/cv-pdf/" + rid + "/download?access=" +
                     cvpdf::signLink(kLinkSecret, "download", rid, "bob", later))
                .status,
            403);
  EXPECT_EQ(http(port_, "GET",
                 "/api/cv-pdf/" + rid + "/download?access=" +
                     cvpdf::signLink(kLinkSecret, "download", rid, "alice", later))
                .status,
            200);
  auto expired =
      http(port_, "GET",
           "/api/cv-pdf/" + rid + "/download?access=" +
               cvpdf::signLink(kLinkSecret, "download", rid, "alice", std::time(nullptr) - 1));
  EXPECT_EQ(expired.status, 403);
  EXPECT_NE(parse(expired.body)->getValue<std::string>("error").find("expired"), std::string::npos);
  EXPECT_EQ(http(port_, "GET", "/api/cv-pdf/" + rid + "/download?access=" + pageToken).status, 403);
  EXPECT_EQ(http(port_, "GET", "/api/cv-pdf/" + rid + "/download?access=garbage").status, 403);
  // Unsigned and without a JWT stays refused; an anonymous request needs no link.
  EXPECT_EQ(http(port_, "GET", "/api/cv-pdf/" + rid + "/download").status, 403);
}

TEST(CvPdfLinks, SignedLinksBindPurposeRequestUserAndTime) {
  const std::string key = "k-0123456789abcdefghijklmnopqrstuvwxyz";
  std::string t = cvpdf::signLink(key, "download", "r1", "alice", 1000);
  EXPECT_EQ(cvpdf::checkLink(key, "download", "r1", "alice", t, 999), cvpdf::LinkCheck::valid);
  EXPECT_EQ(cvpdf::checkLink(key, "download", "r1", "alice", t, 1000), cvpdf::LinkCheck::valid);
  EXPECT_EQ(cvpdf::checkLink(key, "download", "r1", "alice", t, 1001), cvpdf::LinkCheck::expired);
  EXPECT_EQ(cvpdf::checkLink(key, "page", "r1", "alice", t, 999), cvpdf::LinkCheck::invalid);
  EXPECT_EQ(cvpdf::checkLink(key, "download", "r2", "alice", t, 999), cvpdf::LinkCheck::invalid);
  EXPECT_EQ(cvpdf::checkLink(key, "download", "r1", "bob", t, 999), cvpdf::LinkCheck::invalid);
  EXPECT_EQ(cvpdf::checkLink(key + "x", "download", "r1", "alice", t, 999),
            cvpdf::LinkCheck::invalid);
  // A later expiry with the old signature is not accepted.
  EXPECT_EQ(cvpdf::checkLink(key, "download", "r1", "alice", "9999" + t.substr(t.find('.')), 999),
            cvpdf::LinkCheck::invalid);
  for (const std::string bad : {"", ".", "1000.", ".abc", "x.y", "1000"})
    EXPECT_EQ(cvpdf::checkLink(key, "download", "r1", "alice", bad, 999), cvpdf::LinkCheck::invalid)
        << bad;
  EXPECT_EQ(cvpdf::randomLinkKey().size(), 64u);
  EXPECT_NE(cvpdf::randomLinkKey(), cvpdf::randomLinkKey());
}

// ---------------------------------------------------------------- held is not unpaid (issue 14)

TEST_P(CvPdfTest, HeldPaymentShowsAsReceivedUnderReview) {
  std::string rid = initiate();
  payInSim(rid, R"({"amount_minor": 50000})");  // 500 of 1000 TZS, and the webhook
  ASSERT_TRUE(eventually([&] { return status(rid) == "payment_under_review"; })) << status(rid);
  auto st = parse(http(port_, "GET", "/api/cv-pdf/" + rid + "/status").body);
  EXPECT_FALSE(st->getValue<std::string>("reference").empty());
  EXPECT_NE(st->getValue<std::string>("message").find("received your payment"), std::string::npos);
  auto support = st->getObject("support");
  ASSERT_TRUE(support);
  EXPECT_EQ(support->getValue<std::string>("phone"), "+255 700 111 222");
  EXPECT_EQ(support->getValue<std::string>("email"), "help@cvchapchap.example");
  EXPECT_EQ(support->getValue<std::string>("name"), "CV Chap Chap");
  EXPECT_TRUE(st->isNull("download_url"));

  auto sp = http(port_, "GET", "/api/cv-pdf/" + rid + "/status-page");
  EXPECT_NE(sp.body.find("data-status=\"payment_under_review\""), std::string::npos);
  EXPECT_NE(sp.body.find("under review"), std::string::npos);
  EXPECT_NE(sp.body.find(st->getValue<std::string>("reference")), std::string::npos);
  EXPECT_NE(sp.body.find("+255 700 111 222"), std::string::npos);
  EXPECT_NE(sp.body.find("help@cvchapchap.example"), std::string::npos);
  EXPECT_EQ(sp.body.find("Waiting for your payment"), std::string::npos);
  EXPECT_EQ(sp.body.find("Payment instructions"), std::string::npos);
  // Neither the payment page nor the verify form asks for money or an SMS again.
  for (const std::string leaf : {"payment-page", "verify"}) {
    auto r = http(port_, "GET", "/api/cv-pdf/" + rid + "/" + leaf);
    EXPECT_EQ(r.status, 303) << leaf;
    EXPECT_EQ(r.header("Location"), "/api/cv-pdf/" + rid + "/status-page") << leaf;
  }
  auto v = verify(rid, "PAID TXANY");
  EXPECT_EQ(v.status, 303);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(status(rid), "payment_under_review");
  EXPECT_EQ(verifyJobs(), 0);
}

TEST_P(CvPdfTest, ProofOfAShortPaymentIsUnderReviewNotFailed) {
  std::string rid = initiate();
  std::string txn =
      payInSim(rid, R"({"webhooks": 0, "amount_minor": 50000})");  // only the SMS tells us
  EXPECT_EQ(verify(rid, "PAID " + txn).status, 303);
  ASSERT_TRUE(eventually([&] { return status(rid) == "payment_under_review"; })) << status(rid);
  auto sp = http(port_, "GET", "/api/cv-pdf/" + rid + "/status-page");
  EXPECT_EQ(sp.body.find("can no longer be confirmed"), std::string::npos);
  EXPECT_EQ(sp.body.find("id=\"error\""), std::string::npos);
}

// ---------------------------------------------------------------- Try again after a decline (issue
// 14)

TEST_P(CvPdfTest, TryAgainAfterADeclineStartsANewPayment) {
  std::string rid = initiate();
  std::string first = paymentId(rid);
  payInSim(rid, R"({"outcome": "failed"})");
  ASSERT_TRUE(eventually([&] { return status(rid) == "failed"; })) << status(rid);
  auto sp = http(port_, "GET", "/api/cv-pdf/" + rid + "/status-page");
  // "Try again" posts to restart: it does not lead back to an SMS for the declined payment.
  std::size_t form = sp.body.find("action=\"/api/cv-pdf/" + rid + "/restart\"");
  ASSERT_NE(form, std::string::npos) << sp.body;
  EXPECT_NE(sp.body.find("id=\"retry\"", form), std::string::npos);
  EXPECT_EQ(sp.body.find("href=\"/api/cv-pdf/" + rid + "/verify\" "), std::string::npos);
  auto vf = http(port_, "GET", "/api/cv-pdf/" + rid + "/verify");
  EXPECT_EQ(vf.status, 303);
  EXPECT_EQ(verify(rid, "PAID TX1").status, 303);
  EXPECT_EQ(verifyJobs(), 0);
  auto rs = http(port_, "POST", "/api/cv-pdf/" + rid + "/restart", "", {},
                 "application/x-www-form-urlencoded");
  EXPECT_EQ(rs.status, 303);
  EXPECT_EQ(rs.header("Location"), "/api/cv-pdf/" + rid + "/payment-page");
  EXPECT_EQ(status(rid), "pending_payment");
  EXPECT_NE(paymentId(rid), first);
  EXPECT_EQ(http(port_, "GET", rs.header("Location")).status, 200);
  std::string txn = payInSim(rid);
  EXPECT_EQ(verify(rid, "PAID " + txn).status, 303);
  ASSERT_TRUE(eventually([&] { return status(rid) == "completed"; }));
}

// Issue 20: the PDF's footer names the business behind it (the kernel's `brand:`): name,
// support phone and email, read back from the downloaded file with pdftotext.
TEST_P(CvPdfTest, TheDownloadedPdfCarriesTheBrandInItsFooter) {
  if (std::system("command -v pdftotext >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "pdftotext (poppler-utils) not installed";
  std::string rid = initiate();
  std::string txn = payInSim(rid);
  EXPECT_EQ(verify(rid, "PAID " + txn).status, 303);
  ASSERT_TRUE(eventually([&] { return status(rid) == "completed"; })) << status(rid);
  auto dl = http(port_, "GET", "/api/cv-pdf/" + rid + "/download");
  ASSERT_EQ(dl.status, 200);
  const std::string file = dir_.file("cv.pdf");
  std::ofstream(file, std::ios::binary) << dl.body;
  std::string text;
  if (FILE* f = popen(("pdftotext -layout -enc UTF-8 '" + file + "' - 2>&1").c_str(), "r")) {
    char buf[4096];
    for (std::size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
    pclose(f);
  }
  EXPECT_NE(text.find("CV Chap Chap \xC2\xB7 +255 700 111 222 \xC2\xB7 help@cvchapchap.example"),
            std::string::npos)
      << text;
}

// Issue 20: what a failed request says is stored in English (the provider's reason, our own
// sentences) and shown in the customer's language on the status page and in the status JSON
// (?lang=, the language cookie a ?lang= page set, Accept-Language); the page's language
// switcher keeps the request's path.
TEST_P(CvPdfTest, FailureReasonsShowInTheCustomersLanguage) {
  std::string rid = initiate();
  payInSim(rid, R"({"outcome": "failed"})");
  ASSERT_TRUE(eventually([&] { return status(rid) == "failed"; })) << status(rid);
  const std::string page = "/api/cv-pdf/" + rid + "/status-page";
  auto en = http(port_, "GET", page);
  EXPECT_NE(en.body.find("The payment was declined."), std::string::npos) << en.body;
  auto sw = http(port_, "GET", page + "?lang=sw");
  EXPECT_NE(sw.body.find("id=\"error\">Malipo yamekataliwa.</p>"), std::string::npos) << sw.body;
  EXPECT_EQ(sw.body.find("The payment was declined."), std::string::npos);
  EXPECT_NE(sw.body.find("href=\"" + page + "?lang=fr\""), std::string::npos) << sw.body;
  const std::string cookie = sw.header("Set-Cookie");
  EXPECT_EQ(cookie.rfind("malipo_lang=sw;", 0), 0u) << cookie;
  // The next page of the flow, without ?lang=: the cookie, before the browser's French.
  auto next = http(port_, "GET", page, "",
                   {{"Cookie", "malipo_lang=sw"}, {"Accept-Language", "fr-FR,fr;q=0.9"}});
  EXPECT_NE(next.body.find("Malipo yamekataliwa."), std::string::npos);
  auto fr = http(port_, "GET", page, "", {{"Accept-Language", "fr-FR,fr;q=0.9"}});
  EXPECT_NE(fr.body.find("Le paiement a \xC3\xA9t\xC3\xA9 refus\xC3\xA9."), std::string::npos)
      << fr.body;
  auto json = parse(http(port_, "GET", "/api/cv-pdf/" + rid + "/status?lang=fr").body);
  EXPECT_EQ(json->getValue<std::string>("error"), "Le paiement a \xC3\xA9t\xC3\xA9 refus\xC3\xA9.");
  // Stored as written, in English.
  EXPECT_EQ(
      kernel_->store().query("SELECT error FROM cv_requests WHERE id = ?", {rid}).str(0, "error"),
      "The payment was declined.");

  // Our own sentence (not confirmed after the retries) and the download's refusal.
  std::string other = initiate();
  EXPECT_EQ(verify(other, "PAID TXNOTYET").status, 303);
  ASSERT_TRUE(eventually([&] { return status(other) == "failed"; }));
  auto swJson = parse(http(port_, "GET", "/api/cv-pdf/" + other + "/status?lang=sw").body);
  EXPECT_EQ(swJson->getValue<std::string>("error").rfind("Malipo yako bado hayajathibitishwa.", 0),
            0u)
      << swJson->getValue<std::string>("error");
  auto frPage = http(port_, "GET", "/api/cv-pdf/" + other + "/status-page?lang=fr");
  EXPECT_NE(frPage.body.find("Votre paiement n&#39;est pas encore confirm\xC3\xA9."),
            std::string::npos)
      << frPage.body;
  auto notReady = http(port_, "GET", "/api/cv-pdf/" + other + "/download?lang=sw");
  EXPECT_EQ(notReady.status, 409);
  EXPECT_EQ(parse(notReady.body)->getValue<std::string>("error"),
            "PDF bado haijawa tayari (hali: failed).");
}

TEST_P(CvPdfTest, UssdCallbackHasASmallBodyCap) {
  auto big = http(port_, "POST", "/api/cv-pdf/ussd-callback", std::string(20000, 'x'), {},
                  "application/json");
  EXPECT_EQ(big.status, 413);
}

// Issue 19: characters no PDF font can draw are named before payment, in the initiate
// answer and on the payment page; a CV without them gets no warning.
TEST_P(CvPdfTest, InitiateAndPaymentPageNameUnrenderableCharacters) {
  auto plain = parse(http(port_, "POST", "/api/cv-pdf/anonymous/initiate-ussd", kCv).body);
  EXPECT_FALSE(plain->has("unrenderable_characters"));
  std::string body = kCv;
  body.replace(body.find("Zoë Ñandú"), std::string("Zoë Ñandú").size(), "Zoë 王 Ñandú ꦗ");
  auto r = http(port_, "POST", "/api/cv-pdf/anonymous/initiate-ussd", body);
  ASSERT_EQ(r.status, 200) << r.body;
  auto o = parse(r.body);
  ASSERT_TRUE(o->has("unrenderable_characters")) << r.body;
  auto chars = o->getArray("unrenderable_characters");
  ASSERT_EQ(chars->size(), 2u);
  EXPECT_EQ(chars->getElement<std::string>(0), "王");
  EXPECT_EQ(chars->getElement<std::string>(1), "ꦗ");
  EXPECT_NE(o->getValue<std::string>("warning").find("王"), std::string::npos);
  auto page =
      http(port_, "GET", "/api/cv-pdf/" + o->getValue<std::string>("request_id") + "/payment-page");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("id=\"render-warning\""), std::string::npos);
  EXPECT_NE(page.body.find("王"), std::string::npos);
  auto plainPage = http(
      port_, "GET", "/api/cv-pdf/" + plain->getValue<std::string>("request_id") + "/payment-page");
  EXPECT_EQ(plainPage.body.find("render-warning"), std::string::npos);
}

// Refunds through the kernel's loaded product (SDK 1.1 over the ABI): a partial refund leaves
// the download; refunds covering the price revoke it (410, PDF deleted), once.
TEST_P(CvPdfTest, RefundRevokesTheDownload) {
  std::string rid = initiate();
  payInSim(rid, "{}");
  ASSERT_TRUE(eventually([&] { return status(rid) == "completed"; })) << status(rid);
  std::string path = kernel_->store()
                         .query("SELECT pdf_path FROM cv_requests WHERE id = ?", {rid})
                         .str(0, "pdf_path");
  Product* product = nullptr;
  for (auto& lp : kernel_->plugins().plugins())
    for (auto& pr : lp.products)
      if (pr->name() == "cvpdf") product = pr.get();
  ASSERT_NE(product, nullptr);
  Payment p = kernel_->payments().get(paymentId(rid)).value();
  auto refund = [&](const std::string& id, std::int64_t amount) {
    Refund r;
    r.id = id;
    r.paymentId = p.id;
    r.amountMinor = amount;
    r.currency = p.currency;
    r.actor = "admin";
    return product->onPaymentRefunded(p, r).kind;
  };
  EXPECT_EQ(refund("rf-part", p.amountMinor / 4), JobOutcome::Kind::done);
  EXPECT_EQ(refund("rf-part", p.amountMinor / 4), JobOutcome::Kind::done);  // counted once
  EXPECT_EQ(http(port_, "GET", "/api/cv-pdf/" + rid + "/download").status, 200);
  EXPECT_EQ(status(rid), "completed");

  EXPECT_EQ(refund("rf-rest", p.amountMinor - p.amountMinor / 4), JobOutcome::Kind::done);
  auto gone = http(port_, "GET", "/api/cv-pdf/" + rid + "/download");
  EXPECT_EQ(gone.status, 410) << gone.body;
  EXPECT_NE(gone.body.find("This CV was refunded"), std::string::npos) << gone.body;
  EXPECT_EQ(status(rid), "refunded");
  auto st = parse(http(port_, "GET", "/api/cv-pdf/" + rid + "/status").body);
  EXPECT_TRUE(st->isNull("download_url"));
  EXPECT_FALSE(Poco::File(path).exists());
  // Again (the job re-run): still revoked, nothing breaks; the settled job does not remake it.
  EXPECT_EQ(refund("rf-rest", p.amountMinor - p.amountMinor / 4), JobOutcome::Kind::done);
  EXPECT_EQ(product->onPaymentSettled(p).kind, JobOutcome::Kind::done);
  EXPECT_EQ(status(rid), "refunded");
  EXPECT_FALSE(Poco::File(path).exists());
  EXPECT_EQ(http(port_, "GET", "/api/cv-pdf/" + rid + "/download").status, 410);
}
