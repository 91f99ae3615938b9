// The Flutterwave plugin through an in-process kernel, against its simulator over real
// loopback HTTP: the shop test product creates payments, a "customer" posts the simulator's
// checkout form, the simulator sends webhooks and redirects, and the tests watch what the
// kernel does with it (settle, fail, hold, fulfil once). Runs on SQLite, and on PostgreSQL
// when scripts/test.sh provides one.
#include <Poco/JSON/Parser.h>
#include <Poco/URI.h>

#include <atomic>
#include <memory>
#include <regex>
#include <thread>

#include "app/Kernel.hpp"
#include "config/ConfigLoader.hpp"
#include "engines.hpp"
#include "flutterwave_wire.hpp"
#include "support/TestSupport.hpp"

using namespace malipo;
using namespace malipo::test;

namespace {

const char* kSecretKey = "FLWSECK_TEST-integration";
const char* kSecretHash = "integration-secret-hash";
const char* kVisa = "4242 4242 4242 4242";
const char* kMastercard = "5531 8866 5214 2950";
const char* kDeclined = "4111 1111 1111 1111";

Poco::JSON::Object::Ptr parse(const std::string& s) {
  return Poco::JSON::Parser().parse(s).extract<Poco::JSON::Object::Ptr>();
}

std::map<std::string, std::string> queryOf(const std::string& url) {
  std::map<std::string, std::string> out;
  for (const auto& kv : Poco::URI(url).getQueryParameters()) out[kv.first] = kv.second;
  return out;
}

// Path and query of an absolute URL on our server.
std::string target(const std::string& url) {
  return Poco::URI(url).getPathAndQuery();
}

}  // namespace

class FlutterwaveTest : public EngineTest {
 protected:
  void boot(const std::string& extraSettings = "", const std::string& kernelExtra = "") {
    dbUrl_ = url();
    std::string yaml =
        "server: {listen: \"127.0.0.1:0\", access_log: false, rate_limits: {default: "
        "{requests_per_minute: 1000000, burst: 100000}}}\n"
        "database: {url: \"" +
        dbUrl_ +
        "\", pool_size: 16}\n"
        "admin: {token: admin-token-0123456789abcdefghijklmnop}\n"
        "jobs: {workers: 2, poll_interval_ms: 20, rescue_interval_ms: 200}\n"
        "log: {level: error}\n"
        "sandbox: true\n" +
        kernelExtra +
        "plugins:\n"
        "  - name: flutterwave\n"
        "    library: " FLW_PLUGIN
        "\n"
        "    settings:\n"
        "      secret_key: " +
        std::string(kSecretKey) +
        "\n"
        "      secret_hash: " +
        kSecretHash + "\n" +
        // A test may set its own timeout (a scripted slow answer must outlast it).
        (extraSettings.find("timeout_ms:") == std::string::npos ? "      timeout_ms: 5000\n" : "") +
        "      checkout: {title: \"Visibuy Credits\", description: \"Verification credits\"}\n" +
        extraSettings +
        "  - name: shop\n"
        "    library: " SHOP_PLUGIN
        "\n"
        "    settings: {alias_provider: flutterwave}\n";
    kernel_ = std::make_unique<Kernel>(ConfigLoader::loadString(yaml, "flutterwave.yaml"));
    kernel_->open();
    kernel_->start();
    port_ = kernel_->port();
    base_ = "http://127.0.0.1:" + std::to_string(port_);
  }
  void TearDown() override { kernel_.reset(); }

  // NGN 5000 (the seed's smallest credit package) through Flutterwave.
  Poco::JSON::Object::Ptr order(std::int64_t amountMinor = 500000,
                                const std::string& currency = "NGN") {
    auto r = http(port_, "POST", "/shop/orders",
                  R"({"amount_minor": )" + std::to_string(amountMinor) + R"(, "currency": ")" +
                      currency + R"(", "providers": ["flutterwave"], "channel": "redirect"})");
    EXPECT_EQ(r.status, 201) << r.body;
    auto p = parse(r.body)->getObject("payment");
    EXPECT_EQ(p->getValue<std::string>("status"), "pending");
    EXPECT_EQ(p->getObject("action")->getValue<std::string>("type"), "redirect");
    return p;
  }
  std::string checkoutUrl(const Poco::JSON::Object::Ptr& payment) {
    return payment->getObject("action")->getValue<std::string>("url");
  }
  void script(const std::string& json) {
    auto r = http(port_, "POST", "/sandbox/flutterwave/script", json);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  // The customer submits the hosted checkout form; returns the simulator's answer.
  HttpResult submit(const std::string& checkout, const std::string& card,
                    const std::string& action = "pay") {
    std::string body = "action=" + action + "&card_number=";
    std::string enc;
    Poco::URI::encode(card, "&=+", enc);
    body += enc + "&expiry=09%2F32&cvv=564";
    return http(port_, "POST", target(checkout), body, {}, "application/x-www-form-urlencoded");
  }
  // Pays and returns the redirect the browser would follow.
  std::string pay(const std::string& checkout, const std::string& card = kVisa) {
    auto r = submit(checkout, card);
    EXPECT_EQ(r.status, 303) << r.body;
    return r.header("Location");
  }
  std::string status(const std::string& id) {
    return kernel_->store()
        .query("SELECT status FROM payments WHERE id = ?", {id})
        .str(0, "status");
  }
  std::string column(const std::string& id, const std::string& col) {
    return kernel_->store()
        .query("SELECT " + col + " FROM payments WHERE id = ?", {id})
        .str(0, col);
  }
  std::int64_t fulfilments(const std::string& id, const std::string& kind = "settled") {
    return kernel_->store()
        .query("SELECT COUNT(*) AS n FROM shop_fulfilments WHERE payment_id = ? AND kind = ?",
               {id, kind})
        .i64(0, "n");
  }
  std::int64_t eventsOfKind(const std::string& id, const std::string& kind) {
    std::int64_t n = 0;
    for (const auto& e : kernel_->payments().events(id)) n += e.kind == kind;
    return n;
  }
  std::int64_t transitionsTo(const std::string& id, const std::string& to) {
    std::int64_t n = 0;
    for (const auto& e : kernel_->payments().events(id))
      if (e.kind == "transition" && e.detail.find("-> " + to) != std::string::npos) ++n;
    return n;
  }
  std::string allEvents(const std::string& id) {
    std::string s;
    for (const auto& e : kernel_->payments().events(id)) s += e.kind + ": " + e.detail + "\n";
    return s;
  }
  // What Flutterwave would post for a transaction: the verify reply's data in the envelope.
  std::string webhookBodyFor(const std::string& transactionId) {
    auto r = http(port_, "GET", "/sandbox/flutterwave/v3/transactions/" + transactionId + "/verify",
                  "", {{"Authorization", std::string("Bearer ") + kSecretKey}});
    EXPECT_EQ(r.status, 200) << r.body;
    Poco::JSON::Object o;
    o.set("event", "charge.completed");
    o.set("data", parse(r.body)->getObject("data"));
    return flutterwave::toJson(o);
  }

  // API calls the simulator answered so far (create, verify by id, verify by reference).
  Poco::JSON::Object::Ptr simCalls() {
    auto r = http(port_, "GET", "/sandbox/flutterwave/calls");
    EXPECT_EQ(r.status, 200) << r.body;
    return parse(r.body)->getObject("data");
  }
  std::int64_t verifyCalls() {
    auto c = simCalls();
    return c->getValue<Poco::Int64>("verify") + c->getValue<Poco::Int64>("verify_by_reference");
  }
  HttpResult returnPage(const std::string& query) {
    return http(port_, "GET", "/payments/flutterwave/return?" + query);
  }
  std::string paymentJson(const std::string& id) {
    return http(port_, "GET", "/shop/payments/" + id).body;
  }
  std::map<std::string, std::string> apiAuth() const {
    return {{"Authorization", std::string("Bearer ") + kSecretKey}};
  }
  // A settled NGN 5000 payment: its id and Flutterwave transaction id.
  std::pair<std::string, std::string> settledPayment() {
    auto p = order();
    std::string id = p->getValue<std::string>("id");
    std::string location = pay(checkoutUrl(p));
    EXPECT_TRUE(eventually([&] { return status(id) == "succeeded"; })) << allEvents(id);
    return {id, queryOf(location)["transaction_id"]};
  }
  HttpResult simRefund(const std::string& txn, const std::string& body) {
    return http(port_, "POST", "/sandbox/flutterwave/v3/transactions/" + txn + "/refund", body,
                apiAuth());
  }
  std::int64_t simRefunds(const std::string& txn) {
    return kernel_->store()
        .query("SELECT COUNT(*) AS n FROM flutterwave_sim_refunds WHERE transaction_id = ?",
               {static_cast<std::int64_t>(std::stoll(txn))})
        .i64(0, "n");
  }
  // The plugin's provider as the kernel loaded it (its SDK 1.1 calls go through the ABI).
  PaymentProvider& provider() {
    for (auto& lp : kernel_->plugins().plugins())
      for (auto& pr : lp.providers)
        if (pr->name() == "flutterwave") return *pr;
    throw std::runtime_error("flutterwave provider not loaded");
  }
  Payment payment(const std::string& id) { return kernel_->payments().get(id).value(); }
  RefundRequest refundRequest(const std::string& refundId, std::int64_t amountMinor) {
    RefundRequest r;
    r.refundId = refundId;
    r.amountMinor = amountMinor;
    r.currency = "NGN";
    r.reason = "customer asked";
    return r;
  }

  std::string dbUrl_;
  std::unique_ptr<Kernel> kernel_;
  std::uint16_t port_ = 0;
  std::string base_;
};

TEST_P(FlutterwaveTest, SuccessByWebhook) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  EXPECT_EQ(p->getValue<std::string>("provider_ref"), id);  // tx_ref is our payment id
  std::string checkout = checkoutUrl(p);
  EXPECT_EQ(checkout.rfind(base_ + "/sandbox/flutterwave/checkout/", 0), 0u) << checkout;

  // What initiate() sent: major units, our ids in meta, the customer, the return route.
  auto sent = kernel_->store().query(
      "SELECT amount_minor, currency, redirect_url, customer_email, title, meta_json FROM "
      "flutterwave_sim_checkouts WHERE tx_ref = ?",
      {id});
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent.i64(0, "amount_minor"), 500000);
  EXPECT_EQ(sent.str(0, "currency"), "NGN");
  EXPECT_EQ(sent.str(0, "redirect_url"), base_ + "/payments/flutterwave/return");
  EXPECT_EQ(sent.str(0, "customer_email"), "buyer@example.com");
  EXPECT_EQ(sent.str(0, "title"), "Visibuy Credits");
  auto meta = parse(sent.str(0, "meta_json"));
  EXPECT_EQ(meta->getValue<std::string>("payment_id"), id);
  EXPECT_EQ(meta->getValue<std::string>("product"), "shop");

  // The customer pays; the redirect is NOT followed: only the webhook can settle here.
  std::string location = pay(checkout, kMastercard);
  EXPECT_EQ(location.rfind(base_ + "/payments/flutterwave/return?", 0), 0u) << location;
  auto q = queryOf(location);
  EXPECT_EQ(q["status"], "successful");
  EXPECT_EQ(q["tx_ref"], id);
  ASSERT_TRUE(flutterwave::looksLikeTransactionId(q["transaction_id"])) << location;

  ASSERT_TRUE(eventually([&] { return fulfilments(id) == 1; })) << status(id) << "\n"
                                                                << allEvents(id);
  EXPECT_EQ(status(id), "succeeded");
  EXPECT_EQ(column(id, "provider_txn_id"), q["transaction_id"]);
  EXPECT_EQ(eventsOfKind(id, "webhook"), 1);
  EXPECT_GE(eventsOfKind(id, "query"), 1);  // settled by verifying, not by the webhook's word
}

TEST_P(FlutterwaveTest, SuccessByReturnUrlWhenTheWebhookIsLost) {
  SKIP_WITHOUT_ENGINE();
  boot();
  script(R"({"webhook": "never"})");
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  std::string location = pay(checkoutUrl(p), "4187427415564246");
  EXPECT_EQ(status(id), "pending");

  // The product asked to come back to its own page afterwards (CreatePayment.returnUrl).
  kernel_->store().exec(
      "UPDATE flutterwave_checkouts SET return_url = 'https://shop.example/done?x=1' WHERE "
      "payment_id = ?",
      {id});

  // The browser follows the redirect: the return page verifies and shows the result.
  auto page = http(port_, "GET", target(location));
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_NE(page.header("Content-Type").find("text/html"), std::string::npos);
  EXPECT_NE(page.body.find("Payment received"), std::string::npos) << page.body;
  EXPECT_NE(page.body.find("data-status=\"succeeded\""), std::string::npos);
  EXPECT_NE(page.body.find("data-tx-ref=\"" + id + "\""), std::string::npos);
  // The script is a served file (the page's CSP runs no inline script).
  EXPECT_NE(page.body.find("<script src=\"/payments/flutterwave/return.js\"></script>"),
            std::string::npos);
  EXPECT_EQ(page.body.find("<script>"), std::string::npos);
  auto script = http(port_, "GET", "/payments/flutterwave/return.js");
  EXPECT_EQ(script.status, 200);
  EXPECT_NE(script.body.find("window.parent.postMessage"), std::string::npos);
  EXPECT_NE(script.body.find("source: 'malipo', provider: 'flutterwave'"), std::string::npos);
  EXPECT_EQ(page.body.find("http-equiv=\"refresh\""), std::string::npos);  // final: no reload
  EXPECT_NE(page.body.find("id=\"flw-continue\""), std::string::npos);
  EXPECT_NE(
      page.body.find("shop.example&#x2F;done?x=1&amp;payment_id=" + id + "&amp;status=succeeded"),
      std::string::npos)
      << page.body;
  EXPECT_EQ(status(id), "succeeded");
  ASSERT_TRUE(eventually([&] { return fulfilments(id) == 1; }));
  EXPECT_EQ(eventsOfKind(id, "webhook"), 0);
  EXPECT_EQ(column(id, "provider_txn_id"), queryOf(location)["transaction_id"]);
}

TEST_P(FlutterwaveTest, ReturnUrlQueryStringIsNotTrusted) {
  SKIP_WITHOUT_ENGINE();
  boot();
  // Payment A is really paid (webhook withheld so nothing else moves it).
  script(R"({"webhook": "never"})");
  auto a = order();
  std::string paidTxn = queryOf(pay(checkoutUrl(a)))["transaction_id"];
  // Payment B was never paid; a forged return URL claims success with A's transaction.
  auto b = order();
  std::string idB = b->getValue<std::string>("id");
  auto page = http(port_, "GET",
                   "/payments/flutterwave/return?status=successful&tx_ref=" + idB +
                       "&transaction_id=" + paidTxn);
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_NE(page.body.find("data-status=\"pending\""), std::string::npos) << page.body;
  EXPECT_EQ(page.body.find("Payment received"), std::string::npos);
  EXPECT_NE(page.body.find("http-equiv=\"refresh\""), std::string::npos);  // it checks again
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(status(idB), "pending");
  EXPECT_EQ(fulfilments(idB), 0);
  EXPECT_TRUE(column(idB, "provider_txn_id").empty());

  // Unknown references and missing ones get a page, not a crash.
  EXPECT_EQ(http(port_, "GET", "/payments/flutterwave/return?status=successful&tx_ref=nope").status,
            404);
  EXPECT_EQ(http(port_, "GET", "/payments/flutterwave/return?status=successful").status, 400);
}

TEST_P(FlutterwaveTest, DeclinedCardFailsThePayment) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  std::string location = pay(checkoutUrl(p), kDeclined);
  auto q = queryOf(location);
  EXPECT_EQ(q["status"], "failed");
  EXPECT_FALSE(q["transaction_id"].empty());
  ASSERT_TRUE(eventually([&] { return fulfilments(id, "failed") == 1; })) << status(id) << "\n"
                                                                          << allEvents(id);
  EXPECT_EQ(status(id), "failed");
  EXPECT_EQ(fulfilments(id, "settled"), 0);
  auto page = http(port_, "GET", target(location));
  EXPECT_NE(page.body.find("Payment not completed"), std::string::npos) << page.body;
  EXPECT_NE(page.body.find("data-status=\"failed\""), std::string::npos);
}

TEST_P(FlutterwaveTest, BadHashIsRefusedAndChangesNothing) {
  SKIP_WITHOUT_ENGINE();
  boot();
  script(R"({"webhook": "never"})");
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  std::string txn = queryOf(pay(checkoutUrl(p)))["transaction_id"];
  std::string body = webhookBodyFor(txn);

  EXPECT_EQ(
      http(port_, "POST", "/webhooks/flutterwave", body, {{"verif-hash", "not-the-hash"}}).status,
      401);
  EXPECT_EQ(http(port_, "POST", "/webhooks/flutterwave", body,
                 {{"flutterwave-signature", flutterwave::hmacSha256Base64("not-the-hash", body)}})
                .status,
            401);
  EXPECT_EQ(http(port_, "POST", "/webhooks/flutterwave", body).status, 401);
  // A correct signature over another body does not carry over.
  EXPECT_EQ(http(port_, "POST", "/webhooks/flutterwave", body + " ",
                 {{"flutterwave-signature", flutterwave::hmacSha256Base64(kSecretHash, body)}})
                .status,
            401);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(status(id), "pending");
  EXPECT_EQ(eventsOfKind(id, "webhook"), 0);
  EXPECT_EQ(eventsOfKind(id, "query"), 0);
  EXPECT_EQ(fulfilments(id), 0);
  EXPECT_EQ(kernel_->store()
                .query("SELECT COUNT(*) AS n FROM flutterwave_txn_hints WHERE payment_id = ?", {id})
                .i64(0, "n"),
            0);

  // The genuine delivery then works.
  EXPECT_EQ(
      http(port_, "POST", "/webhooks/flutterwave", body, {{"verif-hash", kSecretHash}}).status,
      200);
  ASSERT_TRUE(eventually([&] { return fulfilments(id) == 1; })) << allEvents(id);
}

TEST_P(FlutterwaveTest, ReplayedWebhookSettlesAndFulfilsOnce) {
  SKIP_WITHOUT_ENGINE();
  boot();
  script(R"({"webhook": "twice"})");
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  std::string txn = queryOf(pay(checkoutUrl(p)))["transaction_id"];
  ASSERT_TRUE(eventually([&] { return fulfilments(id) == 1; })) << allEvents(id);

  // Replays: the same body many times at once, then the same transaction in the other shape
  // and authentication, and through the product's alias inbox.
  std::string body = webhookBodyFor(txn);
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 20; ++i)
    ts.emplace_back([&] {
      if (http(port_, "POST", "/webhooks/flutterwave", body, {{"verif-hash", kSecretHash}})
              .status == 200)
        ++ok;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 20);
  std::string legacy =
      R"({"id":)" + txn + R"(,"txRef":")" + id +
      R"(","amount":5000,"status":"successful","currency":"NGN","event.type":"CARD_TRANSACTION"})";
  EXPECT_EQ(http(port_, "POST", "/webhooks/flutterwave", legacy,
                 {{"flutterwave-signature", flutterwave::hmacSha256Base64(kSecretHash, legacy)}})
                .status,
            200);
  EXPECT_EQ(http(port_, "POST", "/shop/webhook-alias", body, {{"verif-hash", kSecretHash}}).status,
            200);

  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(fulfilments(id), 1);
  EXPECT_EQ(transitionsTo(id, "succeeded"), 1);
  EXPECT_EQ(eventsOfKind(id, "webhook"), 1);  // one event id: transaction + status
  EXPECT_EQ(status(id), "succeeded");
}

TEST_P(FlutterwaveTest, LateWebhookAfterTheReturnPageSettledChangesNothing) {
  SKIP_WITHOUT_ENGINE();
  boot();
  script(R"({"webhook": "late", "webhook_delay_ms": 300})");
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  auto page = http(port_, "GET", target(pay(checkoutUrl(p))));
  EXPECT_NE(page.body.find("data-status=\"succeeded\""), std::string::npos) << page.body;
  ASSERT_TRUE(eventually([&] { return eventsOfKind(id, "webhook") == 1; })) << allEvents(id);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(fulfilments(id), 1);
  EXPECT_EQ(transitionsTo(id, "succeeded"), 1);
}

TEST_P(FlutterwaveTest, AmountLowerThanExpectedIsHeldNotSettled) {
  SKIP_WITHOUT_ENGINE();
  boot();
  script(R"({"charge_amount": "4000"})");
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  std::string location = pay(checkoutUrl(p));
  ASSERT_TRUE(eventually([&] { return status(id) == "held"; })) << status(id) << "\n"
                                                                << allEvents(id);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(fulfilments(id), 0);
  EXPECT_NE(allEvents(id).find("amount mismatch"), std::string::npos) << allEvents(id);
  auto page = http(port_, "GET", target(location));
  EXPECT_NE(page.body.find("data-status=\"held\""), std::string::npos) << page.body;
  EXPECT_EQ(page.body.find("Payment received"), std::string::npos);
}

TEST_P(FlutterwaveTest, EveryWebhookModeSettles) {
  SKIP_WITHOUT_ENGINE();
  boot();
  for (const char* mode : {"verif-hash", "signature", "legacy"}) {
    script(std::string(R"({"webhook_mode": ")") + mode + "\"}");
    auto p = order();
    std::string id = p->getValue<std::string>("id");
    pay(checkoutUrl(p));
    ASSERT_TRUE(eventually([&] { return fulfilments(id) == 1; })) << mode << "\n" << allEvents(id);
    EXPECT_EQ(eventsOfKind(id, "webhook"), 1) << mode;
  }
}

TEST_P(FlutterwaveTest, CheckoutPageFormOverRealHttp) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto p = order(1050, "GHS");
  std::string id = p->getValue<std::string>("id");
  std::string checkout = checkoutUrl(p);
  auto page = http(port_, "GET", target(checkout));
  ASSERT_EQ(page.status, 200);
  // A plain form (no JavaScript needed) posting back to the same checkout; mstch escapes '/'
  // in attributes as &#x2F;, which browsers decode.
  std::string checkoutId = checkout.substr(checkout.rfind('/') + 1);
  EXPECT_NE(
      page.body.find(
          "<form method=\"post\" action=\"&#x2F;sandbox&#x2F;flutterwave&#x2F;checkout&#x2F;" +
          checkoutId + "\""),
      std::string::npos)
      << page.body;
  EXPECT_NE(page.body.find("name=\"card_number\""), std::string::npos);
  EXPECT_NE(page.body.find("Visibuy Credits"), std::string::npos);
  EXPECT_NE(page.body.find("GHS 10.50"), std::string::npos);
  EXPECT_NE(page.body.find("4111 1111 1111 1111"), std::string::npos);  // the test cards are listed

  // An unknown card is refused on the page; nothing is charged.
  auto wrong = submit(checkout, "5105 1051 0510 5100");
  EXPECT_EQ(wrong.status, 422);
  EXPECT_NE(wrong.body.find("not a sandbox test card"), std::string::npos);
  EXPECT_EQ(
      kernel_->store()
          .query("SELECT COUNT(*) AS n FROM flutterwave_sim_transactions WHERE tx_ref = ?", {id})
          .i64(0, "n"),
      0);

  // Cancel: back to the merchant without a transaction id; the payment stays pending.
  auto cancel = submit(checkout, "", "cancel");
  ASSERT_EQ(cancel.status, 303);
  auto q = queryOf(cancel.header("Location"));
  EXPECT_EQ(q["status"], "cancelled");
  EXPECT_EQ(q["tx_ref"], id);
  EXPECT_EQ(q.count("transaction_id"), 0u);
  auto ret = http(port_, "GET", target(cancel.header("Location")));
  EXPECT_NE(ret.body.find("data-status=\"pending\""), std::string::npos) << ret.body;
  EXPECT_EQ(status(id), "pending");

  // A used checkout cannot be paid.
  EXPECT_EQ(submit(checkout, kVisa).status, 409);
  auto closed = http(port_, "GET", target(checkout));
  EXPECT_NE(closed.body.find("This checkout is finished"), std::string::npos) << closed.body;
  EXPECT_EQ(http(port_, "GET", "/sandbox/flutterwave/checkout/0123abcd").status, 404);
}

TEST_P(FlutterwaveTest, SimulatorApiSpeaksFlutterwave) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto noKey =
      http(port_, "GET", "/sandbox/flutterwave/v3/transactions/verify_by_reference?tx_ref=x");
  EXPECT_EQ(noKey.status, 401);
  EXPECT_EQ(noKey.body, R"({"status":"error","message":"Invalid authorization key","data":null})");
  auto wrongKey = http(port_, "POST", "/sandbox/flutterwave/v3/payments", "{}",
                       {{"Authorization", "Bearer FLWSECK_TEST-other"}});
  EXPECT_EQ(wrongKey.status, 401);
  auto auth =
      std::map<std::string, std::string>{{"Authorization", std::string("Bearer ") + kSecretKey}};
  auto unknown =
      http(port_, "GET", "/sandbox/flutterwave/v3/transactions/verify_by_reference?tx_ref=nothing",
           "", auth);
  EXPECT_NE(unknown.body.find("No transaction was found for this id"), std::string::npos)
      << unknown.body;
  auto invalid =
      http(port_, "POST", "/sandbox/flutterwave/v3/payments",
           R"({"tx_ref":"t1","amount":100,"currency":"NGN","redirect_url":"https://x.example/r"})",
           auth);
  EXPECT_EQ(invalid.status, 400);
  EXPECT_NE(invalid.body.find("customer.email"), std::string::npos);
  auto created = http(
      port_, "POST", "/sandbox/flutterwave/v3/payments",
      R"({"tx_ref":"t1","amount":"2500.50","currency":"NGN","redirect_url":"https://x.example/r","customer":{"email":"c@example.com"}})",
      auth);
  ASSERT_EQ(created.status, 200) << created.body;
  auto o = parse(created.body);
  EXPECT_EQ(o->getValue<std::string>("status"), "success");
  EXPECT_EQ(o->getValue<std::string>("message"), "Hosted Link");
  std::string link = o->getObject("data")->getValue<std::string>("link");
  EXPECT_NE(http(port_, "GET", target(link)).body.find("NGN 2500.50"), std::string::npos);
  EXPECT_EQ(
      http(port_, "POST", "/sandbox/flutterwave/script", R"({"webhook": "sometimes"})").status,
      400);
  EXPECT_EQ(http(port_, "POST", "/sandbox/flutterwave/script", R"({"typo": 1})").status, 400);
  EXPECT_EQ(http(port_, "POST", "/sandbox/flutterwave/script", R"({"reset": "yes"})").status, 400);
  EXPECT_EQ(http(port_, "POST", "/sandbox/flutterwave/script",
                 R"({"webhook": "late", "webhook_delay_ms": -1})")
                .status,
            400);
  EXPECT_EQ(
      http(port_, "POST", "/sandbox/flutterwave/script", R"({"charge_amount": "lots"})").status,
      400);
  EXPECT_EQ(http(port_, "POST", "/sandbox/flutterwave/script", R"({"create_error": 418})").status,
            400);
}

TEST_P(FlutterwaveTest, ProviderErrorReachesTheClientAsTheDocumentedError) {
  SKIP_WITHOUT_ENGINE();
  boot();
  script(R"({"create_error": 500})");
  auto r = http(port_, "POST", "/shop/orders",
                R"({"amount_minor": 500000, "currency": "NGN", "providers": ["flutterwave"]})");
  EXPECT_EQ(r.status, 502) << r.body;
  auto o = parse(r.body);
  EXPECT_EQ(o->getValue<std::string>("message"), "Failed to initiate payment");
  EXPECT_EQ(r.body.find("Simulated failure"),
            std::string::npos);  // the provider's body stays in logs
  // The next order goes through again.
  order();
}

TEST_P(FlutterwaveTest, JanitorRecoversAPaymentWithNoWebhookAndNoReturn) {
  SKIP_WITHOUT_ENGINE();
  boot();
  script(R"({"webhook": "never"})");
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  pay(checkoutUrl(p));
  // The customer closed the tab before the redirect: only the janitor's check is left.
  kernel_->store().exec("UPDATE payments SET next_check_at = 0 WHERE id = ?", {id});
  EXPECT_GE(kernel_->payments().runJanitor(), 1);
  ASSERT_TRUE(eventually([&] { return fulfilments(id) == 1; })) << allEvents(id);
  EXPECT_EQ(status(id), "succeeded");
}

// Issue 12, planted lookups: the return URL is public, so what it says must never multiply
// the calls we make to Flutterwave. Its transaction_id is not a hint, and however many loads
// arrive (in a row, concurrently), the page asks Flutterwave at most once per check interval.
TEST_P(FlutterwaveTest, ReturnPageNeverMultipliesProviderCalls) {
  SKIP_WITHOUT_ENGINE();
  boot("      return_page: {check_interval_seconds: 2}\n");
  script(R"({"webhook": "never"})");
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  std::int64_t before = verifyCalls();
  // Six loads, each planting another transaction id (the old page kept up to five of them and
  // verified every one on each load: 2 + 3 + 4 + 5 + 6 + 6 calls).
  for (int i = 0; i < 6; ++i) {
    auto page = returnPage("status=successful&tx_ref=" + id +
                           "&transaction_id=" + std::to_string(900000001 + i));
    ASSERT_EQ(page.status, 200) << page.body;
    EXPECT_NE(page.body.find("data-status=\"pending\""), std::string::npos);
  }
  EXPECT_EQ(verifyCalls() - before, 1) << flutterwave::toJson(*simCalls());
  EXPECT_EQ(simCalls()->getValue<Poco::Int64>("verify"), 0);  // never by a planted id
  EXPECT_EQ(kernel_->store()
                .query("SELECT COUNT(*) AS n FROM flutterwave_txn_hints WHERE payment_id = ?", {id})
                .i64(0, "n"),
            0);
  // Twenty at once, still inside the interval: served from what is stored.
  std::vector<std::thread> ts;
  for (int i = 0; i < 20; ++i)
    ts.emplace_back([&, i] {
      returnPage("tx_ref=" + id + "&transaction_id=" + std::to_string(800000001 + i));
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(verifyCalls() - before, 1);
  // After the interval one load checks again, once, by reference.
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  ts.clear();
  for (int i = 0; i < 10; ++i)
    ts.emplace_back([&] { returnPage("tx_ref=" + id + "&transaction_id=123456789"); });
  for (auto& t : ts) t.join();
  EXPECT_EQ(verifyCalls() - before, 2);
  EXPECT_EQ(simCalls()->getValue<Poco::Int64>("verify"), 0);
  EXPECT_EQ(status(id), "pending");
}

// Issue 12: the secret hash is ours to choose, so outside sandbox a weak one is refused at
// start-up with a line naming the key (the seed's own example value is "flutterwave").
TEST_P(FlutterwaveTest, LiveConfigRefusesAMissingOrWeakSecretHash) {
  SKIP_WITHOUT_ENGINE();
  auto live = [&](const std::string& hashLine) {
    return "server: {listen: \"127.0.0.1:0\", access_log: false}\n"
           "database: {url: \"" +
           url() +
           "\"}\n"
           "auth: {jwt_secret: test-secret-0123456789abcdefghijklmnop}\n"
           "log: {level: error}\n"
           "sandbox: false\n"
           "plugins:\n"
           "  - name: flutterwave\n"
           "    library: " FLW_PLUGIN
           "\n"
           "    settings:\n"
           "      secret_key: FLWSECK-live-0123456789abcdef\n" +
           hashLine;
  };
  for (const std::string& line :
       {std::string(""), std::string("      secret_hash: flutterwave\n"),
        std::string("      secret_hash: change-me-change-me-change-me-change-me\n")}) {
    try {
      Kernel k(ConfigLoader::loadString(live(line), "live.yaml"));
      k.open();
      k.start();
      ADD_FAILURE() << "a live config started with: " << (line.empty() ? "no secret_hash" : line);
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find("secret_hash"), std::string::npos) << e.what();
    }
  }
  // A strong one starts.
  Kernel ok(ConfigLoader::loadString(
      live("      secret_hash: test-secret-0123456789abcdefghijklmnop\n"), "live.yaml"));
  EXPECT_NO_THROW(ok.open());
}

// Issue 14: flutterwave-signature in both documented forms (HMAC of the raw body, or the plain
// secret hash), verif-hash still; anything else 401 and nothing recorded.
TEST_P(FlutterwaveTest, FlutterwaveSignatureInBothFormsAndVerifHash) {
  SKIP_WITHOUT_ENGINE();
  boot();
  for (int form = 0; form < 3; ++form) {
    script(R"({"webhook": "never"})");
    auto p = order();
    std::string id = p->getValue<std::string>("id");
    std::string txn = queryOf(pay(checkoutUrl(p)))["transaction_id"];
    std::string body = webhookBodyFor(txn);
    std::map<std::string, std::string> good =
        form == 0
            ? std::map<std::string, std::string>{{"flutterwave-signature",
                                                  flutterwave::hmacSha256Base64(kSecretHash, body)}}
        : form == 1 ? std::map<std::string, std::string>{{"flutterwave-signature", kSecretHash}}
                    : std::map<std::string, std::string>{{"verif-hash", kSecretHash}};
    auto wrong = http(port_, "POST", "/webhooks/flutterwave", body,
                      {{"flutterwave-signature", std::string(kSecretHash) + "x"}});
    EXPECT_EQ(wrong.status, 401) << form;
    EXPECT_EQ(
        http(port_, "POST", "/webhooks/flutterwave", body,
             {{"flutterwave-signature", flutterwave::hmacSha256Base64(kSecretHash, body + "x")}})
            .status,
        401);
    EXPECT_EQ(eventsOfKind(id, "webhook"), 0) << form;
    auto r = http(port_, "POST", "/webhooks/flutterwave", body, good);
    EXPECT_EQ(r.status, 200) << form << " " << r.body;
    ASSERT_TRUE(eventually([&] { return fulfilments(id) == 1; })) << form << "\n" << allEvents(id);
    EXPECT_EQ(eventsOfKind(id, "webhook"), 1) << form;
  }
}

// Issue 14: the verify reply carries what the official SDKs read (amount_settled, app_fee,
// card.token, …); the kernel records gross (charged), fee (app_fee) and net (amount_settled).
TEST_P(FlutterwaveTest, VerifyReplyCarriesFeesAndTokenAndThePaymentShowsGrossFeeNet) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto auth =
      std::map<std::string, std::string>{{"Authorization", std::string("Bearer ") + kSecretKey}};
  for (const char* bearerName : {"merchant", "customer"}) {
    std::string bearer = bearerName;
    script(R"({"fee_bearer": ")" + bearer + "\"}");
    auto p = order();
    std::string id = p->getValue<std::string>("id");
    std::string txn = queryOf(pay(checkoutUrl(p)))["transaction_id"];
    auto v =
        http(port_, "GET", "/sandbox/flutterwave/v3/transactions/" + txn + "/verify", "", auth);
    ASSERT_EQ(v.status, 200) << v.body;
    auto d = parse(v.body)->getObject("data");
    for (const char* key : {"id", "tx_ref", "flw_ref", "amount", "currency", "charged_amount",
                            "app_fee", "merchant_fee", "amount_settled", "status", "payment_type",
                            "created_at", "processor_response", "card", "customer"})
      EXPECT_TRUE(d->has(key)) << key << " missing in " << v.body;
    EXPECT_EQ(d->getValue<std::string>("tx_ref"), id);
    EXPECT_EQ(d->getValue<double>("amount"), 5000);
    EXPECT_EQ(d->getValue<double>("app_fee"), 70);  // 1.4 % of NGN 5000
    EXPECT_EQ(d->getValue<double>("charged_amount"), bearer == "merchant" ? 5000 : 5070);
    EXPECT_EQ(d->getValue<double>("amount_settled"), bearer == "merchant" ? 4930 : 5000);
    std::string token = d->getObject("card")->getValue<std::string>("token");
    EXPECT_EQ(token.rfind("flw-t1nf-", 0), 0u) << token;
    EXPECT_EQ(d->getObject("customer")->getValue<std::string>("email"), "buyer@example.com");

    ASSERT_TRUE(eventually([&] { return fulfilments(id) == 1; })) << bearer << "\n"
                                                                  << allEvents(id);
    auto pj = parse(paymentJson(id));
    EXPECT_EQ(pj->getValue<std::string>("status"), "succeeded")
        << bearer;  // whichever side bears the fee
    EXPECT_EQ(pj->getValue<std::string>("gross"), bearer == "merchant" ? "5000.00" : "5070.00");
    EXPECT_EQ(pj->getValue<std::string>("fee"), "70.00");
    EXPECT_EQ(pj->getValue<std::string>("net"), bearer == "merchant" ? "4930.00" : "5000.00");
  }
  EXPECT_EQ(
      http(port_, "POST", "/sandbox/flutterwave/script", R"({"fee_bearer": "nobody"})").status,
      400);
}

// Issue 14: a customer who cancels on Flutterwave's page sees "Payment cancelled" at once
// (after asking Flutterwave, once), with the way back to the app, and no endless reloading.
TEST_P(FlutterwaveTest, CancelledReturnIsShownAsCancelledAtOnceWithAWayBack) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  kernel_->store().exec(
      "UPDATE flutterwave_checkouts SET return_url = 'https://app.example/credits' WHERE "
      "payment_id = ?",
      {id});
  auto cancel = submit(checkoutUrl(p), "", "cancel");
  ASSERT_EQ(cancel.status, 303);
  std::int64_t before = verifyCalls();
  auto page = http(port_, "GET", target(cancel.header("Location")));
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(verifyCalls() - before, 1);  // checked with Flutterwave
  EXPECT_NE(page.body.find("data-outcome=\"cancelled\""), std::string::npos) << page.body;
  EXPECT_NE(page.body.find("<h1>Payment cancelled</h1>"), std::string::npos) << page.body;
  EXPECT_EQ(page.body.find("Confirming your payment"), std::string::npos);
  EXPECT_EQ(page.body.find("http-equiv=\"refresh\""), std::string::npos);
  EXPECT_NE(
      page.body.find(
          "id=\"flw-continue\" href=\"https:&#x2F;&#x2F;app.example&#x2F;credits?payment_id=" + id +
          "&amp;status=pending\""),
      std::string::npos)
      << page.body;
  // Flutterwave has no transaction: the payment is not failed on the browser's word.
  EXPECT_EQ(status(id), "pending");
}

// Issue 14: a failed return is checked with Flutterwave at once and ends failed, even with
// the webhook lost.
TEST_P(FlutterwaveTest, FailedReturnEndsFailedAtOnce) {
  SKIP_WITHOUT_ENGINE();
  boot("      return_page: {default_url: \"https://app.example/home\"}\n");
  script(R"({"webhook": "never"})");
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  std::string location = pay(checkoutUrl(p), kDeclined);
  EXPECT_EQ(status(id), "pending");
  auto page = http(port_, "GET", target(location));
  EXPECT_EQ(status(id), "failed");
  EXPECT_NE(page.body.find("data-outcome=\"failed\""), std::string::npos) << page.body;
  EXPECT_NE(page.body.find("Payment not completed"), std::string::npos);
  EXPECT_NE(page.body.find("The payment was declined."), std::string::npos);
  // No return URL on the payment: the configured default is the way back.
  EXPECT_NE(page.body.find("href=\"https:&#x2F;&#x2F;app.example&#x2F;home?payment_id=" + id +
                           "&amp;status=failed\""),
            std::string::npos)
      << page.body;
  ASSERT_TRUE(eventually([&] { return fulfilments(id, "failed") == 1; }));
}

// Issue 14: while pending the page reloads a bounded number of times, then says the payment is
// not confirmed yet and offers "Check again" and the way back; with no URL configured at all,
// a Close button.
TEST_P(FlutterwaveTest, PendingPageStopsReloadingAfterTheBound) {
  SKIP_WITHOUT_ENGINE();
  boot("      return_page: {max_refreshes: 2, refresh_seconds: 3}\n");
  script(R"({"webhook": "never"})");
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  auto first = returnPage("status=successful&tx_ref=" + id);
  EXPECT_NE(
      first.body.find(
          "<meta http-equiv=\"refresh\" content=\"3;url=/payments/flutterwave/return?tx_ref=" + id +
          "&amp;status=successful&amp;check=1\">"),
      std::string::npos)
      << first.body;
  EXPECT_NE(first.body.find("data-outcome=\"pending\""), std::string::npos);
  auto second = returnPage("status=successful&tx_ref=" + id + "&check=1");
  EXPECT_NE(second.body.find("check=2\">"), std::string::npos) << second.body;
  auto last = returnPage("status=successful&tx_ref=" + id + "&check=2");
  EXPECT_EQ(last.body.find("http-equiv=\"refresh\""), std::string::npos) << last.body;
  EXPECT_NE(last.body.find("data-outcome=\"timeout\""), std::string::npos);
  EXPECT_NE(last.body.find("<h1>Not confirmed yet</h1>"), std::string::npos);
  EXPECT_NE(
      last.body.find(
          "id=\"flw-check-again\" href=\"&#x2F;payments&#x2F;flutterwave&#x2F;return?tx_ref=" + id +
          "&amp;status=successful&amp;check=0\""),
      std::string::npos)
      << last.body;
  EXPECT_NE(last.body.find("id=\"flw-close\""), std::string::npos);  // no return URL anywhere
  EXPECT_EQ(status(id), "pending");
}

// Issue 14: held is "received, under review" with the reference and the brand's support
// contact, never "waiting for your payment".
TEST_P(FlutterwaveTest, HeldPageSaysReceivedUnderReviewWithSupportContact) {
  SKIP_WITHOUT_ENGINE();
  boot("",
       "brand: {name: Visibuy, support_phone: \"+234 800 123 4567\", support_email: "
       "help@visibuy.example}\n");
  script(R"({"charge_amount": "4000"})");
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  std::string location = pay(checkoutUrl(p));
  ASSERT_TRUE(eventually([&] { return status(id) == "held"; })) << allEvents(id);
  auto page = http(port_, "GET", target(location));
  EXPECT_NE(page.body.find("data-outcome=\"held\""), std::string::npos) << page.body;
  EXPECT_NE(page.body.find("Your payment was received and is under review"), std::string::npos)
      << page.body;
  EXPECT_NE(page.body.find("Received, under review"), std::string::npos);
  EXPECT_NE(
      page.body.find("Contact Visibuy support and quote the reference <strong>" + id + "</strong>"),
      std::string::npos)
      << page.body;
  EXPECT_NE(page.body.find("+234 800 123 4567"), std::string::npos);
  EXPECT_NE(page.body.find("help@visibuy.example"), std::string::npos);
  for (const char* unpaid : {"Confirming", "Waiting", "not completed", "try again"})
    EXPECT_EQ(page.body.find(unpaid), std::string::npos) << unpaid;
}

// The simulator's refund API, as Flutterwave v3 answers it: partial refunds up to what is
// left, the refund object's fields, the fetch and the list (with our marker in comments).
TEST_P(FlutterwaveTest, SimulatorRefundsPartiallyUpToWhatIsLeft) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto [id, txn] = settledPayment();
  EXPECT_EQ(http(port_, "POST", "/sandbox/flutterwave/v3/transactions/" + txn + "/refund",
                 R"({"amount": 10})")
                .status,
            401);
  auto first = simRefund(txn, R"({"amount": 2000, "comments": "malipo-refund:r1 partial"})");
  ASSERT_EQ(first.status, 200) << first.body;
  auto o = parse(first.body);
  EXPECT_EQ(o->getValue<std::string>("message"), "Transaction refund initiated");
  auto d = o->getObject("data");
  EXPECT_EQ(d->getValue<std::string>("tx_id"), txn);
  EXPECT_EQ(d->getValue<Poco::Int64>("amount_refunded"), 2000);
  EXPECT_EQ(d->getValue<std::string>("status"), "completed");
  EXPECT_EQ(d->getValue<std::string>("destination"), "payment_source");
  EXPECT_EQ(d->getValue<std::string>("flw_ref").rfind("URF_", 0), 0u);
  std::string refundId = d->getValue<std::string>("id");

  // 3000 is left: 4000 is refused and changes nothing.
  auto over = simRefund(txn, R"({"amount": 4000})");
  EXPECT_EQ(over.status, 400) << over.body;
  EXPECT_EQ(parse(over.body)->getValue<std::string>("status"), "error");
  EXPECT_NE(over.body.find("cannot be greater than the amount left"), std::string::npos);
  EXPECT_NE(over.body.find("3000"), std::string::npos) << over.body;
  EXPECT_EQ(simRefunds(txn), 1);

  auto fetched = http(port_, "GET", "/sandbox/flutterwave/v3/refunds/" + refundId, "", apiAuth());
  ASSERT_EQ(fetched.status, 200) << fetched.body;
  EXPECT_EQ(parse(fetched.body)->getObject("data")->getValue<std::string>("comments"),
            "malipo-refund:r1 partial");
  EXPECT_EQ(http(port_, "GET", "/sandbox/flutterwave/v3/refunds/999", "", apiAuth()).status, 404);
  auto list =
      http(port_, "GET", "/sandbox/flutterwave/v3/refunds?from=2000-01-01&page=1", "", apiAuth());
  ASSERT_EQ(list.status, 200) << list.body;
  auto found = flutterwave::findRefundInList(list.status, list.body, txn, "r1", "NGN");
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->found);
  EXPECT_EQ(found->status.providerRefundId, refundId);

  // No amount: what is left; then nothing is left.
  auto rest = simRefund(txn, R"({"comments": "rest"})");
  ASSERT_EQ(rest.status, 200) << rest.body;
  EXPECT_EQ(parse(rest.body)->getObject("data")->getValue<Poco::Int64>("amount_refunded"), 3000);
  EXPECT_EQ(simRefunds(txn), 2);
  EXPECT_EQ(simRefund(txn, R"({"amount": 1})").status, 400);
  EXPECT_EQ(simRefund("123456789", R"({"amount": 1})").status, 400);  // no such transaction
}

TEST_P(FlutterwaveTest, SimulatorRefundScripts) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto [id, txn] = settledPayment();
  EXPECT_EQ(http(port_, "POST", "/sandbox/flutterwave/script", R"({"refund": "maybe"})").status,
            400);
  EXPECT_EQ(http(port_, "POST", "/sandbox/flutterwave/script", R"({"refund_delay_ms": 10})").status,
            400);
  script(R"({"refund": "error"})");
  EXPECT_EQ(simRefund(txn, R"({"amount": 100})").status, 500);
  script(R"({"refund": "declined"})");
  EXPECT_EQ(simRefund(txn, R"({"amount": 100})").status, 400);
  EXPECT_EQ(simRefunds(txn), 0);
  script(R"({"refund": "pending", "refund_pending_lookups": 2})");
  auto pending = simRefund(txn, R"({"amount": 100})");
  ASSERT_EQ(pending.status, 200);
  std::string rid = parse(pending.body)->getObject("data")->getValue<std::string>("id");
  EXPECT_EQ(parse(pending.body)->getObject("data")->getValue<std::string>("status"), "pending");
  auto look = [&] {
    return parse(http(port_, "GET", "/sandbox/flutterwave/v3/refunds/" + rid, "", apiAuth()).body)
        ->getObject("data")
        ->getValue<std::string>("status");
  };
  EXPECT_EQ(look(), "pending");
  EXPECT_EQ(look(), "completed");
}

// Through the kernel's loaded plugin (SDK 1.1 over the ABI): refund() and queryRefund().
TEST_P(FlutterwaveTest, ProviderRefundsFullAndPartial) {
  SKIP_WITHOUT_ENGINE();
  boot();
  EXPECT_EQ(provider().capabilities().refunds, RefundSupport::partial);
  auto [id, txn] = settledPayment();
  Payment p = payment(id);
  auto part = provider().refund(p, refundRequest("rf-part", 150000));
  ASSERT_TRUE(part.ok()) << part.error().internal;
  EXPECT_EQ(part->state, RefundStatus::State::succeeded) << part->detail;
  EXPECT_EQ(part->amountMinor, 150000);
  EXPECT_FALSE(part->providerRefundId.empty());
  // More than is left (350000): Flutterwave refuses; nothing is refunded.
  auto over = provider().refund(p, refundRequest("rf-over", 400000));
  ASSERT_TRUE(over.ok()) << over.error().internal;
  EXPECT_EQ(over->state, RefundStatus::State::failed);
  EXPECT_NE(over->reason.find("Flutterwave refused"), std::string::npos) << over->reason;
  auto rest = provider().refund(p, refundRequest("rf-rest", 350000));
  ASSERT_TRUE(rest.ok()) << rest.error().internal;
  EXPECT_EQ(rest->state, RefundStatus::State::succeeded);
  EXPECT_EQ(simRefunds(txn), 2);
  auto sent = kernel_->store().query(
      "SELECT amount_minor, comments FROM flutterwave_sim_refunds WHERE transaction_id = ? ORDER "
      "BY amount_minor",
      {static_cast<std::int64_t>(std::stoll(txn))});
  EXPECT_EQ(sent.i64(0, "amount_minor"), 150000);
  EXPECT_EQ(sent.str(0, "comments"), "malipo-refund:rf-part customer asked");
  // queryRefund by Flutterwave's id.
  RefundRequest q = refundRequest("rf-part", 150000);
  q.providerRefundId = part->providerRefundId;
  auto again = provider().queryRefund(p, q);
  ASSERT_TRUE(again.ok()) << again.error().internal;
  EXPECT_EQ(again->state, RefundStatus::State::succeeded);
  EXPECT_EQ(again->providerRefundId, part->providerRefundId);
}

TEST_P(FlutterwaveTest, ProviderRefundIsIdempotentByRefundId) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto [id, txn] = settledPayment();
  Payment p = payment(id);
  auto first = provider().refund(p, refundRequest("rf-1", 100000));
  ASSERT_TRUE(first.ok()) << first.error().internal;
  // The kernel calls again after a crash: the same refund, not a second one.
  auto second = provider().refund(p, refundRequest("rf-1", 100000));
  ASSERT_TRUE(second.ok()) << second.error().internal;
  EXPECT_EQ(second->providerRefundId, first->providerRefundId);
  EXPECT_EQ(second->state, RefundStatus::State::succeeded);
  EXPECT_EQ(simRefunds(txn), 1);
  // Even when our own record of Flutterwave's id is lost, the list finds it by the marker.
  kernel_->store().exec(
      "UPDATE flutterwave_refunds SET flw_refund_id = '', state = 'sending' WHERE refund_id = "
      "'rf-1'");
  auto third = provider().refund(p, refundRequest("rf-1", 100000));
  ASSERT_TRUE(third.ok()) << third.error().internal;
  EXPECT_EQ(third->providerRefundId, first->providerRefundId);
  EXPECT_EQ(simRefunds(txn), 1);
}

TEST_P(FlutterwaveTest, ProviderRefundTimeoutThenQueryFindsIt) {
  SKIP_WITHOUT_ENGINE();
  boot("      timeout_ms: 700\n");
  auto [id, txn] = settledPayment();
  Payment p = payment(id);
  script(R"({"refund": "timeout", "refund_delay_ms": 2000})");
  auto lost = provider().refund(p, refundRequest("rf-t", 50000));
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.error().code, ErrorCode::providerTimeout) << lost.error().internal;
  EXPECT_EQ(simRefunds(txn), 1);  // it happened at Flutterwave; only the answer was lost
  auto found = provider().queryRefund(p, refundRequest("rf-t", 50000));  // no provider id
  ASSERT_TRUE(found.ok()) << found.error().internal;
  EXPECT_EQ(found->state, RefundStatus::State::succeeded) << found->detail;
  EXPECT_EQ(found->amountMinor, 50000);
  // refund() again with the same id (the kernel after a restart): no second refund.
  auto again = provider().refund(p, refundRequest("rf-t", 50000));
  ASSERT_TRUE(again.ok()) << again.error().internal;
  EXPECT_EQ(again->providerRefundId, found->providerRefundId);
  EXPECT_EQ(simRefunds(txn), 1);
  // A refund id never sent is failed, not pending forever.
  auto never = provider().queryRefund(p, refundRequest("rf-never", 50000));
  ASSERT_TRUE(never.ok());
  EXPECT_EQ(never->state, RefundStatus::State::failed);
}

TEST_P(FlutterwaveTest, ProviderRefundPendingThenCompleted) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto [id, txn] = settledPayment();
  Payment p = payment(id);
  script(R"({"refund": "pending", "refund_pending_lookups": 1})");
  auto st = provider().refund(p, refundRequest("rf-p", 50000));
  ASSERT_TRUE(st.ok()) << st.error().internal;
  EXPECT_EQ(st->state, RefundStatus::State::pending);
  RefundRequest q = refundRequest("rf-p", 50000);
  q.providerRefundId = st->providerRefundId;
  auto later = provider().queryRefund(p, q);
  ASSERT_TRUE(later.ok()) << later.error().internal;
  EXPECT_EQ(later->state, RefundStatus::State::succeeded);
  script(R"({"refund": "failed"})");
  auto failed = provider().refund(p, refundRequest("rf-f", 50000));
  ASSERT_TRUE(failed.ok()) << failed.error().internal;
  EXPECT_EQ(failed->state, RefundStatus::State::failed);
}

INSTANTIATE_TEST_SUITE_P(Engines, FlutterwaveTest, ::testing::Values("sqlite", "postgresql"),
                         engineName);
