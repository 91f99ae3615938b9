#include "hubtel_provider.hpp"

#include <Poco/JSON/Parser.h>
#include <Poco/URI.h>

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "../sim/hubtel_sim.hpp"
#include "malipo/money.hpp"
#include "malipo/payments.hpp"

namespace malipo::hubtel {

namespace {

const char* kLog = "hubtel";
const std::int64_t kFulfilmentRetentionMs = 30LL * 24 * 3600 * 1000;
const char* kChannel = "ussd_menu";
// How old a menu a screen may show (HubtelProvider::menu).
const std::int64_t kMenuMaxAgeMs = 1000;
// The account the menu asks products about (balance entries, quantities): not a customer's.
const char* kProbeMsisdn = "233000000000";

// Operators label metrics; anything else (app, POS names) is folded so labels stay fixed.
std::string operatorLabel(const std::string& op) {
  for (const char* known : {"mtn", "vodafone", "tigo", "airtel", "airteltigo", "telecel"})
    if (op == known) return op;
  return "other";
}

std::string jsonText(const Poco::JSON::Object& o) {
  std::ostringstream os;
  o.stringify(os);
  return os.str();
}

std::string randomSecret() {
  return randomHex(64);
}

std::string trimSlash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

const Decl<Config>& Config::decl() {
  using C = Config;
  using T = Texts;
  static const auto d =
      Decl<C>("Hubtel programmable services: USSD menus (ussd_menu channel), GHS")
          .str("interaction_path", &C::interactionPath,
               "our route for Hubtel's service interaction and fulfilment URLs")
          .str("callback_url", &C::callbackUrl,
               "Hubtel's fulfilment callback endpoint. Empty: " +
                   std::string(kProductionCallbackUrl) + ", or the simulator's in sandbox")
          .str("status_base_url", &C::statusBaseUrl,
               "base of the transaction status check API. Empty: " +
                   std::string(kProductionStatusBaseUrl) + ", or the simulator's in sandbox")
          .str("pos_sales_id", &C::posSalesId,
               "POS Sales ID from the Hubtel merchant dashboard (required outside sandbox)")
          .str("api_id", &C::apiId, "API id for the status check's Basic authentication")
          .str("api_key", &C::apiKey, "API key for the status check's Basic authentication")
          .secret()
          .list("allowed_ips", &C::allowedIps, "addresses fulfilments are accepted from (Hubtel's)",
                schema::str("IPv4 or IPv6 address"))
          .str("ip_check", &C::ipCheckMode,
               "check fulfilments against allowed_ips: auto (on unless sandbox), on, off")
          .oneOf({"auto", "on", "off"})
          .list("interaction_allowed_ips", &C::interactionAllowedIps,
                "addresses USSD steps (interaction requests) are accepted from. Empty: allowed_ips",
                schema::str("IPv4 or IPv6 address"))
          .str("interaction_ip_check", &C::interactionIpCheckMode,
               "check USSD steps against interaction_allowed_ips: auto (on unless sandbox), on, "
               "off. "
               "Off outside sandbox hides balance entries (the Mobile is unproven)")
          .oneOf({"auto", "on", "off"})
          .str(
              "client_state_secret", &C::clientStateSecret,
              "HMAC key that tamper-proofs ClientState; the same on every process. Outside sandbox "
              "required: at least 32 random bytes. Empty in sandbox: random per process")
          .strongSecret()
          .integer("max_quantity", &C::maxQuantity,
                   "largest quantity a customer may buy at once (1: no quantity step)")
          .range(1, 1000)
          .list(
              "quantity_fields", &C::quantityFields,
              "integer fields of a product's sale metadata multiplied by the quantity; items whose "
              "metadata has none are sold one at a time",
              schema::str("metadata key"))
          .integer("menu_page_size", &C::pageSize,
                   "entries per main-menu page (\"99. More\" shows the next)")
          .range(1, 20)
          .boolean("balance_entries", &C::balanceEntries,
                   "offer \"Check my balance\" for products that answer account summaries")
          .integer("status_check_after_seconds", &C::statusCheckAfterMs,
                   "ask the status API when no fulfilment came this long after AddToCart")
          .unit(1000)
          .range(1, 86400)
          .integer("status_check_interval_seconds", &C::statusCheckIntervalMs,
                   "then ask again this often while Unpaid")
          .unit(1000)
          .range(1, 86400)
          .integer("payment_expiry_minutes", &C::paymentExpiryMs,
                   "an unpaid USSD payment expires after this long")
          .unit(60000)
          .range(1, 10080)
          .integer("callback_window_seconds", &C::callbackWindowMs,
                   "keep retrying the fulfilment callback this long (Hubtel: one hour)")
          .unit(1000)
          .range(1, 86400)
          .integer("callback_retry_base_ms", &C::callbackRetryBaseMs,
                   "first callback retry delay; doubles up to 5 minutes")
          .range(10, 600000)
          .integer("session_ttl_hours", &C::sessionTtlMs, "sessions older than this are deleted")
          .unit(3600000)
          .range(1, 8760)
          .integer("timeout_ms", &C::timeoutMs,
                   "timeout of each call to Hubtel (status check, callback)")
          .range(500, 120000)
          .str("rate_limit_bucket", &C::rateLimitBucket,
               "server rate-limit bucket for the interaction route (Hubtel calls from few "
               "addresses)")
          .str("language", &C::language,
               "language of the USSD texts left at their defaults: en, sw or fr (empty: the "
               "kernel's pages.default_language); from messages/<lang>.json")
          .boolean("language_choice", &C::languageChoice,
                   "main menu entry 98 lets the customer switch to English, Kiswahili or "
                   "Français for the session")
          .object("texts", &C::texts,
                  "what the customer reads; {placeholders}: name, price, currency, qty, total, "
                  "max, product",
                  [](Decl<T>& t) {
                    t.str("title", &T::title, "first line of the main menu")
                        .str("main_label", &T::mainLabel, "Label of the main menu")
                        .str("item_format", &T::itemFormat, "one item's entry")
                        .str("balance_entry", &T::balanceEntry, "the balance entry")
                        .str("balance_entry_product", &T::balanceEntryProduct,
                             "the balance entry when several products answer")
                        .str("exit_entry", &T::exitEntry, "the 0 entry")
                        .str("more_entry", &T::moreEntry, "the 99 entry (next page)")
                        .str("quantity_prompt", &T::quantityPrompt, "the quantity question")
                        .str("quantity_label", &T::quantityLabel, "its Label")
                        .str("confirm_prompt", &T::confirmPrompt,
                             "the confirmation (1 confirms, 2 cancels)")
                        .str("confirm_label", &T::confirmLabel, "its Label")
                        .str("checkout_message", &T::checkoutMessage, "the AddToCart message")
                        .str("checkout_label", &T::checkoutLabel, "its Label")
                        .str("balance_label", &T::balanceLabel, "Label of the balance answer")
                        .str("goodbye", &T::goodbye, "after 0 (Exit) or a timeout")
                        .str("cancelled", &T::cancelled, "after 2 at the confirmation")
                        .str("invalid_choice", &T::invalidChoice, "above a repeated menu")
                        .str("invalid_quantity", &T::invalidQuantity,
                             "above a repeated quantity question")
                        .str("no_items", &T::noItems, "main menu with nothing on sale")
                        .str("item_gone", &T::itemGone, "the chosen item is no longer sold")
                        .str("balance_unavailable", &T::balanceUnavailable,
                             "the product could not answer")
                        .str("unsupported", &T::unsupported,
                             "release for a request Type other than Initiation, Response, Timeout "
                             "(Query, Favorite, …)")
                        .str("language_entry", &T::languageEntry,
                             "main menu entry 98: the other languages, each in its own words")
                        .str("language_prompt", &T::languagePrompt,
                             "first line of the language screen")
                        .str("language_label", &T::languageLabel, "Label of the language screen");
                  })
          .section("simulator", "sandbox only: the built-in Hubtel simulator", [](Decl<C>& m) {
            m.list("status_allowed_ips", &C::simStatusAllowedIps,
                   "callers its status API accepts (others get 403)", schema::str("address"))
                .str("operator", &C::simOperator, "Operator its phone reports")
                .str("service_code", &C::simServiceCode, "the code its phone dials")
                .str("fee_bearer", &C::simFeeBearer,
                     "who pays Hubtel's fee by default: merchant (the customer pays the "
                     "items) or customer (the fee is added to what the customer pays)")
                .oneOf({"merchant", "customer"});
          });
  return d;
}

Config Config::fromSettings(const Settings& s, bool sandbox) {
  Config c = decl().load(s);
  c.sandbox = sandbox;
  c.statusBaseUrl = trimSlash(c.statusBaseUrl);
  if (sandbox && c.posSalesId.empty()) c.posSalesId = kSandboxPosSalesId;
  if (sandbox && c.apiId.empty()) c.apiId = kSandboxApiId;
  if (sandbox && c.apiKey.empty()) c.apiKey = kSandboxApiKey;
  c.ipCheck = c.ipCheckMode == "on" || (c.ipCheckMode == "auto" && !sandbox);
  if (c.interactionAllowedIps.empty()) c.interactionAllowedIps = c.allowedIps;
  c.interactionIpCheck =
      c.interactionIpCheckMode == "on" || (c.interactionIpCheckMode == "auto" && !sandbox);
  return c;
}

HubtelProvider::HubtelProvider(Host& host)
    : host_(host),
      cfg_(Config::fromSettings(host.settings(), host.sandbox())),
      codec_(cfg_.clientStateSecret.empty() ? randomSecret() : cfg_.clientStateSecret),
      sessions_(host.db()) {}

HubtelProvider::~HubtelProvider() = default;

std::vector<Migration> HubtelProvider::migrations() const {
  // One list for the provider and its simulator (versions are per plugin). The simulator's
  // tables exist outside sandbox too, empty, so turning sandbox on needs no special path.
  Migration m;
  m.version = 1;
  m.description = "hubtel USSD sessions, fulfilments, simulator state";
  m.sqlite =
      "CREATE TABLE hubtel_sessions (session_id TEXT PRIMARY KEY, mobile TEXT NOT NULL, operator "
      "TEXT NOT NULL DEFAULT '', "
      "platform TEXT NOT NULL DEFAULT '', state TEXT NOT NULL, status TEXT NOT NULL, product TEXT, "
      "item_id TEXT, item_name TEXT, "
      "qty BIGINT, unit_minor BIGINT, amount_minor BIGINT, currency TEXT, payment_id TEXT, outcome "
      "TEXT, "
      "created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, checkout_at BIGINT, closed_at "
      "BIGINT);"
      "CREATE INDEX hubtel_sessions_created ON hubtel_sessions (created_at);"
      "CREATE INDEX hubtel_sessions_payment ON hubtel_sessions (payment_id);"
      "CREATE TABLE hubtel_fulfilments (order_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, "
      "payment_id TEXT, "
      "status TEXT NOT NULL, successful BIGINT NOT NULL, amount_minor BIGINT NOT NULL, currency "
      "TEXT NOT NULL, "
      "qty BIGINT NOT NULL, unit_minor BIGINT NOT NULL, callback_status TEXT NOT NULL, "
      "service_status TEXT, "
      "callback_attempts BIGINT NOT NULL DEFAULT 0, callback_at BIGINT, received_at BIGINT NOT "
      "NULL);"
      "CREATE INDEX hubtel_fulfilments_payment ON hubtel_fulfilments (payment_id);"
      "CREATE INDEX hubtel_fulfilments_received ON hubtel_fulfilments (received_at);"
      "CREATE TABLE hubtel_sim_sessions (session_id TEXT PRIMARY KEY, mobile TEXT NOT NULL, "
      "service_code TEXT NOT NULL, "
      "operator TEXT NOT NULL, sequence BIGINT NOT NULL, client_state TEXT NOT NULL DEFAULT '', "
      "status TEXT NOT NULL, "
      "last_type TEXT NOT NULL DEFAULT '', last_message TEXT NOT NULL DEFAULT '', item_name TEXT, "
      "qty BIGINT, price TEXT, "
      "created_at BIGINT NOT NULL);"
      "CREATE INDEX hubtel_sim_sessions_created ON hubtel_sim_sessions (created_at);"
      "CREATE TABLE hubtel_sim_transactions (session_id TEXT PRIMARY KEY, order_id TEXT NOT NULL, "
      "transaction_id TEXT NOT NULL, "
      "status TEXT NOT NULL, amount TEXT NOT NULL, charges TEXT NOT NULL, created_at BIGINT NOT "
      "NULL);"
      "CREATE TABLE hubtel_sim_callbacks (id TEXT PRIMARY KEY, session_id TEXT NOT NULL, order_id "
      "TEXT NOT NULL, "
      "service_status TEXT NOT NULL, body TEXT NOT NULL, answered BIGINT NOT NULL, received_at "
      "BIGINT NOT NULL);"
      "CREATE INDEX hubtel_sim_callbacks_session ON hubtel_sim_callbacks (session_id, received_at);"
      "CREATE TABLE hubtel_sim_script (name TEXT PRIMARY KEY, value BIGINT NOT NULL)";
  // Version 2: every settlement is checked with Hubtel's status API by SessionId, so a
  // SessionId pays for one payment, ever (hubtel_payment_refs outlives the purged sessions);
  // fulfilments keep the items' value and the net; the simulator knows who bears the fee.
  Migration m2;
  m2.version = 2;
  m2.description =
      "hubtel: one payment per SessionId, fulfilment goods and net, simulator fee bearer";
  m2.sqlite =
      "CREATE TABLE hubtel_payment_refs (session_id TEXT PRIMARY KEY, payment_id TEXT NOT NULL, "
      "created_at BIGINT NOT NULL);"
      "INSERT INTO hubtel_payment_refs (session_id, payment_id, created_at) "
      "SELECT order_ref, MIN(id), MIN(created_at) FROM payments WHERE provider = 'hubtel' GROUP BY "
      "order_ref;"
      "ALTER TABLE hubtel_fulfilments ADD COLUMN items_minor BIGINT;"
      "ALTER TABLE hubtel_fulfilments ADD COLUMN net_minor BIGINT;"
      "ALTER TABLE hubtel_sim_transactions ADD COLUMN fee_bearer TEXT NOT NULL DEFAULT 'merchant'";
  return {m, m2};
}

void HubtelProvider::start() {
  // The menu in the configured language (texts an operator set stay as set).
  const std::string lang =
      cfg_.language.empty() ? host_.pages().language(Request{}) : cfg_.language;
  if (cfg_.languageChoice) languages_ = menuLanguages(cfg_.texts, host_.pages());
  cfg_.texts = localized(cfg_.texts, host_.pages(), lang);
  if (cfg_.interactionPath.empty() || cfg_.interactionPath[0] != '/')
    throw std::runtime_error("interaction_path must start with '/'");
  for (const auto& url : {cfg_.callbackUrl, cfg_.statusBaseUrl})
    if (!url.empty() && url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0)
      throw std::runtime_error("'" + url + "' is not an http(s) URL");
  if (!cfg_.sandbox) {
    if (cfg_.posSalesId.empty())
      throw std::runtime_error(
          "pos_sales_id is required when sandbox is off (the status check needs it)");
    if (cfg_.apiId.empty() || cfg_.apiKey.empty())
      host_.logger().warning(
          kLog,
          "api_id / api_key are empty: the status check is sent without Basic authentication");
    // client_state_secret is a strongSecret(): the kernel refused to start without a good one.
    if (cfg_.ipCheck && cfg_.allowedIps.empty())
      throw std::runtime_error("allowed_ips is empty: no fulfilment could be accepted");
    if (cfg_.interactionIpCheck && cfg_.interactionAllowedIps.empty())
      throw std::runtime_error(
          "interaction_allowed_ips and allowed_ips are empty: no USSD request could be accepted");
    if (!cfg_.interactionIpCheck)
      host_.logger().warning(
          kLog,
          "interaction_ip_check is off: anyone can send USSD steps with any Mobile, so balance "
          "entries are hidden");
  }

  Metrics& m = host_.metrics();
  m.describe("malipo_hubtel_sessions_started_total", "USSD sessions started (Initiation)",
             "counter");
  m.describe("malipo_hubtel_checkouts_total",
             "sessions that reached AddToCart (conversion = checkouts / sessions started)",
             "counter");
  m.describe("malipo_hubtel_payments_total", "USSD payments by final outcome", "counter");
  m.describe("malipo_hubtel_errors_total", "USSD and fulfilment errors by type", "counter");
  m.describe("malipo_hubtel_fulfilments_total", "fulfilment requests by result", "counter");
  m.describe("malipo_hubtel_callbacks_total", "fulfilment callbacks by result", "counter");
  m.describe("malipo_hubtel_session_seconds_total",
             "summed duration of ended sessions (average = this / sessions_ended)", "counter");
  m.describe("malipo_hubtel_sessions_ended_total", "sessions ended (release, timeout or checkout)",
             "counter");
  m.describe("malipo_hubtel_conversion_ratio", "checkouts / sessions started over the last 24 h",
             "gauge");
  m.describe("malipo_hubtel_payment_success_ratio",
             "paid / decided USSD payments over the last 24 h", "gauge");
  m.describe("malipo_hubtel_session_duration_avg_seconds",
             "average session duration over the last 24 h", "gauge");

  // Long windows are ours to enforce (deadlines below), so attempts are not the limit.
  host_.jobs().handle("hubtel.fulfil", [this](const Job& j) { return runFulfil(j); },
                      {100000, 60000, 1000, 300000});
  host_.jobs().handle("hubtel.status_check", [this](const Job& j) { return runStatusCheck(j); },
                      {100000, 60000, 5000, 300000});
  host_.jobs().handle("hubtel.purge", [this](const Job&) {
    runPurge();
    return JobOutcome::ok();
  });
  host_.jobs().handle("hubtel.stats", [this](const Job&) {
    runStats();
    return JobOutcome::ok();
  });
  host_.jobs().every("hubtel.purge", 3600000);
  host_.jobs().every("hubtel.stats", 60000);
}

void HubtelProvider::stop() {
  if (sim_) sim_->stop();
}

std::string HubtelProvider::callbackUrl() const {
  if (!cfg_.callbackUrl.empty()) return cfg_.callbackUrl;
  // publicUrl() is final only once the server bound its port: read it per call.
  return cfg_.sandbox ? host_.publicUrl() + "/sandbox/hubtel/callback" : kProductionCallbackUrl;
}

std::string HubtelProvider::statusBaseUrl() const {
  if (!cfg_.statusBaseUrl.empty()) return cfg_.statusBaseUrl;
  return cfg_.sandbox ? host_.publicUrl() + "/sandbox/hubtel" : kProductionStatusBaseUrl;
}

void HubtelProvider::error(const std::string& type) {
  host_.metrics().increment("malipo_hubtel_errors_total", {{"type", type}});
}

// ---------------------------------------------------------------------------------------
// The interaction / fulfilment route

void HubtelProvider::routes(Router& router) {
  RouteOptions o;
  o.rateLimit = cfg_.rateLimitBucket;
  o.name = cfg_.interactionPath;
  o.maxBodyBytes = 64 * 1024;  // a USSD step or a fulfilment is a few hundred bytes
  router.add(
      "POST", cfg_.interactionPath, [this](const Request& req) { return handle(req); }, o);
}

bool HubtelProvider::allowedAddress(const Request& req, const std::vector<std::string>& allowed) {
  // A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d.
  std::string ip = req.clientIp.rfind("::ffff:", 0) == 0 ? req.clientIp.substr(7) : req.clientIp;
  return std::find(allowed.begin(), allowed.end(), ip) != allowed.end();
}

Response HubtelProvider::handle(const Request& req) {
  auto body = parseJsonObject(req.body);
  // Interaction requests carry the customer's Mobile and nothing that proves it: only
  // Hubtel's addresses may send them (a fulfilment has its own list, checked in fulfil()).
  if ((!body || !body->has("OrderId")) && cfg_.interactionIpCheck &&
      !allowedAddress(req, cfg_.interactionAllowedIps)) {
    error("forbidden_ip");
    host_.logger().warning(
        kLog, "ussd <- from " + req.clientIp + " refused: not in interaction_allowed_ips");
    Poco::JSON::Object o;
    o.set("success", false);
    o.set("message", "Forbidden");
    return Response::json(403, o);
  }
  if (!body) {
    error("invalid_json");
    host_.logger().warning(kLog,
                           "ussd <- invalid JSON (" + std::to_string(req.body.size()) + " bytes)");
    Reply r = Reply::release("", kUnavailable);
    host_.logger().info(kLog, "ussd -> release \"" + r.message + "\"");
    return Response::text(200, r.toJson(), "application/json");
  }
  if (body->has("OrderId")) return fulfil(req);

  Interaction in = parseInteraction(*body);
  std::string msisdn = normaliseMsisdn(in.mobile);
  host_.logger().info(kLog, "ussd <- " + in.type + " session " + in.sessionId + " mobile " +
                                maskMsisdn(msisdn.empty() ? in.mobile : msisdn) + " seq " +
                                std::to_string(in.sequence) + " operator " + in.operatorName +
                                " input \"" + oneLine(in.message, 40) + "\"");
  Reply reply;
  try {
    reply = interact(in, msisdn);
  } catch (const std::exception& e) {
    // A database failure must still answer Hubtel inside its deadline, in its shape.
    error("internal");
    host_.logger().error(kLog, "ussd session " + in.sessionId + ": " + e.what());
    reply = Reply::release(in.sessionId, kUnavailable);
  }
  host_.logger().info(
      kLog,
      "ussd -> " + reply.type + " session " + reply.sessionId + " label \"" + reply.label +
          "\" message \"" + oneLine(reply.message) + "\"" +
          (reply.hasItem ? " item " + reply.itemName + " x" + std::to_string(reply.qty) : ""));
  return Response::text(200, reply.toJson(), "application/json");
}

Reply HubtelProvider::interact(const Interaction& in, const std::string& msisdn) {
  bool known = in.type == "initiation" || in.type == "response" || in.type == "timeout" ||
               in.type == "release";
  if (!known) {
    // Query, Favorite, AddToCart … (the Hubtel app's requests): this service answers the USSD
    // steps only, so a polite release rather than "Invalid request".
    error("unknown_type");
    return Reply::release(in.sessionId, cfg_.texts.unsupported);
  }
  if (in.sessionId.empty() || in.mobile.empty() || in.sessionId.size() > 200) {
    error("missing_fields");
    return Reply::release(in.sessionId, kInvalidRequest);
  }
  if (msisdn.empty()) {
    error("invalid_mobile");
    return Reply::release(in.sessionId, kInvalidRequest);
  }
  if (in.type == "initiation") return start(in, msisdn);
  if (in.type == "response") return proceed(in, msisdn);
  return end(in);  // timeout or release
}

Reply HubtelProvider::withState(Reply reply, const std::string& sessionId,
                                const std::string& step) {
  reply.sessionId = sessionId;
  if (reply.type == "response")
    reply.clientState = codec_.encode(sessionId, step, host_.clock().nowMs());
  return reply;
}

Reply HubtelProvider::start(const Interaction& in, const std::string& msisdn) {
  std::int64_t now = host_.clock().nowMs();
  Outcome o = mainMenu(*menu(), 0);
  std::string step = encodeStep(o.next);
  bool fresh = false, reopened = false;
  sessions_.commit([&](Tx& tx) {
    fresh = reopened = false;  // may run again: outputs are reset, never accumulated
    // A SessionId that already paid for something is spent, even after its row was purged.
    if (!tx.query("SELECT session_id FROM hubtel_payment_refs WHERE session_id = ?", {in.sessionId})
             .empty())
      return;
    fresh = tx.exec(
                "INSERT INTO hubtel_sessions (session_id, mobile, operator, platform, state, "
                "status, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, 'open', ?, ?) ON CONFLICT DO NOTHING",
                {in.sessionId, msisdn, in.operatorName, in.platform, step, now, now}) == 1;
    // Hubtel repeating an Initiation shows the main menu again; a session already past
    // checkout (or closed) is not reopened.
    if (!fresh)
      reopened = tx.exec(
                     "UPDATE hubtel_sessions SET state = ?, updated_at = ? WHERE session_id = ? "
                     "AND status = 'open'",
                     {step, now, in.sessionId}) == 1;
  });
  if (!fresh && !reopened) {
    error("unknown_session");
    return Reply::release(in.sessionId, kSessionExpired);
  }
  if (fresh)
    host_.metrics().increment("malipo_hubtel_sessions_started_total",
                              {{"operator", operatorLabel(in.operatorName)}});
  return withState(o.reply, in.sessionId, step);
}

Reply HubtelProvider::proceed(const Interaction& in, const std::string& msisdn) {
  std::int64_t now = host_.clock().nowMs();
  std::optional<std::string> fromClient =
      codec_.decode(in.sessionId, in.clientState, now, cfg_.sessionTtlMs);
  std::optional<Step> signedStep = fromClient ? decodeStep(*fromClient) : std::nullopt;
  if (signedStep) {
    // The common case, without reading the session first: the signed step routes, and one
    // conditional write both proves the session is still open and stores the new step.
    Outcome o = advance(*menu(), *signedStep, in.message);
    if (o.kind == Outcome::Kind::show || o.kind == Outcome::Kind::release) {
      bool closes = o.kind == Outcome::Kind::release;
      std::string step = encodeStep(closes ? *signedStep : o.next);
      if (storeIfOpen(in.sessionId, step, closes, now)) {
        if (o.invalidInput) error("invalid_input");
        return withState(o.reply, in.sessionId, closes ? "" : step);
      }
    }
  }
  // Everything else (no or bad ClientState, a lost, closed or expired row, a repeated
  // checkout, balance and checkout effects) goes by the stored session.
  return proceedFromRow(in, msisdn, fromClient);
}

bool HubtelProvider::storeIfOpen(const std::string& sessionId, const std::string& step, bool closes,
                                 std::int64_t now) {
  Rows r;
  sessions_.commit([&](Tx& tx) {
    r = closes ? tx.query(
                     "UPDATE hubtel_sessions SET state = ?, updated_at = ?, status = 'closed', "
                     "closed_at = ? "
                     "WHERE session_id = ? AND status = 'open' AND created_at >= ? RETURNING "
                     "created_at",
                     {step, now, now, sessionId, now - cfg_.sessionTtlMs})
               : tx.query(
                     "UPDATE hubtel_sessions SET state = ?, updated_at = ? "
                     "WHERE session_id = ? AND status = 'open' AND created_at >= ? RETURNING "
                     "created_at",
                     {step, now, sessionId, now - cfg_.sessionTtlMs});
  });
  if (r.empty()) return false;
  if (closes) {
    host_.metrics().increment("malipo_hubtel_sessions_ended_total");
    host_.metrics().increment("malipo_hubtel_session_seconds_total", {},
                              static_cast<double>(now - r.i64(0, "created_at")) / 1000.0);
  }
  return true;
}

Reply HubtelProvider::proceedFromRow(const Interaction& in, const std::string& msisdn,
                                     const std::optional<std::string>& fromClient) {
  std::int64_t now = host_.clock().nowMs();
  Rows row = host_.db().query(
      "SELECT status, state, created_at, payment_id, item_name, qty, unit_minor FROM "
      "hubtel_sessions "
      "WHERE session_id = ?",
      {in.sessionId});
  if (!row.empty() && row.str(0, "status") == "checkout" && !row.isNull(0, "payment_id")) {
    // Hubtel repeating the confirming request: the same checkout again, no second payment.
    auto stored = decodeStep(row.str(0, "state"));
    Reply r = addToCart(textsFor(stored ? stored->lang : ""), row.str(0, "item_name"),
                        row.i64(0, "qty"), row.i64(0, "unit_minor"));
    r.sessionId = in.sessionId;
    return r;
  }
  if (!row.empty() &&
      (row.str(0, "status") != "open" || row.i64(0, "created_at") < now - cfg_.sessionTtlMs)) {
    error("unknown_session");
    return Reply::release(in.sessionId, kSessionExpired);
  }
  if (!fromClient && !in.clientState.empty()) {
    // Forged, from another session, or stale: the session row (if any) decides instead.
    error("bad_client_state");
    host_.logger().warning(
        kLog, "session " + in.sessionId + ": ClientState failed its check; using the stored step");
  }
  // ClientState routes the step (the seed's design: it survives a lost session row); the
  // stored step is the backup when Hubtel sends none or it fails the check.
  std::optional<Step> at;
  if (fromClient) at = decodeStep(*fromClient);
  if (!at && !row.empty()) at = decodeStep(row.str(0, "state"));
  if (!at) {
    error("unknown_session");
    return Reply::release(in.sessionId, kSessionExpired);
  }
  Outcome o = advance(*menu(true), *at, in.message);
  if (o.invalidInput) error("invalid_input");
  switch (o.kind) {
    case Outcome::Kind::show: {
      std::string step = encodeStep(o.next);
      saveStep(in, msisdn, step, false);
      return withState(o.reply, in.sessionId, step);
    }
    case Outcome::Kind::release:
      saveStep(in, msisdn, encodeStep(*at), true);
      return withState(o.reply, in.sessionId, "");
    case Outcome::Kind::balance:
      return showBalance(in, msisdn, o.product, o.next.lang);
    case Outcome::Kind::checkout:
      return checkout(in, msisdn, o);
  }
  return Reply::release(in.sessionId, kUnavailable);
}

void HubtelProvider::saveStep(const Interaction& in, const std::string& msisdn,
                              const std::string& step, bool closes) {
  std::int64_t now = host_.clock().nowMs();
  std::int64_t createdAt = now;
  bool closed = false;
  sessions_.commit([&](Tx& tx) {
    closed = false;
    // Upsert: a session continued from its ClientState alone gets its row back.
    tx.exec(
        "INSERT INTO hubtel_sessions (session_id, mobile, operator, platform, state, status, "
        "created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, 'open', ?, ?) ON CONFLICT (session_id) DO UPDATE SET state = "
        "excluded.state, "
        "updated_at = excluded.updated_at",
        {in.sessionId, msisdn, in.operatorName, in.platform, step, now, now});
    if (closes) {
      Rows r = tx.query(
          "SELECT created_at FROM hubtel_sessions WHERE session_id = ? AND status = 'open'",
          {in.sessionId});
      if (!r.empty()) createdAt = r.i64(0, "created_at");
      closed = tx.exec(
                   "UPDATE hubtel_sessions SET status = 'closed', closed_at = ? WHERE session_id = "
                   "? AND status = 'open'",
                   {now, in.sessionId}) == 1;
    }
  });
  if (closed) {
    host_.metrics().increment("malipo_hubtel_sessions_ended_total");
    host_.metrics().increment("malipo_hubtel_session_seconds_total", {},
                              static_cast<double>(now - createdAt) / 1000.0);
  }
}

Reply HubtelProvider::end(const Interaction& in) {
  std::int64_t now = host_.clock().nowMs();
  std::int64_t createdAt = now;
  bool closed = false;
  sessions_.commit([&](Tx& tx) {
    closed = false;
    // Only an open session closes: one that reached checkout waits for its fulfilment.
    Rows r =
        tx.query("SELECT created_at FROM hubtel_sessions WHERE session_id = ? AND status = 'open'",
                 {in.sessionId});
    if (r.empty()) return;
    createdAt = r.i64(0, "created_at");
    closed = tx.exec(
                 "UPDATE hubtel_sessions SET status = 'closed', closed_at = ?, updated_at = ? "
                 "WHERE session_id = ? AND status = 'open'",
                 {now, now, in.sessionId}) == 1;
  });
  if (closed) {
    host_.metrics().increment("malipo_hubtel_sessions_ended_total");
    host_.metrics().increment("malipo_hubtel_session_seconds_total", {},
                              static_cast<double>(now - createdAt) / 1000.0);
  }
  if (in.type == "timeout") host_.metrics().increment("malipo_hubtel_timeouts_total");
  // Hubtel ignores the reply to a Timeout; a release is the polite answer either way.
  return Reply::release(in.sessionId, cfg_.texts.goodbye);
}

const Texts& HubtelProvider::textsFor(const std::string& lang) const {
  for (const auto& l : languages_)
    if (!lang.empty() && l.code == lang) return l.texts;
  return cfg_.texts;
}

Reply HubtelProvider::showBalance(const Interaction& in, const std::string& msisdn,
                                  const std::string& product, const std::string& lang) {
  const Texts& t = textsFor(lang);
  if (!showsAccountData())
    return Reply::release(in.sessionId, t.balanceUnavailable, t.balanceLabel);
  auto summary = host_.payments().accountSummary(product, "msisdn:" + msisdn);
  std::string text = t.balanceUnavailable;
  if (summary.ok()) {
    text = summary.value();
  } else {
    error("balance_unavailable");
    host_.logger().warning(kLog, "balance of " + product + " for session " + in.sessionId + ": " +
                                     summary.error().internal);
  }
  auto at = Step{};
  saveStep(in, msisdn, encodeStep(at), true);
  return Reply::release(in.sessionId, text, t.balanceLabel);
}

// ---------------------------------------------------------------------------------------
// Menus from catalogs

std::shared_ptr<const Menu> HubtelProvider::menu(bool fresh) {
  const std::int64_t now = host_.clock().nowMs();
  if (!fresh) {
    std::lock_guard<std::mutex> lock(menuMutex_);
    if (menu_ && now - menuBuiltAtMs_ >= 0 && now - menuBuiltAtMs_ < kMenuMaxAgeMs) return menu_;
  }
  auto menu = std::make_shared<Menu>();
  menu->texts = cfg_.texts;
  menu->languages = languages_;
  menu->maxQuantity = cfg_.maxQuantity;
  menu->pageSize = cfg_.pageSize;
  for (auto& ci : host_.payments().catalog(kChannel))
    // Hubtel collects cedis only: an item priced in anything else cannot be sold here.
    if (ci.item.currency == kCurrency && ci.item.amountMinor > 0 && !ci.item.id.empty() &&
        ci.item.id.find('|') == std::string::npos && ci.product.find('|') == std::string::npos)
      menu->items.push_back(std::move(ci));
  if (cfg_.balanceEntries && showsAccountData())
    menu->balanceProducts = balanceProducts(menu->items);
  menu->sellsQuantity = [this](const ChannelItem& ci) { return sellsQuantity(ci); };
  std::lock_guard<std::mutex> lock(menuMutex_);
  menu_ = menu;
  menuBuiltAtMs_ = now;
  return menu;
}

std::vector<std::string> HubtelProvider::balanceProducts(const std::vector<ChannelItem>& items) {
  std::vector<std::string> out;
  for (const auto& ci : items) {
    if (std::find(out.begin(), out.end(), ci.product) != out.end()) continue;
    bool answers;
    {
      std::lock_guard<std::mutex> lock(balanceMutex_);
      auto it = answersBalance_.find(ci.product);
      if (it != answersBalance_.end()) {
        answers = it->second;
      } else {
        // Asked once per product and process: the Product default answers not_found, so
        // a product that never implemented accountSummary gets no balance entry.
        auto r = host_.payments().accountSummary(ci.product, std::string("msisdn:") + kProbeMsisdn);
        answers = r.ok() || r.error().code != ErrorCode::notFound;
        answersBalance_[ci.product] = answers;
      }
    }
    if (answers) out.push_back(ci.product);
  }
  return out;
}

bool HubtelProvider::sellsQuantity(const ChannelItem& ci) {
  // An item is sold by quantity only when its product's sale metadata carries a field we
  // know how to multiply (e.g. credits): otherwise Qty > 1 would charge for more than the
  // product delivers. saleMetadata checks the customer's own metadata again at checkout.
  const std::string key = ci.product + "|" + ci.item.id;  // neither holds '|' (menu())
  {
    std::lock_guard<std::mutex> lock(balanceMutex_);
    auto it = sellsQuantity_.find(key);
    if (it != sellsQuantity_.end()) return it->second;
  }
  Customer c;
  c.accountId = std::string("msisdn:") + kProbeMsisdn;
  c.phone = kProbeMsisdn;
  auto meta = host_.payments().prepareChannelSale(ci.product, ci.item, c);
  if (!meta.ok()) return false;  // not remembered: the next screen asks again
  auto o = parseJsonObject(meta.value());
  bool byQuantity = false;
  if (o)
    for (const auto& f : cfg_.quantityFields)
      if (o->has(f) && !o->isNull(f) && o->get(f).isInteger()) byQuantity = true;
  std::lock_guard<std::mutex> lock(balanceMutex_);
  sellsQuantity_[key] = byQuantity;
  return byQuantity;
}

Result<std::string> HubtelProvider::saleMetadata(const ChannelItem& ci, std::int64_t qty,
                                                 const std::string& msisdn,
                                                 const std::string& sessionId) {
  Customer c;
  c.accountId = "msisdn:" + msisdn;
  c.phone = msisdn;
  auto meta = host_.payments().prepareChannelSale(ci.product, ci.item, c);
  if (!meta.ok()) return meta.error();
  auto o = parseJsonObject(meta.value());
  if (!o)
    return Error::make(ErrorCode::internal,
                       ci.product + ".prepareChannelSale returned no JSON object", kUnavailable);
  bool scaled = false;
  for (const auto& f : cfg_.quantityFields) {
    if (o->has(f) && !o->isNull(f) && o->get(f).isInteger()) {
      o->set(f, o->getValue<Poco::Int64>(f) * qty);
      scaled = true;
    }
  }
  if (qty > 1 && !scaled)
    return Error::make(ErrorCode::invalidInput, ci.product + " metadata has no quantity field",
                       kUnavailable);
  o->set("quantity", qty);
  o->set("unit_price_minor", ci.item.amountMinor);
  o->set("item_id", ci.item.id);
  o->set("item_name", ci.item.name);
  o->set("channel", kChannel);
  o->set("ussd_session_id",
         sessionId);  // initiate() accepts only payments that carry their session
  return jsonText(*o);
}

// ---------------------------------------------------------------------------------------
// Checkout

Reply HubtelProvider::checkout(const Interaction& in, const std::string& msisdn, const Outcome& o) {
  const ChannelItem& ci = o.item;
  auto fail = [&](const std::string& why) {
    error("checkout_failed");
    host_.logger().error(kLog, "session " + in.sessionId + ": checkout failed: " + why);
    storeIfOpen(in.sessionId, encodeStep(Step{}), true, host_.clock().nowMs());
    return Reply::release(in.sessionId, kUnavailable);
  };
  // A concurrent copy of this confirmation that claimed the session first: the same checkout.
  auto sameCheckout = [&]() -> std::optional<Reply> {
    Rows row = host_.db().query(
        "SELECT status, payment_id, item_name, qty, unit_minor FROM hubtel_sessions WHERE "
        "session_id = ?",
        {in.sessionId});
    if (row.empty() || row.str(0, "status") != "checkout" || row.isNull(0, "payment_id"))
      return std::nullopt;
    Reply r = addToCart(textsFor(o.next.lang), row.str(0, "item_name"), row.i64(0, "qty"),
                        row.i64(0, "unit_minor"));
    r.sessionId = in.sessionId;
    return r;
  };
  if (!host_.db()
           .query("SELECT session_id FROM hubtel_payment_refs WHERE session_id = ?", {in.sessionId})
           .empty()) {
    if (auto same = sameCheckout()) return *same;
    // This SessionId already paid for something (initiate() refuses it too): no second payment.
    error("unknown_session");
    return Reply::release(in.sessionId, kSessionExpired);
  }
  auto meta = saleMetadata(ci, o.qty, msisdn, in.sessionId);
  if (!meta.ok()) return fail(meta.error().internal);
  CreatePayment cp;
  cp.product = ci.product;
  cp.orderRef = in.sessionId;
  cp.amountMinor = ci.item.amountMinor * o.qty;
  cp.currency = kCurrency;
  cp.channel = kChannel;
  cp.providers = {name()};
  cp.customer.accountId = "msisdn:" + msisdn;
  cp.customer.phone = msisdn;
  cp.description = std::to_string(o.qty) + " x " + ci.item.name;
  cp.metadata = meta.value();
  // Database writes and our own initiate() (no network): fast enough for Hubtel's deadline.
  // initiate() claims the session, so a second confirmation cannot make a second payment.
  auto created = host_.payments().create(cp);
  if (!created.ok()) {
    if (auto same = sameCheckout()) return *same;
    Rows row =
        host_.db().query("SELECT status FROM hubtel_sessions WHERE session_id = ?", {in.sessionId});
    if (row.empty() || row.str(0, "status") != "open") {
      error("unknown_session");
      return Reply::release(in.sessionId, kSessionExpired);
    }
    return fail(created.error().internal);
  }
  host_.metrics().increment("malipo_hubtel_checkouts_total", {{"product", ci.product}});
  host_.logger().info(kLog, "session " + in.sessionId + ": checkout " + std::to_string(o.qty) +
                                " x " + ci.product + "/" + ci.item.id + ", payment " +
                                created.value().id);
  Reply r = addToCart(textsFor(o.next.lang), ci.item.name, o.qty, ci.item.amountMinor);
  r.sessionId = in.sessionId;
  return r;
}

Result<InitiateResult> HubtelProvider::initiate(const Payment& p, const CreatePayment& request) {
  // Hubtel payments start from our USSD menu: the payment must carry its session (which
  // only the menu's checkout puts in the metadata) and claim it while it is open. Anything
  // else, e.g. an API top-up routed here, cannot be paid through Hubtel.
  auto refuse = [&](const std::string& why) {
    return Error::make(ErrorCode::invalidInput,
                       "hubtel: " + why + " (order_ref " + p.orderRef + ")",
                       "Hubtel payments start from the USSD menu.");
  };
  auto meta = parseJsonObject(p.metadata);
  if (!meta || request.channel != kChannel || p.currency != kCurrency ||
      meta->optValue<std::string>("ussd_session_id", "") != p.orderRef)
    return refuse("not a USSD menu checkout");
  std::int64_t qty = meta->optValue<Poco::Int64>("quantity", 0),
               unit = meta->optValue<Poco::Int64>("unit_price_minor", -1);
  if (qty < 1 || unit < 1 || qty * unit != p.amountMinor)
    return refuse("amount is not quantity x unit price");
  Step at;
  at.kind = Step::Kind::confirm;
  at.product = p.product;
  at.itemId = meta->optValue<std::string>("item_id", "");
  at.qty = qty;
  std::int64_t now = host_.clock().nowMs();
  Poco::JSON::Object payload;
  payload.set("payment_id", p.id);
  std::string job = jsonText(payload);
  std::string itemName = meta->optValue<std::string>("item_name", at.itemId);
  Rows claimed;
  bool reused = false;
  sessions_.commit([&](Tx& tx) {
    claimed = Rows{};  // may run again: outputs are reset, never accumulated
    // Hubtel's status check knows this payment by its SessionId only: a SessionId that
    // already paid for one (even one whose session row was purged) never pays for another,
    // so an old paid transaction can never settle a new payment.
    reused =
        !tx.query("SELECT payment_id FROM hubtel_payment_refs WHERE session_id = ?", {p.orderRef})
             .empty();
    if (reused) return;
    // A session continued from its ClientState alone may have lost its row: bring it back.
    tx.exec(
        "INSERT INTO hubtel_sessions (session_id, mobile, state, status, created_at, updated_at) "
        "VALUES (?, ?, ?, 'open', ?, ?) "
        "ON CONFLICT DO NOTHING",
        {p.orderRef, p.customer.phone, encodeStep(at), now, now});
    // The claim, with everything the fulfilment needs: one payment per session even if
    // Hubtel repeats the confirming request.
    claimed = tx.query(
        "UPDATE hubtel_sessions SET status = 'checkout', state = ?, product = ?, item_id = ?, "
        "item_name = ?, qty = ?, "
        "unit_minor = ?, amount_minor = ?, currency = ?, payment_id = ?, checkout_at = ?, "
        "closed_at = ?, updated_at = ? "
        "WHERE session_id = ? AND status = 'open' AND created_at >= ? RETURNING created_at",
        {encodeStep(at), p.product, at.itemId, itemName, qty, unit, p.amountMinor,
         std::string(kCurrency), p.id, now, now, now, p.orderRef, now - cfg_.sessionTtlMs});
    // Hubtel calls the fulfilment URL once the customer paid; if it has not within five
    // minutes, ask its status API (the seed's rescue for a missed fulfilment).
    if (!claimed.empty()) {
      tx.exec(
          "INSERT INTO hubtel_payment_refs (session_id, payment_id, created_at) VALUES (?, ?, ?) "
          "ON CONFLICT DO NOTHING",
          {p.orderRef, p.id, now});
      host_.jobs().enqueue(tx, JobSpec{"hubtel.status_check", job, "status:" + p.id,
                                       now + cfg_.statusCheckAfterMs, 0});
    }
  });
  if (reused) return refuse("this SessionId already has a payment");
  if (claimed.empty())
    return refuse("the session is not open (closed, expired or already at checkout)");
  // The USSD part of the session ends here, at AddToCart.
  host_.metrics().increment("malipo_hubtel_sessions_ended_total");
  host_.metrics().increment("malipo_hubtel_session_seconds_total", {},
                            static_cast<double>(now - claimed.i64(0, "created_at")) / 1000.0);
  InitiateResult out;
  out.providerRef = p.orderRef;  // the SessionId: Hubtel's clientReference for the status check
  out.action.type = "none";
  out.action.message = "Approve the payment prompt Hubtel sends to your phone.";
  out.action.reference = p.orderRef;
  out.expiresAtMs = now + cfg_.paymentExpiryMs;
  return out;
}

// ---------------------------------------------------------------------------------------
// Fulfilment

Response HubtelProvider::fulfil(const Request& req) {
  // The kernel's inbox: the allow-list (ip_check), parseWebhookReply, dedup by OrderId, the
  // payment's event log and onWebhookStored, then the reply parseWebhookReply gave.
  Response r = host_.payments().webhookInbox(name())(req);
  if (r.status >= 200 && r.status < 300) return r;
  if (r.status == 403) {
    error("forbidden_ip");
    host_.metrics().increment("malipo_hubtel_fulfilments_total", {{"result", "forbidden"}});
  }
  auto kernel = parseJsonObject(r.body);
  Poco::JSON::Object o;
  o.set("success", false);
  o.set("message", r.status == 403 ? std::string("Forbidden")
                   : kernel        ? kernel->optValue<std::string>("message", "Error")
                                   : std::string("Error"));
  return Response::json(r.status, o);
}

Result<ParsedWebhook> HubtelProvider::parseWebhookReply(const Request& req) {
  auto body = parseJsonObject(req.body);
  if (!body) {
    error("invalid_fulfilment");
    host_.metrics().increment("malipo_hubtel_fulfilments_total", {{"result", "invalid"}});
    return Error::make(ErrorCode::invalidInput, "fulfilment body is not a JSON object",
                       "Invalid fulfilment");
  }
  auto parsed = parseFulfilment(*body);
  if (!parsed.ok()) {
    error("invalid_fulfilment");
    host_.metrics().increment("malipo_hubtel_fulfilments_total", {{"result", "invalid"}});
    host_.logger().warning(kLog, "fulfilment <- rejected: " + parsed.error().internal);
    return Error::make(ErrorCode::invalidInput, parsed.error().internal, parsed.error().external);
  }
  const Fulfilment& f = parsed.value();
  host_.logger().info(kLog, "fulfilment <- session " + f.sessionId + " order " + f.orderId +
                                " status " + f.status + " successful " +
                                (f.isSuccessful ? "true" : "false") + " amount " +
                                (f.amountPaidMinor >= 0 ? minorToCedis(f.amountPaidMinor) : "?") +
                                " " + f.currency + " qty " + std::to_string(f.quantity));
  ParsedWebhook out;
  WebhookEvent ev;
  // OrderId is the key: a repeated fulfilment is a duplicate, recorded once, acted on once.
  ev.eventId = f.orderId;
  ev.providerRef = f.sessionId;  // initiate(): provider_ref = SessionId
  ev.summary = "fulfilment order " + f.orderId + ": " + f.status + ", IsSuccessful " +
               (f.isSuccessful ? "true" : "false");
  out.events.push_back(std::move(ev));
  Poco::JSON::Object o;
  o.set("success", true);
  o.set("message", "Received");
  out.hasReply = true;
  out.reply = Response::json(200, o);
  return out;
}

Result<std::vector<WebhookEvent>> HubtelProvider::parseWebhook(const Request& request) {
  auto r = parseWebhookReply(request);
  if (!r.ok()) return r.error();
  return r.value().events;
}

Status HubtelProvider::onWebhookStored(const Request& req, const std::vector<WebhookEvent>& fresh,
                                       Tx& tx) {
  auto body = parseJsonObject(req.body);
  if (!body) return Error::make(ErrorCode::internal, "fulfilment body vanished");
  auto parsed = parseFulfilment(*body);
  if (!parsed.ok()) return parsed.error();
  const Fulfilment& f = parsed.value();
  for (const WebhookEvent& ev : fresh) {
    if (ev.eventId != f.orderId) continue;
    Rows s = tx.query("SELECT payment_id FROM hubtel_sessions WHERE session_id = ?", {f.sessionId});
    std::string paymentId =
        s.empty() || s.isNull(0, "payment_id") ? ev.paymentId : s.str(0, "payment_id");
    auto orNull = [](std::int64_t v) { return v < 0 ? Value(Null{}) : Value(v); };
    std::int64_t now = host_.clock().nowMs();
    // The kernel deduplicated by OrderId; the key guards a row left from before (migration).
    if (tx.exec(
            "INSERT INTO hubtel_fulfilments (order_id, session_id, payment_id, status, "
            "successful, amount_minor, currency, qty, unit_minor, items_minor, net_minor, "
            "callback_status, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT DO NOTHING",
            {f.orderId, f.sessionId, paymentId.empty() ? Value(Null{}) : Value(paymentId), f.status,
             std::int64_t(f.isSuccessful ? 1 : 0), f.amountPaidMinor, f.currency, f.quantity,
             f.unitPriceMinor, orNull(f.itemsMinor), orNull(f.amountAfterChargesMinor), now}) == 0)
      continue;
    Poco::JSON::Object payload;
    payload.set("order_id", f.orderId);
    // Settling and the callback run as a durable job, so the reply goes out at once and a
    // crash after it loses nothing.
    host_.jobs().enqueue(tx,
                         JobSpec{"hubtel.fulfil", jsonText(payload), "fulfil:" + f.orderId, 0, 0});
    std::string orderId = f.orderId, sessionId = f.sessionId;
    bool paid = f.paid();
    tx.onCommit([this, orderId, sessionId, paymentId, paid] {
      if (paymentId.empty()) {
        error("unknown_session");
        host_.logger().error(kLog, "fulfilment order " + orderId + " names session " + sessionId +
                                       ", which has no checkout");
      }
      host_.metrics().increment("malipo_hubtel_fulfilments_total",
                                {{"result", paid ? "paid" : "not_paid"}});
    });
  }
  return okStatus();
}

Result<ProviderStatus> HubtelProvider::query(const Payment& p) {
  try {
    // A fulfilment carries no signature: it tells us when to ask, never what to settle.
    // Every answer that gives value comes from Hubtel's status check.
    Rows f = host_.db().query(
        "SELECT order_id, status, successful, items_minor FROM hubtel_fulfilments "
        "WHERE payment_id = ? ORDER BY received_at, order_id",
        {p.id});
    bool saysPaid = false;
    std::int64_t goods = p.amountMinor;  // Qty x Price, as the menu sold it
    for (std::size_t i = 0; i < f.size() && !saysPaid; ++i) {
      if (toLower(f.str(i, "status")) == "paid" && f.i64(i, "successful") == 1) {
        saysPaid = true;
        // The items Hubtel says it sold; the kernel holds the payment if they are not what is due.
        if (!f.isNull(i, "items_minor")) goods = f.i64(i, "items_minor");
      }
    }
    if (f.empty()) {
      Rows s = host_.db().query("SELECT checkout_at FROM hubtel_sessions WHERE session_id = ?",
                                {p.orderRef});
      std::int64_t since =
          s.empty() || s.isNull(0, "checkout_at") ? p.createdAtMs : s.i64(0, "checkout_at");
      if (host_.clock().nowMs() < since + cfg_.statusCheckAfterMs) {
        // Hubtel calls the fulfilment URL after payment; without one, its status API is the
        // fallback once that is late (the seed: five minutes), not a poll for every janitor round.
        ProviderStatus st;
        st.providerRef = p.orderRef;
        st.reason = "Not paid yet.";
        st.detail = "waiting for the fulfilment";
        return st;
      }
    }
    auto checked = statusCheck(p, goods);
    if (!checked.ok() || f.empty()) return checked;
    ProviderStatus st = checked.value();
    std::size_t last = f.size() - 1;
    std::string said = "fulfilment " + f.str(last, "status") + ", IsSuccessful " +
                       (f.i64(last, "successful") ? "true" : "false") + ", order " +
                       f.str(last, "order_id");
    if (st.state == ProviderStatus::State::pending) {
      if (saysPaid) {
        // Forged, or Hubtel's records lag: nothing is given until the status check says Paid.
        st.detail += "; " + said + ": not settled until the status check says Paid";
      } else {
        // Hubtel says the order was not paid, and its status API does not say otherwise.
        st.state = ProviderStatus::State::failed;
        st.reason = "Payment not successful";
        st.detail += "; " + said;
      }
    }
    return st;
  } catch (const DbError& e) {
    return Error::make(ErrorCode::unavailable, std::string("hubtel query: ") + e.what(),
                       "The payment provider failed.");
  }
}

Result<ProviderStatus> HubtelProvider::statusCheck(const Payment& p, std::int64_t goodsMinor) {
  std::string ref, pos;
  Poco::URI::encode(p.orderRef, "!#$&'()*+,/:;=?@[]", ref);
  Poco::URI::encode(cfg_.posSalesId, "!#$&'()*+,/:;=?@[]", pos);
  OutboundRequest o;
  o.method = "GET";
  // clientReference = SessionId: the only reference Hubtel and we share for a menu checkout;
  // initiate() makes it unique to this payment (a SessionId pays once, ever).
  o.url = statusBaseUrl() + "/transactions/" + pos + "/status?clientReference=" + ref;
  o.timeoutMs = cfg_.timeoutMs;
  if (!cfg_.apiId.empty() || !cfg_.apiKey.empty())
    o.headers.emplace_back("Authorization", basicAuth(cfg_.apiId, cfg_.apiKey));
  o.headers.emplace_back("Accept", "application/json");
  auto r = host_.http().send(o);
  if (!r.ok()) {
    error("status_check_failed");
    Error e = r.error();
    e.internal = "hubtel status check: " + e.internal;
    return e;
  }
  auto parsed = parseStatusReply(r.value().status, r.value().body);
  if (!parsed.ok()) {
    error("status_check_failed");
    host_.logger().warning(
        kLog, "status check for session " + p.orderRef + ": " + parsed.error().internal);
    return parsed.error();
  }
  const TxnStatus& t = parsed.value();
  if (!t.clientReference.empty() && t.clientReference != p.orderRef) {
    error("status_check_failed");
    return Error::make(ErrorCode::providerError,
                       "status check for " + p.orderRef + " answered for " + t.clientReference,
                       "The payment provider failed.");
  }
  host_.logger().info(kLog, "status check for session " + p.orderRef + ": " +
                                (t.status.empty() ? "not found" : t.status));
  ProviderStatus st;
  st.providerRef = p.orderRef;
  st.detail = "status check " + (t.status.empty() ? std::string("not found") : t.status) +
              (t.responseCode.empty() ? "" : " (responseCode " + t.responseCode + ")");
  switch (t.kind) {
    case TxnStatus::Kind::paid: {
      st.state = ProviderStatus::State::succeeded;
      st.providerTxnId = t.transactionId;  // one id per Hubtel transaction, whichever path settles
      Settlement m = settle(t.amountMinor, t.chargesMinor, t.amountAfterChargesMinor, goodsMinor);
      st.amountMinor = m.amountMinor;
      st.grossMinor = m.grossMinor;
      st.feeMinor = m.feeMinor;
      st.netMinor = m.netMinor;
      st.currency = kCurrency;
      auto cedis = [](std::int64_t v) { return v >= 0 ? minorToCedis(v) : std::string("?"); };
      st.detail += ", amount " + cedis(m.grossMinor) + ", charges " + cedis(m.feeMinor) +
                   ", after charges " + cedis(m.netMinor) + ", items " + cedis(goodsMinor);
      break;
    }
    case TxnStatus::Kind::refunded:
      // Paid and then refunded at Hubtel (e.g. from its dashboard) before we settled: the money
      // went back, so nothing may be delivered. Failed, with Hubtel's status as the result
      // code so operators see that money moved. A payment that already succeeded is final in
      // the kernel and is not changed by this (its refund is recorded as a manual refund).
      st.state = ProviderStatus::State::failed;
      st.reason = "The payment was refunded.";
      st.resultCode = "Refunded";
      st.providerTxnId = t.transactionId;
      break;
    default:
      // Unpaid, unknown to Hubtel yet, or a status we do not know: never a success.
      st.reason = "Not paid yet.";
      break;
  }
  return st;
}

// ---------------------------------------------------------------------------------------
// Jobs

std::int64_t HubtelProvider::retryDelay(int attempt) const {
  std::int64_t d = cfg_.callbackRetryBaseMs;
  for (int i = 1; i < attempt && d < 300000; ++i) d *= 2;
  return std::min<std::int64_t>(d, 300000);
}

void HubtelProvider::recordOutcome(const Payment& p) {
  std::string outcome = statusName(p.status);
  // Counted once per payment, whichever job sees the final state first.
  if (host_.db().exec(
          "UPDATE hubtel_sessions SET outcome = ? WHERE payment_id = ? AND outcome IS NULL",
          {outcome, p.id}) == 1)
    host_.metrics().increment("malipo_hubtel_payments_total", {{"outcome", outcome}});
}

JobOutcome HubtelProvider::runFulfil(const Job& job) {
  auto payload = parseJsonObject(job.payload);
  if (!payload) return JobOutcome::fail("bad payload");
  std::string orderId = payload->optValue<std::string>("order_id", "");
  Rows f = host_.db().query("SELECT * FROM hubtel_fulfilments WHERE order_id = ?", {orderId});
  if (f.empty()) return JobOutcome::fail("no fulfilment " + orderId);
  std::string cbStatus = f.str(0, "callback_status");
  if (cbStatus == "sent" || cbStatus == "expired") return JobOutcome::ok();
  std::string sessionId = f.str(0, "session_id");
  std::string paymentId = f.isNull(0, "payment_id") ? "" : f.str(0, "payment_id");
  std::int64_t deadline = f.i64(0, "received_at") + cfg_.callbackWindowMs;
  std::int64_t now = host_.clock().nowMs();

  bool success = false;
  Poco::JSON::Object meta;
  if (paymentId.empty()) {
    meta.set("reason", "Unknown session: no checkout for this SessionId");
  } else {
    // Settle: query() asks Hubtel's status check (the fulfilment is unsigned). sync() returns
    // a succeeded or held payment as it is, and re-asks for a failed or expired one, so money
    // that arrived late is held for review rather than lost.
    auto synced = host_.payments().sync(paymentId);
    if (!synced.ok())
      return JobOutcome::retry("payment " + paymentId + ": " + synced.error().internal,
                               retryDelay(job.attempt));
    Payment p = synced.value();
    if (!isFinal(p.status)) {
      if (now >= deadline) {
        host_.db().exec(
            "UPDATE hubtel_fulfilments SET callback_status = 'expired' WHERE order_id = ?",
            {orderId});
        error("callback_expired");
        return JobOutcome::fail("payment " + paymentId + " still " + statusName(p.status) +
                                " an hour after the fulfilment");
      }
      return JobOutcome::retry("payment " + paymentId + " is " + statusName(p.status),
                               retryDelay(job.attempt));
    }
    recordOutcome(p);
    meta.set("payment_id", p.id);
    bool orderPaid = toLower(f.str(0, "status")) == "paid" && f.i64(0, "successful") == 1;
    if (p.status == PaymentStatus::succeeded && !orderPaid) {
      meta.set("reason", "Payment not successful");  // this order was not paid (another one was)
    } else if (p.status == PaymentStatus::succeeded) {
      // The service was delivered for this order unless another paid order of this session
      // came first (the customer paid twice): the first paid fulfilment is the one delivered.
      Rows first = host_.db().query(
          "SELECT order_id FROM hubtel_fulfilments WHERE payment_id = ? AND successful = 1 AND "
          "LOWER(status) = 'paid' ORDER BY received_at, order_id LIMIT 1",
          {p.id});
      success = first.empty() || first.str(0, "order_id") == orderId;
      // "success" tells Hubtel the service was delivered: wait for the product's delivery,
      // leaving a tenth of the callback window to tell Hubtel either way.
      if (success && p.fulfilment == "pending" && now < deadline - cfg_.callbackWindowMs / 10)
        return JobOutcome::retry(
            "payment " + p.id + " is paid; its product has not delivered yet",
            std::min<std::int64_t>(retryDelay(job.attempt), 250LL * job.attempt));
      if (success && p.fulfilment == "failed") {
        success = false;
        meta.set("reason", "The service could not be delivered");
      } else if (success && p.fulfilment == "pending") {
        success = false;
        meta.set("reason", "The service was not delivered in time");
      }
      if (success) {
        meta.set("product", p.product);
        Rows s = host_.db().query("SELECT item_id, qty FROM hubtel_sessions WHERE session_id = ?",
                                  {sessionId});
        if (!s.empty()) {
          meta.set("item_id", s.str(0, "item_id"));
          meta.set("quantity", s.i64(0, "qty"));
        }
      } else if (!meta.has("reason")) {
        meta.set("reason", "Another order already paid for this session");
      }
    } else if (p.status == PaymentStatus::held) {
      meta.set("reason", "Payment does not match the order: held for review");
    } else {
      meta.set("reason",
               p.failureReason.empty() ? std::string("Payment not successful") : p.failureReason);
    }
  }

  OutboundRequest o;
  o.method = "POST";
  o.url = callbackUrl();
  o.body = callbackBody(sessionId, orderId, success, meta);
  o.timeoutMs = cfg_.timeoutMs;
  o.maxRetries = 0;  // this job is the retry loop
  host_.db().exec(
      "UPDATE hubtel_fulfilments SET callback_attempts = callback_attempts + 1 WHERE order_id = ?",
      {orderId});
  auto r = host_.http().send(o);
  bool accepted = r.ok() && r.value().status >= 200 && r.value().status < 300;
  host_.logger().info(
      kLog, "callback -> order " + orderId + " " + (success ? "success" : "failed") + ": " +
                (r.ok() ? "HTTP " + std::to_string(r.value().status) : r.error().internal));
  if (accepted) {
    std::int64_t t = host_.clock().nowMs();
    host_.db().write([&](Tx& tx) {
      tx.exec(
          "UPDATE hubtel_fulfilments SET callback_status = 'sent', service_status = ?, callback_at "
          "= ? WHERE order_id = ?",
          {std::string(success ? "success" : "failed"), t, orderId});
      // The session is over once Hubtel knows the outcome.
      tx.exec(
          "UPDATE hubtel_sessions SET status = ?, updated_at = ? WHERE session_id = ? AND status = "
          "'checkout'",
          {std::string(success ? "fulfilled" : "failed"), t, sessionId});
    });
    host_.metrics().increment("malipo_hubtel_callbacks_total",
                              {{"result", success ? "success" : "failed"}});
    return JobOutcome::ok();
  }
  error("callback_failed");
  std::int64_t delay = retryDelay(job.attempt);
  if (host_.clock().nowMs() + delay > deadline) {
    host_.db().exec("UPDATE hubtel_fulfilments SET callback_status = 'expired' WHERE order_id = ?",
                    {orderId});
    host_.metrics().increment("malipo_hubtel_callbacks_total", {{"result", "expired"}});
    return JobOutcome::fail("fulfilment callback for order " + orderId +
                            " not accepted within the hour");
  }
  return JobOutcome::retry(
      "callback not accepted: " +
          (r.ok() ? "HTTP " + std::to_string(r.value().status) : r.error().internal),
      delay);
}

JobOutcome HubtelProvider::runStatusCheck(const Job& job) {
  auto payload = parseJsonObject(job.payload);
  if (!payload) return JobOutcome::fail("bad payload");
  std::string id = payload->optValue<std::string>("payment_id", "");
  // sync() straight away (not get(), whose sync-on-read would ask Hubtel a second time).
  auto synced = host_.payments().sync(id);
  std::int64_t now = host_.clock().nowMs();
  if (!synced.ok()) {
    if (synced.error().code == ErrorCode::notFound) return JobOutcome::fail("no payment " + id);
    auto got = host_.payments().get(id);
    if (got.ok() &&
        (isFinal(got.value().status) || now > got.value().expiresAtMs + cfg_.statusCheckIntervalMs))
      return JobOutcome::ok();
    return JobOutcome::retry(synced.error().internal, cfg_.statusCheckIntervalMs);
  }
  const Payment& p = synced.value();
  if (isFinal(p.status)) {
    recordOutcome(p);
    return JobOutcome::ok();
  }
  // Unpaid: keep asking until the payment's deadline; the sync after it expires the
  // payment, and the kernel's janitor keeps watching beyond that.
  if (now > p.expiresAtMs + cfg_.statusCheckIntervalMs) return JobOutcome::ok();
  return JobOutcome::retry("payment " + id + " still " + statusName(p.status),
                           cfg_.statusCheckIntervalMs);
}

void HubtelProvider::runPurge() {
  std::int64_t now = host_.clock().nowMs();
  std::int64_t cutoff = now - cfg_.sessionTtlMs;
  host_.db().write([&](Tx& tx) {
    std::int64_t n = tx.exec("DELETE FROM hubtel_sessions WHERE created_at < ?", {cutoff});
    tx.exec("DELETE FROM hubtel_fulfilments WHERE received_at < ?", {now - kFulfilmentRetentionMs});
    tx.exec("DELETE FROM hubtel_sim_sessions WHERE created_at < ?", {cutoff});
    tx.exec("DELETE FROM hubtel_sim_transactions WHERE created_at < ?", {cutoff});
    tx.exec("DELETE FROM hubtel_sim_callbacks WHERE received_at < ?", {cutoff});
    if (n > 0)
      host_.logger().info(
          kLog, "purged " + std::to_string(n) + " USSD session(s) older than the session TTL");
  });
}

void HubtelProvider::runStats() {
  std::int64_t since = host_.clock().nowMs() - 24LL * 3600000;
  Rows r = host_.db().query(
      "SELECT COUNT(*) AS started, "
      "SUM(CASE WHEN payment_id IS NOT NULL THEN 1 ELSE 0 END) AS checkouts, "
      "SUM(CASE WHEN outcome = 'succeeded' THEN 1 ELSE 0 END) AS paid, "
      "SUM(CASE WHEN outcome IS NOT NULL THEN 1 ELSE 0 END) AS decided, "
      "SUM(CASE WHEN closed_at IS NOT NULL THEN closed_at - created_at ELSE 0 END) AS duration_ms, "
      "SUM(CASE WHEN closed_at IS NOT NULL THEN 1 ELSE 0 END) AS ended "
      "FROM hubtel_sessions WHERE created_at >= ?",
      {since});
  double started = static_cast<double>(r.i64(0, "started")),
         checkouts = static_cast<double>(r.i64(0, "checkouts"));
  double paid = static_cast<double>(r.i64(0, "paid")),
         decided = static_cast<double>(r.i64(0, "decided"));
  double ended = static_cast<double>(r.i64(0, "ended"));
  Metrics& m = host_.metrics();
  m.setGauge("malipo_hubtel_conversion_ratio", {}, started > 0 ? checkouts / started : 0);
  m.setGauge("malipo_hubtel_payment_success_ratio", {}, decided > 0 ? paid / decided : 0);
  m.setGauge("malipo_hubtel_session_duration_avg_seconds", {},
             ended > 0 ? static_cast<double>(r.i64(0, "duration_ms")) / 1000.0 / ended : 0);
}

void HubtelProvider::simulator(Router& router) {
  sim_ = std::make_unique<Simulator>(host_, *this);
  sim_->mount(router);
}

// The sandbox driver, for payments made by the menu's checkout (see Simulator::drive).
Result<SandboxResult> HubtelProvider::sandboxPay(const Payment& payment,
                                                 const SandboxPayment& how) {
  if (!sim_) return PaymentProvider::sandboxPay(payment, how);
  return sim_->drive(payment, how);
}

Result<Payment> HubtelProvider::sandboxSale(const CreatePayment& draft) {
  if (!sim_) return PaymentProvider::sandboxSale(draft);
  auto id = sim_->sale(draft);
  if (!id.ok()) {
    Error e = id.error();
    if (e.code == ErrorCode::notFound)
      e.code = ErrorCode::invalidInput;  // a failure, not "no driver"
    return e;
  }
  return host_.payments().get(id.value());
}

Status HubtelProvider::sandboxFault(const std::string& fault, int count) {
  if (!sim_) return PaymentProvider::sandboxFault(fault, count);
  return sim_->fault(fault, count);
}

}  // namespace malipo::hubtel
