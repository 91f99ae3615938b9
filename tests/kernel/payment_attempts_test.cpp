// Several attempts per payment and the short reference (SDK 1.1), over real HTTP with fakepay
// and its simulator, on both engines. fakepay's repush_new_ref makes every requestPush a new
// order at the simulator (a new provider reference: a new attempt), as an STK push does.
#include <Poco/JSON/Parser.h>

#include <set>

#include "shop_fixture.hpp"

using namespace malipo;
using namespace malipo::test;

class PaymentAttemptsTest : public ShopTest {
 protected:
  std::string yaml(int workers, const std::string& shopSettings) override {
    return shopYaml(dbUrl_, workers, {{"fakepay", fakepay_}}, shopSettings);
  }
  // fakepay's settings: by default every re-prompt is a new order (a new attempt).
  void bootWith(const std::string& fakepay = "{timeout_ms: 500, repush_new_ref: true}") {
    fakepay_ = fakepay;
    dbUrl_.clear();
    boot();
  }

  Poco::JSON::Object::Ptr order() {
    auto r = http(port_, "POST", "/shop/orders",
                  R"({"amount_minor": 100000, "currency": "TZS", "providers": ["fakepay"]})");
    EXPECT_EQ(r.status, 201) << r.body;
    return parseObject(r.body)->getObject("payment");
  }
  // A second prompt for the payment: a new attempt, whose provider reference it returns.
  std::string repush(const std::string& id) {
    auto r = http(port_, "POST", "/shop/payments/" + id + "/push", R"({"phone": "255712345678"})");
    EXPECT_EQ(r.status, 200) << r.body;
    auto a = attempts(id);
    EXPECT_EQ(a->size(), 2u);
    return a->getObject(a->size() - 1)->getValue<std::string>("provider_ref");
  }
  Poco::JSON::Object::Ptr detail(const std::string& id) {
    auto r = admin("GET", "/admin/payments/" + id);
    EXPECT_EQ(r.status, 200) << r.body;
    return parseObject(r.body);
  }
  Poco::JSON::Array::Ptr attempts(const std::string& id) {
    return detail(id)->getArray("attempts");
  }
  std::string attemptState(const std::string& id, int number) {
    auto a = attempts(id);
    for (std::size_t i = 0; i < a->size(); ++i)
      if (a->getObject(i)->getValue<int>("number") == number)
        return a->getObject(i)->getValue<std::string>("state");
    return "none";
  }
  Poco::JSON::Object::Ptr pay(const std::string& ref, const std::string& body = "{}") {
    auto r = http(port_, "POST", "/sandbox/fakepay/orders/" + ref + "/pay", body);
    EXPECT_EQ(r.status, 200) << r.body;
    return parseObject(r.body);
  }
  std::int64_t transitionsTo(const std::string& id, const std::string& to = "succeeded") {
    return events(id, "transition", "-> " + to);
  }
  // Events of `kind` whose detail contains `has` (and `also`).
  std::int64_t events(const std::string& id, const std::string& kind, const std::string& has,
                      const std::string& also = "") {
    std::int64_t n = 0;
    for (const auto& e : kernel_->payments().events(id))
      if (e.kind == kind && e.detail.find(has) != std::string::npos &&
          e.detail.find(also) != std::string::npos)
        ++n;
    return n;
  }

  std::string fakepay_;
};

// The customer pays the first of two prompts; the webhook names that attempt's reference
// only. The payment settles once through attempt 1; attempt 2 is closed.
TEST_P(PaymentAttemptsTest, PayingTheOlderOfTwoPromptsSettlesOnceAndClosesTheOther) {
  SKIP_WITHOUT_ENGINE();
  bootWith();
  auto p = order();
  std::string id = p->getValue<std::string>("id"), first = p->getValue<std::string>("provider_ref");
  ASSERT_EQ(attempts(id)->size(), 1u);
  EXPECT_EQ(attemptState(id, 1), "open");
  std::string second = repush(id);
  ASSERT_FALSE(second.empty());
  EXPECT_NE(second, first);
  EXPECT_EQ(attemptState(id, 2), "open");
  EXPECT_EQ(events(id, "push_sent", "[attempt 2, provider_ref " + second + "]"), 1);

  std::string txn = pay(first, R"({"omit_order_id": true})")->getValue<std::string>("txn_id");
  ASSERT_TRUE(eventually([&] { return fulfilments(id) == 1; })) << status(id);
  EXPECT_EQ(status(id), "succeeded");
  auto d = detail(id);
  EXPECT_EQ(d->getValue<std::string>("provider_txn_id"), txn);
  EXPECT_EQ(d->getValue<std::string>("provider_ref"), first);  // the paid attempt's
  auto a = d->getArray("attempts");
  ASSERT_EQ(a->size(), 2u);
  EXPECT_EQ(a->getObject(0)->getValue<std::string>("state"), "succeeded");
  EXPECT_TRUE(a->getObject(0)->getValue<bool>("settled"));
  EXPECT_EQ(a->getObject(0)->getValue<std::string>("provider_txn_id"), txn);
  EXPECT_EQ(a->getObject(1)->getValue<std::string>("state"), "closed");
  EXPECT_TRUE(a->getObject(1)->has("closed_at"));
  EXPECT_EQ(events(id, "query", "provider says succeeded", "[attempt 1]"), 1);
  // The product's view of the payment lists them too.
  auto shop = http(port_, "GET", "/shop/payments/" + id);
  EXPECT_EQ(parseObject(shop.body)->getArray("attempts")->size(), 2u);
  EXPECT_EQ(fulfilments(id), 1);
}

// Both prompts are paid: the payment settles once; the second payment is recorded on its
// attempt and in the timeline for the operator to refund, never delivered.
TEST_P(PaymentAttemptsTest, BothPromptsPaidSettlesOnceAndRecordsTheSecond) {
  SKIP_WITHOUT_ENGINE();
  bootWith();
  auto p = order();
  std::string id = p->getValue<std::string>("id"), first = p->getValue<std::string>("provider_ref");
  std::string second = repush(id);
  std::string txn1 = pay(first)->getValue<std::string>("txn_id");
  ASSERT_TRUE(eventually([&] { return fulfilments(id) == 1; })) << status(id);
  std::string txn2 = pay(second)->getValue<std::string>("txn_id");
  ASSERT_TRUE(eventually([&] { return attemptState(id, 2) == "succeeded"; }))
      << attemptState(id, 2);
  EXPECT_EQ(status(id), "succeeded");
  auto d = detail(id);
  EXPECT_EQ(d->getValue<std::string>("provider_txn_id"), txn1);
  auto a = d->getArray("attempts");
  EXPECT_TRUE(a->getObject(0)->getValue<bool>("settled"));
  EXPECT_FALSE(a->getObject(1)->getValue<bool>("settled"));
  EXPECT_EQ(a->getObject(1)->getValue<std::string>("provider_txn_id"), txn2);
  EXPECT_EQ(events(id, "paid_twice", "attempt 2 was paid too (txn " + txn2), 1);
  // Asked again (another sync, a webhook replayed): recorded once, delivered once.
  ASSERT_TRUE(kernel_->payments().sync(id).ok());
  EXPECT_EQ(events(id, "paid_twice", ""), 1);
  EXPECT_EQ(transitionsTo(id), 1);
  EXPECT_EQ(fulfilments(id), 1);
}

// No webhook comes: the janitor's check asks every open attempt, newest first, and finds
// the older one paid.
TEST_P(PaymentAttemptsTest, TheJanitorAsksAboutOlderOpenAttempts) {
  SKIP_WITHOUT_ENGINE();
  bootWith();
  auto p = order();
  std::string id = p->getValue<std::string>("id"), first = p->getValue<std::string>("provider_ref");
  repush(id);
  pay(first, R"({"webhooks": 0})");
  kernel_->store().exec("UPDATE payments SET next_check_at = 0 WHERE id = ?", {id});
  EXPECT_EQ(kernel_->payments().runJanitor(), 1);
  ASSERT_TRUE(eventually([&] { return fulfilments(id) == 1; })) << status(id);
  EXPECT_EQ(attemptState(id, 1), "succeeded");
  EXPECT_EQ(attemptState(id, 2), "closed");
  EXPECT_EQ(events(id, "query", "provider says succeeded", "[attempt 1]"), 1);
}

// A declined newer prompt does not fail a payment whose older prompt may still be paid.
TEST_P(PaymentAttemptsTest, ADeclinedPromptFailsItsAttemptNotThePayment) {
  SKIP_WITHOUT_ENGINE();
  bootWith();
  auto p = order();
  std::string id = p->getValue<std::string>("id"), first = p->getValue<std::string>("provider_ref");
  std::string second = repush(id);
  pay(second, R"({"outcome": "failed", "webhooks": 0})");
  ASSERT_TRUE(kernel_->payments().sync(id).ok());
  EXPECT_EQ(status(id), "pending");
  EXPECT_EQ(attemptState(id, 2), "failed");
  EXPECT_EQ(attemptState(id, 1), "open");
  pay(first);
  ASSERT_TRUE(eventually([&] { return fulfilments(id) == 1; })) << status(id);
  EXPECT_EQ(attemptState(id, 1), "succeeded");
  EXPECT_EQ(attemptState(id, 2), "failed");
}

// Every payment gets a short reference: unique, within the provider's declared limits,
// handed to the provider (the simulator stores what it got), shown and searchable.
TEST_P(PaymentAttemptsTest, ShortReferencesAreUniqueWithinTheProvidersLimitsAndSearchable) {
  SKIP_WITHOUT_ENGINE();
  for (const std::string& settings :
       {std::string("{timeout_ms: 500}"),
        std::string("{timeout_ms: 500, ref_max_length: 8, ref_charset: digits}")}) {
    SCOPED_TRACE(settings);
    TearDown();
    bootWith(settings);
    const bool digits = settings.find("digits") != std::string::npos;
    const std::size_t length = digits ? 8 : 10;
    std::set<std::string> seen;
    std::string last;
    for (int i = 0; i < 20; ++i) {
      auto p = order();
      std::string id = p->getValue<std::string>("id");
      last = p->getValue<std::string>("short_ref");
      EXPECT_EQ(last.size(), length) << last;
      for (char c : last) {
        if (digits)
          EXPECT_TRUE(c >= '0' && c <= '9') << last;
        else
          EXPECT_NE(std::string("0123456789ABCDEFGHJKMNPQRSTVWXYZ").find(c), std::string::npos)
              << last;
      }
      seen.insert(last);
      // What the provider was handed.
      EXPECT_EQ(kernel_->store()
                    .query("SELECT a.account_ref FROM fakepay_sim_orders o JOIN "
                           "fakepay_sim_account_refs a ON a.ref = o.ref WHERE o.order_id = ?",
                           {id})
                    .str(0, "account_ref"),
                last);
    }
    EXPECT_EQ(seen.size(), 20u);
    std::string lower = last;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto r = admin("GET", "/admin/payments?q=" + lower);
    ASSERT_EQ(r.status, 200) << r.body;
    auto found = parseObject(r.body)->getArray("payments");
    ASSERT_EQ(found->size(), 1u) << r.body;
    EXPECT_EQ(found->getObject(0)->getValue<std::string>("short_ref"), last);
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, PaymentAttemptsTest, ::testing::Values("sqlite", "postgresql"),
                         engineName);
