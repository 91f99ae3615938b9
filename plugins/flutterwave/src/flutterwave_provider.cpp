#include "flutterwave_provider.hpp"

#include <Poco/DateTimeFormatter.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>

#include <algorithm>
#include <stdexcept>

#include "../sim/flutterwave_sim.hpp"
#include "flutterwave_wire.hpp"
#include "malipo/money.hpp"
#include "malipo/payments.hpp"

namespace malipo::flutterwave {

namespace {

const char* kReturnPath = "/payments/flutterwave/return";
const int kMaxHintsPerPayment = 5;
const std::int64_t kRetentionMs = 30LL * 24 * 3600 * 1000;

// The result page, in the customer's language (messages/<lang>.json, {{t.key}}). Values reach
// the script (/payments/flutterwave/return.js: no inline script, the page's CSP allows only
// this origin's) through data-* attributes (HTML-escaped by {{…}} and decoded by the browser),
// never by pasting text into JavaScript. `outcome` is what the page shows (succeeded, failed,
// held, cancelled, pending, timeout); `status` is the payment's state in Malipo.
const char* kReturnTemplate =
    R"(<div class="card" id="flw-result" data-status="{{status}}" data-outcome="{{outcome}}" data-tx-ref="{{tx_ref}}" data-final="{{final}}" data-target-origin="{{target_origin}}">
{{#succeeded}}<h1>{{t.paid_title}}</h1><p class="ok">{{t.paid_text}}</p>{{/succeeded}}
{{#failed}}<h1>{{t.failed_title}}</h1><p class="error">{{reason}}</p><p class="muted">{{t.failed_text}}</p>{{/failed}}
{{#cancelled}}<h1>{{t.cancelled_title}}</h1><p class="muted" id="flw-cancelled">{{t.cancelled_text}}</p>{{/cancelled}}
{{#held}}<h1>{{t.held_title}}</h1><p class="ok" id="flw-held">{{t.held_text}}</p>
<p id="flw-support">{{t.held_support}} <strong>{{tx_ref}}</strong></p>
{{#support_phone}}<p>{{t.kernel_call}}: <a href="tel:{{support_phone}}">{{support_phone}}</a></p>{{/support_phone}}{{#support_email}}<p>{{t.kernel_email}}: <a href="mailto:{{support_email}}">{{support_email}}</a></p>{{/support_email}}{{/held}}
{{#pending}}<h1>{{t.pending_title}}</h1><p class="muted">{{t.pending_text}}</p>{{/pending}}
{{#timeout}}<h1>{{t.timeout_title}}</h1><p class="muted" id="flw-timeout">{{t.timeout_text}}</p>
<p><a class="btn secondary" id="flw-check-again" href="{{check_again_url}}">{{t.check_again}}</a></p>{{/timeout}}
<dl><dt>{{t.amount}}</dt><dd id="flw-amount">{{amount}}</dd><dt>{{t.reference}}</dt><dd id="flw-reference">{{tx_ref}}</dd><dt>{{t.status}}</dt><dd>{{status_label}}</dd></dl>
{{#continue_url}}<p><a class="btn" id="flw-continue" href="{{continue_url}}" target="_top">{{continue_label}}</a></p>{{/continue_url}}
{{^continue_url}}<p class="muted" id="flw-close-hint">{{t.close_hint}}</p><p><button class="btn" type="button" id="flw-close">{{t.close}}</button></p>{{/continue_url}}
</div>
<script src="/payments/flutterwave/return.js"></script>)";

// The return page's script: tells the opener or framing page the result (postMessage).
const char* kReturnScript = R"((function () {
  var el = document.getElementById('flw-result');
  if (!el) return;
  var d = el.dataset;
  var msg = {source: 'malipo', provider: 'flutterwave', status: d.status, outcome: d.outcome, tx_ref: d.txRef, payment_id: d.txRef, final: d.final === 'true'};
  var origin = d.targetOrigin || '*';
  function post(m) {
    try { if (window.parent && window.parent !== window) window.parent.postMessage(m, origin); } catch (e) {}
    try { if (window.opener) window.opener.postMessage(m, origin); } catch (e) {}
  }
  post(msg);
  var close = document.getElementById('flw-close');
  if (close) close.addEventListener('click', function () {
    var m = {}; for (var k in msg) m[k] = msg[k]; m.action = 'close';
    post(m);
    try { window.close(); } catch (e) {}
  });
  var go = document.getElementById('flw-continue');
  if (go && d.outcome === 'succeeded' && window.top === window && !window.opener) setTimeout(function () { window.location.assign(go.href); }, 2500);
})();
)";

// Escapes text for an HTML attribute we write ourselves (the refresh URL in <head>).
std::string escapeAttribute(const std::string& in) {
  std::string out;
  for (char c : in) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

const char* kNotFoundTemplate =
    R"(<div class="card"><h1>{{t.not_found_title}}</h1><p class="error">{{message}}</p></div>)";

}  // namespace

const Decl<ProviderConfig>& ProviderConfig::decl() {
  using C = ProviderConfig;
  static const auto d =
      Decl<C>("Flutterwave v3: hosted checkout (redirect channel)")
          .str("base_url", &C::baseUrl,
               "Flutterwave API base including /v3. Empty: the built-in simulator when sandbox "
               "is on "
               "(<public_url>/sandbox/flutterwave/v3), otherwise https://api.flutterwave.com/v3")
          .str("secret_key", &C::secretKey,
               "secret key (FLWSECK_…) sent as the bearer token. Required outside sandbox; empty "
               "in sandbox: a built-in key the simulator accepts")
          .secret()
          .str("secret_hash", &C::secretHash,
               "the webhook Secret Hash you choose and enter in the dashboard: checked against "
               "verif-hash and flutterwave-signature (HMAC key or plain). Outside sandbox: "
               "required, at "
               "least 32 bytes, no placeholder")
          .strongSecret()
          .integer("timeout_ms", &C::timeoutMs, "timeout of each call to Flutterwave")
          .range(500, 120000)
          .section("checkout", "what the hosted checkout page shows",
                   [](Decl<C>& c) {
                     c.str("title", &C::title,
                           "title (e.g. the shop's name); empty: Flutterwave's default")
                         .str("description", &C::description,
                              "line under the title; empty: the payment's description")
                         .str("logo", &C::logo, "absolute https URL of a square logo");
                   })
          .str("payment_options", &C::paymentOptions,
               "comma-separated methods offered, e.g. \"card, banktransfer, ussd\"; empty: the "
               "dashboard's defaults")
          .list("currencies", &C::currencies, "currencies routed to Flutterwave (ISO 4217)",
                schema::str("currency code"))
          .str("placeholder_email_domain", &C::placeholderEmailDomain,
               "Flutterwave requires an email: customers without one get "
               "<account-id>@<this domain>")
          .str("post_message_origin", &C::postMessageOrigin,
               "target origin of the return page's window.parent.postMessage; set it to "
               "your front end's origin so no other site that frames the page learns "
               "the result ('*': any)")
          .section("return_page",
                   "the page customers come back to from checkout (/payments/flutterwave/return)",
                   [](Decl<C>& p) {
                     p.str("default_url", &C::defaultReturnUrl,
                           "where its Back button leads when the payment names no return URL "
                           "(the product's returnUrl); empty: a Close button")
                         .integer("check_interval_seconds", &C::checkIntervalMs,
                                  "at most one check with Flutterwave per payment "
                                  "this often, however often the page is loaded")
                         .unit(1000)
                         .range(1, 3600)
                         .integer("refresh_seconds", &C::refreshSeconds,
                                  "while pending, the page reloads after this long")
                         .range(1, 600)
                         .integer("max_refreshes", &C::maxRefreshes,
                                  "then stops after this many reloads, saying the payment is not "
                                  "confirmed yet")
                         .range(0, 10000);
                   })
          .integer("refund_grace_seconds", &C::refundGraceMs,
                   "a refund whose create call got no answer and that Flutterwave's refund "
                   "list still does not show after this long is recorded as failed (never "
                   "sent again under the same refund id)")
          .unit(1000)
          .range(60, 86400)
          .section("simulator", "sandbox only: how the built-in simulator behaves", [](Decl<C>& m) {
            m.str("webhook_mode", &C::simWebhookMode,
                  "how its webhooks are authenticated and shaped")
                .oneOf({"verif-hash", "signature", "legacy"})
                .str("webhook_url", &C::simWebhookUrl,
                     "where it sends webhooks; empty: <public_url>/webhooks/flutterwave");
          });
  return d;
}

ProviderConfig ProviderConfig::fromSettings(const Settings& s, bool sandbox) {
  ProviderConfig c = decl().load(s);
  c.sandbox = sandbox;
  while (!c.baseUrl.empty() && c.baseUrl.back() == '/') c.baseUrl.pop_back();
  if (sandbox && c.secretKey.empty()) c.secretKey = kSandboxSecretKey;
  if (sandbox && c.secretHash.empty()) c.secretHash = kSandboxSecretHash;
  return c;
}

FlutterwaveProvider::FlutterwaveProvider(Host& host)
    : host_(host), cfg_(ProviderConfig::fromSettings(host.settings(), host.sandbox())) {}

FlutterwaveProvider::~FlutterwaveProvider() {
  if (sim_) sim_->stop();
}

Capabilities FlutterwaveProvider::capabilities() const {
  Capabilities c;
  c.currencies = cfg_.currencies;
  c.channels = {"redirect"};
  c.needs = {};  // customers without an email get a placeholder address
  c.refunds = RefundSupport::partial;
  return c;
}

std::vector<Migration> FlutterwaveProvider::migrations() const {
  // One list for the provider and its simulator: migrations are versioned per plugin. The
  // simulator's tables exist outside sandbox too (empty), so turning sandbox on later needs
  // no special migration path.
  Migration m;
  m.version = 1;
  m.description = "flutterwave checkouts, transaction hints, simulator state";
  m.sqlite =
      "CREATE TABLE flutterwave_checkouts (payment_id TEXT PRIMARY KEY, return_url TEXT NOT NULL "
      "DEFAULT '', "
      "created_at BIGINT NOT NULL);"
      "CREATE TABLE flutterwave_txn_hints (payment_id TEXT NOT NULL, transaction_id TEXT NOT NULL, "
      "source TEXT NOT NULL, "
      "created_at BIGINT NOT NULL, PRIMARY KEY (payment_id, transaction_id));"
      "CREATE TABLE flutterwave_sim_checkouts (id TEXT PRIMARY KEY, tx_ref TEXT NOT NULL, "
      "amount_minor BIGINT NOT NULL, "
      "currency TEXT NOT NULL, redirect_url TEXT NOT NULL, customer_email TEXT NOT NULL, "
      "customer_name TEXT NOT NULL DEFAULT '', "
      "customer_phone TEXT NOT NULL DEFAULT '', title TEXT NOT NULL DEFAULT '', description TEXT "
      "NOT NULL DEFAULT '', "
      "logo TEXT NOT NULL DEFAULT '', meta_json TEXT NOT NULL DEFAULT '{}', status TEXT NOT NULL, "
      "created_at BIGINT NOT NULL);"
      "CREATE INDEX flutterwave_sim_checkouts_ref ON flutterwave_sim_checkouts (tx_ref);"
      "CREATE TABLE flutterwave_sim_transactions (id BIGINT PRIMARY KEY, checkout_id TEXT NOT "
      "NULL, tx_ref TEXT NOT NULL, "
      "flw_ref TEXT NOT NULL, amount_minor BIGINT NOT NULL, currency TEXT NOT NULL, status TEXT "
      "NOT NULL, "
      "processor_response TEXT NOT NULL, card_first6 TEXT NOT NULL, card_last4 TEXT NOT NULL, "
      "created_at BIGINT NOT NULL);"
      "CREATE INDEX flutterwave_sim_transactions_ref ON flutterwave_sim_transactions (tx_ref, "
      "created_at);"
      "CREATE TABLE flutterwave_sim_scripts (script_key TEXT PRIMARY KEY, script_json TEXT NOT "
      "NULL, created_at BIGINT NOT NULL)";
  Migration m2;
  m2.version = 2;
  m2.description = "return-page check time; simulated fees and card tokens";
  m2.sqlite =
      "ALTER TABLE flutterwave_checkouts ADD COLUMN checked_at BIGINT NOT NULL DEFAULT 0;"
      "ALTER TABLE flutterwave_sim_transactions ADD COLUMN charged_minor BIGINT NOT NULL DEFAULT 0;"
      "ALTER TABLE flutterwave_sim_transactions ADD COLUMN fee_minor BIGINT NOT NULL DEFAULT 0;"
      "ALTER TABLE flutterwave_sim_transactions ADD COLUMN card_token TEXT NOT NULL DEFAULT ''";
  Migration m3;
  m3.version = 3;
  m3.description = "refunds: our refund id -> Flutterwave's; simulated refunds";
  m3.sqlite =
      "CREATE TABLE flutterwave_refunds (refund_id TEXT PRIMARY KEY, payment_id TEXT NOT NULL, "
      "transaction_id TEXT NOT NULL, flw_refund_id TEXT NOT NULL DEFAULT '', state TEXT NOT "
      "NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);"
      "CREATE TABLE flutterwave_sim_refunds (id BIGINT PRIMARY KEY, transaction_id BIGINT NOT "
      "NULL, flw_ref TEXT NOT NULL, amount_minor BIGINT NOT NULL, currency TEXT NOT NULL, "
      "status TEXT NOT NULL, comments TEXT NOT NULL, lookups BIGINT NOT NULL DEFAULT 0, "
      "pending_lookups BIGINT NOT NULL DEFAULT 0, created_at BIGINT NOT NULL);"
      "CREATE INDEX flutterwave_sim_refunds_txn ON flutterwave_sim_refunds (transaction_id)";
  return {m, m2, m3};
}

void FlutterwaveProvider::start() {
  // Refuse at start-up what would only fail at the first payment.
  if (!cfg_.baseUrl.empty() && cfg_.baseUrl.rfind("https://", 0) != 0 &&
      cfg_.baseUrl.rfind("http://", 0) != 0)
    throw std::runtime_error("base_url must be an http(s) URL");
  if (!cfg_.sandbox) {
    if (cfg_.secretKey.empty())
      throw std::runtime_error("secret_key is required when sandbox is off");
    if (cfg_.secretHash.empty())
      throw std::runtime_error(
          "secret_hash is required when sandbox is off (webhooks cannot be verified)");
  }
  if (!cfg_.defaultReturnUrl.empty() && cfg_.defaultReturnUrl.rfind("https://", 0) != 0 &&
      cfg_.defaultReturnUrl.rfind("http://", 0) != 0)
    throw std::runtime_error("return_page.default_url must be an http(s) URL");
  if (cfg_.currencies.empty())
    throw std::runtime_error("currencies must name at least one currency");
  for (const auto& c : cfg_.currencies)
    if (!validCurrency(c))
      throw std::runtime_error("currencies: '" + c + "' is not an ISO 4217 code");

  // Our side tables only matter while a payment can still change (the kernel's default
  // expiry is a day); a month keeps them useful for support without growing forever.
  host_.jobs().handle("flutterwave.purge", [this](const Job&) {
    std::int64_t cutoff = host_.clock().nowMs() - kRetentionMs;
    host_.db().write([&](Tx& tx) {
      tx.exec("DELETE FROM flutterwave_txn_hints WHERE created_at < ?", {cutoff});
      tx.exec("DELETE FROM flutterwave_checkouts WHERE created_at < ?", {cutoff});
      tx.exec("DELETE FROM flutterwave_sim_transactions WHERE created_at < ?", {cutoff});
      tx.exec("DELETE FROM flutterwave_sim_checkouts WHERE created_at < ?", {cutoff});
      tx.exec("DELETE FROM flutterwave_sim_scripts WHERE created_at < ?", {cutoff});
      tx.exec("DELETE FROM flutterwave_sim_refunds WHERE created_at < ?", {cutoff});
    });
    return JobOutcome::ok();
  });
  host_.jobs().every("flutterwave.purge", 24LL * 3600 * 1000);
}

void FlutterwaveProvider::stop() {
  if (sim_) sim_->stop();
}

std::string FlutterwaveProvider::baseUrl() const {
  if (!cfg_.baseUrl.empty()) return cfg_.baseUrl;
  // publicUrl() is only final once the server bound its port, so it is read per call.
  return cfg_.sandbox ? host_.publicUrl() + "/sandbox/flutterwave/v3" : kProductionBaseUrl;
}

Result<OutboundResponse> FlutterwaveProvider::call(const std::string& method,
                                                   const std::string& path,
                                                   const std::string& body) {
  OutboundRequest o;
  o.method = method;
  o.url = baseUrl() + path;
  o.body = body;
  o.timeoutMs = cfg_.timeoutMs;
  // Creating a hosted link twice is harmless but a retried POST could outlive our timeout;
  // GETs (verify) keep the client's default retries on connection errors and 5xx.
  if (method == "POST") o.maxRetries = 0;
  o.headers = {{"Authorization", "Bearer " + cfg_.secretKey}, {"Accept", "application/json"}};
  return host_.http().send(o);
}

Result<InitiateResult> FlutterwaveProvider::initiate(const Payment& p,
                                                     const CreatePayment& request) {
  try {
    // Remembered before the call so the return page can offer the product's page even if
    // the create call times out and the payment is recovered later.
    host_.db().exec(
        "INSERT INTO flutterwave_checkouts (payment_id, return_url, created_at) VALUES (?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        {p.id, request.returnUrl, host_.clock().nowMs()});
  } catch (const DbError& e) {
    host_.logger().warning("flutterwave", p.id + ": could not store the return URL: " + e.what());
  }
  CheckoutOptions opt;
  opt.redirectUrl = host_.publicUrl() + kReturnPath;
  opt.title = cfg_.title;
  opt.description = cfg_.description;
  opt.logo = cfg_.logo;
  opt.paymentOptions = cfg_.paymentOptions;
  opt.placeholderEmailDomain = cfg_.placeholderEmailDomain;
  auto r = call("POST", "/payments", buildPaymentRequest(p, opt));
  if (!r.ok()) {
    Error e = r.error();
    e.internal = "flutterwave create payment: " + e.internal;
    if (e.code != ErrorCode::providerTimeout) e.external = "Failed to initiate payment";
    return e;
  }
  auto link = parseHostedLink(r.value().status, r.value().body);
  if (!link.ok()) return link.error();
  InitiateResult out;
  out.providerRef = p.id;  // tx_ref: Flutterwave has no checkout id of its own to look up
  out.action.type = "redirect";
  out.action.url = link.value();
  out.action.reference = p.id;
  out.action.message = "Complete the payment on Flutterwave's secure checkout page.";
  return out;
}

Result<ProviderStatus> FlutterwaveProvider::verify(const std::string& path,
                                                   const std::string& txRef) {
  auto r = call("GET", path, "");
  if (!r.ok()) return r.error();
  return mapVerifyResponse(r.value().status, r.value().body, txRef);
}

Result<ProviderStatus> FlutterwaveProvider::query(const Payment& p) {
  std::vector<std::string> ids;
  if (looksLikeTransactionId(p.providerTxnId)) ids.push_back(p.providerTxnId);
  for (const auto& id : hints(p.id))
    if (id != p.providerTxnId) ids.push_back(id);
  // A known transaction id first: with retries on one checkout, verify_by_reference shows
  // one attempt while the webhook or return URL named the one that was paid.
  for (const auto& id : ids) {
    auto st = verify("/transactions/" + id + "/verify", p.id);
    if (st.ok() && st.value().state == ProviderStatus::State::succeeded) return st;
  }
  std::string ref;
  Poco::URI::encode(p.id, "!#$&'()*+,/:;=?@[]", ref);
  return verify("/transactions/verify_by_reference?tx_ref=" + ref, p.id);
}

Result<std::vector<WebhookEvent>> FlutterwaveProvider::parseWebhook(const Request& req) {
  auto events = flutterwave::parseWebhook(req, cfg_.secretHash);
  if (events.ok() && !events.value().empty()) {
    auto payload = parseWebhookBody(req.body);
    // Only a delivery that passed the signature check names a transaction worth verifying.
    if (payload.ok() && looksLikeTransactionId(payload.value().transactionId))
      recordHint(payload.value().txRef, payload.value().transactionId, "webhook");
  }
  return events;
}

void FlutterwaveProvider::recordHint(const std::string& paymentId, const std::string& transactionId,
                                     const std::string& source) {
  if (paymentId.empty() || paymentId.size() > 100 || !looksLikeTransactionId(transactionId)) return;
  try {
    host_.db().write([&](Tx& tx) {
      // Bounded, so even many signed deliveries for one payment cannot make query() fan out.
      Rows n = tx.query("SELECT COUNT(*) AS n FROM flutterwave_txn_hints WHERE payment_id = ?",
                        {paymentId});
      if (n.i64(0, "n") >= kMaxHintsPerPayment) return;
      tx.exec(
          "INSERT INTO flutterwave_txn_hints (payment_id, transaction_id, source, created_at) "
          "VALUES (?, ?, ?, ?) "
          "ON CONFLICT DO NOTHING",
          {paymentId, transactionId, source, host_.clock().nowMs()});
    });
  } catch (const DbError& e) {
    // A hint only saves a lookup; verify_by_reference still finds the payment.
    host_.logger().warning("flutterwave",
                           "could not record a transaction hint: " + std::string(e.what()));
  }
}

std::vector<std::string> FlutterwaveProvider::hints(const std::string& paymentId) {
  std::vector<std::string> out;
  try {
    Rows r = host_.db().query(
        "SELECT transaction_id FROM flutterwave_txn_hints WHERE payment_id = ? ORDER BY created_at "
        "DESC LIMIT ?",
        {paymentId, static_cast<std::int64_t>(kMaxHintsPerPayment)});
    for (std::size_t i = 0; i < r.size(); ++i) out.push_back(r.str(i, "transaction_id"));
  } catch (const DbError& e) {
    host_.logger().warning("flutterwave",
                           "could not read transaction hints: " + std::string(e.what()));
  }
  return out;
}

void FlutterwaveProvider::routes(Router& router) {
  RouteOptions options;
  options.name = kReturnPath;
  router.add(
      "GET", kReturnPath, [this](const Request& req) { return returnPage(req); }, options);
  RouteOptions script;
  script.name = "/payments/flutterwave/return.js";
  router.add(
      "GET", "/payments/flutterwave/return.js",
      [](const Request&) {
        Response r = Response::text(200, kReturnScript, "text/javascript; charset=utf-8");
        r.header("Cache-Control", "public, max-age=300");
        return r;
      },
      script);
}

bool FlutterwaveProvider::claimReturnCheck(const std::string& paymentId) {
  std::int64_t now = host_.clock().nowMs();
  try {
    // A compare-and-set on the payment's own row (written by initiate, so only our payments
    // have one): of any number of concurrent loads, one wins per interval.
    return host_.db().exec(
               "UPDATE flutterwave_checkouts SET checked_at = ? WHERE payment_id = ? AND "
               "checked_at <= ?",
               {now, paymentId, now - cfg_.checkIntervalMs}) == 1;
  } catch (const DbError& e) {
    host_.logger().warning("flutterwave",
                           "return page: could not claim a check: " + std::string(e.what()));
    return false;
  }
}

Response FlutterwaveProvider::returnPage(const Request& req) {
  // Flutterwave appends ?status=…&tx_ref=…&transaction_id=…. None of it is trusted: the
  // transaction id is ignored (only signed webhooks name transactions to verify), `status` only
  // chooses the words for a payment Flutterwave has not confirmed (a customer who cancelled
  // sees "cancelled", not an endless "confirming"), and the state shown is the payment's after
  // asking Flutterwave, at most once per check interval whatever the number of loads.
  std::string txRef = req.queryParam("tx_ref", req.queryParam("txRef"));
  const Pages& pages = host_.pages();
  const std::string lang = pages.language(req);
  auto t = [&](const std::string& key) { return pages.text(lang, key); };
  auto notFound = [&](int status, const std::string& message) {
    Poco::JSON::Object data;
    data.set("message", message);
    return Response::html(status,
                          pages.renderIn(lang, t("not_found_title"), kNotFoundTemplate, data));
  };
  if (txRef.empty() || txRef.size() > 100) return notFound(400, t("not_found_no_reference"));
  Result<Payment> got = Error::make(ErrorCode::notFound, "not checked");
  if (claimReturnCheck(txRef)) {
    got = host_.payments().sync(txRef);
    if (!got.ok() && got.error().code != ErrorCode::notFound)
      host_.logger().warning("flutterwave",
                             txRef + ": return page could not verify now: " + got.error().internal);
  }
  // Not checked now (checked moments ago, or the check failed): the stored state, which the
  // kernel's sync on read refreshes in the background when it is stale.
  if (!got.ok()) got = host_.payments().get(txRef);
  if (!got.ok() || got.value().provider != name()) return notFound(404, t("not_found_text"));
  const Payment& p = got.value();

  std::string returned = req.queryParam("status");
  int check = 0;
  try {
    check = std::max(0, std::min(100000, std::stoi(req.queryParam("check", "0"))));
  } catch (const std::exception&) {
  }
  std::string status = statusName(p.status);
  bool succeeded = p.status == PaymentStatus::succeeded;
  bool held = p.status == PaymentStatus::held;
  bool failed = p.status == PaymentStatus::failed || p.status == PaymentStatus::expired ||
                p.status == PaymentStatus::cancelled;
  bool open = !succeeded && !held && !failed;
  bool cancelled = open && returned == "cancelled";
  bool timeout = open && !cancelled && check >= cfg_.maxRefreshes;
  bool pending = open && !cancelled && !timeout;
  std::string outcome = succeeded   ? "succeeded"
                        : failed    ? "failed"
                        : held      ? "held"
                        : cancelled ? "cancelled"
                        : timeout   ? "timeout"
                                    : "pending";

  std::string back;
  try {
    Rows r = host_.db().query("SELECT return_url FROM flutterwave_checkouts WHERE payment_id = ?",
                              {p.id});
    if (!r.empty()) back = r.str(0, "return_url");
  } catch (const DbError& e) {
    host_.logger().warning("flutterwave",
                           p.id + ": could not read the return URL: " + std::string(e.what()));
  }
  if (back.empty()) back = cfg_.defaultReturnUrl;
  auto self = [&](int n) {
    std::vector<std::pair<std::string, std::string>> q{{"tx_ref", p.id}};
    if (!returned.empty() && returned.size() <= 20) q.emplace_back("status", returned);
    q.emplace_back("check", std::to_string(n));
    return appendQuery(kReturnPath, q);
  };
  const Brand& brand = host_.brand();

  Poco::JSON::Object data;
  data.set("status", status);
  data.set("outcome", outcome);
  data.set("tx_ref", p.id);
  data.set("final", isFinal(p.status) ? "true" : "false");
  data.set("target_origin", cfg_.postMessageOrigin);
  data.set("succeeded", succeeded);
  data.set("failed", failed);
  data.set("held", held);
  data.set("cancelled", cancelled);
  data.set("pending", pending);
  data.set("timeout", timeout);
  data.set("refresh_seconds", cfg_.refreshSeconds);
  data.set("check_again_url", self(0));
  // The stored reason is English: in the customer's language where the kernel's catalog knows
  // it (the bundled providers' reasons), else as the provider wrote it.
  data.set("reason",
           p.failureReason.empty() ? t("failed_reason") : pages.translate(lang, p.failureReason));
  data.set("status_label", t(succeeded   ? "label_paid"
                             : held      ? "label_held"
                             : failed    ? "label_failed"
                             : cancelled ? "label_cancelled"
                                         : "label_pending"));
  if (!brand.supportPhone.empty()) data.set("support_phone", brand.supportPhone);
  if (!brand.supportEmail.empty()) data.set("support_email", brand.supportEmail);
  data.set("amount", pages.money(lang, p.amountMinor, p.currency));
  data.set("currency", p.currency);
  if (!back.empty()) {
    data.set("continue_url", appendQuery(back, {{"payment_id", p.id}, {"status", status}}));
    data.set("continue_label", t(succeeded ? "continue" : "back_to_app"));
  }
  std::string title = t(succeeded   ? "paid_title"
                        : failed    ? "failed_title"
                        : held      ? "held_title"
                        : cancelled ? "cancelled_title"
                        : timeout   ? "timeout_title"
                                    : "pending_title");
  // While pending, reload (each load may verify again, at most once per check interval), a
  // bounded number of times: then the page says so and offers "Check again" and the way back.
  std::string head = pending ? "<meta http-equiv=\"refresh\" content=\"" +
                                   std::to_string(cfg_.refreshSeconds) +
                                   ";url=" + escapeAttribute(self(check + 1)) + "\">"
                             : "";
  Response r = Response::html(200, pages.renderIn(lang, title, kReturnTemplate, data, head));
  r.header("Cache-Control", "no-store");
  return r;
}

// --- Refunds ------------------------------------------------------------------------------
//
// Flutterwave v3 has no idempotency key for refunds, so refund() is idempotent by our own
// row: it is written ("sending") before the create call, and a second call for the same
// refund id never creates again while the first one's outcome is unknown. It looks the
// refund up instead: by Flutterwave's id when the create answered, otherwise in the refund
// list, where our refund id travels in `comments` (refundMarker). A refund the list does
// not show within refund_grace_seconds of the attempt was never made: failed.

namespace {
const int kMaxRefundListPages = 20;

std::string day(std::int64_t ms) {
  return Poco::DateTimeFormatter::format(Poco::Timestamp(ms * 1000), "%Y-%m-%d");
}

RefundStatus pendingRefund(const std::string& detail) {
  RefundStatus st;
  st.state = RefundStatus::State::pending;
  st.reason = "Waiting for Flutterwave to confirm the refund.";
  st.detail = detail;
  return st;
}

RefundStatus failedRefund(const std::string& reason, const std::string& detail) {
  RefundStatus st;
  st.state = RefundStatus::State::failed;
  st.reason = reason;
  st.detail = detail;
  return st;
}
}  // namespace

FlutterwaveProvider::RefundRow FlutterwaveProvider::refundRow(const std::string& refundId) {
  RefundRow row;
  Rows r = host_.db().query(
      "SELECT transaction_id, flw_refund_id, state, created_at FROM flutterwave_refunds WHERE "
      "refund_id = ?",
      {refundId});
  if (r.empty()) return row;
  row.exists = true;
  row.transactionId = r.str(0, "transaction_id");
  row.flwRefundId = r.str(0, "flw_refund_id");
  row.state = r.str(0, "state");
  row.createdAtMs = r.i64(0, "created_at");
  return row;
}

void FlutterwaveProvider::saveRefund(const std::string& refundId, const std::string& state,
                                     const std::string& flwRefundId) {
  try {
    host_.db().exec(
        "UPDATE flutterwave_refunds SET state = ?, flw_refund_id = CASE WHEN ? = '' THEN "
        "flw_refund_id ELSE ? END, updated_at = ? WHERE refund_id = ?",
        {state, flwRefundId, flwRefundId, host_.clock().nowMs(), refundId});
  } catch (const DbError& e) {
    // The list lookup still finds it by our marker.
    host_.logger().warning("flutterwave",
                           refundId + ": could not record the refund: " + std::string(e.what()));
  }
}

Result<RefundStatus> FlutterwaveProvider::fetchRefund(const Payment& p,
                                                      const std::string& flwRefundId) {
  if (!looksLikeTransactionId(flwRefundId))
    return Error::make(ErrorCode::notFound, "flutterwave: not a refund id: " + flwRefundId);
  auto r = call("GET", "/refunds/" + flwRefundId, "");
  if (!r.ok()) return r.error();
  if (r.value().status == 404)
    return Error::make(ErrorCode::notFound, "flutterwave: refund " + flwRefundId + " not found");
  return mapRefundResponse(r.value().status, r.value().body, p.currency);
}

Result<RefundLookup> FlutterwaveProvider::lookupRefund(const Payment& p,
                                                       const std::string& refundId,
                                                       const RefundRow& row) {
  std::int64_t since = (row.exists ? row.createdAtMs : p.createdAtMs) - 24LL * 3600 * 1000;
  std::string to = day(host_.clock().nowMs() + 24LL * 3600 * 1000);
  std::string txn = row.exists ? row.transactionId : p.providerTxnId;
  RefundLookup none;
  for (int page = 1; page <= kMaxRefundListPages; ++page) {
    auto r = call("GET",
                  appendQuery("/refunds", {{"from", day(since)},
                                           {"to", to},
                                           {"currency", p.currency},
                                           {"page", std::to_string(page)}}),
                  "");
    if (!r.ok()) return r.error();
    auto found = findRefundInList(r.value().status, r.value().body, txn, refundId, p.currency);
    if (!found.ok() || found.value().found) return found;
    if (page >= found.value().totalPages) break;
  }
  return none;
}

Result<RefundStatus> FlutterwaveProvider::postRefund(const Payment& p, const RefundRequest& req,
                                                     const std::string& txn) {
  auto r = call("POST", "/transactions/" + txn + "/refund", buildRefundRequest(req));
  if (!r.ok()) {
    // The outcome is unknown (the row stays "sending"): the next call looks it up.
    Error e = r.error();
    e.internal = "flutterwave refund " + req.refundId + ": " + e.internal;
    return e;
  }
  auto st = mapRefundResponse(r.value().status, r.value().body, p.currency);
  if (!st.ok()) return st;
  if (st.value().state == RefundStatus::State::failed && st.value().providerRefundId.empty())
    saveRefund(req.refundId, "refused", "");  // refused outright: nothing was refunded
  else
    saveRefund(req.refundId, "created", st.value().providerRefundId);
  return st;
}

Result<RefundStatus> FlutterwaveProvider::refund(const Payment& p, const RefundRequest& req) {
  try {
    if (req.refundId.empty() || req.refundId.size() > 100)
      return Error::make(ErrorCode::invalidInput, "flutterwave refund: bad refund id");
    if (req.amountMinor <= 0)
      return Error::make(ErrorCode::invalidInput, "flutterwave refund: amount must be positive");
    if (!looksLikeTransactionId(p.providerTxnId))
      return Error::make(ErrorCode::conflict,
                         "flutterwave refund: payment " + p.id + " has no Flutterwave transaction",
                         "This payment has no Flutterwave transaction to refund.");
    RefundRow row = refundRow(req.refundId);
    if (row.exists && !row.flwRefundId.empty()) {
      auto st = fetchRefund(p, row.flwRefundId);
      if (st.ok() || st.error().code != ErrorCode::notFound) return st;
    }
    if (row.exists && row.state != "refused") {
      // A call for this refund id already went out and its answer is unknown: never create
      // again; find it.
      auto found = lookupRefund(p, req.refundId, row);
      if (!found.ok()) return found.error();
      if (!found.value().found)
        return pendingRefund("refund " + req.refundId + " sent before, not in the list yet");
      saveRefund(req.refundId, "created", found.value().status.providerRefundId);
      return found.value().status;
    }
    std::int64_t now = host_.clock().nowMs();
    bool claimed = false;
    host_.db().write([&](Tx& tx) {
      if (row.exists) {
        claimed = tx.exec(
                      "UPDATE flutterwave_refunds SET state = 'sending', updated_at = ? WHERE "
                      "refund_id = ? AND state = 'refused'",
                      {now, req.refundId}) == 1;
      } else {
        claimed = tx.exec(
                      "INSERT INTO flutterwave_refunds (refund_id, payment_id, transaction_id, "
                      "state, created_at, updated_at) VALUES (?, ?, ?, 'sending', ?, ?) ON "
                      "CONFLICT DO NOTHING",
                      {req.refundId, p.id, p.providerTxnId, now, now}) == 1;
      }
    });
    // Another thread is sending this very refund right now.
    if (!claimed) return pendingRefund("refund " + req.refundId + " is being sent concurrently");
    return postRefund(p, req, p.providerTxnId);
  } catch (const DbError& e) {
    return Error::make(ErrorCode::unavailable,
                       "flutterwave refund: database: " + std::string(e.what()),
                       "The refund could not be started now.");
  }
}

Result<RefundStatus> FlutterwaveProvider::queryRefund(const Payment& p, const RefundRequest& req) {
  try {
    RefundRow row = refundRow(req.refundId);
    std::string flwId = !req.providerRefundId.empty() ? req.providerRefundId : row.flwRefundId;
    if (!flwId.empty()) {
      auto st = fetchRefund(p, flwId);
      if (st.ok() || st.error().code != ErrorCode::notFound) return st;
    }
    if (!row.exists)
      return failedRefund("The refund was never sent to Flutterwave.",
                          "no flutterwave_refunds row for " + req.refundId);
    if (row.state == "refused")
      return failedRefund("Flutterwave refused the refund.", "refused at create");
    auto found = lookupRefund(p, req.refundId, row);
    if (!found.ok()) return found.error();
    if (found.value().found) {
      saveRefund(req.refundId, "created", found.value().status.providerRefundId);
      return found.value().status;
    }
    if (host_.clock().nowMs() - row.createdAtMs > cfg_.refundGraceMs)
      return failedRefund("Flutterwave has no record of this refund.",
                          "not in the refund list " + std::to_string(cfg_.refundGraceMs / 1000) +
                              " s after the attempt");
    return pendingRefund("refund " + req.refundId + " not in the list yet");
  } catch (const DbError& e) {
    return Error::make(ErrorCode::unavailable,
                       "flutterwave query refund: database: " + std::string(e.what()),
                       "The refund could not be checked now.");
  }
}

void FlutterwaveProvider::simulator(Router& router) {
  SimulatorConfig sc;
  sc.secretKey = cfg_.secretKey;
  sc.secretHash = cfg_.secretHash;
  sc.webhookMode = cfg_.simWebhookMode;
  sc.webhookUrl = cfg_.simWebhookUrl;
  sc.slowAnswerMs = cfg_.timeoutMs + 500;
  sim_ = std::make_unique<Simulator>(host_, sc);
  sim_->mount(router);
}

// The sandbox driver: the simulator's customer pays the payment's open checkout (tx_ref is
// our payment id) and its webhook goes out as configured.
Result<SandboxResult> FlutterwaveProvider::sandboxPay(const Payment& payment,
                                                      const SandboxPayment& how) {
  if (!sim_) return PaymentProvider::sandboxPay(payment, how);
  return sim_->drive(payment.id, how);
}

Status FlutterwaveProvider::sandboxFault(const std::string& fault, int count) {
  if (!sim_) return PaymentProvider::sandboxFault(fault, count);
  return sim_->fault(fault, count);
}

}  // namespace malipo::flutterwave
