#include "payments/PaymentRepository.hpp"

#include <Poco/JSON/Parser.h>
#include <Poco/UUID.h>
#include <Poco/UUIDGenerator.h>

#include <cctype>
#include <random>

namespace malipo {

namespace {

const char* kColumns =
    "id, product, order_ref, provider, channel, amount_minor, currency, status, provider_ref, "
    "provider_txn_id, "
    "customer_json, description, metadata, action_json, failure_reason, created_at, updated_at, "
    "expires_at, version, "
    "fulfilment, fulfilled_at, gross_minor, fee_minor, net_minor, refunded_minor, short_ref";

const char* kAttemptColumns =
    "number, provider, provider_ref, state, txn_id, amount_minor, currency, settled, created_at, "
    "closed_at";

const char* kRefundColumns =
    "id, payment_id, idempotency_key, amount_minor, currency, status, reason, actor, forced, "
    "manual, notify, provider_refund_id, failure_reason, product_answer, checks, next_check_at, "
    "notified_at, created_at, updated_at, version";

// A stored JSON object (customer, next action); null for an empty one. One parser per thread,
// reset between rows: building a parser (and its handler) cost as much as the parse.
Poco::JSON::Object::Ptr storedObject(const std::string& text) {
  if (text.empty() || text == "{}") return nullptr;
  thread_local Poco::JSON::Parser parser;
  parser.reset();
  return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
}

Payment rowToPayment(const Rows& r, std::size_t i) {
  Payment p;
  p.id = r.str(i, "id");
  p.product = r.str(i, "product");
  p.orderRef = r.str(i, "order_ref");
  p.provider = r.str(i, "provider");
  p.channel = r.str(i, "channel");
  p.amountMinor = r.i64(i, "amount_minor");
  p.currency = r.str(i, "currency");
  p.status = parseStatus(r.str(i, "status"));
  p.providerRef = r.str(i, "provider_ref");
  p.providerTxnId = r.str(i, "provider_txn_id");
  p.description = r.str(i, "description");
  p.metadata = r.str(i, "metadata");
  p.failureReason = r.str(i, "failure_reason");
  p.createdAtMs = r.i64(i, "created_at");
  p.updatedAtMs = r.i64(i, "updated_at");
  p.expiresAtMs = r.i64(i, "expires_at");
  p.version = r.i64(i, "version");
  p.fulfilment = r.isNull(i, "fulfilment") ? "" : r.str(i, "fulfilment");
  p.fulfilledAtMs = r.isNull(i, "fulfilled_at") ? 0 : r.i64(i, "fulfilled_at");
  p.grossMinor = r.isNull(i, "gross_minor") ? -1 : r.i64(i, "gross_minor");
  p.feeMinor = r.isNull(i, "fee_minor") ? -1 : r.i64(i, "fee_minor");
  p.netMinor = r.isNull(i, "net_minor") ? -1 : r.i64(i, "net_minor");
  p.refundedMinor = r.i64(i, "refunded_minor");
  p.shortRef = r.isNull(i, "short_ref") ? "" : r.str(i, "short_ref");
  try {
    if (auto c = storedObject(r.str(i, "customer_json"))) {
      p.customer.accountId = c->optValue<std::string>("account_id", "");
      p.customer.email = c->optValue<std::string>("email", "");
      p.customer.name = c->optValue<std::string>("name", "");
      p.customer.phone = c->optValue<std::string>("phone", "");
      p.customer.country = c->optValue<std::string>("country", "");
    }
  } catch (...) {
  }
  try {
    if (auto a = storedObject(r.str(i, "action_json"))) {
      p.action.type = a->optValue<std::string>("type", "none");
      p.action.url = a->optValue<std::string>("url", "");
      p.action.ussdCode = a->optValue<std::string>("ussd_code", "");
      p.action.vendor = a->optValue<std::string>("vendor", "");
      p.action.reference = a->optValue<std::string>("reference", "");
      p.action.message = a->optValue<std::string>("message", "");
      if (auto steps = a->getArray("steps"))
        for (std::size_t k = 0; k < steps->size(); ++k)
          p.action.steps.push_back(steps->getElement<std::string>(k));
    }
  } catch (...) {
  }
  return p;
}

RefundRecord rowToRefund(const Rows& r, std::size_t i) {
  RefundRecord x;
  x.refund.id = r.str(i, "id");
  x.refund.paymentId = r.str(i, "payment_id");
  x.refund.amountMinor = r.i64(i, "amount_minor");
  x.refund.currency = r.str(i, "currency");
  x.refund.reason = r.str(i, "reason");
  x.refund.actor = r.str(i, "actor");
  x.refund.forced = r.i64(i, "forced") != 0;
  x.idempotencyKey = r.str(i, "idempotency_key");
  x.state = parseRefundState(r.str(i, "status"));
  x.manual = r.i64(i, "manual") != 0;
  x.notify = r.i64(i, "notify") != 0;
  x.providerRefundId = r.isNull(i, "provider_refund_id") ? "" : r.str(i, "provider_refund_id");
  x.failureReason = r.str(i, "failure_reason");
  x.productAnswer = r.str(i, "product_answer");
  x.checks = static_cast<int>(r.i64(i, "checks"));
  x.nextCheckAtMs = r.i64(i, "next_check_at");
  x.notifiedAtMs = r.isNull(i, "notified_at") ? 0 : r.i64(i, "notified_at");
  x.createdAtMs = r.i64(i, "created_at");
  x.updatedAtMs = r.i64(i, "updated_at");
  x.version = r.i64(i, "version");
  return x;
}

template <class Q>
std::optional<Payment> findIn(Q& q, const std::string& id) {
  Rows r = q.query(std::string("SELECT ") + kColumns + " FROM payments WHERE id = ?", {id});
  if (r.empty()) return std::nullopt;
  return rowToPayment(r, 0);
}

template <class Q>
std::vector<PaymentAttempt> attemptsIn(Q& q, const std::string& paymentId) {
  Rows r = q.query(std::string("SELECT ") + kAttemptColumns +
                       " FROM payment_attempts WHERE payment_id = ? ORDER BY number",
                   {paymentId});
  std::vector<PaymentAttempt> out;
  for (std::size_t i = 0; i < r.size(); ++i) {
    PaymentAttempt a;
    a.number = static_cast<int>(r.i64(i, "number"));
    a.provider = r.str(i, "provider");
    a.providerRef = r.isNull(i, "provider_ref") ? "" : r.str(i, "provider_ref");
    a.state = r.str(i, "state");
    a.txnId = r.isNull(i, "txn_id") ? "" : r.str(i, "txn_id");
    a.amountMinor = r.isNull(i, "amount_minor") ? -1 : r.i64(i, "amount_minor");
    a.currency = r.isNull(i, "currency") ? "" : r.str(i, "currency");
    a.settled = r.i64(i, "settled") != 0;
    a.createdAtMs = r.i64(i, "created_at");
    a.closedAtMs = r.isNull(i, "closed_at") ? 0 : r.i64(i, "closed_at");
    out.push_back(std::move(a));
  }
  return out;
}

template <class Q>
Reported reportedIn(Q& q, const std::string& id) {
  Rows r = q.query(
      "SELECT reported_amount_minor, reported_currency, reported_txn_id, resolution FROM payments "
      "WHERE id = ?",
      {id});
  Reported x;
  if (r.empty()) return x;
  x.amountMinor = r.isNull(0, "reported_amount_minor") ? -1 : r.i64(0, "reported_amount_minor");
  x.currency = r.isNull(0, "reported_currency") ? "" : r.str(0, "reported_currency");
  x.txnId = r.isNull(0, "reported_txn_id") ? "" : r.str(0, "reported_txn_id");
  x.resolution = r.isNull(0, "resolution") ? "" : r.str(0, "resolution");
  return x;
}

template <class Q>
std::optional<RefundRecord> findRefundIn(Q& q, const std::string& id) {
  Rows r = q.query(std::string("SELECT ") + kRefundColumns + " FROM refunds WHERE id = ?", {id});
  if (r.empty()) return std::nullopt;
  return rowToRefund(r, 0);
}

template <class Q>
void totalsIn(Q& tx, const std::string& paymentId, std::int64_t& succeeded,
              std::int64_t& inFlight) {
  Rows r = tx.query(
      "SELECT status, COALESCE(SUM(amount_minor), 0) AS total FROM refunds WHERE payment_id = ? "
      "GROUP BY status",
      {paymentId});
  succeeded = inFlight = 0;
  for (std::size_t i = 0; i < r.size(); ++i) {
    std::string s = r.str(i, "status");
    if (s == "succeeded")
      succeeded += r.i64(i, "total");
    else if (s == "requested" || s == "pending")
      inFlight += r.i64(i, "total");
  }
}

}  // namespace

const char* refundStateName(RefundState s) {
  switch (s) {
    case RefundState::requested:
      return "requested";
    case RefundState::pending:
      return "pending";
    case RefundState::succeeded:
      return "succeeded";
    case RefundState::failed:
      return "failed";
  }
  return "requested";
}

RefundState parseRefundState(const std::string& s) {
  if (s == "pending") return RefundState::pending;
  if (s == "succeeded") return RefundState::succeeded;
  if (s == "failed") return RefundState::failed;
  return RefundState::requested;
}

std::vector<Migration> PaymentRepository::migrations() {
  Migration m;
  m.version = 1;
  m.description = "payments, payment events";
  m.sqlite =
      "CREATE TABLE payments (id TEXT PRIMARY KEY, product TEXT NOT NULL, order_ref TEXT NOT NULL, "
      "provider TEXT NOT NULL, "
      "channel TEXT NOT NULL DEFAULT '', amount_minor BIGINT NOT NULL, currency TEXT NOT NULL, "
      "status TEXT NOT NULL, "
      "provider_ref TEXT, provider_txn_id TEXT, customer_json TEXT NOT NULL DEFAULT '{}', "
      "description TEXT NOT NULL DEFAULT '', "
      "metadata TEXT NOT NULL DEFAULT '', action_json TEXT NOT NULL DEFAULT '', failure_reason "
      "TEXT NOT NULL DEFAULT '', "
      "checks BIGINT NOT NULL DEFAULT 0, next_check_at BIGINT NOT NULL DEFAULT 0, expires_at "
      "BIGINT NOT NULL DEFAULT 0, "
      "created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, version BIGINT NOT NULL DEFAULT 1);"
      "CREATE UNIQUE INDEX payments_provider_txn ON payments (provider, provider_txn_id);"
      "CREATE INDEX payments_provider_ref ON payments (provider, provider_ref);"
      "CREATE INDEX payments_due ON payments (status, next_check_at);"
      "CREATE INDEX payments_order ON payments (product, order_ref);"
      "CREATE TABLE payment_events (id INTEGER PRIMARY KEY, payment_id TEXT, provider TEXT NOT "
      "NULL, kind TEXT NOT NULL, "
      "provider_event_id TEXT, detail TEXT NOT NULL DEFAULT '', created_at BIGINT NOT NULL);"
      "CREATE UNIQUE INDEX payment_events_dedup ON payment_events (provider, provider_event_id);"
      "CREATE INDEX payment_events_payment ON payment_events (payment_id)";
  m.postgresql = m.sqlite;
  auto pos = m.postgresql.find("id INTEGER PRIMARY KEY, payment_id");
  m.postgresql.replace(pos, std::string("id INTEGER PRIMARY KEY").size(),
                       "id BIGSERIAL PRIMARY KEY");
  Migration f;
  f.version = 2;
  f.description = "fulfilment of succeeded payments";
  f.sqlite =
      "ALTER TABLE payments ADD COLUMN fulfilment TEXT;"
      "ALTER TABLE payments ADD COLUMN fulfilled_at BIGINT;"
      "ALTER TABLE payments ADD COLUMN fulfilment_error TEXT;"
      "UPDATE payments SET fulfilment = 'done' WHERE status = 'succeeded'";
  f.postgresql = f.sqlite;
  Migration fees;
  fees.version = 3;
  fees.description = "gross, fee and net as the provider reported them";
  fees.sqlite =
      "ALTER TABLE payments ADD COLUMN gross_minor BIGINT;"
      "ALTER TABLE payments ADD COLUMN fee_minor BIGINT;"
      "ALTER TABLE payments ADD COLUMN net_minor BIGINT";
  fees.postgresql = fees.sqlite;
  Migration push;
  push.version = 4;
  push.description = "payment prompts sent, per phone number (push limits)";
  push.sqlite =
      "CREATE TABLE payment_pushes (msisdn TEXT NOT NULL, payment_id TEXT NOT NULL, created_at "
      "BIGINT NOT NULL);"
      "CREATE INDEX payment_pushes_msisdn ON payment_pushes (msisdn, created_at);"
      "CREATE INDEX payment_pushes_payment ON payment_pushes (payment_id, created_at)";
  push.postgresql = push.sqlite;
  Migration refunds;
  refunds.version = 5;
  refunds.description = "refunds; what a held payment was paid; operators' resolutions";
  refunds.sqlite =
      "ALTER TABLE payments ADD COLUMN refunded_minor BIGINT NOT NULL DEFAULT 0;"
      "ALTER TABLE payments ADD COLUMN reported_amount_minor BIGINT;"
      "ALTER TABLE payments ADD COLUMN reported_currency TEXT;"
      "ALTER TABLE payments ADD COLUMN reported_txn_id TEXT;"
      "ALTER TABLE payments ADD COLUMN resolution TEXT;"
      "CREATE TABLE refunds (id TEXT PRIMARY KEY, payment_id TEXT NOT NULL, idempotency_key TEXT "
      "NOT NULL, amount_minor BIGINT NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL, "
      "reason TEXT NOT NULL DEFAULT '', actor TEXT NOT NULL DEFAULT '', forced BIGINT NOT NULL "
      "DEFAULT 0, manual BIGINT NOT NULL DEFAULT 0, notify BIGINT NOT NULL DEFAULT 1, "
      "provider_refund_id TEXT, failure_reason TEXT NOT NULL DEFAULT '', product_answer TEXT NOT "
      "NULL DEFAULT '', checks BIGINT NOT NULL DEFAULT 0, next_check_at BIGINT NOT NULL DEFAULT 0, "
      "notified_at BIGINT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, version BIGINT "
      "NOT NULL DEFAULT 1);"
      "CREATE UNIQUE INDEX refunds_key ON refunds (payment_id, idempotency_key);"
      "CREATE INDEX refunds_due ON refunds (status, next_check_at)";
  refunds.postgresql = refunds.sqlite;
  // SDK 1.1: several attempts per payment, and a short reference. Every payment gets its
  // attempt 1 (its provider reference as it stands).
  Migration attempts;
  attempts.version = 6;
  attempts.description = "payment attempts; short references";
  attempts.sqlite =
      "ALTER TABLE payments ADD COLUMN short_ref TEXT;"
      "CREATE UNIQUE INDEX payments_short_ref ON payments (short_ref);"
      "CREATE TABLE payment_attempts (payment_id TEXT NOT NULL, number BIGINT NOT NULL, provider "
      "TEXT NOT NULL, provider_ref TEXT, state TEXT NOT NULL, txn_id TEXT, amount_minor BIGINT, "
      "currency TEXT, settled BIGINT NOT NULL DEFAULT 0, created_at BIGINT NOT NULL, closed_at "
      "BIGINT, PRIMARY KEY (payment_id, number));"
      "CREATE INDEX payment_attempts_ref ON payment_attempts (provider, provider_ref);"
      "INSERT INTO payment_attempts (payment_id, number, provider, provider_ref, state, txn_id, "
      "settled, created_at, closed_at) SELECT id, 1, provider, provider_ref, CASE WHEN status IN "
      "('created', 'pending', 'unknown') THEN 'open' WHEN status = 'succeeded' THEN 'succeeded' "
      "WHEN status = 'failed' THEN 'failed' ELSE 'closed' END, provider_txn_id, CASE WHEN status "
      "= 'succeeded' THEN 1 ELSE 0 END, created_at, CASE WHEN status IN ('created', 'pending', "
      "'unknown') THEN NULL ELSE updated_at END FROM payments";
  attempts.postgresql = attempts.sqlite;
  return {m, f, fees, push, refunds, attempts};
}

std::optional<Payment> PaymentRepository::find(Database& db, const std::string& id) {
  return findIn(db, id);
}
std::optional<Payment> PaymentRepository::find(Tx& tx, const std::string& id) {
  return findIn(tx, id);
}
Reported PaymentRepository::reported(Database& db, const std::string& id) {
  return reportedIn(db, id);
}
Reported PaymentRepository::reported(Tx& tx, const std::string& id) {
  return reportedIn(tx, id);
}

std::vector<Payment> PaymentRepository::list(Database& db, const std::string& status, int limit) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM payments";
  Params p;
  if (!status.empty()) {
    sql += " WHERE status = ?";
    p.push_back(status);
  }
  sql += " ORDER BY created_at DESC LIMIT ?";
  p.push_back(static_cast<std::int64_t>(limit));
  Rows r = db.query(sql, p);
  std::vector<Payment> out;
  for (std::size_t i = 0; i < r.size(); ++i) out.push_back(rowToPayment(r, i));
  return out;
}

std::vector<PaymentEvent> PaymentRepository::events(Database& db, const std::string& paymentId) {
  Rows r = db.query(
      "SELECT id, kind, detail, provider_event_id, created_at FROM payment_events WHERE payment_id "
      "= ? ORDER BY id",
      {paymentId});
  std::vector<PaymentEvent> out;
  for (std::size_t i = 0; i < r.size(); ++i)
    out.push_back({r.i64(i, "id"), r.str(i, "kind"), r.str(i, "detail"),
                   r.str(i, "provider_event_id"), r.i64(i, "created_at")});
  return out;
}

void PaymentRepository::insert(Tx& tx, const Payment& p, const std::string& customerJson,
                               std::int64_t firstCheckAtMs) {
  tx.exec(
      "INSERT INTO payments (id, product, order_ref, provider, channel, amount_minor, currency, "
      "status, customer_json, "
      "description, metadata, next_check_at, expires_at, created_at, updated_at, version, "
      "short_ref) VALUES (?, ?, ?, ?, ?, ?, ?, 'created', ?, ?, ?, ?, ?, ?, ?, 1, ?)",
      {p.id, p.product, p.orderRef, p.provider, p.channel, p.amountMinor, p.currency, customerJson,
       p.description, p.metadata, firstCheckAtMs, p.expiresAtMs, p.createdAtMs, p.updatedAtMs,
       p.shortRef.empty() ? Value(Null{}) : Value(p.shortRef)});
  openAttempt(tx, p.id, p.provider, "", p.createdAtMs);
}

void PaymentRepository::event(Tx& tx, std::int64_t nowMs, const std::string& paymentId,
                              const std::string& provider, const std::string& kind,
                              const std::string& detail, const std::string& providerEventId) {
  tx.exec(
      "INSERT INTO payment_events (payment_id, provider, kind, provider_event_id, detail, "
      "created_at) VALUES (?, ?, ?, ?, ?, ?)",
      {paymentId.empty() ? Value(Null{}) : Value(paymentId), provider, kind,
       providerEventId.empty() ? Value(Null{}) : Value(providerEventId), detail, nowMs});
}

namespace {
// The columns both compare-and-sets write, on the caller's copy.
void moved(const Payment& p, PaymentStatus to, const std::string& reason, std::int64_t nowMs,
           Payment& row) {
  row = p;
  row.status = to;
  row.failureReason = reason;
  ++row.version;
  row.updatedAtMs = nowMs;
}
}  // namespace

bool PaymentRepository::setStatus(Tx& tx, const Payment& p, PaymentStatus to,
                                  const std::string& reason, std::int64_t nowMs, Payment* row) {
  if (tx.exec("UPDATE payments SET status = ?, failure_reason = ?, version = version + 1, "
              "updated_at = ? WHERE id = ? AND version = ?",
              {statusName(to), reason, nowMs, p.id, p.version}) != 1)
    return false;
  if (row) moved(p, to, reason, nowMs, *row);
  return true;
}

std::string PaymentRepository::newId(std::int64_t nowMs) {
  unsigned char b[16];
  Poco::UUIDGenerator::defaultGenerator().createRandom().copyTo(reinterpret_cast<char*>(b));
  const auto ms = static_cast<std::uint64_t>(nowMs);
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x70);  // version 7
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 9562 variant
  Poco::UUID id;
  id.copyFrom(reinterpret_cast<const char*>(b));
  return id.toString();
}

bool PaymentRepository::settle(Tx& tx, const Payment& p, const ProviderStatus& report,
                               const std::string& reason, std::int64_t nowMs, Payment* row) {
  if (tx.exec("UPDATE payments SET status = 'succeeded', failure_reason = ?, version = version + "
              "1, updated_at = ?, provider_txn_id = ?, gross_minor = ?, fee_minor = ?, net_minor "
              "= ?, fulfilment = 'pending' WHERE id = ? AND version = ?",
              {reason, nowMs, report.providerTxnId, orNull(report.grossMinor),
               orNull(report.feeMinor), orNull(report.netMinor), p.id, p.version}) != 1)
    return false;
  if (row) {
    moved(p, PaymentStatus::succeeded, reason, nowMs, *row);
    row->providerTxnId = report.providerTxnId;
    row->grossMinor = report.grossMinor;
    row->feeMinor = report.feeMinor;
    row->netMinor = report.netMinor;
    row->fulfilment = "pending";
  }
  return true;
}

std::vector<PaymentAttempt> PaymentRepository::attempts(Database& db,
                                                        const std::string& paymentId) {
  return attemptsIn(db, paymentId);
}
std::vector<PaymentAttempt> PaymentRepository::attempts(Tx& tx, const std::string& paymentId) {
  return attemptsIn(tx, paymentId);
}

int PaymentRepository::openAttempt(Tx& tx, const std::string& paymentId,
                                   const std::string& provider, const std::string& providerRef,
                                   std::int64_t nowMs) {
  Rows r =
      tx.query("SELECT COALESCE(MAX(number), 0) AS n FROM payment_attempts WHERE payment_id = ?",
               {paymentId});
  int number = static_cast<int>(r.i64(0, "n")) + 1;
  tx.exec(
      "INSERT INTO payment_attempts (payment_id, number, provider, provider_ref, state, "
      "created_at) VALUES (?, ?, ?, ?, 'open', ?)",
      {paymentId, static_cast<std::int64_t>(number), provider,
       providerRef.empty() ? Value(Null{}) : Value(providerRef), nowMs});
  return number;
}

void PaymentRepository::setAttempt(Tx& tx, const std::string& paymentId, int number,
                                   const std::string& state, std::int64_t nowMs,
                                   const std::string& txnId, std::int64_t amountMinor,
                                   const std::string& currency, bool settled) {
  tx.exec(
      "UPDATE payment_attempts SET state = ?, closed_at = ?, txn_id = COALESCE(?, txn_id), "
      "amount_minor = COALESCE(?, amount_minor), currency = COALESCE(?, currency), settled = "
      "CASE WHEN ? = 1 THEN 1 ELSE settled END WHERE payment_id = ? AND number = ?",
      {state, state == "open" ? Value(Null{}) : Value(nowMs),
       txnId.empty() ? Value(Null{}) : Value(txnId),
       amountMinor >= 0 ? Value(amountMinor) : Value(Null{}),
       currency.empty() ? Value(Null{}) : Value(currency), static_cast<std::int64_t>(settled),
       paymentId, static_cast<std::int64_t>(number)});
}

void PaymentRepository::closeOpenAttempts(Tx& tx, const std::string& paymentId, int except,
                                          std::int64_t nowMs) {
  tx.exec(
      "UPDATE payment_attempts SET state = 'closed', closed_at = ? WHERE payment_id = ? AND "
      "number <> ? AND state = 'open'",
      {nowMs, paymentId, static_cast<std::int64_t>(except)});
}

std::string PaymentRepository::paymentIdByRef(Tx& tx, const std::string& provider,
                                              const std::string& ref) {
  Rows r = tx.query(
      "SELECT payment_id FROM payment_attempts WHERE provider = ? AND provider_ref = ? ORDER BY "
      "created_at DESC",
      {provider, ref});
  if (!r.empty()) return r.str(0, "payment_id");
  r = tx.query("SELECT id FROM payments WHERE provider = ? AND provider_ref = ?", {provider, ref});
  return r.empty() ? "" : r.str(0, "id");
}

std::vector<Payment> PaymentRepository::search(Database& db, const std::string& text) {
  std::string q = text;
  for (auto& c : q) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  Rows r = db.query(std::string("SELECT ") + kColumns +
                        " FROM payments WHERE id = ? OR short_ref = ? OR provider_ref = ? OR id IN "
                        "(SELECT payment_id FROM payment_attempts WHERE provider_ref = ?) ORDER "
                        "BY created_at DESC LIMIT 100",
                    {text, q, text, text});
  std::vector<Payment> out;
  for (std::size_t i = 0; i < r.size(); ++i) out.push_back(rowToPayment(r, i));
  return out;
}

std::string PaymentRepository::newShortRef(Tx& tx, int length, const std::string& charset) {
  static const std::string crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ", digits = "0123456789";
  const std::string& alphabet = charset == "digits" ? digits : crockford;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  // 32^10 (or 10^10) values: a clash is rare; the unique index is the last word.
  for (int tries = 0;; ++tries) {
    std::string ref;
    for (int i = 0; i < length; ++i) ref += alphabet[pick(rng)];
    if (tries >= 8 || tx.query("SELECT id FROM payments WHERE short_ref = ?", {ref}).empty())
      return ref;
  }
}

std::optional<RefundRecord> PaymentRepository::findRefund(Database& db, const std::string& id) {
  return findRefundIn(db, id);
}
std::optional<RefundRecord> PaymentRepository::findRefund(Tx& tx, const std::string& id) {
  return findRefundIn(tx, id);
}

std::optional<RefundRecord> PaymentRepository::findRefundByKey(Tx& tx, const std::string& paymentId,
                                                               const std::string& key) {
  Rows r = tx.query(std::string("SELECT ") + kRefundColumns +
                        " FROM refunds WHERE payment_id = ? AND idempotency_key = ?",
                    {paymentId, key});
  if (r.empty()) return std::nullopt;
  return rowToRefund(r, 0);
}

std::vector<RefundRecord> PaymentRepository::refunds(Database& db, const std::string& paymentId) {
  Rows r = db.query(std::string("SELECT ") + kRefundColumns +
                        " FROM refunds WHERE payment_id = ? ORDER BY created_at, id",
                    {paymentId});
  std::vector<RefundRecord> out;
  for (std::size_t i = 0; i < r.size(); ++i) out.push_back(rowToRefund(r, i));
  return out;
}

void PaymentRepository::refundTotals(Tx& tx, const std::string& paymentId, std::int64_t& succeeded,
                                     std::int64_t& inFlight) {
  totalsIn(tx, paymentId, succeeded, inFlight);
}
void PaymentRepository::refundTotals(Database& db, const std::string& paymentId,
                                     std::int64_t& succeeded, std::int64_t& inFlight) {
  totalsIn(db, paymentId, succeeded, inFlight);
}

void PaymentRepository::insertRefund(Tx& tx, const RefundRecord& r) {
  tx.exec(
      "INSERT INTO refunds (id, payment_id, idempotency_key, amount_minor, currency, status, "
      "reason, actor, forced, manual, notify, provider_refund_id, product_answer, next_check_at, "
      "created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
      {r.refund.id, r.refund.paymentId, r.idempotencyKey, r.refund.amountMinor, r.refund.currency,
       refundStateName(r.state), r.refund.reason, r.refund.actor,
       static_cast<std::int64_t>(r.refund.forced), static_cast<std::int64_t>(r.manual),
       static_cast<std::int64_t>(r.notify),
       r.providerRefundId.empty() ? Value(Null{}) : Value(r.providerRefundId), r.productAnswer,
       r.nextCheckAtMs, r.createdAtMs, r.updatedAtMs});
}

bool PaymentRepository::setRefundState(Tx& tx, const RefundRecord& r, RefundState to,
                                       const std::string& providerRefundId,
                                       const std::string& failureReason, std::int64_t nextCheckAtMs,
                                       std::int64_t nowMs) {
  return tx.exec(
             "UPDATE refunds SET status = ?, provider_refund_id = COALESCE(?, "
             "provider_refund_id), failure_reason = ?, next_check_at = ?, updated_at = ?, "
             "version = version + 1 WHERE id = ? AND version = ?",
             {refundStateName(to),
              providerRefundId.empty() ? Value(Null{}) : Value(providerRefundId), failureReason,
              nextCheckAtMs, nowMs, r.refund.id, r.version}) == 1;
}

}  // namespace malipo
