#include "flutterwave_sim.hpp"

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Timestamp.h>
#include <Poco/UUIDGenerator.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <set>

#include "../src/flutterwave_wire.hpp"
#include "malipo/money.hpp"

namespace malipo::flutterwave {

namespace {

const std::string kBase = "/sandbox/flutterwave";
const char* kLog = "flutterwave-sim";

const char* kCheckoutTemplate = R"(<div class="card">
{{#logo}}<p><img class="logo-sm" src="{{logo}}" alt=""></p>{{/logo}}
<p class="muted">Flutterwave sandbox checkout: test cards only, no money moves.</p>
<h1>{{title}}</h1>
{{#description}}<p>{{description}}</p>{{/description}}
<p><span class="code">{{currency}} {{amount}}</span></p>
<p class="muted">{{email}}</p>
{{#error}}<p class="error" role="alert" id="error">{{error}}</p>{{/error}}
{{#open}}
<form method="post" action="{{action}}" id="pay-form">
<input type="hidden" name="action" value="pay">
<p><label for="card_number">Card number</label>
<input id="card_number" name="card_number" inputmode="numeric" autocomplete="cc-number" required placeholder="5531 8866 5214 2950"></p>
<p><label for="expiry">Expiry (MM/YY)</label><input id="expiry" name="expiry" autocomplete="cc-exp" placeholder="09/32"></p>
<p><label for="cvv">CVV</label><input id="cvv" name="cvv" inputmode="numeric" autocomplete="cc-csc" placeholder="564"></p>
<p><button class="btn" type="submit" id="pay">Pay {{currency}} {{amount}}</button></p>
</form>
<form method="post" action="{{action}}" id="cancel-form"><input type="hidden" name="action" value="cancel">
<p><button class="btn secondary" type="submit" id="cancel">Cancel payment</button></p></form>
<h2>Test cards</h2>
<ul class="muted">
<li>5531 8866 5214 2950: success (on Flutterwave's own sandbox: PIN 3310, OTP 12345)</li>
<li>4187 4274 1556 4246: success</li>
<li>4242 4242 4242 4242: success</li>
<li>4111 1111 1111 1111: declined</li>
</ul>
<p class="muted">Any expiry in the future and any CVV.</p>
{{/open}}
{{#closed}}<p class="ok">This checkout is finished ({{checkout_status}}).</p>
<p><a class="btn" href="{{back_url}}" id="back">Return to the merchant</a></p>{{/closed}}
</div>)";

Response apiError(int status, const std::string& message) {
  // Flutterwave's error shape: {"status":"error","message":"…","data":null}.
  Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("status", "error");
  o.set("message", message);
  o.set("data", Poco::Dynamic::Var());
  return Response::json(status, o);
}

Response apiSuccess(const std::string& message, const Poco::Dynamic::Var& data) {
  Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("status", "success");
  o.set("message", message);
  o.set("data", data);
  return Response::json(200, o);
}

std::string digitsOnly(const std::string& s) {
  std::string out;
  for (char c : s)
    if (c >= '0' && c <= '9') out += c;
  return out;
}

std::string isoTime(std::int64_t ms) {
  return Poco::DateTimeFormatter::format(Poco::Timestamp(ms * 1000), "%Y-%m-%dT%H:%M:%S.%iZ");
}

std::string randomHex(std::size_t n) {
  std::string s = Poco::UUIDGenerator::defaultGenerator().createRandom().toString() +
                  Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
  s.erase(std::remove(s.begin(), s.end(), '-'), s.end());
  return s.substr(0, n);
}

// Flutterwave transaction ids are 9-10 digit numbers; random ones keep ids from two sandbox
// databases (or a re-created one) from lining up by accident.
std::int64_t randomTransactionId() {
  static std::mutex m;
  static std::mt19937_64 gen{std::random_device{}()};
  std::lock_guard<std::mutex> lock(m);
  return std::uniform_int_distribution<std::int64_t>(100000000, 9999999999)(gen);
}

bool validCheckoutId(const std::string& id) {
  return !id.empty() && id.size() <= 40 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

const char* kCheckoutColumns =
    "id, tx_ref, amount_minor, currency, redirect_url, customer_email, customer_name, "
    "customer_phone, title, description, logo, "
    "meta_json, status, created_at";
const char* kTransactionSelect =
    "SELECT t.id, t.checkout_id, t.tx_ref, t.flw_ref, t.amount_minor, t.charged_minor, "
    "t.fee_minor, t.currency, t.status, "
    "t.processor_response, t.card_first6, t.card_last4, t.card_token, t.created_at, "
    "c.customer_email, c.customer_name, c.customer_phone, c.title, c.meta_json "
    "FROM flutterwave_sim_transactions t JOIN flutterwave_sim_checkouts c ON c.id = t.checkout_id ";

}  // namespace

bool simCardSucceeds(const std::string& d) {
  return d == "5531886652142950" || d == "4187427415564246" || d == "4242424242424242";
}
bool simCardDeclines(const std::string& d) {
  return d == "4111111111111111";
}

std::int64_t simAppFeeMinor(std::int64_t amountMinor, const std::string& currency) {
  // Flutterwave's local card fee: 1.4%, rounded to the minor unit; NGN capped at 2000.
  std::int64_t fee = (amountMinor * 14 + 500) / 1000;
  if (currency == "NGN") fee = std::min<std::int64_t>(fee, 200000);
  return fee;
}

struct Simulator::Script {
  std::string outcome = "card";  // card | success | decline
  std::string webhook = "once";  // once | never | twice | late
  std::int64_t webhookDelayMs = 1500;
  std::string webhookMode;             // empty: the configured one
  std::string chargeAmount;            // major units actually charged; empty: the amount due
  std::string feeBearer = "merchant";  // merchant | customer (charged_amount = amount + app_fee)
};

Simulator::Simulator(Host& host, SimulatorConfig config) : host_(host), cfg_(std::move(config)) {}

Simulator::~Simulator() {
  stop();
}

void Simulator::stop() {
  std::list<Late> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    threads.swap(late_);
  }
  cv_.notify_all();
  for (auto& l : threads)
    if (l.thread.joinable()) l.thread.join();
}

std::string Simulator::publicBase() const {
  return host_.publicUrl() + kBase;
}

bool Simulator::authorized(const Request& req) const {
  return constantTimeEquals(req.header("Authorization"), "Bearer " + cfg_.secretKey);
}

void Simulator::mount(Router& r) {
  r.add("POST", kBase + "/v3/payments", [this](const Request& q) { return createPayment(q); });
  r.add("GET", kBase + "/v3/transactions/verify_by_reference",
        [this](const Request& q) { return verifyByReference(q); });
  r.add("GET", kBase + "/v3/transactions/{id}/verify",
        [this](const Request& q) { return verifyById(q); });
  r.add("POST", kBase + "/v3/transactions/{id}/refund",
        [this](const Request& q) { return createRefund(q); });
  r.add("GET", kBase + "/v3/refunds", [this](const Request& q) { return listRefunds(q); });
  r.add("GET", kBase + "/v3/refunds/{id}", [this](const Request& q) { return fetchRefund(q); });
  r.add("GET", kBase + "/checkout/{id}", [this](const Request& q) { return checkoutPage(q); });
  r.add("POST", kBase + "/checkout/{id}", [this](const Request& q) { return checkoutSubmit(q); });
  r.add("POST", kBase + "/script", [this](const Request& q) { return script(q); });
  r.add("GET", kBase + "/calls", [this](const Request& q) { return calls(q); });
}

Response Simulator::calls(const Request&) {
  Poco::JSON::Object::Ptr data = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  data->set("payments", static_cast<Poco::Int64>(createCalls_.load()));
  data->set("verify", static_cast<Poco::Int64>(verifyByIdCalls_.load()));
  data->set("verify_by_reference", static_cast<Poco::Int64>(verifyByReferenceCalls_.load()));
  data->set("refunds", static_cast<Poco::Int64>(refundCalls_.load()));
  data->set("total", static_cast<Poco::Int64>(createCalls_.load() + verifyByIdCalls_.load() +
                                              verifyByReferenceCalls_.load()));
  return apiSuccess("Calls counted", data);
}

Response Simulator::createPayment(const Request& req) {
  ++createCalls_;
  if (!authorized(req)) return apiError(401, "Invalid authorization key");
  // A scripted failure of the next create call (to exercise the provider's error path).
  std::int64_t scriptedError = 0;
  host_.db().write([&](Tx& tx) {
    scriptedError = 0;
    Rows r = tx.query(
        "SELECT script_json FROM flutterwave_sim_scripts WHERE script_key = 'create_error'");
    if (r.empty()) return;
    auto o = parseJsonObject(r.str(0, "script_json"));
    scriptedError = o ? o->optValue<Poco::Int64>("create_error", 500) : 500;
    tx.exec("DELETE FROM flutterwave_sim_scripts WHERE script_key = 'create_error'");
  });
  if (scriptedError == 401) return apiError(401, "Invalid authorization key");
  if (scriptedError >= 400)
    return apiError(static_cast<int>(scriptedError), "Simulated failure: scripted create_error");

  auto in = parseJsonObject(req.body);
  if (!in) return apiError(400, "Invalid JSON body");
  std::string txRef = in->has("tx_ref") ? scalarText(in->get("tx_ref")) : "";
  if (txRef.empty() || txRef.size() > 100) return apiError(400, "tx_ref is required");
  std::string currency = in->has("currency") ? scalarText(in->get("currency")) : "NGN";
  if (!validCurrency(currency)) return apiError(400, "Invalid currency");
  std::int64_t amount = in->has("amount") ? minorFromJson(in->get("amount"), currency) : -1;
  if (amount <= 0) return apiError(400, "amount is required and must be a positive number");
  std::string redirect = in->has("redirect_url") ? scalarText(in->get("redirect_url")) : "";
  if (redirect.rfind("http://", 0) != 0 && redirect.rfind("https://", 0) != 0)
    return apiError(400, "redirect_url is required");
  auto customer = in->getObject("customer");
  std::string email = customer && customer->has("email") ? scalarText(customer->get("email")) : "";
  if (email.find('@') == std::string::npos) return apiError(400, "customer.email is required");
  auto custom = in->getObject("customizations");
  auto text = [](const Poco::JSON::Object::Ptr& o, const char* k) {
    return o && o->has(k) ? scalarText(o->get(k)) : std::string();
  };
  auto meta = in->getObject("meta");
  std::string metaJson = meta ? toJson(*meta) : "{}";

  std::string id = randomHex(24);
  host_.db().write([&](Tx& tx) {
    // A script posted for "the next order" becomes this tx_ref's script (unless the test
    // already scripted this tx_ref by name).
    Rows next =
        tx.query("SELECT script_json FROM flutterwave_sim_scripts WHERE script_key = 'next'");
    if (!next.empty()) {
      tx.exec(
          "INSERT INTO flutterwave_sim_scripts (script_key, script_json, created_at) VALUES (?, ?, "
          "?) ON CONFLICT DO NOTHING",
          {"tx_ref:" + txRef, next.str(0, "script_json"), host_.clock().nowMs()});
      tx.exec("DELETE FROM flutterwave_sim_scripts WHERE script_key = 'next'");
    }
    tx.exec(std::string("INSERT INTO flutterwave_sim_checkouts (") + kCheckoutColumns +
                ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)",
            {id, txRef, amount, currency, redirect, email, text(customer, "name"),
             text(customer, "phonenumber"), text(custom, "title"), text(custom, "description"),
             text(custom, "logo"), metaJson, host_.clock().nowMs()});
  });
  Poco::JSON::Object::Ptr data = new Poco::JSON::Object;
  data->set("link", publicBase() + "/checkout/" + id);
  return apiSuccess("Hosted Link", data);
}

Poco::JSON::Object::Ptr Simulator::transactionData(const Rows& r, std::size_t i) const {
  std::string currency = r.str(i, "currency");
  std::int64_t amountMinor = r.i64(i, "amount_minor");
  // Rows from before fees were simulated read charged = amount, no fee.
  std::int64_t chargedMinor =
      r.i64(i, "charged_minor") > 0 ? r.i64(i, "charged_minor") : amountMinor;
  std::int64_t feeMinor = r.i64(i, "fee_minor");
  auto amount = majorAmountJson(amountMinor, currency);
  std::string first6 = r.str(i, "card_first6");
  Poco::JSON::Object::Ptr d = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  d->set("id", static_cast<Poco::Int64>(r.i64(i, "id")));
  d->set("tx_ref", r.str(i, "tx_ref"));
  d->set("flw_ref", r.str(i, "flw_ref"));
  d->set("device_fingerprint", "sandbox");
  d->set("amount", amount);
  d->set("currency", currency);
  d->set("charged_amount", majorAmountJson(chargedMinor, currency));
  d->set("app_fee", majorAmountJson(feeMinor, currency));
  d->set("merchant_fee", 0);
  d->set("processor_response", r.str(i, "processor_response"));
  d->set("auth_model", "NOAUTH");
  d->set("ip", "127.0.0.1");
  d->set("narration",
         r.str(i, "title").empty() ? std::string("Malipo sandbox") : r.str(i, "title"));
  d->set("status", r.str(i, "status"));
  d->set("payment_type", "card");
  d->set("created_at", isoTime(r.i64(i, "created_at")));
  d->set("account_id", 0);
  // What reaches the merchant's balance: the charge less Flutterwave's fee.
  d->set("amount_settled", majorAmountJson(chargedMinor - feeMinor, currency));
  Poco::JSON::Object::Ptr card = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  card->set("first_6digits", first6);
  card->set("last_4digits", r.str(i, "card_last4"));
  card->set("issuer", "SANDBOX BANK");
  card->set("country", "NG");
  card->set("type", !first6.empty() && first6[0] == '5' ? "MASTERCARD" : "VISA");
  card->set("expiry", "09/32");
  card->set("token", r.str(i, "card_token"));
  d->set("card", card);
  if (auto meta = parseJsonObject(r.str(i, "meta_json"))) d->set("meta", meta);
  Poco::JSON::Object::Ptr customer = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  customer->set("id", static_cast<Poco::Int64>(r.i64(i, "id") % 1000000 + 100000));
  customer->set("name", r.str(i, "customer_name"));
  customer->set("phone_number", r.str(i, "customer_phone"));
  customer->set("email", r.str(i, "customer_email"));
  customer->set("created_at", isoTime(r.i64(i, "created_at")));
  d->set("customer", customer);
  return d;
}

Response Simulator::transactionReply(const Rows& r) {
  if (r.empty()) return apiError(400, "No transaction was found for this id");
  return apiSuccess("Transaction fetched successfully", transactionData(r, 0));
}

Response Simulator::verifyById(const Request& req) {
  ++verifyByIdCalls_;
  if (!authorized(req)) return apiError(401, "Invalid authorization key");
  std::string id = req.param("id");
  if (!looksLikeTransactionId(id) || id.size() > 18)
    return apiError(400, "No transaction was found for this id");
  return transactionReply(host_.db().query(std::string(kTransactionSelect) + "WHERE t.id = ?",
                                           {static_cast<std::int64_t>(std::stoll(id))}));
}

Response Simulator::verifyByReference(const Request& req) {
  ++verifyByReferenceCalls_;
  if (!authorized(req)) return apiError(401, "Invalid authorization key");
  std::string txRef = req.queryParam("tx_ref");
  if (txRef.empty()) return apiError(400, "tx_ref is required");
  // The latest attempt for the reference, as Flutterwave reports one transaction per tx_ref.
  return transactionReply(
      host_.db().query(std::string(kTransactionSelect) +
                           "WHERE t.tx_ref = ? ORDER BY t.created_at DESC, t.id DESC LIMIT 1",
                       {txRef}));
}

Response Simulator::renderCheckout(const Rows& c, int status, const std::string& error) {
  std::string id = c.str(0, "id");
  std::string st = c.str(0, "status");
  Poco::JSON::Object data;
  data.set("title",
           c.str(0, "title").empty() ? std::string("Flutterwave Checkout") : c.str(0, "title"));
  data.set("description", c.str(0, "description"));
  data.set("logo", c.str(0, "logo"));
  data.set("currency", c.str(0, "currency"));
  data.set("amount", formatMajor(c.i64(0, "amount_minor"), c.str(0, "currency")));
  data.set("email", c.str(0, "customer_email"));
  data.set("action", kBase + "/checkout/" + id);
  data.set("open", st == "open");
  data.set("closed", st != "open");
  data.set("checkout_status", st);
  if (!error.empty()) data.set("error", error);
  if (st != "open") {
    Rows t = host_.db().query(
        "SELECT id, status FROM flutterwave_sim_transactions WHERE checkout_id = ? ORDER BY "
        "created_at DESC LIMIT 1",
        {id});
    std::vector<std::pair<std::string, std::string>> q{
        {"status", t.empty() ? "cancelled" : t.str(0, "status")}, {"tx_ref", c.str(0, "tx_ref")}};
    if (!t.empty()) q.emplace_back("transaction_id", t.str(0, "id"));
    data.set("back_url", appendQuery(c.str(0, "redirect_url"), q));
  }
  Response r = Response::html(
      status, host_.pages().render("Flutterwave Checkout (sandbox)", kCheckoutTemplate, data));
  r.header("Cache-Control", "no-store");
  return r;
}

Response Simulator::checkoutPage(const Request& req) {
  std::string id = req.param("id");
  Rows c;
  if (validCheckoutId(id))
    c = host_.db().query(
        std::string("SELECT ") + kCheckoutColumns + " FROM flutterwave_sim_checkouts WHERE id = ?",
        {id});
  if (c.empty())
    return Response::html(
        404, host_.pages().render("Checkout not found",
                                  "<div class=\"card\"><h1>Checkout not found</h1>"
                                  "<p class=\"error\">This payment link is not valid.</p></div>",
                                  Poco::JSON::Object()));
  return renderCheckout(c, 200, "");
}

Simulator::Script Simulator::loadScript(const std::string& txRef) {
  Script s;
  Rows r = host_.db().query("SELECT script_json FROM flutterwave_sim_scripts WHERE script_key = ?",
                            {"tx_ref:" + txRef});
  if (r.empty()) return s;
  auto o = parseJsonObject(r.str(0, "script_json"));
  if (!o) return s;
  s.outcome = o->optValue<std::string>("outcome", s.outcome);
  s.webhook = o->optValue<std::string>("webhook", s.webhook);
  s.webhookDelayMs = o->optValue<Poco::Int64>("webhook_delay_ms", s.webhookDelayMs);
  s.webhookMode = o->optValue<std::string>("webhook_mode", "");
  if (o->has("charge_amount")) s.chargeAmount = scalarText(o->get("charge_amount"));
  s.feeBearer = o->optValue<std::string>("fee_bearer", s.feeBearer);
  return s;
}

Response Simulator::checkoutSubmit(const Request& req) {
  std::string id = req.param("id");
  Rows c;
  if (validCheckoutId(id))
    c = host_.db().query(
        std::string("SELECT ") + kCheckoutColumns + " FROM flutterwave_sim_checkouts WHERE id = ?",
        {id});
  if (c.empty()) return checkoutPage(req);
  if (c.str(0, "status") != "open")
    return renderCheckout(c, 409, "This checkout was already used.");
  auto form = parseForm(req.body);
  std::string txRef = c.str(0, "tx_ref");
  std::string currency = c.str(0, "currency");
  std::string redirect = c.str(0, "redirect_url");

  if (form["action"] == "cancel") {
    std::int64_t n = host_.db().exec(
        "UPDATE flutterwave_sim_checkouts SET status = 'cancelled' WHERE id = ? AND status = "
        "'open'",
        {id});
    if (n != 1) return renderCheckout(c, 409, "This checkout was already used.");
    // Like Flutterwave: a cancelled checkout comes back without a transaction id.
    return Response::redirect(303,
                              appendQuery(redirect, {{"status", "cancelled"}, {"tx_ref", txRef}}));
  }

  std::string card = digitsOnly(form["card_number"]);
  Script script = loadScript(txRef);
  bool success = false;
  if (script.outcome == "success") {
    success = true;
  } else if (script.outcome == "decline") {
    success = false;
  } else if (simCardSucceeds(card)) {
    success = true;
  } else if (simCardDeclines(card)) {
    success = false;
  } else {
    return renderCheckout(
        c, 422, "This card is not a sandbox test card. Use one of the cards listed below.");
  }
  std::int64_t charged = c.i64(0, "amount_minor");
  if (!script.chargeAmount.empty()) {
    std::int64_t scripted = minorFromJson(Poco::Dynamic::Var(script.chargeAmount), currency);
    if (scripted > 0) charged = scripted;
  }
  std::int64_t txnId = randomTransactionId();
  std::string status = success ? "successful" : "failed";
  // A declined card costs nothing; a success pays Flutterwave's fee, from the merchant's
  // share or on top of the customer's charge (fee_bearer).
  std::int64_t fee = success ? simAppFeeMinor(charged, currency) : 0;
  bool taken = false;
  host_.db().write([&](Tx& tx) {
    // Closing the checkout and recording the charge in one transaction: a double submit
    // (two tabs, a double click) charges once.
    taken =
        tx.exec("UPDATE flutterwave_sim_checkouts SET status = ? WHERE id = ? AND status = 'open'",
                {success ? "paid" : "failed", id}) == 1;
    if (!taken) return;
    tx.exec(
        "INSERT INTO flutterwave_sim_transactions (id, checkout_id, tx_ref, flw_ref, amount_minor, "
        "charged_minor, fee_minor, "
        "currency, status, processor_response, card_first6, card_last4, card_token, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {txnId, id, txRef, "FLW-MOCK-" + randomHex(24), charged,
         charged + (script.feeBearer == "customer" ? fee : 0), fee, currency, status,
         success ? "Approved. Successful" : "Declined by the issuer (sandbox test card)",
         card.size() >= 6 ? card.substr(0, 6) : std::string("000000"),
         card.size() >= 4 ? card.substr(card.size() - 4) : std::string("0000"),
         "flw-t1nf-" + randomHex(32) + "-m03k", host_.clock().nowMs()});
  });
  if (!taken) return renderCheckout(c, 409, "This checkout was already used.");
  deliverWebhook(std::to_string(txnId), script);
  return Response::redirect(
      303, appendQuery(
               redirect,
               {{"status", status}, {"tx_ref", txRef}, {"transaction_id", std::to_string(txnId)}}));
}

void Simulator::deliverWebhook(const std::string& transactionId, const Script& script) {
  std::string mode = script.webhookMode.empty() ? cfg_.webhookMode : script.webhookMode;
  if (script.webhook == "never") {
    host_.logger().info(kLog, "transaction " + transactionId + ": webhook withheld (scripted)");
    return;
  }
  if (script.webhook == "late") {
    sendLater(script.webhookDelayMs,
              [this, transactionId, mode] { sendWebhookNow(transactionId, mode); });
    return;
  }
  int times = script.webhook == "twice" ? 2 : 1;
  for (int i = 0; i < times; ++i) sendWebhookNow(transactionId, mode);
}

void Simulator::sendWebhookNow(const std::string& transactionId, const std::string& mode) {
  Rows r = host_.db().query(std::string(kTransactionSelect) + "WHERE t.id = ?",
                            {static_cast<std::int64_t>(std::stoll(transactionId))});
  if (r.empty()) return;
  auto data = transactionData(r, 0);
  std::string body;
  if (mode == "legacy") {
    // The older flat camelCase delivery.
    Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
    o.set("id", data->get("id"));
    o.set("txRef", data->get("tx_ref"));
    o.set("flwRef", data->get("flw_ref"));
    o.set("orderRef", "URF_" + randomHex(12));
    o.set("createdAt", data->get("created_at"));
    o.set("amount", data->get("amount"));
    o.set("charged_amount", data->get("charged_amount"));
    o.set("status", data->get("status"));
    o.set("IP", "127.0.0.1");
    o.set("currency", data->get("currency"));
    o.set("appfee", data->get("app_fee"));
    o.set("merchantfee", 0);
    o.set("merchantbearsfee", r.i64(0, "charged_minor") <= r.i64(0, "amount_minor") ? 1 : 0);
    Poco::JSON::Object::Ptr customer = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    customer->set("phone", r.str(0, "customer_phone"));
    customer->set("fullName", r.str(0, "customer_name"));
    customer->set("email", r.str(0, "customer_email"));
    o.set("customer", customer);
    Poco::JSON::Object::Ptr entity = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    entity->set("card6", r.str(0, "card_first6"));
    entity->set("card_last4", r.str(0, "card_last4"));
    o.set("entity", entity);
    o.set("event.type", "CARD_TRANSACTION");
    body = toJson(o);
  } else {
    Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
    o.set("event", "charge.completed");
    o.set("data", data);
    body = toJson(o);
  }
  OutboundRequest out;
  out.method = "POST";
  out.url = cfg_.webhookUrl.empty() ? host_.publicUrl() + "/webhooks/flutterwave" : cfg_.webhookUrl;
  out.body = body;
  out.timeoutMs = 10000;
  out.maxRetries = 0;
  if (mode == "signature") {
    out.headers.emplace_back("flutterwave-signature", hmacSha256Base64(cfg_.secretHash, body));
  } else {
    out.headers.emplace_back("verif-hash", cfg_.secretHash);
  }
  auto res = host_.http().send(out);
  host_.logger().info(kLog,
                      "transaction " + transactionId + ": webhook (" + mode + ") -> " +
                          (res.ok() ? std::to_string(res.value().status) : res.error().internal));
}

void Simulator::sendLater(std::int64_t delayMs, std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return;
  // Reap finished threads so a long-running sandbox does not accumulate them.
  for (auto it = late_.begin(); it != late_.end();) {
    if (it->done->load()) {
      it->thread.join();
      it = late_.erase(it);
    } else {
      ++it;
    }
  }
  auto done = std::make_shared<std::atomic<bool>>(false);
  late_.push_back(Late{
      std::thread([this, delayMs, fn = std::move(fn), done] {
        bool stop = false;
        {
          std::unique_lock<std::mutex> lk(mu_);
          stop = cv_.wait_for(lk, std::chrono::milliseconds(delayMs), [this] { return stopping_; });
        }
        // At shutdown the server is gone: a late webhook is simply never sent,
        // which is one of the cases the kernel must cope with anyway.
        if (!stop) {
          try {
            fn();
          } catch (const std::exception& e) {
            host_.logger().warning(kLog, std::string("late webhook failed: ") + e.what());
          }
        }
        done->store(true);
      }),
      done});
}

Response Simulator::script(const Request& req) {
  try {
    return saveScript(req);
  } catch (const Poco::Exception& e) {
    // A value of the wrong type (e.g. "reset": "yes") is the caller's mistake, not a 500.
    return apiError(400, "Invalid script: " + e.displayText());
  }
}

Response Simulator::saveScript(const Request& req) {
  auto in = parseJsonObject(req.body);
  if (!in) return apiError(400, "Invalid JSON body");
  static const std::set<std::string> known{
      "tx_ref",       "outcome",       "webhook",         "webhook_delay_ms",
      "webhook_mode", "charge_amount", "fee_bearer",      "create_error",
      "reset",        "refund",        "refund_delay_ms", "refund_pending_lookups"};
  for (const auto& kv : *in)
    if (!known.count(kv.first)) return apiError(400, "Unknown script key: " + kv.first);
  auto oneOf = [&](const char* key, std::set<std::string> values) {
    return !in->has(key) || values.count(scalarText(in->get(key))) > 0;
  };
  if (!oneOf("outcome", {"card", "success", "decline"}))
    return apiError(400, "outcome must be card, success or decline");
  if (!oneOf("webhook", {"once", "never", "twice", "late"}))
    return apiError(400, "webhook must be once, never, twice or late");
  if (!oneOf("webhook_mode", {"verif-hash", "signature", "legacy"}))
    return apiError(400, "webhook_mode must be verif-hash, signature or legacy");
  if (!oneOf("fee_bearer", {"merchant", "customer"}))
    return apiError(400, "fee_bearer must be merchant or customer");
  if (in->has("reset") && !in->get("reset").isBoolean())
    return apiError(400, "reset must be true or false");
  if (in->has("webhook_delay_ms") && !in->get("webhook_delay_ms").isInteger())
    return apiError(400, "webhook_delay_ms must be an integer");
  if (in->has("webhook_delay_ms")) {
    Poco::Int64 delay = in->getValue<Poco::Int64>("webhook_delay_ms");
    if (delay < 0 || delay > 600000)
      return apiError(400, "webhook_delay_ms must be between 0 and 600000");
  }
  if (in->has("refund")) {
    // The next refund created: how Flutterwave answers it.
    if (!oneOf("refund", {"completed", "pending", "failed", "declined", "timeout", "error"}))
      return apiError(400, "refund must be completed, pending, failed, declined, timeout or error");
    for (const auto& kv : *in)
      if (kv.first != "refund" && kv.first != "refund_delay_ms" &&
          kv.first != "refund_pending_lookups")
        return apiError(400,
                        "a refund script takes only refund_delay_ms and "
                        "refund_pending_lookups besides refund");
    for (const char* k : {"refund_delay_ms", "refund_pending_lookups"})
      if (in->has(k) && (!in->get(k).isInteger() || in->getValue<Poco::Int64>(k) < 0 ||
                         in->getValue<Poco::Int64>(k) > 600000))
        return apiError(400, std::string(k) + " must be an integer between 0 and 600000");
    host_.db().write([&](Tx& tx) {
      tx.exec("DELETE FROM flutterwave_sim_scripts WHERE script_key = 'refund_next'");
      tx.exec(
          "INSERT INTO flutterwave_sim_scripts (script_key, script_json, created_at) VALUES "
          "('refund_next', ?, ?)",
          {req.body, host_.clock().nowMs()});
    });
    Poco::JSON::Object::Ptr data = new Poco::JSON::Object;
    data->set("applies_to", "the next refund created");
    return apiSuccess("Script saved", data);
  }
  if (in->has("refund_delay_ms") || in->has("refund_pending_lookups"))
    return apiError(400, "refund_delay_ms and refund_pending_lookups go with refund");
  if (in->has("charge_amount") && minorFromJson(in->get("charge_amount"), "NGN") <= 0)
    return apiError(400, "charge_amount must be a positive amount in major units");
  std::int64_t now = host_.clock().nowMs();
  Poco::JSON::Object::Ptr data = new Poco::JSON::Object;
  if (in->optValue<bool>("reset", false)) {
    host_.db().exec("DELETE FROM flutterwave_sim_scripts");
    data->set("reset", true);
    return apiSuccess("Scripts cleared", data);
  }
  if (in->has("create_error")) {
    Poco::Int64 code = in->optValue<Poco::Int64>("create_error", 0);
    if (code != 400 && code != 401 && code != 500)
      return apiError(400, "create_error must be 400, 401 or 500");
    host_.db().write([&](Tx& tx) {
      tx.exec("DELETE FROM flutterwave_sim_scripts WHERE script_key = 'create_error'");
      tx.exec(
          "INSERT INTO flutterwave_sim_scripts (script_key, script_json, created_at) VALUES "
          "('create_error', ?, ?)",
          {req.body, now});
    });
    data->set("applies_to", "the next create call");
    return apiSuccess("Script saved", data);
  }
  std::string txRef = in->has("tx_ref") ? scalarText(in->get("tx_ref")) : "";
  std::string key = txRef.empty() ? "next" : "tx_ref:" + txRef;
  host_.db().write([&](Tx& tx) {
    tx.exec("DELETE FROM flutterwave_sim_scripts WHERE script_key = ?", {key});
    tx.exec(
        "INSERT INTO flutterwave_sim_scripts (script_key, script_json, created_at) VALUES (?, ?, "
        "?)",
        {key, req.body, now});
  });
  data->set("applies_to", txRef.empty() ? std::string("the next checkout created") : txRef);
  return apiSuccess("Script saved", data);
}

// --- Refunds ------------------------------------------------------------------------------
//
// Like Flutterwave v3: a refund of a successful transaction, partial when `amount` is given
// (major units; absent: what is left), refused with a 400 error when it exceeds what is left
// (the sum of the transaction's refunds that did not fail is never above its amount). The
// refund object has Flutterwave's fields (id, account_id, tx_id, flw_ref, wallet_id,
// amount_refunded, status, destination, meta.source, comments, settlement_id, created_at).

namespace {
const char* kRefundSelect =
    "SELECT id, transaction_id, flw_ref, amount_minor, currency, status, comments, "
    "lookups, pending_lookups, created_at FROM flutterwave_sim_refunds ";
const int kRefundPageSize = 10;
}  // namespace

void Simulator::pause(std::int64_t ms) {
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait_for(lk, std::chrono::milliseconds(ms), [this] { return stopping_; });
}

Poco::JSON::Object::Ptr Simulator::refundData(const Rows& r, std::size_t i) const {
  Poco::JSON::Object::Ptr d = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  d->set("id", static_cast<Poco::Int64>(r.i64(i, "id")));
  d->set("account_id", 73362);
  d->set("tx_id", static_cast<Poco::Int64>(r.i64(i, "transaction_id")));
  d->set("flw_ref", r.str(i, "flw_ref"));
  d->set("wallet_id", 74639);
  d->set("amount_refunded", majorAmountJson(r.i64(i, "amount_minor"), r.str(i, "currency")));
  d->set("status", r.str(i, "status"));
  d->set("destination", "payment_source");
  Poco::JSON::Object::Ptr meta = new Poco::JSON::Object;
  meta->set("source", "availablebalance");
  d->set("meta", meta);
  d->set("comments", r.str(i, "comments"));
  d->set("settlement_id", "NEW");
  d->set("created_at", isoTime(r.i64(i, "created_at")));
  return d;
}

Response Simulator::createRefund(const Request& req) {
  ++refundCalls_;
  if (!authorized(req)) return apiError(401, "Invalid authorization key");
  std::string idText = req.param("id");
  if (!looksLikeTransactionId(idText)) return apiError(400, "Invalid transaction id");
  auto in = req.body.empty() ? Poco::JSON::Object::Ptr(new Poco::JSON::Object)
                             : parseJsonObject(req.body);
  if (!in) return apiError(400, "Invalid JSON body");
  std::string comments = in->has("comments") ? scalarText(in->get("comments")) : "";

  std::string outcome = "completed";
  std::int64_t delayMs = 2000, pendingLookups = 1;
  Response answer = apiError(500, "unset");
  Rows created;
  host_.db().write([&](Tx& tx) {
    created = Rows();
    Rows sc = tx.query(
        "SELECT script_json FROM flutterwave_sim_scripts WHERE script_key = 'refund_next'");
    if (!sc.empty()) {
      if (auto o = parseJsonObject(sc.str(0, "script_json"))) {
        outcome = o->optValue<std::string>("refund", outcome);
        delayMs = o->optValue<Poco::Int64>("refund_delay_ms", delayMs);
        pendingLookups = o->optValue<Poco::Int64>("refund_pending_lookups", pendingLookups);
      }
      tx.exec("DELETE FROM flutterwave_sim_scripts WHERE script_key = 'refund_next'");
    }
    if (outcome == "error") {
      answer = apiError(500, "Simulated failure: scripted refund error");
      return;
    }
    Rows t = tx.query(
        "SELECT amount_minor, currency, status FROM flutterwave_sim_transactions WHERE id = ?",
        {static_cast<std::int64_t>(std::stoll(idText))});
    if (t.empty()) {
      answer = apiError(400, "No transaction was found for this id");
      return;
    }
    if (t.str(0, "status") != "successful") {
      answer = apiError(400, "Only successful transactions can be refunded");
      return;
    }
    std::string currency = t.str(0, "currency");
    Rows used = tx.query(
        "SELECT COALESCE(SUM(amount_minor), 0) AS n FROM flutterwave_sim_refunds WHERE "
        "transaction_id = ? AND status <> 'failed'",
        {static_cast<std::int64_t>(std::stoll(idText))});
    std::int64_t left = t.i64(0, "amount_minor") - used.i64(0, "n");
    std::int64_t amount = left;
    if (in->has("amount") && !in->get("amount").isEmpty()) {
      amount = minorFromJson(in->get("amount"), currency);
      if (amount <= 0) {
        answer = apiError(400, "amount must be a positive number");
        return;
      }
    }
    if (left <= 0) {
      answer = apiError(400, "Transaction has been fully refunded");
      return;
    }
    if (amount > left) {
      answer = apiError(400,
                        "Refund amount cannot be greater than the amount left on the "
                        "transaction (" +
                            formatMajor(left, currency) + " " + currency + ")");
      return;
    }
    if (outcome == "declined") {
      answer = apiError(400, "Refund could not be processed for this transaction");
      return;
    }
    std::int64_t id = randomTransactionId();
    std::int64_t now = host_.clock().nowMs();
    std::string status = outcome == "pending"  ? "pending"
                         : outcome == "failed" ? "failed"
                                               : "completed";
    tx.exec(
        "INSERT INTO flutterwave_sim_refunds (id, transaction_id, flw_ref, amount_minor, "
        "currency, status, comments, lookups, pending_lookups, created_at) VALUES (?, ?, ?, ?, "
        "?, ?, ?, 0, ?, ?)",
        {id, static_cast<std::int64_t>(std::stoll(idText)),
         "URF_" + std::to_string(now) + "_" + randomHex(7), amount, currency, status, comments,
         pendingLookups, now});
    created = tx.query(std::string(kRefundSelect) + "WHERE id = ?", {id});
  });
  if (created.empty()) return answer;
  host_.logger().info(kLog, "transaction " + idText + ": refund " + created.str(0, "id") + " (" +
                                created.str(0, "status") + ")");
  // The refund exists at "Flutterwave" either way; a scripted timeout only loses the answer.
  if (outcome == "timeout") pause(delayMs);
  return apiSuccess("Transaction refund initiated", refundData(created, 0));
}

Response Simulator::fetchRefund(const Request& req) {
  ++refundCalls_;
  if (!authorized(req)) return apiError(401, "Invalid authorization key");
  std::string idText = req.param("id");
  if (!looksLikeTransactionId(idText)) return apiError(404, "Refund not found");
  std::int64_t id = std::stoll(idText);
  Rows r;
  host_.db().write([&](Tx& tx) {
    // A pending refund completes after so many lookups (scripted: refund_pending_lookups).
    tx.exec(
        "UPDATE flutterwave_sim_refunds SET lookups = lookups + 1, status = CASE WHEN status = "
        "'pending' AND lookups + 1 >= pending_lookups THEN 'completed' ELSE status END WHERE id "
        "= ?",
        {id});
    r = tx.query(std::string(kRefundSelect) + "WHERE id = ?", {id});
  });
  if (r.empty()) return apiError(404, "Refund not found");
  return apiSuccess("Refund fetched", refundData(r, 0));
}

Response Simulator::listRefunds(const Request& req) {
  ++refundCalls_;
  if (!authorized(req)) return apiError(401, "Invalid authorization key");
  // Filters of the real list: from / to (YYYY-MM-DD, inclusive), status, currency, flw_ref,
  // page (10 per page, newest first).
  auto dayStartMs = [](const std::string& day, std::int64_t fallback) {
    int y = 0, m = 0, d = 0;
    if (day.size() != 10 || std::sscanf(day.c_str(), "%4d-%2d-%2d", &y, &m, &d) != 3)
      return fallback;
    Poco::DateTime dt(y, m, d);
    return static_cast<std::int64_t>(dt.timestamp().epochMicroseconds() / 1000);
  };
  std::int64_t from = 0, to = INT64_MAX / 2;
  try {
    from = dayStartMs(req.queryParam("from"), 0);
    std::string t = req.queryParam("to");
    if (!t.empty()) to = dayStartMs(t, to - 86400000) + 86400000;
  } catch (const Poco::Exception&) {
    return apiError(400, "from and to must be dates (YYYY-MM-DD)");
  }
  int page = 1;
  try {
    page = std::max(1, std::stoi(req.queryParam("page", "1")));
  } catch (const std::exception&) {
  }
  std::string where = "WHERE created_at >= ? AND created_at < ?";
  Params params{from, to};
  for (const char* k : {"status", "currency", "flw_ref"}) {
    std::string v = req.queryParam(k);
    if (v.empty()) continue;
    where += std::string(" AND ") + k + " = ?";
    params.push_back(v);
  }
  Rows n = host_.db().query("SELECT COUNT(*) AS n FROM flutterwave_sim_refunds " + where, params);
  params.push_back(static_cast<std::int64_t>(kRefundPageSize));
  params.push_back(static_cast<std::int64_t>((page - 1) * kRefundPageSize));
  Rows r = host_.db().query(
      std::string(kRefundSelect) + where + " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
      params);
  Poco::JSON::Array::Ptr data = new Poco::JSON::Array;
  for (std::size_t i = 0; i < r.size(); ++i) data->add(refundData(r, i));
  std::int64_t total = n.i64(0, "n");
  Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("status", "success");
  o.set("message", "Refunds fetched");
  Poco::JSON::Object::Ptr meta = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  Poco::JSON::Object::Ptr info = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  info->set("total", static_cast<Poco::Int64>(total));
  info->set("current_page", page);
  info->set("total_pages", static_cast<Poco::Int64>(std::max<std::int64_t>(
                               1, (total + kRefundPageSize - 1) / kRefundPageSize)));
  meta->set("page_info", info);
  o.set("meta", meta);
  o.set("data", data);
  return Response::json(200, o);
}

}  // namespace malipo::flutterwave
