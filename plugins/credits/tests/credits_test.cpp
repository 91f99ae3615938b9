// Verification credits through the kernel, paid through the kernel's test provider
// (fakepay); the Flutterwave end-to-end flow is in flutterwave_flow_test.cpp.
#include <Poco/JSON/Parser.h>

#include "kernel/engines.hpp"
#include "kernel/kernel_fixture.hpp"

using namespace malipo;
using namespace malipo::test;

namespace {

Poco::JSON::Object::Ptr parse(const std::string& s) { return Poco::JSON::Parser().parse(s).extract<Poco::JSON::Object::Ptr>(); }


}  // namespace

class CreditsTest : public EngineTest {
 protected:
  void boot(const std::string& extra = "") {
    std::string yaml =
        "server: {listen: \"127.0.0.1:0\", access_log: false, rate_limits: {default: {requests_per_minute: 1000000, burst: 100000}, "
        "buckets: {webhooks: {requests_per_minute: 1000000, burst: 100000}}}}\n"
        "database: {url: \"" + url() + "\", pool_size: 16}\n"
        "auth: {jwt_secret: credits-secret-0123456789abcdefghijklmnop}\n"
        "jobs: {workers: 4, poll_interval_ms: 20}\n"
        "log: {level: error}\nsandbox: true\n"
        "plugins:\n"
        "  - {name: fakepay, library: " + testPluginPath("fakepay") + "}\n"
        "  - name: credits\n    library: " CREDITS_PLUGIN "\n"
        "    settings: {providers: [fakepay], webhook_alias_provider: fakepay" + extra + "}\n";
    kernel_ = std::make_unique<Kernel>(ConfigLoader::loadString(yaml, "c.yaml"));
    kernel_->open();
    kernel_->start();
    port_ = kernel_->port();
    token_ = makeJwt("credits-secret-0123456789abcdefghijklmnop", "u-42", 3600);
  }
  void TearDown() override { kernel_.reset(); }
  std::map<std::string, std::string> auth() { return {{"Authorization", "Bearer " + token_}}; }
  Poco::JSON::Object::Ptr topup(const std::string& pkg = "pkg_10_credits") {
    auto r = http(port_, "POST", "/api/v1/verification-credits/topup", "{\"packageId\": \"" + pkg + "\"}", auth());
    EXPECT_EQ(r.status, 200) << r.body;
    auto o = parse(r.body);
    EXPECT_TRUE(o->getValue<bool>("success"));
    EXPECT_EQ(o->getValue<std::string>("message"), "Payment initiated successfully");
    return o->getObject("data");
  }
  std::string providerRef(const std::string& paymentId) {
    return kernel_->store().query("SELECT provider_ref FROM payments WHERE id = ?", {paymentId}).str(0, "provider_ref");
  }
  std::int64_t balance() {
    auto r = http(port_, "GET", "/api/v1/verification-credits/balance", "", auth());
    return parse(r.body)->getObject("data")->getValue<Poco::Int64>("balance");
  }
  std::int64_t ledgerSum() {
    auto r = kernel_->store().query("SELECT COALESCE(SUM(delta), 0) AS s FROM credit_ledger WHERE account = 'user:u-42'");
    return r.i64(0, "s");
  }
  std::unique_ptr<Kernel> kernel_;
  std::uint16_t port_ = 0;
  std::string token_;
};

TEST_P(CreditsTest, TopUpByWebhookCreditsOnceEvenWhenDeliveredFiftyTimes) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto data = topup();
  std::string ref = data->getValue<std::string>("reference");
  EXPECT_NE(data->getValue<std::string>("paymentUrl").find("/sandbox/fakepay/orders/"), std::string::npos);
  auto paid = parse(http(port_, "POST", "/sandbox/fakepay/orders/" + providerRef(ref) + "/pay", R"({"webhooks": 0})").body);
  std::string body = paid->getValue<std::string>("webhook_body");
  std::vector<std::thread> ts;
  std::atomic<int> acked{0};
  for (int i = 0; i < 50; ++i)
    ts.emplace_back([&] {
      // The seed's webhook path, aliased to the kernel inbox.
      if (http(port_, "POST", "/api/v1/webhooks/fakepay", body, {{"X-Fakepay-Signature", hmacSha256Hex("fake-secret", body)}}).status == 200)
        ++acked;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(acked.load(), 50);
  ASSERT_TRUE(eventually([&] { return balance() == 10; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(balance(), 10);
  EXPECT_EQ(ledgerSum(), 10);
  auto hist = parse(http(port_, "GET", "/api/v1/verification-credits/history", "", auth()).body)->getObject("data");
  EXPECT_EQ(hist->getArray("topups")->getObject(0)->getValue<std::string>("status"), "COMPLETED");
  EXPECT_EQ(hist->getArray("movements")->size(), 1u);
  EXPECT_EQ(hist->getArray("movements")->getObject(0)->getValue<int>("balanceAfter"), 10);
}

TEST_P(CreditsTest, FailedPaymentGivesNoCredit) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto data = topup("pkg_25_credits");
  std::string ref = data->getValue<std::string>("reference");
  http(port_, "POST", "/sandbox/fakepay/orders/" + providerRef(ref) + "/pay", R"({"outcome": "failed"})");
  ASSERT_TRUE(eventually([&] {
    return kernel_->store().query("SELECT status FROM credit_topups WHERE payment_id = ?", {ref}).str(0, "status") == "FAILED";
  }));
  EXPECT_EQ(balance(), 0);
  EXPECT_EQ(ledgerSum(), 0);
}

TEST_P(CreditsTest, HundredConcurrentConsumptionsOnTenCredits) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto data = topup();
  http(port_, "POST", "/sandbox/fakepay/orders/" + providerRef(data->getValue<std::string>("reference")) + "/pay", "{}");
  ASSERT_TRUE(eventually([&] { return balance() == 10; }));
  std::atomic<int> ok{0}, broke{0}, other{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 100; ++i)
    ts.emplace_back([&, i] {
      auto r = http(port_, "POST", "/api/v1/verification-credits/consume",
                    "{\"amount\": 1, \"reference\": \"verif-" + std::to_string(i) + "\"}", auth());
      if (r.status == 200) {
        ++ok;
      } else if (r.status == 402 && parse(r.body)->getValue<std::string>("message") == "Insufficient credits") {
        ++broke;
      } else {
        ++other;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 10);
  EXPECT_EQ(broke.load(), 90);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(balance(), 0);
  EXPECT_EQ(ledgerSum(), 0);
}

TEST_P(CreditsTest, OneReferenceIsConsumedOnce) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto data = topup();
  http(port_, "POST", "/sandbox/fakepay/orders/" + providerRef(data->getValue<std::string>("reference")) + "/pay", "{}");
  ASSERT_TRUE(eventually([&] { return balance() == 10; }));
  auto first = http(port_, "POST", "/api/v1/verification-credits/consume", R"({"amount": 3, "reference": "check-1"})", auth());
  EXPECT_EQ(first.status, 200);
  EXPECT_FALSE(parse(first.body)->getObject("data")->getValue<bool>("duplicate"));
  // Same reference concurrently and again: debited once.
  std::vector<std::thread> ts;
  for (int i = 0; i < 10; ++i)
    ts.emplace_back([&] { http(port_, "POST", "/api/v1/verification-credits/consume", R"({"amount": 3, "reference": "check-1"})", auth()); });
  for (auto& t : ts) t.join();
  auto again = http(port_, "POST", "/api/v1/verification-credits/consume", R"({"amount": 3, "reference": "check-1"})", auth());
  EXPECT_EQ(again.status, 200);
  EXPECT_TRUE(parse(again.body)->getObject("data")->getValue<bool>("duplicate"));
  EXPECT_EQ(balance(), 7);
  EXPECT_EQ(http(port_, "POST", "/api/v1/verification-credits/consume", R"({"amount": 2, "reference": "check-1"})", auth()).status, 409);
  EXPECT_EQ(http(port_, "POST", "/api/v1/verification-credits/consume", R"({"amount": 8, "reference": "check-2"})", auth()).status, 402);
  EXPECT_EQ(http(port_, "POST", "/api/v1/verification-credits/consume", R"({"amount": 0, "reference": "x"})", auth()).status, 400);
  EXPECT_EQ(http(port_, "POST", "/api/v1/verification-credits/consume", R"({"amount": 1.5, "reference": "x"})", auth()).status, 400);
  EXPECT_EQ(http(port_, "POST", "/api/v1/verification-credits/consume", R"({"amount": 1})", auth()).status, 400);
  EXPECT_EQ(balance(), 7);
  EXPECT_EQ(ledgerSum(), 7);
}

TEST_P(CreditsTest, AuthPackagesAndErrorsAsTheSeedSays) {
  SKIP_WITHOUT_ENGINE();
  boot();
  const std::string body = R"({"packageId": "pkg_10_credits"})";
  const std::string unauthorized = R"({"success":false,"message":"Unauthorized"})";
  auto none = http(port_, "POST", "/api/v1/verification-credits/topup", body);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.body, unauthorized);
  auto expired = http(port_, "POST", "/api/v1/verification-credits/topup", body,
                      {{"Authorization", "Bearer " + makeJwt("credits-secret-0123456789abcdefghijklmnop", "u-42", -60)}});
  EXPECT_EQ(expired.status, 401);
  EXPECT_EQ(expired.body, unauthorized);
  auto forged = http(port_, "POST", "/api/v1/verification-credits/topup", body,
                     {{"Authorization", "Bearer " + makeJwt("not-the-secret", "u-42", 3600)}});
  EXPECT_EQ(forged.status, 401);
  EXPECT_EQ(forged.body, unauthorized);
  EXPECT_EQ(http(port_, "GET", "/api/v1/verification-credits/balance").status, 401);
  auto bad = http(port_, "POST", "/api/v1/verification-credits/topup", R"({"packageId": "pkg_1000_credits"})", auth());
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body, R"({"success":false,"message":"Invalid package"})");
  EXPECT_EQ(http(port_, "POST", "/api/v1/verification-credits/topup", "nope", auth()).status, 400);
  auto pk = parse(http(port_, "GET", "/api/v1/verification-credits/packages").body);
  auto list = pk->getArray("data");
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ(list->getObject(0)->getValue<std::string>("id"), "pkg_10_credits");
  EXPECT_EQ(list->getObject(0)->getValue<int>("price"), 5000);
  EXPECT_EQ(list->getObject(2)->getValue<int>("credits"), 50);
  // Without the /api/v1 prefix and with a trailing slash, as the seed's Django URLs.
  EXPECT_EQ(http(port_, "POST", "/verification-credits/topup/", body, auth()).status, 200);
  EXPECT_EQ(http(port_, "POST", "/api/v1/verification-credits/topup/", body, auth()).status, 200);
  // Provider failure.
  http(port_, "POST", "/sandbox/fakepay/script", R"({"create_failures": 1})");
  auto down = http(port_, "POST", "/api/v1/verification-credits/topup", body, auth());
  EXPECT_EQ(down.status, 500);
  EXPECT_EQ(down.body, R"({"success":false,"message":"Failed to initiate payment"})");
  EXPECT_EQ(kernel_->store().query("SELECT COUNT(*) AS n FROM credit_topups WHERE status = 'FAILED'").i64(0, "n"), 1);
}

TEST_P(CreditsTest, TopUpIdempotencyAndRateLimit) {
  SKIP_WITHOUT_ENGINE();
  boot(", topups_per_user_per_hour: 3");
  const std::string body = R"({"packageId": "pkg_10_credits"})";
  auto h = auth();
  h["Idempotency-Key"] = "t-1";
  auto a = http(port_, "POST", "/api/v1/verification-credits/topup", body, h);
  auto b = http(port_, "POST", "/api/v1/verification-credits/topup", body, h);
  EXPECT_EQ(a.body, b.body);
  EXPECT_EQ(kernel_->store().query("SELECT COUNT(*) AS n FROM credit_topups").i64(0, "n"), 1);
  EXPECT_EQ(http(port_, "POST", "/api/v1/verification-credits/topup", body, auth()).status, 200);
  EXPECT_EQ(http(port_, "POST", "/api/v1/verification-credits/topup", body, auth()).status, 200);
  auto limited = http(port_, "POST", "/api/v1/verification-credits/topup", body, auth());
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(parse(limited.body)->getValue<bool>("success"), false);
}

INSTANTIATE_TEST_SUITE_P(Engines, CreditsTest, ::testing::Values("sqlite", "postgresql"), engineName);
