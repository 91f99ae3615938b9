// The CV PDF product through the kernel: validation, the state machine, pages, download
// rules, rate limits. Payments go through the kernel's test provider (fakepay) here; the
// Selcom end-to-end flow is in selcom_flow_test.cpp.
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include "../../../tests/kernel/kernel_fixture.hpp"
#include "cv_validation.hpp"
#include "support/TestSupport.hpp"

using namespace malipo;
using namespace malipo::test;

namespace {

Poco::JSON::Object::Ptr parse(const std::string& s) { return Poco::JSON::Parser().parse(s).extract<Poco::JSON::Object::Ptr>(); }

const std::string kCv = R"({"template_id": "modern", "cv_data": {"name": "Zoë Ñandú", "title": "Software <Engineer>",
  "email": "zoe@example.com", "phone": "+255 754 123 456", "summary": "Builds payment systems.",
  "experience": [{"position": "Senior Developer", "company": "Tech Solutions Ltd", "duration": "2020-2023", "description": "Led a team."}],
  "education": [{"degree": "BSc Computer Science", "school": "University of Dar es Salaam", "duration": "2015-2019"}],
  "skills": ["C++", "SQL"], "languages": ["English", "Swahili"]}})";

class CvPdfTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string yaml =
        "server: {listen: \"127.0.0.1:0\", access_log: false}\n"
        "database: {url: \"sqlite:" + dir_.file("cv.db") + "\"}\n"
        "auth: {jwt_secret: cv-secret-0123456789abcdefghijklmnop}\n"
        "jobs: {workers: 2, poll_interval_ms: 20}\n"
        "log: {level: error}\nsandbox: true\n"
        "plugins:\n"
        "  - {name: fakepay, library: " TEST_PLUGIN_DIR "/libmalipo_fakepay.so}\n"
        "  - name: cvpdf\n    library: " CVPDF_PLUGIN "\n"
        "    settings: {providers: [fakepay], storage_dir: \"" + dir_.file("pdfs") + "\", verify_backoff_ms: 50, "
        "verify_retries: 2, verify_max_attempts: 4}\n";
    kernel_ = std::make_unique<Kernel>(ConfigLoader::loadString(yaml, "cv.yaml"));
    kernel_->open();
    kernel_->start();
    port_ = kernel_->port();
  }
  void TearDown() override { kernel_.reset(); }

  std::string initiate(const std::string& body = kCv, const std::map<std::string, std::string>& headers = {}) {
    auto r = http(port_, "POST", "/api/cv-pdf/anonymous/initiate-ussd", body, headers);
    EXPECT_EQ(r.status, 200) << r.body;
    auto o = parse(r.body);
    EXPECT_TRUE(o->getValue<bool>("success"));
    EXPECT_EQ(o->getValue<std::string>("payment_page_url").rfind("http://127.0.0.1:", 0), 0u);
    return o->getValue<std::string>("request_id");
  }
  std::string paymentId(const std::string& rid) {
    return kernel_->store().query("SELECT payment_id FROM cv_requests WHERE id = ?", {rid}).str(0, "payment_id");
  }
  std::string providerRef(const std::string& rid) {
    return kernel_->store().query("SELECT provider_ref FROM payments WHERE id = ?", {paymentId(rid)}).str(0, "provider_ref");
  }
  std::string payInSim(const std::string& rid, const std::string& body = R"({"webhooks": 0})") {
    auto r = http(port_, "POST", "/sandbox/fakepay/orders/" + providerRef(rid) + "/pay", body);
    return parse(r.body)->getValue<std::string>("txn_id");
  }
  std::string status(const std::string& rid) {
    return parse(http(port_, "GET", "/api/cv-pdf/" + rid + "/status").body)->getValue<std::string>("status");
  }
  HttpResult verify(const std::string& rid, const std::string& sms) {
    std::string form = "payment_message=";
    for (char c : sms) form += (c == ' ') ? std::string("+") : std::string(1, c);
    return http(port_, "POST", "/api/cv-pdf/" + rid + "/verify", form, {}, "application/x-www-form-urlencoded");
  }

  TempDir dir_;
  std::unique_ptr<Kernel> kernel_;
  std::uint16_t port_ = 0;
};

}  // namespace

TEST(CvValidation, RequiresNameAndCapsSizes) {
  cvpdf::CvLimits limits;
  auto ok = cvpdf::validateCv(parse(R"({"name": "Đorđe Šećerović", "skills": ["C++"]})"), limits);
  EXPECT_TRUE(ok.ok) << ok.message;
  EXPECT_EQ(ok.cv.name, "Đorđe Šećerović");
  EXPECT_EQ(cvpdf::validateCv(parse(R"({"title": "x"})"), limits).message, "cv_data.name is required");
  EXPECT_EQ(cvpdf::validateCv(parse(R"({"name": "  "})"), limits).message, "cv_data.name is required");
  EXPECT_EQ(cvpdf::validateCv(parse(R"({"name": 5})"), limits).message, "cv_data.name must be a string");
  std::string longName(121, 'a');
  EXPECT_EQ(cvpdf::validateCv(parse("{\"name\": \"" + longName + "\"}"), limits).message,
            "cv_data.name is longer than 120 characters");
  // 120 two-byte characters are fine: limits count characters, not bytes.
  std::string wide;
  for (int i = 0; i < 120; ++i) wide += "ë";
  EXPECT_TRUE(cvpdf::validateCv(parse("{\"name\": \"" + wide + "\"}"), limits).ok);
  std::string many = "{\"name\": \"x\", \"skills\": [";
  for (int i = 0; i < 51; ++i) many += std::string(i ? "," : "") + "\"s\"";
  EXPECT_EQ(cvpdf::validateCv(parse(many + "]}"), limits).message, "cv_data.skills has more than 50 entries");
  EXPECT_EQ(cvpdf::validateCv(parse(R"({"name": "x", "experience": [{"position": 1}]})"), limits).message,
            "cv_data.experience[0].position must be a string");
  EXPECT_EQ(cvpdf::validateCv(parse(R"({"name": "x", "experience": "lots"})"), limits).message, "cv_data.experience must be a list");
  EXPECT_FALSE(cvpdf::validateCv(nullptr, limits).ok);
  EXPECT_TRUE(cvpdf::isUuid("7f4c2b3a-1d5e-4f9a-8c3d-6b7a9c8d0e1f"));
  EXPECT_FALSE(cvpdf::isUuid("7f4c2b3a-1d5e-4f9a-8c3d-6b7a9c8d0e1"));
  EXPECT_FALSE(cvpdf::isUuid("../../etc/passwd-xxxxxxxxxxxxxxxxxxxx"));
  EXPECT_TRUE(cvpdf::isCvId("anonymous"));
  EXPECT_FALSE(cvpdf::isCvId("a/b"));
}

TEST_F(CvPdfTest, InitiateValidatesInput) {
  auto bad = http(port_, "POST", "/api/cv-pdf/anonymous/initiate-ussd", R"({"template_id": "fancy", "cv_data": {"name": "x"}})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(parse(bad.body)->getValue<std::string>("error"), "Unknown template_id 'fancy'. Valid templates: modern, classic, minimal.");
  auto noName = http(port_, "POST", "/api/cv-pdf/anonymous/initiate-ussd", R"({"template_id": "classic", "cv_data": {}})");
  EXPECT_EQ(noName.status, 400);
  EXPECT_EQ(parse(noName.body)->getValue<std::string>("error"), "cv_data.name is required");
  EXPECT_EQ(http(port_, "POST", "/api/cv-pdf/anonymous/initiate-ussd", "not json").status, 400);
  EXPECT_EQ(http(port_, "POST", "/api/cv-pdf/bad%20id/initiate-ussd", kCv).status, 404);
  EXPECT_EQ(http(port_, "POST", "/api/cv-pdf/anonymous/initiate-ussd", std::string(70000, ' ')).status, 413);
  EXPECT_EQ(http(port_, "GET", "/api/cv-pdf/not-a-uuid/status").status, 404);
  EXPECT_EQ(http(port_, "GET", "/api/cv-pdf/7f4c2b3a-1d5e-4f9a-8c3d-6b7a9c8d0e1f/status").status, 404);
  EXPECT_EQ(kernel_->store().query("SELECT COUNT(*) AS n FROM cv_requests").i64(0, "n"), 0);
}

TEST_F(CvPdfTest, PastedProofCompletesAndDownloads) {
  std::string rid = initiate();
  EXPECT_EQ(status(rid), "pending_payment");
  auto pageResp = http(port_, "GET", "/api/cv-pdf/" + rid + "/payment-page");
  EXPECT_EQ(pageResp.status, 200);
  EXPECT_NE(pageResp.body.find("1000 TZS"), std::string::npos);
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
  EXPECT_NE(dl.header("Content-Disposition").find("attachment; filename=\"cv-zo"), std::string::npos) << dl.header("Content-Disposition");
  EXPECT_NE(dl.header("Cache-Control").find("max-age"), std::string::npos);
  EXPECT_NE(dl.header("Content-Disposition").find("filename*=UTF-8''cv-Zo%C3%AB%20%C3%91and%C3%BA.pdf"), std::string::npos)
      << dl.header("Content-Disposition");
  std::string stored = kernel_->store().query("SELECT pdf_path FROM cv_requests WHERE id = ?", {rid}).str(0, "pdf_path");
  EXPECT_EQ(stored.rfind(dir_.file("pdfs") + "/", 0), 0u) << stored;  // inside storage_dir
  std::string etag = dl.header("ETag");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(http(port_, "GET", "/api/cv-pdf/" + rid + "/download", "", {{"If-None-Match", etag}}).status, 304);
  EXPECT_EQ(http(port_, "GET", "/api/cv-pdf/" + rid + "/download").status, 200);
  EXPECT_EQ(kernel_->store().query("SELECT download_count FROM cv_requests WHERE id = ?", {rid}).i64(0, "download_count"), 2);
  // The status page offers the download; the completed request never makes a second PDF.
  auto sp = http(port_, "GET", "/api/cv-pdf/" + rid + "/status-page");
  EXPECT_NE(sp.body.find("id=\"download\""), std::string::npos);
  EXPECT_EQ(sp.body.find("http-equiv=\"refresh\""), std::string::npos);
  EXPECT_EQ(verify(rid, "PAID " + txn).status, 303);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(kernel_->store().query("SELECT COUNT(*) AS n FROM jobs WHERE kind = 'payment.settled'").i64(0, "n"), 1);
}

TEST_F(CvPdfTest, WebhookAloneCompletes) {
  std::string rid = initiate();
  payInSim(rid, "{}");  // the simulator sends its webhook
  ASSERT_TRUE(eventually([&] { return status(rid) == "completed"; })) << status(rid);
}

TEST_F(CvPdfTest, NotPaidRetriesThenFailsWithAMessageAndCanRetry) {
  std::string rid = initiate();
  EXPECT_EQ(verify(rid, "PAID TXNOTYET").status, 303);
  auto page = http(port_, "GET", "/api/cv-pdf/" + rid + "/status-page");
  EXPECT_NE(page.body.find("http-equiv=\"refresh\" content=\"5\""), std::string::npos);
  ASSERT_TRUE(eventually([&] { return status(rid) == "failed"; }));
  auto st = parse(http(port_, "GET", "/api/cv-pdf/" + rid + "/status").body);
  EXPECT_NE(st->getValue<std::string>("error").find("has not been confirmed yet"), std::string::npos);
  EXPECT_EQ(kernel_->store().query("SELECT attempts FROM jobs WHERE kind = 'cvpdf.verify'").i64(0, "attempts"), 3);
  EXPECT_TRUE(kernel_->store().query("SELECT pending_message FROM cv_requests WHERE id = ?", {rid}).isNull(0, "pending_message"));
  // Retrying a failed request is allowed: pay, then verify again.
  std::string txn = payInSim(rid);
  EXPECT_EQ(verify(rid, "PAID " + txn).status, 303);
  ASSERT_TRUE(eventually([&] { return status(rid) == "completed"; }));
}

TEST_F(CvPdfTest, WrongProofFailsAtOnceAndPagesEscapeInput) {
  std::string rid = initiate();
  payInSim(rid, R"({"webhooks": 0, "txn_id": "TXREAL"})");
  verify(rid, "PAID TXOTHER");
  ASSERT_TRUE(eventually([&] { return status(rid) == "failed"; }));
  auto st = parse(http(port_, "GET", "/api/cv-pdf/" + rid + "/status").body);
  EXPECT_EQ(st->getValue<std::string>("error"), "This transaction ID does not match the payment.");
  auto form = http(port_, "POST", "/api/cv-pdf/" + rid + "/verify", "payment_message=", {}, "application/x-www-form-urlencoded");
  EXPECT_EQ(form.status, 400);
  auto xss = http(port_, "POST", "/api/cv-pdf/" + rid + "/verify", "",  {}, "application/x-www-form-urlencoded");
  EXPECT_EQ(xss.status, 400);
  // A JSON body works too, and what the person typed is escaped when shown back.
  auto again = http(port_, "POST", "/api/cv-pdf/" + rid + "/verify", R"({"payment_message": ""})");
  EXPECT_EQ(again.status, 400);
}

TEST_F(CvPdfTest, VerifyAttemptsAreLimitedPerRequest) {
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

TEST_F(CvPdfTest, LoggedInRequestDownloadsOnlyForItsOwner) {
  std::string alice = makeJwt("cv-secret-0123456789abcdefghijklmnop", "alice", 3600), bob = makeJwt("cv-secret-0123456789abcdefghijklmnop", "bob", 3600);
  std::string rid = initiate(kCv, {{"Authorization", "Bearer " + alice}});
  payInSim(rid, "{}");
  ASSERT_TRUE(eventually([&] { return status(rid) == "completed"; }));
  EXPECT_EQ(http(port_, "GET", "/api/cv-pdf/" + rid + "/download").status, 403);
  EXPECT_EQ(http(port_, "GET", "/api/cv-pdf/" + rid + "/download", "", {{"Authorization", "Bearer " + bob}}).status, 403);
  EXPECT_EQ(http(port_, "GET", "/api/cv-pdf/" + rid + "/download", "", {{"Authorization", "Bearer " + alice}}).status, 200);
}

TEST_F(CvPdfTest, IdempotencyKeyReturnsTheSameRequest) {
  auto a = http(port_, "POST", "/api/cv-pdf/anonymous/initiate-ussd", kCv, {{"Idempotency-Key", "cv-1"}});
  auto b = http(port_, "POST", "/api/cv-pdf/anonymous/initiate-ussd", kCv, {{"Idempotency-Key", "cv-1"}});
  EXPECT_EQ(a.body, b.body);
  EXPECT_EQ(kernel_->store().query("SELECT COUNT(*) AS n FROM cv_requests").i64(0, "n"), 1);
}

TEST_F(CvPdfTest, ExpiredPaymentCanBeRestarted) {
  std::string rid = initiate();
  std::string pid = paymentId(rid);
  kernel_->store().exec("UPDATE payments SET expires_at = 1 WHERE id = ?", {pid});
  kernel_->payments().sync(pid);
  ASSERT_TRUE(eventually([&] { return status(rid) == "failed"; }));
  auto sp = http(port_, "GET", "/api/cv-pdf/" + rid + "/status-page");
  EXPECT_NE(sp.body.find("Start a new payment"), std::string::npos);
  auto rs = http(port_, "POST", "/api/cv-pdf/" + rid + "/restart", "", {}, "application/x-www-form-urlencoded");
  EXPECT_EQ(rs.status, 303);
  EXPECT_EQ(status(rid), "pending_payment");
  EXPECT_NE(paymentId(rid), pid);
  payInSim(rid, "{}");
  ASSERT_TRUE(eventually([&] { return status(rid) == "completed"; }));
}

// Issue 19: characters no PDF font can draw are named before payment, in the initiate
// answer and on the payment page; a CV without them gets no warning.
TEST_F(CvPdfTest, InitiateAndPaymentPageNameUnrenderableCharacters) {
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
