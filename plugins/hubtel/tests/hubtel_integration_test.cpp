// The Hubtel plugin through an in-process kernel with the credits product, against its
// simulator over real loopback HTTP: the simulator dials, answers, pays and sends
// fulfilments exactly as Hubtel does, receives our fulfilment callbacks and serves the
// status check API. One test (or more) per item of the seed's testing checklist, on SQLite
// and, under scripts/test.sh, PostgreSQL.
#include <Poco/JSON/Parser.h>
#include <Poco/URI.h>
#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <sstream>
#include <thread>

#include "app/Kernel.hpp"
#include "config/ConfigLoader.hpp"
#include "engines.hpp"
#include "support/TestSupport.hpp"

using namespace malipo;
using namespace malipo::test;

namespace {

const char* kMobile = "233244123456";
const char* kAccount = "msisdn:233244123456";

Poco::JSON::Object::Ptr parse(const std::string& s) {
  return Poco::JSON::Parser().parse(s).extract<Poco::JSON::Object::Ptr>();
}

std::string str(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  return o && o->has(key) && !o->isNull(key) ? o->get(key).convert<std::string>() : std::string();
}

// What our route answered, as the simulator saw it.
struct Screen {
  int http = 0;
  std::string raw;
  Poco::JSON::Object::Ptr reply;
  std::string type() const { return str(reply, "Type"); }
  std::string message() const { return str(reply, "Message"); }
  std::string clientState() const { return str(reply, "ClientState"); }
};

}  // namespace

class HubtelTest : public EngineTest {
 protected:
  void boot(const std::string& hubtelSettings = "", const std::string& logLevel = "error",
            const std::string& creditsSettings = "{providers: [hubtel]}",
            const std::string& morePlugins = "") {
    dbUrl_ = url();
    std::string yaml =
        "server: {listen: \"127.0.0.1:0\", access_log: false, rate_limits: {default: "
        "{requests_per_minute: 1000000, burst: 100000}, "
        "buckets: {webhooks: {requests_per_minute: 1000000, burst: 100000}}}}\n"
        "database: {url: \"" +
        dbUrl_ +
        "\", pool_size: 16}\n"
        "admin: {token: admin-token-0123456789abcdefghijklmnop}\n"
        "jobs: {workers: 2, poll_interval_ms: 20, rescue_interval_ms: 200}\n"
        "log: {level: " +
        logLevel +
        "}\n"
        "sandbox: true\n"
        "plugins:\n"
        "  - name: hubtel\n"
        "    library: " HUBTEL_PLUGIN
        "\n"
        "    settings:\n"
        "      client_state_secret: integration-secret\n"
        "      callback_retry_base_ms: 50\n"
        // Bounds how long a job calling our own (stopping) server can hold up a teardown.
        "      timeout_ms: 2000\n" +
        hubtelSettings +
        "  - name: credits\n"
        "    library: " CREDITS_PLUGIN
        "\n"
        "    settings: " +
        creditsSettings + "\n" + morePlugins;
    kernel_ = std::make_unique<Kernel>(ConfigLoader::loadString(yaml, "hubtel.yaml"));
    kernel_->open();
    kernel_->start();
    port_ = kernel_->port();
  }
  void TearDown() override {
    if (kernel_) {
      // Callbacks go to our own simulator in sandbox: let them finish rather than have the
      // shutdown wait out their timeouts.
      eventually(
          [&] {
            return kernel_->store()
                       .query(
                           "SELECT COUNT(*) AS n FROM hubtel_fulfilments WHERE callback_status = "
                           "'pending'")
                       .i64(0, "n") == 0;
          },
          5000);
    }
    kernel_.reset();
  }

  Screen screenOf(const HttpResult& r) {
    EXPECT_EQ(r.status, 200) << r.body;
    auto o = parse(r.body);
    Screen s;
    s.http = o->optValue<int>("http_status", 0);
    s.raw = str(o, "raw");
    if (o->has("reply")) s.reply = o->getObject("reply");
    return s;
  }
  // The phone dials the code (Hubtel sends Initiation).
  std::string dial(Screen* out = nullptr, const std::string& mobile = kMobile) {
    auto r =
        http(port_, "POST", "/sandbox/hubtel/driver/dial", R"({"mobile": ")" + mobile + R"("})");
    auto o = parse(r.body);
    if (out) *out = screenOf(r);
    return str(o, "session_id");
  }
  Screen answer(const std::string& session, const std::string& text) {
    return screenOf(http(port_, "POST", "/sandbox/hubtel/driver/answer",
                         R"({"session_id": ")" + session + R"(", "text": ")" + text + R"("})"));
  }
  Screen answerWithState(const std::string& session, const std::string& text,
                         const std::string& clientState) {
    return screenOf(http(port_, "POST", "/sandbox/hubtel/driver/answer",
                         R"({"session_id": ")" + session + R"(", "text": ")" + text +
                             R"(", "client_state": ")" + clientState + R"("})"));
  }
  // Dials and buys qty × the first package (10 credits, GHS 10.00) up to AddToCart.
  std::string checkout(int qty = 2, Screen* cart = nullptr) {
    std::string s = dial();
    EXPECT_EQ(answer(s, "1").type(), "response");
    EXPECT_EQ(answer(s, std::to_string(qty)).type(), "response");
    Screen c = answer(s, "1");
    EXPECT_EQ(c.type(), "AddToCart") << c.raw;
    if (cart) *cart = c;
    return s;
  }
  Poco::JSON::Object::Ptr pay(const std::string& session, const std::string& extra = "") {
    auto r = http(port_, "POST", "/sandbox/hubtel/driver/pay",
                  R"({"session_id": ")" + session + "\"" + extra + "}");
    EXPECT_EQ(r.status, 200) << r.body;
    return parse(r.body);
  }
  Poco::JSON::Array::Ptr callbacks(const std::string& session) {
    return parse(http(port_, "GET", "/sandbox/hubtel/driver/callbacks?session_id=" + session).body)
        ->getArray("callbacks");
  }
  // Direct POSTs to the interaction route, for bodies the simulator would never send.
  Poco::JSON::Object::Ptr ussd(const std::string& body, int* status = nullptr) {
    auto r = http(port_, "POST", "/ussd", body);
    if (status) *status = r.status;
    return parse(r.body);
  }
  Rows session(const std::string& id) {
    return kernel_->store().query("SELECT * FROM hubtel_sessions WHERE session_id = ?", {id});
  }
  std::string paymentOf(const std::string& sessionId) {
    Rows r = session(sessionId);
    return r.empty() || r.isNull(0, "payment_id") ? "" : r.str(0, "payment_id");
  }
  std::string status(const std::string& paymentId) {
    return kernel_->store()
        .query("SELECT status FROM payments WHERE id = ?", {paymentId})
        .str(0, "status");
  }
  std::int64_t balance(const std::string& account = kAccount) {
    Rows r =
        kernel_->store().query("SELECT balance FROM credit_accounts WHERE account = ?", {account});
    return r.empty() ? 0 : r.i64(0, "balance");
  }
  std::int64_t ledgerRows(const std::string& account = kAccount) {
    return kernel_->store()
        .query("SELECT COUNT(*) AS n FROM credit_ledger WHERE account = ?", {account})
        .i64(0, "n");
  }
  std::string events(const std::string& id) {
    std::string s;
    for (const auto& e : kernel_->payments().events(id)) s += e.kind + ": " + e.detail + "\n";
    return s;
  }
  std::string metrics() { return http(port_, "GET", "/metrics").body; }
  std::string job(const std::string& uniqueKey) {
    Rows r = kernel_->store().query("SELECT state FROM jobs WHERE unique_key = ?", {uniqueKey});
    return r.empty() ? "" : r.str(0, "state");
  }

  std::string dbUrl_;
  std::unique_ptr<Kernel> kernel_;
  std::uint16_t port_ = 0;
};

// ---- Service interaction -----------------------------------------------------------------

TEST_P(HubtelTest, InitiationShowsTheMainMenuBuiltFromCatalogs) {
  SKIP_WITHOUT_ENGINE();
  boot();
  Screen s;
  std::string id = dial(&s);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(s.http, 200);
  EXPECT_EQ(s.type(), "response");
  EXPECT_EQ(s.message(),
            "Malipo\n1. 10 credits - GHS 10.00\n2. 25 credits - GHS 25.00\n3. 50 credits - GHS "
            "50.00\n4. Check my balance\n98. Kiswahili / Fran\xC3\xA7"
            "ais\n0. Exit");
  EXPECT_EQ(str(s.reply, "Label"), "Main Menu");
  EXPECT_EQ(str(s.reply, "DataType"), "input");
  EXPECT_EQ(str(s.reply, "FieldType"), "text");
  EXPECT_EQ(str(s.reply, "SessionId"), id);
  EXPECT_FALSE(s.clientState().empty());
  EXPECT_LT(s.clientState().size(), 40u);
  Rows row = session(id);
  ASSERT_EQ(row.size(), 1u);
  EXPECT_EQ(row.str(0, "status"), "open");
  EXPECT_EQ(row.str(0, "mobile"), kMobile);
  EXPECT_NE(metrics().find("malipo_hubtel_sessions_started_total{operator=\"mtn\"} 1"),
            std::string::npos);
}

// Screens may show a menu built up to a second ago (kMenuMaxAgeMs), but what the customer
// confirms is priced from the product's catalog as it is at checkout: a price changed while
// the session was on the confirmation screen is the price of the payment and of the cart.
TEST_P(HubtelTest, CheckoutChargesTheCatalogAsItIsAtCheckout) {
  SKIP_WITHOUT_ENGINE();
  boot("", "error", "{providers: [hubtel]}",
       "  - {name: shop, library: " SHOP_PLUGIN ", settings: {deliver_in_tx: true}}\n");
  Screen s;
  std::string id = dial(&s);
  // The widget's entry number, wherever the catalogs put it.
  std::string text = s.message(), entry;
  auto at = text.find(". Widget - GHS 10.50");
  ASSERT_NE(at, std::string::npos) << text;
  entry = text.substr(text.rfind('\n', at) + 1, at - text.rfind('\n', at) - 1);
  Screen confirm = answer(id, entry);  // no quantity question: the shop sells one at a time
  ASSERT_EQ(confirm.type(), "response") << confirm.raw;
  EXPECT_NE(confirm.message().find("10.50"), std::string::npos) << confirm.message();
  auto r = http(port_, "POST", "/shop/widget-price", R"({"amount_minor": 1275})");
  ASSERT_EQ(r.status, 200) << r.body;
  Screen cart = answer(id, "1");
  ASSERT_EQ(cart.type(), "AddToCart") << cart.raw;
  EXPECT_NE(cart.raw.find("12.75"), std::string::npos) << cart.raw;
  std::string paymentId = paymentOf(id);
  ASSERT_FALSE(paymentId.empty());
  Rows p = kernel_->store().query("SELECT amount_minor, product FROM payments WHERE id = ?",
                                  {paymentId});
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p.i64(0, "amount_minor"), 1275);
  EXPECT_EQ(p.str(0, "product"), "shop");
  // The next session's first screen shows the new price too: the checkout rebuilt the menu.
  Screen next;
  dial(&next, "233200585543");
  EXPECT_NE(next.message().find(". Widget - GHS 12.75"), std::string::npos) << next.message();
}

// A configured package without a name is labelled "<credits> credits" (the credits plugin's
// documented default), not with an empty name.
// Issue 20: the menu in the configured language (messages/<lang>.json); a text the operator
// set stays as set.
TEST_P(HubtelTest, TheMenuSpeaksTheConfiguredLanguage) {
  SKIP_WITHOUT_ENGINE();
  boot("      language: sw\n      texts: {more_entry: Endelea}\n");
  Screen s;
  std::string id = dial(&s);
  EXPECT_EQ(s.message(),
            "Malipo\n1. 10 credits - GHS 10.00\n2. 25 credits - GHS 25.00\n3. 50 credits - GHS "
            "50.00\n4. Angalia salio langu\n98. English / Fran\xC3\xA7"
            "ais\n0. Toka");
  EXPECT_EQ(str(s.reply, "Label"), "Menyu Kuu");
  Screen q = answer(id, "1");
  EXPECT_NE(q.message().find("Weka idadi (1-"), std::string::npos) << q.message();
  Screen bad = answer(id, "abc");
  EXPECT_NE(bad.message().find("Idadi si sahihi."), std::string::npos) << bad.message();
}

// Issue 20: Hubtel's request carries no language, so the customer chooses one in the menu
// (98 on the first screen); it stays for the rest of the session (ClientState and the stored
// step), through the quantity, the confirmation and the checkout, and a new session starts
// in the configured language again. language_choice: false hides the entry.
TEST_P(HubtelTest, TheCustomerSwitchesTheMenuLanguageForTheSession) {
  SKIP_WITHOUT_ENGINE();
  boot();
  Screen s;
  std::string id = dial(&s);
  ASSERT_NE(s.message().find("\n98. Kiswahili / Fran\xC3\xA7"
                             "ais\n0. Exit"),
            std::string::npos)
      << s.message();
  Screen choose = answer(id, "98");
  EXPECT_EQ(choose.message(),
            "Choose your language:\n1. English\n2. Kiswahili\n3. Fran\xC3\xA7"
            "ais");
  EXPECT_EQ(str(choose.reply, "Label"), "Language");
  Screen bad = answer(id, "7");
  EXPECT_EQ(bad.message().rfind("Invalid choice.\nChoose your language:", 0), 0u) << bad.message();
  Screen sw = answer(id, "2");
  EXPECT_EQ(sw.message(),
            "Malipo\n1. 10 credits - GHS 10.00\n2. 25 credits - GHS 25.00\n3. 50 credits - GHS "
            "50.00\n4. Angalia salio langu\n98. English / Fran\xC3\xA7"
            "ais\n0. Toka");
  EXPECT_EQ(str(sw.reply, "Label"), "Menyu Kuu");
  Screen q = answer(id, "1");
  EXPECT_NE(q.message().find("Weka idadi (1-"), std::string::npos) << q.message();
  Screen c = answer(id, "2");
  EXPECT_NE(c.message().find("Nunua 2 x 10 credits"), std::string::npos) << c.message();
  Screen pay = answer(id, "1");
  EXPECT_EQ(pay.type(), "AddToCart") << pay.raw;
  EXPECT_NE(pay.message().find("Tafadhali kamilisha malipo"), std::string::npos) << pay.message();

  // French, then a new session: the configured language (English) again.
  Screen s2;
  std::string id2 = dial(&s2);
  answer(id2, "98");
  Screen fr = answer(id2, "3");
  EXPECT_NE(fr.message().find("\n98. English / Kiswahili\n0. Quitter"), std::string::npos)
      << fr.message();
  Screen s3;
  dial(&s3);
  EXPECT_NE(s3.message().find("4. Check my balance"), std::string::npos) << s3.message();
}

TEST_P(HubtelTest, WithoutLanguageChoiceTheMenuHasNoLanguageEntry) {
  SKIP_WITHOUT_ENGINE();
  boot("      language_choice: false\n");
  Screen off;
  std::string id4 = dial(&off);
  EXPECT_EQ(off.message().find("98."), std::string::npos) << off.message();
  EXPECT_TRUE(answer(id4, "98").message().rfind("Invalid choice.", 0) == 0);
}

TEST_P(HubtelTest, AConfiguredPackageWithoutANameIsLabelledByItsCredits) {
  SKIP_WITHOUT_ENGINE();
  boot(
      "", "error",
      "{providers: [hubtel], ussd_packages: [{id: p5, credits: 5, price: \"5.00\", currency: GHS}, "
      "{id: p7, credits: 7, price: \"7.00\", currency: GHS, name: Seven}]}");
  Screen s;
  ASSERT_FALSE(dial(&s).empty());
  EXPECT_EQ(s.message(),
            "Malipo\n1. 5 credits - GHS 5.00\n2. Seven - GHS 7.00\n3. Check my balance\n98. "
            "Kiswahili / Fran\xC3\xA7"
            "ais\n0. Exit");
}

TEST_P(HubtelTest, ResponsesNavigateToAddToCartWithTheSeedsItemStructure) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::string id = dial();
  Screen q = answer(id, "1");
  EXPECT_EQ(q.message(), "10 credits at GHS 10.00 each.\nEnter quantity (1-1000):");
  EXPECT_EQ(str(q.reply, "FieldType"), "number");
  Screen c = answer(id, "3");
  EXPECT_EQ(c.message(), "Buy 3 x 10 credits\nTotal: GHS 30.00\n1. Confirm\n2. Cancel");
  Screen cart = answer(id, "1");
  ASSERT_EQ(cart.type(), "AddToCart") << cart.raw;
  // Item{ItemName, Qty (integer), Price (unit, two decimals)}: exactly the seed's shape.
  EXPECT_NE(cart.raw.find(R"("Item":{"ItemName":"10 credits","Qty":3,"Price":10.00})"),
            std::string::npos)
      << cart.raw;
  auto item = cart.reply->getObject("Item");
  EXPECT_TRUE(item->get("Qty").isInteger());
  EXPECT_EQ(str(cart.reply, "DataType"), "display");
  EXPECT_EQ(str(cart.reply, "Label"), "Payment Checkout");
  EXPECT_EQ(cart.message(),
            "Please complete payment:\n\nItem: 10 credits\nQuantity: 3\nUnit Price: GHS "
            "10.00\nTotal: GHS 30.00\n\n"
            "You will receive a payment prompt.");
}

TEST_P(HubtelTest, CheckoutStoresTheSessionAndAPendingPayment) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::string id = checkout(4);
  Rows row = session(id);
  ASSERT_EQ(row.size(), 1u);
  EXPECT_EQ(row.str(0, "status"), "checkout");
  EXPECT_EQ(row.str(0, "product"), "credits");
  EXPECT_EQ(row.str(0, "item_id"), "pkg_10_credits");
  EXPECT_EQ(row.i64(0, "qty"), 4);
  EXPECT_EQ(row.i64(0, "unit_minor"), 1000);
  EXPECT_EQ(row.i64(0, "amount_minor"), 4000);
  std::string pid = paymentOf(id);
  ASSERT_FALSE(pid.empty());
  auto p = kernel_->payments().get(pid);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->status, PaymentStatus::pending);
  EXPECT_EQ(p->provider, "hubtel");
  EXPECT_EQ(p->product, "credits");
  EXPECT_EQ(p->channel, "ussd_menu");
  EXPECT_EQ(p->orderRef, id);
  EXPECT_EQ(p->providerRef, id);
  EXPECT_EQ(p->amountMinor, 4000);
  EXPECT_EQ(p->currency, "GHS");
  EXPECT_EQ(p->customer.accountId, kAccount);
  EXPECT_EQ(p->customer.phone, kMobile);
  // Qty × the package's credits, so the product delivers what was paid for.
  auto meta = parse(p->metadata);
  EXPECT_EQ(meta->getValue<int>("credits"), 40);
  EXPECT_EQ(meta->getValue<int>("quantity"), 4);
  EXPECT_EQ(meta->getValue<std::string>("account"), kAccount);
  EXPECT_EQ(job("status:" + pid), "queued");
  EXPECT_NE(metrics().find("malipo_hubtel_checkouts_total{product=\"credits\"} 1"),
            std::string::npos);
}

// The sandbox driver (SDK 1.1: sandboxPay / sandboxFault), through the kernel's loaded plugin.
// malipo-conformance cannot run against Hubtel (its payments start from the USSD menu and
// initiate() refuses any other), so the kit's checks that apply are run here on menu
// checkouts.
TEST_P(HubtelTest, SandboxDriverPaysMenuCheckoutsLikeTheConformanceKit) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::shared_ptr<PaymentProvider> hubtel;
  for (auto& pl : kernel_->plugins().plugins())
    for (auto& o : pl.providers)
      if (o->name() == "hubtel") hubtel = o;
  ASSERT_TRUE(hubtel);
  auto paymentOfSession = [&](const std::string& session) {
    auto g = kernel_->payments().get(paymentOf(session));
    EXPECT_TRUE(g.ok());
    return g.ok() ? g.value() : Payment{};
  };
  // Paid: succeeds and credits once; the fulfilment it returns, replayed 100 times, adds
  // nothing. Fulfilments are unsigned: both signature checks are declared not applicable.
  Payment p1 = paymentOfSession(checkout(2));
  auto r1 = hubtel->sandboxPay(p1, SandboxPayment{});
  ASSERT_TRUE(r1.ok()) << r1.error().internal;
  ASSERT_EQ(r1.value().webhooks.size(), 1u);
  EXPECT_FALSE(r1.value().txnId.empty());
  EXPECT_EQ(r1.value().notApplicable.count("bad_signature"), 1u);
  EXPECT_EQ(r1.value().notApplicable.count("missing_signature"), 1u);
  EXPECT_EQ(r1.value().notApplicable.count("amount_mismatch"), 0u);
  ASSERT_TRUE(eventually([&] { return status(p1.id) == "succeeded"; })) << status(p1.id);
  ASSERT_TRUE(eventually([&] { return balance() == 20; })) << balance();
  const Request& w = r1.value().webhooks[0];
  EXPECT_NE(w.body.find(p1.orderRef), std::string::npos);
  for (int i = 0; i < 100; ++i) {
    auto a = http(port_, w.method, w.path, w.body, {w.headers.begin(), w.headers.end()});
    ASSERT_EQ(a.status, 200) << a.body;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(balance(), 20);

  // One cedi short: held, nothing credited.
  Payment p2 = paymentOfSession(checkout(2));
  SandboxPayment shortPay;
  shortPay.amountMinor = p2.amountMinor - 100;
  ASSERT_TRUE(hubtel->sandboxPay(p2, shortPay).ok());
  EXPECT_TRUE(eventually([&] { return status(p2.id) == "held"; })) << status(p2.id);

  // The first payment's transaction id reported again: held.
  Payment p3 = paymentOfSession(checkout(2));
  SandboxPayment reused;
  reused.txnId = r1.value().txnId;
  ASSERT_TRUE(hubtel->sandboxPay(p3, reused).ok());
  EXPECT_TRUE(eventually([&] { return status(p3.id) == "held"; })) << status(p3.id);

  // Declined: failed.
  Payment p4 = paymentOfSession(checkout(2));
  SandboxPayment declined;
  declined.outcome = "failed";
  ASSERT_TRUE(hubtel->sandboxPay(p4, declined).ok());
  EXPECT_TRUE(eventually([&] { return status(p4.id) == "failed"; })) << status(p4.id);
  EXPECT_EQ(balance(), 20);

  // Another currency cannot be produced: not applicable, nothing sent.
  Payment p5 = paymentOfSession(checkout(2));
  SandboxPayment usd;
  usd.currency = "USD";
  auto r5 = hubtel->sandboxPay(p5, usd);
  ASSERT_TRUE(r5.ok());
  EXPECT_EQ(r5.value().notApplicable.count("currency_mismatch"), 1u);
  EXPECT_TRUE(r5.value().webhooks.empty());
  EXPECT_EQ(status(p5.id), "pending");

  // Faults: the status check fails once (the kernel retries and still settles); an initiate
  // timeout cannot happen (initiate() calls no Hubtel API) and is refused with the reason.
  ASSERT_TRUE(hubtel->sandboxFault("query_failure", 1).ok());
  ASSERT_TRUE(hubtel->sandboxPay(p5, SandboxPayment{}).ok());
  EXPECT_TRUE(eventually([&] { return status(p5.id) == "succeeded"; })) << status(p5.id);
  auto f = hubtel->sandboxFault("initiate_timeout", 1);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().internal.find("not applicable"), std::string::npos);
}

TEST_P(HubtelTest, ClientStateCarriesTheStepWhenTheSessionRowIsLost) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::string id = dial();
  answer(id, "2");
  kernel_->store().exec("DELETE FROM hubtel_sessions WHERE session_id = ?", {id});
  Screen c = answer(id, "2");
  EXPECT_EQ(c.message(), "Buy 2 x 25 credits\nTotal: GHS 50.00\n1. Confirm\n2. Cancel");
  EXPECT_EQ(session(id).size(), 1u);  // the backup row is back
  EXPECT_EQ(answer(id, "1").type(), "AddToCart");
  EXPECT_FALSE(paymentOf(id).empty());
}

TEST_P(HubtelTest, TheStoredStepBacksUpAMissingOrForgedClientState) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::string id = dial();
  Screen q = answer(id, "1");
  // No ClientState at all: the session row knows we are at the quantity question.
  Screen c = answerWithState(id, "5", "");
  EXPECT_EQ(c.message(), "Buy 5 x 10 credits\nTotal: GHS 50.00\n1. Confirm\n2. Cancel");
  // A forged state (edited quantity, stale signature) is ignored: the row's step stands.
  std::string forged = c.clientState();
  forged.replace(forged.find("|5|"), 3, "|9|");
  Screen bad = answerWithState(id, "7", forged);
  EXPECT_EQ(bad.message(),
            "Invalid choice.\nBuy 5 x 10 credits\nTotal: GHS 50.00\n1. Confirm\n2. Cancel");
  EXPECT_NE(metrics().find("malipo_hubtel_errors_total{type=\"bad_client_state\"} 1"),
            std::string::npos);
  Screen cart = answerWithState(id, "1", forged);
  ASSERT_EQ(cart.type(), "AddToCart");
  EXPECT_EQ(cart.reply->getObject("Item")->getValue<int>("Qty"), 5);
}

TEST_P(HubtelTest, AStateFromAnotherSessionDoesNotCarryOver) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::string a = dial(), b = dial();
  Screen qa = answer(a, "1");
  Screen ca = answer(a, "7");  // session a at confirm 7 × 10 credits
  // b replays a's state: refused, b's own row (main menu) decides.
  Screen sb = answerWithState(b, "1", ca.clientState());
  EXPECT_EQ(sb.message(), "10 credits at GHS 10.00 each.\nEnter quantity (1-1000):");
}

TEST_P(HubtelTest, NoSessionAndNoClientStateIsSessionExpired) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto o = ussd(
      R"({"Type":"Response","Mobile":"233244123456","SessionId":"never-dialled","ServiceCode":"713","Message":"1",
    "Operator":"mtn","Sequence":2,"ClientState":"","Platform":"USSD"})");
  EXPECT_EQ(str(o, "Type"), "release");
  EXPECT_EQ(str(o, "Message"), "Session expired. Please dial again.");
  EXPECT_EQ(str(o, "SessionId"), "never-dialled");
  EXPECT_NE(metrics().find("malipo_hubtel_errors_total{type=\"unknown_session\"} 1"),
            std::string::npos);
}

TEST_P(HubtelTest, TimeoutClosesTheSessionGracefully) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::string id = dial();
  Screen mid = answer(id, "1");
  auto t = screenOf(
      http(port_, "POST", "/sandbox/hubtel/driver/timeout", R"({"session_id": ")" + id + R"("})"));
  EXPECT_EQ(t.type(), "release");
  Rows row = session(id);
  EXPECT_EQ(row.str(0, "status"), "closed");
  EXPECT_FALSE(row.isNull(0, "closed_at"));
  // Even with the last valid ClientState, a closed session does not come back.
  Screen after = answerWithState(id, "2", mid.clientState());
  EXPECT_EQ(after.type(), "release");
  EXPECT_EQ(after.message(), "Session expired. Please dial again.");
  EXPECT_NE(metrics().find("malipo_hubtel_sessions_ended_total 1"), std::string::npos);
}

TEST_P(HubtelTest, TypeIsComparedCaseInsensitively) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto init = ussd(
      R"({"Type":"initiation","Mobile":"0244123456","SessionId":"s-lower","ServiceCode":"713","Message":"*713#",
    "Operator":"vodafone","Sequence":"1","ClientState":"","Platform":"USSD"})");
  EXPECT_EQ(str(init, "Type"), "response");
  auto next = ussd(
      R"({"Type":"RESPONSE","Mobile":"+233 24 412 3456","SessionId":"s-lower","Message":"0","Sequence":"2",
    "ClientState":")" +
      str(init, "ClientState") + R"("})");
  EXPECT_EQ(str(next, "Type"), "release");
  EXPECT_EQ(str(next, "Message"), "Thank you. Goodbye.");
  auto timeout = ussd(R"({"Type":"TimeOut","Mobile":"233244123456","SessionId":"s-lower"})");
  EXPECT_EQ(str(timeout, "Type"), "release");
  // The phone numbers, in any spelling, were normalised.
  EXPECT_EQ(session("s-lower").str(0, "mobile"), kMobile);
}

TEST_P(HubtelTest, InvalidQuantitiesAreAskedAgain) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::string id = dial();
  answer(id, "1");
  for (const char* bad : {"0", "1001", "ten", "-3"}) {
    Screen s = answer(id, bad);
    EXPECT_EQ(s.type(), "response") << bad;
    EXPECT_EQ(s.message(),
              "Invalid quantity.\n10 credits at GHS 10.00 each.\nEnter quantity (1-1000):")
        << bad;
  }
  EXPECT_EQ(answer(id, "1000").message(),
            "Buy 1000 x 10 credits\nTotal: GHS 10000.00\n1. Confirm\n2. Cancel");
  Screen s = answer(id, "2");
  EXPECT_EQ(s.message(), "Purchase cancelled.");
  EXPECT_EQ(session(id).str(0, "status"), "closed");
  EXPECT_TRUE(paymentOf(id).empty());
}

TEST_P(HubtelTest, RepeatedConfirmationMakesOnePayment) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::string id = dial();
  answer(id, "1");
  Screen c = answer(id, "2");
  Screen first = answerWithState(id, "1", c.clientState());
  ASSERT_EQ(first.type(), "AddToCart");
  // Hubtel retries the confirming request: the same checkout, not a second payment.
  Screen again = answerWithState(id, "1", c.clientState());
  EXPECT_EQ(again.type(), "AddToCart");
  EXPECT_EQ(again.raw, first.raw);
  EXPECT_EQ(kernel_->store()
                .query("SELECT COUNT(*) AS n FROM payments WHERE order_ref = ?", {id})
                .i64(0, "n"),
            1);
}

TEST_P(HubtelTest, ConcurrentCopiesOfAConfirmationMakeOnePayablePayment) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::string id = dial();
  answer(id, "1");
  Screen c = answer(id, "4");
  std::string body = R"({"Type":"Response","Mobile":"233244123456","SessionId":")" + id +
                     R"(","Message":"1","Sequence":4,"ClientState":")" + c.clientState() + R"("})";
  std::vector<std::thread> ts;
  std::vector<std::string> types(6);
  for (std::size_t i = 0; i < types.size(); ++i)
    ts.emplace_back(
        [&, i] { types[i] = str(parse(http(port_, "POST", "/ussd", body).body), "Type"); });
  for (auto& t : ts) t.join();
  for (const auto& t : types) EXPECT_EQ(t, "AddToCart");
  // Losers of the claim may leave a refused (failed) payment behind; one is payable.
  EXPECT_EQ(
      kernel_->store()
          .query("SELECT COUNT(*) AS n FROM payments WHERE order_ref = ? AND status = 'pending'",
                 {id})
          .i64(0, "n"),
      1);
  EXPECT_EQ(paymentOf(id),
            kernel_->store()
                .query("SELECT id FROM payments WHERE order_ref = ? AND status = 'pending'", {id})
                .str(0, "id"));
}

TEST_P(HubtelTest, ExitAndBalance) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::string a = dial();
  Screen bye = answer(a, "0");
  EXPECT_EQ(bye.type(), "release");
  EXPECT_EQ(bye.message(), "Thank you. Goodbye.");
  std::string b = dial();
  Screen bal = answer(b, "4");
  EXPECT_EQ(bal.type(), "release");
  EXPECT_EQ(bal.message(), "Balance: 0 credits");
  EXPECT_EQ(str(bal.reply, "Label"), "Balance");
}

// ---- Error scenarios ----------------------------------------------------------------------

TEST_P(HubtelTest, InvalidJsonAndMissingFieldsGetTheSeedsReplies) {
  SKIP_WITHOUT_ENGINE();
  boot();
  int st = 0;
  auto bad = ussd("{\"Type\": \"Initiation\", ", &st);
  EXPECT_EQ(st, 200);
  EXPECT_EQ(str(bad, "Type"), "release");
  EXPECT_EQ(str(bad, "Message"), "Service temporarily unavailable.");
  EXPECT_EQ(str(bad, "SessionId"), "");
  auto noSession = ussd(R"({"Type":"Initiation","Mobile":"233244123456","Message":"*713#"})", &st);
  EXPECT_EQ(st, 200);
  EXPECT_EQ(str(noSession, "Message"), "Invalid request. Please try again.");
  auto noMobile = ussd(R"({"Type":"Initiation","SessionId":"s-1","Message":"*713#"})");
  EXPECT_EQ(str(noMobile, "Message"), "Invalid request. Please try again.");
  EXPECT_EQ(str(noMobile, "SessionId"), "s-1");
  auto foreign = ussd(R"({"Type":"Initiation","SessionId":"s-2","Mobile":"+255712345678"})");
  EXPECT_EQ(str(foreign, "Message"), "Invalid request. Please try again.");
  std::string m = metrics();
  EXPECT_NE(m.find("malipo_hubtel_errors_total{type=\"invalid_json\"} 1"), std::string::npos);
  EXPECT_NE(m.find("malipo_hubtel_errors_total{type=\"missing_fields\"} 2"), std::string::npos);
  EXPECT_NE(m.find("malipo_hubtel_errors_total{type=\"invalid_mobile\"} 1"), std::string::npos);
  EXPECT_EQ(kernel_->store().query("SELECT COUNT(*) AS n FROM hubtel_sessions").i64(0, "n"), 0);
}

// ---- Service fulfilment -------------------------------------------------------------------

TEST_P(HubtelTest, FulfilmentIsValidatedCreditsTheCustomerAndSendsTheSuccessCallback) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::string id = checkout(2);
  std::string pid = paymentOf(id);
  auto paid = pay(id);
  EXPECT_EQ(paid->getArray("fulfilments")->getElement<int>(0), 200);
  std::string orderId = str(paid, "order_id");
  ASSERT_TRUE(eventually([&] { return status(pid) == "succeeded"; })) << events(pid);
  ASSERT_TRUE(eventually([&] { return balance() == 20; })) << balance();
  auto p = kernel_->payments().get(pid);
  // Settled from Hubtel's status check, not from the (unsigned) fulfilment: its transaction
  // id is the provider transaction.
  EXPECT_EQ(p->providerTxnId, str(paid, "transaction_id"));
  EXPECT_NE(events(pid).find("status check Paid"), std::string::npos) << events(pid);
  ASSERT_TRUE(eventually([&] { return callbacks(id)->size() == 1; }));
  auto cb = callbacks(id)->getObject(0);
  EXPECT_EQ(str(cb, "service_status"), "success");
  EXPECT_EQ(str(cb, "order_id"), orderId);
  EXPECT_EQ(str(cb->getObject("meta"), "payment_id"), pid);
  EXPECT_EQ(cb->getObject("meta")->getValue<int>("quantity"), 2);
  // The session is closed after fulfilment, and the balance menu shows the credits.
  ASSERT_TRUE(eventually([&] { return session(id).str(0, "status") == "fulfilled"; }));
  Rows f = kernel_->store().query("SELECT * FROM hubtel_fulfilments WHERE order_id = ?", {orderId});
  EXPECT_EQ(f.str(0, "callback_status"), "sent");
  EXPECT_EQ(f.str(0, "service_status"), "success");
  // "success" was said only once the credits were delivered.
  auto delivered = kernel_->payments().get(pid).value();
  EXPECT_EQ(delivered.fulfilment, "done");
  EXPECT_GE(f.i64(0, "callback_at"), delivered.fulfilledAtMs);
  EXPECT_EQ(answer(dial(), "4").message(), "Balance: 20 credits");
  EXPECT_TRUE(eventually([&] {
    return metrics().find("malipo_hubtel_payments_total{outcome=\"succeeded\"} 1") !=
           std::string::npos;
  }));
}

TEST_P(HubtelTest, APaidOrderTheProductCannotDeliverGetsTheFailedCallback) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::string id = checkout(2);
  std::string pid = paymentOf(id);
  // The product cannot deliver this one: its order data is gone (credits fails at once).
  kernel_->store().exec("UPDATE payments SET metadata = '{}' WHERE id = ?", {pid});
  auto paid = pay(id);
  ASSERT_TRUE(eventually([&] { return status(pid) == "succeeded"; })) << events(pid);
  ASSERT_TRUE(eventually([&] { return callbacks(id)->size() == 1; }));
  auto cb = callbacks(id)->getObject(0);
  EXPECT_EQ(str(cb, "service_status"), "failed");  // paid, but the service was not delivered
  EXPECT_EQ(str(cb->getObject("meta"), "reason"), "The service could not be delivered");
  EXPECT_EQ(kernel_->payments().get(pid).value().fulfilment, "failed");
  EXPECT_EQ(balance(), 0);
  ASSERT_TRUE(eventually([&] { return session(id).str(0, "status") == "failed"; }));
}

TEST_P(HubtelTest, ADuplicateFulfilmentCreditsOnce) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::string id = checkout(1);
  std::string pid = paymentOf(id);
  auto paid = pay(id, R"(, "fulfilment": "twice")");
  auto codes = paid->getArray("fulfilments");
  EXPECT_EQ(codes->getElement<int>(0), 200);
  EXPECT_EQ(codes->getElement<int>(1), 200);  // acknowledged, but recorded once
  ASSERT_TRUE(eventually([&] { return status(pid) == "succeeded"; }));
  ASSERT_TRUE(eventually([&] { return callbacks(id)->size() == 1; }));
  // And a third time, much later.
  auto again =
      http(port_, "POST", "/sandbox/hubtel/driver/fulfil", R"({"session_id": ")" + id + R"("})");
  EXPECT_EQ(parse(again.body)->getValue<int>("http_status"), 200);
  ASSERT_TRUE(eventually([&] { return balance() == 10; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(balance(), 10);
  EXPECT_EQ(ledgerRows(), 1);
  EXPECT_EQ(callbacks(id)->size(), 1u);
  EXPECT_EQ(kernel_->store()
                .query("SELECT COUNT(*) AS n FROM hubtel_fulfilments WHERE session_id = ?", {id})
                .i64(0, "n"),
            1);
  // Through the kernel's inbox: deduplicated by OrderId, one webhook event in the payment's
  // log, the two repeats counted as duplicates (and answered as the first one was).
  EXPECT_NE(metrics().find("malipo_webhooks_total{outcome=\"duplicate\",provider=\"hubtel\"} 2"),
            std::string::npos);
  EXPECT_EQ(kernel_->store()
                .query("SELECT COUNT(*) AS n FROM payment_events WHERE kind = 'webhook' AND "
                       "payment_id = ? AND provider_event_id = ?",
                       {pid, str(paid, "order_id")})
                .i64(0, "n"),
            1);
}

TEST_P(HubtelTest, AFailedPaymentSendsAFailedCallback) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::string id = checkout(1);
  std::string pid = paymentOf(id);
  pay(id, R"(, "outcome": "declined")");
  ASSERT_TRUE(eventually([&] { return status(pid) == "failed"; })) << events(pid);
  ASSERT_TRUE(eventually([&] { return callbacks(id)->size() == 1; }));
  auto cb = callbacks(id)->getObject(0);
  EXPECT_EQ(str(cb, "service_status"), "failed");
  EXPECT_EQ(str(cb->getObject("meta"), "reason"), "Payment not successful");
  EXPECT_EQ(balance(), 0);
  EXPECT_TRUE(eventually([&] { return session(id).str(0, "status") == "failed"; }));
}

TEST_P(HubtelTest, AnAmountThatIsNotQtyTimesPriceIsHeldAndFails) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::string id = checkout(3);
  std::string pid = paymentOf(id);
  pay(id, R"(, "amount": "10.00")");  // 3 × 10.00 was due
  ASSERT_TRUE(eventually([&] { return status(pid) == "held"; })) << events(pid);
  ASSERT_TRUE(eventually([&] { return callbacks(id)->size() == 1; }));
  auto cb = callbacks(id)->getObject(0);
  EXPECT_EQ(str(cb, "service_status"), "failed");
  EXPECT_NE(str(cb->getObject("meta"), "reason").find("held"), std::string::npos);
  EXPECT_EQ(balance(), 0);
  EXPECT_NE(events(pid).find("amount mismatch: paid 10.00, due 30.00 GHS"), std::string::npos)
      << events(pid);
}

TEST_P(HubtelTest, TheCallbackIsRetriedUntilHubtelAcceptsIt) {
  SKIP_WITHOUT_ENGINE();
  boot();
  ASSERT_EQ(
      http(port_, "POST", "/sandbox/hubtel/driver/script", R"({"callback_failures": 2})").status,
      200);
  std::string id = checkout(1);
  auto paid = pay(id);
  ASSERT_TRUE(eventually([&] { return callbacks(id)->size() == 3; })) << callbacks(id)->size();
  auto cbs = callbacks(id);
  EXPECT_EQ(cbs->getObject(0)->getValue<int>("answered"), 500);
  EXPECT_EQ(cbs->getObject(1)->getValue<int>("answered"), 500);
  EXPECT_EQ(cbs->getObject(2)->getValue<int>("answered"), 200);
  ASSERT_TRUE(eventually([&] {
    return kernel_->store()
               .query("SELECT callback_status FROM hubtel_fulfilments WHERE order_id = ?",
                      {str(paid, "order_id")})
               .str(0, "callback_status") == "sent";
  }));
  EXPECT_EQ(kernel_->store()
                .query("SELECT callback_attempts FROM hubtel_fulfilments WHERE order_id = ?",
                       {str(paid, "order_id")})
                .i64(0, "callback_attempts"),
            3);
  EXPECT_EQ(balance(), 10);
}

TEST_P(HubtelTest, TheCallbackGivesUpWhenItsWindowIsOver) {
  SKIP_WITHOUT_ENGINE();
  boot("      callback_window_seconds: 1\n      callback_retry_base_ms: 200\n");
  ASSERT_EQ(
      http(port_, "POST", "/sandbox/hubtel/driver/script", R"({"callback_failures": 1000})").status,
      200);
  std::string id = checkout(1);
  auto paid = pay(id);
  std::string order = str(paid, "order_id");
  ASSERT_TRUE(eventually([&] { return job("fulfil:" + order) == "dead"; }))
      << job("fulfil:" + order);
  EXPECT_EQ(kernel_->store()
                .query("SELECT callback_status FROM hubtel_fulfilments WHERE order_id = ?", {order})
                .str(0, "callback_status"),
            "expired");
  EXPECT_GE(callbacks(id)->size(), 2u);
  EXPECT_EQ(balance(), 10);  // the customer still got what they paid for
}

TEST_P(HubtelTest, FulfilmentsOnlyFromAllowListedAddresses) {
  SKIP_WITHOUT_ENGINE();
  boot("      ip_check: \"on\"\n      allowed_ips: [10.1.2.3]\n");
  std::string id = checkout(1);
  std::string pid = paymentOf(id);
  auto paid = pay(id);
  EXPECT_EQ(paid->getArray("fulfilments")->getElement<int>(0), 403);
  EXPECT_EQ(kernel_->store().query("SELECT COUNT(*) AS n FROM hubtel_fulfilments").i64(0, "n"), 0);
  // Refused by the kernel's allow-list before anything is read: no webhook event either.
  EXPECT_EQ(kernel_->store()
                .query("SELECT COUNT(*) AS n FROM payment_events WHERE kind = 'webhook'")
                .i64(0, "n"),
            0);
  EXPECT_EQ(status(pid), "pending");
  EXPECT_NE(metrics().find("malipo_hubtel_errors_total{type=\"forbidden_ip\"} 1"),
            std::string::npos);
  // Interaction requests have their own switch (interaction_ip_check), off in sandbox.
  EXPECT_EQ(answer(dial(), "0").type(), "release");
}

TEST_P(HubtelTest, FulfilmentsFromAnAllowListedAddressAreAccepted) {
  SKIP_WITHOUT_ENGINE();
  boot("      ip_check: \"on\"\n      allowed_ips: [10.1.2.3, 127.0.0.1]\n");
  std::string id = checkout(1);
  auto paid = pay(id);
  EXPECT_EQ(paid->getArray("fulfilments")->getElement<int>(0), 200);
  ASSERT_TRUE(eventually([&] { return balance() == 10; }));
}

TEST_P(HubtelTest, AFulfilmentForAnUnknownSessionIsRecordedAndFailed) {
  SKIP_WITHOUT_ENGINE();
  boot();
  int st = 0;
  auto r = ussd(
      R"({"SessionId":"ghost","OrderId":"order-ghost","ExtraData":{},"OrderInfo":{"Status":"Paid","Currency":"GHS",
    "Subtotal":10.00,"Items":[{"ItemId":"x","Name":"10 credits","Quantity":1,"UnitPrice":10.00}],
    "Payment":{"PaymentType":"mobilemoney","AmountPaid":10.00,"AmountAfterCharges":9.90,"IsSuccessful":true}}})",
      &st);
  EXPECT_EQ(st, 200);
  ASSERT_TRUE(eventually([&] { return callbacks("ghost")->size() == 1; }));
  EXPECT_EQ(str(callbacks("ghost")->getObject(0), "service_status"), "failed");
  EXPECT_EQ(ussd(R"({"SessionId":"ghost","OrderId":""})", &st)->getValue<bool>("success"), false);
  EXPECT_EQ(st, 400);
}

// ---- Transaction status check ----------------------------------------------------------

TEST_P(HubtelTest, AMissedFulfilmentIsRescuedByTheStatusCheck) {
  SKIP_WITHOUT_ENGINE();
  boot("      status_check_after_seconds: 3\n      status_check_interval_seconds: 1\n");
  std::string id = checkout(2);
  std::string pid = paymentOf(id);
  auto paid = pay(id, R"(, "fulfilment": "never")");
  // Before the grace period a query does not ask Hubtel: its status API is the fallback
  // for a late fulfilment, not a poll.
  auto early = kernel_->payments().sync(pid);
  ASSERT_TRUE(early.ok());
  EXPECT_EQ(early->status, PaymentStatus::pending);
  EXPECT_NE(events(pid).find("waiting for the fulfilment"), std::string::npos) << events(pid);
  EXPECT_EQ(events(pid).find("status check"), std::string::npos) << events(pid);
  ASSERT_TRUE(eventually([&] { return status(pid) == "succeeded"; }, 15000)) << events(pid);
  auto p = kernel_->payments().get(pid);
  EXPECT_EQ(p->providerTxnId, str(paid, "transaction_id"));
  EXPECT_NE(events(pid).find("status check Paid"), std::string::npos) << events(pid);
  ASSERT_TRUE(eventually([&] { return balance() == 20; }));
  EXPECT_EQ(callbacks(id)->size(), 0u);  // no OrderId was ever sent to acknowledge
  // The fulfilment turns up late after all: acknowledged as delivered, credited once.
  auto late =
      http(port_, "POST", "/sandbox/hubtel/driver/fulfil", R"({"session_id": ")" + id + R"("})");
  EXPECT_EQ(parse(late.body)->getValue<int>("http_status"), 200);
  ASSERT_TRUE(eventually([&] { return callbacks(id)->size() == 1; }));
  EXPECT_EQ(str(callbacks(id)->getObject(0), "service_status"), "success");
  EXPECT_EQ(balance(), 20);
  EXPECT_EQ(ledgerRows(), 1);
}

TEST_P(HubtelTest, UnpaidKeepsCheckingUntilTheDeadline) {
  SKIP_WITHOUT_ENGINE();
  boot("      status_check_after_seconds: 1\n      status_check_interval_seconds: 1\n");
  std::string id = checkout(1);
  std::string pid = paymentOf(id);
  pay(id, R"(, "outcome": "declined", "fulfilment": "never")");
  ASSERT_TRUE(eventually(
      [&] { return events(pid).find("status check Unpaid") != std::string::npos; }, 15000))
      << events(pid);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(status(pid), "pending");
  EXPECT_EQ(job("status:" + pid), "queued");  // still checking
  // The deadline passes: the next check expires the payment and stops.
  kernel_->store().exec("UPDATE payments SET expires_at = ? WHERE id = ?", {std::int64_t(1), pid});
  ASSERT_TRUE(eventually([&] { return status(pid) == "expired"; }, 15000)) << events(pid);
  ASSERT_TRUE(eventually([&] { return job("status:" + pid) == "done"; }, 15000));
  EXPECT_EQ(balance(), 0);
}

TEST_P(HubtelTest, ARefundAtHubtelBeforeSettlementFailsThePaymentAndDeliversNothing) {
  SKIP_WITHOUT_ENGINE();
  boot("      status_check_after_seconds: 1\n      status_check_interval_seconds: 1\n");
  std::string id = checkout(1);
  std::string pid = paymentOf(id);
  pay(id, R"(, "fulfilment": "never")");
  // Refunded from Hubtel's dashboard before the status check ran.
  auto refunded =
      http(port_, "POST", "/sandbox/hubtel/driver/refund", R"({"session_id": ")" + id + R"("})");
  ASSERT_EQ(refunded.status, 200) << refunded.body;
  EXPECT_EQ(
      http(port_, "POST", "/sandbox/hubtel/driver/refund", R"({"session_id": "nope"})").status,
      404);
  ASSERT_TRUE(eventually([&] { return status(pid) == "failed"; }, 15000)) << events(pid);
  EXPECT_NE(events(pid).find("status check Refunded"), std::string::npos) << events(pid);
  EXPECT_EQ(kernel_->payments().get(pid)->failureReason, "The payment was refunded.");
  EXPECT_EQ(balance(), 0);
}

TEST_P(HubtelTest, TheStatusCheckNeedsBasicAuthAndAnAllowListedAddress) {
  SKIP_WITHOUT_ENGINE();
  boot(
      "      status_check_after_seconds: 1\n      status_check_interval_seconds: 1\n"
      "      simulator: {status_allowed_ips: [10.9.9.9]}\n");
  std::string id = checkout(1);
  std::string pid = paymentOf(id);
  pay(id, R"(, "fulfilment": "never")");
  ASSERT_TRUE(eventually(
      [&] { return events(pid).find("status check refused with 403") != std::string::npos; },
      15000))
      << events(pid);
  EXPECT_EQ(status(pid), "pending");
  // The API itself: 403 before anything else for an address not allow-listed.
  std::string path = "/sandbox/hubtel/transactions/2000000/status?clientReference=" + id;
  EXPECT_EQ(http(port_, "GET", path).status, 403);
}

TEST_P(HubtelTest, TheStatusApiChecksBasicAuth) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::string id = checkout(1);
  std::string path = "/sandbox/hubtel/transactions/2000000/status?clientReference=" + id;
  EXPECT_EQ(http(port_, "GET", path).status, 401);
  EXPECT_EQ(http(port_, "GET", path, "", {{"Authorization", "Basic d3Jvbmc6d3Jvbmc="}}).status,
            401);
  // base64("sandbox-api-id:sandbox-api-key")
  std::map<std::string, std::string> auth{
      {"Authorization", "Basic c2FuZGJveC1hcGktaWQ6c2FuZGJveC1hcGkta2V5"}};
  auto unpaid = http(port_, "GET", path, "", auth);
  ASSERT_EQ(unpaid.status, 200) << unpaid.body;
  EXPECT_EQ(parse(unpaid.body)->getObject("data")->getValue<std::string>("status"), "Unpaid");
  pay(id);
  auto paidReply = parse(http(port_, "GET", path, "", auth).body);
  EXPECT_EQ(paidReply->getValue<std::string>("responseCode"), "0000");
  auto data = paidReply->getObject("data");
  EXPECT_EQ(data->getValue<std::string>("status"), "Paid");
  EXPECT_EQ(data->getValue<std::string>("clientReference"), id);
  EXPECT_DOUBLE_EQ(data->getValue<double>("amount"), 10.0);
  EXPECT_DOUBLE_EQ(data->getValue<double>("amountAfterCharges"), 9.9);
  EXPECT_EQ(
      http(port_, "GET", "/sandbox/hubtel/transactions/999/status?clientReference=" + id, "", auth)
          .status,
      404);
  // Let the fulfilment's callback finish before the kernel stops under it.
  EXPECT_TRUE(eventually([&] { return callbacks(id)->size() == 1; }));
}

// ---- Operations ---------------------------------------------------------------------------

TEST_P(HubtelTest, PaymentsThatDoNotComeFromTheMenuAreRefused) {
  SKIP_WITHOUT_ENGINE();
  boot();
  CreatePayment cp;
  cp.product = "credits";
  cp.orderRef = "not-a-session";
  cp.amountMinor = 1000;
  cp.currency = "GHS";
  cp.providers = {"hubtel"};
  cp.metadata = R"({"account":"msisdn:233244123456","credits":10})";
  auto r = kernel_->payments().create(cp);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::invalidInput);
  EXPECT_EQ(r.error().external, "Hubtel payments start from the USSD menu.");
}

TEST_P(HubtelTest, OldSessionsArePurged) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::string fresh = dial(), old = dial();
  std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  kernel_->store().exec("UPDATE hubtel_sessions SET created_at = ? WHERE session_id = ?",
                        {now - 25LL * 3600000, old});
  // Past the TTL a session is expired even before the purge runs.
  EXPECT_EQ(answer(old, "1").message(), "Session expired. Please dial again.");
  kernel_->jobs().enqueue(JobSpec{"hubtel.purge", "", "", 0, 0});
  ASSERT_TRUE(eventually([&] { return session(old).empty(); }));
  EXPECT_EQ(session(fresh).size(), 1u);
}

TEST_P(HubtelTest, MetricsFromTheSeed) {
  SKIP_WITHOUT_ENGINE();
  boot();
  dial();               // started, abandoned
  answer(dial(), "0");  // started, exited
  std::string id = checkout(1);
  pay(id);
  ASSERT_TRUE(eventually([&] { return balance() == 10; }));
  ASSERT_TRUE(eventually([&] { return callbacks(id)->size() == 1; }));
  kernel_->jobs().enqueue(JobSpec{"hubtel.stats", "", "", 0, 0});
  // Both gauges: a scheduled stats run from before the payment's outcome was recorded shows
  // the conversion already, with no decided payment yet.
  ASSERT_TRUE(eventually([&] {
    std::string m = metrics();
    return m.find("malipo_hubtel_conversion_ratio 0.333") != std::string::npos &&
           m.find("malipo_hubtel_payment_success_ratio 1") != std::string::npos;
  })) << metrics();
  std::string m = metrics();
  EXPECT_NE(m.find("malipo_hubtel_sessions_started_total{operator=\"mtn\"} 3"), std::string::npos)
      << m;
  EXPECT_NE(m.find("malipo_hubtel_checkouts_total{product=\"credits\"} 1"), std::string::npos);
  EXPECT_NE(m.find("malipo_hubtel_payment_success_ratio 1"), std::string::npos);
  EXPECT_NE(m.find("malipo_hubtel_session_duration_avg_seconds"), std::string::npos);
  EXPECT_NE(m.find("malipo_hubtel_sessions_ended_total 2"), std::string::npos);
  EXPECT_NE(m.find("malipo_hubtel_callbacks_total{result=\"success\"} 1"), std::string::npos);
}

TEST_P(HubtelTest, RequestsAndRepliesAreLoggedWithoutSecrets) {
  SKIP_WITHOUT_ENGINE();
  std::string logFile = dir_.file("stderr.log");
  std::fflush(stderr);
  int saved = dup(2);
  int fd = open(logFile.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  dup2(fd, 2);
  close(fd);
  boot(
      "      api_id: log-test-id\n      api_key: sup3r-secret-key\n      "
      "status_check_after_seconds: 1\n"
      "      status_check_interval_seconds: 1\n",
      "info");
  std::string id = checkout(1);
  std::string pid = paymentOf(id);
  pay(id, R"(, "fulfilment": "never")");
  bool settled = eventually([&] { return status(pid) == "succeeded"; }, 15000);
  kernel_->logger().flush();
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  ASSERT_TRUE(settled) << events(pid);
  std::string all = readFile(logFile);
  std::string ours;
  std::istringstream lines(all);
  for (std::string line; std::getline(lines, line);)
    if (line.find("hubtel") != std::string::npos) ours += line + "\n";
  EXPECT_NE(ours.find("ussd <- initiation session " + id + " mobile 233***456"), std::string::npos)
      << ours;
  EXPECT_NE(ours.find("ussd -> response session " + id), std::string::npos) << ours;
  EXPECT_NE(ours.find("ussd -> AddToCart session " + id), std::string::npos) << ours;
  EXPECT_NE(ours.find("status check for session " + id + ": Paid"), std::string::npos) << ours;
  EXPECT_EQ(ours.find(kMobile), std::string::npos) << ours;  // masked everywhere we log
  // Neither the key nor the Basic credentials appear anywhere in the log.
  EXPECT_EQ(all.find("sup3r-secret-key"), std::string::npos);
  EXPECT_EQ(all.find("bG9nLXRlc3QtaWQ6c3VwM3Itc2VjcmV0LWtleQ"),
            std::string::npos);  // base64("log-test-id:sup3r-secret-key")
  EXPECT_EQ(all.find("integration-secret"), std::string::npos);
}

// ---- Security: nothing settles from a fulfilment body alone ---------------------------------

namespace {
// A fulfilment as Hubtel would send it, for a payment nobody made.
std::string forgedFulfilment(const std::string& session, const std::string& orderId, int qty) {
  std::string total = std::to_string(qty * 10) + ".00";
  return R"({"SessionId":")" + session + R"(","OrderId":")" + orderId +
         R"(","ExtraData":{},"OrderInfo":{
    "CustomerMobileNumber":"233244123456","Status":"Paid","Currency":"GHS","Subtotal":)" +
         total + R"(,
    "Items":[{"ItemId":"x","Name":"10 credits","Quantity":)" +
         std::to_string(qty) + R"(,"UnitPrice":10.00}],
    "Payment":{"PaymentType":"mobilemoney","AmountPaid":)" +
         total + R"(,"AmountAfterCharges":)" + total + R"(,"IsSuccessful":true}}})";
}
const std::map<std::string, std::string> kAdmin{
    {"Authorization", "Bearer admin-token-0123456789abcdefghijklmnop"}};
}  // namespace

// Fulfilments go through the kernel's webhook inbox (SDK 1.1): on the interaction route and on
// /webhooks/hubtel alike, deduplicated by OrderId, in the payment's event log, answered in
// Hubtel's shape for a repeat too, with Hubtel's own row and callback job written once.
TEST_P(HubtelTest, FulfilmentsGoThroughTheKernelInboxWithHubtelsReply) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::string id = checkout(2);
  std::string pid = paymentOf(id);
  std::string body = forgedFulfilment(id, "order-inbox-1", 2);
  for (const char* path : {"/ussd", "/ussd", "/webhooks/hubtel"}) {
    auto r = http(port_, "POST", path, body);
    EXPECT_EQ(r.status, 200) << path << " " << r.body;
    auto o = parse(r.body);
    EXPECT_EQ(o->size(), 2u) << r.body;
    EXPECT_TRUE(o->getValue<bool>("success")) << r.body;
    EXPECT_EQ(str(o, "message"), "Received");
  }
  EXPECT_EQ(kernel_->store()
                .query("SELECT COUNT(*) AS n FROM payment_events WHERE kind = 'webhook' AND "
                       "provider = 'hubtel' AND provider_event_id = ? AND payment_id = ?",
                       {"order-inbox-1", pid})
                .i64(0, "n"),
            1);
  EXPECT_EQ(kernel_->store()
                .query("SELECT COUNT(*) AS n FROM hubtel_fulfilments WHERE order_id = ?",
                       {"order-inbox-1"})
                .i64(0, "n"),
            1);
  EXPECT_NE(job("fulfil:order-inbox-1"), "");
  // A body that is no fulfilment: 400 in Hubtel's shape, nothing stored.
  int st = 0;
  auto bad = ussd(R"({"SessionId":")" + id + R"(","OrderId":"order-inbox-2"})", &st);
  EXPECT_EQ(st, 400);
  EXPECT_FALSE(bad->getValue<bool>("success"));
  EXPECT_EQ(kernel_->store()
                .query("SELECT COUNT(*) AS n FROM payment_events WHERE provider_event_id = ?",
                       {"order-inbox-2"})
                .i64(0, "n"),
            0);
}

TEST_P(HubtelTest, AForgedFulfilmentForAnUnpaidOrderDoesNotSettle) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::string id = checkout(2);
  std::string pid = paymentOf(id);
  // The customer never paid (the simulated status API says Unpaid); the body says Paid.
  int st = 0;
  auto r = ussd(forgedFulfilment(id, "forged-order-1", 2), &st);
  EXPECT_EQ(st, 200);
  EXPECT_EQ(str(r, "message"), "Received");
  ASSERT_TRUE(eventually([&] {
    return events(pid).find("not settled until the status check says Paid") != std::string::npos;
  })) << events(pid);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(status(pid), "pending") << events(pid);
  EXPECT_EQ(balance(), 0);
  EXPECT_EQ(ledgerRows(), 0);
  EXPECT_EQ(callbacks(id)->size(), 0u);  // Hubtel is told nothing while its status API disagrees
  // At the deadline the payment expires, and Hubtel hears "failed" for the forged order.
  kernel_->store().exec("UPDATE payments SET expires_at = ? WHERE id = ?", {std::int64_t(1), pid});
  ASSERT_TRUE(eventually([&] { return status(pid) == "expired"; })) << events(pid);
  ASSERT_TRUE(eventually([&] { return callbacks(id)->size() == 1; }));
  EXPECT_EQ(str(callbacks(id)->getObject(0), "service_status"), "failed");
  EXPECT_EQ(balance(), 0);
}

TEST_P(HubtelTest, AnOldPaidTransactionCannotSettleANewPayment) {
  SKIP_WITHOUT_ENGINE();
  boot("      status_check_after_seconds: 1\n      status_check_interval_seconds: 1\n");
  std::string id = dial();
  answer(id, "1");
  Screen confirm = answer(id, "2");
  ASSERT_EQ(answer(id, "1").type(), "AddToCart");
  std::string pid = paymentOf(id);
  pay(id);
  ASSERT_TRUE(eventually([&] { return status(pid) == "succeeded"; })) << events(pid);
  ASSERT_TRUE(eventually([&] { return balance() == 20; }));
  ASSERT_TRUE(eventually([&] { return callbacks(id)->size() == 1; }));
  // The session row is gone (lost, or purged after its TTL), and the same SessionId is used
  // again: Hubtel's status API would still answer Paid for it, with the old transaction.
  kernel_->store().exec("DELETE FROM hubtel_sessions WHERE session_id = ?", {id});
  // Replaying the confirmation's (still valid) ClientState does not check out again ...
  Screen again = answerWithState(id, "1", confirm.clientState());
  EXPECT_EQ(again.type(), "release") << again.raw;
  EXPECT_EQ(again.message(), "Session expired. Please dial again.");
  // ... and neither does dialling that SessionId again and walking the menu.
  std::string steps[][2] = {
      {"Initiation", "*713#"}, {"Response", "1"}, {"Response", "2"}, {"Response", "1"}};
  for (const auto& step : steps) {
    auto o = ussd(R"({"Type":")" + step[0] + R"(","Mobile":"233244123456","SessionId":")" + id +
                  R"(","Message":")" + step[1] +
                  R"(","Operator":"mtn","Sequence":1,"ClientState":"","Platform":"USSD"})");
    EXPECT_EQ(str(o, "Type"), "release") << step[0] << " " << step[1];
    EXPECT_EQ(str(o, "Message"), "Session expired. Please dial again.");
  }
  // Past the status check's delay, still one payment for that SessionId, credited once.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(kernel_->store()
                .query("SELECT COUNT(*) AS n FROM payments WHERE order_ref = ?", {id})
                .i64(0, "n"),
            1);
  EXPECT_EQ(balance(), 20);
  EXPECT_EQ(ledgerRows(), 1);
}

// ---- Fees: whichever side bears Hubtel's fee ------------------------------------------------

TEST_P(HubtelTest, ACustomerBorneFeeSettlesAndRecordsGrossFeeAndNet) {
  SKIP_WITHOUT_ENGINE();
  boot("      status_check_after_seconds: 1\n      status_check_interval_seconds: 1\n");
  // Through the fulfilment (then the status check), and through the status check alone.
  for (const char* fulfilment : {"once", "never"}) {
    std::int64_t before = balance();
    std::string id = checkout(1);
    std::string pid = paymentOf(id);
    // 1 x 10.00: the customer pays 10.10 (Subtotal and AmountPaid), the merchant gets 10.00.
    auto paid =
        pay(id, R"(, "fee_bearer": "customer", "fulfilment": ")" + std::string(fulfilment) + "\"");
    EXPECT_EQ(str(paid, "amount"), "10.10");
    ASSERT_TRUE(eventually([&] { return status(pid) == "succeeded"; }, 15000)) << fulfilment << "\n"
                                                                               << events(pid);
    ASSERT_TRUE(eventually([&] { return balance() == before + 10; }));
    auto p = kernel_->payments().get(pid).value();
    EXPECT_EQ(p.grossMinor, 1010) << fulfilment;
    EXPECT_EQ(p.feeMinor, 10);
    EXPECT_EQ(p.netMinor, 1000);
    auto json = http(port_, "GET", "/admin/payments/" + pid, "", kAdmin);
    ASSERT_EQ(json.status, 200) << json.body;
    auto o = parse(json.body);
    EXPECT_EQ(str(o, "gross"), "10.10");
    EXPECT_EQ(str(o, "fee"), "0.10");
    EXPECT_EQ(str(o, "net"), "10.00");
    if (std::string(fulfilment) == "once") {
      ASSERT_TRUE(eventually([&] { return callbacks(id)->size() == 1; }));
      EXPECT_EQ(str(callbacks(id)->getObject(0), "service_status"), "success");
    }
  }
}

TEST_P(HubtelTest, AMerchantBorneFeeSettlesAndRecordsGrossFeeAndNet) {
  SKIP_WITHOUT_ENGINE();
  boot();
  std::string id = checkout(3);
  std::string pid = paymentOf(id);
  auto paid = pay(id, R"(, "fee_bearer": "merchant")");
  EXPECT_EQ(str(paid, "amount"), "30.00");
  ASSERT_TRUE(eventually([&] { return status(pid) == "succeeded"; })) << events(pid);
  ASSERT_TRUE(eventually([&] { return callbacks(id)->size() == 1; }));
  EXPECT_EQ(str(callbacks(id)->getObject(0), "service_status"), "success");
  EXPECT_EQ(balance(), 30);
  auto o = parse(http(port_, "GET", "/admin/payments/" + pid, "", kAdmin).body);
  EXPECT_EQ(str(o, "gross"), "30.00");
  EXPECT_EQ(str(o, "fee"), "0.30");
  EXPECT_EQ(str(o, "net"), "29.70");
}

// ---- Other request types ------------------------------------------------------------------

TEST_P(HubtelTest, OtherRequestTypesGetAPoliteRelease) {
  SKIP_WITHOUT_ENGINE();
  boot();
  for (const char* type : {"Query", "Favorite", "favorite", "AddToCart"}) {
    int st = 0;
    auto o = ussd(R"({"Type":")" + std::string(type) +
                      R"(","Mobile":"233244123456","SessionId":"s-app","ServiceCode":"713",
      "Message":"","Operator":"","Sequence":1,"ClientState":"","Platform":"Hubtel-App"})",
                  &st);
    EXPECT_EQ(st, 200);
    EXPECT_EQ(str(o, "Type"), "release") << type;
    EXPECT_EQ(str(o, "SessionId"), "s-app");
    EXPECT_EQ(str(o, "Message"),
              "This service does not offer that here. Please dial the code to use it.")
        << type;
  }
  // Even without a Mobile (the app may send none) the answer is polite, and no session is made.
  auto bare = ussd(R"({"Type":"Query","SessionId":"s-app-2"})");
  EXPECT_EQ(str(bare, "Message"),
            "This service does not offer that here. Please dial the code to use it.");
  EXPECT_EQ(kernel_->store().query("SELECT COUNT(*) AS n FROM hubtel_sessions").i64(0, "n"), 0);
}

// ---- The phone page -----------------------------------------------------------------------

namespace {
std::string form(const std::map<std::string, std::string>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    std::string e;
    Poco::URI::encode(v, "&=+#*", e);
    out += (out.empty() ? "" : "&") + k + "=" + e;
  }
  return out;
}
std::string hidden(const std::string& html, const std::string& name) {
  std::string marker = "name=\"" + name + "\" id=\"" + name + "\" value=\"";
  auto at = html.find(marker);
  if (at == std::string::npos) return "";
  at += marker.size();
  return html.substr(at, html.find('"', at) - at);
}
}  // namespace

TEST_P(HubtelTest, ThePhonePageWorksWithoutJavaScript) {
  SKIP_WITHOUT_ENGINE();
  boot();
  auto page = http(port_, "GET", "/sandbox/hubtel/phone");
  ASSERT_EQ(page.status, 200);
  for (const char* id : {"id=\"mobile\"", "id=\"code\"", "id=\"input\"", "id=\"send\"",
                         "id=\"screen\"", "<form method=\"post\""})
    EXPECT_NE(page.body.find(id), std::string::npos) << id;
  EXPECT_EQ(page.body.find("<script"), std::string::npos);
  auto post = [&](std::map<std::string, std::string> f) {
    return http(port_, "POST", "/sandbox/hubtel/phone", form(f), {},
                "application/x-www-form-urlencoded");
  };
  auto menu = post({{"mobile", "0244123456"},
                    {"code", "*713#"},
                    {"input", ""},
                    {"session", ""},
                    {"action", "send"}});
  ASSERT_EQ(menu.status, 200);
  EXPECT_NE(menu.body.find("1. 10 credits - GHS 10.00"), std::string::npos) << menu.body;
  std::string s = hidden(menu.body, "session");
  ASSERT_FALSE(s.empty()) << menu.body;
  auto q = post({{"mobile", "0244123456"},
                 {"code", "*713#"},
                 {"input", "2"},
                 {"session", s},
                 {"action", "send"}});
  EXPECT_NE(q.body.find("Enter quantity"), std::string::npos);
  post({{"input", "2"}, {"session", s}, {"action", "send"}});
  auto cart = post({{"input", "1"}, {"session", s}, {"action", "send"}});
  EXPECT_NE(cart.body.find("id=\"pay\""), std::string::npos) << cart.body;
  EXPECT_NE(cart.body.find("GHS 50.00"), std::string::npos);
  auto done = post({{"session", s}, {"action", "pay"}});
  EXPECT_NE(done.body.find("Payment approved."), std::string::npos) << done.body;
  ASSERT_TRUE(eventually([&] { return balance() == 50; }));
  // Escaping: what the service says is text, never markup.
  auto evil = post({{"mobile", "<b>x</b>"}, {"session", ""}, {"action", "send"}});
  EXPECT_EQ(evil.body.find("<b>x</b>"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Engines, HubtelTest, ::testing::Values("sqlite", "postgresql"),
                         engineName);

// ---- Outside sandbox: who may send USSD steps, and the secrets -----------------------------

class HubtelLiveTest : public EngineTest {
 protected:
  std::string yaml(const std::string& hubtelSettings) {
    return "server: {listen: \"127.0.0.1:0\", access_log: false}\n"
           "database: {url: \"" +
           url() +
           "\", pool_size: 8}\n"
           "auth: {jwt_secret: test-secret-0123456789abcdefghijklmnop}\n"
           "admin: {token: admin-token-0123456789abcdefghijklmnop}\n"
           "log: {level: error}\n"
           "sandbox: false\n"
           "plugins:\n"
           "  - name: hubtel\n"
           "    library: " HUBTEL_PLUGIN
           "\n"
           "    settings:\n"
           "      pos_sales_id: \"2000000\"\n"
           "      status_base_url: \"http://127.0.0.1:9\"\n"
           "      callback_url: \"http://127.0.0.1:9/callback\"\n" +
           hubtelSettings +
           "  - name: credits\n"
           "    library: " CREDITS_PLUGIN
           "\n"
           "    settings: {providers: [hubtel]}\n";
  }
  void boot(const std::string& hubtelSettings) {
    kernel_ = std::make_unique<Kernel>(ConfigLoader::loadString(
        yaml("      client_state_secret: test-secret-0123456789abcdefghijklmnop\n" +
             hubtelSettings),
        "live.yaml"));
    kernel_->open();
    kernel_->start();
    port_ = kernel_->port();
    // The victim has credits.
    kernel_->store().exec(
        "INSERT INTO credit_accounts (account, balance, updated_at) VALUES (?, 75, 0)",
        {std::string(kAccount)});
  }
  void TearDown() override { kernel_.reset(); }
  HttpResult step(const std::string& type, const std::string& session, const std::string& message,
                  const std::string& clientState = "") {
    return http(port_, "POST", "/ussd",
                R"({"Type":")" + type + R"(","Mobile":"233244123456","SessionId":")" + session +
                    R"(","ServiceCode":"713",
                "Message":")" +
                    message + R"(","Operator":"mtn","Sequence":1,"ClientState":")" + clientState +
                    R"(","Platform":"USSD"})");
  }
  std::unique_ptr<Kernel> kernel_;
  std::uint16_t port_ = 0;
};

TEST_P(HubtelLiveTest, UssdStepsFromAnAddressThatIsNotHubtelsAreRefused) {
  SKIP_WITHOUT_ENGINE();
  boot("");  // allowed_ips: Hubtel's three; this test calls from 127.0.0.1
  auto init = step("Initiation", "attacker-1", "*713#");
  EXPECT_EQ(init.status, 403) << init.body;
  EXPECT_EQ(init.body.find("Balance"), std::string::npos);
  auto balance = step("Response", "attacker-1", "4");
  EXPECT_EQ(balance.status, 403);
  EXPECT_EQ(balance.body.find("75"), std::string::npos) << balance.body;
  EXPECT_EQ(http(port_, "POST", "/ussd", "not json").status, 403);
  EXPECT_EQ(kernel_->store().query("SELECT COUNT(*) AS n FROM hubtel_sessions").i64(0, "n"), 0);
  EXPECT_NE(http(port_, "GET", "/metrics")
                .body.find("malipo_hubtel_errors_total{type=\"forbidden_ip\"} 3"),
            std::string::npos);
}

TEST_P(HubtelLiveTest, HubtelsAddressesSeeTheMenuAndTheBalance) {
  SKIP_WITHOUT_ENGINE();
  boot("      interaction_allowed_ips: [127.0.0.1, \"::1\"]\n");
  auto init = step("Initiation", "hubtel-1", "*713#");
  ASSERT_EQ(init.status, 200) << init.body;
  auto menu = parse(init.body);
  EXPECT_NE(str(menu, "Message").find("4. Check my balance"), std::string::npos) << init.body;
  auto bal = parse(step("Response", "hubtel-1", "4", str(menu, "ClientState")).body);
  EXPECT_EQ(str(bal, "Message"), "Balance: 75 credits");
  // Fulfilments keep their own list (Hubtel's three): this address may not send one.
  auto f = http(port_, "POST", "/ussd",
                R"({"SessionId":"hubtel-1","OrderId":"o-1","OrderInfo":{"Status":"Paid"}})");
  EXPECT_EQ(f.status, 403);
}

TEST_P(HubtelLiveTest, WithTheInteractionCheckOffNoAccountDataIsShown) {
  SKIP_WITHOUT_ENGINE();
  boot("      interaction_ip_check: \"off\"\n");
  auto init = step("Initiation", "unproven-1", "*713#");
  ASSERT_EQ(init.status, 200) << init.body;
  auto menu = parse(init.body);
  EXPECT_EQ(str(menu, "Message"),
            "Malipo\n1. 10 credits - GHS 10.00\n2. 25 credits - GHS 25.00\n3. 50 credits - GHS "
            "50.00\n98. Kiswahili / Fran\xC3\xA7"
            "ais\n0. Exit");
  auto bal = parse(step("Response", "unproven-1", "4", str(menu, "ClientState")).body);
  EXPECT_EQ(str(bal, "Message").find("75"), std::string::npos) << str(bal, "Message");
  EXPECT_EQ(str(bal, "Type"), "response");  // "Invalid choice." and the menu again
}

TEST_P(HubtelLiveTest, ALiveConfigWithoutAStrongClientStateSecretIsRefused) {
  SKIP_WITHOUT_ENGINE();
  struct Case {
    std::string setting, why;
  } cases[] = {
      {"", "client_state_secret: is empty"},
      {"      client_state_secret: short-secret\n",
       "client_state_secret: is shorter than 32 bytes"},
      {"      client_state_secret: sandbox-client-state-secret-0123456789\n",
       "client_state_secret: is a published placeholder"},
  };
  for (const auto& c : cases) {
    std::string message;
    try {
      Kernel k(ConfigLoader::loadString(yaml(c.setting), "live.yaml"));
      k.open();
    } catch (const std::exception& e) {
      message = e.what();
    }
    EXPECT_NE(message.find("hubtel"), std::string::npos) << message;
    EXPECT_NE(message.find(c.why), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;            // one line
    EXPECT_EQ(message.find("short-secret"), std::string::npos) << message;  // never the value
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, HubtelLiveTest, ::testing::Values("sqlite", "postgresql"),
                         engineName);
