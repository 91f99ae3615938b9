// Verification credits through the kernel, paid through the kernel's test provider
// (fakepay), and through Flutterwave's simulator where its return page matters (returnUrl).
#include <Poco/JSON/Parser.h>
#include <Poco/URI.h>

#include "kernel/engines.hpp"
#include "kernel/kernel_fixture.hpp"
#include "refund_credits.hpp"

using namespace malipo;
using namespace malipo::test;

namespace {

Poco::JSON::Object::Ptr parse(const std::string& s) {
  return Poco::JSON::Parser().parse(s).extract<Poco::JSON::Object::Ptr>();
}

}  // namespace

class CreditsTest : public EngineTest {
 protected:
  void boot(const std::string& extra = "", bool sandbox = true,
            const std::string& kernelExtra = "") {
    boot(extra, sandbox, kernelExtra,
         "  - {name: fakepay, library: " + testPluginPath("fakepay") + "}\n", "fakepay");
  }
  void bootFlutterwave(const std::string& extra = "") {
    boot(extra, true, "", "  - {name: flutterwave, library: " FLW_PLUGIN "}\n", "flutterwave");
  }
  void boot(const std::string& extra, bool sandbox, const std::string& kernelExtra,
            const std::string& provider, const std::string& providerName) {
    std::string yaml =
        "server: {listen: \"127.0.0.1:0\", access_log: false, rate_limits: {default: "
        "{requests_per_minute: 1000000, burst: 100000}, "
        "buckets: {webhooks: {requests_per_minute: 1000000, burst: 100000}}}}\n"
        "database: {url: \"" +
        url() +
        "\", pool_size: 16}\n"
        "auth: {jwt_secret: credits-secret-0123456789abcdefghijklmnop}\n"
        "jobs: {workers: 4, poll_interval_ms: 20}\n"
        "log: {level: error}\nsandbox: " +
        (sandbox ? "true" : "false") + "\n" + kernelExtra + "plugins:\n" + provider +
        "  - name: credits\n    library: " CREDITS_PLUGIN
        "\n"
        "    settings: {providers: [" +
        providerName + "], webhook_alias_provider: " + providerName + extra + "}\n";
    kernel_ = std::make_unique<Kernel>(ConfigLoader::loadString(yaml, "c.yaml"));
    kernel_->open();
    kernel_->start();
    port_ = kernel_->port();
    token_ = makeJwt("credits-secret-0123456789abcdefghijklmnop", "u-42", 3600);
  }
  void TearDown() override { kernel_.reset(); }
  std::map<std::string, std::string> auth() { return {{"Authorization", "Bearer " + token_}}; }
  Poco::JSON::Object::Ptr topup(const std::string& pkg = "pkg_10_credits") {
    auto r = http(port_, "POST", "/api/v1/verification-credits/topup",
                  "{\"packageId\": \"" + pkg + "\"}", auth());
    EXPECT_EQ(r.status, 200) << r.body;
    auto o = parse(r.body);
    EXPECT_TRUE(o->getValue<bool>("success"));
    EXPECT_EQ(o->getValue<std::string>("message"), "Payment initiated successfully");
    return o->getObject("data");
  }
  std::string providerRef(const std::string& paymentId) {
    return kernel_->store()
        .query("SELECT provider_ref FROM payments WHERE id = ?", {paymentId})
        .str(0, "provider_ref");
  }
  std::int64_t balance() {
    auto r = http(port_, "GET", "/api/v1/verification-credits/balance", "", auth());
    return parse(r.body)->getObject("data")->getValue<Poco::Int64>("balance");
  }
  std::int64_t topupRows() {
    return kernel_->store().query("SELECT COUNT(*) AS n FROM credit_topups").i64(0, "n");
  }
  std::int64_t ledgerSum() {
    auto r = kernel_->store().query(
        "SELECT COALESCE(SUM(delta), 0) AS s FROM credit_ledger WHERE account = 'user:u-42'");
    return r.i64(0, "s");
  }
  // The plugin's product as the kernel loaded it (SDK 1.1 calls go through the ABI).
  Product& product() {
    for (auto& lp : kernel_->plugins().plugins())
      for (auto& pr : lp.products)
        if (pr->name() == "credits") return *pr;
    throw std::runtime_error("credits product not loaded");
  }
  // A paid, delivered top-up of `pkg`: its payment.
  Payment paidTopup(const std::string& pkg, std::int64_t expectBalance) {
    auto data = topup(pkg);
    std::string ref = data->getValue<std::string>("reference");
    http(port_, "POST", "/sandbox/fakepay/orders/" + providerRef(ref) + "/pay", "{}");
    EXPECT_TRUE(eventually([&] { return balance() == expectBalance; }));
    return kernel_->payments().get(ref).value();
  }
  void consume(int n, const std::string& reference) {
    auto r = http(port_, "POST", "/api/v1/verification-credits/consume",
                  "{\"amount\": " + std::to_string(n) + ", \"reference\": \"" + reference + "\"}",
                  auth());
    ASSERT_EQ(r.status, 200) << r.body;
  }
  static Refund refundOf(const Payment& p, const std::string& id, std::int64_t amountMinor,
                         bool forced = false) {
    Refund r;
    r.id = id;
    r.paymentId = p.id;
    r.amountMinor = amountMinor;
    r.currency = p.currency;
    r.reason = "test";
    r.actor = "admin";
    r.forced = forced;
    return r;
  }
  std::int64_t ledgerRows(const std::string& kind) {
    return kernel_->store()
        .query("SELECT COUNT(*) AS n FROM credit_ledger WHERE kind = ?", {kind})
        .i64(0, "n");
  }
  std::unique_ptr<Kernel> kernel_;
  std::uint16_t port_ = 0;
  std::string token_;
};

// The credits a refund takes back: proportional, cumulative, rounded up, never more than
// the payment bought.
TEST(CreditsRefund, ProportionalCumulativeRoundedUp) {
  using malipo::credits::refundCredits;
  // 10 credits for NGN 5000 (500000 kobo).
  EXPECT_EQ(refundCredits(10, 500000, 0, 0, 500000), 10);  // full
  EXPECT_EQ(refundCredits(10, 500000, 0, 0, 250000), 5);   // half
  EXPECT_EQ(refundCredits(10, 500000, 0, 0, 1), 1);        // any part: at least one credit
  EXPECT_EQ(refundCredits(10, 500000, 0, 0, 120000), 3);   // 2.4 → 3
  // Three partial refunds adding up to the whole payment take back exactly 10.
  std::int64_t a = refundCredits(10, 500000, 0, 0, 120000);
  std::int64_t b = refundCredits(10, 500000, 120000, a, 120000);
  std::int64_t c = refundCredits(10, 500000, 240000, a + b, 260000);
  EXPECT_EQ(a + b + c, 10);
  EXPECT_EQ(b, 2);  // 4.8 → 5 so far, 3 already
  // Nothing left to take back, and nonsense in, nothing out.
  EXPECT_EQ(refundCredits(10, 500000, 500000, 10, 1), 0);
  EXPECT_EQ(refundCredits(0, 500000, 0, 0, 1), 0);
  EXPECT_EQ(refundCredits(10, 0, 0, 0, 1), 0);
  EXPECT_EQ(refundCredits(10, 500000, 0, 0, 0), 0);
  // No overflow with large figures.
  EXPECT_EQ(refundCredits(4000000000000LL, 9000000000000LL, 0, 0, 4500000000000LL),
            2000000000000LL);
}

TEST_P(CreditsTest, TopUpByWebhookCreditsOnceEvenWhenDeliveredFiftyTimes) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto data = topup();
  std::string ref = data->getValue<std::string>("reference");
  EXPECT_NE(data->getValue<std::string>("paymentUrl").find("/sandbox/fakepay/orders/"),
            std::string::npos);
  auto paid = parse(http(port_, "POST", "/sandbox/fakepay/orders/" + providerRef(ref) + "/pay",
                         R"({"webhooks": 0})")
                        .body);
  std::string body = paid->getValue<std::string>("webhook_body");
  std::vector<std::thread> ts;
  std::atomic<int> acked{0};
  for (int i = 0; i < 50; ++i)
    ts.emplace_back([&] {
      // The seed's webhook path, aliased to the kernel inbox.
      if (http(port_, "POST", "/api/v1/webhooks/fakepay", body,
               {{"X-Fakepay-Signature", hmacSha256Hex("fake-secret", body)}})
              .status == 200)
        ++acked;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(acked.load(), 50);
  ASSERT_TRUE(eventually([&] { return balance() == 10; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(balance(), 10);
  EXPECT_EQ(ledgerSum(), 10);
  auto hist = parse(http(port_, "GET", "/api/v1/verification-credits/history", "", auth()).body)
                  ->getObject("data");
  EXPECT_EQ(hist->getArray("topups")->getObject(0)->getValue<std::string>("status"), "COMPLETED");
  EXPECT_EQ(hist->getArray("movements")->size(), 1u);
  EXPECT_EQ(hist->getArray("movements")->getObject(0)->getValue<int>("balanceAfter"), 10);
}

TEST_P(CreditsTest, FailedPaymentGivesNoCredit) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto data = topup("pkg_25_credits");
  std::string ref = data->getValue<std::string>("reference");
  http(port_, "POST", "/sandbox/fakepay/orders/" + providerRef(ref) + "/pay",
       R"({"outcome": "failed"})");
  ASSERT_TRUE(eventually([&] {
    return kernel_->store()
               .query("SELECT status FROM credit_topups WHERE payment_id = ?", {ref})
               .str(0, "status") == "FAILED";
  }));
  EXPECT_EQ(balance(), 0);
  EXPECT_EQ(ledgerSum(), 0);
}

TEST_P(CreditsTest, HundredConcurrentConsumptionsOnTenCredits) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto data = topup();
  http(port_, "POST",
       "/sandbox/fakepay/orders/" + providerRef(data->getValue<std::string>("reference")) + "/pay",
       "{}");
  ASSERT_TRUE(eventually([&] { return balance() == 10; }));
  std::atomic<int> ok{0}, broke{0}, other{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 100; ++i)
    ts.emplace_back([&, i] {
      auto r = http(port_, "POST", "/api/v1/verification-credits/consume",
                    "{\"amount\": 1, \"reference\": \"verif-" + std::to_string(i) + "\"}", auth());
      if (r.status == 200) {
        ++ok;
      } else if (r.status == 402 &&
                 parse(r.body)->getValue<std::string>("message") == "Insufficient credits") {
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
  http(port_, "POST",
       "/sandbox/fakepay/orders/" + providerRef(data->getValue<std::string>("reference")) + "/pay",
       "{}");
  ASSERT_TRUE(eventually([&] { return balance() == 10; }));
  auto first = http(port_, "POST", "/api/v1/verification-credits/consume",
                    R"({"amount": 3, "reference": "check-1"})", auth());
  EXPECT_EQ(first.status, 200);
  EXPECT_FALSE(parse(first.body)->getObject("data")->getValue<bool>("duplicate"));
  // Same reference concurrently and again: debited once.
  std::vector<std::thread> ts;
  for (int i = 0; i < 10; ++i)
    ts.emplace_back([&] {
      http(port_, "POST", "/api/v1/verification-credits/consume",
           R"({"amount": 3, "reference": "check-1"})", auth());
    });
  for (auto& t : ts) t.join();
  auto again = http(port_, "POST", "/api/v1/verification-credits/consume",
                    R"({"amount": 3, "reference": "check-1"})", auth());
  EXPECT_EQ(again.status, 200);
  EXPECT_TRUE(parse(again.body)->getObject("data")->getValue<bool>("duplicate"));
  EXPECT_EQ(balance(), 7);
  EXPECT_EQ(http(port_, "POST", "/api/v1/verification-credits/consume",
                 R"({"amount": 2, "reference": "check-1"})", auth())
                .status,
            409);
  EXPECT_EQ(http(port_, "POST", "/api/v1/verification-credits/consume",
                 R"({"amount": 8, "reference": "check-2"})", auth())
                .status,
            402);
  EXPECT_EQ(http(port_, "POST", "/api/v1/verification-credits/consume",
                 R"({"amount": 0, "reference": "x"})", auth())
                .status,
            400);
  EXPECT_EQ(http(port_, "POST", "/api/v1/verification-credits/consume",
                 R"({"amount": 1.5, "reference": "x"})", auth())
                .status,
            400);
  EXPECT_EQ(http(port_, "POST", "/api/v1/verification-credits/consume", R"({"amount": 1})", auth())
                .status,
            400);
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
  auto expired =
      http(port_, "POST", "/api/v1/verification-credits/topup", body,
           {{"Authorization",
             "Bearer " + makeJwt("credits-secret-0123456789abcdefghijklmnop", "u-42", -60)}});
  EXPECT_EQ(expired.status, 401);
  EXPECT_EQ(expired.body, unauthorized);
  auto forged = http(port_, "POST", "/api/v1/verification-credits/topup", body,
                     {{"Authorization", "Bearer " + makeJwt("not-the-secret", "u-42", 3600)}});
  EXPECT_EQ(forged.status, 401);
  EXPECT_EQ(forged.body, unauthorized);
  EXPECT_EQ(http(port_, "GET", "/api/v1/verification-credits/balance").status, 401);
  auto bad = http(port_, "POST", "/api/v1/verification-credits/topup",
                  R"({"packageId": "pkg_1000_credits"})", auth());
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
  EXPECT_EQ(kernel_->store()
                .query("SELECT COUNT(*) AS n FROM credit_topups WHERE status = 'FAILED'")
                .i64(0, "n"),
            1);
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

// Issue 14: the way back from the payment pages. A top-up may name its app page (returnUrl);
// the Flutterwave return page then leads there, also after a cancel. Anything that is not an
// http(s) URL is refused and nothing is recorded.
TEST_P(CreditsTest, TopUpReturnUrlLeadsBackFromTheFlutterwaveReturnPage) {
  SKIP_WITHOUT_ENGINE();
  bootFlutterwave(", return_url: \"https://app.example/credits\"");
  auto visit = [&](const std::string& body) {
    auto r = http(port_, "POST", "/api/v1/verification-credits/topup", body, auth());
    EXPECT_EQ(r.status, 200) << r.body;
    auto data = parse(r.body)->getObject("data");
    std::string ref = data->getValue<std::string>("reference");
    // The customer cancels on the hosted checkout and follows the redirect.
    auto cancel =
        http(port_, "POST", Poco::URI(data->getValue<std::string>("paymentUrl")).getPathAndQuery(),
             "action=cancel", {}, "application/x-www-form-urlencoded");
    EXPECT_EQ(cancel.status, 303);
    auto page = http(port_, "GET", Poco::URI(cancel.header("Location")).getPathAndQuery());
    EXPECT_EQ(page.status, 200);
    EXPECT_NE(page.body.find("<h1>Payment cancelled</h1>"), std::string::npos) << page.body;
    return std::make_pair(ref, page.body);
  };
  auto [ref1, own] = visit(
      R"({"packageId": "pkg_10_credits", "returnUrl": "https://front.example/topup?step=done"})");
  EXPECT_NE(own.find("id=\"flw-continue\" "
                     "href=\"https:&#x2F;&#x2F;front.example&#x2F;topup?step=done&amp;payment_id=" +
                     ref1 + "&amp;status=pending\""),
            std::string::npos)
      << own;
  auto [ref2, configured] = visit(R"({"packageId": "pkg_10_credits"})");
  EXPECT_NE(configured.find("href=\"https:&#x2F;&#x2F;app.example&#x2F;credits?payment_id=" + ref2 +
                            "&amp;status=pending\""),
            std::string::npos)
      << configured;
  // return_url (snake case) is accepted too.
  auto [ref3, snake] =
      visit(R"({"packageId": "pkg_10_credits", "return_url": "http://127.0.0.1:3000/back"})");
  EXPECT_NE(snake.find("http:&#x2F;&#x2F;127.0.0.1:3000&#x2F;back?payment_id=" + ref3),
            std::string::npos)
      << snake;

  std::int64_t rows = topupRows();
  for (const char* bad : {"javascript:alert(1)", "ftp://files.example/x", "//evil.example/x",
                          "https://user:pw@evil.example/", "not a url", "https://"}) {
    auto r = http(port_, "POST", "/api/v1/verification-credits/topup",
                  std::string(R"({"packageId": "pkg_10_credits", "returnUrl": ")") + bad + "\"}",
                  auth());
    EXPECT_EQ(r.status, 400) << bad << " " << r.body;
    EXPECT_EQ(parse(r.body)->getValue<bool>("success"), false);
    EXPECT_NE(parse(r.body)->getValue<std::string>("message").find("returnUrl"), std::string::npos);
  }
  EXPECT_EQ(topupRows(), rows);
}

// Outside sandbox a returnUrl must be on the configured page's origin or a listed one: the
// payment pages never redirect customers to a site a caller picked.
TEST_P(CreditsTest, ReturnUrlOutsideSandboxOnlyOnAllowedOrigins) {
  SKIP_WITHOUT_ENGINE();
  boot(", return_url: \"https://app.example/credits\", return_url_origins: [\"https://m.example\"]",
       false);
  std::int64_t rows = topupRows();
  for (const char* bad : {"https://evil.example/credits", "http://app.example/credits",
                          "https://app.example:8443/x", "https://m.example.evil.example/"}) {
    auto r = http(port_, "POST", "/api/v1/verification-credits/topup",
                  std::string(R"({"packageId": "pkg_10_credits", "returnUrl": ")") + bad + "\"}",
                  auth());
    EXPECT_EQ(r.status, 400) << bad << " " << r.body;
  }
  EXPECT_EQ(topupRows(), rows);
  for (const char* good :
       {"https://app.example/other?x=1", "https://m.example/back", "https://APP.example/credits"}) {
    auto r = http(port_, "POST", "/api/v1/verification-credits/topup",
                  std::string(R"({"packageId": "pkg_10_credits", "returnUrl": ")") + good + "\"}",
                  auth());
    EXPECT_NE(r.status, 400) << good << " "
                             << r.body;  // past validation (fakepay may refuse to start it live)
  }
}

// Issue 14: a top-up whose money arrived but did not match is held by the kernel; the
// history says "received, under review" with the reference and the support contact.
TEST_P(CreditsTest, HeldTopUpReadsReceivedUnderReview) {
  SKIP_WITHOUT_ENGINE();
  boot("", true,
       "brand: {name: Visibuy, support_phone: \"+234 800 123 4567\", support_email: "
       "help@visibuy.example}\n");
  auto data = topup();
  std::string ref = data->getValue<std::string>("reference");
  http(port_, "POST", "/sandbox/fakepay/orders/" + providerRef(ref) + "/pay",
       R"({"amount_minor": 1})");
  ASSERT_TRUE(eventually([&] {
    return kernel_->store()
               .query("SELECT status FROM payments WHERE id = ?", {ref})
               .str(0, "status") == "held";
  }));
  auto t = parse(http(port_, "GET", "/api/v1/verification-credits/history", "", auth()).body)
               ->getObject("data")
               ->getArray("topups")
               ->getObject(0);
  EXPECT_EQ(t->getValue<std::string>("status"), "PENDING");  // the seed's statuses
  ASSERT_TRUE(t->has("review"));
  auto review = t->getObject("review");
  EXPECT_EQ(review->getValue<std::string>("state"), "received_under_review");
  EXPECT_NE(review->getValue<std::string>("message").find("Payment received, under review"),
            std::string::npos);
  EXPECT_NE(review->getValue<std::string>("message").find(ref), std::string::npos);
  EXPECT_EQ(review->getValue<std::string>("reference"), ref);
  EXPECT_EQ(review->getObject("support")->getValue<std::string>("phone"), "+234 800 123 4567");
  EXPECT_EQ(review->getObject("support")->getValue<std::string>("email"), "help@visibuy.example");
  EXPECT_EQ(balance(), 0);
  // Issue 20: the message is for the customer, in their language (the JSON's keys stay).
  auto reviewIn = [&](const std::map<std::string, std::string>& extra, const std::string& q) {
    auto headers = auth();
    for (const auto& [k, v] : extra) headers[k] = v;
    return parse(http(port_, "GET", "/api/v1/verification-credits/history" + q, "", headers).body)
        ->getObject("data")
        ->getArray("topups")
        ->getObject(0)
        ->getObject("review")
        ->getValue<std::string>("message");
  };
  EXPECT_EQ(reviewIn({{"Accept-Language", "sw-TZ,sw;q=0.9"}}, ""),
            "Malipo yamepokelewa na yanakaguliwa. Wasiliana na huduma kwa wateja ya Visibuy "
            "ukitaja kumbukumbu " +
                ref + "; huhitaji kulipa tena.");
  EXPECT_EQ(reviewIn({}, "?lang=fr")
                .rfind("Paiement re\xC3\xA7u, en cours de v\xC3\xA9rification. "
                       "Contactez le service client de Visibuy",
                       0),
            0u);
}

// Refunds through the kernel's loaded product: unused credits are taken back once per refund;
// spent ones refuse the refund (409) unless forced, and a forced one floors the balance at 0.
TEST_P(CreditsTest, RefundTakesBackUnusedCreditsOnce) {
  SKIP_WITHOUT_ENGINE();
  boot();
  Payment p = paidTopup("pkg_10_credits", 10);  // NGN 5000 → 10 credits
  // Half the money back: 5 credits, checked and then taken once however often it runs.
  Refund half = refundOf(p, "rf-half", p.amountMinor / 2);
  EXPECT_TRUE(product().checkRefund(p, half).ok());
  EXPECT_TRUE(product().onPaymentRefunded(p, half).kind == JobOutcome::Kind::done);
  EXPECT_TRUE(product().onPaymentRefunded(p, half).kind == JobOutcome::Kind::done);
  EXPECT_EQ(balance(), 5);
  EXPECT_EQ(ledgerSum(), 5);
  EXPECT_EQ(ledgerRows("refund"), 1);
  auto hist = parse(http(port_, "GET", "/api/v1/verification-credits/history", "", auth()).body)
                  ->getObject("data");
  EXPECT_EQ(hist->getArray("topups")->getObject(0)->getValue<std::string>("status"),
            "PARTIALLY_REFUNDED");
  // The rest: the other 5, the top-up fully refunded.
  Refund rest = refundOf(p, "rf-rest", p.amountMinor - half.amountMinor);
  EXPECT_TRUE(product().checkRefund(p, rest).ok());
  EXPECT_TRUE(product().onPaymentRefunded(p, rest).kind == JobOutcome::Kind::done);
  EXPECT_EQ(balance(), 0);
  EXPECT_EQ(ledgerSum(), 0);
  hist = parse(http(port_, "GET", "/api/v1/verification-credits/history", "", auth()).body)
             ->getObject("data");
  EXPECT_EQ(hist->getArray("topups")->getObject(0)->getValue<std::string>("status"), "REFUNDED");
}

TEST_P(CreditsTest, RefundOfSpentCreditsIsRefusedUnlessForced) {
  SKIP_WITHOUT_ENGINE();
  boot();
  Payment p = paidTopup("pkg_10_credits", 10);
  consume(8, "verif-spent");
  Refund full = refundOf(p, "rf-full", p.amountMinor);
  Status refused = product().checkRefund(p, full);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::conflict);
  EXPECT_NE(refused.error().external.find("already spent"), std::string::npos)
      << refused.error().external;
  EXPECT_NE(refused.error().external.find("takes back 10 credits and the account has 2 left"),
            std::string::npos)
      << refused.error().external;
  EXPECT_EQ(balance(), 2);  // a check changes nothing
  // A refund the unused credits cover is fine: 20% → 2 credits.
  EXPECT_TRUE(product().checkRefund(p, refundOf(p, "rf-small", p.amountMinor / 5)).ok());
  // Forced: the balance goes to zero, never below, and the shortfall is recorded.
  Refund forced = refundOf(p, "rf-full", p.amountMinor, true);
  EXPECT_TRUE(product().onPaymentRefunded(p, forced).kind == JobOutcome::Kind::done);
  EXPECT_TRUE(product().onPaymentRefunded(p, forced).kind == JobOutcome::Kind::done);
  EXPECT_EQ(balance(), 0);
  EXPECT_EQ(ledgerSum(), 0);
  auto row = kernel_->store().query(
      "SELECT credits, debited, forced, actor FROM credit_refunds WHERE refund_id = 'rf-full'");
  ASSERT_EQ(row.size(), 1u);
  EXPECT_EQ(row.i64(0, "credits"), 10);
  EXPECT_EQ(row.i64(0, "debited"), 2);
  EXPECT_EQ(row.i64(0, "forced"), 1);
  EXPECT_EQ(row.str(0, "actor"), "admin");
}

// Through the operator's API and the provider's refund (fakepay's simulator): a refund of a
// top-up whose credits were spent is refused with 409 and the product's text, and nothing is
// refunded; forced, it is refunded at the provider and the unused credits are taken back once.
TEST_P(CreditsTest, AdminRefundOfSpentCreditsIs409UnlessForced) {
  SKIP_WITHOUT_ENGINE();
  boot("", true, "admin: {token: credits-admin-token-0123456789abcdefghij}\n");
  Payment p = paidTopup("pkg_10_credits", 10);
  consume(8, "verif-spent");
  auto ask = [&](const std::string& body, const std::string& key) {
    return http(port_, "POST", "/admin/payments/" + p.id + "/refunds", body,
                {{"Authorization", "Bearer credits-admin-token-0123456789abcdefghij"},
                 {"Idempotency-Key", key}});
  };
  auto refused = ask(R"({"reason": "customer asked"})", "k-1");
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_NE(refused.body.find("already spent"), std::string::npos) << refused.body;
  EXPECT_EQ(balance(), 2);
  EXPECT_EQ(kernel_->store().query("SELECT COUNT(*) AS n FROM fakepay_sim_refunds").i64(0, "n"), 0);
  auto forced = ask(R"({"reason": "chargeback threatened", "force": true})", "k-2");
  ASSERT_EQ(forced.status, 201) << forced.body;
  ASSERT_TRUE(eventually([&] {
    return kernel_->store()
               .query("SELECT COUNT(*) AS n FROM fakepay_sim_refunds WHERE status = 'succeeded'")
               .i64(0, "n") == 1;
  }));
  ASSERT_TRUE(eventually([&] { return balance() == 0; }));
  EXPECT_EQ(ledgerSum(), 0);
  EXPECT_EQ(kernel_->store()
                .query("SELECT COUNT(*) AS n FROM credit_refunds WHERE forced = 1")
                .i64(0, "n"),
            1);
}

INSTANTIATE_TEST_SUITE_P(Engines, CreditsTest, ::testing::Values("sqlite", "postgresql"),
                         engineName);
