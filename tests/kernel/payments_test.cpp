// The payment core through its SPI: a test provider (fakepay, with a simulator over real
// loopback HTTP) and a test product (shop) that counts fulfilments.
#include <Poco/JSON/Parser.h>

#include <atomic>
#include <thread>

#include "shop_fixture.hpp"

using namespace malipo;
using namespace malipo::test;

namespace {

Poco::JSON::Object::Ptr parse(const std::string& s) {
  return parseObject(s);
}

std::string paymentsYaml(const std::string& dbUrl, int workers = 2,
                         const std::string& shopSettings = "{}") {
  return shopYaml(dbUrl, workers, {{"fakepay", "{timeout_ms: 500}"}, {"fakepay2"}}, shopSettings);
}

}  // namespace

class PaymentsTest : public ShopTest {
 protected:
  std::string yaml(int workers, const std::string& shopSettings) override {
    return paymentsYaml(dbUrl_, workers, shopSettings);
  }
  Poco::JSON::Object::Ptr order(
      const std::string& body =
          R"({"amount_minor": 100000, "currency": "TZS", "providers": ["fakepay"]})",
      std::map<std::string, std::string> headers = {}) {
    auto r = http(port_, "POST", "/shop/orders", body, headers);
    EXPECT_EQ(r.status, 201) << r.body;
    return parse(r.body)->getObject("payment");
  }
  // The simulated customer pays; returns the simulator's answer (txn_id, webhook_body).
  Poco::JSON::Object::Ptr pay(const std::string& ref, const std::string& body = "{}",
                              const std::string& provider = "fakepay") {
    auto r = http(port_, "POST", "/sandbox/" + provider + "/orders/" + ref + "/pay", body);
    EXPECT_EQ(r.status, 200) << r.body;
    return parse(r.body);
  }
  std::int64_t transitionsTo(const std::string& id, const std::string& to) {
    std::int64_t n = 0;
    for (const auto& e : kernel_->payments().events(id))
      if (e.kind == "transition" && e.detail.find("-> " + to) != std::string::npos) ++n;
    return n;
  }
};

TEST_P(PaymentsTest, WebhookSettlesAfterQueryAndFulfilsOnce) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  EXPECT_EQ(p->getValue<std::string>("status"), "pending");
  EXPECT_EQ(p->getObject("action")->getValue<std::string>("type"), "redirect");
  pay(p->getValue<std::string>("provider_ref"));
  ASSERT_TRUE(eventually([&] { return fulfilments(id) == 1; })) << status(id);
  EXPECT_EQ(status(id), "succeeded");
  auto shown = admin("GET", "/admin/payments/" + id);
  ASSERT_EQ(shown.status, 200);
  auto detail = parse(shown.body);
  EXPECT_EQ(detail->getValue<std::string>("status"), "succeeded");
  ASSERT_TRUE(eventually([&] { return kernel_->payments().get(id).value().fulfilment == "done"; }));
  EXPECT_GT(kernel_->payments().get(id).value().fulfilledAtMs, 0);
  std::string timeline = shown.body;
  for (const char* kind :
       {"\"created\"", "\"initiated\"", "\"webhook\"", "\"query\"", "\"transition\""})
    EXPECT_NE(timeline.find(kind), std::string::npos) << kind;
}

TEST_P(PaymentsTest, APaidOrderTheProductCannotDeliverIsMarkedAndLogged) {
  SKIP_WITHOUT_ENGINE();
  for (const std::string mode : {"permanent", "always_retry"}) {
    SCOPED_TRACE(mode);
    TearDown();
    dbUrl_.clear();
    boot(2, "{fulfil_fail: " + mode +
                "}");  // always_retry asks again after 1 ms: its 10 attempts go fast
    auto p = order();
    std::string id = p->getValue<std::string>("id");
    pay(p->getValue<std::string>("provider_ref"));
    ASSERT_TRUE(eventually([&] { return status(id) == "succeeded"; }));
    ASSERT_TRUE(eventually(
        [&] { return kernel_->payments().get(id).value().fulfilment == "failed"; }, 20000))
        << kernel_->payments().get(id).value().fulfilment;
    if (mode == "always_retry") {
      // The fulfilment is marked failed in the job's last run; the queue records the job as
      // dead just after that run returns.
      EXPECT_TRUE(eventually([&] {
        return kernel_->store()
                   .query("SELECT state FROM jobs WHERE kind = 'payment.settled'")
                   .str(0, "state") == "dead";
      }));
    }
    Rows r = kernel_->store().query(
        "SELECT fulfilment_error, fulfilled_at FROM payments WHERE id = ?", {id});
    EXPECT_EQ(r.str(0, "fulfilment_error"),
              mode == "permanent" ? "out of stock" : "warehouse unreachable");
    EXPECT_TRUE(r.isNull(0, "fulfilled_at"));
    EXPECT_EQ(fulfilments(id), 0);
    // Clients see that it was not delivered; the product's own words stay internal.
    auto mine = http(port_, "GET", "/shop/payments/" + id);
    EXPECT_NE(mine.body.find("\"fulfilment\":\"failed\""), std::string::npos) << mine.body;
    EXPECT_EQ(mine.body.find("out of stock"), std::string::npos) << mine.body;
    EXPECT_EQ(mine.body.find("warehouse"), std::string::npos) << mine.body;
  }
}

// Both delivery paths (the product's own transaction, and the kernel's via
// onPaymentSettledInTx) record the delivery; a settled job that runs again — as after a crash
// between the delivery and the job's completion — does not deliver again.
TEST_P(PaymentsTest, ASettledJobRunAgainDoesNotDeliverAgain) {
  SKIP_WITHOUT_ENGINE();
  for (const char* settings : {"{deliver_in_tx: true}", "{deliver_in_tx: false}"}) {
    kernel_.reset();
    dbUrl_.clear();
    boot(2, settings);
    auto p = order();
    std::string id = p->getValue<std::string>("id");
    pay(p->getValue<std::string>("provider_ref"));
    ASSERT_TRUE(eventually([&] { return fulfilments(id) == 1; })) << settings;
    ASSERT_TRUE(eventually([&] {
      return kernel_->store()
                 .query("SELECT fulfilment FROM payments WHERE id = ?", {id})
                 .str(0, "fulfilment") == "done";
    })) << settings;
    ASSERT_TRUE(eventually([&] {
      return kernel_->store()
                 .query("SELECT state FROM jobs WHERE kind = 'payment.settled' AND payload = ?",
                        {id})
                 .str(0, "state") == "done";
    }));
    kernel_->store().exec(
        "UPDATE jobs SET state = 'queued', run_at = 0 WHERE kind = 'payment.settled' AND payload = "
        "?",
        {id});
    ASSERT_TRUE(eventually([&] {
      return kernel_->store()
                 .query("SELECT state FROM jobs WHERE kind = 'payment.settled' AND payload = ?",
                        {id})
                 .str(0, "state") == "done";
    }));
    EXPECT_EQ(fulfilments(id), 1) << settings;
  }
}

// The settling transaction hands the product the payment as it leaves the row (not read
// again): settled, the provider's transaction, fulfilment pending, the new version.
TEST_P(PaymentsTest, TheInTransactionDeliveryIsGivenThePaymentAsSettled) {
  SKIP_WITHOUT_ENGINE();
  boot(2, "{deliver_in_tx: true}");
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  pay(p->getValue<std::string>("provider_ref"));
  ASSERT_TRUE(eventually([&] { return fulfilments(id) == 1; }));
  Rows row = kernel_->store().query(
      "SELECT status, provider_txn_id, version, fulfilment FROM payments WHERE id = ?", {id});
  ASSERT_EQ(row.str(0, "status"), "succeeded");
  ASSERT_FALSE(row.str(0, "provider_txn_id").empty());
  std::string seen =
      kernel_->store()
          .query("SELECT seen FROM shop_fulfilments WHERE payment_id = ? AND kind = 'settled'",
                 {id})
          .str(0, "seen");
  EXPECT_EQ(seen, "succeeded " + row.str(0, "provider_txn_id") + " pending v" +
                      std::to_string(row.i64(0, "version")));
}

TEST_P(PaymentsTest, OneWebhookDeliveredAHundredTimesConcurrently) {
  SKIP_WITHOUT_ENGINE();
  boot(4);
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  auto paid = pay(p->getValue<std::string>("provider_ref"), R"({"webhooks": 0})");
  std::string body = paid->getValue<std::string>("webhook_body");
  std::string sig = hmacSha256Hex("fake-secret", body);
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 100; ++i)
    ts.emplace_back([&] {
      if (http(port_, "POST", "/webhooks/fakepay", body, {{"X-Fakepay-Signature", sig}}).status ==
          200)
        ++ok;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 100);
  ASSERT_TRUE(eventually([&] { return fulfilments(id) == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(fulfilments(id), 1);
  EXPECT_EQ(transitionsTo(id, "succeeded"), 1);
  EXPECT_EQ(
      kernel_->store()
          .query(
              "SELECT COUNT(*) AS n FROM payment_events WHERE payment_id = ? AND kind = 'webhook'",
              {id})
          .i64(0, "n"),
      1);
}

TEST_P(PaymentsTest, WebhookJanitorAndPollRacingMakeOneTransition) {
  SKIP_WITHOUT_ENGINE();
  boot(4, "{fulfil_delay_ms: 20}");
  for (int round = 0; round < 5; ++round) {
    auto p = order();
    std::string id = p->getValue<std::string>("id");
    auto paid = pay(p->getValue<std::string>("provider_ref"), R"({"webhooks": 0})");
    std::string body = paid->getValue<std::string>("webhook_body");
    kernel_->store().exec("UPDATE payments SET next_check_at = 0, updated_at = 0 WHERE id = ?",
                          {id});
    std::vector<std::thread> ts;
    ts.emplace_back([&] {
      http(port_, "POST", "/webhooks/fakepay", body,
           {{"X-Fakepay-Signature", hmacSha256Hex("fake-secret", body)}});
    });
    ts.emplace_back([&] { kernel_->payments().runJanitor(); });
    for (int i = 0; i < 4; ++i) {
      ts.emplace_back([&] { http(port_, "GET", "/shop/payments/" + id); });
      ts.emplace_back([&] { kernel_->payments().sync(id); });
    }
    for (auto& t : ts) t.join();
    ASSERT_TRUE(eventually([&] { return fulfilments(id) == 1; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(transitionsTo(id, "succeeded"), 1) << "round " << round;
    EXPECT_EQ(fulfilments(id), 1) << "round " << round;
  }
}

TEST_P(PaymentsTest, BadSignatureIs401AndChangesNothing) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  auto paid = pay(p->getValue<std::string>("provider_ref"), R"({"webhooks": 0})");
  std::string body = paid->getValue<std::string>("webhook_body");
  auto before = kernel_->store().query("SELECT COUNT(*) AS n FROM payment_events").i64(0, "n");
  auto r = http(port_, "POST", "/webhooks/fakepay", body,
                {{"X-Fakepay-Signature", hmacSha256Hex("wrong", body)}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(parse(r.body)->getValue<std::string>("error"), "unauthorized");
  EXPECT_EQ(http(port_, "POST", "/webhooks/fakepay", body).status, 401);
  EXPECT_EQ(http(port_, "POST", "/webhooks/nosuch", body).status, 404);
  EXPECT_EQ(kernel_->store().query("SELECT COUNT(*) AS n FROM payment_events").i64(0, "n"), before);
  EXPECT_EQ(kernel_->store()
                .query("SELECT COUNT(*) AS n FROM jobs WHERE kind = 'payment.sync'")
                .i64(0, "n"),
            0);
  EXPECT_EQ(status(id), "pending");
}

TEST_P(PaymentsTest, ProductAliasPathFeedsTheInbox) {
  SKIP_WITHOUT_ENGINE();
  boot(2, "{alias_provider: fakepay}");
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  auto paid = pay(p->getValue<std::string>("provider_ref"), R"({"webhooks": 0})");
  std::string body = paid->getValue<std::string>("webhook_body");
  EXPECT_EQ(
      http(port_, "POST", "/shop/webhook-alias", body, {{"X-Fakepay-Signature", "bad"}}).status,
      401);
  EXPECT_EQ(http(port_, "POST", "/shop/webhook-alias", body,
                 {{"X-Fakepay-Signature", hmacSha256Hex("fake-secret", body)}})
                .status,
            200);
  ASSERT_TRUE(eventually([&] { return fulfilments(id) == 1; }));
}

TEST_P(PaymentsTest, AmountMismatchCurrencyMismatchAndReusedTransactionAreHeld) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto a = order();
  pay(a->getValue<std::string>("provider_ref"), R"({"amount_minor": 99900})");
  auto b = order();
  pay(b->getValue<std::string>("provider_ref"), R"({"currency": "KES"})");
  auto c1 = order();
  pay(c1->getValue<std::string>("provider_ref"), R"({"txn_id": "TXSHARED"})");
  ASSERT_TRUE(eventually([&] { return status(c1->getValue<std::string>("id")) == "succeeded"; }));
  auto c2 = order();
  pay(c2->getValue<std::string>("provider_ref"), R"({"txn_id": "TXSHARED"})");
  for (auto p : {a, b, c2}) {
    std::string id = p->getValue<std::string>("id");
    ASSERT_TRUE(eventually([&] { return status(id) == "held"; })) << id << " " << status(id);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (auto p : {a, b, c2}) EXPECT_EQ(fulfilments(p->getValue<std::string>("id")), 0);
  EXPECT_EQ(fulfilments(c1->getValue<std::string>("id")), 1);
  bool sawReason = false;
  for (const auto& e : kernel_->payments().events(c2->getValue<std::string>("id")))
    sawReason =
        sawReason || (e.kind == "held" &&
                      e.detail.find("TXSHARED already settled payment") != std::string::npos);
  EXPECT_TRUE(sawReason);
  bool sawAmount = false;
  for (const auto& e : kernel_->payments().events(a->getValue<std::string>("id")))
    sawAmount = sawAmount || (e.kind == "held" &&
                              e.detail.find("amount mismatch: paid 999.00, due 1000.00 TZS") !=
                                  std::string::npos);
  EXPECT_TRUE(sawAmount);
}

TEST_P(PaymentsTest, ProviderTimeoutGoesUnknownThenJanitorResolves) {
  SKIP_WITHOUT_ENGINE();
  boot();
  http(port_, "POST", "/sandbox/fakepay/script", R"({"create_timeouts": 1})");
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  EXPECT_EQ(p->getValue<std::string>("status"), "unknown");
  // The provider did create the order (it was only slow): the customer pays it.
  std::string ref;
  ASSERT_TRUE(eventually([&] {
    auto r = kernel_->store().query("SELECT ref FROM fakepay_sim_orders WHERE order_id = ?", {id});
    if (r.empty()) return false;
    ref = r.str(0, "ref");
    return true;
  }));
  pay(ref, R"({"webhooks": 0})");
  EXPECT_EQ(status(id), "unknown");
  kernel_->store().exec("UPDATE payments SET next_check_at = 0 WHERE id = ?", {id});
  EXPECT_EQ(kernel_->payments().runJanitor(), 1);
  ASSERT_TRUE(eventually([&] { return fulfilments(id) == 1; })) << status(id);
  EXPECT_EQ(status(id), "succeeded");
  EXPECT_EQ(kernel_->store()
                .query("SELECT provider_ref FROM payments WHERE id = ?", {id})
                .str(0, "provider_ref"),
            ref);
}

TEST_P(PaymentsTest, DeclineFailsAndTellsTheProduct) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  pay(p->getValue<std::string>("provider_ref"), R"({"outcome": "failed"})");
  ASSERT_TRUE(eventually([&] { return fulfilments(id, "failed") == 1; }));
  EXPECT_EQ(status(id), "failed");
  EXPECT_EQ(fulfilments(id, "settled"), 0);
}

TEST_P(PaymentsTest, ProofSettlesOnlyWhenTheProviderAgrees) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  auto notYet =
      http(port_, "POST", "/shop/payments/" + id + "/proof", R"({"text": "PAID TXNOPE"})");
  EXPECT_EQ(notYet.status, 200);
  EXPECT_FALSE(parse(notYet.body)->getValue<bool>("settled"));
  EXPECT_EQ(parse(notYet.body)->getValue<std::string>("message"), "Not paid yet.");
  pay(p->getValue<std::string>("provider_ref"), R"({"webhooks": 0, "txn_id": "TXREAL"})");
  auto wrong = http(port_, "POST", "/shop/payments/" + id + "/proof", R"({"text": "PAID TXFAKE"})");
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(parse(wrong.body)->getValue<std::string>("message"),
            "This transaction ID does not match the payment.");
  auto garbage = http(port_, "POST", "/shop/payments/" + id + "/proof", R"({"text": "hello"})");
  EXPECT_EQ(garbage.status, 400);
  EXPECT_EQ(status(id), "pending");
  auto good = http(port_, "POST", "/shop/payments/" + id + "/proof", R"({"text": "PAID TXREAL"})");
  EXPECT_EQ(good.status, 200);
  EXPECT_TRUE(parse(good.body)->getValue<bool>("settled"));
  ASSERT_TRUE(eventually([&] { return fulfilments(id) == 1; }));
}

TEST_P(PaymentsTest, SyncOnReadOfAStalePayment) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  pay(p->getValue<std::string>("provider_ref"), R"({"webhooks": 0})");
  EXPECT_EQ(parse(http(port_, "GET", "/shop/payments/" + id).body)->getValue<std::string>("status"),
            "pending");
  kernel_->store().exec("UPDATE payments SET updated_at = 0 WHERE id = ?", {id});
  http(port_, "GET", "/shop/payments/" + id);
  ASSERT_TRUE(eventually([&] { return fulfilments(id) == 1; }));
}

TEST_P(PaymentsTest, RoutingFallsBackAndTheBreakerSkipsAFailingProvider) {
  SKIP_WITHOUT_ENGINE();
  boot();
  http(port_, "POST", "/sandbox/fakepay/script", R"({"create_failures": 100})");
  const std::string both =
      R"({"amount_minor": 5000, "currency": "GHS", "providers": ["fakepay", "fakepay2"]})";
  for (int i = 0; i < 5; ++i) {
    auto p = order(both);
    EXPECT_EQ(p->getValue<std::string>("provider"), "fakepay2");
    EXPECT_EQ(p->getValue<std::string>("status"), "pending");
  }
  // Five failures opened fakepay's breaker: the next payment goes straight to fakepay2.
  auto p = order(both);
  std::string id = p->getValue<std::string>("id");
  bool triedFakepay = false;
  for (const auto& e : kernel_->payments().events(id))
    triedFakepay = triedFakepay || e.kind == "initiate_failed";
  EXPECT_FALSE(triedFakepay);
  auto none = http(port_, "POST", "/shop/orders",
                   R"({"amount_minor": 5000, "currency": "GHS", "providers": ["fakepay"]})");
  EXPECT_EQ(none.status, 503);
  auto usd = http(port_, "POST", "/shop/orders",
                  R"({"amount_minor": 5000, "currency": "USD", "providers": ["fakepay2"]})");
  EXPECT_EQ(usd.status, 503);
}

TEST_P(PaymentsTest, IdempotencyKeyReplaysRefusesOtherBodies) {
  SKIP_WITHOUT_ENGINE();
  boot();
  const std::string body =
      R"({"amount_minor": 100000, "currency": "TZS", "providers": ["fakepay"]})";
  auto first = http(port_, "POST", "/shop/orders", body, {{"Idempotency-Key", "k-1"}});
  auto again = http(port_, "POST", "/shop/orders", body, {{"Idempotency-Key", "k-1"}});
  EXPECT_EQ(first.status, 201);
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(first.body, again.body);
  EXPECT_EQ(again.header("Idempotent-Replayed"), "true");
  EXPECT_EQ(first.header("Idempotent-Replayed"), "");
  // The handler's own headers come back too (not only status and body).
  EXPECT_NE(first.header("Location"), "");
  EXPECT_EQ(again.header("Location"), first.header("Location"));
  EXPECT_EQ(kernel_->store().query("SELECT COUNT(*) AS n FROM payments").i64(0, "n"), 1);
  auto other = http(port_, "POST", "/shop/orders",
                    R"({"amount_minor": 1, "currency": "TZS", "providers": ["fakepay"]})",
                    {{"Idempotency-Key", "k-1"}});
  EXPECT_EQ(other.status, 422);
  EXPECT_EQ(kernel_->store().query("SELECT COUNT(*) AS n FROM payments").i64(0, "n"), 1);
  // In flight: simulate a first request still running.
  kernel_->store().exec(
      "INSERT INTO idempotency_keys (scope, idem_key, request_hash, state, created_at) "
      "SELECT scope, 'k-2', request_hash, 'in_flight', created_at FROM idempotency_keys WHERE "
      "idem_key = 'k-1'");
  EXPECT_EQ(http(port_, "POST", "/shop/orders", body, {{"Idempotency-Key", "k-2"}}).status, 409);
}

// Idempotency scopes: a signed-in user never shares the anonymous callers' scope, even with
// `sub: anon`, and two users never share one.
TEST_P(PaymentsTest, IdempotencyScopesAreSeparatePerCaller) {
  SKIP_WITHOUT_ENGINE();
  boot();
  const std::string body =
      R"({"amount_minor": 100000, "currency": "TZS", "providers": ["fakepay"]})";
  const std::string secret = "test-secret-0123456789abcdefghijklmnop";
  auto anonymous = http(port_, "POST", "/shop/orders", body, {{"Idempotency-Key", "shared-key"}});
  auto anonUser = http(port_, "POST", "/shop/orders", body,
                       {{"Idempotency-Key", "shared-key"},
                        {"Authorization", "Bearer " + makeJwt(secret, "anon", 600)}});
  auto alice = http(port_, "POST", "/shop/orders", body,
                    {{"Idempotency-Key", "shared-key"},
                     {"Authorization", "Bearer " + makeJwt(secret, "alice", 600)}});
  auto aliceAgain = http(port_, "POST", "/shop/orders", body,
                         {{"Idempotency-Key", "shared-key"},
                          {"Authorization", "Bearer " + makeJwt(secret, "alice", 600)}});
  ASSERT_EQ(anonymous.status, 201);
  ASSERT_EQ(anonUser.status, 201);
  ASSERT_EQ(alice.status, 201);
  EXPECT_EQ(anonUser.header("Idempotent-Replayed"), "")
      << "user 'anon' got the anonymous caller's answer";
  EXPECT_NE(anonUser.body, anonymous.body);
  EXPECT_EQ(alice.header("Idempotent-Replayed"), "");
  EXPECT_EQ(aliceAgain.header("Idempotent-Replayed"), "true");
  EXPECT_EQ(aliceAgain.body, alice.body);
  EXPECT_EQ(kernel_->store().query("SELECT COUNT(*) AS n FROM payments").i64(0, "n"), 3);
}

// Push bombing: one phone number gets at most one prompt per 30 s and five an hour across all
// payments, one payment at most three an hour; the limit lives in the database.
TEST_P(PaymentsTest, PushPromptsAreLimitedPerNumberAndPerPayment) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto pushes = [&] {
    return kernel_->store().query("SELECT COUNT(*) AS n FROM payment_pushes").i64(0, "n");
  };
  auto ageBy = [&](std::int64_t ms) {
    kernel_->store().exec("UPDATE payment_pushes SET created_at = created_at - ?", {ms});
  };
  const std::string victim =
      R"({"providers": ["fakepay"], "push": true, "phone": "+255 712 345 678"})";
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(order(victim)->getValue<std::string>("id"));
  EXPECT_EQ(pushes(), 1) << "ten initiations with the same number asked for ten prompts";
  EXPECT_EQ(kernel_->store()
                .query("SELECT COUNT(*) AS n FROM payment_events WHERE kind = 'push_limited'")
                .i64(0, "n"),
            9);
  // Pushes on demand, to the same number written another way: refused with Retry-After.
  auto again =
      http(port_, "POST", "/shop/payments/" + ids[1] + "/push", R"({"phone": "255712345678"})");
  EXPECT_EQ(again.status, 429) << again.body;
  int retry = std::atoi(again.header("Retry-After").c_str());
  EXPECT_GT(retry, 0);
  EXPECT_LE(retry, 30);
  EXPECT_NE(again.body.find("rate_limited"), std::string::npos);
  // Another number for another payment is not held back by the victim's limit.
  EXPECT_EQ(
      http(port_, "POST", "/shop/payments/" + ids[2] + "/push", R"({"phone": "255700000001"})")
          .status,
      200);
  // Every 30 s one more, until five in the hour.
  for (int i = 0; i < 6; ++i) {
    ageBy(31000);
    auto r = http(port_, "POST", "/shop/payments/" + ids[3 + i % 5] + "/push",
                  R"({"phone": "+255712345678"})");
    EXPECT_EQ(r.status, i < 4 ? 200 : 429) << i << " " << r.body;
  }
  // One payment: three an hour, whatever number it is sent to.
  ageBy(3600 * 1000);
  for (int i = 0; i < 4; ++i) {
    ageBy(31000);
    auto r = http(port_, "POST", "/shop/payments/" + ids[9] + "/push",
                  "{\"phone\": \"25570000010" + std::to_string(i) + "\"}");
    EXPECT_EQ(r.status, i < 3 ? 200 : 429) << i << " " << r.body;
  }
}

// Webhooks nobody can vouch for are never stored whole: the inbox has its own body cap, a long
// event id is kept as its digest, the summary is cut, and events that matched no payment go
// after the retention period.
TEST_P(PaymentsTest, WebhookInboxStoresOnlyBoundedSummaries) {
  SKIP_WITHOUT_ENGINE();
  boot();
  const std::string secret = "fake-secret";
  auto post = [&](const std::string& body) {
    return http(port_, "POST", "/webhooks/fakepay", body,
                {{"X-Fakepay-Signature", test::hmacSha256Hex(secret, body)}});
  };
  EXPECT_EQ(post("{\"event_id\": \"" + std::string(70 * 1024, 'e') + "\"}").status, 413);
  for (int i = 0; i < 20; ++i) {
    std::string body = "{\"event_id\": \"" + std::to_string(i) + std::string(50 * 1024, 'x') +
                       "\", \"order_id\": \"nobody\"}";
    ASSERT_EQ(post(body).status, 200) << i;
  }
  Rows r = kernel_->store().query(
      "SELECT COUNT(*) AS n, SUM(LENGTH(provider_event_id) + LENGTH(detail)) AS bytes FROM "
      "payment_events "
      "WHERE kind = 'webhook' AND payment_id IS NULL");
  EXPECT_EQ(r.i64(0, "n"), 20);
  EXPECT_LT(r.i64(0, "bytes"), 20 * 400) << "unmatched webhooks stored whole";
  // A replay of the same long event is still a duplicate.
  std::string body =
      "{\"event_id\": \"0" + std::string(50 * 1024, 'x') + "\", \"order_id\": \"nobody\"}";
  EXPECT_NE(post(body).body.find("\"duplicates\":1"), std::string::npos);
  // Past the retention period they are gone; events of real payments stay.
  auto p = order();
  pay(p->getValue<std::string>("provider_ref"));
  ASSERT_TRUE(eventually([&] { return status(p->getValue<std::string>("id")) == "succeeded"; }));
  kernel_->store().exec("UPDATE payment_events SET created_at = created_at - ?",
                        {Value(std::int64_t{73} * 3600 * 1000)});
  EXPECT_EQ(kernel_->payments().purgeUnmatchedWebhooks(), 20);
  EXPECT_GT(kernel_->store()
                .query("SELECT COUNT(*) AS n FROM payment_events WHERE payment_id = ?",
                       {p->getValue<std::string>("id")})
                .i64(0, "n"),
            0);
}

TEST_P(PaymentsTest, ExpiredPaymentFails) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  kernel_->store().exec("UPDATE payments SET expires_at = 1, next_check_at = 0 WHERE id = ?", {id});
  kernel_->payments().runJanitor();
  ASSERT_TRUE(eventually([&] { return status(id) == "expired"; }));
  ASSERT_TRUE(eventually([&] { return fulfilments(id, "failed") == 1; }));
  // The customer pays anyway: the money is not lost silently, the payment is held.
  pay(p->getValue<std::string>("provider_ref"));
  ASSERT_TRUE(eventually([&] { return status(id) == "held"; })) << status(id);
  EXPECT_EQ(fulfilments(id, "settled"), 0);
}

INSTANTIATE_TEST_SUITE_P(Engines, PaymentsTest, ::testing::Values("sqlite", "postgresql"),
                         engineName);

// kill -9 after the webhook was acknowledged and before settlement: after a restart the
// payment settles and is fulfilled exactly once.
class PaymentsKillTest : public EngineTest {};

TEST_P(PaymentsKillTest, AcknowledgedWebhookSurvivesKillNine) {
  SKIP_WITHOUT_ENGINE();
  std::string db = url();
  auto start = [&](const std::string& name, int workers) {
    std::string cfg = dir_.file(name + ".yaml");
    writeFile(cfg, paymentsYaml(db, workers));
    std::string portFile = dir_.file(name + ".port");
    auto child = std::make_unique<Child>(
        std::vector<std::string>{MALIPO_BINARY, "serve", "--config", cfg, "--port-file", portFile},
        dir_.file(name + ".log"));
    return std::make_pair(std::move(child), waitForPortFile(portFile));
  };
  // First process: no job workers, so nothing is settled after the acknowledgement.
  auto [first, port] = start("first", 0);
  ASSERT_NE(port, 0);
  auto r = http(port, "POST", "/shop/orders",
                R"({"amount_minor": 100000, "currency": "TZS", "providers": ["fakepay"]})");
  ASSERT_EQ(r.status, 201) << r.body;
  auto p = parse(r.body)->getObject("payment");
  std::string id = p->getValue<std::string>("id");
  auto paid = http(port, "POST",
                   "/sandbox/fakepay/orders/" + p->getValue<std::string>("provider_ref") + "/pay",
                   R"({"webhooks": 0})");
  std::string body = parse(paid.body)->getValue<std::string>("webhook_body");
  EXPECT_EQ(http(port, "POST", "/webhooks/fakepay", body,
                 {{"X-Fakepay-Signature", hmacSha256Hex("fake-secret", body)}})
                .status,
            200);
  first->signal(SIGKILL);
  EXPECT_EQ(first->wait(), 128 + SIGKILL);
  Store s(db, 1, 1000);
  EXPECT_EQ(s.query("SELECT status FROM payments WHERE id = ?", {id}).str(0, "status"), "pending");

  auto [second, port2] = start("second", 2);
  ASSERT_NE(port2, 0);
  ASSERT_TRUE(eventually(
      [&] {
        return s.query("SELECT COUNT(*) AS n FROM shop_fulfilments WHERE payment_id = ?", {id})
                   .i64(0, "n") == 1;
      },
      20000))
      << readFile(dir_.file("second.log"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(
      s.query("SELECT COUNT(*) AS n FROM shop_fulfilments WHERE payment_id = ?", {id}).i64(0, "n"),
      1);
  EXPECT_EQ(s.query("SELECT status FROM payments WHERE id = ?", {id}).str(0, "status"),
            "succeeded");
  second->signal(SIGTERM);
  EXPECT_EQ(second->wait(), 0);
  // The operator's view of the same payment through the command line.
  auto list = runCommand(std::string(MALIPO_BINARY) + " payments list --config " +
                         dir_.file("second.yaml"));
  EXPECT_EQ(list.first, 0) << list.second;
  EXPECT_NE(list.second.find(id + " succeeded  fakepay      1000.00 TZS"), std::string::npos)
      << list.second;
  auto show = runCommand(std::string(MALIPO_BINARY) + " payments show " + id + " --config " +
                         dir_.file("second.yaml"));
  EXPECT_EQ(show.first, 0) << show.second;
  EXPECT_NE(show.second.find("webhook"), std::string::npos) << show.second;
  EXPECT_NE(show.second.find("pending -> succeeded"), std::string::npos) << show.second;
  auto missing = runCommand(std::string(MALIPO_BINARY) + " payments show nope --config " +
                            dir_.file("second.yaml"));
  EXPECT_EQ(missing.first, 1);
}

// kill -9 in the middle of concurrent webhook traffic while payments settle (SQLite: group
// commit on): every acknowledged webhook's payment settles after the restart, none is
// fulfilled twice, and the providers' redeliveries settle the rest exactly once.
TEST_P(PaymentsKillTest, KillNineUnderConcurrentLoadLosesAndDoublesNothing) {
  SKIP_WITHOUT_ENGINE();
  std::string db = url();
  auto start = [&](const std::string& name) {
    std::string cfg = dir_.file(name + ".yaml");
    writeFile(cfg, paymentsYaml(db, 4));
    std::string portFile = dir_.file(name + ".port");
    auto child = std::make_unique<Child>(
        std::vector<std::string>{MALIPO_BINARY, "serve", "--config", cfg, "--port-file", portFile},
        dir_.file(name + ".log"));
    return std::make_pair(std::move(child), waitForPortFile(portFile));
  };
  auto [first, port] = start("first");
  ASSERT_NE(port, 0);
  constexpr int kPayments = 80;
  std::vector<std::string> ids, bodies;
  for (int i = 0; i < kPayments; ++i) {
    auto r = http(port, "POST", "/shop/orders",
                  R"({"amount_minor": 100000, "currency": "TZS", "providers": ["fakepay"]})");
    ASSERT_EQ(r.status, 201) << r.body;
    auto p = parse(r.body)->getObject("payment");
    ids.push_back(p->getValue<std::string>("id"));
    auto paid = http(port, "POST",
                     "/sandbox/fakepay/orders/" + p->getValue<std::string>("provider_ref") + "/pay",
                     R"({"webhooks": 0})");
    bodies.push_back(parse(paid.body)->getValue<std::string>("webhook_body"));
  }
  std::vector<int> acked(kPayments, 0);
  std::atomic<int> next{0}, sent{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t)
    ts.emplace_back([&, p = port] {
      for (int i; (i = next++) < kPayments;) {
        try {
          auto r = http(p, "POST", "/webhooks/fakepay", bodies[static_cast<std::size_t>(i)],
                        {{"X-Fakepay-Signature",
                          hmacSha256Hex("fake-secret", bodies[static_cast<std::size_t>(i)])}});
          acked[static_cast<std::size_t>(i)] = r.status == 200;
        } catch (...) {
        }
        ++sent;
      }
    });
  ASSERT_TRUE(eventually([&] { return sent.load() >= kPayments / 2; }, 20000));
  first->signal(SIGKILL);  // mid-traffic: webhooks in flight, settlements and fulfilments running
  for (auto& t : ts) t.join();
  EXPECT_EQ(first->wait(), 128 + SIGKILL);
  Store s(db, 1, 1000);
  // The shop delivers inside the kernel's transaction (onPaymentSettledInTx): even a delivery
  // cut short by the kill happens exactly once.
  auto fulfilled = [&](const std::string& id) {
    return s
        .query(
            "SELECT COUNT(*) AS n FROM shop_fulfilments WHERE payment_id = ? AND kind = 'settled'",
            {id})
        .i64(0, "n");
  };
  auto describe = [&](const std::string& id) {
    std::string out =
        s.query(
             "SELECT status || '/' || COALESCE(fulfilment, '-') AS st FROM payments WHERE id = ?",
             {id})
            .str(0, "st");
    Rows j = s.query(
        "SELECT kind, state, attempts, COALESCE(last_error, '') AS e FROM jobs WHERE payload = ?",
        {id});
    for (std::size_t k = 0; k < j.size(); ++k)
      out += " job " + j.str(k, "kind") + " " + j.str(k, "state") + " " +
             std::to_string(j.i64(k, "attempts")) + " " + j.str(k, "e");
    Rows e =
        s.query("SELECT kind, detail FROM payment_events WHERE payment_id = ? ORDER BY id", {id});
    for (std::size_t k = 0; k < e.size(); ++k)
      out += " | " + e.str(k, "kind") + ": " + e.str(k, "detail");
    return out;
  };
  auto [second, port2] = start("second");
  ASSERT_NE(port2, 0);
  // Jobs the killed process had claimed come back when their lease ends (15 s).
  for (int i = 0; i < kPayments; ++i) {
    if (!acked[static_cast<std::size_t>(i)]) continue;
    EXPECT_TRUE(eventually([&] { return fulfilled(ids[static_cast<std::size_t>(i)]) == 1; }, 40000))
        << "acknowledged webhook lost for " << ids[static_cast<std::size_t>(i)] << ": "
        << describe(ids[static_cast<std::size_t>(i)]);
  }
  // The provider redelivers every webhook (it saw no answer for some).
  for (int i = 0; i < kPayments; ++i)
    EXPECT_EQ(http(port2, "POST", "/webhooks/fakepay", bodies[static_cast<std::size_t>(i)],
                   {{"X-Fakepay-Signature",
                     hmacSha256Hex("fake-secret", bodies[static_cast<std::size_t>(i)])}})
                  .status,
              200);
  for (const auto& id : ids)
    EXPECT_TRUE(eventually([&] { return fulfilled(id) == 1; }, 40000))
        << id << ": " << describe(id);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(
      s.query("SELECT COUNT(*) AS n FROM shop_fulfilments WHERE kind = 'settled'").i64(0, "n"),
      kPayments);
  EXPECT_EQ(s.query("SELECT COUNT(*) AS n FROM payments WHERE status = 'succeeded'").i64(0, "n"),
            kPayments);
  // The kernel applied each payment once: one transition to succeeded, one settled job.
  EXPECT_EQ(s.query("SELECT COUNT(*) AS n FROM payment_events WHERE kind = 'transition' AND detail "
                    "= 'pending -> succeeded'")
                .i64(0, "n"),
            kPayments);
  EXPECT_EQ(s.query("SELECT COUNT(*) AS n FROM jobs WHERE kind = 'payment.settled'").i64(0, "n"),
            kPayments);
  second->signal(SIGTERM);
  EXPECT_EQ(second->wait(), 0);
}

INSTANTIATE_TEST_SUITE_P(Engines, PaymentsKillTest, ::testing::Values("sqlite", "postgresql"),
                         engineName);

TEST(PaymentsChannel, CatalogAndSummariesComeFromProducts) {
  TempDir dir;
  Kernel k(ConfigLoader::loadString(paymentsYaml("sqlite:" + dir.file("c.db")), "c.yaml"));
  k.open();
  auto items = k.payments().catalog("ussd_menu");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].product, "shop");
  EXPECT_EQ(items[0].item.id, "widget");
  EXPECT_EQ(items[0].item.amountMinor, 1050);
  EXPECT_TRUE(k.payments().catalog("redirect").empty());
  EXPECT_EQ(k.payments().accountSummary("shop", "msisdn:233200000000").error().code,
            ErrorCode::notFound);
  EXPECT_EQ(k.payments().accountSummary("nosuch", "x").error().code, ErrorCode::notFound);
  auto meta = k.payments().prepareChannelSale("shop", items[0].item, Customer{});
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta.value(), R"({"sku":"widget"})");
  CatalogItem other = items[0].item;
  other.id = "gadget";
  EXPECT_EQ(k.payments().prepareChannelSale("shop", other, Customer{}).error().code,
            ErrorCode::invalidInput);
  EXPECT_FALSE(k.payments().prepareChannelSale("nosuch", items[0].item, Customer{}).ok());
}
