// The CV Chap Chap flow of seeds 000/001 end to end through the real Selcom plugin and its
// simulator over loopback HTTP: initiate, payment page, pay, paste the SMS (or the webhook
// alone), status, download; and the failure paths.
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include "support/TestSupport.hpp"
#include "app/Kernel.hpp"

using namespace malipo;
using namespace malipo::test;

namespace {

Poco::JSON::Object::Ptr parse(const std::string& s) { return Poco::JSON::Parser().parse(s).extract<Poco::JSON::Object::Ptr>(); }

const std::string kCv = R"({"template_id": "classic", "cv_data": {"name": "Đorđe Šećerović", "title": "Accountant",
  "experience": [{"position": "Clerk", "company": "NMB", "duration": "2019-2024", "description": "Reconciled accounts."}],
  "skills": ["Excel"], "languages": ["Swahili", "English"]}})";

std::string formEncode(const std::string& s) {
  std::string out;
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

class SelcomFlow : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string yaml =
        "server: {listen: \"127.0.0.1:0\", access_log: false}\n"
        "database: {url: \"sqlite:" + dir_.file("flow.db") + "\"}\n"
        "jobs: {workers: 2, poll_interval_ms: 20}\n"
        "log: {level: error}\nsandbox: true\n"
        "plugins:\n"
        "  - {name: selcom, library: " SELCOM_PLUGIN "}\n"
        "  - name: cvpdf\n    library: " CVPDF_PLUGIN "\n"
        "    settings: {storage_dir: \"" + dir_.file("pdfs") + "\", verify_backoff_ms: 50, verify_retries: 1}\n";
    kernel_ = std::make_unique<Kernel>(ConfigLoader::loadString(yaml, "flow.yaml"));
    kernel_->open();
    kernel_->start();
    port_ = kernel_->port();
  }
  void TearDown() override { kernel_.reset(); }
  std::string initiate() {
    auto r = http(port_, "POST", "/api/cv-pdf/anonymous/initiate-ussd", kCv);
    EXPECT_EQ(r.status, 200) << r.body;
    return parse(r.body)->getValue<std::string>("request_id");
  }
  std::string paymentId(const std::string& rid) {
    return kernel_->store().query("SELECT payment_id FROM cv_requests WHERE id = ?", {rid}).str(0, "payment_id");
  }
  Poco::JSON::Object::Ptr pay(const std::string& rid, const std::string& body = R"({"webhooks": 0})") {
    auto r = http(port_, "POST", "/sandbox/selcom/pay/" + paymentId(rid), body);
    EXPECT_EQ(r.status, 200) << r.body;
    return parse(r.body);
  }
  std::string status(const std::string& rid) {
    return parse(http(port_, "GET", "/api/cv-pdf/" + rid + "/status").body)->getValue<std::string>("status");
  }
  std::string error(const std::string& rid) {
    auto o = parse(http(port_, "GET", "/api/cv-pdf/" + rid + "/status").body);
    return o->optValue<std::string>("error", "");
  }
  int verify(const std::string& rid, const std::string& sms) {
    return http(port_, "POST", "/api/cv-pdf/" + rid + "/verify", "payment_message=" + formEncode(sms), {},
                "application/x-www-form-urlencoded").status;
  }
  TempDir dir_;
  std::unique_ptr<Kernel> kernel_;
  std::uint16_t port_ = 0;
};

}  // namespace

TEST_F(SelcomFlow, PaymentPageShowsTheUssdInstructions) {
  std::string rid = initiate();
  auto page = http(port_, "GET", "/api/cv-pdf/" + rid + "/payment-page");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("*150*00#"), std::string::npos) << page.body;
  EXPECT_NE(page.body.find("CVCHAPCHAP"), std::string::npos);
  EXPECT_NE(page.body.find("1000 TZS"), std::string::npos);
  EXPECT_NE(page.body.find("id=\"to-verify\""), std::string::npos);
  // The menu steps are a list, not a JSON array printed as text.
  EXPECT_NE(page.body.find("<li>"), std::string::npos) << page.body;
  EXPECT_EQ(page.body.find("[ &quot;"), std::string::npos) << page.body;
  EXPECT_EQ(page.body.find("[\""), std::string::npos) << page.body;
}

TEST_F(SelcomFlow, PastedSmsCompletesTheRequest) {
  std::string rid = initiate();
  std::string sms = pay(rid)->getValue<std::string>("sms");
  EXPECT_EQ(verify(rid, sms), 303);
  ASSERT_TRUE(eventually([&] { return status(rid) == "completed"; }, 15000)) << status(rid) << " " << error(rid);
  auto dl = http(port_, "GET", "/api/cv-pdf/" + rid + "/download");
  EXPECT_EQ(dl.status, 200);
  EXPECT_EQ(dl.body.rfind("%PDF-", 0), 0u);
}

TEST_F(SelcomFlow, WebhookToTheSeedCallbackPathCompletes) {
  std::string rid = initiate();
  auto paid = pay(rid);
  auto hook = paid->getObject("webhook");
  // Deliver the simulator's signed webhook to the seed's path instead of /webhooks/selcom.
  std::map<std::string, std::string> headers;
  auto h = hook->getObject("headers");
  for (const auto& kv : *h) headers[kv.first] = kv.second.convert<std::string>();
  auto r = http(port_, "POST", "/api/cv-pdf/ussd-callback", hook->getValue<std::string>("body"), headers);
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(eventually([&] { return status(rid) == "completed"; }, 15000)) << status(rid);
}

TEST_F(SelcomFlow, NotPaidYetFailsWithAnActionableMessage) {
  std::string rid = initiate();
  EXPECT_EQ(verify(rid, "AGO2A7S9684 Confirmed.You have received Tsh1,000.00 from 255757177811 - JOHN on 24/7/23 at 10:37 AM"), 303);
  ASSERT_TRUE(eventually([&] { return status(rid) == "failed"; }, 15000));
  EXPECT_FALSE(error(rid).empty());
}

TEST_F(SelcomFlow, NoTransactionIdAndWrongAmountAreRefused) {
  std::string rid = initiate();
  EXPECT_EQ(verify(rid, "hello, I paid yesterday"), 303);
  ASSERT_TRUE(eventually([&] { return status(rid) == "failed"; }));
  std::string noId = error(rid);
  EXPECT_FALSE(noId.empty());
  std::string rid2 = initiate();
  std::string sms = pay(rid2, R"({"webhooks": 0, "amount": 500})")->getValue<std::string>("sms");
  verify(rid2, sms);
  ASSERT_TRUE(eventually([&] { return status(rid2) == "failed"; }));
  EXPECT_NE(error(rid2), noId);
  EXPECT_EQ(http(port_, "GET", "/api/cv-pdf/" + rid2 + "/download").status, 409);
}

TEST_F(SelcomFlow, OneSmsCompletesOneRequestOnly) {
  std::string a = initiate(), b = initiate();
  std::string sms = pay(a)->getValue<std::string>("sms");
  verify(a, sms);
  ASSERT_TRUE(eventually([&] { return status(a) == "completed"; }, 15000));
  verify(b, sms);
  ASSERT_TRUE(eventually([&] { return status(b) == "failed"; }));
  EXPECT_FALSE(error(b).empty());
  EXPECT_EQ(http(port_, "GET", "/api/cv-pdf/" + b + "/download").status, 409);
}

TEST_F(SelcomFlow, PushPromptFromThePaymentPage) {
  std::string rid = initiate();
  auto r = http(port_, "POST", "/api/cv-pdf/" + rid + "/push", "phone=0754+123+456", {}, "application/x-www-form-urlencoded");
  EXPECT_EQ(r.status, 303) << r.body;
  EXPECT_NE(r.header("Location").find("push=sent"), std::string::npos);
  auto page = http(port_, "GET", r.header("Location"));
  EXPECT_NE(page.body.find("A payment prompt was sent to your phone"), std::string::npos);
  auto bad = http(port_, "POST", "/api/cv-pdf/" + rid + "/push", "phone=12", {}, "application/x-www-form-urlencoded");
  EXPECT_EQ(bad.status, 400);
}
