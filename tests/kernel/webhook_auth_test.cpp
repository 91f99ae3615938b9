// The kernel's webhook models (SDK 1.1): per-payment signed callback URLs, IP allow-lists, a
// provider's own webhook path, provider-shaped replies and onWebhookStored. Over real HTTP on
// loopback with fakepay (its settings choose the models) and the shop product, on SQLite and
// PostgreSQL.
#include <Poco/JSON/Parser.h>
#include <Poco/URI.h>

#include "shop_fixture.hpp"

using namespace malipo;
using namespace malipo::test;

namespace {

Poco::JSON::Object::Ptr parse(const std::string& s) {
  return parseObject(s);
}

const char* kSecret = "fake-secret";

}  // namespace

class WebhookAuthTest : public ShopTest {
 protected:
  // A kernel whose fakepay has `settings` (they choose the webhook models).
  void boot(const std::string& settings) {
    kernel_.reset();
    fakepaySettings_ = settings;
    ShopTest::boot();
  }
  std::string yaml(int workers, const std::string&) override {
    return shopYaml(dbUrl_, workers, {{"fakepay", fakepaySettings_}});
  }

  Poco::JSON::Object::Ptr order() {
    auto r = http(port_, "POST", "/shop/orders",
                  R"({"amount_minor": 100000, "currency": "TZS", "providers": ["fakepay"]})");
    EXPECT_EQ(r.status, 201) << r.body;
    return parse(r.body)->getObject("payment");
  }
  // The simulated customer pays; the simulator notifies the kernel where it was told to.
  Poco::JSON::Object::Ptr pay(const std::string& ref, const std::string& outcome = "paid") {
    auto r = http(port_, "POST", "/sandbox/fakepay/orders/" + ref + "/pay",
                  "{\"outcome\": \"" + outcome + "\"}");
    EXPECT_EQ(r.status, 200) << r.body;
    return parse(r.body);
  }
  std::int64_t webhookEvents() {
    return kernel_->store()
        .query("SELECT COUNT(*) AS n FROM payment_events WHERE kind = 'webhook'")
        .i64(0, "n");
  }
  std::string webhookUrlAtSimulator(const std::string& paymentId) {
    return kernel_->store()
        .query("SELECT webhook_url FROM fakepay_sim_orders WHERE order_id = ?", {paymentId})
        .str(0, "webhook_url");
  }
  // A webhook body the simulator would send about `paymentId`, signed.
  std::map<std::string, std::string> signedHeaders(const std::string& body) {
    return {{"X-Fakepay-Signature", hmacSha256Hex(kSecret, body)}};
  }
  static std::string eventBody(const std::string& paymentId, const std::string& eventId) {
    return "{\"event_id\": \"" + eventId + "\", \"order_id\": \"" + paymentId +
           "\", \"status\": \"paid\"}";
  }
  // The target (path?query) of a callback URL.
  std::string target(const std::string& url) {
    Poco::URI u(url);
    return u.getPathAndQuery();
  }

  std::string fakepaySettings_;
};

TEST_P(WebhookAuthTest, ACallbackTokenAdmitsOnlyItsOwnPaymentsWebhooks) {
  SKIP_WITHOUT_ENGINE();
  boot("{webhook_token: true}");
  auto a = order(), b = order();
  std::string idA = a->getValue<std::string>("id"), idB = b->getValue<std::string>("id");
  // The provider was handed its callback URL by the kernel: the payment and its token.
  std::string urlA = webhookUrlAtSimulator(idA), urlB = webhookUrlAtSimulator(idB);
  ASSERT_NE(urlA.find("/webhooks/fakepay?p=" + idA + "&t="), std::string::npos) << urlA;
  EXPECT_NE(urlA, urlB);
  EXPECT_EQ(kernel_->payments().get(idA).value().callbackUrl, urlA);

  std::string body = eventBody(idA, "evt-forged-1");
  auto sig = signedHeaders(body);
  // Correctly signed, but not to a callback URL: 401, nothing stored.
  auto r = http(port_, "POST", "/webhooks/fakepay", body, sig);
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_NE(r.body.find("callback token"), std::string::npos) << r.body;
  // A token that is not the kernel's.
  std::string tA = urlA.substr(urlA.rfind("&t=") + 3);
  std::string bad = tA;
  bad[0] = bad[0] == 'a' ? 'b' : 'a';
  r = http(port_, "POST", "/webhooks/fakepay?p=" + idA + "&t=" + bad, body, sig);
  EXPECT_EQ(r.status, 401) << r.body;
  // Payment B's genuine URL with an event about payment A: the token vouches for B only.
  r = http(port_, "POST", target(urlB), body, sig);
  EXPECT_EQ(r.status, 401) << r.body;
  // A's token with B's id.
  r = http(port_, "POST", "/webhooks/fakepay?p=" + idB + "&t=" + tA, body, sig);
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(webhookEvents(), 0);
  EXPECT_EQ(status(idA), "pending");

  // The simulator posts to the URL it was given: accepted, bound to A, settled after the query.
  pay(a->getValue<std::string>("provider_ref"));
  ASSERT_TRUE(eventually([&] { return status(idA) == "succeeded"; })) << status(idA);
  EXPECT_EQ(kernel_->store()
                .query("SELECT COUNT(*) AS n FROM payment_events WHERE kind = 'webhook' AND "
                       "payment_id = ?",
                       {idA})
                .i64(0, "n"),
            1);
  EXPECT_EQ(status(idB), "pending");
}

TEST_P(WebhookAuthTest, TheAllowListUsesTheVerifiedClientAddress) {
  SKIP_WITHOUT_ENGINE();
  boot("{webhook_allowed_ips: [\"127.0.0.2/32\", \"2001:db8::/32\"]}");
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  // The simulator posts from 127.0.0.1: refused before parseWebhook, nothing stored.
  pay(p->getValue<std::string>("provider_ref"));
  std::string body = eventBody(id, "evt-allow-1");
  auto r = http(port_, "POST", "/webhooks/fakepay", body, signedHeaders(body));
  EXPECT_EQ(r.status, 403) << r.body;
  // A forged X-Forwarded-For gets nothing (no trusted proxies).
  auto forged = signedHeaders(body);
  forged["X-Forwarded-For"] = "127.0.0.2";
  r = http(port_, "POST", "/webhooks/fakepay", body, forged);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(webhookEvents(), 0);
  EXPECT_EQ(status(id), "pending");
  // From the allowed address: accepted.
  r = httpFrom("127.0.0.2", port_, "POST", "/webhooks/fakepay", body, signedHeaders(body));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(webhookEvents(), 1);
  ASSERT_TRUE(eventually([&] { return status(id) == "succeeded"; })) << status(id);
}

TEST_P(WebhookAuthTest, AProviderMayHaveItsOwnWebhookPath) {
  SKIP_WITHOUT_ENGINE();
  boot("{webhook_path: /cb/7f3k9q, webhook_token: true}");
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  std::string url = webhookUrlAtSimulator(id);
  // No provider name in it (Daraja refuses callback URLs containing "mpesa").
  EXPECT_EQ(url.find("fakepay"), std::string::npos) << url;
  EXPECT_NE(url.find("/cb/7f3k9q?p=" + id + "&t="), std::string::npos) << url;
  pay(p->getValue<std::string>("provider_ref"));
  ASSERT_TRUE(eventually([&] { return status(id) == "succeeded"; })) << status(id);
  // The path is the inbox for this provider only, with the same checks.
  std::string body = eventBody(id, "evt-path-2");
  auto r = http(port_, "POST", "/cb/7f3k9q", body, signedHeaders(body));
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(webhookEvents(), 1);
}

TEST_P(WebhookAuthTest, ABadWebhookPathOrCidrStopsTheStart) {
  SKIP_WITHOUT_ENGINE();
  for (const std::string& bad :
       {std::string("{webhook_path: /admin/cb}"), std::string("{webhook_path: \"/cb/{x}\"}"),
        std::string("{webhook_allowed_ips: [\"10.0.0.0/33\"]}")}) {
    SCOPED_TRACE(bad);
    std::string message;
    try {
      boot(bad);
    } catch (const std::exception& e) {
      message = e.what();
    }
    EXPECT_NE(message.find("fakepay"), std::string::npos) << message;
    kernel_.reset();
  }
}

TEST_P(WebhookAuthTest, TheProvidersReplyAnswersAcceptedAndDuplicateDeliveries) {
  SKIP_WITHOUT_ENGINE();
  boot(R"({webhook_reply: '{"ResultCode":0,"ResultDesc":"Accepted"}'})");
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  std::string body = eventBody(id, "evt-reply-1");
  for (int i = 0; i < 2; ++i) {
    auto r = http(port_, "POST", "/webhooks/fakepay", body, signedHeaders(body));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"({"ResultCode":0,"ResultDesc":"Accepted"})");
    EXPECT_NE(r.header("Content-Type").find("application/json"), std::string::npos);
  }
  EXPECT_EQ(webhookEvents(), 1);
  // Errors stay the kernel's.
  auto r = http(port_, "POST", "/webhooks/fakepay", body, {{"X-Fakepay-Signature", "00"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("invalid signature"), std::string::npos) << r.body;
}

TEST_P(WebhookAuthTest, OnWebhookStoredRunsInTheInboxTransaction) {
  SKIP_WITHOUT_ENGINE();
  boot("{}");
  auto p = order();
  std::string id = p->getValue<std::string>("id");
  std::string body = eventBody(id, "evt-stored-1");
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(http(port_, "POST", "/webhooks/fakepay", body, signedHeaders(body)).status, 200);
  // New events only, with the payment the kernel matched.
  auto stored = parse(http(port_, "GET", "/sandbox/fakepay/webhooks-stored").body);
  auto events = stored->getArray("events");
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->getObject(0)->getValue<std::string>("event_id"), "evt-stored-1");
  EXPECT_EQ(events->getObject(0)->getValue<std::string>("payment_id"), id);

  // The provider's hook fails: the delivery is rolled back, the sender told to retry.
  boot("{webhook_stored_fail: true}");
  std::string other = eventBody(id, "evt-stored-2");
  auto r = http(port_, "POST", "/webhooks/fakepay", other, signedHeaders(other));
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_EQ(kernel_->store()
                .query("SELECT COUNT(*) AS n FROM payment_events WHERE provider_event_id = ?",
                       {"evt-stored-2"})
                .i64(0, "n"),
            0);
}

INSTANTIATE_TEST_SUITE_P(Engines, WebhookAuthTest, ::testing::Values("sqlite", "postgresql"),
                         engineName);
