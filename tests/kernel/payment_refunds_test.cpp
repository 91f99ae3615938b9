// Money operations through the admin API over real HTTP: refunds (manual for a provider with
// no refund API, through the provider's refund API otherwise), cancel, resolving held
// payments; the CLI. fakepay_sdk10 is the test provider built against SDK 1.0: it declares no
// refunds and no cancel, so the kernel's manual and local paths are what it gets.
#include <Poco/JSON/Parser.h>

#include <thread>

#include "shop_fixture.hpp"

using namespace malipo;
using namespace malipo::test;

namespace {

using Counts = std::pair<std::int64_t, std::int64_t>;

Poco::JSON::Object::Ptr parse(const std::string& s) {
  return parseObject(s);
}

std::string refundsYaml(const std::string& dbUrl, int workers = 2,
                        const std::string& shopSettings = "{}",
                        const std::string& fakepaySettings = "{timeout_ms: 500}") {
  return shopYaml(dbUrl, workers, {{"fakepay", fakepaySettings}, {"fakepay_sdk10"}}, shopSettings);
}

}  // namespace

class RefundsTest : public ShopTest {
 protected:
  std::string yaml(int workers, const std::string& shopSettings) override {
    return refundsYaml(dbUrl_, workers, shopSettings);
  }

  // An order through `provider`; returns the payment.
  Poco::JSON::Object::Ptr order(const std::string& provider, std::int64_t amountMinor = 100000) {
    auto r = http(port_, "POST", "/shop/orders",
                  R"({"amount_minor": )" + std::to_string(amountMinor) +
                      R"(, "currency": "TZS", "providers": [")" + provider + R"("]})");
    EXPECT_EQ(r.status, 201) << r.body;
    return parse(r.body)->getObject("payment");
  }
  void pay(const std::string& provider, const std::string& ref, const std::string& body = "{}") {
    auto r = http(port_, "POST", "/sandbox/" + provider + "/orders/" + ref + "/pay", body);
    EXPECT_EQ(r.status, 200) << r.body;
  }
  // A paid and delivered order.
  std::string paidOrder(const std::string& provider, std::int64_t amountMinor = 100000) {
    auto p = order(provider, amountMinor);
    std::string id = p->getValue<std::string>("id");
    pay(provider, p->getValue<std::string>("provider_ref"));
    EXPECT_TRUE(eventually([&] { return fulfilments(id) == 1; })) << status(id);
    return id;
  }
  // A held payment: the customer paid `paidMinor` for a 1000.00 TZS order.
  std::string heldOrder(const std::string& provider, std::int64_t paidMinor) {
    auto p = order(provider);
    std::string id = p->getValue<std::string>("id");
    pay(provider, p->getValue<std::string>("provider_ref"),
        R"({"amount_minor": )" + std::to_string(paidMinor) + "}");
    EXPECT_TRUE(eventually([&] { return status(id) == "held"; })) << status(id);
    return id;
  }
  HttpResult refund(const std::string& id, const std::string& body, const std::string& key) {
    return admin("POST", "/admin/payments/" + id + "/refunds", body, key);
  }
  std::int64_t refundRows(const std::string& id) {
    return kernel_->store()
        .query("SELECT COUNT(*) AS n FROM refunds WHERE payment_id = ?", {id})
        .i64(0, "n");
  }
  std::string refunded(const std::string& id) {
    auto r = admin("GET", "/admin/payments/" + id);
    return parse(r.body)->getValue<std::string>("refunded");
  }
  std::string timeline(const std::string& id) { return admin("GET", "/admin/payments/" + id).body; }
  // The refund's state as the admin API shows it.
  Poco::JSON::Object::Ptr refundOf(const std::string& paymentId, const std::string& refundId) {
    auto list = parse(admin("GET", "/admin/payments/" + paymentId + "/refunds").body);
    auto arr = list->getArray("refunds");
    for (std::size_t i = 0; i < arr->size(); ++i) {
      auto r = arr->getObject(static_cast<unsigned>(i));
      if (r->getValue<std::string>("id") == refundId) return r;
    }
    return nullptr;
  }
  std::string refundState(const std::string& paymentId, const std::string& refundId) {
    auto r = refundOf(paymentId, refundId);
    return r ? r->getValue<std::string>("status") : "";
  }
  // Refunds the simulated provider made for the payment's order, and their total.
  std::pair<std::int64_t, std::int64_t> providerRefunds(const std::string& paymentId) {
    Rows r = kernel_->store().query(
        "SELECT COUNT(*) AS n, COALESCE(SUM(s.amount_minor), 0) AS total FROM fakepay_sim_refunds "
        "s "
        "JOIN payments p ON p.provider_ref = s.ref WHERE p.id = ?",
        {paymentId});
    return {r.i64(0, "n"), r.i64(0, "total")};
  }
  std::int64_t productRefunds(const std::string& paymentId, const std::string& refundId) {
    return fulfilments(paymentId, "refunded:" + refundId);
  }
};

// A provider with no refund API: the operator refunds at the provider and records it with
// the provider's reference; full and partial, bounded by what remains, one refund per key.
TEST_P(RefundsTest, ManualRefundsFullAndPartialBalanceTheBooks) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::string id = paidOrder("fakepay_sdk10");
  const std::string manual = R"(, "manual": {"provider_reference": "BANK-1"})";

  auto noKey = refund(id, R"({"amount": "300.00", "reason": "r")" + manual + "}", "");
  EXPECT_EQ(noKey.status, 400) << noKey.body;
  EXPECT_NE(noKey.body.find("Idempotency-Key"), std::string::npos) << noKey.body;
  auto noReason = refund(id, R"({"amount": "300.00")" + manual + "}", "k0");
  EXPECT_EQ(noReason.status, 400) << noReason.body;
  auto badAmount = refund(id, R"({"amount": "3x", "reason": "r")" + manual + "}", "k0");
  EXPECT_EQ(badAmount.status, 400) << badAmount.body;
  auto notManual = refund(id, R"({"amount": "300.00", "reason": "customer asked"})", "k0");
  EXPECT_EQ(notManual.status, 409) << notManual.body;
  EXPECT_NE(notManual.body.find("manual.provider_reference"), std::string::npos);
  EXPECT_EQ(refundRows(id), 0);

  auto first =
      refund(id, R"({"amount": "300.00", "reason": "customer asked")" + manual + "}", "k1");
  ASSERT_EQ(first.status, 201) << first.body;
  auto r1 = parse(first.body);
  EXPECT_EQ(r1->getValue<std::string>("status"), "succeeded");
  EXPECT_EQ(r1->getValue<std::string>("amount"), "300.00");
  EXPECT_EQ(r1->getValue<std::string>("provider_refund_id"), "BANK-1");
  EXPECT_EQ(r1->getValue<std::string>("actor"), "admin");
  EXPECT_TRUE(r1->getValue<bool>("manual"));
  EXPECT_EQ(refunded(id), "300.00");
  EXPECT_EQ(kernel_->payments().get(id).value().refundedMinor, 30000);

  // The same key again: the same refund, no second one.
  auto again =
      refund(id, R"({"amount": "300.00", "reason": "customer asked")" + manual + "}", "k1");
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(parse(again.body)->getValue<std::string>("id"), r1->getValue<std::string>("id"));
  EXPECT_EQ(refundRows(id), 1);
  EXPECT_EQ(refunded(id), "300.00");

  // More than what remains: 422, nothing written.
  auto tooMuch = refund(id, R"({"amount": "800.00", "reason": "r")" + manual + "}", "k2");
  EXPECT_EQ(tooMuch.status, 422) << tooMuch.body;
  EXPECT_NE(tooMuch.body.find("larger than what remains refundable (700.00 TZS)"),
            std::string::npos)
      << tooMuch.body;
  EXPECT_EQ(refundRows(id), 1);

  // No amount: all that remains.
  auto rest = refund(id, R"({"reason": "order cancelled")" + manual + "}", "k3");
  ASSERT_EQ(rest.status, 201) << rest.body;
  EXPECT_EQ(parse(rest.body)->getValue<std::string>("amount"), "700.00");
  EXPECT_EQ(refunded(id), "1000.00");
  auto nothing = refund(id, R"({"reason": "again")" + manual + "}", "k4");
  EXPECT_EQ(nothing.status, 422) << nothing.body;
  EXPECT_NE(nothing.body.find("Nothing is left"), std::string::npos);

  auto list = admin("GET", "/admin/payments/" + id + "/refunds");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(parse(list.body)->getArray("refunds")->size(), 2u);
  EXPECT_EQ(parse(list.body)->getValue<std::string>("refunded"), "1000.00");
  std::string t = timeline(id);
  EXPECT_NE(t.find("of 300.00 TZS (manual, provider reference BANK-1) by admin: customer asked"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("refund_succeeded"), std::string::npos);

  // Only a succeeded payment is refunded.
  auto pending = order("fakepay_sdk10");
  auto notPaid =
      refund(pending->getValue<std::string>("id"), R"({"reason": "r")" + manual + "}", "k5");
  EXPECT_EQ(notPaid.status, 409) << notPaid.body;
  EXPECT_EQ(admin("GET", "/admin/payments/nope/refunds").status, 404);
}

// Cancel a payment that is not paid (locally: the provider cannot cancel); the customer pays
// anyway: the late success is held, not lost and not delivered; accept delivers it once.
TEST_P(RefundsTest, CancelThenLateSuccessIsHeldAndAcceptDeliversOnce) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto p = order("fakepay_sdk10");
  std::string id = p->getValue<std::string>("id");
  EXPECT_EQ(admin("POST", "/admin/payments/" + id + "/cancel", "{}").status, 400);
  auto cancelled =
      admin("POST", "/admin/payments/" + id + "/cancel", R"({"reason": "customer left"})");
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_EQ(parse(cancelled.body)->getValue<std::string>("status"), "cancelled");
  EXPECT_TRUE(eventually([&] { return fulfilments(id, "failed") == 1; }));
  EXPECT_NE(timeline(id).find("cancelled by admin: customer left"), std::string::npos);
  EXPECT_EQ(admin("POST", "/admin/payments/" + id + "/cancel", R"({"reason": "x"})").status, 409);

  pay("fakepay_sdk10", p->getValue<std::string>("provider_ref"));
  ASSERT_TRUE(eventually([&] { return status(id) == "held"; })) << status(id);
  EXPECT_NE(timeline(id).find("paid after cancellation"), std::string::npos) << timeline(id);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(fulfilments(id), 0);

  EXPECT_EQ(
      admin("POST", "/admin/payments/" + id + "/resolve", R"({"action": "keep", "reason": "x"})")
          .status,
      400);
  EXPECT_EQ(admin("POST", "/admin/payments/" + id + "/resolve", R"({"action": "accept"})").status,
            400);
  auto accepted = admin("POST", "/admin/payments/" + id + "/resolve",
                        R"({"action": "accept", "reason": "customer still wants it"})");
  ASSERT_EQ(accepted.status, 200) << accepted.body;
  EXPECT_EQ(parse(accepted.body)->getValue<std::string>("status"), "succeeded");
  ASSERT_TRUE(eventually([&] { return fulfilments(id) == 1; }));
  auto twice = admin("POST", "/admin/payments/" + id + "/resolve",
                     R"({"action": "accept", "reason": "again"})");
  EXPECT_EQ(twice.status, 409) << twice.body;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(fulfilments(id), 1);
  std::string t = timeline(id);
  EXPECT_NE(t.find("accepted by admin: customer still wants it"), std::string::npos) << t;
  EXPECT_NE(t.find("held -> succeeded"), std::string::npos) << t;
  // A succeeded payment cannot be cancelled.
  EXPECT_EQ(admin("POST", "/admin/payments/" + id + "/cancel", R"({"reason": "x"})").status, 409);
}

// Held → refund: what the customer paid goes back, nothing is delivered, once. Held → accept
// of an overpayment: delivered, and the difference goes back.
TEST_P(RefundsTest, HeldPaymentsAreRefundedOrAcceptedWithTheOverpaymentReturned) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::string shortPaid = heldOrder("fakepay_sdk10", 90000);
  auto needsRef = admin("POST", "/admin/payments/" + shortPaid + "/resolve",
                        R"({"action": "refund", "reason": "short payment"})");
  EXPECT_EQ(needsRef.status, 409) << needsRef.body;
  EXPECT_NE(needsRef.body.find("900.00 TZS"), std::string::npos) << needsRef.body;
  auto back = admin("POST", "/admin/payments/" + shortPaid + "/resolve",
                    R"({"action": "refund", "reason": "short payment", "manual": )"
                    R"({"provider_reference": "BANK-9"}})");
  ASSERT_EQ(back.status, 200) << back.body;
  EXPECT_EQ(parse(back.body)->getValue<std::string>("status"), "held");
  EXPECT_EQ(parse(back.body)->getValue<std::string>("refunded"), "900.00");
  EXPECT_EQ(admin("POST", "/admin/payments/" + shortPaid + "/resolve",
                  R"({"action": "accept", "reason": "changed my mind"})")
                .status,
            409);
  auto detail = parse(timeline(shortPaid));
  EXPECT_EQ(detail->getValue<std::string>("resolution"), "refunded");
  EXPECT_EQ(detail->getArray("refunds")->size(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(fulfilments(shortPaid), 0);
  EXPECT_EQ(refundRows(shortPaid), 1);

  std::string overPaid = heldOrder("fakepay_sdk10", 120000);
  auto accepted = admin("POST", "/admin/payments/" + overPaid + "/resolve",
                        R"({"action": "accept", "reason": "paid too much", "manual": )"
                        R"({"provider_reference": "BANK-10"}})");
  ASSERT_EQ(accepted.status, 200) << accepted.body;
  EXPECT_EQ(parse(accepted.body)->getValue<std::string>("status"), "succeeded");
  EXPECT_EQ(parse(accepted.body)->getValue<std::string>("refunded"), "200.00");
  ASSERT_TRUE(eventually([&] { return fulfilments(overPaid) == 1; }));
  // What remains refundable is what was kept: 1000.00.
  auto tooMuch = refund(overPaid,
                        R"({"amount": "1000.01", "reason": "r", "manual": )"
                        R"({"provider_reference": "B"}})",
                        "o1");
  EXPECT_EQ(tooMuch.status, 422) << tooMuch.body;
  // Only a held payment can be resolved.
  std::string paid = paidOrder("fakepay_sdk10");
  EXPECT_EQ(admin("POST", "/admin/payments/" + paid + "/resolve",
                  R"({"action": "accept", "reason": "x"})")
                .status,
            409);
}

// The operator's commands (they open the database like the server; the actor is the shell
// user).
TEST_P(RefundsTest, CliRefundsCancelsAndResolves) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::string cfg = dir_.file("cli.yaml");
  writeFile(cfg, refundsYaml(dbUrl_, 0));
  const std::string bin = std::string(MALIPO_BINARY);
  std::string id = paidOrder("fakepay_sdk10");
  auto noReason = runCommand(bin + " payments refund " + id + " --amount 100 --config " + cfg);
  EXPECT_NE(noReason.first, 0);
  EXPECT_NE(noReason.second.find("--reason"), std::string::npos) << noReason.second;
  auto r = runCommand(bin + " payments refund " + id +
                      " --amount 100 --reason 'goodwill' --manual-reference BANK-5 --key c1 "
                      "--config " +
                      cfg);
  EXPECT_EQ(r.first, 0) << r.second;
  EXPECT_NE(r.second.find("\"status\": \"succeeded\""), std::string::npos) << r.second;
  auto same = runCommand(bin + " payments refund " + id +
                         " --amount 100 --reason 'goodwill' --manual-reference BANK-5 --key c1 "
                         "--config " +
                         cfg);
  EXPECT_EQ(same.first, 0) << same.second;
  EXPECT_EQ(refundRows(id), 1);
  auto tooMuch = runCommand(bin + " payments refund " + id +
                            " --amount 901 --reason x --manual-reference B --config " + cfg);
  EXPECT_EQ(tooMuch.first, 1);
  EXPECT_NE(tooMuch.second.find("larger than what remains refundable (900.00 TZS)"),
            std::string::npos)
      << tooMuch.second;
  auto list = runCommand(bin + " payments refunds " + id + " --config " + cfg);
  EXPECT_EQ(list.first, 0) << list.second;
  EXPECT_NE(list.second.find("succeeded  100.00 TZS"), std::string::npos) << list.second;
  EXPECT_NE(list.second.find("goodwill"), std::string::npos) << list.second;

  auto p = order("fakepay_sdk10");
  std::string pid = p->getValue<std::string>("id");
  auto c = runCommand(bin + " payments cancel " + pid + " --reason 'out of stock' --config " + cfg);
  EXPECT_EQ(c.first, 0) << c.second;
  EXPECT_EQ(status(pid), "cancelled");
  EXPECT_NE(timeline(pid).find("cancelled by cli:"), std::string::npos);
  pay("fakepay_sdk10", p->getValue<std::string>("provider_ref"));
  ASSERT_TRUE(eventually([&] { return status(pid) == "held"; }));
  auto res = runCommand(bin + " payments resolve " + pid +
                        " accept --reason 'found stock' --config " + cfg);
  EXPECT_EQ(res.first, 0) << res.second;
  ASSERT_TRUE(eventually([&] { return fulfilments(pid) == 1; }));
  auto bad = runCommand(bin + " payments resolve " + pid + " keep --reason x --config " + cfg);
  EXPECT_NE(bad.first, 0);
}

// A provider with a refund API (fakepay: partial refunds): the refund job asks it; the product
// takes back what the payment paid for, once per refund.
TEST_P(RefundsTest, ProviderRefundsFullAndPartialTellTheProductOnce) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::string id = paidOrder("fakepay");
  auto first = refund(id, R"({"amount": "300.00", "reason": "damaged"})", "a1");
  ASSERT_EQ(first.status, 201) << first.body;
  std::string r1 = parse(first.body)->getValue<std::string>("id");
  ASSERT_TRUE(eventually([&] { return refundState(id, r1) == "succeeded"; })) << timeline(id);
  EXPECT_EQ(refundOf(id, r1)->getValue<std::string>("provider_refund_id").rfind("RF-", 0), 0u);
  EXPECT_EQ(refunded(id), "300.00");
  ASSERT_TRUE(eventually([&] { return productRefunds(id, r1) == 1; }));
  EXPECT_EQ(providerRefunds(id), Counts(1, 30000));

  auto again = refund(id, R"({"amount": "300.00", "reason": "damaged"})", "a1");
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(parse(again.body)->getValue<std::string>("id"), r1);
  auto tooMuch = refund(id, R"({"amount": "700.01", "reason": "r"})", "a2");
  EXPECT_EQ(tooMuch.status, 422) << tooMuch.body;

  auto rest = refund(id, R"({"reason": "returned"})", "a3");
  ASSERT_EQ(rest.status, 201) << rest.body;
  std::string r2 = parse(rest.body)->getValue<std::string>("id");
  ASSERT_TRUE(eventually([&] { return refundState(id, r2) == "succeeded"; })) << timeline(id);
  EXPECT_EQ(refunded(id), "1000.00");
  ASSERT_TRUE(eventually([&] { return productRefunds(id, r2) == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(providerRefunds(id), Counts(2, 100000));
  EXPECT_EQ(productRefunds(id, r1), 1);
  EXPECT_EQ(productRefunds(id, r2), 1);
  EXPECT_EQ(status(id), "succeeded");
  std::string t = timeline(id);
  EXPECT_NE(t.find("refund_delivered"), std::string::npos) << t;
}

// refund() times out (the provider made it; its answer came too late): pending; the janitor
// asks queryRefund and finds it. A refund the provider leaves pending settles the same way.
TEST_P(RefundsTest, ProviderTimeoutOnRefundGoesPendingThenTheJanitorResolves) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::string id = paidOrder("fakepay");
  http(port_, "POST", "/sandbox/fakepay/script", R"({"refund_timeouts": 1})");
  auto asked = refund(id, R"({"amount": "500.00", "reason": "late delivery"})", "t1");
  ASSERT_EQ(asked.status, 201) << asked.body;
  std::string rid = parse(asked.body)->getValue<std::string>("id");
  ASSERT_TRUE(eventually([&] { return refundState(id, rid) == "pending"; }, 10000)) << timeline(id);
  EXPECT_NE(timeline(id).find("refund_timeout"), std::string::npos);
  EXPECT_EQ(refunded(id), "0.00");
  // Pending refunds count against what remains.
  EXPECT_EQ(refund(id, R"({"amount": "500.01", "reason": "r"})", "t2").status, 422);
  kernel_->store().exec("UPDATE refunds SET next_check_at = 0 WHERE id = ?", {rid});
  kernel_->payments().runJanitor();
  ASSERT_TRUE(eventually([&] { return refundState(id, rid) == "succeeded"; })) << timeline(id);
  EXPECT_EQ(refunded(id), "500.00");
  EXPECT_EQ(providerRefunds(id), Counts(1, 50000));
  ASSERT_TRUE(eventually([&] { return productRefunds(id, rid) == 1; }));

  http(port_, "POST", "/sandbox/fakepay/script", R"({"refund_pending": 1})");
  auto slow = refund(id, R"({"reason": "the rest"})", "t3");
  ASSERT_EQ(slow.status, 201) << slow.body;
  std::string sid = parse(slow.body)->getValue<std::string>("id");
  ASSERT_TRUE(eventually([&] { return refundState(id, sid) == "pending"; })) << timeline(id);
  std::string providerId = refundOf(id, sid)->getValue<std::string>("provider_refund_id");
  kernel_->store().exec("UPDATE refunds SET next_check_at = 0 WHERE id = ?", {sid});
  kernel_->payments().runJanitor();  // still pending at the provider
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(refundState(id, sid), "pending");
  EXPECT_EQ(http(port_, "POST", "/sandbox/fakepay/refunds/" + providerId + "/settle",
                 R"({"outcome": "succeeded"})")
                .status,
            200);
  kernel_->store().exec("UPDATE refunds SET next_check_at = 0 WHERE id = ?", {sid});
  kernel_->payments().runJanitor();
  ASSERT_TRUE(eventually([&] { return refundState(id, sid) == "succeeded"; })) << timeline(id);
  EXPECT_EQ(refunded(id), "1000.00");
}

// The product refuses (its text, 409) and nothing is written; forced, the refund goes ahead
// and the product's answer is recorded.
TEST_P(RefundsTest, ProductRefusalIs409UnlessForced) {
  SKIP_WITHOUT_ENGINE();
  boot(2, "{refuse_refunds: \"the credits were already spent\"}");
  std::string id = paidOrder("fakepay");
  auto refused = refund(id, R"({"amount": "100.00", "reason": "customer asked"})", "f1");
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_NE(refused.body.find("the credits were already spent"), std::string::npos) << refused.body;
  EXPECT_EQ(refundRows(id), 0);
  EXPECT_NE(timeline(id).find("refund_refused"), std::string::npos);
  EXPECT_EQ(refund(id, R"({"reason": "r", "force": "yes"})", "f2").status, 400);
  auto forced = refund(id, R"({"amount": "100.00", "reason": "goodwill", "force": true})", "f3");
  ASSERT_EQ(forced.status, 201) << forced.body;
  auto r = parse(forced.body);
  EXPECT_TRUE(r->getValue<bool>("forced"));
  EXPECT_EQ(r->getValue<std::string>("product_answer"), "the credits were already spent");
  std::string rid = r->getValue<std::string>("id");
  ASSERT_TRUE(eventually([&] { return refundState(id, rid) == "succeeded"; })) << timeline(id);
  EXPECT_NE(timeline(id).find("forced over the product's refusal"), std::string::npos);
  EXPECT_EQ(providerRefunds(id), Counts(1, 10000));
}

// A provider that can cancel: asked first. Cancelled there, then paid anyway: held, and a
// resolve refund gives the money back through the provider without delivering. Paid before
// the cancel arrived: the provider's word wins and the payment is delivered.
TEST_P(RefundsTest, ProviderCancelAndHeldRefundThroughTheProvider) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto p = order("fakepay");
  std::string id = p->getValue<std::string>("id"), ref = p->getValue<std::string>("provider_ref");
  auto cancelled = admin("POST", "/admin/payments/" + id + "/cancel", R"({"reason": "duplicate"})");
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_EQ(parse(cancelled.body)->getValue<std::string>("status"), "cancelled");
  EXPECT_EQ(kernel_->store()
                .query("SELECT status FROM fakepay_sim_orders WHERE ref = ?", {ref})
                .str(0, "status"),
            "cancelled");
  pay("fakepay", ref);
  ASSERT_TRUE(eventually([&] { return status(id) == "held"; })) << timeline(id);
  EXPECT_NE(timeline(id).find("paid after cancellation"), std::string::npos);
  // Refunds go through resolve for a held payment, not the refunds route.
  EXPECT_EQ(refund(id, R"({"reason": "r"})", "h0").status, 409);
  auto back = admin("POST", "/admin/payments/" + id + "/resolve",
                    R"({"action": "refund", "reason": "the customer paid a cancelled order"})");
  ASSERT_EQ(back.status, 200) << back.body;
  ASSERT_TRUE(eventually([&] { return refunded(id) == "1000.00"; })) << timeline(id);
  EXPECT_EQ(providerRefunds(id), Counts(1, 100000));
  EXPECT_EQ(status(id), "held");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(fulfilments(id), 0);
  EXPECT_EQ(kernel_->store()
                .query("SELECT COUNT(*) AS n FROM shop_fulfilments WHERE payment_id = ? AND kind "
                       "LIKE 'refunded:%'",
                       {id})
                .i64(0, "n"),
            0);

  auto q = order("fakepay");
  std::string qid = q->getValue<std::string>("id");
  pay("fakepay", q->getValue<std::string>("provider_ref"), R"({"webhooks": 0})");
  EXPECT_EQ(status(qid), "pending");
  auto tooLate = admin("POST", "/admin/payments/" + qid + "/cancel", R"({"reason": "slow"})");
  ASSERT_EQ(tooLate.status, 200) << tooLate.body;
  EXPECT_EQ(parse(tooLate.body)->getValue<std::string>("status"), "succeeded");
  ASSERT_TRUE(eventually([&] { return fulfilments(qid) == 1; }));
}

INSTANTIATE_TEST_SUITE_P(Engines, RefundsTest, ::testing::Values("sqlite", "postgresql"),
                         engineName);

// kill -9 between the refund request and the provider's answer (the provider made the refund;
// its answer never arrived): after the restart the job asks again with the same refund id,
// and there is exactly one refund, at the provider and in the books.
class RefundsKillTest : public EngineTest {};

TEST_P(RefundsKillTest, KillNineBetweenTheRefundAndTheProvidersAnswerMakesOneRefund) {
  SKIP_WITHOUT_ENGINE();
  std::string db = url();
  auto start = [&](const std::string& name) {
    std::string cfg = dir_.file(name + ".yaml");
    writeFile(cfg, refundsYaml(db, 2, "{}", "{timeout_ms: 4000}"));
    std::string portFile = dir_.file(name + ".port");
    auto child = std::make_unique<Child>(
        std::vector<std::string>{MALIPO_BINARY, "serve", "--config", cfg, "--port-file", portFile},
        dir_.file(name + ".log"));
    return std::make_pair(std::move(child), waitForPortFile(portFile));
  };
  auto [first, port] = start("first");
  ASSERT_NE(port, 0);
  auto r = http(port, "POST", "/shop/orders",
                R"({"amount_minor": 100000, "currency": "TZS", "providers": ["fakepay"]})");
  ASSERT_EQ(r.status, 201) << r.body;
  auto p = parse(r.body)->getObject("payment");
  std::string id = p->getValue<std::string>("id");
  http(port, "POST", "/sandbox/fakepay/orders/" + p->getValue<std::string>("provider_ref") + "/pay",
       "{}");
  Store s(db, 1, 1000);
  auto count = [&](const std::string& sql) { return s.query(sql, {id}).i64(0, "n"); };
  ASSERT_TRUE(eventually(
      [&] {
        return count(
                   "SELECT COUNT(*) AS n FROM shop_fulfilments WHERE payment_id = ? AND kind = "
                   "'settled'") == 1;
      },
      10000));
  // The provider makes the refund and answers after the kernel's timeout: killed before that.
  http(port, "POST", "/sandbox/fakepay/script", R"({"refund_timeouts": 1})");
  auto asked =
      http(port, "POST", "/admin/payments/" + id + "/refunds",
           R"({"amount": "400.00", "reason": "customer asked"})",
           {{"Authorization", "Bearer " + kShopAdminToken}, {"Idempotency-Key", "kill-1"}});
  ASSERT_EQ(asked.status, 201) << asked.body;
  std::string rid = parse(asked.body)->getValue<std::string>("id");
  const std::string atProvider =
      "SELECT COUNT(*) AS n FROM fakepay_sim_refunds s JOIN payments p ON p.provider_ref = s.ref "
      "WHERE p.id = ?";
  ASSERT_TRUE(eventually([&] { return count(atProvider) == 1; }, 10000));
  first->signal(SIGKILL);
  EXPECT_EQ(first->wait(), 128 + SIGKILL);
  EXPECT_EQ(s.query("SELECT status FROM refunds WHERE id = ?", {rid}).str(0, "status"),
            "requested");

  auto [second, port2] = start("second");
  ASSERT_NE(port2, 0);
  ASSERT_TRUE(eventually(
      [&] {
        return s.query("SELECT status FROM refunds WHERE id = ?", {rid}).str(0, "status") ==
               "succeeded";
      },
      30000))
      << readFile(dir_.file("second.log"));
  ASSERT_TRUE(eventually(
      [&] {
        return count(
                   "SELECT COUNT(*) AS n FROM shop_fulfilments WHERE payment_id = ? AND kind "
                   "LIKE 'refunded:%'") == 1;
      },
      10000));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(count(atProvider), 1);
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM refunds WHERE payment_id = ?"), 1);
  EXPECT_EQ(
      s.query("SELECT refunded_minor FROM payments WHERE id = ?", {id}).i64(0, "refunded_minor"),
      40000);
  second->signal(SIGTERM);
  EXPECT_EQ(second->wait(), 0);
}

INSTANTIATE_TEST_SUITE_P(Engines, RefundsKillTest, ::testing::Values("sqlite", "postgresql"),
                         engineName);
