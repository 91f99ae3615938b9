#include "CreditsProduct.hpp"

#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>
#include <Poco/UUIDGenerator.h>

#include <algorithm>
#include <sstream>

#include "malipo/money.hpp"

namespace malipo::credits {

namespace {

const char* kUnauthorized = R"({"success":false,"message":"Unauthorized"})";

// Key order as the seed writes it: success, data, message.
Response fail(int status, const std::string& message) {
  Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("success", false);
  o.set("message", message);
  return Response::json(status, o);
}

Response ok(const Poco::Dynamic::Var& data, const std::string& message = {}) {
  Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("success", true);
  o.set("data", data);
  if (!message.empty()) o.set("message", message);
  return Response::json(200, o);
}

std::string accountOf(const Request& req) {
  return "user:" + req.userId.value_or("");
}

std::vector<Package> readPackages(const std::vector<PackageSetting>& list, const std::string& key) {
  std::vector<Package> out;
  for (const PackageSetting& p : list) {
    Package pkg;
    pkg.id = p.id;
    pkg.credits = p.credits;
    pkg.currency = p.currency;
    auto minor = parseMajor(p.price, pkg.currency);
    if (pkg.id.empty() || pkg.credits <= 0 || !validCurrency(pkg.currency) || !minor || *minor <= 0)
      throw std::runtime_error("settings." + key + ": package '" + pkg.id +
                               "' needs an id, credits > 0 and a valid price");
    pkg.amountMinor = *minor;
    pkg.name = p.name.empty() ? std::to_string(pkg.credits) + " credits" : p.name;
    out.push_back(pkg);
  }
  return out;
}

// scheme://host[:port] of an absolute http(s) URL (no user info); empty for anything else.
std::string originOf(const std::string& url) {
  if (url.empty() || url.size() > 2048) return {};
  try {
    Poco::URI u(url);
    std::string scheme = u.getScheme();
    if ((scheme != "https" && scheme != "http") || u.getHost().empty() || !u.getUserInfo().empty())
      return {};
    std::string origin = scheme + "://" + u.getHost();
    unsigned short defaultPort = scheme == "https" ? 443 : 80;
    if (u.getPort() != defaultPort) origin += ":" + std::to_string(u.getPort());
    return origin;
  } catch (const Poco::Exception&) {
    return {};
  }
}

}  // namespace

const Decl<CreditsSettings>& CreditsSettings::decl() {
  using C = CreditsSettings;
  using P = PackageSetting;
  static const auto d = [] {
    Decl<P> package("a package of credits");
    package.str("id", &P::id, "package id clients send as packageId")
        .required()
        .integer("credits", &P::credits, "credits granted")
        .required()
        .range(1, 1000000)
        .str("price", &P::price, "price in major units, e.g. \"5000\" or \"10.50\"")
        .required()
        .str("currency", &P::currency, "ISO 4217 currency")
        .required()
        .str("name", &P::name, "label in menus (default: \"<credits> credits\")");
    Decl<C> c("verification credits");
    c.list("providers", &C::providers, "payment providers for API top-ups, in order",
           schema::str("provider plugin name"))
        .list("packages", &C::packages,
              "packages sold through the API (the seed's three by default)", package)
        .list("ussd_packages", &C::ussdPackages,
              "packages sold through USSD channels (priced for that market)", package)
        .str("webhook_alias_provider", &C::webhookAliasProvider,
             "provider whose webhooks also arrive at /api/v1/webhooks/<name> (the seed's path)")
        .str("return_url", &C::returnUrl,
             "your app's page the payment result page leads back to, when the top-up names "
             "none (returnUrl); its origin is allowed for returnUrl")
        .list("return_url_origins", &C::returnUrlOrigins,
              "other origins (https://app.example.com) a top-up's returnUrl may point "
              "to; in sandbox any http(s) URL is accepted",
              schema::str("origin"))
        .integer("topups_per_user_per_hour", &C::topupsPerUserPerHour,
                 "top-up attempts allowed per user per hour")
        .range(1, 100000);
    return c;
  }();
  return d;
}

CreditsProduct::CreditsProduct(Host& host)
    : host_(host), s_(CreditsSettings::decl().load(host.settings())) {
  packages_ = readPackages(s_.packages, "packages");
  ussdPackages_ = readPackages(s_.ussdPackages, "ussd_packages");
  providers_ = s_.providers;
  // Where the payment pages send the customer back to: the configured page, or a client's
  // own page on an origin we allow (never any site: that would make us an open redirect).
  std::string configured = s_.returnUrl;
  if (!configured.empty()) {
    std::string origin = originOf(configured);
    if (origin.empty())
      throw std::runtime_error("settings.return_url must be an absolute http(s) URL");
    returnOrigins_.insert(origin);
  }
  for (const auto& o : s_.returnUrlOrigins) {
    std::string origin = originOf(o);
    if (origin.empty())
      throw std::runtime_error("settings.return_url_origins: '" + o + "' is not an http(s) origin");
    returnOrigins_.insert(origin);
  }
}

Poco::JSON::Object CreditsProduct::reviewNote(const std::string& lang,
                                              const std::string& reference) const {
  const Brand& b = host_.brand();
  Poco::JSON::Object support(Poco::JSON_PRESERVE_KEY_ORDER);
  support.set("name", b.name);
  support.set("phone", b.supportPhone);
  support.set("email", b.supportEmail);
  Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("state", "received_under_review");
  // What the app shows the customer: in their language (?lang=, the language cookie,
  // Accept-Language), from messages/<lang>.json.
  Poco::JSON::Object params;
  params.set("reference", reference);
  o.set("message", host_.pages().text(lang, "review_message", params));
  o.set("reference", reference);
  o.set("support", support);
  return o;
}

bool CreditsProduct::returnUrlAllowed(const std::string& url) const {
  std::string origin = originOf(url);
  if (origin.empty()) return false;
  // In sandbox any http(s) page may be the way back, so a local front end works unconfigured.
  return host_.sandbox() || returnOrigins_.count(origin) > 0;
}

std::vector<Migration> CreditsProduct::migrations() const {
  Migration m;
  m.version = 1;
  m.description = "credit accounts, ledger, top-ups";
  m.sqlite =
      "CREATE TABLE credit_accounts (account TEXT PRIMARY KEY, balance BIGINT NOT NULL, updated_at "
      "BIGINT NOT NULL);"
      "CREATE TABLE credit_ledger (id INTEGER PRIMARY KEY, account TEXT NOT NULL, delta BIGINT NOT "
      "NULL, kind TEXT NOT NULL, "
      "source TEXT NOT NULL, unique_key TEXT NOT NULL UNIQUE, balance_after BIGINT NOT NULL "
      "DEFAULT 0, created_at BIGINT NOT NULL);"
      "CREATE INDEX credit_ledger_account ON credit_ledger (account, id);"
      "CREATE TABLE credit_topups (id TEXT PRIMARY KEY, payment_id TEXT, account TEXT NOT NULL, "
      "package_id TEXT NOT NULL, "
      "credits BIGINT NOT NULL, amount_minor BIGINT NOT NULL, currency TEXT NOT NULL, status TEXT "
      "NOT NULL, provider TEXT, "
      "reference TEXT, payment_url TEXT, channel TEXT NOT NULL DEFAULT 'api', created_at BIGINT "
      "NOT NULL, completed_at BIGINT);"
      "CREATE UNIQUE INDEX credit_topups_payment ON credit_topups (payment_id);"
      "CREATE INDEX credit_topups_account ON credit_topups (account, created_at)";
  m.postgresql = m.sqlite;
  m.postgresql.replace(m.postgresql.find("id INTEGER PRIMARY KEY, account"),
                       std::string("id INTEGER PRIMARY KEY").size(), "id BIGSERIAL PRIMARY KEY");
  Migration m2;
  m2.version = 2;
  m2.description = "refunds: credits taken back per refund";
  m2.sqlite =
      "CREATE TABLE credit_refunds (refund_id TEXT PRIMARY KEY, payment_id TEXT NOT NULL, "
      "account TEXT NOT NULL, amount_minor BIGINT NOT NULL, credits BIGINT NOT NULL, "
      "debited BIGINT NOT NULL, forced INTEGER NOT NULL, actor TEXT NOT NULL, created_at BIGINT "
      "NOT NULL);"
      "CREATE INDEX credit_refunds_payment ON credit_refunds (payment_id)";
  return {m, m2};
}

void CreditsProduct::start() {
  auto& r = host_.router();
  RouteOptions authed{Auth::required};
  authed.unauthorizedBody = kUnauthorized;
  RouteOptions topupOpts = authed;
  topupOpts.idempotent = true;
  topupOpts.maxBodyBytes = 4096;
  RouteOptions consumeOpts = topupOpts;
  for (const std::string prefix : {"/api/v1", ""}) {
    r.add(
        "POST", prefix + "/verification-credits/topup",
        [this](const Request& q) { return topup(q); }, topupOpts);
    r.add("GET", prefix + "/verification-credits/packages",
          [this](const Request& q) { return packages(q); });
    r.add(
        "GET", prefix + "/verification-credits/balance",
        [this](const Request& q) { return balanceRoute(q); }, authed);
    r.add(
        "GET", prefix + "/verification-credits/history",
        [this](const Request& q) { return history(q); }, authed);
    r.add(
        "POST", prefix + "/verification-credits/consume",
        [this](const Request& q) { return consume(q); }, consumeOpts);
  }
  std::string alias = s_.webhookAliasProvider;
  if (!alias.empty())
    r.add("POST", "/api/v1/webhooks/" + alias, host_.payments().webhookInbox(alias),
          {Auth::none, "webhooks"});
}

const Package* CreditsProduct::findPackage(const std::string& id,
                                           const std::vector<Package>& list) const {
  for (const auto& p : list)
    if (p.id == id) return &p;
  return nullptr;
}

bool CreditsProduct::topupAllowed(const std::string& user) {
  std::int64_t now = host_.clock().nowMs();
  std::lock_guard<std::mutex> lock(rateMutex_);
  if (rate_.size() > 100000) rate_.clear();
  auto& [start, count] = rate_[user];
  if (now - start > 3600000) {
    start = now;
    count = 0;
  }
  return ++count <= s_.topupsPerUserPerHour;
}

Response CreditsProduct::topup(const Request& req) {
  std::string account = accountOf(req);
  std::string packageId, returnUrl;
  try {
    auto body = Poco::JSON::Parser().parse(req.body).extract<Poco::JSON::Object::Ptr>();
    packageId = body->optValue<std::string>("packageId", "");
    returnUrl =
        body->optValue<std::string>("returnUrl", body->optValue<std::string>("return_url", ""));
  } catch (...) {
    return fail(400, "Invalid package");
  }
  const Package* pkg = findPackage(packageId, packages_);
  if (!pkg) return fail(400, "Invalid package");
  if (!returnUrl.empty() && !returnUrlAllowed(returnUrl))
    return fail(400,
                "Invalid returnUrl: it must be an http(s) URL on an allowed origin "
                "(settings.return_url_origins)");
  if (returnUrl.empty()) returnUrl = s_.returnUrl;
  if (!topupAllowed(account)) return fail(429, "Too many top-up attempts. Please try again later.");

  std::string topupId = Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
  std::int64_t now = host_.clock().nowMs();
  Poco::JSON::Object meta;
  meta.set("account", account);
  meta.set("package_id", pkg->id);
  meta.set("credits", pkg->credits);
  meta.set("topup_id", topupId);
  std::ostringstream metaText;
  meta.stringify(metaText);
  host_.db().exec(
      "INSERT INTO credit_topups (id, account, package_id, credits, amount_minor, currency, "
      "status, created_at) "
      "VALUES (?, ?, ?, ?, ?, ?, 'PENDING', ?)",
      {topupId, account, pkg->id, pkg->credits, pkg->amountMinor, pkg->currency, now});
  CreatePayment cp;
  cp.product = "credits";
  cp.orderRef = topupId;
  cp.amountMinor = pkg->amountMinor;
  cp.currency = pkg->currency;
  cp.providers = providers_;
  cp.customer.accountId = account;
  cp.description = "Purchase " + std::to_string(pkg->credits) + " credits";
  cp.metadata = metaText.str();
  cp.returnUrl = returnUrl;
  auto pay = host_.payments().create(cp);
  host_.logger().info("credits", "top-up " + topupId + " by " + account + " for " + pkg->id + ": " +
                                     (pay.ok() ? std::string("payment ") + pay.value().id + " " +
                                                     statusName(pay.value().status)
                                               : "failed: " + pay.error().internal));
  if (!pay.ok() || pay.value().action.url.empty()) {
    host_.db().exec("UPDATE credit_topups SET status = 'FAILED', payment_id = ? WHERE id = ?",
                    {pay.ok() ? Value(pay.value().id) : Value(Null{}), topupId});
    return fail(500, "Failed to initiate payment");
  }
  const Payment& p = pay.value();
  host_.db().exec(
      "UPDATE credit_topups SET payment_id = ?, provider = ?, reference = ?, payment_url = ? WHERE "
      "id = ?",
      {p.id, p.provider, p.id, p.action.url, topupId});
  Poco::JSON::Object data;
  data.set("paymentUrl", p.action.url);
  data.set("reference", p.id);
  return ok(data, "Payment initiated successfully");
}

Response CreditsProduct::packages(const Request&) {
  Poco::JSON::Array arr;
  for (const auto& p : packages_) {
    Poco::JSON::Object o;
    o.set("id", p.id);
    o.set("credits", p.credits);
    o.set("price", std::stod(formatMajor(p.amountMinor, p.currency)));
    o.set("currency", p.currency);
    arr.add(o);
  }
  return ok(arr);
}

std::int64_t CreditsProduct::balance(const std::string& account) {
  Rows r = host_.db().query("SELECT balance FROM credit_accounts WHERE account = ?", {account});
  return r.empty() ? 0 : r.i64(0, "balance");
}

Response CreditsProduct::balanceRoute(const Request& req) {
  Poco::JSON::Object data;
  data.set("account", accountOf(req));
  data.set("balance", balance(accountOf(req)));
  return ok(data);
}

Response CreditsProduct::history(const Request& req) {
  std::string account = accountOf(req);
  int page = 1, limit = 20;
  try {
    page = std::max(1, std::stoi(req.queryParam("page", "1")));
    limit = std::max(1, std::min(100, std::stoi(req.queryParam("limit", "20"))));
  } catch (...) {
    return fail(400, "page and limit must be numbers");
  }
  std::int64_t offset = static_cast<std::int64_t>(page - 1) * limit;
  Rows t = host_.db().query(
      "SELECT id, payment_id, package_id, credits, amount_minor, currency, status, provider, "
      "reference, channel, created_at, "
      "completed_at "
      "FROM credit_topups WHERE account = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
      {account, static_cast<std::int64_t>(limit), offset});
  Poco::JSON::Array topups;
  for (std::size_t i = 0; i < t.size(); ++i) {
    Poco::JSON::Object o;
    o.set("id", t.str(i, "id"));
    o.set("packageId", t.str(i, "package_id"));
    o.set("credits", t.i64(i, "credits"));
    o.set("amount", formatMajor(t.i64(i, "amount_minor"), t.str(i, "currency")));
    o.set("currency", t.str(i, "currency"));
    o.set("status", t.str(i, "status"));
    o.set("provider", t.str(i, "provider"));
    o.set("reference", t.str(i, "reference"));
    o.set("channel", t.str(i, "channel"));
    o.set("createdAt", isoTime(t.i64(i, "created_at")));
    if (!t.isNull(i, "completed_at")) o.set("completedAt", isoTime(t.i64(i, "completed_at")));
    // The seed's statuses stay PENDING/COMPLETED/FAILED; a top-up whose money arrived but
    // did not match (held by the kernel) says so, so it never reads as unpaid.
    if (t.str(i, "status") == "PENDING" && !t.isNull(i, "payment_id")) {
      auto pay = host_.payments().get(t.str(i, "payment_id"));
      if (pay.ok() && pay.value().status == PaymentStatus::held)
        o.set("review", reviewNote(host_.pages().language(req), pay.value().id));
    }
    topups.add(o);
  }
  Rows m = host_.db().query(
      "SELECT delta, kind, source, balance_after, created_at FROM credit_ledger WHERE account = ? "
      "ORDER BY id DESC LIMIT ? OFFSET ?",
      {account, static_cast<std::int64_t>(limit), offset});
  Poco::JSON::Array movements;
  for (std::size_t i = 0; i < m.size(); ++i) {
    Poco::JSON::Object o;
    o.set("delta", m.i64(i, "delta"));
    o.set("kind", m.str(i, "kind"));
    o.set("source", m.str(i, "source"));
    o.set("balanceAfter", m.i64(i, "balance_after"));
    o.set("createdAt", isoTime(m.i64(i, "created_at")));
    movements.add(o);
  }
  Poco::JSON::Object data;
  data.set("topups", topups);
  data.set("movements", movements);
  data.set("page", page);
  data.set("limit", limit);
  data.set("balance", balance(account));
  return ok(data);
}

Response CreditsProduct::consume(const Request& req) {
  std::string account = accountOf(req);
  std::int64_t amount = 0;
  std::string reference;
  try {
    auto o = Poco::JSON::Parser().parse(req.body).extract<Poco::JSON::Object::Ptr>();
    Poco::Dynamic::Var a = o->get("amount");
    if (!a.isInteger()) return fail(400, "amount must be a whole number of credits");
    amount = a.convert<Poco::Int64>();
    reference = o->optValue<std::string>("reference", "");
  } catch (...) {
    return fail(400, "The body must be {\"amount\": <credits>, \"reference\": \"…\"}");
  }
  if (amount < 1 || amount > 1000000) return fail(400, "amount must be between 1 and 1000000");
  if (reference.empty() || reference.size() > 128)
    return fail(400, "reference is required (at most 128 characters)");
  std::string key = "consume:" + account + ":" + reference;
  enum { consumed, duplicate, conflict, insufficient } outcome = consumed;
  std::int64_t after = 0;
  auto run = [&](Tx& tx) {
    Rows seen =
        tx.query("SELECT delta, balance_after FROM credit_ledger WHERE unique_key = ?", {key});
    if (!seen.empty()) {
      outcome = -seen.i64(0, "delta") == amount ? duplicate : conflict;
      after = seen.i64(0, "balance_after");
      return;
    }
    std::int64_t now = host_.clock().nowMs();
    if (tx.exec("UPDATE credit_accounts SET balance = balance - ?, updated_at = ? WHERE account = "
                "? AND balance >= ?",
                {amount, now, account, amount}) != 1) {
      outcome = insufficient;
      return;
    }
    after = tx.query("SELECT balance FROM credit_accounts WHERE account = ?", {account})
                .i64(0, "balance");
    // A concurrent request with the same reference makes this insert fail: the whole
    // transaction (the debit too) rolls back and the caller sees it as a retry.
    tx.exec(
        "INSERT INTO credit_ledger (account, delta, kind, source, unique_key, balance_after, "
        "created_at) "
        "VALUES (?, ?, 'consume', ?, ?, ?, ?)",
        {account, -amount, reference, key, after, now});
  };
  try {
    host_.db().write(run);
  } catch (const DbError&) {
    // Lost a race with the same reference: the winner's row is there now.
    host_.db().write(run);
  }
  if (outcome == insufficient) return fail(402, "Insufficient credits");
  if (outcome == conflict) return fail(409, "This reference was already used with another amount");
  Poco::JSON::Object data;
  data.set("reference", reference);
  data.set("consumed", amount);
  data.set("balance", after);
  data.set("duplicate", outcome == duplicate);
  return ok(data);
}

JobOutcome CreditsProduct::onPaymentSettled(const Payment& p) {
  JobOutcome out;
  host_.db().write([&](Tx& tx) { out = onPaymentSettledInTx(p, tx); });
  return out;
}

JobOutcome CreditsProduct::onPaymentSettledInTx(const Payment& p, Tx& tx) {
  Poco::JSON::Object::Ptr meta;
  try {
    meta = Poco::JSON::Parser().parse(p.metadata).extract<Poco::JSON::Object::Ptr>();
  } catch (...) {
    return JobOutcome::fail("payment " + p.id + " has no credits metadata");
  }
  std::string account = meta->optValue<std::string>("account", "");
  std::int64_t credits = meta->optValue<Poco::Int64>("credits", 0);
  std::string packageId = meta->optValue<std::string>("package_id", "");
  if (account.empty() || credits <= 0)
    return JobOutcome::fail("payment " + p.id + ": metadata names no account or credits");
  std::int64_t now = host_.clock().nowMs();
  // The unique key makes the credit happen once per payment, whatever arrives twice.
  if (tx.exec("INSERT INTO credit_ledger (account, delta, kind, source, unique_key, created_at) "
              "VALUES (?, ?, 'topup', ?, ?, ?) "
              "ON CONFLICT DO NOTHING",
              {account, credits, p.id, "payment:" + p.id, now}) == 0) {
    tx.onCommit([this, id = p.id] {
      host_.logger().info("credits", "payment " + id + " was already credited");
    });
    return JobOutcome::ok();
  }
  tx.exec(
      "INSERT INTO credit_accounts (account, balance, updated_at) VALUES (?, ?, ?) "
      "ON CONFLICT (account) DO UPDATE SET balance = credit_accounts.balance + excluded.balance, "
      "updated_at = excluded.updated_at",
      {account, credits, now});
  std::int64_t after = tx.query("SELECT balance FROM credit_accounts WHERE account = ?", {account})
                           .i64(0, "balance");
  tx.exec("UPDATE credit_ledger SET balance_after = ? WHERE unique_key = ?",
          {after, "payment:" + p.id});
  // Sales through a channel (USSD) have no top-up row yet: keep the audit record anyway.
  tx.exec(
      "INSERT INTO credit_topups (id, payment_id, account, package_id, credits, amount_minor, "
      "currency, status, provider, "
      "reference, channel, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'PENDING', ?, ?, ?, ?) ON "
      "CONFLICT DO NOTHING",
      {meta->optValue<std::string>("topup_id", p.id), p.id, account, packageId, credits,
       p.amountMinor, p.currency, p.provider, p.id, p.channel.empty() ? "api" : p.channel,
       p.createdAtMs});
  tx.exec("UPDATE credit_topups SET status = 'COMPLETED', completed_at = ? WHERE payment_id = ?",
          {now, p.id});
  tx.onCommit([this, credits, account, id = p.id] {
    host_.logger().info(
        "credits", "credited " + std::to_string(credits) + " to " + account + " for payment " + id);
  });
  return JobOutcome::ok();
}

JobOutcome CreditsProduct::onPaymentFailed(const Payment& p) {
  host_.db().exec(
      "UPDATE credit_topups SET status = 'FAILED', completed_at = ? WHERE payment_id = ? AND "
      "status = 'PENDING'",
      {host_.clock().nowMs(), p.id});
  host_.logger().info("credits", "payment " + p.id + " " + statusName(p.status) + ": no credit");
  return JobOutcome::ok();
}

// --- Refunds ------------------------------------------------------------------------------

CreditsProduct::Credited CreditsProduct::credited(Tx& tx, const std::string& paymentId,
                                                  const std::string& exceptRefund) {
  Credited c;
  Rows l = tx.query("SELECT account, delta FROM credit_ledger WHERE unique_key = ?",
                    {"payment:" + paymentId});
  if (l.empty()) return c;
  c.account = l.str(0, "account");
  c.credits = l.i64(0, "delta");
  Rows r = tx.query(
      "SELECT COALESCE(SUM(amount_minor), 0) AS amount, COALESCE(SUM(credits), 0) AS credits "
      "FROM credit_refunds WHERE payment_id = ? AND refund_id <> ?",
      {paymentId, exceptRefund});
  c.refundedMinor = r.i64(0, "amount");
  c.takenBack = r.i64(0, "credits");
  return c;
}

Status CreditsProduct::checkRefund(const Payment& p, const Refund& refund) {
  try {
    Status out = okStatus();
    host_.db().write([&](Tx& tx) {
      out = okStatus();
      Credited c = credited(tx, p.id, refund.id);
      if (c.credits <= 0) return;  // nothing was credited (yet): nothing to take back
      std::int64_t take =
          refundCredits(c.credits, p.amountMinor, c.refundedMinor, c.takenBack, refund.amountMinor);
      Rows b = tx.query("SELECT balance FROM credit_accounts WHERE account = ?", {c.account});
      std::int64_t bal = b.empty() ? 0 : b.i64(0, "balance");
      if (take <= bal) return;
      out = Error::make(
          ErrorCode::conflict,
          "refund " + refund.id + " of payment " + p.id + " takes back " + std::to_string(take) +
              " credits; account balance " + std::to_string(bal),
          "The credits this refund takes back were already spent: it takes back " +
              std::to_string(take) + " credit" + (take == 1 ? "" : "s") + " and the account has " +
              std::to_string(bal) +
              " left. Refund a smaller amount, or force the refund (the balance then goes to "
              "zero).");
    });
    return out;
  } catch (const DbError& e) {
    return Error::make(ErrorCode::unavailable, "credits check refund: " + std::string(e.what()),
                       "The refund could not be checked now; try again.");
  }
}

JobOutcome CreditsProduct::onPaymentRefunded(const Payment& p, const Refund& refund) {
  if (refund.id.empty()) return JobOutcome::fail("refund without an id");
  std::int64_t taken = 0, debited = 0, after = 0;
  bool already = false, none = false;
  std::string account;
  host_.db().write([&](Tx& tx) {
    taken = debited = after = 0;
    already = none = false;
    // Once per refund id, whatever runs twice.
    if (!tx.query("SELECT refund_id FROM credit_refunds WHERE refund_id = ?", {refund.id})
             .empty()) {
      already = true;
      return;
    }
    Credited c = credited(tx, p.id, refund.id);
    account = c.account;
    std::int64_t now = host_.clock().nowMs();
    if (c.credits <= 0) {
      none = true;
      return;
    }
    taken =
        refundCredits(c.credits, p.amountMinor, c.refundedMinor, c.takenBack, refund.amountMinor);
    // The balance never goes below zero: a forced refund of spent credits (or credits spent
    // between the check and now) debits what is left, and the shortfall is recorded
    // (credits - debited in credit_refunds) and logged.
    Rows b = tx.query("SELECT balance FROM credit_accounts WHERE account = ?", {c.account});
    std::int64_t bal = b.empty() ? 0 : b.i64(0, "balance");
    debited = std::min(taken, std::max<std::int64_t>(0, bal));
    if (debited > 0)
      tx.exec("UPDATE credit_accounts SET balance = balance - ?, updated_at = ? WHERE account = ?",
              {debited, now, c.account});
    after = bal - debited;
    tx.exec(
        "INSERT INTO credit_ledger (account, delta, kind, source, unique_key, balance_after, "
        "created_at) VALUES (?, ?, 'refund', ?, ?, ?, ?)",
        {c.account, -debited, p.id, "refund:" + refund.id, after, now});
    tx.exec(
        "INSERT INTO credit_refunds (refund_id, payment_id, account, amount_minor, credits, "
        "debited, forced, actor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {refund.id, p.id, c.account, refund.amountMinor, taken, debited,
         static_cast<std::int64_t>(refund.forced ? 1 : 0), refund.actor, now});
    bool full = c.refundedMinor + refund.amountMinor >= p.amountMinor;
    tx.exec("UPDATE credit_topups SET status = ? WHERE payment_id = ?",
            {full ? "REFUNDED" : "PARTIALLY_REFUNDED", p.id});
  });
  if (already) {
    host_.logger().info("credits", "refund " + refund.id + " was already taken back");
  } else if (none) {
    host_.logger().info("credits", "refund " + refund.id + " of payment " + p.id +
                                       ": the payment credited nothing");
  } else if (debited < taken) {
    host_.logger().warning(
        "credits", "refund " + refund.id + " of payment " + p.id + " takes back " +
                       std::to_string(taken) + " credits but only " + std::to_string(debited) +
                       " were left (" + (refund.forced ? "forced" : "spent") + "): balance 0");
  } else {
    host_.logger().info("credits", "refund " + refund.id + " took back " + std::to_string(debited) +
                                       " credits (balance " + std::to_string(after) + ")");
  }
  return JobOutcome::ok();
}

std::vector<CatalogItem> CreditsProduct::catalog(const std::string& channel) const {
  std::vector<CatalogItem> out;
  if (channel != "ussd_menu") return out;
  for (const auto& p : ussdPackages_) out.push_back({p.id, p.name, p.amountMinor, p.currency});
  return out;
}

Result<std::string> CreditsProduct::accountSummary(const std::string& accountId) {
  return "Balance: " + std::to_string(balance(accountId)) + " credits";
}

Result<std::string> CreditsProduct::prepareChannelSale(const CatalogItem& item,
                                                       const Customer& account) {
  const Package* pkg = findPackage(item.id, ussdPackages_);
  if (!pkg)
    return Error::make(ErrorCode::invalidInput, "unknown package " + item.id,
                       "This item is no longer sold.");
  if (account.accountId.empty())
    return Error::make(ErrorCode::invalidInput, "no account", "Missing account.");
  Poco::JSON::Object meta;
  meta.set("account", account.accountId);
  meta.set("package_id", pkg->id);
  meta.set("credits", pkg->credits);
  std::ostringstream os;
  meta.stringify(os);
  return os.str();
}

}  // namespace malipo::credits
