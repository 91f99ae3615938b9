#include "selcom_provider.hpp"

#include <Poco/JSON/Array.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "../sim/selcom_simulator.hpp"
#include "malipo/money.hpp"
#include "sms_parser.hpp"

namespace malipo::selcom {

namespace {

const char* kComponent = "selcom";

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Why the parser gave up, said so the customer knows what to paste instead.
std::string proofRefusal(const std::string& reason) {
  if (reason == "empty") return "Paste the confirmation SMS you received after paying.";
  if (reason == "too_long")
    return "That text is too long to be a confirmation SMS. Paste only the message from your "
           "mobile money provider.";
  if (reason == "no_transaction_id") return "No transaction ID found in the message.";
  if (reason == "no_amount") return "No amount found in the message.";
  return "This does not look like a payment confirmation SMS. Paste the message your mobile "
         "money provider sent after you paid.";
}

std::string payTransid(const std::string& paymentId) {
  // Selcom wants a merchant transaction id per wallet-payment request; the payment id's hex
  // digits are unique and let an operator find the payment from Selcom's statement. 20 hex
  // digits (80 bits) keep it short for gateways with small column limits.
  std::string hex;
  for (char c : paymentId)
    if (std::isxdigit(static_cast<unsigned char>(c))) hex += static_cast<char>(std::toupper(c));
  return "P" + hex.substr(0, 20);
}

}  // namespace

const Decl<SelcomConfig>& SelcomConfig::decl() {
  using C = SelcomConfig;
  static const auto d =
      Decl<C>("Selcom API gateway checkout: USSD menu, USSD push, webhooks and pasted SMS proof")
          .str("base_url", &C::baseUrl,
               "Selcom API base URL: https://apigw.selcommobile.com/v1 (live) or "
               "https://apigwtest.selcommobile.com/v1 (test). Empty in sandbox mode: the "
               "built-in simulator at <public_url>/sandbox/selcom/v1")
          .str("api_key", &C::apiKey, "Selcom API key (sent base64 in Authorization)")
          .secret()
          .str("api_secret", &C::apiSecret,
               "Selcom API secret: signs every request (HS256) and checks signed webhooks")
          .secret()
          .str("vendor", &C::vendor, "Selcom vendor (till) id the customer pays, e.g. CVCHAPCHAP")
          .str("ussd_code", &C::ussdCode, "USSD code shown to the customer for the manual flow")
          .list("ussd_steps", &C::ussdSteps,
                "Menu steps shown for the manual flow; {ussd_code}, {vendor}, {reference}, "
                "{amount} and {currency} are filled in",
                schema::str("one step"))
          .str("ussd_message", &C::ussdMessage,
               "One-sentence instruction for the manual flow (same placeholders)")
          .str("push_message", &C::pushMessage,
               "Shown after a USSD push was sent; also {phone} (masked)")
          .integer("timeout_ms", &C::timeoutMs,
                   "Timeout of each Selcom API call; a create-order that times out leaves the "
                   "payment unknown until order-status resolves it")
          .range(100, 120000)
          .boolean("require_signed_webhooks", &C::requireSignedWebhooks,
                   "Refuse webhooks without Selcom's Digest headers (401). Signed ones are "
                   "always verified; either way settlement waits for order-status")
          .integer("order_expiry_minutes", &C::orderExpiryMinutes,
                   "Selcom order expiry (create-order-minimal `expiry`); the payment expires "
                   "with it")
          .range(1, 43200)
          .list("currencies", &C::currencies, "Currencies offered through Selcom",
                schema::str("ISO 4217"))
          .str("fallback_buyer_name", &C::fallbackBuyerName,
               "buyer_name sent when the customer gave no name (Selcom requires one)")
          .str("fallback_buyer_email", &C::fallbackBuyerEmail,
               "buyer_email sent when the customer gave no email")
          .str("fallback_buyer_phone", &C::fallbackBuyerPhone,
               "buyer_phone sent when the customer gave no valid Tanzanian mobile number "
               "(2557XXXXXXXX)");
  return d;
}

SelcomConfig SelcomConfig::from(const Settings& s) {
  SelcomConfig c = decl().load(s);
  while (!c.baseUrl.empty() && c.baseUrl.back() == '/') c.baseUrl.pop_back();
  return c;
}

SchemaNode selcomSchema() {
  return SelcomConfig::decl().schema();
}

SelcomProvider::SelcomProvider(Host& host)
    : host_(host), cfg_(SelcomConfig::from(host.settings())) {}

SelcomProvider::~SelcomProvider() = default;

Capabilities SelcomProvider::capabilities() const {
  Capabilities c;
  c.currencies = cfg_.currencies;
  c.channels = {"ussd_menu", "ussd_push", "sms_proof"};
  // The Checkout API has no refund endpoint: refunds are recorded manually by operators.
  c.refunds = RefundSupport::none;
  c.cancel = true;
  return c;
}

std::vector<Migration> SelcomProvider::migrations() const {
  Migration m;
  m.version = 1;
  m.description =
      "transaction ids seen settling payments; simulator orders (used in sandbox mode only)";
  // IF NOT EXISTS: the same library may be loaded twice under two names (e.g. a live and a
  // test account), and each name runs its own migrations.
  m.sqlite =
      "CREATE TABLE IF NOT EXISTS selcom_transactions (provider TEXT NOT NULL, txn_key TEXT NOT "
      "NULL, "
      "payment_id TEXT NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (provider, txn_key));"
      "CREATE TABLE IF NOT EXISTS selcom_sim_orders (order_id TEXT PRIMARY KEY, vendor TEXT NOT "
      "NULL, "
      "amount BIGINT NOT NULL, currency TEXT NOT NULL, buyer_name TEXT, buyer_email TEXT, "
      "buyer_phone TEXT, "
      "webhook_url TEXT NOT NULL DEFAULT '', payment_token TEXT NOT NULL UNIQUE, "
      "gateway_buyer_uuid TEXT NOT NULL, "
      "payment_status TEXT NOT NULL, result_code TEXT NOT NULL DEFAULT '000', transid TEXT, "
      "reference TEXT, "
      "channel TEXT, msisdn TEXT, push_transid TEXT, paid_amount BIGINT, expiry_minutes BIGINT, "
      "created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)";
  return {m};
}

void SelcomProvider::start() {
  if (host_.sandbox()) return;  // the simulator accepts the sandbox credentials
  std::vector<std::string> problems;
  if (cfg_.baseUrl.empty()) problems.push_back("base_url is required when sandbox is off");
  if (cfg_.apiKey.empty() || cfg_.apiKey == kSandboxApiKey)
    problems.push_back("api_key must be your Selcom key when sandbox is off");
  if (cfg_.apiSecret.empty() || cfg_.apiSecret == kSandboxApiSecret)
    problems.push_back("api_secret must be your Selcom secret when sandbox is off");
  if (cfg_.vendor.empty()) problems.push_back("vendor is required");
  if (!problems.empty()) {
    std::string msg;
    for (const auto& p : problems) msg += (msg.empty() ? "" : "; ") + p;
    throw std::runtime_error(msg);
  }
  // The key and every signed request would cross the network in clear text.
  if (cfg_.baseUrl.rfind("https://", 0) != 0)
    host_.logger().warning(kComponent, "base_url is not https: Selcom requests are not encrypted");
}

void SelcomProvider::stop() {
  if (sim_) sim_->stop();
}

std::string SelcomProvider::baseUrl() const {
  // publicUrl() is read per call: with listen port 0 it is only known after the bind.
  return cfg_.baseUrl.empty() ? host_.publicUrl() + "/sandbox/" + name() + "/v1" : cfg_.baseUrl;
}

Result<Envelope> SelcomProvider::call(const std::string& method, const std::string& path,
                                      const Fields& fields) {
  OutboundRequest o;
  o.method = method;
  o.url = baseUrl() + path;
  if (method == "GET" || method == "DELETE") {
    o.url += "?" + queryString(fields);
  } else {
    o.body = jsonBody(fields);
  }
  o.headers =
      signingHeaders(cfg_.apiKey, cfg_.apiSecret, isoTimestamp(host_.clock().nowMs()), fields);
  o.headers.emplace_back("Accept", "application/json");
  o.timeoutMs = cfg_.timeoutMs;
  // Reads may be retried once; a POST never is (a second order or a second push prompt).
  o.maxRetries = method == "GET" ? 1 : 0;
  auto r = host_.http().send(o);
  if (!r.ok()) {
    Error e = r.error();
    e.internal = "selcom " + path + ": " + e.internal;
    return e;
  }
  const OutboundResponse& resp = r.value();
  auto env = parseEnvelope(resp.status, resp.body);
  if (!env.ok() && (resp.status == 401 || resp.status == 403)) {
    Envelope bare;  // a gateway's bare 401 page: still a refusal of our key
    bare.httpStatus = resp.status;
    return bare;
  }
  return env;
}

NextAction SelcomProvider::ussdAction(const Payment& p, const std::string& reference) const {
  NextAction a;
  a.type = "ussd_instructions";
  a.ussdCode = cfg_.ussdCode;
  a.vendor = cfg_.vendor;
  a.reference = reference;
  std::map<std::string, std::string> values = {
      {"ussd_code", cfg_.ussdCode},
      {"vendor", cfg_.vendor},
      {"reference", reference},
      {"amount", formatMajor(p.amountMinor, p.currency, true)},
      {"currency", p.currency}};
  for (const auto& step : cfg_.ussdSteps) a.steps.push_back(expand(step, values));
  a.message = expand(cfg_.ussdMessage, values);
  // In sandbox mode nobody has a phone: point at the simulator's "customer pays" page.
  if (host_.sandbox()) a.url = host_.publicUrl() + "/sandbox/" + name() + "/pay/" + p.id;
  return a;
}

Result<InitiateResult> SelcomProvider::initiate(const Payment& p, const CreatePayment& request) {
  if (std::find(cfg_.currencies.begin(), cfg_.currencies.end(), p.currency) ==
      cfg_.currencies.end())
    return Error::make(ErrorCode::invalidInput, "selcom is not configured for " + p.currency,
                       "This payment method does not accept " + p.currency + ".");
  auto amount = wireAmount(p.amountMinor, p.currency);
  if (!amount)
    return Error::make(
        ErrorCode::invalidInput,
        "selcom takes whole major units; got " + std::to_string(p.amountMinor) + " minor",
        "This payment method only accepts whole amounts of " + p.currency + ".");
  std::optional<std::string> msisdn;
  if (!p.customer.phone.empty()) msisdn = normaliseMsisdn(p.customer.phone);

  Fields fields = {
      {"vendor", cfg_.vendor},
      {"order_id", p.id},
      {"buyer_email", p.customer.email.empty() ? cfg_.fallbackBuyerEmail : p.customer.email},
      {"buyer_name", p.customer.name.empty() ? cfg_.fallbackBuyerName : p.customer.name},
      {"buyer_phone", msisdn ? *msisdn : cfg_.fallbackBuyerPhone},
      {"amount", *amount, true},
      {"currency", p.currency},
      {"webhook", base64Encode(host_.publicUrl() + "/webhooks/" + name())},
  };
  if (!request.returnUrl.empty()) {
    fields.push_back({"redirect_url", base64Encode(request.returnUrl)});
    fields.push_back({"cancel_url", base64Encode(request.returnUrl)});
  }
  if (!p.description.empty()) fields.push_back({"buyer_remarks", p.description.substr(0, 100)});
  fields.push_back({"no_of_items", "1", true});
  fields.push_back({"expiry", std::to_string(cfg_.orderExpiryMinutes), true});

  auto reply = call("POST", "/checkout/create-order-minimal", fields);
  if (!reply.ok()) return reply.error();  // a timeout: the kernel marks the payment unknown
  auto accepted = mapCreateReply(reply.value());
  if (!accepted.ok()) return accepted.error();

  std::string token, buyerUuid;
  if (const auto& d = reply.value().data0) {
    token = scalarText(d->get("payment_token"));
    buyerUuid = scalarText(d->get("gateway_buyer_uuid"));
  }
  InitiateResult out;
  out.providerRef = !token.empty() ? token : buyerUuid;
  out.expiresAtMs = host_.clock().nowMs() + cfg_.orderExpiryMinutes * 60000;
  // The customer types Selcom's payment token; our payment id (a UUID) is too long to key in.
  out.action = ussdAction(p, token.empty() ? p.id : token);

  if (!request.push && p.channel != "ussd_push") return out;
  if (!msisdn) {
    host_.logger().info(kComponent,
                        p.id + ": push asked for without a valid msisdn; USSD menu instead");
    return out;
  }
  Fields push = {{"transid", payTransid(p.id)}, {"order_id", p.id}, {"msisdn", *msisdn}};
  auto pushed = call("POST", "/checkout/wallet-payment", push);
  PushOutcome outcome = PushOutcome::refused;
  if (pushed.ok()) {
    outcome = mapPushReply(pushed.value());
  } else if (pushed.error().code == ErrorCode::providerTimeout) {
    outcome = PushOutcome::unknown;
  }
  if (outcome == PushOutcome::sent) {
    std::map<std::string, std::string> values = {
        {"ussd_code", cfg_.ussdCode},
        {"vendor", cfg_.vendor},
        {"reference", out.action.reference},
        {"amount", formatMajor(p.amountMinor, p.currency, true)},
        {"currency", p.currency},
        {"phone", maskMsisdn(*msisdn)}};
    out.action.type = "push_sent";
    out.action.message = expand(cfg_.pushMessage, values);
  } else {
    // The order stands either way: the customer can still pay it from the USSD menu.
    host_.logger().warning(
        kComponent, p.id + ": wallet-payment " +
                        (outcome == PushOutcome::unknown ? "outcome unknown" : "refused") +
                        (pushed.ok() ? " (resultcode " + pushed.value().resultcode + ", http " +
                                           std::to_string(pushed.value().httpStatus) + ")"
                                     : ": " + pushed.error().internal));
    std::string prefix =
        outcome == PushOutcome::unknown
            ? "A payment request may be on its way to your phone. If it does not arrive: "
            : "We could not send a payment request to your phone. ";
    out.action.message = prefix + out.action.message;
  }
  return out;
}

Result<NextAction> SelcomProvider::requestPush(const Payment& p, const std::string& raw) {
  auto msisdn = normaliseMsisdn(raw);
  if (!msisdn)
    return Error::make(ErrorCode::invalidInput, "push to an invalid msisdn",
                       "Enter a valid Tanzanian mobile number.");
  Fields push = {{"transid", payTransid(p.id)}, {"order_id", p.id}, {"msisdn", *msisdn}};
  auto pushed = call("POST", "/checkout/wallet-payment", push);
  if (!pushed.ok()) return pushed.error();
  PushOutcome outcome = mapPushReply(pushed.value());
  if (outcome == PushOutcome::refused)
    return Error::make(
        ErrorCode::providerError,
        "wallet-payment refused (resultcode " + pushed.value().resultcode + ")",
        "Selcom could not send a payment prompt to this number. Pay from the USSD menu instead.");
  NextAction a = p.action;
  a.type = "push_sent";
  std::map<std::string, std::string> values = {
      {"ussd_code", cfg_.ussdCode}, {"vendor", cfg_.vendor},
      {"reference", a.reference},   {"amount", formatMajor(p.amountMinor, p.currency, true)},
      {"currency", p.currency},     {"phone", maskMsisdn(*msisdn)}};
  a.message = expand(cfg_.pushMessage, values);
  return a;
}

Result<OrderStatus> SelcomProvider::orderStatus(const Payment& p) {
  auto reply = call("GET", "/checkout/order-status", {{"order_id", p.id}});
  if (!reply.ok()) return reply.error();
  // The order was created in the payment's currency; order-status does not always repeat it.
  auto st = mapOrderStatus(reply.value(), p.id, p.currency);
  if (st.ok() && st.value().status.state == ProviderStatus::State::succeeded)
    remember(st.value(), p.id);
  return st;
}

Result<ProviderStatus> SelcomProvider::query(const Payment& p) {
  auto st = orderStatus(p);
  if (!st.ok()) return st.error();
  return st.value().status;
}

Result<ProviderStatus> SelcomProvider::cancel(const Payment& p) {
  auto reply = call("DELETE", "/checkout/cancel-order", {{"order_id", p.id}});
  if (!reply.ok()) return reply.error();  // a timeout stays providerTimeout: outcome unknown
  const Envelope& env = reply.value();
  if (env.httpStatus == 401 || env.httpStatus == 403)
    return Error::make(
        ErrorCode::providerError,
        "selcom cancel-order: our key was refused (HTTP " + std::to_string(env.httpStatus) + ")",
        "The payment could not be cancelled at the provider now.");
  if (env.httpStatus >= 500 || env.httpStatus == 429) {
    Error e = Error::make(ErrorCode::providerError,
                          "selcom cancel-order: HTTP " + std::to_string(env.httpStatus) + " " +
                              env.resultcode + " " + env.message,
                          "The payment could not be cancelled at the provider now.");
    e.providerCode = env.resultcode;
    e.providerText = env.message;
    e.retryable = true;
    return e;
  }
  // Whatever cancel-order answered (cancelled, or "no longer pending" because it was paid a
  // moment ago), order-status is the word on the order now.
  auto st = orderStatus(p);
  if (!st.ok()) return st.error();
  ProviderStatus out = st.value().status;
  out.detail = "cancel-order " + env.resultcode + " " + env.result + "; " + out.detail;
  if (out.state == ProviderStatus::State::failed) out.reason = "The payment was cancelled.";
  if (out.state == ProviderStatus::State::pending && out.resultCode.empty())
    out.resultCode = env.resultcode;
  return out;
}

void SelcomProvider::remember(const OrderStatus& st, const std::string& paymentId) {
  try {
    host_.db().write([&](Tx& tx) {
      for (const std::string& key : {st.transid, st.reference}) {
        if (key.empty()) continue;
        tx.exec(
            "INSERT INTO selcom_transactions (provider, txn_key, payment_id, created_at) VALUES "
            "(?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            {name(), upper(key), paymentId, host_.clock().nowMs()});
      }
    });
  } catch (const std::exception& e) {
    // Only an aid for clearer proof messages: the kernel's unique transaction index is the guard.
    host_.logger().warning(kComponent,
                           "could not record transaction ids: " + std::string(e.what()));
  }
}

std::optional<std::string> SelcomProvider::usedBy(const std::string& txnId,
                                                  const std::string& paymentId) {
  try {
    Rows r = host_.db().query(
        "SELECT payment_id FROM selcom_transactions WHERE provider = ? AND txn_key = ?",
        {name(), upper(txnId)});
    if (!r.empty() && r.str(0, "payment_id") != paymentId) return r.str(0, "payment_id");
  } catch (const std::exception& e) {
    host_.logger().warning(kComponent,
                           "could not look up transaction ids: " + std::string(e.what()));
  }
  return std::nullopt;
}

Result<std::vector<WebhookEvent>> SelcomProvider::parseWebhook(const Request& request) {
  auto ev = parseWebhookMessage(request.headers, request.body, cfg_.apiSecret,
                                cfg_.requireSignedWebhooks, host_.clock().nowMs());
  if (!ev.ok()) return ev.error();
  return std::vector<WebhookEvent>{ev.value()};
}

Result<ProviderStatus> SelcomProvider::verifyProof(const Payment& p, const std::string& text) {
  SmsParseResult sms = parseConfirmationSms(text);
  if (!sms.ok)
    return Error::make(ErrorCode::invalidInput, "proof not parsed: " + sms.reason,
                       proofRefusal(sms.reason));
  const std::string due = p.currency + " " + formatMajor(p.amountMinor, p.currency, true);
  const std::string claimed = sms.currency + " " + formatMajor(sms.amountMinor, sms.currency, true);
  if (sms.currency != p.currency || sms.amountMinor != p.amountMinor)
    return Error::make(
        ErrorCode::invalidInput,
        "proof amount " + claimed + " (" + sms.wallet + " " + sms.transactionId + ") != " + due,
        "The amount or currency in the message (" + claimed + ") does not match this payment (" +
            due + ").");
  if (auto other = usedBy(sms.transactionId, p.id))
    return Error::make(
        ErrorCode::conflict,
        "proof transaction " + sms.transactionId + " already settled payment " + *other,
        "This transaction ID was already used for another payment.");

  auto st = orderStatus(p);
  if (!st.ok()) return st.error();
  OrderStatus order = st.value();
  switch (order.status.state) {
    case ProviderStatus::State::pending:
      order.status.reason =
          "Selcom has not received this payment yet. If you have just paid, wait a minute and try "
          "again.";
      return order.status;
    case ProviderStatus::State::failed:
      return order.status;
    case ProviderStatus::State::succeeded:
      break;
  }
  const std::string id = upper(sms.transactionId);
  if (id != upper(order.transid) && id != upper(order.reference))
    return Error::make(ErrorCode::invalidInput,
                       "proof transaction " + sms.transactionId + " is neither transid " +
                           order.transid + " nor reference " + order.reference,
                       "The transaction ID in the message does not match this payment.");
  return order.status;
}

void SelcomProvider::simulator(Router& router) {
  sim::SimOptions o;
  o.name = name();
  o.apiKey = cfg_.apiKey;
  o.apiSecret = cfg_.apiSecret;
  o.timeoutMs = cfg_.timeoutMs;
  sim_ = std::make_unique<sim::Simulator>(host_, o);
  sim_->mount(router);
}

}  // namespace malipo::selcom
