#include <Poco/Timestamp.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "kernel_fixture.hpp"

using namespace malipo;
using namespace malipo::test;

namespace {

std::string loadError(const std::string& pluginsYaml) {
  TempDir dir;
  std::string yaml = "database: {url: \"sqlite:" + dir.file("p.db") + "\"}\nlog: {level: error}\n" +
                     "auth: {jwt_secret: test-secret-0123456789abcdefghijklmnop}\nplugins:\n" +
                     pluginsYaml;
  try {
    Kernel k(ConfigLoader::loadString(yaml, "test.yaml"));
    k.open();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

std::string entry(const std::string& name, const std::string& library,
                  const std::string& settings = "") {
  return "  - name: " + name + "\n    library: " + library + "\n" +
         (settings.empty() ? "" : "    settings: " + settings + "\n");
}

}  // namespace

TEST(PluginLoader, LoadsAGoodPluginAndReportsItsVersionNote) {
  TempDir dir;
  Kernel k(ConfigLoader::loadString(kernelYaml("sqlite:" + dir.file("a.db")), "test.yaml"));
  k.open();
  ASSERT_EQ(k.plugins().plugins().size(), 1u);
  const auto& p = k.plugins().plugins()[0];
  EXPECT_EQ(p.note.name, "testplugin");
  EXPECT_EQ(p.version(), "1.2.3");
  EXPECT_EQ(p.note.sdkMajor, static_cast<std::uint32_t>(MALIPO_SDK_MAJOR));
  EXPECT_EQ(p.note.sdkMinor, static_cast<std::uint32_t>(MALIPO_SDK_MINOR));
  EXPECT_EQ(p.sdkVersion(), kernelSdkVersion());
  EXPECT_EQ(p.settings.getString("greeting"), "jambo");
  // Its migration ran.
  EXPECT_NO_THROW(k.store().query("SELECT COUNT(*) FROM test_runs"));
}

TEST(PluginLoader, MissingFile) {
  std::string e = loadError(entry("ghost", "/nonexistent/libmalipo_ghost.so"));
  EXPECT_NE(e.find("plugin 'ghost' (/nonexistent/libmalipo_ghost.so): cannot load library"),
            std::string::npos)
      << e;
}

TEST(PluginLoader, ALibraryWithoutAVersionNoteIsNotLoaded) {
  TempDir dir;
  std::string marker = dir.file("ctor");
  ::setenv("MALIPO_TEST_CTOR_MARKER", marker.c_str(), 1);
  std::string e = loadError(entry("broken_nonote", testPluginPath("broken_nonote")));
  ::unsetenv("MALIPO_TEST_CTOR_MARKER");
  EXPECT_NE(e.find("plugin 'broken_nonote' (" + testPluginPath("broken_nonote") +
                   "): no Malipo version note"),
            std::string::npos)
      << e;
  EXPECT_FALSE(std::ifstream(marker).good()) << "the library was loaded";
}

TEST(PluginLoader, MissingEntrySymbol) {
  std::string e = loadError(entry("broken_nosymbol", testPluginPath("broken_nosymbol")));
  EXPECT_NE(e.find("plugin 'broken_nosymbol' (" + testPluginPath("broken_nosymbol") +
                   "): no entry symbol 'malipo_plugin_init_v1'"),
            std::string::npos)
      << e;
}

// A plugin that asks for a newer minor or another major version is refused with one line
// naming the file, the version it wants and the one offered, before any of its code ran.
TEST(PluginLoader, ANewerSdkIsRefusedBeforeAnyOfItsCodeRuns) {
  // The marker works: a plugin that loads (for the first time in this process) leaves it.
  TempDir dir;
  std::string marker = dir.file("ctor");
  ::setenv("MALIPO_TEST_CTOR_MARKER", marker.c_str(), 1);
  EXPECT_EQ(loadError(entry("ctor_probe", testPluginPath("ctor_probe"))), "");
  EXPECT_TRUE(std::ifstream(marker).good()) << "the good plugin's constructor left no mark";
  std::remove(marker.c_str());
  const std::string offered = kernelSdkVersion();
  const std::string nextMinor =
      std::to_string(MALIPO_SDK_MAJOR) + "." + std::to_string(MALIPO_SDK_MINOR + 1);
  const std::string nextMajor = std::to_string(MALIPO_SDK_MAJOR + 1) + ".0";
  for (const auto& [name, wanted] :
       {std::pair<std::string, std::string>{"wants_next_minor", nextMinor},
        std::pair<std::string, std::string>{"wants_next_major", nextMajor}}) {
    SCOPED_TRACE(name);
    std::string e = loadError(entry(name, testPluginPath(name)));
    EXPECT_NE(e.find("plugin '" + name + "' (" + testPluginPath(name) + "): built for SDK " +
                     wanted + ", this kernel offers SDK " + offered),
              std::string::npos)
        << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << "one line";
    EXPECT_FALSE(std::ifstream(marker).good()) << "the refused plugin's constructor ran";
  }
  ::unsetenv("MALIPO_TEST_CTOR_MARKER");
}

TEST(PluginLoader, InitThatThrows) {
  std::string e = loadError(entry("broken_init", testPluginPath("broken_init")));
  EXPECT_NE(e.find("plugin 'broken_init' (" + testPluginPath("broken_init") +
                   "): init failed: register threw: deliberate failure in register"),
            std::string::npos)
      << e;
}

// A plugin written in C against malipo/abi.h alone, whose handlers answer garbage: each is a
// 500 JSON answer with a request id, and the process lives on.
TEST(PluginAbi, AHandlerThatAnswersGarbageIsContained) {
  TempDir dir;
  Kernel k(ConfigLoader::loadString(
      kernelYaml("sqlite:" + dir.file("g.db"), entry("garbage", testPluginPath("garbage"))),
      "test.yaml"));
  k.open();
  k.start();
  auto good = http(k.port(), "GET", "/garbage/ok");
  EXPECT_EQ(good.status, 200);
  EXPECT_EQ(good.body, "fine");
  for (const char* path :
       {"/garbage/code", "/garbage/status", "/garbage/fail", "/garbage/zero", "/test/throws"}) {
    SCOPED_TRACE(path);
    auto r = http(k.port(), "GET", path);
    EXPECT_EQ(r.status, 500) << r.body;
    auto o = parseJsonObject(r.body);
    ASSERT_TRUE(o) << r.body;
    EXPECT_EQ(o->getValue<std::string>("error"), "internal");
    EXPECT_FALSE(o->getValue<std::string>("request_id").empty());
    EXPECT_EQ(r.body.find("12345"), std::string::npos) << "internals leaked";
  }
  EXPECT_EQ(http(k.port(), "GET", "/healthz").status, 200);
  EXPECT_EQ(http(k.port(), "GET", "/garbage/ok").status, 200);
}

// Binary compatibility: the fake provider built against the SDK 1.0 headers kept in
// tests/fixtures/sdk-1.0 loads in this kernel and takes a payment from order to delivery.
TEST(PluginAbi, APluginBuiltAgainstSdk10TakesAPayment) {
  TempDir dir;
  std::string yaml =
      "server: {listen: \"127.0.0.1:0\", access_log: false}\n"
      "database: {url: \"sqlite:" +
      dir.file("c.db") +
      "\"}\n"
      "auth: {jwt_secret: test-secret-0123456789abcdefghijklmnop}\n"
      "jobs: {workers: 2, poll_interval_ms: 20}\nlog: {level: error}\nsandbox: true\nplugins:\n" +
      entry("fakepay_sdk10", testPluginPath("fakepay_sdk10")) +
      entry("shop", testPluginPath("shop"));
  Kernel k(ConfigLoader::loadString(yaml, "test.yaml"));
  k.open();
  k.start();
  ASSERT_EQ(k.plugins().plugins()[0].sdkVersion(), "1.0");
  auto order =
      http(k.port(), "POST", "/shop/orders",
           R"({"amount_minor": 250000, "currency": "TZS", "providers": ["fakepay_sdk10"]})");
  ASSERT_EQ(order.status, 201) << order.body;
  auto payment = parseJsonObject(order.body)->getObject("payment");
  std::string id = payment->getValue<std::string>("id");
  auto paid = http(
      k.port(), "POST",
      "/sandbox/fakepay_sdk10/orders/" + payment->getValue<std::string>("provider_ref") + "/pay",
      "{}");
  ASSERT_EQ(paid.status, 200) << paid.body;
  ASSERT_TRUE(eventually([&] {
    return k.store()
               .query("SELECT COUNT(*) AS n FROM shop_fulfilments WHERE payment_id = ?", {id})
               .i64(0, "n") == 1;
  }));
  EXPECT_EQ(k.store().query("SELECT status FROM payments WHERE id = ?", {id}).str(0, "status"),
            "succeeded");
}

namespace {

// A kernel with fakepay (and fakepay_sdk10) and the shop, in sandbox, listening on loopback.
std::string sdk11Yaml(const TempDir& dir, const std::string& shopSettings = "") {
  return "server: {listen: \"127.0.0.1:0\", access_log: false}\n"
         "database: {url: \"sqlite:" +
         dir.file("r.db") +
         "\"}\n"
         "auth: {jwt_secret: test-secret-0123456789abcdefghijklmnop}\n"
         "jobs: {workers: 2, poll_interval_ms: 20}\nlog: {level: error}\nsandbox: true\n"
         "plugins:\n" +
         entry("fakepay", testPluginPath("fakepay"), "{needs: [msisdn]}") +
         entry("fakepay_sdk10", testPluginPath("fakepay_sdk10")) +
         entry("shop", testPluginPath("shop"), shopSettings);
}

template <class T>
std::shared_ptr<T> find(Kernel& k, const std::string& name) {
  for (auto& p : k.plugins().plugins()) {
    if constexpr (std::is_same_v<T, PaymentProvider>) {
      for (auto& o : p.providers)
        if (o->name() == name) return o;
    } else {
      for (auto& o : p.products)
        if (o->name() == name) return o;
    }
  }
  return nullptr;
}

// A paid fakepay order, as the kernel's Payment for it.
Payment paidOrder(Kernel& k, const std::string& provider, std::int64_t amount) {
  auto order = http(k.port(), "POST", "/shop/orders",
                    R"({"amount_minor": )" + std::to_string(amount) +
                        R"(, "currency": "TZS", "phone": "255712345678", "providers": [")" +
                        provider + R"("]})");
  EXPECT_EQ(order.status, 201) << order.body;
  auto payment = parseJsonObject(order.body)->getObject("payment");
  std::string ref = payment->getValue<std::string>("provider_ref");
  EXPECT_EQ(http(k.port(), "POST", "/sandbox/" + provider + "/orders/" + ref + "/pay", "{}").status,
            200);
  Payment p;
  p.id = payment->getValue<std::string>("id");
  p.provider = provider;
  p.providerRef = ref;
  p.amountMinor = amount;
  p.currency = "TZS";
  return p;
}

}  // namespace

// SDK 1.1 through the ABI: what a provider declares (requirements, refunds, cancel) reaches
// the kernel, and the kernel's refund/queryRefund/cancel calls reach the plugin's code.
TEST(PluginAbi, Sdk11RefundsAndCancelCrossTheBoundary) {
  TempDir dir;
  Kernel k(ConfigLoader::loadString(sdk11Yaml(dir), "test.yaml"));
  k.open();
  k.start();
  auto fp = find<PaymentProvider>(k, "fakepay");
  ASSERT_TRUE(fp);
  Capabilities caps = fp->capabilities();
  EXPECT_EQ(caps.needs, std::vector<std::string>{"msisdn"});
  EXPECT_EQ(caps.refunds, RefundSupport::partial);
  EXPECT_TRUE(caps.cancel);

  Payment p = paidOrder(k, "fakepay", 100000);
  RefundRequest rq;
  rq.refundId = "rf-test-1";
  rq.amountMinor = 30000;
  rq.currency = "TZS";
  auto r = fp->refund(p, rq);
  ASSERT_TRUE(r.ok()) << r.error().internal;
  EXPECT_EQ(r.value().state, RefundStatus::State::succeeded);
  EXPECT_FALSE(r.value().providerRefundId.empty());
  EXPECT_EQ(r.value().amountMinor, 30000);
  // The same refund id again: the same refund, not a second one.
  auto again = fp->refund(p, rq);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value().providerRefundId, r.value().providerRefundId);
  EXPECT_EQ(k.store().query("SELECT COUNT(*) AS n FROM fakepay_sim_refunds").i64(0, "n"), 1);
  // More than what is left: the provider's refusal arrives as a failed refund.
  RefundRequest big = rq;
  big.refundId = "rf-test-2";
  big.amountMinor = 70001;
  auto refused = fp->refund(p, big);
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused.value().state, RefundStatus::State::failed);
  // queryRefund by our id; one the provider never made is notFound.
  auto q = fp->queryRefund(p, rq);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q.value().state, RefundStatus::State::succeeded);
  RefundRequest none = rq;
  none.refundId = "rf-never";
  auto missing = fp->queryRefund(p, none);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::notFound);

  // A simulator outage: a structured, retryable provider error.
  ASSERT_EQ(http(k.port(), "POST", "/sandbox/fakepay/script", R"({"refund_failures": 1})").status,
            200);
  RefundRequest later = rq;
  later.refundId = "rf-test-3";
  later.amountMinor = 1000;
  auto outage = fp->refund(p, later);
  ASSERT_FALSE(outage.ok());
  EXPECT_EQ(outage.error().code, ErrorCode::providerError);
  EXPECT_EQ(outage.error().providerCode, "500");
  EXPECT_TRUE(outage.error().retryable);

  // Cancel: a pending order is cancelled at the provider; a paid one answers with its success.
  auto pending = http(k.port(), "POST", "/shop/orders",
                      R"({"amount_minor": 5000, "currency": "TZS", "phone": "255712345678",
                          "providers": ["fakepay"]})");
  ASSERT_EQ(pending.status, 201) << pending.body;
  Payment c;
  c.id = parseJsonObject(pending.body)->getObject("payment")->getValue<std::string>("id");
  c.providerRef =
      parseJsonObject(pending.body)->getObject("payment")->getValue<std::string>("provider_ref");
  auto cancelled = fp->cancel(c);
  ASSERT_TRUE(cancelled.ok()) << cancelled.error().internal;
  EXPECT_EQ(cancelled.value().state, ProviderStatus::State::failed);
  auto tooLate = fp->cancel(p);
  ASSERT_TRUE(tooLate.ok());
  EXPECT_EQ(tooLate.value().state, ProviderStatus::State::succeeded);

  // The product's refund hooks.
  auto shop = find<Product>(k, "shop");
  ASSERT_TRUE(shop);
  Refund refund;
  refund.id = "rf-test-1";
  refund.paymentId = p.id;
  refund.amountMinor = 30000;
  refund.currency = "TZS";
  EXPECT_TRUE(shop->checkRefund(p, refund).ok());
  EXPECT_EQ(shop->onPaymentRefunded(p, refund).kind, JobOutcome::Kind::done);
  EXPECT_EQ(k.store()
                .query("SELECT COUNT(*) AS n FROM shop_fulfilments WHERE kind = ?",
                       {std::string("refunded:rf-test-1")})
                .i64(0, "n"),
            1);
}

// SDK 1.1 requirements: a provider that needs the customer's phone number is skipped when the
// order has none (the next provider takes it); with no other provider the order is refused
// with 400 naming the field and no payment is stored; a product can ask what to collect.
TEST(PluginAbi, Sdk11RoutingHonoursWhatProvidersNeed) {
  TempDir dir;
  Kernel k(ConfigLoader::loadString(sdk11Yaml(dir), "test.yaml"));
  k.open();
  k.start();
  auto count = [&] { return k.store().query("SELECT COUNT(*) AS n FROM payments").i64(0, "n"); };
  auto refused = http(k.port(), "POST", "/shop/orders",
                      R"({"amount_minor": 5000, "currency": "TZS", "providers": ["fakepay"]})");
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_NE(refused.body.find("msisdn"), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find("phone number"), std::string::npos) << refused.body;
  EXPECT_EQ(count(), 0) << "a refused order left a payment behind";

  auto fallback = http(k.port(), "POST", "/shop/orders",
                       R"({"amount_minor": 5000, "currency": "TZS",
                           "providers": ["fakepay", "fakepay_sdk10"]})");
  ASSERT_EQ(fallback.status, 201) << fallback.body;
  EXPECT_EQ(parseJsonObject(fallback.body)->getObject("payment")->getValue<std::string>("provider"),
            "fakepay_sdk10");
  auto withPhone = http(k.port(), "POST", "/shop/orders",
                        R"({"amount_minor": 5000, "currency": "TZS", "phone": "255712345678",
                            "providers": ["fakepay", "fakepay_sdk10"]})");
  ASSERT_EQ(withPhone.status, 201) << withPhone.body;
  EXPECT_EQ(
      parseJsonObject(withPhone.body)->getObject("payment")->getValue<std::string>("provider"),
      "fakepay");

  auto needs = [&](const std::string& body) {
    auto r = http(k.port(), "POST", "/shop/requirements", body);
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::string> out;
    auto a = parseJsonObject(r.body)->getArray("needs");
    for (std::size_t i = 0; a && i < a->size(); ++i) out.push_back(a->getElement<std::string>(i));
    return out;
  };
  EXPECT_EQ(needs(R"({"currency": "TZS", "providers": ["fakepay"]})"),
            std::vector<std::string>{"msisdn"});
  EXPECT_TRUE(
      needs(R"({"currency": "TZS", "phone": "255712345678", "providers": ["fakepay"]})").empty());
  EXPECT_TRUE(needs(R"({"currency": "TZS", "providers": ["fakepay", "fakepay_sdk10"]})").empty());
}

// SDK 1.1 status hints: a provider that answers "pending, ask again in 7 s" moves the
// payment's next check to then, instead of the kernel's schedule (the first check is 1 min).
TEST(PluginAbi, Sdk11APendingAnswersHintSetsTheNextCheck) {
  TempDir dir;
  std::string yaml = sdk11Yaml(dir);
  yaml.replace(yaml.find("{needs: [msisdn]}"), std::string("{needs: [msisdn]}").size(),
               "{retry_after_seconds: 7}");
  Kernel k(ConfigLoader::loadString(yaml, "test.yaml"));
  k.open();
  k.start();
  auto order = http(k.port(), "POST", "/shop/orders",
                    R"({"amount_minor": 5000, "currency": "TZS", "providers": ["fakepay"]})");
  ASSERT_EQ(order.status, 201) << order.body;
  std::string id = parseJsonObject(order.body)->getObject("payment")->getValue<std::string>("id");
  std::int64_t before = Poco::Timestamp().epochMicroseconds() / 1000;
  auto synced = k.payments().sync(id);
  ASSERT_TRUE(synced.ok());
  EXPECT_EQ(synced.value().status, PaymentStatus::pending);
  std::int64_t next = k.store()
                          .query("SELECT next_check_at FROM payments WHERE id = ?", {id})
                          .i64(0, "next_check_at");
  EXPECT_GE(next, before + 7000);
  EXPECT_LE(next, before + 7000 + 5000);
  // The provider's result code is in the event log.
  EXPECT_GE(k.store()
                .query("SELECT COUNT(*) AS n FROM payment_events WHERE payment_id = ? AND detail "
                       "LIKE ?",
                       {id, std::string("%code pending%")})
                .i64(0, "n"),
            1);
}

TEST(PluginAbi, Sdk11AProductsRefusalCarriesItsText) {
  TempDir dir;
  Kernel k(ConfigLoader::loadString(sdk11Yaml(dir, "{refuse_refunds: \"already shipped\"}"),
                                    "test.yaml"));
  k.open();
  auto shop = find<Product>(k, "shop");
  ASSERT_TRUE(shop);
  Payment p;
  p.id = "p1";
  Refund refund;
  refund.id = "rf1";
  auto st = shop->checkRefund(p, refund);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::conflict);
  EXPECT_EQ(st.error().external, "already shipped");
}

// A 1.0 plugin has none of the 1.1 hooks: it declares no requirements, no refunds and no
// cancel, and the kernel's calls get the SDK's defaults instead of reaching missing code.
TEST(PluginAbi, ASdk10PluginHasNoRefundsOrCancel) {
  TempDir dir;
  Kernel k(ConfigLoader::loadString(sdk11Yaml(dir), "test.yaml"));
  k.open();
  k.start();
  auto old = find<PaymentProvider>(k, "fakepay_sdk10");
  ASSERT_TRUE(old);
  Capabilities caps = old->capabilities();
  EXPECT_TRUE(caps.needs.empty());
  EXPECT_EQ(caps.refunds, RefundSupport::none);
  EXPECT_FALSE(caps.cancel);
  Payment p = paidOrder(k, "fakepay_sdk10", 1000);
  RefundRequest rq;
  rq.refundId = "rf-old";
  rq.amountMinor = 1000;
  auto r = old->refund(p, rq);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::invalidInput);
  EXPECT_FALSE(old->cancel(p).ok());
  EXPECT_EQ(k.store().query("SELECT COUNT(*) AS n FROM fakepay_sim_refunds").i64(0, "n"), 0);
}

TEST(PluginLoader, DuplicateName) {
  std::string e = loadError(entry("testplugin", testPluginPath("testplugin")) +
                            entry("testplugin", testPluginPath("testplugin")));
  EXPECT_NE(e.find("duplicate plugin name 'testplugin' (" + testPluginPath("testplugin")),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("test.yaml:"), std::string::npos) << e;
}

TEST(PluginLoader, NameMustMatchTheLibrary) {
  std::string e = loadError(entry("other", testPluginPath("testplugin")));
  EXPECT_NE(e.find("plugin 'other' (" + testPluginPath("testplugin") +
                   "): the library declares the name 'testplugin'"),
            std::string::npos)
      << e;
}

TEST(PluginLoader, SettingsValidatedAgainstThePluginSchema) {
  std::string e = loadError(entry("testplugin", testPluginPath("testplugin"), "{greting: typo}"));
  EXPECT_NE(e.find("plugin 'testplugin'"), std::string::npos) << e;
  EXPECT_NE(e.find("settings.greting: unknown key"), std::string::npos) << e;
}
