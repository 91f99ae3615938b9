// The CV Chap Chap flow of seeds 000/001 end to end through the real Selcom plugin and its
// simulator over loopback HTTP: initiate, payment page, pay, paste the SMS (or the webhook
// alone), status, download; and the failure paths.
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/StreamSocket.h>
#include <gtest/gtest.h>

#include <chrono>

#include "app/Kernel.hpp"
#include "kernel/kernel_fixture.hpp"
#include "selcom_wire.hpp"
#include "support/TestSupport.hpp"

using namespace malipo;
using namespace malipo::test;

namespace {

Poco::JSON::Object::Ptr parse(const std::string& s) {
  return Poco::JSON::Parser().parse(s).extract<Poco::JSON::Object::Ptr>();
}

const std::string kCv =
    R"({"template_id": "classic", "cv_data": {"name": "Đorđe Šećerović", "title": "Accountant",
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

const char* const kForm = "application/x-www-form-urlencoded";

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* kJwtSecret = "flow-secret-0123456789abcdefghijklmnop";

class SelcomFlow : public ::testing::Test {
 protected:
  void SetUp() override {
    // clang-format off
    std::string yaml =
        "server: {listen: \"127.0.0.1:0\", access_log: false}\n"
        "database: {url: \"sqlite:" + dir_.file("flow.db") + "\"}\n"
        "auth: {jwt_secret: " + kJwtSecret + "}\n"
        "jobs: {workers: 2, poll_interval_ms: 20}\n"
        "log: {level: error}\nsandbox: true\n"
        "plugins:\n"
        "  - {name: selcom, library: " SELCOM_PLUGIN "}\n"
        "  - name: cvpdf\n    library: " CVPDF_PLUGIN "\n"
        "    settings: {storage_dir: \"" + dir_.file("pdfs") + "\", verify_backoff_ms: 50, verify_retries: 1, "
        "verify_max_attempts: 3}\n";
    // clang-format on
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
    return kernel_->store()
        .query("SELECT payment_id FROM cv_requests WHERE id = ?", {rid})
        .str(0, "payment_id");
  }
  Poco::JSON::Object::Ptr pay(const std::string& rid,
                              const std::string& body = R"({"webhooks": 0})") {
    auto r = http(port_, "POST", "/sandbox/selcom/pay/" + paymentId(rid), body);
    EXPECT_EQ(r.status, 200) << r.body;
    return parse(r.body);
  }
  std::string status(const std::string& rid) {
    auto r = http(port_, "GET", "/api/cv-pdf/" + rid + "/status");
    return r.status == 200 ? parse(r.body)->getValue<std::string>("status")
                           : "HTTP " + std::to_string(r.status);
  }
  Poco::JSON::Object::Ptr simOrder(const std::string& rid) {
    return parse(http(port_, "GET", "/sandbox/selcom/orders/" + paymentId(rid)).body);
  }
  std::string error(const std::string& rid) {
    auto o = parse(http(port_, "GET", "/api/cv-pdf/" + rid + "/status").body);
    return o->optValue<std::string>("error", "");
  }
  int verify(const std::string& rid, const std::string& sms) {
    return http(port_, "POST", "/api/cv-pdf/" + rid + "/verify",
                "payment_message=" + formEncode(sms), {}, "application/x-www-form-urlencoded")
        .status;
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
  // The price in the local way (the kernel's money formatter, English default).
  EXPECT_NE(page.body.find("TSh 1,000"), std::string::npos) << page.body;
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
  ASSERT_TRUE(eventually([&] { return status(rid) == "completed"; }, 15000))
      << status(rid) << " " << error(rid);
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
  auto r = http(port_, "POST", "/api/cv-pdf/ussd-callback", hook->getValue<std::string>("body"),
                headers);
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(eventually([&] { return status(rid) == "completed"; }, 15000)) << status(rid);
}

TEST_F(SelcomFlow, NotPaidYetFailsWithAnActionableMessage) {
  std::string rid = initiate();
  EXPECT_EQ(verify(rid,
                   "AGO2A7S9684 Confirmed.You have received Tsh1,000.00 from 255757177811 - JOHN "
                   "on 24/7/23 at 10:37 AM"),
            303);
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
  auto r = http(port_, "POST", "/api/cv-pdf/" + rid + "/push", "phone=0754+123+456", {},
                "application/x-www-form-urlencoded");
  EXPECT_EQ(r.status, 303) << r.body;
  EXPECT_NE(r.header("Location").find("push=sent"), std::string::npos);
  auto page = http(port_, "GET", r.header("Location"));
  EXPECT_NE(page.body.find("A payment prompt was sent to your phone"), std::string::npos);
  auto bad = http(port_, "POST", "/api/cv-pdf/" + rid + "/push", "phone=12", {},
                  "application/x-www-form-urlencoded");
  EXPECT_EQ(bad.status, 400);
}

// ---------------------------------------------------------------- who may act, how often (#12)

TEST_F(SelcomFlow, OneAbuserCannotUseUpTheOwnersSmsAttempts) {
  std::string rid = initiate();  // anonymous: whoever holds the id may act on it
  const std::string path = "/api/cv-pdf/" + rid + "/verify";
  for (int i = 0; i < 3; ++i) {
    auto r = httpFrom("127.0.0.2", port_, "POST", path,
                      "payment_message=" + formEncode("hello, I paid yesterday"), {}, kForm);
    EXPECT_EQ(r.status, 303) << r.body;
    ASSERT_TRUE(eventually([&] { return status(rid) == "failed"; }));
  }
  auto locked = httpFrom("127.0.0.2", port_, "POST", path,
                         "payment_message=" + formEncode("hello again"), {}, kForm);
  EXPECT_EQ(locked.status, 429);
  EXPECT_NE(locked.body.find("Too many verification attempts for this request"), std::string::npos);
  // The owner, on another address, still verifies the real SMS.
  std::string sms = pay(rid)->getValue<std::string>("sms");
  EXPECT_EQ(verify(rid, sms), 303);
  ASSERT_TRUE(eventually([&] { return status(rid) == "completed"; }, 15000))
      << status(rid) << " " << error(rid);
}

TEST_F(SelcomFlow, PushPromptsAreLimitedPerRequestAndClient) {
  std::string rid = initiate();
  const std::string path = "/api/cv-pdf/" + rid + "/push";
  const char* numbers[] = {"0754000001", "0754000002", "0754000003"};
  for (const char* n : numbers) {
    auto r = httpFrom("127.0.0.2", port_, "POST", path, std::string("phone=") + n, {}, kForm);
    EXPECT_EQ(r.body.find("Too many payment prompts"), std::string::npos) << n << ": " << r.body;
  }
  auto limited = httpFrom("127.0.0.2", port_, "POST", path, "phone=0754000004", {}, kForm);
  EXPECT_EQ(limited.status, 429);
  EXPECT_NE(limited.body.find("Too many payment prompts for this request"), std::string::npos)
      << limited.body;
  EXPECT_NE(simOrder(rid)->optValue<std::string>("msisdn", ""), "255754000004");
  // The owner's own prompt is not refused by what the abuser did.
  auto own =
      http(port_, "POST", path, "phone=0754+123+456", {}, "application/x-www-form-urlencoded");
  EXPECT_EQ(own.body.find("Too many payment prompts for this request"), std::string::npos)
      << own.body;
}

TEST_F(SelcomFlow, OnlyTheSignedInOwnerSendsAPromptForHerRequest) {
  auto r = http(port_, "POST", "/api/cv-pdf/anonymous/initiate-ussd", kCv,
                {{"Authorization", "Bearer " + makeJwt(kJwtSecret, "alice", 3600)}});
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string rid = parse(r.body)->getValue<std::string>("request_id");
  const std::string pageUrl = parse(r.body)->getValue<std::string>("payment_page_url");
  const std::string push = "/api/cv-pdf/" + rid + "/push";
  // Bob, signed in or not, cannot make her request prompt a number of his choice.
  auto bob = http(port_, "POST", push, "phone=0754000009",
                  {{"Authorization", "Bearer " + makeJwt(kJwtSecret, "bob", 3600)}},
                  "application/x-www-form-urlencoded");
  EXPECT_EQ(bob.status, 403);
  EXPECT_EQ(
      http(port_, "POST", push, "phone=0754000009", {}, "application/x-www-form-urlencoded").status,
      403);
  EXPECT_TRUE(simOrder(rid)->isNull("msisdn"));
  // Alice, from the page link she was given (her browser sends no JWT).
  const std::string access = pageUrl.substr(pageUrl.find("access="));
  auto own = http(port_, "POST", push + "?" + access, "phone=0754+123+456", {},
                  "application/x-www-form-urlencoded");
  EXPECT_EQ(own.status, 303) << own.body;
  EXPECT_NE(own.header("Location").find(access), std::string::npos);
  EXPECT_EQ(simOrder(rid)->optValue<std::string>("msisdn", ""), "255754123456");
}

// ---------------------------------------------------------------- customer dead ends (#14)

TEST_F(SelcomFlow, ShortPaymentIsReceivedUnderReviewEvenAfterTheSms) {
  std::string rid = initiate();
  std::string sms =
      pay(rid, R"({"amount": 500})")->getValue<std::string>("sms");  // 500 of 1000, webhook sent
  ASSERT_TRUE(eventually([&] { return status(rid) == "payment_under_review"; }, 15000))
      << status(rid);
  auto st = parse(http(port_, "GET", "/api/cv-pdf/" + rid + "/status").body);
  EXPECT_EQ(st->getValue<std::string>("reference"),
            simOrder(rid)->getValue<std::string>("payment_token"));
  EXPECT_EQ(verify(rid, sms), 303);  // pasting the SMS anyway
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(status(rid), "payment_under_review");
  auto page = http(port_, "GET", "/api/cv-pdf/" + rid + "/status-page");
  EXPECT_EQ(page.body.find("can no longer be confirmed"), std::string::npos);
  EXPECT_EQ(page.body.find("*150*00#"), std::string::npos);
}

TEST_F(SelcomFlow, TryAgainAfterADeclineStartsANewPaymentThatCompletes) {
  std::string rid = initiate();
  const std::string first = paymentId(rid);
  pay(rid, R"({"outcome": "decline"})");
  ASSERT_TRUE(eventually([&] { return status(rid) == "failed"; }, 15000)) << status(rid);
  auto page = http(port_, "GET", "/api/cv-pdf/" + rid + "/status-page");
  // Its "Try again" starts a new payment (it used to lead to an SMS for the declined one).
  std::size_t form = page.body.find("action=\"/api/cv-pdf/" + rid + "/restart\"");
  ASSERT_NE(form, std::string::npos) << page.body;
  EXPECT_NE(page.body.find("id=\"retry\"", form), std::string::npos) << page.body;
  EXPECT_EQ(page.body.find("id=\"retry\""), page.body.find("id=\"retry\"", form));
  auto again = http(port_, "POST", "/api/cv-pdf/" + rid + "/restart", "", {},
                    "application/x-www-form-urlencoded");
  EXPECT_EQ(again.status, 303);
  EXPECT_NE(paymentId(rid), first);
  auto payPage = http(port_, "GET", again.header("Location"));
  EXPECT_NE(payPage.body.find("*150*00#"), std::string::npos);
  std::string sms = pay(rid, R"({"webhooks": 0})")->getValue<std::string>("sms");
  EXPECT_EQ(verify(rid, sms), 303);
  ASSERT_TRUE(eventually([&] { return status(rid) == "completed"; }, 15000))
      << status(rid) << " " << error(rid);
}

TEST_F(SelcomFlow, SmsWhoseTransactionIdHasNoDigitCompletes) {
  std::string rid = initiate();
  auto paid = pay(rid, R"({"webhooks": 0, "transid": "ABCDEFGHIJ"})");
  std::string sms = paid->getValue<std::string>("sms");
  ASSERT_EQ(sms.rfind("ABCDEFGHIJ Confirmed.", 0), 0u) << sms;
  EXPECT_EQ(verify(rid, sms), 303);
  ASSERT_TRUE(eventually([&] { return status(rid) == "completed"; }, 15000))
      << status(rid) << " " << error(rid);
}

// ---------------------------------------------------------------- the seed's callback path

TEST_F(SelcomFlow, CallbackPathReadsJsonLabelledAsAFormAndChecksTheTimestamp) {
  std::string rid = initiate();
  auto hook = pay(rid, R"({"webhooks": 0})")->getObject("webhook");
  std::map<std::string, std::string> headers;
  for (const auto& kv : *hook->getObject("headers"))
    headers[kv.first] = kv.second.convert<std::string>();
  headers.erase("Content-Type");
  const std::string body = hook->getValue<std::string>("body");
  ASSERT_EQ(body.rfind("{", 0), 0u) << body;
  // The same fields, genuinely signed in 2019: refused.
  selcom::Fields fields;
  auto o = parse(body);
  for (const auto& name :
       {"transid", "order_id", "reference", "result", "resultcode", "payment_status"})
    fields.push_back({name, o->optValue<std::string>(name, "")});
  std::map<std::string, std::string> old;
  for (const auto& h :
       selcom::signingHeaders("sandbox-key", "sandbox-secret", "2019-02-26T09:30:46+03:00", fields))
    old[h.first] = h.second;
  auto stale = http(port_, "POST", "/api/cv-pdf/ussd-callback", selcom::jsonBody(fields), old,
                    "application/json");
  EXPECT_EQ(stale.status, 401) << stale.body;
  std::map<std::string, std::string> fresh;
  for (const auto& h : selcom::signingHeaders("sandbox-key", "sandbox-secret",
                                              selcom::isoTimestamp(nowMs() - 60000), fields))
    fresh[h.first] = h.second;
  EXPECT_EQ(http(port_, "POST", "/api/cv-pdf/ussd-callback",
                 std::string(20000, ' ') + selcom::jsonBody(fields), fresh)
                .status,
            413);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(status(rid), "pending_payment");
  // Selcom's JSON, labelled as a form by the client: read as JSON, settles.
  auto r = http(port_, "POST", "/api/cv-pdf/ussd-callback", body, headers,
                "application/x-www-form-urlencoded");
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(eventually([&] { return status(rid) == "completed"; }, 15000)) << status(rid);
}
