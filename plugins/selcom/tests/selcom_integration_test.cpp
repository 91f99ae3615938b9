// Integration tests: an in-process kernel (SQLite in a temporary folder, sandbox mode, the
// Selcom plugin and the test shop) on a loopback port, driven over HTTP. The plugin talks to
// its simulator over real HTTP, signed; the simulator sends signed webhooks back over HTTP.
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "app/Kernel.hpp"
#include "config/ConfigLoader.hpp"
#include "selcom_wire.hpp"
#include "support/TestSupport.hpp"

namespace malipo::selcom {
namespace {

using test::eventually;
using test::http;
using test::HttpResult;
using test::TempDir;

const char* kKey = "it-key";
const char* kSecret = "it-secret-0123456789";
// Long enough that a loaded machine never times out a normal call; a scripted timeout waits
// this plus 500 ms.
const int kTimeoutMs = 2000;

Poco::JSON::Object::Ptr parse(const std::string& body) {
  try {
    return Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception&) {
    ADD_FAILURE() << "not a JSON object: " << body;
    return new Poco::JSON::Object;
  }
}

class SelcomFlow : public ::testing::Test {
 protected:
  void SetUp() override { startKernel(); }
  void TearDown() override { kernel_.reset(); }

  std::string yaml(bool sandbox) const {
    return std::string("server:\n  listen: 127.0.0.1:0\n  access_log: false\n") +
           "database: {url: \"sqlite:" + dir_.file("k.db") + "\"}\n" +
           "auth: {jwt_secret: test-secret-0123456789abcdefghijklmnop}\n"
           "admin: {token: admin-token-0123456789abcdefghijklmnop}\n"
           "jobs: {workers: 2, poll_interval_ms: 20}\n"
           "log: {level: error}\n" +
           "sandbox: " + (sandbox ? "true" : "false") + "\n" +
           "plugins:\n"
           "  - name: selcom\n"
           "    library: " SELCOM_PLUGIN
           "\n"
           "    settings:\n"
           "      api_key: " +
           kKey + "\n" + "      api_secret: " + kSecret + "\n" +
           "      vendor: CVCHAPCHAP\n"
           "      timeout_ms: " +
           std::to_string(kTimeoutMs) + "\n" + "      require_signed_webhooks: true\n" +
           (sandbox ? "" : "      base_url: http://127.0.0.1:9/v1\n") +
           "  - name: shop\n"
           "    library: " SHOP_PLUGIN "\n";
  }

  void startKernel(bool sandbox = true) {
    kernel_ = std::make_unique<Kernel>(ConfigLoader::loadString(yaml(sandbox), "selcom-test.yaml"));
    kernel_->open();
    kernel_->start();
    port_ = kernel_->port();
    ASSERT_NE(port_, 0);
  }

  HttpResult postJson(const std::string& path, const std::string& body) {
    return http(port_, "POST", path, body);
  }

  // A payment of `amountMajor` TZS through Selcom; returns the payment as the shop shows it.
  Poco::JSON::Object::Ptr order(int amountMajor = 1000, bool push = false,
                                const std::string& phone = "",
                                const std::string& channel = "ussd_menu") {
    Poco::JSON::Object in;
    in.set("amount_minor", static_cast<Poco::Int64>(amountMajor) * 100);
    in.set("currency", "TZS");
    Poco::JSON::Array providers;
    providers.add("selcom");
    in.set("providers", providers);
    in.set("channel", channel);
    in.set("phone", phone);
    in.set("push", push);
    std::ostringstream os;
    in.stringify(os);
    HttpResult r = postJson("/shop/orders", os.str());
    EXPECT_EQ(r.status, 201) << r.body;
    auto o = parse(r.body);
    return o->has("payment") ? o->getObject("payment")
                             : Poco::JSON::Object::Ptr(new Poco::JSON::Object);
  }

  // The simulator's "customer pays" action (JSON).
  Poco::JSON::Object::Ptr pay(const std::string& id, const std::string& body = "{}",
                              int expectStatus = 200) {
    HttpResult r = postJson("/sandbox/selcom/pay/" + id, body);
    EXPECT_EQ(r.status, expectStatus) << r.body;
    return parse(r.body);
  }

  void script(const std::string& body) {
    HttpResult r = postJson("/sandbox/selcom/script", body);
    ASSERT_EQ(r.status, 200) << r.body;
  }

  Poco::JSON::Object::Ptr payment(const std::string& id) {
    HttpResult r = http(port_, "GET", "/shop/payments/" + id);
    EXPECT_EQ(r.status, 200) << r.body;
    return parse(r.body);
  }
  std::string status(const std::string& id) {
    return payment(id)->optValue<std::string>("status", "?");
  }
  bool reaches(const std::string& id, const std::string& want, int timeoutMs = 10000) {
    bool ok = eventually([&] { return status(id) == want; }, timeoutMs);
    if (!ok) ADD_FAILURE() << "payment " << id << " is " << status(id) << ", expected " << want;
    return ok;
  }

  std::int64_t fulfilments(const std::string& id, const std::string& kind = "settled") {
    return kernel_->store()
        .query("SELECT COUNT(*) AS n FROM shop_fulfilments WHERE payment_id = ? AND kind = ?",
               {id, kind})
        .i64(0, "n");
  }
  std::int64_t webhookEvents(const std::string& id) {
    return kernel_->store()
        .query("SELECT COUNT(*) AS n FROM payment_events WHERE payment_id = ? AND kind = 'webhook'",
               {id})
        .i64(0, "n");
  }

  // Waits until no job is running or due, twice in a row: whatever a webhook, a replay or a
  // duplicate could still cause has happened by then.
  void quiesce() {
    auto idle = [&] {
      auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
      return kernel_->store()
                 .query(
                     "SELECT COUNT(*) AS n FROM jobs WHERE state = 'running' OR (state = 'queued' "
                     "AND run_at <= ?)",
                     {static_cast<std::int64_t>(now)})
                 .i64(0, "n") == 0;
    };
    ASSERT_TRUE(eventually([&] {
      if (!idle()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
      return idle();
    }));
  }

  HttpResult proof(const std::string& id, const std::string& text) {
    Poco::JSON::Object o;
    o.set("text", text);
    std::ostringstream os;
    o.stringify(os);
    return postJson("/shop/payments/" + id + "/proof", os.str());
  }

  static std::int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  // A webhook body for `orderId` signed with `secret` at `signedAtMs` (the simulator's own
  // shape), posted with `contentType`.
  HttpResult webhook(const std::string& orderId, const std::string& secret,
                     const std::string& transid = "TX1", std::int64_t signedAtMs = nowMs(),
                     const std::string& contentType = "application/json") {
    Fields f = {{"transid", transid},  {"order_id", orderId}, {"reference", "0281121212"},
                {"result", "SUCCESS"}, {"resultcode", "000"}, {"payment_status", "COMPLETED"}};
    std::map<std::string, std::string> headers;
    for (const auto& h : signingHeaders(kKey, secret, isoTimestamp(signedAtMs), f))
      headers[h.first] = h.second;
    return http(port_, "POST", "/webhooks/selcom", jsonBody(f), headers, contentType);
  }
  std::string simTransid(const std::string& id) {
    return parse(http(port_, "GET", "/sandbox/selcom/orders/" + id).body)
        ->getValue<std::string>("transid");
  }

  TempDir dir_;
  std::unique_ptr<Kernel> kernel_;
  std::uint16_t port_ = 0;
};

// ---------------------------------------------------------------- the two flows

TEST_F(SelcomFlow, ManualUssdFlowSettledByWebhook) {
  auto p = order(1000);
  const std::string id = p->getValue<std::string>("id");
  EXPECT_EQ(p->getValue<std::string>("status"), "pending");
  auto action = p->getObject("action");
  ASSERT_TRUE(action);
  EXPECT_EQ(action->getValue<std::string>("type"), "ussd_instructions");
  EXPECT_EQ(action->getValue<std::string>("ussd_code"), "*150*00#");
  EXPECT_EQ(action->getValue<std::string>("vendor"), "CVCHAPCHAP");
  const std::string reference = action->getValue<std::string>("reference");
  EXPECT_EQ(reference.size(), 8u) << "the customer types Selcom's payment token, not our UUID";
  EXPECT_EQ(p->getValue<std::string>("provider_ref"), reference);
  ASSERT_TRUE(action->getArray("steps"));
  EXPECT_GE(action->getArray("steps")->size(), 3u);
  EXPECT_NE(action->getValue<std::string>("message").find("*150*00#"), std::string::npos);

  // What Selcom received: whole shillings, our payment id, the webhook URL in base64.
  HttpResult sim = http(port_, "GET", "/sandbox/selcom/orders/" + id);
  ASSERT_EQ(sim.status, 200) << sim.body;
  auto so = parse(sim.body);
  EXPECT_EQ(so->getValue<Poco::Int64>("amount"), 1000);
  EXPECT_EQ(so->getValue<std::string>("currency"), "TZS");
  EXPECT_EQ(so->getValue<std::string>("vendor"), "CVCHAPCHAP");
  EXPECT_EQ(so->getValue<std::string>("payment_token"), reference);
  EXPECT_EQ(so->getValue<std::string>("webhook_url"),
            "http://127.0.0.1:" + std::to_string(port_) + "/webhooks/selcom");
  EXPECT_TRUE(so->isNull("msisdn")) << "no push in the manual flow";

  auto paid = pay(id);
  const std::string transid = paid->getValue<std::string>("transid");
  ASSERT_EQ(paid->getArray("webhook_statuses")->size(), 1u);
  EXPECT_EQ(paid->getArray("webhook_statuses")->getElement<int>(0), 200);
  ASSERT_TRUE(reaches(id, "succeeded"));
  EXPECT_EQ(payment(id)->getValue<std::string>("provider_txn_id"), transid);
  quiesce();
  EXPECT_EQ(fulfilments(id), 1);
}

TEST_F(SelcomFlow, PushFlowSendsTheWalletPrompt) {
  auto p = order(2500, true, "+255 712 345 678", "ussd_push");
  const std::string id = p->getValue<std::string>("id");
  auto action = p->getObject("action");
  EXPECT_EQ(action->getValue<std::string>("type"), "push_sent");
  const std::string message = action->getValue<std::string>("message");
  EXPECT_NE(message.find("255******678"), std::string::npos) << message;
  EXPECT_EQ(message.find("712345"), std::string::npos) << "the phone number is masked: " << message;

  auto so = parse(http(port_, "GET", "/sandbox/selcom/orders/" + id).body);
  EXPECT_EQ(so->getValue<std::string>("msisdn"), "255712345678");
  EXPECT_EQ(so->getValue<std::string>("buyer_phone"), "255712345678");
  EXPECT_FALSE(so->getValue<std::string>("push_transid").empty());

  pay(id);
  ASSERT_TRUE(reaches(id, "succeeded"));
  quiesce();
  EXPECT_EQ(fulfilments(id), 1);
}

TEST_F(SelcomFlow, RefusedPushFallsBackToTheUssdMenu) {
  script(R"({"push_failures": 1})");
  auto p = order(1000, true, "0712345678");
  const std::string id = p->getValue<std::string>("id");
  EXPECT_EQ(p->getValue<std::string>("status"), "pending");
  auto action = p->getObject("action");
  EXPECT_EQ(action->getValue<std::string>("type"), "ussd_instructions");
  EXPECT_NE(action->getValue<std::string>("message").find("could not send"), std::string::npos);
  pay(id);
  ASSERT_TRUE(reaches(id, "succeeded"));
}

// ---------------------------------------------------------------- SMS proof

TEST_F(SelcomFlow, SettledByPastedSms) {
  auto p = order(1000);
  const std::string id = p->getValue<std::string>("id");

  // Before paying: a clear "not yet", nothing settles.
  HttpResult early =
      proof(id, "AB12CD34EF Confirmed. Tsh1,000.00 sent to CVCHAPCHAP on 1/5/24 at 9:00 AM.");
  ASSERT_EQ(early.status, 200) << early.body;
  EXPECT_FALSE(parse(early.body)->getValue<bool>("settled"));
  EXPECT_NE(parse(early.body)->getValue<std::string>("message").find("not received"),
            std::string::npos)
      << early.body;

  auto paid = pay(id, R"({"webhooks": 0})");  // no webhook: only the SMS can tell us
  const std::string sms = paid->getValue<std::string>("sms");
  EXPECT_NE(sms.find(paid->getValue<std::string>("transid")), std::string::npos);
  EXPECT_EQ(status(id), "pending");

  // Text that is not a confirmation, and a confirmation without an id.
  HttpResult junk = proof(id, "hello, I paid yesterday");
  EXPECT_EQ(junk.status, 400);
  EXPECT_NE(parse(junk.body)->getValue<std::string>("message").find("does not look like"),
            std::string::npos);
  HttpResult noId = proof(id, "Confirmed. You have received Tsh 1,000 from JOHN. Transaction ID: ");
  EXPECT_EQ(noId.status, 400);
  EXPECT_NE(parse(noId.body)->getValue<std::string>("message").find("No transaction ID"),
            std::string::npos)
      << noId.body;
  // The right id with the wrong amount.
  HttpResult wrong = proof(
      id, paid->getValue<std::string>("transid") + " Confirmed. Tsh500.00 sent to CVCHAPCHAP.");
  EXPECT_EQ(wrong.status, 400);
  EXPECT_NE(parse(wrong.body)->getValue<std::string>("message").find("amount or currency"),
            std::string::npos);
  // Another id, the right amount: Selcom's transaction is not this one.
  HttpResult other = proof(id, "ZZ99ZZ99ZZ Confirmed. Tsh1,000.00 sent to CVCHAPCHAP.");
  EXPECT_EQ(other.status, 400);
  EXPECT_NE(parse(other.body)->getValue<std::string>("message").find("does not match"),
            std::string::npos);
  EXPECT_EQ(status(id), "pending");

  HttpResult ok = proof(id, "  \n" + sms + "\n");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_TRUE(parse(ok.body)->getValue<bool>("settled")) << ok.body;
  EXPECT_EQ(status(id), "succeeded");
  // Pasting it again changes nothing.
  HttpResult again = proof(id, sms);
  EXPECT_EQ(again.status, 200);
  quiesce();
  EXPECT_EQ(fulfilments(id), 1);
}

TEST_F(SelcomFlow, ReusedSmsFromAnotherPaymentIsRefused) {
  auto a = order(1000);
  const std::string idA = a->getValue<std::string>("id");
  const std::string smsA = pay(idA)->getValue<std::string>("sms");
  ASSERT_TRUE(reaches(idA, "succeeded"));

  auto b = order(1000);
  const std::string idB = b->getValue<std::string>("id");
  HttpResult r = proof(idB, smsA);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(
      parse(r.body)->getValue<std::string>("message").find("already used for another payment"),
      std::string::npos)
      << r.body;
  EXPECT_EQ(status(idB), "pending");
  quiesce();
  EXPECT_EQ(fulfilments(idB), 0);
  EXPECT_EQ(fulfilments(idA), 1);
}

TEST_F(SelcomFlow, ReusedProviderTransactionIsHeld) {
  // Selcom reporting one transaction for two orders: the kernel's unique index holds the second.
  auto a = order(1000);
  const std::string idA = a->getValue<std::string>("id");
  const std::string transid = pay(idA)->getValue<std::string>("transid");
  ASSERT_TRUE(reaches(idA, "succeeded"));
  auto b = order(1000);
  const std::string idB = b->getValue<std::string>("id");
  pay(idB, R"({"transid": ")" + transid + R"("})");
  ASSERT_TRUE(reaches(idB, "held"));
  quiesce();
  EXPECT_EQ(fulfilments(idB), 0);
  EXPECT_EQ(fulfilments(idA), 1);
}

// ---------------------------------------------------------------- webhooks

TEST_F(SelcomFlow, BadWebhookSignatureIsRefusedAndChangesNothing) {
  auto p = order(1000);
  const std::string id = p->getValue<std::string>("id");
  pay(id, R"({"webhooks": 0})");  // paid at Selcom: a forged webhook would be "true" too

  HttpResult forged = webhook(id, "not-the-secret");
  EXPECT_EQ(forged.status, 401) << forged.body;
  HttpResult unsignedHook = http(port_, "POST", "/webhooks/selcom",
                                 R"({"order_id":")" + id + R"(","payment_status":"COMPLETED"})");
  EXPECT_EQ(unsignedHook.status, 401) << "require_signed_webhooks is on";
  quiesce();
  EXPECT_EQ(status(id), "pending");
  EXPECT_EQ(webhookEvents(id), 0);

  // The genuine one goes through.
  EXPECT_EQ(webhook(id, kSecret, simTransid(id)).status, 200);
  ASSERT_TRUE(reaches(id, "succeeded"));
}

TEST_F(SelcomFlow, SignedWebhookOutsideTheTimeWindowIsRefused) {
  auto p = order(1000);
  const std::string id = p->getValue<std::string>("id");
  pay(id, R"({"webhooks": 0})");
  const std::string transid = simTransid(id);
  // A genuine signature, made in 2019 (Selcom's documented timestamp) or 6 minutes ago.
  HttpResult old = webhook(id, kSecret, transid, 1551162646000);
  EXPECT_EQ(old.status, 401) << old.body;
  HttpResult stale = webhook(id, kSecret, transid, nowMs() - 6 * 60000);
  EXPECT_EQ(stale.status, 401) << stale.body;
  HttpResult early = webhook(id, kSecret, transid, nowMs() + 6 * 60000);
  EXPECT_EQ(early.status, 401) << early.body;
  quiesce();
  EXPECT_EQ(status(id), "pending");
  EXPECT_EQ(webhookEvents(id), 0);
  // Four minutes old is inside the window (clocks drift, deliveries queue).
  HttpResult recent = webhook(id, kSecret, transid, nowMs() - 4 * 60000);
  EXPECT_EQ(recent.status, 200) << recent.body;
  ASSERT_TRUE(reaches(id, "succeeded"));
}

TEST_F(SelcomFlow, JsonWebhookWithoutAJsonContentTypeIsRead) {
  // Selcom's own callback sample posts JSON with no Content-Type; clients then label it a form.
  auto a = order(1000);
  const std::string idA = a->getValue<std::string>("id");
  pay(idA, R"({"webhooks": 0})");
  HttpResult labelledForm =
      webhook(idA, kSecret, simTransid(idA), nowMs(), "application/x-www-form-urlencoded");
  EXPECT_EQ(labelledForm.status, 200) << labelledForm.body;
  ASSERT_TRUE(reaches(idA, "succeeded"));

  auto b = order(1000);
  const std::string idB = b->getValue<std::string>("id");
  pay(idB, R"({"webhooks": 0})");
  HttpResult unlabelled = webhook(idB, kSecret, simTransid(idB), nowMs(), "");
  EXPECT_EQ(unlabelled.status, 200) << unlabelled.body;
  ASSERT_TRUE(reaches(idB, "succeeded"));
  EXPECT_EQ(webhookEvents(idB), 1);
}

TEST_F(SelcomFlow, ReplayedAndDuplicateWebhooksSettleOnce) {
  auto p = order(1000);
  const std::string id = p->getValue<std::string>("id");
  auto paid = pay(id, R"({"webhooks": 2})");  // Selcom delivering twice
  ASSERT_TRUE(reaches(id, "succeeded"));
  // An attacker (or a proxy) replaying the captured delivery.
  auto hook = paid->getObject("webhook");
  std::map<std::string, std::string> headers;
  auto hs = hook->getObject("headers");
  for (const auto& kv : *hs) headers[kv.first] = kv.second.convert<std::string>();
  HttpResult replay =
      http(port_, "POST", "/webhooks/selcom", hook->getValue<std::string>("body"), headers);
  ASSERT_EQ(replay.status, 200) << replay.body;
  EXPECT_EQ(parse(replay.body)->getValue<int>("duplicates"), 1);
  quiesce();
  EXPECT_EQ(fulfilments(id), 1);
  EXPECT_EQ(webhookEvents(id), 1);
}

TEST_F(SelcomFlow, MisspelledResulcodeWebhookIsAccepted) {
  auto p = order(1000);
  const std::string id = p->getValue<std::string>("id");
  auto paid = pay(id, R"({"misspelled_resultcode": true})");
  EXPECT_NE(paid->getObject("webhook")->getValue<std::string>("body").find("\"resulcode\""),
            std::string::npos);
  EXPECT_EQ(paid->getArray("webhook_statuses")->getElement<int>(0), 200);
  ASSERT_TRUE(reaches(id, "succeeded"));
}

TEST_F(SelcomFlow, LateWebhookStillSettles) {
  auto p = order(1000);
  const std::string id = p->getValue<std::string>("id");
  pay(id, R"({"webhook_delay_ms": 400})");
  EXPECT_EQ(status(id), "pending") << "nothing arrived yet";
  ASSERT_TRUE(reaches(id, "succeeded"));
  quiesce();
  EXPECT_EQ(fulfilments(id), 1);
}

TEST_F(SelcomFlow, WebhookBeforeTheCreateReply) {
  script(R"({"webhook_before_reply": 1})");
  auto p = order(1000);
  const std::string id = p->getValue<std::string>("id");
  ASSERT_TRUE(reaches(id, "succeeded"));
  quiesce();
  EXPECT_EQ(fulfilments(id), 1);
  EXPECT_EQ(webhookEvents(id), 1);
  // The webhook really was in the inbox before initiate() returned.
  int webhookAt = -1, initiatedAt = -1, i = 0;
  for (const auto& e : kernel_->payments().events(id)) {
    if (e.kind == "webhook" && webhookAt < 0) webhookAt = i;
    if (e.kind == "initiated" && initiatedAt < 0) initiatedAt = i;
    ++i;
  }
  ASSERT_GE(webhookAt, 0);
  ASSERT_GE(initiatedAt, 0);
  EXPECT_LT(webhookAt, initiatedAt);
}

// ---------------------------------------------------------------- failures

TEST_F(SelcomFlow, WrongAmountIsHeldNotFulfilled) {
  auto p = order(1000);
  const std::string id = p->getValue<std::string>("id");
  auto paid = pay(id, R"({"amount": 500})");
  EXPECT_NE(paid->getValue<std::string>("sms").find("Tsh500.00"), std::string::npos);
  ASSERT_TRUE(reaches(id, "held"));
  quiesce();
  EXPECT_EQ(fulfilments(id), 0);
  EXPECT_EQ(fulfilments(id, "failed"), 0);
}

TEST_F(SelcomFlow, DeclinedPushFails) {
  auto p = order(1000, true, "0712345678");
  const std::string id = p->getValue<std::string>("id");
  EXPECT_EQ(p->getObject("action")->getValue<std::string>("type"), "push_sent");
  pay(id, R"({"outcome": "decline"})");
  ASSERT_TRUE(reaches(id, "failed"));
  EXPECT_FALSE(payment(id)->optValue<std::string>("failure_reason", "").empty());
  quiesce();
  EXPECT_EQ(fulfilments(id), 0);
  EXPECT_EQ(fulfilments(id, "failed"), 1);
  // A paid-looking SMS cannot revive it.
  EXPECT_EQ(proof(id, "AB12CD34EF Confirmed. Tsh1,000.00 sent to CVCHAPCHAP.").status, 409);
}

TEST_F(SelcomFlow, NeverPaidStaysPending) {
  auto p = order(1000, true, "0712345678");
  const std::string id = p->getValue<std::string>("id");
  auto r = pay(id, R"({"outcome": "never_paid"})");
  EXPECT_EQ(r->getArray("webhook_statuses")->getElement<int>(0), 200);
  quiesce();
  EXPECT_EQ(webhookEvents(id), 1);
  EXPECT_EQ(status(id), "pending");
  HttpResult pr = proof(id, "AB12CD34EF Confirmed. Tsh1,000.00 sent to CVCHAPCHAP.");
  ASSERT_EQ(pr.status, 200);
  EXPECT_FALSE(parse(pr.body)->getValue<bool>("settled"));
}

TEST_F(SelcomFlow, TimeoutAtCreateIsUnknownUntilTheJanitorResolvesIt) {
  script(R"({"create_timeouts": 1})");
  auto p = order(1000);
  const std::string id = p->getValue<std::string>("id");
  EXPECT_EQ(p->getValue<std::string>("status"), "unknown");
  bool timedOut = false;
  for (const auto& e : kernel_->payments().events(id))
    timedOut = timedOut || e.kind == "initiate_timeout";
  EXPECT_TRUE(timedOut);
  // The order did reach Selcom: the janitor's order-status finds it, still unpaid.
  auto due = [&] {
    // Makes the payment due now (its first check would be in 30 s) and runs the janitor;
    // its periodic run may have claimed it first, hence no count asserted.
    kernel_->store().exec("UPDATE payments SET next_check_at = 0 WHERE id = ?", {id});
    kernel_->payments().runJanitor();
  };
  due();
  ASSERT_TRUE(reaches(id, "pending"));
  // Paid without a webhook: the next janitor round settles it.
  pay(id, R"({"webhooks": 0})");
  EXPECT_EQ(status(id), "pending");
  due();
  ASSERT_TRUE(reaches(id, "succeeded"));
  quiesce();
  EXPECT_EQ(fulfilments(id), 1);
}

// ---------------------------------------------------------------- the simulator itself

TEST_F(SelcomFlow, SimulatorRejectsBadSignaturesLikeSelcom) {
  auto p = order(1000);
  const std::string id = p->getValue<std::string>("id");
  Fields f = {{"order_id", id}};
  auto get = [&](const std::string& key, const std::string& secret) {
    std::map<std::string, std::string> headers;
    for (const auto& h : signingHeaders(key, secret, isoTimestamp(1714550400000), f))
      headers[h.first] = h.second;
    return http(port_, "GET", "/sandbox/selcom/v1/checkout/order-status?" + queryString(f), "",
                headers);
  };
  HttpResult good = get(kKey, kSecret);
  ASSERT_EQ(good.status, 200) << good.body;
  auto env = parseEnvelope(good.status, good.body);
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env.value().resultcode, "000");
  ASSERT_TRUE(env.value().data0);
  EXPECT_EQ(env.value().data0->getValue<std::string>("payment_status"), "PENDING");

  EXPECT_EQ(get(kKey, "wrong-secret").status, 401);
  EXPECT_EQ(get("wrong-key", kSecret).status, 401);
  EXPECT_EQ(http(port_, "GET", "/sandbox/selcom/v1/checkout/order-status?order_id=" + id).status,
            401);
  // A signed request with an extra, unsigned field is refused too.
  std::map<std::string, std::string> headers;
  for (const auto& h : signingHeaders(kKey, kSecret, isoTimestamp(1714550400000), f))
    headers[h.first] = h.second;
  EXPECT_EQ(http(port_, "GET",
                 "/sandbox/selcom/v1/checkout/order-status?" + queryString(f) + "&x=1", "", headers)
                .status,
            401);

  // cancel-order: a signed DELETE; the payment then fails on its next check.
  std::map<std::string, std::string> del;
  for (const auto& h : signingHeaders(kKey, kSecret, isoTimestamp(1714550400000), f))
    del[h.first] = h.second;
  HttpResult cancelled =
      http(port_, "DELETE", "/sandbox/selcom/v1/checkout/cancel-order?" + queryString(f), "", del);
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  auto synced = kernel_->payments().sync(id);
  ASSERT_TRUE(synced.ok());
  EXPECT_EQ(statusName(synced.value().status), std::string("failed"));
}

TEST_F(SelcomFlow, HtmlPayPageWorksWithoutJavaScript) {
  auto p = order(1000);
  const std::string id = p->getValue<std::string>("id");
  EXPECT_NE(
      p->getObject("action")->optValue<std::string>("url", "").find("/sandbox/selcom/pay/" + id),
      std::string::npos);
  HttpResult page = http(port_, "GET", "/sandbox/selcom/pay/" + id);
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.header("Content-Type").find("text/html"), std::string::npos);
  EXPECT_NE(page.body.find("<form"), std::string::npos);
  EXPECT_NE(page.body.find("method=\"post\""), std::string::npos);
  EXPECT_NE(page.body.find("CVCHAPCHAP"), std::string::npos);
  EXPECT_EQ(page.body.find("<script"), std::string::npos);

  HttpResult done = http(port_, "POST", "/sandbox/selcom/pay/" + id, "outcome=paid&amount=1000", {},
                         "application/x-www-form-urlencoded");
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_NE(done.body.find("Confirmed."), std::string::npos) << "shows the SMS to paste";
  ASSERT_TRUE(reaches(id, "succeeded"));
  // Paying twice is refused; the page no longer offers the form.
  EXPECT_EQ(http(port_, "POST", "/sandbox/selcom/pay/" + id, "outcome=paid", {},
                 "application/x-www-form-urlencoded")
                .status,
            409);
  EXPECT_EQ(http(port_, "GET", "/sandbox/selcom/pay/" + id).body.find("<form"), std::string::npos);
  EXPECT_EQ(http(port_, "GET", "/sandbox/selcom/pay/no-such-order").status, 404);
}

TEST_F(SelcomFlow, SimulatorOrdersSurviveARestart) {
  auto p = order(1000);
  const std::string id = p->getValue<std::string>("id");
  kernel_.reset();
  startKernel();
  // The order is still known after the restart. Its webhook URL names the old port, so the
  // janitor's order-status check settles it.
  auto paid = pay(id);
  EXPECT_EQ(paid->getValue<std::string>("payment_status"), "COMPLETED");
  kernel_->store().exec("UPDATE payments SET next_check_at = 0 WHERE id = ?", {id});
  kernel_->payments().runJanitor();
  ASSERT_TRUE(reaches(id, "succeeded"));
  quiesce();
  EXPECT_EQ(fulfilments(id), 1);
}

TEST_F(SelcomFlow, WholeShillingsOnly) {
  HttpResult r = postJson(
      "/shop/orders", R"({"amount_minor": 100050, "currency": "TZS", "providers": ["selcom"]})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(parse(r.body)->getValue<std::string>("message").find("whole amounts"),
            std::string::npos)
      << r.body;
}

TEST_F(SelcomFlow, NoSimulatorOutsideSandbox) {
  kernel_.reset();
  startKernel(false);
  EXPECT_EQ(http(port_, "GET", "/sandbox/selcom/pay/x").status, 404);
  EXPECT_EQ(http(port_, "POST", "/sandbox/selcom/script", "{}").status, 404);
}

TEST(SelcomConfig, RefusesSandboxCredentialsOutsideSandbox) {
  TempDir dir;
  std::string yaml = std::string("server: {listen: \"127.0.0.1:0\", access_log: false}\n") +
                     "database: {url: \"sqlite:" + dir.file("k.db") + "\"}\n" +
                     "log: {level: error}\n"
                     "auth: {jwt_secret: test-secret-0123456789abcdefghijklmnop}\n"
                     "sandbox: false\n"
                     "plugins:\n"
                     "  - name: selcom\n"
                     "    library: " SELCOM_PLUGIN
                     "\n"
                     "    settings: {base_url: \"https://apigw.selcommobile.com/v1\"}\n";
  Kernel k(ConfigLoader::loadString(yaml, "selcom-prod.yaml"));
  k.open();
  try {
    k.start();
    FAIL() << "started with the sandbox api_key outside sandbox mode";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("api_key"), std::string::npos) << e.what();
  }
}

// cancel-order as Selcom answers it: a pending order is cancelled and can no longer be paid;
// a paid one is "no longer pending"; scripted failures and timeouts of the call.
TEST_F(SelcomFlow, SimulatorCancelOrder) {
  auto cancel = [&](const std::string& id) {
    Fields f{{"order_id", id}};
    std::map<std::string, std::string> headers;
    for (const auto& h : signingHeaders(kKey, kSecret, isoTimestamp(1714550400000), f))
      headers[h.first] = h.second;
    return http(port_, "DELETE", "/sandbox/selcom/v1/checkout/cancel-order?" + queryString(f), "",
                headers);
  };
  const std::string open = order(1000)->getValue<std::string>("id");
  EXPECT_EQ(
      http(port_, "DELETE", "/sandbox/selcom/v1/checkout/cancel-order?order_id=" + open).status,
      401);
  script(R"({"cancel_failures": 1})");
  HttpResult failed = cancel(open);
  EXPECT_EQ(failed.status, 500) << failed.body;
  EXPECT_EQ(parseEnvelope(failed.status, failed.body).value().resultcode, "999");
  HttpResult ok = cancel(open);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(parseEnvelope(ok.status, ok.body).value().resultcode, "000");
  EXPECT_EQ(http(port_, "GET", "/sandbox/selcom/orders/" + open).body.find("\"CANCEL\"") !=
                std::string::npos,
            true);
  pay(open, "{}", 409);  // a cancelled order cannot be paid
  HttpResult again = cancel(open);
  EXPECT_EQ(parseEnvelope(again.status, again.body).value().resultcode, "403");
  // A USSD payment already in flight completes after all (after_cancel): Selcom then reports
  // the order paid, and the kernel hears a success for it.
  auto inFlight = pay(open, R"({"after_cancel": true, "webhooks": 0})");
  EXPECT_EQ(inFlight->getValue<std::string>("payment_status"), "COMPLETED");
  auto synced = kernel_->payments().sync(open);
  ASSERT_TRUE(synced.ok());
  EXPECT_EQ(statusName(synced.value().status), std::string("succeeded"));
  pay(open, R"({"after_cancel": true})", 409);  // once

  const std::string paid = order(1000)->getValue<std::string>("id");
  pay(paid);
  HttpResult late = cancel(paid);
  ASSERT_EQ(late.status, 200);
  EXPECT_EQ(parseEnvelope(late.status, late.body).value().resultcode, "403");
  EXPECT_NE(late.body.find("no longer pending"), std::string::npos);

  script(R"({"cancel_timeouts": 1})");
  auto started = std::chrono::steady_clock::now();
  cancel(order(1000)->getValue<std::string>("id"));
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(kTimeoutMs));
}

// cancel() through the kernel's loaded plugin (SDK 1.1 over the ABI).
TEST_F(SelcomFlow, ProviderCancelAsksSelcomThenOrderStatus) {
  PaymentProvider* provider = nullptr;
  for (auto& lp : kernel_->plugins().plugins())
    for (auto& pr : lp.providers)
      if (pr->name() == "selcom") provider = pr.get();
  ASSERT_NE(provider, nullptr);
  Capabilities caps = provider->capabilities();
  EXPECT_TRUE(caps.cancel);
  EXPECT_EQ(caps.refunds, RefundSupport::none);
  auto get = [&](const std::string& id) { return kernel_->payments().get(id).value(); };

  // Pending: cancelled at Selcom, then failed; it can no longer be paid.
  const std::string open = order(1000)->getValue<std::string>("id");
  auto cancelled = provider->cancel(get(open));
  ASSERT_TRUE(cancelled.ok()) << cancelled.error().internal;
  EXPECT_EQ(cancelled->state, ProviderStatus::State::failed) << cancelled->detail;
  EXPECT_EQ(cancelled->reason, "The payment was cancelled.");
  EXPECT_NE(cancelled->detail.find("cancel-order 000"), std::string::npos) << cancelled->detail;
  EXPECT_NE(http(port_, "GET", "/sandbox/selcom/orders/" + open).body.find("\"CANCEL\""),
            std::string::npos);
  pay(open, "{}", 409);

  // Paid a moment before: too late, the success is reported.
  const std::string paid = order(1000)->getValue<std::string>("id");
  pay(paid, R"({"webhooks": 0})");
  auto late = provider->cancel(get(paid));
  ASSERT_TRUE(late.ok()) << late.error().internal;
  EXPECT_EQ(late->state, ProviderStatus::State::succeeded);
  EXPECT_FALSE(late->providerTxnId.empty());

  // Selcom down, or too slow: an error, nothing cancelled.
  const std::string slow = order(1000)->getValue<std::string>("id");
  script(R"({"cancel_failures": 1})");
  auto down = provider->cancel(get(slow));
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code, ErrorCode::providerError);
  EXPECT_TRUE(down.error().retryable);
  script(R"({"cancel_timeouts": 1})");
  auto timeout = provider->cancel(get(slow));
  ASSERT_FALSE(timeout.ok());
  EXPECT_EQ(timeout.error().code, ErrorCode::providerTimeout) << timeout.error().internal;
  EXPECT_NE(http(port_, "GET", "/sandbox/selcom/orders/" + slow).body.find("\"PENDING\""),
            std::string::npos);
}

}  // namespace
}  // namespace malipo::selcom
