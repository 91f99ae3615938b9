#include "hubtel_sim.hpp"

#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>

#include <algorithm>
#include <sstream>

#include "../src/hubtel_provider.hpp"
#include "../src/hubtel_wire.hpp"
#include "malipo/money.hpp"

namespace malipo::hubtel {

namespace {

const std::string kBase = "/sandbox/hubtel";
const char* kLog = "hubtel-sim";

const char* kPhoneTemplate = R"(<div class="card">
<h1>USSD phone</h1>
<p class="muted">Hubtel sandbox: dial the code, read the menu, type your answer. No money moves.</p>
<pre id="screen" class="screen" aria-live="polite">{{screen}}</pre>
{{#error}}<p class="error" role="alert" id="error">{{error}}</p>{{/error}}
<form method="post" action="{{action}}" id="phone">
<input type="hidden" name="session" id="session" value="{{session}}">
<p><label for="mobile">Phone number</label>
<input id="mobile" name="mobile" inputmode="tel" autocomplete="tel" value="{{mobile}}"></p>
<p><label for="code">USSD code</label>
<input id="code" name="code" value="{{code}}"></p>
{{#cart}}
<p class="muted" id="prompt">Mobile money prompt: approve the payment of GHS {{total}}?</p>
<p><button class="btn" type="submit" name="action" value="pay" id="pay">Approve payment</button>
<button class="btn secondary" type="submit" name="action" value="decline" id="decline">Decline</button></p>
{{/cart}}
{{^cart}}
<p><label for="input">Answer</label>
<input id="input" name="input" autocomplete="off" autofocus></p>
<p><button class="btn" type="submit" name="action" value="send" id="send">{{send_label}}</button>
{{#session}}<button class="btn secondary" type="submit" name="action" value="hangup" id="hangup">Hang up</button>{{/session}}</p>
{{/cart}}
</form>
<p class="muted">Send with no call in progress dials the code; during a call it sends the answer.</p>
</div>)";

Response json(int status, const Poco::JSON::Object& o) {
  return Response::json(status, o);
}

Response fail(int status, const std::string& message) {
  Poco::JSON::Object o;
  o.set("error", message);
  return json(status, o);
}

Poco::JSON::Object::Ptr body(const Request& req) {
  auto o = parseJsonObject(req.body.empty() ? "{}" : req.body);
  return o ? o : Poco::JSON::Object::Ptr(new Poco::JSON::Object);
}

std::string text(const Poco::JSON::Object::Ptr& o, const std::string& key,
                 const std::string& dflt = {}) {
  if (!o->has(key) || o->isNull(key)) return dflt;
  try {
    return o->get(key).convert<std::string>();
  } catch (const Poco::Exception&) {
    return dflt;
  }
}

std::string stringify(const Poco::JSON::Object& o) {
  std::ostringstream os;
  o.stringify(os);
  return os.str();
}

std::string serviceCodeOf(const std::string& dialled) {
  // "*713#" → "713"; "*713*2#" → "713" (Hubtel's ServiceCode is the short code itself).
  std::string s = dialled;
  s.erase(std::remove(s.begin(), s.end(), '#'), s.end());
  if (!s.empty() && s[0] == '*') s = s.substr(1);
  return s.substr(0, s.find('*'));
}

std::string isoNow(std::int64_t ms) {
  return Poco::DateTimeFormatter::format(Poco::Timestamp(ms * 1000),
                                         "%Y-%m-%dT%H:%M:%S.%i0000+00:00");
}

// A cedi amount as Hubtel writes it in JSON: a number with two decimals.
Poco::Dynamic::Var cedis(std::int64_t minor) {
  return static_cast<double>(minor) / 100.0;
}

}  // namespace

Simulator::Simulator(Host& host, const HubtelProvider& provider)
    : host_(host), provider_(provider) {}

void Simulator::mount(Router& r) {
  r.add("GET", kBase + "/phone", [this](const Request& req) { return phonePage(req); });
  r.add("POST", kBase + "/phone", [this](const Request& req) { return phoneSubmit(req); });
  r.add("POST", kBase + "/driver/dial", [this](const Request& req) { return driverDial(req); });
  r.add("POST", kBase + "/driver/answer", [this](const Request& req) { return driverAnswer(req); });
  r.add("POST", kBase + "/driver/timeout",
        [this](const Request& req) { return driverTimeout(req); });
  r.add("POST", kBase + "/driver/pay", [this](const Request& req) { return driverPay(req); });
  r.add("POST", kBase + "/driver/fulfil", [this](const Request& req) { return driverFulfil(req); });
  r.add("POST", kBase + "/driver/refund", [this](const Request& req) { return driverRefund(req); });
  r.add("POST", kBase + "/driver/script", [this](const Request& req) { return driverScript(req); });
  r.add("GET", kBase + "/driver/callbacks",
        [this](const Request& req) { return driverCallbacks(req); });
  r.add("GET", kBase + "/driver/sessions/{id}",
        [this](const Request& req) { return driverSession(req); });
  r.add("POST", kBase + "/callback", [this](const Request& req) { return callback(req); });
  r.add("GET", kBase + "/transactions/{pos}/status",
        [this](const Request& req) { return statusCheck(req); });
}

// ---------------------------------------------------------------------------------------
// Playing Hubtel: interaction requests to our route, over HTTP, in Hubtel's shape

Result<Simulator::Sent> Simulator::interact(const std::string& sessionId, const std::string& type,
                                            const std::string& message,
                                            const std::string* clientState) {
  Rows s = host_.db().query("SELECT * FROM hubtel_sim_sessions WHERE session_id = ?", {sessionId});
  if (s.empty())
    return Error::make(ErrorCode::notFound, "no simulated session " + sessionId,
                       "No such session.");
  std::int64_t seq = s.i64(0, "sequence") + 1;
  Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("Type", type);
  o.set("Mobile", s.str(0, "mobile"));
  o.set("SessionId", sessionId);
  o.set("ServiceCode", serviceCodeOf(s.str(0, "service_code")));
  o.set("Message", message);
  o.set("Operator", s.str(0, "operator"));
  o.set("Sequence", seq);
  o.set("ClientState", clientState ? *clientState : s.str(0, "client_state"));
  o.set("Platform", "USSD");
  OutboundRequest req;
  req.method = "POST";
  req.url = host_.publicUrl() + provider_.config().interactionPath;
  req.body = stringify(o);
  req.timeoutMs = 5000;  // Hubtel gives up after about five seconds
  req.maxRetries = 0;
  auto r = host_.http().send(req);
  if (!r.ok()) return r.error();
  Sent sent;
  sent.httpStatus = r.value().status;
  sent.raw = r.value().body;
  sent.reply = parseJsonObject(sent.raw);
  std::string replyType = sent.reply ? toLower(text(sent.reply, "Type")) : "";
  std::string status = replyType == "response"    ? "active"
                       : replyType == "addtocart" ? "cart"
                                                  : "ended";
  if (type == "Timeout") status = "ended";
  std::string itemName;
  std::int64_t qty = 0;
  std::string price;
  if (replyType == "addtocart" && sent.reply->has("Item")) {
    auto item = sent.reply->getObject("Item");
    itemName = text(item, "ItemName");
    qty = item->optValue<Poco::Int64>("Qty", 0);
    price = text(item, "Price");
  }
  host_.db().exec(
      "UPDATE hubtel_sim_sessions SET sequence = ?, client_state = ?, status = ?, last_type = ?, "
      "last_message = ?, "
      "item_name = COALESCE(?, item_name), qty = COALESCE(?, qty), price = COALESCE(?, price) "
      "WHERE session_id = ?",
      {seq, sent.reply ? text(sent.reply, "ClientState") : std::string(), status,
       sent.reply ? text(sent.reply, "Type") : std::string(),
       sent.reply ? text(sent.reply, "Message") : sent.raw,
       itemName.empty() ? Value(Null{}) : Value(itemName),
       itemName.empty() ? Value(Null{}) : Value(qty),
       itemName.empty() ? Value(Null{}) : Value(price), sessionId});
  return sent;
}

Result<std::string> Simulator::dial(const std::string& mobile, const std::string& code,
                                    const std::string& operatorName, Sent& sent) {
  std::string sessionId = randomHex(32);
  host_.db().exec(
      "INSERT INTO hubtel_sim_sessions (session_id, mobile, service_code, operator, sequence, "
      "status, created_at) "
      "VALUES (?, ?, ?, ?, 0, 'active', ?)",
      {sessionId, mobile, code, operatorName, host_.clock().nowMs()});
  std::string none;
  auto r = interact(sessionId, "Initiation", code, &none);
  if (!r.ok()) return r.error();
  sent = r.value();
  return sessionId;
}

Result<Simulator::Sent> Simulator::answer(const std::string& sessionId, const std::string& text,
                                          const std::string* clientState) {
  return interact(sessionId, "Response", text, clientState);
}

Result<Simulator::Sent> Simulator::timeout(const std::string& sessionId) {
  return interact(sessionId, "Timeout", "", nullptr);
}

Result<std::string> Simulator::sale(const CreatePayment& draft) {
  if (!draft.currency.empty() && draft.currency != kCurrency)
    return Error::make(ErrorCode::invalidInput, "Hubtel sells in GHS only, not " + draft.currency);
  std::string name;
  for (const auto& ci : host_.payments().catalog("ussd_menu"))
    if (ci.product == draft.product && ci.item.currency == kCurrency &&
        (draft.amountMinor <= 0 || ci.item.amountMinor == draft.amountMinor)) {
      name = ci.item.name;
      break;
    }
  if (name.empty())
    return Error::make(ErrorCode::notFound, "no ussd_menu item of product " + draft.product +
                                                " at that price: the menu cannot sell it");
  std::string mobile = normaliseMsisdn(draft.customer.phone);
  if (mobile.empty()) mobile = "233244123456";  // the menu takes Ghanaian numbers only
  Sent sent;
  auto sessionId =
      dial(mobile, provider_.config().simServiceCode, provider_.config().simOperator, sent);
  if (!sessionId.ok()) return sessionId.error();
  for (int step = 0; step < 20; ++step) {
    if (!sent.reply) return Error::make(ErrorCode::providerError, "the menu answered no JSON");
    std::string type = toLower(sent.reply->optValue<std::string>("Type", ""));
    std::string message = sent.reply->optValue<std::string>("Message", "");
    if (type == "addtocart") {
      Rows r = host_.db().query("SELECT payment_id FROM hubtel_sessions WHERE session_id = ?",
                                {sessionId.value()});
      if (r.empty() || r.isNull(0, "payment_id"))
        return Error::make(ErrorCode::internal, "the checkout made no payment");
      return r.str(0, "payment_id");
    }
    if (type == "release")
      return Error::make(ErrorCode::providerError, "the menu ended the session: " + message);
    // The item's entry ("N. <name> - …"), else the next page, else a quantity (1), else the
    // confirmation (1).
    std::string reply, more;
    std::istringstream lines(message);
    for (std::string line; std::getline(lines, line);) {
      std::size_t dot = line.find(". ");
      if (dot == std::string::npos || dot == 0 || line.find_first_not_of("0123456789") != dot)
        continue;
      if (line.compare(dot + 2, name.size() + 3, name + " - ") == 0) reply = line.substr(0, dot);
      if (line.substr(0, dot) == "99") more = "99";
    }
    if (reply.empty()) reply = !more.empty() ? more : "1";
    auto r = answer(sessionId.value(), reply, nullptr);
    if (!r.ok()) return r.error();
    sent = r.value();
  }
  return Error::make(ErrorCode::providerError, "the menu never reached a checkout");
}

// ---------------------------------------------------------------------------------------
// Playing the customer's wallet and Hubtel's checkout

Result<Poco::JSON::Object::Ptr> Simulator::pay(const std::string& sessionId,
                                               const std::string& outcome, int fulfilments,
                                               const std::string& amount,
                                               const std::string& feeBearer,
                                               const std::string& txnIdGiven,
                                               std::vector<OutboundRequest>* sent) {
  Rows s = host_.db().query("SELECT * FROM hubtel_sim_sessions WHERE session_id = ?", {sessionId});
  if (s.empty())
    return Error::make(ErrorCode::notFound, "no simulated session", "No such session.");
  if (s.isNull(0, "item_name"))
    return Error::make(ErrorCode::conflict, "session has no cart",
                       "This session never reached checkout (AddToCart).");
  auto unit = parseMajor(s.str(0, "price"), kCurrency);
  if (!unit)
    return Error::make(ErrorCode::conflict, "cart price unreadable",
                       "The cart's price is unreadable.");
  std::int64_t subtotal = *unit * s.i64(0, "qty");
  bool customerPays =
      (feeBearer.empty() ? provider_.config().simFeeBearer : feeBearer) == "customer";
  // About 1%, like a mobile money fee. The merchant pays it out of the goods' price, or the
  // customer pays it on top (Subtotal and AmountPaid then include it).
  std::int64_t paid = subtotal, charges = (subtotal + 50) / 100;
  if (customerPays) paid = subtotal + charges;
  if (!amount.empty()) {
    auto a = parseMajor(amount, kCurrency);
    if (!a)
      return Error::make(ErrorCode::invalidInput, "bad amount",
                         "amount must be cedis, e.g. \"10.00\".");
    paid = *a;
    if (!customerPays) charges = (paid + 50) / 100;
  }
  bool ok = outcome != "declined";
  std::string orderId = randomHex(32), txnId = txnIdGiven.empty() ? randomHex(24) : txnIdGiven;
  host_.db().exec(
      "INSERT INTO hubtel_sim_transactions (session_id, order_id, transaction_id, status, amount, "
      "charges, "
      "fee_bearer, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id) DO UPDATE "
      "SET "
      "order_id = excluded.order_id, transaction_id = excluded.transaction_id, status = "
      "excluded.status, "
      "amount = excluded.amount, charges = excluded.charges, fee_bearer = excluded.fee_bearer",
      {sessionId, orderId, txnId, std::string(ok ? "Paid" : "Unpaid"), minorToCedis(paid),
       minorToCedis(charges), std::string(customerPays ? "customer" : "merchant"),
       host_.clock().nowMs()});
  host_.db().exec("UPDATE hubtel_sim_sessions SET status = ? WHERE session_id = ?",
                  {std::string(ok ? "paid" : "declined"), sessionId});
  Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
  out->set("session_id", sessionId);
  out->set("order_id", orderId);
  out->set("transaction_id", txnId);
  out->set("status", ok ? "Paid" : "Unpaid");
  out->set("amount", minorToCedis(paid));
  out->set("charges", minorToCedis(charges));
  out->set("fee_bearer", customerPays ? "customer" : "merchant");
  Poco::JSON::Array::Ptr statuses = new Poco::JSON::Array;
  for (int i = 0; i < fulfilments; ++i) statuses->add(sendFulfilment(sessionId, sent));
  out->set("fulfilments", statuses);
  host_.logger().info(kLog, "session " + sessionId + ": customer " + (ok ? "paid " : "declined ") +
                                minorToCedis(paid) + " GHS; fulfilment sent " +
                                std::to_string(fulfilments) + " time(s)");
  return out;
}

int Simulator::sendFulfilment(const std::string& sessionId, std::vector<OutboundRequest>* sent) {
  Rows s = host_.db().query("SELECT * FROM hubtel_sim_sessions WHERE session_id = ?", {sessionId});
  Rows t =
      host_.db().query("SELECT * FROM hubtel_sim_transactions WHERE session_id = ?", {sessionId});
  if (s.empty() || t.empty()) return 0;
  std::int64_t now = host_.clock().nowMs();
  auto paid = parseMajor(t.str(0, "amount"), kCurrency).value_or(0);
  auto charges = parseMajor(t.str(0, "charges"), kCurrency).value_or(0);
  auto unit = parseMajor(s.str(0, "price"), kCurrency).value_or(0);
  bool ok = t.str(0, "status") == "Paid";
  // The seed's fulfilment request, field for field.
  Poco::JSON::Object item(Poco::JSON_PRESERVE_KEY_ORDER);
  item.set("ItemId", t.str(0, "transaction_id").substr(0, 12));
  item.set("Name", s.str(0, "item_name"));
  item.set("Quantity", s.i64(0, "qty"));
  item.set("UnitPrice", cedis(unit));
  Poco::JSON::Array items;
  items.add(item);
  Poco::JSON::Object payment(Poco::JSON_PRESERVE_KEY_ORDER);
  payment.set("PaymentType", "mobilemoney");
  payment.set("AmountPaid", cedis(paid));
  payment.set("AmountAfterCharges", cedis(paid - charges));
  payment.set("PaymentDate", isoNow(now));
  payment.set("PaymentDescription", ok ? "Payment successful" : "Payment declined by customer");
  payment.set("IsSuccessful", ok);
  Poco::JSON::Object info(Poco::JSON_PRESERVE_KEY_ORDER);
  info.set("CustomerMobileNumber", s.str(0, "mobile"));
  info.set("CustomerEmail", Poco::Dynamic::Var());
  info.set("CustomerName", "Sandbox Customer");
  info.set("Status", ok ? "Paid" : "Unpaid");
  info.set("OrderDate", isoNow(now));
  info.set("Currency", "GHS");
  info.set("BranchName", "Sandbox");
  info.set("IsRecurring", false);
  info.set("RecurringInvoiceId", Poco::Dynamic::Var());
  // With the fee on the customer, Hubtel's Subtotal is what the customer paid (items + fee).
  info.set("Subtotal", cedis(t.str(0, "fee_bearer") == "customer" ? paid : unit * s.i64(0, "qty")));
  info.set("Items", items);
  info.set("Payment", payment);
  Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("SessionId", sessionId);
  o.set("OrderId", t.str(0, "order_id"));
  o.set("ExtraData", Poco::JSON::Object());
  o.set("OrderInfo", info);
  OutboundRequest req;
  req.method = "POST";
  req.url = host_.publicUrl() +
            provider_.config().interactionPath;  // the fulfilment URL is the same route
  req.body = stringify(o);
  req.timeoutMs = 10000;
  req.maxRetries = 0;
  auto r = host_.http().send(req);
  if (sent) sent->push_back(req);
  return r.ok() ? r.value().status : 0;
}

Status Simulator::fault(const std::string& kind, int count) {
  if (kind == "query_failure") {
    statusFailures_ = std::max(0, count);
    return okStatus();
  }
  if (kind == "initiate_timeout")
    return Error::make(ErrorCode::invalidInput,
                       "not applicable: Hubtel's initiate() calls no Hubtel API (the checkout is "
                       "the AddToCart reply to Hubtel's own request), so it cannot time out");
  return Error::make(ErrorCode::invalidInput, "unknown fault " + kind);
}

Result<SandboxResult> Simulator::drive(const Payment& p, const SandboxPayment& how) {
  SandboxResult res;
  // Fulfilments carry no signature (Hubtel documents none).
  const std::string unsignedWhy =
      "Hubtel documents no signature on fulfilments: they are accepted from allowed_ips only "
      "(not checked in sandbox) and only say when to ask; every settlement comes from Hubtel's "
      "status check";
  res.notApplicable["bad_signature"] = unsignedWhy;
  res.notApplicable["missing_signature"] = unsignedWhy;
  if (!how.currency.empty() && how.currency != kCurrency) {
    res.notApplicable["currency_mismatch"] =
        "Hubtel's programmable services charge in GHS only, and the status check the payment "
        "settles from names no currency";
    return res;
  }
  std::string amount;
  if (how.amountMinor >= 0) amount = minorToCedis(how.amountMinor);
  std::vector<OutboundRequest> sent;
  auto r = pay(p.orderRef, how.outcome == "failed" ? "declined" : "paid", 1, amount, "", how.txnId,
               &sent);
  if (!r.ok()) return r.error();
  res.txnId = r.value()->getValue<std::string>("transaction_id");
  for (const auto& o : sent) {
    Request w;
    w.method = o.method;
    w.path = provider_.config().interactionPath;
    w.body = o.body;
    w.headers["Content-Type"] = "application/json";
    for (const auto& [name, value] : o.headers) w.headers[name] = value;
    res.webhooks.push_back(std::move(w));
  }
  return res;
}

// ---------------------------------------------------------------------------------------
// Hubtel's side: the callback endpoint and the status check API

Response Simulator::callback(const Request& req) {
  auto b = parseJsonObject(req.body);
  if (!b) return fail(400, "invalid JSON");
  std::string sessionId = text(b, "SessionId"), orderId = text(b, "OrderId"),
              status = text(b, "ServiceStatus");
  if (sessionId.empty() || orderId.empty() || (status != "success" && status != "failed"))
    return fail(400, "SessionId, OrderId and ServiceStatus (success|failed) are required");
  // Scripted outage: the next n callbacks are refused, so the sender's retries show.
  bool refuse = host_.db().exec(
                    "UPDATE hubtel_sim_script SET value = value - 1 WHERE name = "
                    "'callback_failures' AND value > 0") == 1;
  int answered = refuse ? 500 : 200;
  host_.db().exec(
      "INSERT INTO hubtel_sim_callbacks (id, session_id, order_id, service_status, body, answered, "
      "received_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?)",
      {randomHex(32), sessionId, orderId, status, req.body, std::int64_t(answered),
       host_.clock().nowMs()});
  if (refuse) return fail(500, "scripted callback failure");
  Poco::JSON::Object o;
  o.set("message", "Callback received");
  o.set("responseCode", "0000");
  return json(200, o);
}

Response Simulator::statusCheck(const Request& req) {
  const Config& cfg = provider_.config();
  auto refuse = [](int status, const std::string& message, const std::string& code) {
    Poco::JSON::Object o;
    o.set("message", message);
    o.set("responseCode", code);
    return Response::json(status, o);
  };
  // Hubtel checks the caller's address before anything else.
  const auto& ips = cfg.simStatusAllowedIps;
  if (std::find(ips.begin(), ips.end(), req.clientIp) == ips.end())
    return refuse(403, "Forbidden: " + req.clientIp + " is not allow-listed", "4030");
  if (req.header("Authorization") != basicAuth(cfg.apiId, cfg.apiKey))
    return refuse(401, "Unauthorized", "4010");
  if (req.param("pos") != cfg.posSalesId) return refuse(404, "Unknown POS Sales ID", "4040");
  if (int n = statusFailures_.load(); n > 0 && statusFailures_.compare_exchange_strong(n, n - 1))
    return refuse(500, "Simulated failure: query_failure fault", "5000");
  // Hubtel's API: clientReference (preferred; for programmable services the SessionId), or
  // hubtelTransactionId, or networkTransactionId (the telco's id).
  std::string ref = req.queryParam("clientReference"),
              hubtelId = req.queryParam("hubtelTransactionId"),
              networkId = req.queryParam("networkTransactionId");
  if (ref.empty() && hubtelId.empty() && networkId.empty())
    return refuse(400, "clientReference, hubtelTransactionId or networkTransactionId is required",
                  "4000");
  Rows t;
  if (!ref.empty())
    t = host_.db().query("SELECT * FROM hubtel_sim_transactions WHERE session_id = ?", {ref});
  else if (!hubtelId.empty())
    t = host_.db().query("SELECT * FROM hubtel_sim_transactions WHERE transaction_id = ?",
                         {hubtelId});
  else
    t = host_.db().query(
        "SELECT * FROM hubtel_sim_transactions WHERE 'MM' || SUBSTR(transaction_id, 1, 10) = ?",
        {networkId});
  if (ref.empty() && t.empty()) return refuse(404, "Transaction not found", "4040");
  if (ref.empty()) ref = t.str(0, "session_id");
  Rows s = host_.db().query("SELECT * FROM hubtel_sim_sessions WHERE session_id = ?", {ref});
  if (t.empty() && (s.empty() || s.isNull(0, "item_name")))
    return refuse(404, "Transaction not found", "4040");
  Poco::JSON::Object data(Poco::JSON_PRESERVE_KEY_ORDER);
  std::int64_t now = host_.clock().nowMs();
  if (t.empty()) {
    // At checkout, the customer has not paid (yet).
    auto unit = parseMajor(s.str(0, "price"), kCurrency).value_or(0);
    data.set("date", isoNow(now));
    data.set("status", "Unpaid");
    data.set("transactionId", Poco::Dynamic::Var());
    data.set("externalTransactionId", Poco::Dynamic::Var());
    data.set("paymentMethod", "mobilemoney");
    data.set("clientReference", ref);
    data.set("currencyCode", Poco::Dynamic::Var());
    data.set("amount", cedis(unit * s.i64(0, "qty")));
    data.set("charges", 0.0);
    data.set("amountAfterCharges", cedis(unit * s.i64(0, "qty")));
    data.set("isFulfilled", Poco::Dynamic::Var());
  } else {
    auto amount = parseMajor(t.str(0, "amount"), kCurrency).value_or(0);
    auto charges = parseMajor(t.str(0, "charges"), kCurrency).value_or(0);
    Rows cb = host_.db().query(
        "SELECT COUNT(*) AS n FROM hubtel_sim_callbacks WHERE session_id = ? AND service_status = "
        "'success' "
        "AND answered = 200",
        {ref});
    data.set("date", isoNow(t.i64(0, "created_at")));
    data.set("status", t.str(0, "status"));
    data.set("transactionId", t.str(0, "transaction_id"));
    data.set("externalTransactionId", "MM" + t.str(0, "transaction_id").substr(0, 10));
    data.set("paymentMethod", "mobilemoney");
    data.set("clientReference", ref);
    data.set("currencyCode", Poco::Dynamic::Var());
    data.set("amount", cedis(amount));
    data.set("charges", cedis(charges));
    data.set("amountAfterCharges", cedis(amount - charges));
    if (cb.i64(0, "n") > 0)
      data.set("isFulfilled", true);
    else
      data.set("isFulfilled", Poco::Dynamic::Var());
  }
  Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("message", "Successful");
  o.set("responseCode", "0000");
  o.set("data", data);
  return json(200, o);
}

// ---------------------------------------------------------------------------------------
// The JSON driver (tests, curl)

namespace {
Poco::JSON::Object sentJson(int httpStatus, const std::string& raw,
                            const Poco::JSON::Object::Ptr& reply) {
  Poco::JSON::Object o;
  o.set("http_status", httpStatus);
  o.set("raw", raw);
  if (reply) o.set("reply", reply);
  return o;
}
}  // namespace

Response Simulator::driverDial(const Request& req) {
  auto b = body(req);
  std::string mobile = text(b, "mobile", "233244123456");
  std::string code = text(b, "code", provider_.config().simServiceCode);
  Sent sent;
  auto r = dial(mobile, code, text(b, "operator", provider_.config().simOperator), sent);
  if (!r.ok()) return fail(httpStatus(r.error().code), r.error().external);
  Poco::JSON::Object o = sentJson(sent.httpStatus, sent.raw, sent.reply);
  o.set("session_id", r.value());
  return json(200, o);
}

Response Simulator::driverAnswer(const Request& req) {
  auto b = body(req);
  std::string cs;
  const std::string* override = nullptr;
  if (b->has("client_state")) {
    cs = text(b, "client_state");
    override = &cs;
  }
  auto r = answer(text(b, "session_id"), text(b, "text"), override);
  if (!r.ok()) return fail(httpStatus(r.error().code), r.error().external);
  return json(200, sentJson(r.value().httpStatus, r.value().raw, r.value().reply));
}

Response Simulator::driverTimeout(const Request& req) {
  auto r = timeout(text(body(req), "session_id"));
  if (!r.ok()) return fail(httpStatus(r.error().code), r.error().external);
  return json(200, sentJson(r.value().httpStatus, r.value().raw, r.value().reply));
}

Response Simulator::driverPay(const Request& req) {
  auto b = body(req);
  std::string mode = text(b, "fulfilment", "once");
  int n = mode == "never" ? 0 : mode == "twice" ? 2 : 1;
  if (mode != "never" && mode != "twice" && mode != "once")
    return fail(400, "fulfilment is once, twice or never");
  std::string outcome = text(b, "outcome", "paid");
  if (outcome != "paid" && outcome != "declined") return fail(400, "outcome is paid or declined");
  std::string bearer = text(b, "fee_bearer");
  if (!bearer.empty() && bearer != "merchant" && bearer != "customer")
    return fail(400, "fee_bearer is merchant or customer");
  auto r = pay(text(b, "session_id"), outcome, n, text(b, "amount"), bearer);
  if (!r.ok()) return fail(httpStatus(r.error().code), r.error().external);
  return json(200, *r.value());
}

Response Simulator::driverFulfil(const Request& req) {
  std::string sessionId = text(body(req), "session_id");
  Rows t = host_.db().query("SELECT order_id FROM hubtel_sim_transactions WHERE session_id = ?",
                            {sessionId});
  if (t.empty()) return fail(404, "no payment for this session: pay first");
  Poco::JSON::Object o;
  o.set("order_id", t.str(0, "order_id"));
  o.set("http_status", sendFulfilment(sessionId));
  return json(200, o);
}

Response Simulator::driverRefund(const Request& req) {
  std::string sessionId = text(body(req), "session_id");
  std::int64_t n = host_.db().exec(
      "UPDATE hubtel_sim_transactions SET status = 'Refunded' WHERE session_id = ? AND status = "
      "'Paid'",
      {sessionId});
  if (n != 1) return fail(404, "no paid transaction for this session");
  Poco::JSON::Object o;
  o.set("session_id", sessionId);
  o.set("status", "Refunded");
  return json(200, o);
}

Response Simulator::driverScript(const Request& req) {
  auto b = body(req);
  std::int64_t n = 0;
  try {
    n = std::max<std::int64_t>(0, b->optValue<Poco::Int64>("callback_failures", 0));
  } catch (const Poco::Exception&) {
    return fail(400, "callback_failures must be a number");
  }
  host_.db().exec(
      "INSERT INTO hubtel_sim_script (name, value) VALUES ('callback_failures', ?) "
      "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
      {n});
  Poco::JSON::Object o;
  o.set("callback_failures", n);
  return json(200, o);
}

Response Simulator::driverCallbacks(const Request& req) {
  std::string sessionId = req.queryParam("session_id");
  Rows r =
      sessionId.empty()
          ? host_.db().query(
                "SELECT * FROM hubtel_sim_callbacks ORDER BY received_at, id LIMIT 500")
          : host_.db().query(
                "SELECT * FROM hubtel_sim_callbacks WHERE session_id = ? ORDER BY received_at, id",
                {sessionId});
  Poco::JSON::Array arr;
  for (std::size_t i = 0; i < r.size(); ++i) {
    Poco::JSON::Object c;
    c.set("session_id", r.str(i, "session_id"));
    c.set("order_id", r.str(i, "order_id"));
    c.set("service_status", r.str(i, "service_status"));
    c.set("answered", r.i64(i, "answered"));
    c.set("received_at", r.i64(i, "received_at"));
    auto sent = parseJsonObject(r.str(i, "body"));
    if (sent && sent->has("MetaData")) c.set("meta", sent->get("MetaData"));
    arr.add(c);
  }
  Poco::JSON::Object o;
  o.set("callbacks", arr);
  return json(200, o);
}

Response Simulator::driverSession(const Request& req) {
  Rows s =
      host_.db().query("SELECT * FROM hubtel_sim_sessions WHERE session_id = ?", {req.param("id")});
  if (s.empty()) return fail(404, "no such session");
  Poco::JSON::Object o;
  for (const char* c : {"session_id", "mobile", "service_code", "operator", "status",
                        "client_state", "last_type", "last_message"})
    o.set(c, s.str(0, c));
  o.set("sequence", s.i64(0, "sequence"));
  if (!s.isNull(0, "item_name")) {
    o.set("item_name", s.str(0, "item_name"));
    o.set("qty", s.i64(0, "qty"));
    o.set("price", s.str(0, "price"));
  }
  return json(200, o);
}

// ---------------------------------------------------------------------------------------
// The phone page: no JavaScript, one form, state in a hidden field

Response Simulator::renderPhone(const Poco::JSON::Object& data) {
  Response r = Response::html(
      200, host_.pages().render("USSD phone (Hubtel sandbox)", kPhoneTemplate, data));
  r.header("Cache-Control", "no-store");
  return r;
}

Response Simulator::phonePage(const Request& req) {
  Poco::JSON::Object data;
  data.set("action", kBase + "/phone");
  data.set("mobile", req.queryParam("mobile", "233244123456"));
  data.set("code", req.queryParam("code", provider_.config().simServiceCode));
  data.set("session", "");
  data.set("screen", "Dial " + provider_.config().simServiceCode + " and press Send.");
  data.set("send_label", "Send");
  data.set("cart", false);
  return renderPhone(data);
}

Response Simulator::phoneSubmit(const Request& req) {
  auto f = parseFormUrlEncoded(req.body);
  std::string mobile = f["mobile"].empty() ? "233244123456" : f["mobile"];
  std::string code = f["code"].empty() ? provider_.config().simServiceCode : f["code"];
  std::string session = f["session"], action = f["action"].empty() ? "send" : f["action"];
  Poco::JSON::Object data;
  data.set("action", kBase + "/phone");
  data.set("mobile", mobile);
  data.set("code", code);
  data.set("cart", false);
  std::string screen, error, keep;
  Rows s;
  if (!session.empty())
    s = host_.db().query("SELECT status FROM hubtel_sim_sessions WHERE session_id = ?", {session});
  std::string status = s.empty() ? "" : s.str(0, "status");

  auto show = [&](const Result<Sent>& r, const std::string& sessionId) {
    if (!r.ok()) {
      error = r.error().external.empty() ? r.error().internal : r.error().external;
      return;
    }
    const Sent& sent = r.value();
    if (!sent.reply) {
      error =
          "The service answered HTTP " + std::to_string(sent.httpStatus) + " with no USSD reply.";
      return;
    }
    screen = text(sent.reply, "Message");
    std::string type = toLower(text(sent.reply, "Type"));
    if (type == "response") {
      keep = sessionId;
    } else if (type == "addtocart") {
      keep = sessionId;
      data.set("cart", true);
      auto item = sent.reply->getObject("Item");
      auto unit = parseMajor(text(item, "Price"), kCurrency).value_or(0);
      data.set("total", minorToCedis(unit * item->optValue<Poco::Int64>("Qty", 1)));
    } else {
      screen += "\n\n(session ended)";
    }
  };

  if (action == "hangup") {
    if (status == "active") (void)timeout(session);
    screen = "Call ended.";
  } else if (action == "pay" || action == "decline") {
    auto r = pay(session, action == "pay" ? "paid" : "declined", 1, "", "");
    if (!r.ok()) {
      error = r.error().external;
    } else {
      auto codes = r.value()->getArray("fulfilments");
      screen = action == "pay" ? "Payment approved.\nHubtel sent the fulfilment (HTTP " +
                                     codes->getElement<std::string>(0) + ")."
                               : "Payment declined.\nHubtel told the service (HTTP " +
                                     codes->getElement<std::string>(0) + ").";
    }
  } else if (status == "active") {
    show(answer(session, f["input"], nullptr), session);
  } else {
    Sent sent;
    auto id = dial(mobile, code, provider_.config().simOperator, sent);
    if (id.ok())
      show(Result<Sent>(sent), id.value());
    else
      error = id.error().external.empty() ? id.error().internal : id.error().external;
  }
  data.set("session", keep);
  data.set("screen", screen);
  data.set("send_label", "Send");
  if (!error.empty()) data.set("error", error);
  return renderPhone(data);
}

}  // namespace malipo::hubtel
