// A test provider implementing the whole provider SPI over real HTTP against its own
// simulator (mounted in sandbox mode), built against the SPI headers only. The simulator
// keeps its orders in the database so they survive a kill -9 like a real provider's would.
//
// Simulator (under /sandbox/fakepay, bearer api_key):
//   POST /orders {order_id, amount_minor, currency, webhook_url} → {ref}
//   GET  /orders/{ref} → {ref, order_id, status, txn_id, amount_minor, currency}
//   POST /orders/{ref}/pay {outcome: paid|failed, txn_id, amount_minor, currency, webhooks: n,
//   webhook_delay_ms} POST /script {create_timeouts, create_failures, query_failures}: the next N
//   calls misbehave;
//                {call_delay_ms}: every initiate and query waits this long (a slow provider)
//   GET  /allowlisted: 200 {client_ip} when the caller's address (Request::clientIp) is in
//        settings.allowed_ips, else 403 — an allow-list like a real provider's callback check
// Refunds and cancel (SDK 1.1; capabilities from settings.refunds / settings.cancel):
//   POST /orders/{ref}/refunds {refund_key, amount_minor} → 201 {id, status, amount_minor} (the
//        same refund_key again → 200 with the refund it made: idempotent); 409 when the order is
//        not paid, 422 when the amount exceeds what is left
//   GET  /refunds/by-key/{refund_key} → the refund, or 404
//   POST /refunds/{id}/settle {outcome: succeeded|failed} → a pending refund's outcome
//   POST /orders/{ref}/cancel → 200 {status: cancelled} for a pending order, 409 {status: paid}
//   POST /script also takes {refund_pending, refund_timeouts, refund_failures}: the next N
//        refunds stay pending / are made but answer after the caller's timeout / answer 500
// Attempts and short references (SDK 1.1, the attempts block):
//   settings.repush_new_ref: requestPush opens a new order (a new ref) for the same payment,
//        as Daraja's STK push does (each prompt its own CheckoutRequestID); the kernel sees a
//        new attempt. query() asks about the attempt's ref (GET /orders/{ref}).
//   settings.ref_max_length / ref_charset: capabilities; POST /orders refuses (400) an
//        account_ref (Payment::shortRef) longer than ref_max_length, as Daraja would.
//   GET  /orders/{ref} → the order, with its account_ref
//   POST /orders/{ref}/pay also takes {omit_order_id: true}: the webhook names the ref only
// Webhooks carry X-Fakepay-Signature: hex(HMAC-SHA256(secret, raw body)).
// ---- webhooks helper (session 6): the kernel's webhook models (SDK 1.1), from settings ----
//   webhook_token: true      per-payment signed callback URL (the simulator posts to
//                            Payment::callbackUrl, which the kernel checks before parseWebhook)
//   webhook_allowed_ips: [CIDR…]  the kernel's IP allow-list for webhooks
//   webhook_path: /cb/…      the inbox's path instead of /webhooks/fakepay
//   webhook_reply: '{…}'     parseWebhookReply answers this JSON body (200) instead of the kernel
//   webhook_stored_fail: true   onWebhookStored fails (the delivery must roll back)
//   GET /sandbox/fakepay/webhooks-stored → {events: [{event_id, payment_id}…]} what
//        onWebhookStored was given (new events only)
// ---- end of the webhooks helper's notes ----
#include <Poco/JSON/Parser.h>
#include <Poco/UUIDGenerator.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <sstream>
#include <thread>

#include "malipo/money.hpp"
#include "malipo/provider.hpp"

#ifndef FAKEPAY_NAME
#define FAKEPAY_NAME "fakepay"
#endif

namespace {

std::string hmacHex(const std::string& key, const std::string& msg) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out, &len);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < len; ++i) {
    s += hex[out[i] >> 4];
    s += hex[out[i] & 15];
  }
  return s;
}

std::string toText(const Poco::JSON::Object& o) {
  std::ostringstream os;
  o.stringify(os);
  return os.str();
}

Poco::JSON::Object::Ptr parse(const std::string& s) {
  return Poco::JSON::Parser().parse(s).extract<Poco::JSON::Object::Ptr>();
}

class FakePay final : public malipo::PaymentProvider {
 public:
  explicit FakePay(malipo::Host& host) : host_(host), s_(host.settings()) {}

  std::string name() const override { return FAKEPAY_NAME; }
  malipo::Capabilities capabilities() const override {
    malipo::Capabilities c{s_.getStringList("currencies"), {"redirect", "sms_proof", "ussd_push"}};
#if MALIPO_SDK_MINOR >= 1  // also built against the frozen SDK 1.0 headers (fakepay_sdk10)
    c.needs = s_.getStringList("needs");
    std::string refunds = s_.getString("refunds");
    c.refunds = refunds == "partial" ? malipo::RefundSupport::partial
                : refunds == "full"  ? malipo::RefundSupport::full
                                     : malipo::RefundSupport::none;
    c.cancel = s_.getBool("cancel");
    // ---- webhooks helper (session 6): webhook models ----
    c.webhookToken = s_.getBool("webhook_token");
    c.webhookAllowedIps = s_.getStringList("webhook_allowed_ips");
    c.webhookPath = s_.getString("webhook_path");
    // ---- end webhooks helper ----
    // attempts block: the reference limits (Daraja AccountReference: 12)
    c.refMaxLength = static_cast<int>(s_.getInt("ref_max_length"));
    c.refCharset = s_.getString("ref_charset");
#endif
    return c;
  }

  std::vector<malipo::Migration> migrations() const override {
    malipo::Migration m;
    m.version = 1;
    m.description = "simulator orders";
    m.sqlite =
        "CREATE TABLE IF NOT EXISTS fakepay_sim_orders (ref TEXT PRIMARY KEY, order_id TEXT NOT "
        "NULL, amount_minor BIGINT NOT NULL, "
        "currency TEXT NOT NULL, status TEXT NOT NULL, txn_id TEXT, paid_amount BIGINT, "
        "paid_currency TEXT, webhook_url TEXT NOT NULL)";
    malipo::Migration r;
    r.version = 2;
    r.description = "simulator refunds";
    r.sqlite =
        "CREATE TABLE IF NOT EXISTS fakepay_sim_refunds (id TEXT PRIMARY KEY, ref TEXT NOT NULL, "
        "refund_key TEXT NOT NULL UNIQUE, amount_minor BIGINT NOT NULL, status TEXT NOT NULL)";
    malipo::Migration a;  // attempts block
    a.version = 3;
    a.description = "simulator orders: the kernel's short reference";
    // Its own table: fakepay, fakepay2 and fakepay_sdk10 share the simulator's tables.
    a.sqlite =
        "CREATE TABLE IF NOT EXISTS fakepay_sim_account_refs (ref TEXT PRIMARY KEY, account_ref "
        "TEXT NOT NULL)";
    return {m, r, a};
  }

#if MALIPO_SDK_MINOR >= 1
  // Refunds go to the order the provider knows; our refund id is the provider's idempotency
  // key, so a refund asked for again (after a crash or a timeout) is never made twice.
  malipo::Result<malipo::RefundStatus> refund(const malipo::Payment& p,
                                              const malipo::RefundRequest& rq) override {
    if (p.providerRef.empty())
      return malipo::Error::make(malipo::ErrorCode::invalidInput, "payment has no provider ref");
    Poco::JSON::Object body;
    body.set("refund_key", rq.refundId);
    body.set("amount_minor", rq.amountMinor);
    auto r = call("POST", "/orders/" + p.providerRef + "/refunds", toText(body));
    if (!r.ok()) return r.error();
    int status = r.value().status;
    if (status == 409 || status == 422) {
      malipo::RefundStatus st;
      st.state = malipo::RefundStatus::State::failed;
      st.reason = "The provider refused the refund.";
      st.detail = "refund returned " + std::to_string(status) + ": " + r.value().body;
      return st;
    }
    if (status != 200 && status != 201) {
      malipo::Error e = malipo::Error::make(malipo::ErrorCode::providerError,
                                            "refund returned " + std::to_string(status));
      e.providerCode = std::to_string(status);
      e.retryable = status >= 500;
      return e;
    }
    return refundStatus(*parse(r.value().body));
  }
  // Looked up by our refund id, so it works when refund() timed out; notFound when the
  // provider never made it.
  malipo::Result<malipo::RefundStatus> queryRefund(const malipo::Payment&,
                                                   const malipo::RefundRequest& rq) override {
    auto r = call("GET", "/refunds/by-key/" + rq.refundId, "");
    if (!r.ok()) return r.error();
    if (r.value().status == 404)
      return malipo::Error::make(malipo::ErrorCode::notFound, "the provider has no such refund");
    if (r.value().status != 200)
      return malipo::Error::make(malipo::ErrorCode::providerError,
                                 "refund status returned " + std::to_string(r.value().status));
    return refundStatus(*parse(r.value().body));
  }
  malipo::Result<malipo::ProviderStatus> cancel(const malipo::Payment& p) override {
    if (p.providerRef.empty()) return query(p);  // never created there: ask what it knows
    auto r = call("POST", "/orders/" + p.providerRef + "/cancel", "");
    if (!r.ok()) return r.error();
    if (r.value().status == 409) return query(p);  // paid meanwhile: the provider's word
    if (r.value().status != 200)
      return malipo::Error::make(malipo::ErrorCode::providerError,
                                 "cancel returned " + std::to_string(r.value().status));
    malipo::ProviderStatus st;
    st.state = malipo::ProviderStatus::State::failed;
    st.reason = "The payment was cancelled.";
    st.detail = "status=cancelled";
    return st;
  }

  // The sandbox driver: the customer pays (or declines) at the simulator, which notifies the
  // kernel; the notification is handed back for replay.
  malipo::Result<malipo::SandboxResult> sandboxPay(const malipo::Payment& p,
                                                   const malipo::SandboxPayment& how) override {
    std::string ref = p.providerRef;
    if (ref.empty()) {
      auto rows = host_.db().query("SELECT ref FROM fakepay_sim_orders WHERE order_id = ?", {p.id});
      if (rows.empty())
        return malipo::Error::make(malipo::ErrorCode::notFound, "no simulated order for payment");
      ref = rows.str(0, "ref");
    }
    Poco::JSON::Object body;
    body.set("outcome", how.outcome == "failed" ? "failed" : "paid");
    if (how.amountMinor >= 0) body.set("amount_minor", how.amountMinor);
    if (!how.currency.empty()) body.set("currency", how.currency);
    if (!how.txnId.empty()) body.set("txn_id", how.txnId);
    malipo::OutboundRequest o;
    o.method = "POST";
    o.url = host_.publicUrl() + "/sandbox/" + FAKEPAY_NAME + "/orders/" + ref + "/pay";
    o.body = toText(body);
    o.timeoutMs = 10000;
    auto r = host_.http().send(o);
    if (!r.ok()) return r.error();
    if (r.value().status != 200)
      return malipo::Error::make(malipo::ErrorCode::providerError,
                                 "simulator pay returned " + std::to_string(r.value().status));
    auto out = parse(r.value().body);
    malipo::SandboxResult res;
    res.txnId = out->getValue<std::string>("txn_id");
    malipo::Request w;
    w.method = "POST";
    w.path = std::string("/webhooks/") + FAKEPAY_NAME;
    // webhooks helper (session 6): replayed where the simulator sent it (the callback URL's
    // path and its token).
    if (!p.callbackUrl.empty()) {
      std::string rest =
          p.callbackUrl.substr(std::min(p.callbackUrl.size(), host_.publicUrl().size()));
      std::size_t q = rest.find('?');
      w.path = rest.substr(0, q);
      if (q != std::string::npos) w.rawQuery = rest.substr(q + 1);
    }
    w.body = out->getValue<std::string>("webhook_body");
    w.headers = {{"Content-Type", "application/json"},
                 {"X-Fakepay-Signature", hmacHex(s_.getString("secret"), w.body)}};
    res.webhooks.push_back(std::move(w));
    return res;
  }
  malipo::Status sandboxFault(const std::string& fault, int count) override {
    if (fault == "initiate_timeout") {
      createTimeouts_ = count;
    } else if (fault == "query_failure") {
      queryFailures_ = count;
    } else {
      return malipo::Error::make(malipo::ErrorCode::invalidInput, "unknown fault " + fault);
    }
    return malipo::okStatus();
  }
#endif

  malipo::Result<malipo::InitiateResult> initiate(const malipo::Payment& p,
                                                  const malipo::CreatePayment&) override {
    Poco::JSON::Object body;
    body.set("order_id", p.id);
    body.set("amount_minor", p.amountMinor);
    body.set("currency", p.currency);
    std::string webhookUrl = host_.publicUrl() + "/webhooks/" + FAKEPAY_NAME;
#if MALIPO_SDK_MINOR >= 1  // webhooks helper (session 6): the kernel's callback URL
    if (!p.callbackUrl.empty()) webhookUrl = p.callbackUrl;
#endif
    body.set("webhook_url", webhookUrl);
#if MALIPO_SDK_MINOR >= 1
    body.set("account_ref", p.shortRef);  // attempts block
#endif
    auto r = call("POST", "/orders", toText(body));
    if (!r.ok()) return r.error();
    if (r.value().status != 201)
      return malipo::Error::make(
          malipo::ErrorCode::providerError,
          "create returned " + std::to_string(r.value().status) + ": " + r.value().body,
          "Failed to initiate payment");
    std::string ref = parse(r.value().body)->getValue<std::string>("ref");
    malipo::InitiateResult out;
    out.providerRef = ref;
    out.action.type = "redirect";
    out.action.url = baseUrl() + "/orders/" + ref + "/checkout";
    out.action.reference = p.id;
    return out;
  }

  malipo::Result<malipo::ProviderStatus> query(const malipo::Payment& p) override {
    // Like Selcom and Flutterwave, look the order up by our own reference: it is known even
    // when the create call timed out and no provider reference came back. An attempt with its
    // own ref (attempts block) is asked about by that ref.
    auto r = call(
        "GET", p.providerRef.empty() ? "/orders/by-order/" + p.id : "/orders/" + p.providerRef, "");
    if (!r.ok()) return r.error();
    malipo::ProviderStatus st;
    if (r.value().status == 401)
      return malipo::Error::make(malipo::ErrorCode::providerError, "provider refused our key");
    if (r.value().status == 404) {
      st.reason = "unknown order";
      return st;  // not clearly failed: stays pending
    }
    if (r.value().status != 200)
      return malipo::Error::make(malipo::ErrorCode::providerError,
                                 "status returned " + std::to_string(r.value().status));
    auto o = parse(r.value().body);
    std::string status = o->optValue<std::string>("status", "");
    st.detail = "status=" + status;
    if (status == "paid") {
      st.state = malipo::ProviderStatus::State::succeeded;
      st.providerTxnId = o->optValue<std::string>("txn_id", "");
      st.amountMinor = o->optValue<Poco::Int64>("amount_minor", -1);
      st.currency = o->optValue<std::string>("currency", "");
      st.providerRef = o->optValue<std::string>("ref", "");
    } else if (status == "failed") {
      st.state = malipo::ProviderStatus::State::failed;
      st.reason = "The payment was declined.";
    } else {
      st.reason = "Not paid yet.";
#if MALIPO_SDK_MINOR >= 1
      st.retryAfterSeconds = static_cast<int>(s_.getInt("retry_after_seconds"));
      st.resultCode = "pending";
#endif
    }
    return st;
  }

  malipo::Result<std::vector<malipo::WebhookEvent>> parseWebhook(
      const malipo::Request& req) override {
    std::string sig = req.header("X-Fakepay-Signature");
    std::string want = hmacHex(s_.getString("secret"), req.body);
    // settings.verify_signatures false: a deliberately broken provider (the conformance kit's
    // own test shows the kit catches it).
    bool verify = s_.getBool("verify_signatures");
    if (verify &&
        (sig.size() != want.size() || CRYPTO_memcmp(sig.data(), want.data(), want.size()) != 0))
      return malipo::Error::make(malipo::ErrorCode::unauthorized,
                                 "bad or missing X-Fakepay-Signature");
    try {
      auto o = parse(req.body);
      malipo::WebhookEvent ev;
      ev.eventId = o->getValue<std::string>("event_id");
      ev.paymentId = o->optValue<std::string>("order_id", "");
      ev.providerRef = o->optValue<std::string>("ref", "");
      ev.summary = "status " + o->optValue<std::string>("status", "");
      return std::vector<malipo::WebhookEvent>{ev};
    } catch (const std::exception& e) {
      return malipo::Error::make(malipo::ErrorCode::invalidInput,
                                 std::string("bad webhook body: ") + e.what());
    }
  }

#if MALIPO_SDK_MINOR >= 1
  // ---- webhooks helper (session 6): provider-shaped replies, onWebhookStored ----
  malipo::Result<malipo::ParsedWebhook> parseWebhookReply(const malipo::Request& req) override {
    auto events = parseWebhook(req);
    if (!events.ok()) return events.error();
    malipo::ParsedWebhook out;
    out.events = events.value();
    std::string reply = s_.getString("webhook_reply");
    if (!reply.empty()) {
      out.hasReply = true;
      out.reply = malipo::Response::text(200, reply, "application/json");
    }
    return out;
  }
  malipo::Status onWebhookStored(const malipo::Request&,
                                 const std::vector<malipo::WebhookEvent>& fresh,
                                 malipo::Tx& tx) override {
    if (s_.getBool("webhook_stored_fail"))
      return malipo::Error::make(malipo::ErrorCode::internal, "webhook_stored_fail is set");
    (void)tx;
    std::lock_guard<std::mutex> lock(storedMutex_);
    for (const auto& e : fresh) stored_.emplace_back(e.eventId, e.paymentId);
    return malipo::okStatus();
  }
  // ---- end webhooks helper ----
#endif

  // A prompt on the customer's phone: nothing to ask the simulator for, unless each prompt
  // is an order of its own (attempts block: settings.repush_new_ref).
  malipo::Result<malipo::NextAction> requestPush(const malipo::Payment& p,
                                                 const std::string&) override {
    malipo::NextAction a;
    a.type = "push_sent";
    a.message = "Check your phone and enter your PIN.";
    (void)p;
#if MALIPO_SDK_MINOR >= 1
    if (s_.getBool("repush_new_ref")) {
      auto again = initiate(p, malipo::CreatePayment{});
      if (!again.ok()) return again.error();
      a.attemptRef = again.value().providerRef;
    }
#endif
    return a;
  }

  // Proof text: "PAID <txn_id>". Settles only if the provider reports that same transaction.
  malipo::Result<malipo::ProviderStatus> verifyProof(const malipo::Payment& p,
                                                     const std::string& text) override {
    if (text.rfind("PAID ", 0) != 0)
      return malipo::Error::make(malipo::ErrorCode::invalidInput, "no transaction id in proof",
                                 "No transaction ID found in the message.");
    std::string txn = text.substr(5);
    auto st = query(p);
    if (!st.ok()) return st;
    if (st.value().state == malipo::ProviderStatus::State::succeeded &&
        st.value().providerTxnId != txn)
      return malipo::Error::make(malipo::ErrorCode::invalidInput,
                                 "proof txn " + txn + " != provider txn",
                                 "This transaction ID does not match the payment.");
    return st;
  }

  void simulator(malipo::Router& r) override {
    const std::string base = std::string("/sandbox/") + FAKEPAY_NAME;
    auto authorized = [this](const malipo::Request& req) {
      return req.header("Authorization") == "Bearer " + s_.getString("api_key");
    };
    r.add("POST", base + "/orders", [this, authorized](const malipo::Request& req) {
      if (!authorized(req))
        return malipo::Response::json(401, Poco::JSON::Object().set("error", "bad key"));
      if (createTimeouts_ > 0) {
        --createTimeouts_;
        std::this_thread::sleep_for(std::chrono::milliseconds(s_.getInt("timeout_ms") + 300));
      }
      if (createFailures_ > 0) {
        --createFailures_;
        return malipo::Response::json(500, Poco::JSON::Object().set("error", "simulated outage"));
      }
      auto in = parse(req.body);
      // attempts block: the account reference within the declared limit, as Daraja checks it
      std::string accountRef = in->optValue<std::string>("account_ref", "");
      if (auto max = s_.getInt("ref_max_length");
          max > 0 && accountRef.size() > static_cast<std::size_t>(max))
        return malipo::Response::json(
            400,
            Poco::JSON::Object().set("error", "account_ref longer than " + std::to_string(max)));
      std::string ref =
          "FP-" + Poco::UUIDGenerator::defaultGenerator().createRandom().toString().substr(0, 13);
      host_.db().write([&](malipo::Tx& tx) {
        tx.exec(
            "INSERT INTO fakepay_sim_orders (ref, order_id, amount_minor, currency, status, "
            "webhook_url) VALUES (?, ?, ?, ?, 'pending', ?)",
            {ref, in->getValue<std::string>("order_id"), in->getValue<Poco::Int64>("amount_minor"),
             in->getValue<std::string>("currency"), in->getValue<std::string>("webhook_url")});
        tx.exec("INSERT INTO fakepay_sim_account_refs (ref, account_ref) VALUES (?, ?)",
                {ref, accountRef});
      });
      return malipo::Response::json(201, Poco::JSON::Object().set("ref", ref));
    });
    r.add("GET", base + "/orders/by-order/{order_id}",
          [this, authorized](const malipo::Request& req) {
            if (!authorized(req))
              return malipo::Response::json(401, Poco::JSON::Object().set("error", "bad key"));
            if (queryFailures_ > 0) {
              --queryFailures_;
              return malipo::Response::json(503,
                                            Poco::JSON::Object().set("error", "simulated outage"));
            }
            auto rows =
                host_.db().query("SELECT * FROM fakepay_sim_orders WHERE order_id = ? ORDER BY ref",
                                 {req.param("order_id")});
            if (rows.empty())
              return malipo::Response::json(404,
                                            Poco::JSON::Object().set("error", "no such order"));
            return malipo::Response::json(200, orderJson(rows));
          });
    // attempts block: one order (one attempt) by its ref
    r.add("GET", base + "/orders/{ref}", [this, authorized](const malipo::Request& req) {
      if (!authorized(req))
        return malipo::Response::json(401, Poco::JSON::Object().set("error", "bad key"));
      if (queryFailures_ > 0) {
        --queryFailures_;
        return malipo::Response::json(503, Poco::JSON::Object().set("error", "simulated outage"));
      }
      auto rows =
          host_.db().query("SELECT * FROM fakepay_sim_orders WHERE ref = ?", {req.param("ref")});
      if (rows.empty())
        return malipo::Response::json(404, Poco::JSON::Object().set("error", "no such order"));
      return malipo::Response::json(200, orderJson(rows));
    });
    r.add("POST", base + "/orders/{ref}/pay", [this](const malipo::Request& req) {
      auto in = parse(req.body.empty() ? "{}" : req.body);
      auto rows =
          host_.db().query("SELECT * FROM fakepay_sim_orders WHERE ref = ?", {req.param("ref")});
      if (rows.empty())
        return malipo::Response::json(404, Poco::JSON::Object().set("error", "no such order"));
      std::string outcome = in->optValue<std::string>("outcome", "paid");
      std::string txn = in->optValue<std::string>(
          "txn_id",
          "TX" + Poco::UUIDGenerator::defaultGenerator().createRandom().toString().substr(0, 8));
      host_.db().write([&](malipo::Tx& tx) {
        tx.exec(
            "UPDATE fakepay_sim_orders SET status = ?, txn_id = ?, paid_amount = ?, paid_currency "
            "= ? WHERE ref = ?",
            {outcome, txn, in->optValue<Poco::Int64>("amount_minor", rows.i64(0, "amount_minor")),
             in->optValue<std::string>("currency", rows.str(0, "currency")), req.param("ref")});
      });
      Poco::JSON::Object ev;
      ev.set("event_id", "evt-" + req.param("ref") + "-" + outcome);
      // attempts block: a webhook that names the attempt's ref only
      if (!in->optValue<bool>("omit_order_id", false)) ev.set("order_id", rows.str(0, "order_id"));
      ev.set("ref", req.param("ref"));
      ev.set("status", outcome);
      std::string body = toText(ev);
      int times = in->optValue<int>("webhooks", 1);
      int delay = in->optValue<int>("webhook_delay_ms", 0);
      std::string url = rows.str(0, "webhook_url");
      auto send = [this, body, url, times, delay] {
        if (delay > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
        for (int i = 0; i < times; ++i) {
          malipo::OutboundRequest o;
          o.method = "POST";
          o.url = url;
          o.body = body;
          o.headers = {{"X-Fakepay-Signature", hmacHex(s_.getString("secret"), body)}};
          host_.http().send(o);
        }
      };
      if (delay > 0) {
        std::thread(send).detach();
      } else {
        send();
      }
      return malipo::Response::json(
          200, Poco::JSON::Object().set("txn_id", txn).set("webhook_body", body));
    });
    r.add("POST", base + "/orders/{ref}/refunds", [this, authorized](const malipo::Request& req) {
      if (!authorized(req))
        return malipo::Response::json(401, Poco::JSON::Object().set("error", "bad key"));
      if (refundFailures_ > 0) {
        --refundFailures_;
        return malipo::Response::json(500, Poco::JSON::Object().set("error", "simulated outage"));
      }
      auto in = parse(req.body);
      std::string key = in->getValue<std::string>("refund_key");
      Poco::Int64 amount = in->getValue<Poco::Int64>("amount_minor");
      int code = 201;
      Poco::JSON::Object out;
      host_.db().write([&](malipo::Tx& tx) {
        auto existing = tx.query("SELECT * FROM fakepay_sim_refunds WHERE refund_key = ?", {key});
        if (!existing.empty()) {
          code = 200;
          out = refundJson(existing, 0);
          return;
        }
        auto order = tx.query("SELECT * FROM fakepay_sim_orders WHERE ref = ?", {req.param("ref")});
        if (order.empty() || order.str(0, "status") != "paid") {
          code = 409;
          out.set("error", "order not paid");
          return;
        }
        auto done = tx.query(
            "SELECT COALESCE(SUM(amount_minor), 0) AS s FROM fakepay_sim_refunds WHERE ref = ? AND "
            "status <> 'failed'",
            {req.param("ref")});
        Poco::Int64 paid = order.isNull(0, "paid_amount") ? order.i64(0, "amount_minor")
                                                          : order.i64(0, "paid_amount");
        if (amount <= 0 || amount > paid - done.i64(0, "s")) {
          code = 422;
          out.set("error", "amount exceeds what is left to refund");
          return;
        }
        std::string id =
            "RF-" + Poco::UUIDGenerator::defaultGenerator().createRandom().toString().substr(0, 13);
        std::string status = "succeeded";
        if (refundPending_ > 0) {
          --refundPending_;
          status = "pending";
        }
        tx.exec(
            "INSERT INTO fakepay_sim_refunds (id, ref, refund_key, amount_minor, status) VALUES "
            "(?, ?, ?, ?, ?)",
            {id, req.param("ref"), key, amount, status});
        out.set("id", id).set("status", status).set("amount_minor", amount);
      });
      // Made, but the answer comes after the caller gave up.
      if (code == 201 && refundTimeouts_ > 0) {
        --refundTimeouts_;
        std::this_thread::sleep_for(std::chrono::milliseconds(s_.getInt("timeout_ms") + 300));
      }
      return malipo::Response::json(code, out);
    });
    r.add("GET", base + "/refunds/by-key/{key}", [this, authorized](const malipo::Request& req) {
      if (!authorized(req))
        return malipo::Response::json(401, Poco::JSON::Object().set("error", "bad key"));
      auto rows = host_.db().query("SELECT * FROM fakepay_sim_refunds WHERE refund_key = ?",
                                   {req.param("key")});
      if (rows.empty())
        return malipo::Response::json(404, Poco::JSON::Object().set("error", "no such refund"));
      return malipo::Response::json(200, refundJson(rows, 0));
    });
    r.add("POST", base + "/refunds/{id}/settle", [this](const malipo::Request& req) {
      auto in = parse(req.body.empty() ? "{}" : req.body);
      std::int64_t changed = 0;
      host_.db().write([&](malipo::Tx& tx) {
        changed =
            tx.exec("UPDATE fakepay_sim_refunds SET status = ? WHERE id = ? AND status = 'pending'",
                    {in->optValue<std::string>("outcome", "succeeded"), req.param("id")});
      });
      return malipo::Response::json(changed ? 200 : 409,
                                    Poco::JSON::Object().set("changed", changed > 0));
    });
    r.add("POST", base + "/orders/{ref}/cancel", [this, authorized](const malipo::Request& req) {
      if (!authorized(req))
        return malipo::Response::json(401, Poco::JSON::Object().set("error", "bad key"));
      std::string status;
      host_.db().write([&](malipo::Tx& tx) {
        auto rows =
            tx.query("SELECT status FROM fakepay_sim_orders WHERE ref = ?", {req.param("ref")});
        if (rows.empty()) return;
        status = rows.str(0, "status");
        if (status == "pending") {
          tx.exec("UPDATE fakepay_sim_orders SET status = 'cancelled' WHERE ref = ?",
                  {req.param("ref")});
          status = "cancelled";
        }
      });
      if (status.empty())
        return malipo::Response::json(404, Poco::JSON::Object().set("error", "no such order"));
      return malipo::Response::json(status == "cancelled" ? 200 : 409,
                                    Poco::JSON::Object().set("status", status));
    });
    r.add("GET", base + "/allowlisted", [this](const malipo::Request& req) {
      auto ips = s_.getStringList("allowed_ips");
      bool ok = std::find(ips.begin(), ips.end(), req.clientIp) != ips.end();
      return malipo::Response::json(ok ? 200 : 403,
                                    Poco::JSON::Object().set("client_ip", req.clientIp));
    });
    // webhooks helper (session 6): what onWebhookStored was given.
    r.add("GET", base + "/webhooks-stored", [this](const malipo::Request&) {
      Poco::JSON::Array::Ptr a = new Poco::JSON::Array;
      std::lock_guard<std::mutex> lock(storedMutex_);
      for (const auto& [ev, pay] : stored_)
        a->add(Poco::JSON::Object().set("event_id", ev).set("payment_id", pay));
      return malipo::Response::json(200, Poco::JSON::Object().set("events", a));
    });
    r.add("POST", base + "/script", [this](const malipo::Request& req) {
      auto in = parse(req.body);
      callDelayMs_ = in->optValue<int>("call_delay_ms", 0);
      createTimeouts_ = in->optValue<int>("create_timeouts", 0);
      createFailures_ = in->optValue<int>("create_failures", 0);
      queryFailures_ = in->optValue<int>("query_failures", 0);
      refundPending_ = in->optValue<int>("refund_pending", 0);
      refundTimeouts_ = in->optValue<int>("refund_timeouts", 0);
      refundFailures_ = in->optValue<int>("refund_failures", 0);
      return malipo::Response::json(200, Poco::JSON::Object().set("ok", true));
    });
  }

 private:
  Poco::JSON::Object orderJson(const malipo::Rows& rows) {
    Poco::JSON::Object o;
    o.set("ref", rows.str(0, "ref"));
    o.set("order_id", rows.str(0, "order_id"));
    o.set("status", rows.str(0, "status"));
    o.set("txn_id", rows.str(0, "txn_id"));
    o.set("amount_minor",
          rows.isNull(0, "paid_amount") ? rows.i64(0, "amount_minor") : rows.i64(0, "paid_amount"));
    o.set("currency",
          rows.isNull(0, "paid_currency") ? rows.str(0, "currency") : rows.str(0, "paid_currency"));
    auto account = host_.db().query(
        "SELECT account_ref FROM fakepay_sim_account_refs WHERE ref = ?", {rows.str(0, "ref")});
    o.set("account_ref", account.empty() ? "" : account.str(0, "account_ref"));
    return o;
  }
  static Poco::JSON::Object refundJson(const malipo::Rows& rows, std::size_t i) {
    Poco::JSON::Object o;
    o.set("id", rows.str(i, "id"));
    o.set("status", rows.str(i, "status"));
    o.set("amount_minor", rows.i64(i, "amount_minor"));
    return o;
  }
#if MALIPO_SDK_MINOR >= 1
  static malipo::RefundStatus refundStatus(const Poco::JSON::Object& o) {
    malipo::RefundStatus st;
    std::string status = o.optValue<std::string>("status", "");
    st.providerRefundId = o.optValue<std::string>("id", "");
    st.amountMinor = o.optValue<Poco::Int64>("amount_minor", -1);
    st.detail = "refund status=" + status;
    if (status == "succeeded") {
      st.state = malipo::RefundStatus::State::succeeded;
    } else if (status == "failed") {
      st.state = malipo::RefundStatus::State::failed;
      st.reason = "The provider could not make the refund.";
    }
    return st;
  }
#endif
  std::string baseUrl() const {
    std::string b = s_.getString("base_url");
    return b.empty() ? host_.publicUrl() + "/sandbox/" + FAKEPAY_NAME : b;
  }
  malipo::Result<malipo::OutboundResponse> call(const std::string& method, const std::string& path,
                                                const std::string& body) {
    // A slow provider: the call takes this long before it goes out (no timeout, no error).
    if (int delay = callDelayMs_.load())
      std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    malipo::OutboundRequest o;
    o.method = method;
    o.url = baseUrl() + path;
    o.body = body;
    o.timeoutMs = static_cast<int>(s_.getInt("timeout_ms"));
    o.maxRetries = 0;
    o.headers = {{"Authorization", "Bearer " + s_.getString("api_key")}};
    return host_.http().send(o);
  }

  malipo::Host& host_;
  malipo::Settings s_;
  std::atomic<int> createTimeouts_{0}, createFailures_{0}, queryFailures_{0}, callDelayMs_{0};
  std::atomic<int> refundPending_{0}, refundTimeouts_{0}, refundFailures_{0};
  std::mutex storedMutex_;  // webhooks helper (session 6)
  std::vector<std::pair<std::string, std::string>> stored_;
};

malipo::SchemaNode fakeSchema() {
  using namespace malipo::schema;
  return object("test provider")
      .field("base_url", str("provider API; empty in sandbox: our own simulator").def(""))
      .field("api_key", str("bearer key").def("fake-key").isSecret())
      .field("secret", str("webhook HMAC secret").def("fake-secret").isSecret())
      .field("timeout_ms", integer("API timeout").def(1000))
      .field("allowed_ips", list("addresses the simulator's /allowlisted route admits", str("IP"))
                                .def(Poco::JSON::Array::Ptr(new Poco::JSON::Array)))
      .field("verify_signatures",
             boolean("check X-Fakepay-Signature (false: a broken provider, for tests)").def(true))
      .field("refunds", str("refunds offered: none, full or partial").def("partial"))
      .field("cancel", boolean("the provider can cancel a pending order").def(true))
      .field("retry_after_seconds",
             integer("pending answers say: ask again in so many seconds (0: no hint)").def(0))
      .field("needs",
             list("customer fields needed to initiate (msisdn, email, country)", str("field"))
                 .def(Poco::JSON::Array::Ptr(new Poco::JSON::Array)))
      // ---- webhooks helper (session 6): the kernel's webhook models ----
      .field("webhook_token",
             boolean("per-payment signed callback URL (kernel-checked)").def(false))
      .field("webhook_allowed_ips",
             list("CIDRs the kernel accepts webhooks from (empty: any)", str("CIDR"))
                 .def(Poco::JSON::Array::Ptr(new Poco::JSON::Array)))
      .field("webhook_path", str("the inbox's path instead of /webhooks/<name>").def(""))
      .field("webhook_reply", str("JSON body the inbox answers (empty: the kernel's)").def(""))
      .field("webhook_stored_fail", boolean("onWebhookStored fails (tests)").def(false))
      // ---- end webhooks helper ----
      // attempts block
      .field("repush_new_ref",
             boolean("requestPush opens a new order (a new attempt), like an STK push").def(false))
      .field("ref_max_length",
             integer("longest account_ref accepted (capabilities; 0: no limit)").def(0))
      .field("ref_charset", str("account_ref characters: \"\", alnum or digits").def(""))
      .field("currencies", list("currencies served", str("ISO 4217")).def([] {
        Poco::JSON::Array::Ptr a = new Poco::JSON::Array;
        a->add("TZS");
        a->add("GHS");
        a->add("NGN");
        return a;
      }()));
}

void fakeRegister(malipo::Registrar& r) {
  r.addProvider(std::make_shared<FakePay>(r.host()));
}

}  // namespace

MALIPO_PLUGIN(FAKEPAY_NAME, "1.0.0", fakeSchema, fakeRegister)
