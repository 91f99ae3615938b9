#include "selcom_simulator.hpp"

#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Timestamp.h>

#include <algorithm>
#include <chrono>
#include <sstream>

#include "selcom_signing.hpp"
#include "sim_sms.hpp"

namespace malipo::selcom::sim {

namespace {

const char* kDigits = "0123456789";
const char* kUpperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const char* kHex = "0123456789abcdef";

// Consumes one scripted misbehaviour, if any is left (never below zero under concurrency).
bool take(std::atomic<int>& counter) {
  int v = counter.load();
  while (v > 0)
    if (counter.compare_exchange_weak(v, v - 1)) return true;
  return false;
}

bool allDigits(const std::string& s) {
  if (s.empty() || s.size() > 15) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// An empty body counts as an empty object (the driver's POSTs may carry none).
Poco::JSON::Object::Ptr parseObject(const std::string& body) {
  return parseJsonObject(body.empty() ? "{}" : body);
}

// The fields of a JSON object body; nullopt for anything else (the API speaks JSON only).
std::optional<FieldSource> jsonFields(const std::string& body) {
  if (!parseJsonObject(body)) return std::nullopt;
  return FieldSource::fromBody(body);
}

Poco::Dynamic::Var nullable(const Rows& r, const std::string& col) {
  if (r.isNull(0, col)) return Poco::Dynamic::Var();
  return r.str(0, col);
}

const char* kPayPage = R"(<div class="card">
<h1>Selcom sandbox: the customer's phone</h1>
<dl>
<dt>Pay to</dt><dd>{{vendor}}</dd>
<dt>Amount</dt><dd>{{currency}} {{amount}}</dd>
<dt>Reference</dt><dd>{{payment_token}}</dd>
<dt>Order</dt><dd class="muted">{{order_id}}</dd>
<dt>Status</dt><dd>{{payment_status}}</dd>
</dl>
</div>
{{#pending}}
<form class="card" method="post" action="{{action}}">
<p><label><input type="radio" name="outcome" value="paid" checked> Pay</label><br>
<label><input type="radio" name="outcome" value="decline"> Decline</label><br>
<label><input type="radio" name="outcome" value="never_paid"> Ignore the prompt (never pay)</label></p>
<p><label>Amount actually paid ({{currency}})<br><input name="amount" value="{{amount}}" inputmode="numeric"></label></p>
<p><button class="btn" type="submit">Enter PIN and send</button></p>
</form>
{{/pending}}
{{^pending}}<p class="muted">This order is no longer waiting for a payment.</p>{{/pending}}
)";

const char* kPaidPage = R"(<div class="card">
<h1>Selcom sandbox</h1>
{{#error}}<p class="error">{{error}}</p>{{/error}}
{{^error}}<p class="ok">Order {{order_id}}: {{payment_status}}</p>{{/error}}
{{#sms}}<p><label for="sim-sms">The confirmation SMS the customer received (paste it as proof):</label></p>
<textarea id="sim-sms" rows="5" readonly>{{sms}}</textarea>{{/sms}}
<p><a class="btn secondary" href="{{back}}">Back</a></p>
</div>
)";

}  // namespace

Simulator::Simulator(Host& host, SimOptions options)
    : host_(host),
      o_(std::move(options)),
      base_("/sandbox/" + o_.name),
      rng_(std::random_device{}()) {}

Simulator::~Simulator() {
  stop();
}

void Simulator::mount(Router& r) {
  const std::string api = base_ + "/v1/checkout";
  r.add("POST", api + "/create-order-minimal", [this](const Request& q) { return createOrder(q); });
  r.add("POST", api + "/wallet-payment", [this](const Request& q) { return walletPayment(q); });
  r.add("GET", api + "/order-status", [this](const Request& q) { return orderStatus(q); });
  r.add("DELETE", api + "/cancel-order", [this](const Request& q) { return cancelOrder(q); });
  r.add("GET", base_ + "/pay/{order_id}", [this](const Request& q) { return payPage(q); });
  r.add("POST", base_ + "/pay/{order_id}", [this](const Request& q) { return pay(q); });
  r.add("POST", base_ + "/script", [this](const Request& q) { return script(q); });
  r.add("GET", base_ + "/orders/{order_id}", [this](const Request& q) { return showOrder(q); });
}

void Simulator::stop() {
  std::list<Task> tasks;
  {
    std::lock_guard<std::mutex> lock(tasksMutex_);
    stopping_ = true;
    tasks.swap(tasks_);
  }
  tasksCv_.notify_all();
  for (auto& t : tasks)
    if (t.thread.joinable()) t.thread.join();
}

void Simulator::later(std::int64_t delayMs, std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(tasksMutex_);
  if (stopping_) return;
  for (auto it = tasks_.begin(); it != tasks_.end();) {  // reap finished ones
    if (it->done->load()) {
      it->thread.join();
      it = tasks_.erase(it);
    } else {
      ++it;
    }
  }
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::thread t([this, delayMs, fn = std::move(fn), done] {
    bool run = false;
    {
      std::unique_lock<std::mutex> lk(tasksMutex_);
      run =
          !tasksCv_.wait_for(lk, std::chrono::milliseconds(delayMs), [this] { return stopping_; });
    }
    if (run) fn();
    done->store(true);
  });
  tasks_.push_back({std::move(t), done});
}

std::string Simulator::randomChars(const char* alphabet, std::size_t n) {
  std::lock_guard<std::mutex> lock(rngMutex_);
  std::string a(alphabet), out;
  std::uniform_int_distribution<std::size_t> pick(0, a.size() - 1);
  for (std::size_t i = 0; i < n; ++i) out += a[pick(rng_)];
  return out;
}

std::string Simulator::freshTransid() {
  // M-Pesa style: a letter, then 9 upper-case letters/digits with at least one digit, so the
  // SMS parser reads it as the id that opens a "… Confirmed." message.
  std::string id = randomChars("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 1) + randomChars(kUpperAlnum, 8) +
                   randomChars(kDigits, 1);
  return id;
}

std::string Simulator::freshReference() {
  return "02" + randomChars(kDigits, 8);
}

void Simulator::sleepPastTimeout() {
  std::this_thread::sleep_for(std::chrono::milliseconds(o_.timeoutMs + 500));
}

Response Simulator::envelope(int http, const std::string& code, const std::string& result,
                             const std::string& message, Poco::JSON::Array::Ptr data) {
  Poco::JSON::Object o;
  o.set("reference", freshReference());
  o.set("resultcode", code);
  o.set("result", result);
  o.set("message", message);
  o.set("data", data ? data : Poco::JSON::Array::Ptr(new Poco::JSON::Array));
  return Response::json(http, o);
}

std::optional<Response> Simulator::refuse(const Request& req, const FieldSource& fields) const {
  auto deny = [&](const std::string& why) {
    Poco::JSON::Object o;
    o.set("reference", "");
    o.set("resultcode", "401");
    o.set("result", "FAIL");
    o.set("message", why);
    o.set("data", Poco::JSON::Array());
    return Response::json(401, o);
  };
  if (!constantTimeEquals(req.header("Authorization"), authorizationHeader(o_.apiKey)))
    return deny("Invalid API key");
  SignatureCheck sig = checkSignature(req.headers, fields, o_.apiSecret);
  if (sig.state == SignatureCheck::State::missing) return deny("Missing signature");
  if (sig.state == SignatureCheck::State::invalid) return deny("Invalid signature: " + sig.why);
  for (const auto& kv : fields.all())
    if (!sig.covers(kv.first)) return deny("Field not signed: " + kv.first);
  return std::nullopt;
}

Response Simulator::createOrder(const Request& req) {
  auto fields = jsonFields(req.body);
  if (!fields) return envelope(400, "400", "FAIL", "Invalid JSON body");
  if (auto denied = refuse(req, *fields)) return *denied;
  if (take(createFailures_))
    return envelope(200, "403", "FAIL", "Scripted refusal of create-order-minimal");

  const std::string orderId = fields->value("order_id"), vendor = fields->value("vendor"),
                    amount = fields->value("amount"), currency = fields->value("currency");
  if (orderId.empty() || vendor.empty() || currency.empty() || !allDigits(amount) ||
      std::stoll(amount) <= 0)
    return envelope(400, "400", "FAIL",
                    "order_id, vendor, currency and a positive integer amount are required");
  std::string webhookUrl;
  if (auto w = fields->get("webhook"); w && !w->empty()) {
    auto decoded = base64Decode(*w);
    if (!decoded) return envelope(400, "400", "FAIL", "webhook must be base64");
    webhookUrl = *decoded;
  }
  std::int64_t now = host_.clock().nowMs();
  std::string token, buyerUuid = randomChars(kHex, 32);
  bool inserted = false, sameOrder = false;
  host_.db().write([&](Tx& tx) {
    Rows existing = tx.query(
        "SELECT amount, currency, payment_token, gateway_buyer_uuid FROM selcom_sim_orders WHERE "
        "order_id = ?",
        {orderId});
    if (!existing.empty()) {
      // A retried create with the same order is answered like the first; another is refused.
      sameOrder = existing.i64(0, "amount") == std::stoll(amount) &&
                  existing.str(0, "currency") == currency;
      token = existing.str(0, "payment_token");
      buyerUuid = existing.str(0, "gateway_buyer_uuid");
      return;
    }
    do {
      token = "8" + randomChars(kDigits, 7);
    } while (!tx.query("SELECT 1 FROM selcom_sim_orders WHERE payment_token = ?", {token}).empty());
    tx.exec(
        "INSERT INTO selcom_sim_orders (order_id, vendor, amount, currency, buyer_name, "
        "buyer_email, buyer_phone, "
        "webhook_url, payment_token, gateway_buyer_uuid, payment_status, result_code, "
        "expiry_minutes, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'PENDING', '000', ?, ?, ?)",
        {orderId, vendor, static_cast<std::int64_t>(std::stoll(amount)), currency,
         fields->value("buyer_name"), fields->value("buyer_email"), fields->value("buyer_phone"),
         webhookUrl, token, buyerUuid,
         static_cast<std::int64_t>(
             allDigits(fields->value("expiry")) ? std::stoll(fields->value("expiry")) : 0),
         now, now});
    inserted = true;
  });
  if (!inserted && !sameOrder)
    return envelope(200, "400", "FAIL", "Duplicate order_id with other details");

  if (inserted && take(webhookBeforeReply_)) {
    // The customer (or a race in Selcom) completes the order before we hear back from the
    // create call: the webhook reaches the plugin while its create request is still open.
    PayRequest pr;
    payOrder(orderId, pr);
  }
  if (take(createTimeouts_)) sleepPastTimeout();  // order kept

  Poco::JSON::Object d;
  d.set("gateway_buyer_uuid", buyerUuid);
  d.set("payment_token", token);
  d.set("qr", "SANDBOX-QR-" + token);
  d.set("payment_gateway_url", base64Encode(host_.publicUrl() + base_ + "/pay/" + orderId));
  Poco::JSON::Array::Ptr data = new Poco::JSON::Array;
  data->add(d);
  return envelope(200, "000", "SUCCESS", "Order created successfully", data);
}

Response Simulator::walletPayment(const Request& req) {
  auto fields = jsonFields(req.body);
  if (!fields) return envelope(400, "400", "FAIL", "Invalid JSON body");
  if (auto denied = refuse(req, *fields)) return *denied;
  const std::string orderId = fields->value("order_id"), msisdn = fields->value("msisdn"),
                    transid = fields->value("transid");
  if (orderId.empty() || transid.empty() || !normaliseMsisdn(msisdn))
    return envelope(400, "400", "FAIL", "transid, order_id and a valid msisdn are required");
  if (take(pushFailures_))
    return envelope(200, "403", "FAIL", "Scripted refusal: the wallet rejected the push");
  std::int64_t changed = 0;
  host_.db().write([&](Tx& tx) {
    changed = tx.exec(
        "UPDATE selcom_sim_orders SET msisdn = ?, push_transid = ?, updated_at = ? "
        "WHERE order_id = ? AND payment_status = 'PENDING'",
        {*normaliseMsisdn(msisdn), transid, host_.clock().nowMs(), orderId});
  });
  if (changed == 0) return envelope(200, "403", "FAIL", "Order not found or not payable");
  if (take(pushTimeouts_)) sleepPastTimeout();
  return envelope(200, "111", "PENDING",
                  "Request in progress. You will receive a callback shortly");
}

Response Simulator::orderStatus(const Request& req) {
  FieldSource fields(std::map<std::string, std::string>(req.query.begin(), req.query.end()));
  if (auto denied = refuse(req, fields)) return *denied;
  if (take(statusTimeouts_)) sleepPastTimeout();
  const std::string orderId = fields.value("order_id");
  Rows r = host_.db().query("SELECT * FROM selcom_sim_orders WHERE order_id = ?", {orderId});
  if (r.empty()) return envelope(404, "404", "FAIL", "Order not found");
  Poco::JSON::Object d;
  d.set("order_id", orderId);
  d.set("creation_date", Poco::DateTimeFormatter::format(
                             Poco::Timestamp(r.i64(0, "created_at") * 1000), "%Y-%m-%d %H:%M:%S"));
  // Selcom prints amounts as strings; a wrong-amount payment shows what was actually paid.
  d.set("amount",
        std::to_string(r.isNull(0, "paid_amount") ? r.i64(0, "amount") : r.i64(0, "paid_amount")));
  d.set("currency", r.str(0, "currency"));
  d.set("payment_status", r.str(0, "payment_status"));
  d.set("transid", nullable(r, "transid"));
  d.set("channel", nullable(r, "channel"));
  d.set("reference", nullable(r, "reference"));
  d.set("phone", nullable(r, "msisdn"));
  d.set("msisdn", nullable(r, "msisdn"));
  Poco::JSON::Array::Ptr data = new Poco::JSON::Array;
  data->add(d);
  return envelope(200, "000", "SUCCESS", "Order fetch successful", data);
}

Response Simulator::cancelOrder(const Request& req) {
  FieldSource fields(std::map<std::string, std::string>(req.query.begin(), req.query.end()));
  if (auto denied = refuse(req, fields)) return *denied;
  if (take(cancelTimeouts_)) sleepPastTimeout();  // the order is not cancelled
  if (take(cancelFailures_)) return envelope(500, "999", "FAIL", "Service temporarily unavailable");
  std::int64_t changed = 0;
  host_.db().write([&](Tx& tx) {
    changed = tx.exec(
        "UPDATE selcom_sim_orders SET payment_status = 'CANCEL', updated_at = ? "
        "WHERE order_id = ? AND payment_status = 'PENDING'",
        {host_.clock().nowMs(), fields.value("order_id")});
  });
  if (changed == 0) return envelope(200, "403", "FAIL", "Order not found or no longer pending");
  return envelope(200, "000", "SUCCESS", "Order cancelled");
}

Simulator::Webhook Simulator::webhookFor(const std::string& orderId, bool misspelled) {
  Rows r = host_.db().query("SELECT * FROM selcom_sim_orders WHERE order_id = ?", {orderId});
  Webhook w;
  if (r.empty()) return w;
  const std::string status = r.str(0, "payment_status");
  const std::string result = status == "COMPLETED" ? "SUCCESS"
                             : status == "PENDING" ? "PENDING"
                                                   : "FAIL";
  const std::string code = status == "COMPLETED" ? "000"
                           : status == "PENDING" ? "111"
                                                 : r.str(0, "result_code");
  // Selcom's callback fields, signed in this order (providers/selcom.md).
  Fields fields = {{"transid", r.str(0, "transid")},
                   {"order_id", orderId},
                   {"reference", r.str(0, "reference")},
                   {"result", result},
                   {"resultcode", code},
                   {"payment_status", status}};
  w.url = r.str(0, "webhook_url");
  w.headers = signingHeaders(o_.apiKey, o_.apiSecret, isoTimestamp(host_.clock().nowMs()), fields);
  if (misspelled) {
    // Selcom's own sample spells the body key "resulcode" while signing "resultcode".
    for (auto& f : fields)
      if (f.name == "resultcode") f.name = "resulcode";
  }
  w.body = jsonBody(fields);
  return w;
}

int Simulator::deliver(const Webhook& w) {
  if (w.url.empty()) return 0;
  OutboundRequest o;
  o.method = "POST";
  o.url = w.url;
  o.headers = w.headers;
  o.body = w.body;
  o.timeoutMs = 10000;
  o.maxRetries = 0;
  auto r = host_.http().send(o);
  return r.ok() ? r.value().status : -1;
}

Simulator::Outcome Simulator::payOrder(const std::string& orderId, const PayRequest& pr) {
  Outcome out;
  Rows r = host_.db().query("SELECT * FROM selcom_sim_orders WHERE order_id = ?", {orderId});
  if (r.empty()) {
    out.status = 404;
    out.json.set("error", "no such order");
    return out;
  }
  if (pr.outcome != "paid" && pr.outcome != "decline" && pr.outcome != "never_paid") {
    out.status = 400;
    out.json.set("error", "outcome must be paid, decline or never_paid");
    return out;
  }
  const std::string current = r.str(0, "payment_status");
  // A USSD payment already in flight can still complete after cancel-order (paid only).
  const bool late =
      pr.afterCancel && pr.outcome == "paid" && current == "CANCEL" && r.isNull(0, "transid");
  if (current != "PENDING" && !late) {
    out.status = 409;
    out.json.set("error", "order is " + current);
    out.json.set("payment_status", current);
    return out;
  }
  std::int64_t now = host_.clock().nowMs();
  std::int64_t paid = pr.amount.value_or(r.i64(0, "amount"));
  std::string transid = pr.transid.empty() ? freshTransid() : pr.transid;
  std::string reference = freshReference();
  std::string msisdn = r.isNull(0, "msisdn") ? r.str(0, "buyer_phone") : r.str(0, "msisdn");
  if (pr.outcome != "never_paid") {
    std::int64_t changed = 0;
    host_.db().write([&](Tx& tx) {
      if (pr.outcome == "paid") {
        changed = tx.exec(
            "UPDATE selcom_sim_orders SET payment_status = 'COMPLETED', result_code = '000', "
            "transid = ?, "
            "reference = ?, channel = 'MPESA-TZ', msisdn = ?, paid_amount = ?, updated_at = ? "
            "WHERE order_id = ? AND payment_status = ?",
            {transid, reference, msisdn, paid, now, orderId, current});
      } else {
        changed = tx.exec(
            "UPDATE selcom_sim_orders SET payment_status = 'CANCEL', result_code = '403', transid "
            "= ?, "
            "reference = ?, updated_at = ? WHERE order_id = ? AND payment_status = 'PENDING'",
            {transid, reference, now, orderId});
      }
    });
    if (changed == 0) {  // someone else paid or declined it meanwhile
      out.status = 409;
      out.json.set("error", "order is no longer pending");
      return out;
    }
  }
  out.json.set("order_id", orderId);
  out.json.set("outcome", pr.outcome);
  out.json.set("payment_status", pr.outcome == "paid"      ? "COMPLETED"
                                 : pr.outcome == "decline" ? "CANCEL"
                                                           : "PENDING");
  if (pr.outcome == "paid") {
    out.json.set("transid", transid);
    out.json.set("reference", reference);
    out.json.set("amount", paid);
    out.json.set("currency", r.str(0, "currency"));
    std::int64_t balance = 2000 + static_cast<std::int64_t>(std::stoll(randomChars(kDigits, 5)));
    out.json.set("sms", confirmationSms(transid, paid, r.str(0, "vendor"),
                                        r.str(0, "payment_token"), now, balance));
  }

  Webhook w = webhookFor(orderId, pr.misspelledResultcode);
  Poco::JSON::Object wj;
  wj.set("url", w.url);
  Poco::JSON::Object headers;
  for (const auto& h : w.headers) headers.set(h.first, h.second);
  wj.set("headers", headers);
  wj.set("body", w.body);
  out.json.set("webhook", wj);
  Poco::JSON::Array statuses;
  if (pr.webhookDelayMs > 0) {
    int times = pr.webhooks;
    later(pr.webhookDelayMs, [this, w, times] {
      for (int i = 0; i < times; ++i) deliver(w);
    });
    out.json.set("webhook_delayed_ms", pr.webhookDelayMs);
  } else {
    for (int i = 0; i < pr.webhooks; ++i) statuses.add(deliver(w));
  }
  out.json.set("webhook_statuses", statuses);
  return out;
}

Response Simulator::pay(const Request& req) {
  const bool form =
      req.header("Content-Type").find("application/x-www-form-urlencoded") != std::string::npos;
  PayRequest pr;
  const std::string orderId = req.param("order_id");
  if (form) {
    std::optional<FieldSource> f = FieldSource::fromBody(req.body);
    if (f) {
      pr.outcome = f->get("outcome").value_or("paid");
      std::string amount = f->value("amount");
      if (!amount.empty()) {
        if (!allDigits(amount) || std::stoll(amount) <= 0)
          return Response::html(400, "amount must be a positive whole number");
        pr.amount = std::stoll(amount);
      }
    }
  } else {
    auto in = parseObject(req.body);
    if (!in)
      return Response::json(400, Poco::JSON::Object().set("error", "body must be a JSON object"));
    try {
      pr.outcome = in->optValue<std::string>("outcome", "paid");
      if (in->has("amount")) {
        pr.amount = in->getValue<Poco::Int64>("amount");
        if (*pr.amount <= 0)
          return Response::json(400, Poco::JSON::Object().set("error", "amount must be positive"));
      }
      pr.transid = in->optValue<std::string>("transid", "");
      pr.webhooks = std::max(0, std::min(5, in->optValue<int>("webhooks", 1)));
      pr.webhookDelayMs = std::max<Poco::Int64>(
          0, std::min<Poco::Int64>(600000, in->optValue<Poco::Int64>("webhook_delay_ms", 0)));
      pr.misspelledResultcode = in->optValue<bool>("misspelled_resultcode", false);
      pr.afterCancel = in->optValue<bool>("after_cancel", false);
    } catch (const std::exception& e) {
      return Response::json(
          400, Poco::JSON::Object().set("error", std::string("bad field: ") + e.what()));
    }
  }
  Outcome out = payOrder(orderId, pr);
  if (!form) return Response::json(out.status, out.json);
  Poco::JSON::Object data;
  data.set("order_id", orderId);
  data.set("back", host_.publicUrl() + base_ + "/pay/" + orderId);
  if (out.status != 200) data.set("error", out.json.optValue<std::string>("error", "failed"));
  data.set("payment_status", out.json.optValue<std::string>("payment_status", ""));
  if (out.json.has("sms")) data.set("sms", out.json.getValue<std::string>("sms"));
  return Response::html(out.status, host_.pages().render("Selcom sandbox", kPaidPage, data));
}

Response Simulator::payPage(const Request& req) {
  const std::string orderId = req.param("order_id");
  Rows r = host_.db().query("SELECT * FROM selcom_sim_orders WHERE order_id = ?", {orderId});
  if (r.empty())
    return Response::html(
        404, host_.pages().render("Selcom sandbox", "<p class=\"error\">No such order.</p>",
                                  Poco::JSON::Object()));
  Poco::JSON::Object data;
  data.set("order_id", orderId);
  data.set("vendor", r.str(0, "vendor"));
  data.set("amount", std::to_string(r.i64(0, "amount")));
  data.set("currency", r.str(0, "currency"));
  data.set("payment_token", r.str(0, "payment_token"));
  data.set("payment_status", r.str(0, "payment_status"));
  data.set("pending", r.str(0, "payment_status") == "PENDING");
  data.set("action", base_ + "/pay/" + orderId);
  return Response::html(200, host_.pages().render("Selcom sandbox", kPayPage, data));
}

Response Simulator::script(const Request& req) {
  auto in = parseObject(req.body);
  if (!in)
    return Response::json(400, Poco::JSON::Object().set("error", "body must be a JSON object"));
  try {
    auto set = [&](const char* key, std::atomic<int>& counter) {
      if (in->has(key)) counter = std::max(0, in->getValue<int>(key));
    };
    set("create_timeouts", createTimeouts_);
    set("create_failures", createFailures_);
    set("status_timeouts", statusTimeouts_);
    set("push_timeouts", pushTimeouts_);
    set("push_failures", pushFailures_);
    set("webhook_before_reply", webhookBeforeReply_);
    set("cancel_timeouts", cancelTimeouts_);
    set("cancel_failures", cancelFailures_);
  } catch (const std::exception& e) {
    return Response::json(400,
                          Poco::JSON::Object().set("error", std::string("bad field: ") + e.what()));
  }
  Poco::JSON::Object o;
  o.set("create_timeouts", createTimeouts_.load());
  o.set("create_failures", createFailures_.load());
  o.set("status_timeouts", statusTimeouts_.load());
  o.set("push_timeouts", pushTimeouts_.load());
  o.set("push_failures", pushFailures_.load());
  o.set("webhook_before_reply", webhookBeforeReply_.load());
  o.set("cancel_timeouts", cancelTimeouts_.load());
  o.set("cancel_failures", cancelFailures_.load());
  return Response::json(200, o);
}

Poco::JSON::Object Simulator::orderJson(const std::string& orderId) {
  Rows r = host_.db().query("SELECT * FROM selcom_sim_orders WHERE order_id = ?", {orderId});
  Poco::JSON::Object o;
  if (r.empty()) return o;
  for (const auto& col : r.columns) {
    if (r.isNull(0, col)) {
      o.set(col, Poco::Dynamic::Var());
    } else if (col == "amount" || col == "paid_amount" || col == "created_at" ||
               col == "updated_at" || col == "expiry_minutes") {
      o.set(col, r.i64(0, col));
    } else {
      o.set(col, r.str(0, col));
    }
  }
  return o;
}

Response Simulator::showOrder(const Request& req) {
  Poco::JSON::Object o = orderJson(req.param("order_id"));
  if (o.size() == 0) return Response::json(404, Poco::JSON::Object().set("error", "no such order"));
  return Response::json(200, o);
}

}  // namespace malipo::selcom::sim
