// A test product: sells whatever a test asks for and records each fulfilment, so tests can
// count deliveries. Built against the SPI headers only.
//
//   POST /shop/orders {"amount_minor", "currency", "providers": [...], "channel", "phone", "push"}
//     → 201 {"payment": {...}} (Idempotency-Key honoured)
//   GET  /shop/payments/{id} → the payment (sync on read)
//   POST /shop/payments/{id}/proof {"text": "..."} → proof outcome
//   POST /shop/webhook-alias → the webhook inbox of settings.alias_provider
//   POST /shop/widget-price {"amount_minor"} → the price of the catalog's widget (ussd_menu,
//     GHS 10.50 until changed): a catalog that moves while menus are open
// Refunds (SDK 1.1): checkRefund refuses with settings.refuse_refunds (its text) when set;
// onPaymentRefunded records a fulfilment of kind "refunded:<refund id>" (tests count them).
#include <Poco/JSON/Parser.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "malipo/payments.hpp"
#include "malipo/plugin.hpp"
#include "malipo/product.hpp"

namespace {

class Shop final : public malipo::Product {
 public:
  explicit Shop(malipo::Host& host) : host_(host) {}
  std::string name() const override { return "shop"; }

  std::vector<malipo::Migration> migrations() const override {
    malipo::Migration m;
    m.version = 1;
    m.description = "fulfilments (no unique key on purpose: tests count duplicates)";
    m.sqlite =
        "CREATE TABLE shop_fulfilments (payment_id TEXT NOT NULL, kind TEXT NOT NULL, created_at "
        "BIGINT NOT NULL)";
    malipo::Migration seen;
    seen.version = 2;
    seen.description = "the payment as the in-transaction delivery was given it";
    seen.sqlite = "ALTER TABLE shop_fulfilments ADD COLUMN seen TEXT";
    return {m, seen};
  }

  std::vector<malipo::CatalogItem> catalog(const std::string& channel) const override {
    if (channel != "ussd_menu") return {};
    return {{"widget", "Widget", widgetPriceMinor_.load(), "GHS"}};
  }
  // Sold through channel menus one at a time (no quantity field in the metadata).
  malipo::Result<std::string> prepareChannelSale(const malipo::CatalogItem& item,
                                                 const malipo::Customer&) override {
    if (item.id != "widget")
      return malipo::Error::make(malipo::ErrorCode::invalidInput, "unknown item " + item.id);
    return std::string(R"({"sku":"widget"})");
  }

  void start() override {
    auto& r = host_.router();
    r.add("POST", "/shop/orders",
          [this](const malipo::Request& req) {
            Poco::JSON::Object::Ptr in;
            try {
              in = Poco::JSON::Parser().parse(req.body).extract<Poco::JSON::Object::Ptr>();
            } catch (...) {
              return malipo::Response::error(
                  malipo::Error::make(malipo::ErrorCode::invalidInput, "bad json"), req.requestId);
            }
            malipo::CreatePayment cp;
            cp.product = "shop";
            cp.orderRef = in->optValue<std::string>("order_ref", "order-1");
            cp.amountMinor = in->optValue<Poco::Int64>("amount_minor", 100000);
            cp.currency = in->optValue<std::string>("currency", "TZS");
            cp.channel = in->optValue<std::string>("channel", "");
            cp.customer.phone = in->optValue<std::string>("phone", "");
            cp.customer.email = "buyer@example.com";
            cp.customer.name = "Test Buyer";
            cp.push = in->optValue<bool>("push", false);
            if (auto arr = in->getArray("providers"))
              for (std::size_t i = 0; i < arr->size(); ++i)
                cp.providers.push_back(arr->getElement<std::string>(i));
            auto res = host_.payments().create(cp);
            if (!res.ok()) return malipo::Response::error(res.error(), req.requestId);
            Poco::JSON::Object out;
            out.set("payment", host_.payments().toJson(res.value()));
            return malipo::Response::json(201, out).header("Location",
                                                           "/shop/payments/" + res.value().id);
          },
          {malipo::Auth::optional, "", 0, "", true});
    // What the kernel says to collect for an order (SDK 1.1): {"needs": [...]}.
    r.add("POST", "/shop/requirements", [this](const malipo::Request& req) {
      auto in = malipo::parseJsonObject(req.body);
      malipo::CreatePayment cp;
      cp.product = "shop";
      cp.amountMinor = in ? in->optValue<Poco::Int64>("amount_minor", 100000) : 100000;
      cp.currency = in ? in->optValue<std::string>("currency", "TZS") : "TZS";
      cp.customer.phone = in ? in->optValue<std::string>("phone", "") : "";
      if (in)
        if (auto arr = in->getArray("providers"))
          for (std::size_t i = 0; i < arr->size(); ++i)
            cp.providers.push_back(arr->getElement<std::string>(i));
      Poco::JSON::Array needs;
      for (const auto& f : host_.payments().requirements(cp)) needs.add(f);
      return malipo::Response::json(200, Poco::JSON::Object().set("needs", needs));
    });
    r.add("GET", "/shop/payments/{id}", [this](const malipo::Request& req) {
      auto res = host_.payments().get(req.param("id"));
      if (!res.ok()) return malipo::Response::error(res.error(), req.requestId);
      return malipo::Response::json(200, host_.payments().toJson(res.value()));
    });
    r.add("POST", "/shop/payments/{id}/proof", [this](const malipo::Request& req) {
      std::string text;
      try {
        text = Poco::JSON::Parser()
                   .parse(req.body)
                   .extract<Poco::JSON::Object::Ptr>()
                   ->optValue<std::string>("text", "");
      } catch (...) {
      }
      auto res = host_.payments().submitProof(req.param("id"), text);
      if (!res.ok()) return malipo::Response::error(res.error(), req.requestId);
      Poco::JSON::Object out;
      out.set("settled", res.value().settled);
      out.set("message", res.value().message);
      out.set("payment", host_.payments().toJson(res.value().payment));
      return malipo::Response::json(200, out);
    });
    r.add("POST", "/shop/payments/{id}/push", [this](const malipo::Request& req) {
      auto in = malipo::parseJsonObject(req.body);
      auto res = host_.payments().requestPush(req.param("id"),
                                              in ? in->optValue<std::string>("phone", "") : "");
      if (!res.ok()) return malipo::Response::error(res.error(), req.requestId);
      return malipo::Response::json(200, res.value().toJson());
    });
    r.add("POST", "/shop/widget-price", [this](const malipo::Request& req) {
      auto in = malipo::parseJsonObject(req.body);
      if (!in || !in->has("amount_minor") || !in->get("amount_minor").isInteger())
        return malipo::Response::error(
            malipo::Error::make(malipo::ErrorCode::invalidInput, "amount_minor wanted"),
            req.requestId);
      widgetPriceMinor_ = in->getValue<Poco::Int64>("amount_minor");
      Poco::JSON::Object out;
      out.set("amount_minor", widgetPriceMinor_.load());
      return malipo::Response::json(200, out);
    });
    std::string alias = host_.settings().getString("alias_provider");
    if (!alias.empty()) r.add("POST", "/shop/webhook-alias", host_.payments().webhookInbox(alias));
  }

  malipo::JobOutcome onPaymentSettled(const malipo::Payment& p) override {
    std::string fail = host_.settings().getString("fulfil_fail");
    if (fail == "permanent") return malipo::JobOutcome::fail("out of stock");
    if (fail == "always_retry") return malipo::JobOutcome::retry("warehouse unreachable", 1);
    return record(p, "settled");
  }
  // Delivery is one row: it goes in the kernel's transaction (exactly once, even across a
  // crash), unless the test asks for the classic path.
  bool deliversInTransaction() const override { return host_.settings().getBool("deliver_in_tx"); }
  malipo::JobOutcome onPaymentSettledInTx(const malipo::Payment& p, malipo::Tx& tx) override {
    std::string fail = host_.settings().getString("fulfil_fail");
    if (fail == "permanent") return malipo::JobOutcome::fail("out of stock");
    if (fail == "always_retry") return malipo::JobOutcome::retry("warehouse unreachable", 1);
    int delay = static_cast<int>(host_.settings().getInt("fulfil_delay_ms"));
    if (delay > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    // What the kernel handed over, for tests to compare with the committed row.
    std::string seen = std::string(malipo::statusName(p.status)) + " " + p.providerTxnId + " " +
                       p.fulfilment + " v" + std::to_string(p.version);
    tx.exec("INSERT INTO shop_fulfilments (payment_id, kind, created_at, seen) VALUES (?, ?, ?, ?)",
            {p.id, "settled", host_.clock().nowMs(), seen});
    return malipo::JobOutcome::ok();
  }
  malipo::JobOutcome onPaymentFailed(const malipo::Payment& p) override {
    return record(p, "failed");
  }
  malipo::Status checkRefund(const malipo::Payment&, const malipo::Refund&) override {
    std::string why = host_.settings().getString("refuse_refunds");
    if (why.empty()) return malipo::okStatus();
    return malipo::Error::make(malipo::ErrorCode::conflict, "shop refuses refunds", why);
  }
  malipo::JobOutcome onPaymentRefunded(const malipo::Payment& p,
                                       const malipo::Refund& refund) override {
    return record(p, "refunded:" + refund.id);
  }

 private:
  std::atomic<std::int64_t> widgetPriceMinor_{1050};
  malipo::JobOutcome record(const malipo::Payment& p, const std::string& kind) {
    int delay = static_cast<int>(host_.settings().getInt("fulfil_delay_ms"));
    if (delay > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    host_.db().write([&](malipo::Tx& tx) {
      tx.exec("INSERT INTO shop_fulfilments (payment_id, kind, created_at) VALUES (?, ?, ?)",
              {p.id, kind, host_.clock().nowMs()});
    });
    return malipo::JobOutcome::ok();
  }
  malipo::Host& host_;
};

malipo::SchemaNode shopSchema() {
  using namespace malipo::schema;
  return object("test shop")
      .field("alias_provider", str("provider whose webhooks /shop/webhook-alias accepts").def(""))
      .field("fulfil_delay_ms", integer("sleep in fulfilment (to widen race windows)").def(0))
      .field("deliver_in_tx",
             boolean("deliver inside the kernel's transaction (onPaymentSettledInTx)").def(true))
      .field("refuse_refunds",
             str("when set, checkRefund refuses every refund with this text").def(""))
      .field(
          "fulfil_fail",
          str("'permanent': fulfilment fails at once; 'always_retry': it never succeeds").def(""));
}

void shopRegister(malipo::Registrar& r) {
  r.addProduct(std::make_shared<Shop>(r.host()));
}

}  // namespace

MALIPO_PLUGIN("shop", "1.0.0", shopSchema, shopRegister)
