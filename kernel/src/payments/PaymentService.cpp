#include "payments/PaymentService.hpp"

#include <Poco/DateTimeFormatter.h>
#include <Poco/DigestEngine.h>
#include <Poco/JSON/Parser.h>
#include <Poco/SHA2Engine.h>
#include <Poco/Timestamp.h>
#include <Poco/UUIDGenerator.h>

#include <algorithm>
#include <chrono>

#include "malipo/money.hpp"

namespace malipo {

namespace {

const char* kColumns =
    "id, product, order_ref, provider, channel, amount_minor, currency, status, provider_ref, "
    "provider_txn_id, "
    "customer_json, description, metadata, action_json, failure_reason, created_at, updated_at, "
    "expires_at, version, "
    "fulfilment, fulfilled_at, gross_minor, fee_minor, net_minor";

std::string customerJson(const Customer& c) {
  Poco::JSON::Object o;
  o.set("account_id", c.accountId);
  o.set("email", c.email);
  o.set("name", c.name);
  o.set("phone", c.phone);
  std::ostringstream os;
  o.stringify(os);
  return os.str();
}

constexpr std::size_t kMaxStoredEventId = 128, kMaxStoredSummary = 256;

std::string sha256Hex(const std::string& text) {
  Poco::SHA2Engine sha;
  sha.update(text);
  return Poco::DigestEngine::digestToHex(sha.digest());
}

// At most `max` bytes of `text`, cut before a UTF-8 continuation byte, "…" when cut.
std::string truncateUtf8(const std::string& text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xc0) == 0x80) --n;
  return text.substr(0, n) + "…";
}

Value orNull(std::int64_t minor) {
  return minor >= 0 ? Value(minor) : Value(Null{});
}

std::string actionJson(const NextAction& a) {
  std::ostringstream os;
  a.toJson().stringify(os);
  return os.str();
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
  try {
    auto c =
        Poco::JSON::Parser().parse(r.str(i, "customer_json")).extract<Poco::JSON::Object::Ptr>();
    p.customer.accountId = c->optValue<std::string>("account_id", "");
    p.customer.email = c->optValue<std::string>("email", "");
    p.customer.name = c->optValue<std::string>("name", "");
    p.customer.phone = c->optValue<std::string>("phone", "");
  } catch (...) {
  }
  try {
    std::string aj = r.str(i, "action_json");
    if (!aj.empty()) {
      auto a = Poco::JSON::Parser().parse(aj).extract<Poco::JSON::Object::Ptr>();
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

template <class F>
auto guarded(F&& f, const std::string& what) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return Error::make(ErrorCode::providerError, what + " threw: " + e.what(),
                       "The payment provider failed.");
  } catch (...) {
    return Error::make(ErrorCode::providerError, what + " threw", "The payment provider failed.");
  }
}

// A provider call through the provider's bulkhead: past its limit the call is not made and
// the caller gets 503 with Retry-After at once (isBulkheadFull).
template <class F>
auto guarded(Bulkheads& bulkheads, Metrics& metrics, const std::string& provider, F&& f,
             const std::string& what) -> decltype(f()) {
  Bulkheads::Slot slot(bulkheads, provider);
  if (!slot.ok()) {
    metrics.increment("malipo_provider_bulkhead_refused_total", {{"provider", provider}});
    return Error::make(ErrorCode::unavailable,
                       what + ": " + std::to_string(bulkheads.limit(provider)) +
                           " calls already in flight (bulkhead full)",
                       "The payment provider is busy. Please retry in a moment.")
        .retryAfter(1);
  }
  // Latency by provider and operation (`what` is "provider.operation"), and errors by code.
  const std::string operation = what.substr(provider.size() + 1);
  auto started = std::chrono::steady_clock::now();
  auto result = guarded(std::forward<F>(f), what);
  metrics.observe(
      "malipo_provider_call_duration_seconds", {{"provider", provider}, {"operation", operation}},
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  if (!result.ok())
    metrics.increment("malipo_provider_call_errors_total",
                      {{"provider", provider},
                       {"operation", operation},
                       {"code", errorCodeName(result.error().code)}});
  return result;
}

bool isBulkheadFull(const Error& e) {
  return e.code == ErrorCode::unavailable && e.retryAfterSeconds > 0;
}

}  // namespace

PaymentService::PaymentService(Store& store, JobQueueImpl& jobs, const Clock& clock, Logger& log,
                               Metrics& metrics, PaymentOptions options)
    : store_(store),
      jobs_(jobs),
      clock_(clock),
      log_(log),
      metrics_(metrics),
      opts_(std::move(options)) {
  metrics_.describe("malipo_payments_transitions_total",
                    "payment state changes by provider and new status", "counter");
  metrics_.describe("malipo_webhooks_total", "webhook deliveries by provider and outcome",
                    "counter");
  metrics_.describe("malipo_provider_call_duration_seconds",
                    "provider calls by provider and operation (latency)", "histogram");
  metrics_.describe("malipo_provider_call_errors_total",
                    "failed provider calls by provider, operation and error code", "counter");
}

std::vector<Migration> PaymentService::migrations() {
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
  return {m, f, fees, push};
}

void PaymentService::addProvider(std::shared_ptr<PaymentProvider> p) {
  if (!providers_.emplace(p->name(), p).second)
    throw std::logic_error("two providers named '" + p->name() + "'");
}
void PaymentService::addProduct(std::shared_ptr<Product> p) {
  if (!products_.emplace(p->name(), p).second)
    throw std::logic_error("two products named '" + p->name() + "'");
  productOrder_.push_back(p->name());
}

std::shared_ptr<PaymentProvider> PaymentService::provider(const std::string& name) {
  auto it = providers_.find(name);
  return it == providers_.end() ? nullptr : it->second;
}
std::shared_ptr<Product> PaymentService::product(const std::string& name) {
  auto it = products_.find(name);
  return it == products_.end() ? nullptr : it->second;
}

bool PaymentService::breakerOpen(const std::string& provider) {
  std::lock_guard<std::mutex> lock(breakerMutex_);
  return breakers_[provider].openUntil > clock_.nowMs();
}

void PaymentService::breakerResult(const std::string& provider, bool ok) {
  std::lock_guard<std::mutex> lock(breakerMutex_);
  Breaker& b = breakers_[provider];
  if (ok) {
    b.failures = 0;
    return;
  }
  if (++b.failures >= opts_.breakerThreshold) {
    b.openUntil = clock_.nowMs() + opts_.breakerOpenMs;
    b.failures = 0;
    log_.warning("payments", "provider " + provider + " failed repeatedly: skipped for " +
                                 std::to_string(opts_.breakerOpenMs / 1000) + " s");
  }
}

void PaymentService::event(Tx& tx, const std::string& paymentId, const std::string& provider,
                           const std::string& kind, const std::string& detail,
                           const std::string& providerEventId) {
  tx.exec(
      "INSERT INTO payment_events (payment_id, provider, kind, provider_event_id, detail, "
      "created_at) VALUES (?, ?, ?, ?, ?, ?)",
      {paymentId.empty() ? Value(Null{}) : Value(paymentId), provider, kind,
       providerEventId.empty() ? Value(Null{}) : Value(providerEventId), detail, clock_.nowMs()});
}

bool PaymentService::transition(Tx& tx, const Payment& p, PaymentStatus to,
                                const std::string& reason) {
  std::int64_t n = tx.exec(
      "UPDATE payments SET status = ?, failure_reason = ?, version = version + 1, updated_at = ? "
      "WHERE id = ? AND version = ?",
      {statusName(to), reason, clock_.nowMs(), p.id, p.version});
  if (n != 1) return false;
  event(tx, p.id, p.provider, "transition",
        std::string(statusName(p.status)) + " -> " + statusName(to) +
            (reason.empty() ? "" : ": " + reason));
  metrics_.increment("malipo_payments_transitions_total",
                     {{"provider", p.provider}, {"status", statusName(to)}});
  log_.info("payments", p.id + " " + statusName(p.status) + " -> " + statusName(to));
  return true;
}

Result<Payment> PaymentService::load(const std::string& id) {
  Rows r = store_.query(std::string("SELECT ") + kColumns + " FROM payments WHERE id = ?", {id});
  if (r.empty()) return Error::make(ErrorCode::notFound, "no payment " + id, "Payment not found.");
  return rowToPayment(r, 0);
}

std::optional<Payment> PaymentService::loadByProviderRef(const std::string& provider,
                                                         const std::string& ref) {
  Rows r = store_.query(
      std::string("SELECT ") + kColumns + " FROM payments WHERE provider = ? AND provider_ref = ?",
      {provider, ref});
  if (r.empty()) return std::nullopt;
  return rowToPayment(r, 0);
}

Result<Payment> PaymentService::create(const CreatePayment& request) {
  CreatePayment req = request;  // `push` is dropped when the customer's number had enough prompts
  if (req.amountMinor <= 0)
    return Error::make(ErrorCode::invalidInput, "amount must be positive", "Invalid amount.");
  if (!validCurrency(req.currency))
    return Error::make(ErrorCode::invalidInput, "invalid currency", "Invalid currency.");
  if (!product(req.product))
    return Error::make(ErrorCode::internal, "product '" + req.product + "' is not registered",
                       "Product unavailable.");
  std::vector<std::string> names = req.providers;
  if (names.empty())
    for (const auto& kv : providers_) names.push_back(kv.first);
  std::vector<std::shared_ptr<PaymentProvider>> candidates;
  for (const auto& n : names) {
    auto p = provider(n);
    if (!p) continue;
    Capabilities caps = p->capabilities();
    bool currencyOk = std::find(caps.currencies.begin(), caps.currencies.end(), req.currency) !=
                      caps.currencies.end();
    bool channelOk = req.channel.empty() || std::find(caps.channels.begin(), caps.channels.end(),
                                                      req.channel) != caps.channels.end();
    if (!currencyOk || !channelOk) continue;
    if (breakerOpen(n)) {
      log_.info("payments", "skipping provider " + n + ": circuit open");
      continue;
    }
    candidates.push_back(p);
  }
  if (candidates.empty())
    return Error::make(ErrorCode::unavailable,
                       "no provider for " + req.currency +
                           (req.channel.empty() ? "" : "/" + req.channel) + " is available",
                       "No payment method is available right now. Please try again later.");

  Payment p;
  p.id = Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
  p.product = req.product;
  p.orderRef = req.orderRef;
  p.provider = candidates.front()->name();
  p.channel = req.channel;
  p.amountMinor = req.amountMinor;
  p.currency = req.currency;
  p.customer = req.customer;
  p.description = req.description;
  p.metadata = req.metadata;
  std::int64_t now = clock_.nowMs();
  p.createdAtMs = p.updatedAtMs = now;
  p.version = 1;
  store_.write([&](Tx& tx) {
    tx.exec(
        "INSERT INTO payments (id, product, order_ref, provider, channel, amount_minor, currency, "
        "status, customer_json, "
        "description, metadata, next_check_at, expires_at, created_at, updated_at, version) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 'created', ?, ?, ?, ?, ?, ?, ?, 1)",
        {p.id, p.product, p.orderRef, p.provider, p.channel, p.amountMinor, p.currency,
         customerJson(p.customer), p.description, p.metadata, now + 600000,
         now + opts_.defaultExpiryMs, now, now});
    event(tx, p.id, p.provider, "created",
          formatMajor(p.amountMinor, p.currency) + " " + p.currency + " for " + p.product);
    if (req.push && !req.customer.phone.empty()) {
      if (int wait = takePushSlot(tx, p.id, req.customer.phone)) {
        req.push = false;
        event(tx, p.id, p.provider, "push_limited",
              "no prompt: this number had enough of them (next in " + std::to_string(wait) + " s)");
      }
    }
  });

  Error last =
      Error::make(ErrorCode::providerError, "no provider tried", "Failed to initiate payment");
  for (const auto& prov : candidates) {
    if (prov->name() != p.provider) {
      store_.write([&](Tx& tx) {
        tx.exec(
            "UPDATE payments SET provider = ?, version = version + 1 WHERE id = ? AND version = ?",
            {prov->name(), p.id, p.version});
        event(tx, p.id, prov->name(), "fallback",
              "trying " + prov->name() + " after " + p.provider + " failed");
      });
      p.provider = prov->name();
      ++p.version;
    }
    auto res = guarded(
        bulkheads_, metrics_, p.provider,
        [&]() -> Result<InitiateResult> { return prov->initiate(p, req); },
        p.provider + ".initiate");
    if (res.ok()) {
      breakerResult(p.provider, true);
      const InitiateResult& ir = res.value();
      std::int64_t t = clock_.nowMs();
      std::int64_t expires = ir.expiresAtMs > 0 ? ir.expiresAtMs : t + opts_.defaultExpiryMs;
      bool moved = false;
      store_.write([&](Tx& tx) {
        tx.exec(
            "UPDATE payments SET provider_ref = ?, action_json = ?, expires_at = ?, next_check_at "
            "= ? WHERE id = ?",
            {ir.providerRef, actionJson(ir.action), expires, t + nextCheckDelayMs(0), p.id});
        event(tx, p.id, p.provider, "initiated",
              "provider_ref " + ir.providerRef + ", action " + ir.action.type);
        moved = transition(tx, p, PaymentStatus::pending, "");
      });
      if (!moved) return load(p.id);  // a webhook was faster: its state stands
      p.status = PaymentStatus::pending;
      p.providerRef = ir.providerRef;
      p.action = ir.action;
      p.expiresAtMs = expires;
      ++p.version;
      return p;
    }
    last = res.error();
    log_.warning("payments", p.id + " initiate via " + p.provider + " failed: " + last.internal);
    if (last.code == ErrorCode::providerTimeout) {
      // The provider may have created the order: never try a second one; find out later.
      breakerResult(p.provider, false);
      store_.write([&](Tx& tx) {
        event(tx, p.id, p.provider, "initiate_timeout", last.internal);
        tx.exec("UPDATE payments SET next_check_at = ? WHERE id = ?",
                {clock_.nowMs() + 30000, p.id});
        if (transition(tx, p, PaymentStatus::unknown, "")) ++p.version;
      });
      p.status = PaymentStatus::unknown;
      return p;
    }
    if (last.code != ErrorCode::invalidInput && !isBulkheadFull(last))
      breakerResult(p.provider, false);
    store_.write([&](Tx& tx) { event(tx, p.id, p.provider, "initiate_failed", last.internal); });
    if (last.code == ErrorCode::invalidInput) break;  // another provider would refuse it too
  }
  store_.write([&](Tx& tx) { transition(tx, p, PaymentStatus::failed, last.external); });
  if (isBulkheadFull(last)) return last;  // 503 with Retry-After: busy, not broken
  return Error::make(
      last.code == ErrorCode::invalidInput ? ErrorCode::invalidInput : ErrorCode::providerError,
      last.internal,
      last.code == ErrorCode::invalidInput ? last.external : "Failed to initiate payment");
}

Result<Payment> PaymentService::get(const std::string& id) {
  auto p = load(id);
  if (!p.ok()) return p;
  const Payment& pay = p.value();
  std::int64_t now = clock_.nowMs();
  if (!isFinal(pay.status) && pay.status != PaymentStatus::created &&
      now - pay.updatedAtMs > opts_.staleReadMs) {
    // Sync on read, without making the reader wait on the provider. A client polling every
    // second must not turn each poll into a write: one enqueue per payment per window here
    // (the unique key keeps it to one across processes).
    std::int64_t window = now / opts_.staleReadMs;
    bool enqueue = false;
    {
      std::lock_guard<std::mutex> lock(readSyncMutex_);
      auto& last = readSyncWindow_[pay.id];
      if (last != window) {
        last = window;
        enqueue = true;
      }
      if (readSyncWindow_.size() > 100000) readSyncWindow_.clear();
    }
    if (enqueue)
      jobs_.enqueue(
          JobSpec{"payment.sync", pay.id, "read:" + pay.id + ":" + std::to_string(window), 0, 0});
  }
  return p;
}

Result<Payment> PaymentService::apply(const Payment& seen, const ProviderStatus& st,
                                      const std::string& source) {
  Payment result;
  store_.write([&](Tx& tx) {
    Rows r = tx.query(std::string("SELECT ") + kColumns + " FROM payments WHERE id = ?", {seen.id});
    if (r.empty()) throw DbError("payment vanished: " + seen.id);
    Payment p = rowToPayment(r, 0);
    const char* stateName = st.state == ProviderStatus::State::succeeded ? "succeeded"
                            : st.state == ProviderStatus::State::failed  ? "failed"
                                                                         : "pending";
    event(tx, p.id, p.provider, source,
          std::string("provider says ") + stateName +
              (st.providerTxnId.empty() ? "" : ", txn " + st.providerTxnId) +
              (st.amountMinor >= 0
                   ? ", " + formatMajor(st.amountMinor, st.currency) + " " + st.currency
                   : "") +
              (st.detail.empty() ? "" : " (" + st.detail + ")"));
    if (!st.providerRef.empty() && p.providerRef.empty())
      tx.exec("UPDATE payments SET provider_ref = ? WHERE id = ?", {st.providerRef, p.id});
    result = p;
    if (p.status == PaymentStatus::failed || p.status == PaymentStatus::expired ||
        p.status == PaymentStatus::cancelled) {
      // Money arrived after we gave up on the payment: never lose it silently.
      if (st.state == ProviderStatus::State::succeeded) {
        std::string why = std::string("provider reports it paid after it was ") +
                          statusName(p.status) +
                          (st.providerTxnId.empty() ? "" : " (txn " + st.providerTxnId + ")");
        event(tx, p.id, p.provider, "held", why);
        if (transition(tx, p, PaymentStatus::held,
                       "The payment arrived late and needs review; nothing was delivered.")) {
          result.status = PaymentStatus::held;
          log_.warning("payments", p.id + " held: " + why);
        }
      }
      return;
    }
    if (isFinal(p.status)) return;
    std::int64_t now = clock_.nowMs();
    switch (st.state) {
      case ProviderStatus::State::pending:
        if (p.expiresAtMs > 0 && now > p.expiresAtMs) {
          if (transition(tx, p, PaymentStatus::expired, "The payment was not completed in time.")) {
            jobs_.enqueue(tx, JobSpec{"payment.failed", p.id, "failed:" + p.id, 0, 0});
            result.status = PaymentStatus::expired;
          }
        } else if (p.status == PaymentStatus::unknown || p.status == PaymentStatus::created) {
          if (transition(tx, p, PaymentStatus::pending, "")) result.status = PaymentStatus::pending;
        }
        break;
      case ProviderStatus::State::failed:
        if (transition(tx, p, PaymentStatus::failed,
                       st.reason.empty() ? "The payment failed." : st.reason)) {
          jobs_.enqueue(tx, JobSpec{"payment.failed", p.id, "failed:" + p.id, 0, 0});
          result.status = PaymentStatus::failed;
          result.failureReason = st.reason;
        }
        break;
      case ProviderStatus::State::succeeded: {
        std::string hold;
        if (st.providerTxnId.empty()) {
          hold = "provider reported success without a transaction id";
        } else if (st.currency != p.currency) {
          hold = "currency mismatch: paid " + st.currency + ", due " + p.currency;
        } else if (st.amountMinor != p.amountMinor) {
          hold = "amount mismatch: paid " + formatMajor(st.amountMinor, st.currency) + ", due " +
                 formatMajor(p.amountMinor, p.currency) + " " + p.currency;
        } else {
          Rows other = tx.query(
              "SELECT id FROM payments WHERE provider = ? AND provider_txn_id = ? AND id <> ?",
              {p.provider, st.providerTxnId, p.id});
          if (!other.empty())
            hold = "provider transaction " + st.providerTxnId + " already settled payment " +
                   other.str(0, "id");
        }
        if (!hold.empty()) {
          event(tx, p.id, p.provider, "held", hold);
          if (transition(tx, p, PaymentStatus::held,
                         "The payment needs review; nothing was delivered.")) {
            result.status = PaymentStatus::held;
            result.failureReason = hold;
            log_.warning("payments", p.id + " held: " + hold);
          }
          break;
        }
        tx.exec(
            "UPDATE payments SET provider_txn_id = ?, gross_minor = ?, fee_minor = ?, net_minor = "
            "? WHERE id = ? AND version = ?",
            {st.providerTxnId, orNull(st.grossMinor), orNull(st.feeMinor), orNull(st.netMinor),
             p.id, p.version});
        if (transition(tx, p, PaymentStatus::succeeded, "")) {
          tx.exec("UPDATE payments SET fulfilment = 'pending' WHERE id = ?", {p.id});
          jobs_.enqueue(tx, JobSpec{"payment.settled", p.id, "settled:" + p.id, 0, 0});
          result.status = PaymentStatus::succeeded;
          result.fulfilment = "pending";
          result.providerTxnId = st.providerTxnId;
          result.grossMinor = st.grossMinor;
          result.feeMinor = st.feeMinor;
          result.netMinor = st.netMinor;
        }
        break;
      }
    }
  });
  return result;
}

Result<Payment> PaymentService::sync(const std::string& id) {
  auto loaded = load(id);
  // A failed or expired payment is still asked: money that arrives late must be seen.
  if (!loaded.ok() || loaded.value().status == PaymentStatus::succeeded ||
      loaded.value().status == PaymentStatus::held)
    return loaded;
  const Payment& p = loaded.value();
  auto prov = provider(p.provider);
  if (!prov)
    return Error::make(ErrorCode::unavailable, "provider " + p.provider + " is not loaded",
                       "Payment provider unavailable.");
  auto st = guarded(
      bulkheads_, metrics_, p.provider, [&]() -> Result<ProviderStatus> { return prov->query(p); },
      p.provider + ".query");
  if (!st.ok()) {
    if (!isBulkheadFull(st.error())) breakerResult(p.provider, false);
    store_.write([&](Tx& tx) { event(tx, p.id, p.provider, "query_failed", st.error().internal); });
    return st.error();
  }
  breakerResult(p.provider, true);
  return apply(p, st.value(), "query");
}

Result<ProofOutcome> PaymentService::submitProof(const std::string& id, const std::string& text) {
  auto loaded = load(id);
  if (!loaded.ok()) return loaded.error();
  Payment p = loaded.value();
  ProofOutcome out;
  if (p.status == PaymentStatus::succeeded) {
    out.payment = p;
    out.settled = true;
    out.message = "This payment is already confirmed.";
    return out;
  }
  if (isFinal(p.status)) {
    return Error::make(
        ErrorCode::conflict, "payment is " + std::string(statusName(p.status)),
        "This payment can no longer be confirmed (" + std::string(statusName(p.status)) + ").");
  }
  auto prov = provider(p.provider);
  if (!prov)
    return Error::make(ErrorCode::unavailable, "provider " + p.provider + " is not loaded",
                       "Payment provider unavailable.");
  auto st = guarded(
      bulkheads_, metrics_, p.provider,
      [&]() -> Result<ProviderStatus> { return prov->verifyProof(p, text); },
      p.provider + ".verifyProof");
  if (!st.ok()) {
    store_.write(
        [&](Tx& tx) { event(tx, p.id, p.provider, "proof_rejected", st.error().internal); });
    return st.error();
  }
  auto applied = apply(p, st.value(), "proof");
  if (!applied.ok()) return applied.error();
  out.payment = applied.value();
  out.settled = out.payment.status == PaymentStatus::succeeded;
  if (out.settled) {
    out.message = "Payment confirmed.";
  } else if (out.payment.status == PaymentStatus::held) {
    out.message =
        "We could not match this payment automatically; it is held for review and nothing was "
        "charged twice.";
  } else if (out.payment.status == PaymentStatus::failed) {
    out.message =
        out.payment.failureReason.empty() ? "The payment failed." : out.payment.failureReason;
  } else {
    out.message =
        st.value().reason.empty() ? "The payment is not confirmed yet." : st.value().reason;
  }
  return out;
}

Response PaymentService::receiveWebhook(const std::string& name, const Request& req) {
  auto prov = provider(name);
  if (!prov)
    return Response::error(Error::make(ErrorCode::notFound, "no provider '" + name + "'"),
                           req.requestId);
  auto parsed =
      guarded([&]() -> Result<std::vector<WebhookEvent>> { return prov->parseWebhook(req); },
              name + ".parseWebhook");
  if (!parsed.ok()) {
    const Error& e = parsed.error();
    metrics_.increment("malipo_webhooks_total",
                       {{"provider", name}, {"outcome", errorCodeName(e.code)}});
    log_.warning("webhooks", name + ": rejected: " + e.internal);
    Error out = e.code == ErrorCode::unauthorized
                    ? Error::make(ErrorCode::unauthorized, e.internal, "invalid signature")
                    : Error::make(ErrorCode::invalidInput, e.internal, "invalid webhook");
    return Response::error(out, req.requestId);
  }
  int fresh = 0, duplicates = 0, unmatched = 0;
  store_.write([&](Tx& tx) {
    fresh = duplicates = unmatched = 0;
    for (const WebhookEvent& ev : parsed.value()) {
      std::string paymentId;
      if (!ev.paymentId.empty()) {
        Rows r =
            tx.query("SELECT id FROM payments WHERE id = ? AND provider = ?", {ev.paymentId, name});
        if (!r.empty()) paymentId = r.str(0, "id");
      }
      if (paymentId.empty() && !ev.providerRef.empty()) {
        Rows r = tx.query("SELECT id FROM payments WHERE provider = ? AND provider_ref = ?",
                          {name, ev.providerRef});
        if (!r.empty()) paymentId = r.str(0, "id");
      }
      // What is stored is bounded whatever the sender sent: a long event id by its digest,
      // the summary cut short.
      std::string eventId =
          ev.eventId.size() <= kMaxStoredEventId ? ev.eventId : "sha256:" + sha256Hex(ev.eventId);
      std::int64_t inserted = tx.exec(
          "INSERT INTO payment_events (payment_id, provider, kind, provider_event_id, detail, "
          "created_at) "
          "VALUES (?, ?, 'webhook', ?, ?, ?) ON CONFLICT DO NOTHING",
          {paymentId.empty() ? Value(Null{}) : Value(paymentId), name,
           eventId.empty() ? Value(Null{}) : Value(eventId),
           truncateUtf8(ev.summary, kMaxStoredSummary), clock_.nowMs()});
      if (inserted == 0) {
        ++duplicates;
        continue;
      }
      ++fresh;
      if (paymentId.empty()) {
        ++unmatched;
        continue;
      }
      jobs_.enqueue(tx, JobSpec{"payment.sync", paymentId, "", 0, 0});
    }
  });
  metrics_.increment("malipo_webhooks_total", {{"provider", name}, {"outcome", "accepted"}}, fresh);
  if (duplicates)
    metrics_.increment("malipo_webhooks_total", {{"provider", name}, {"outcome", "duplicate"}},
                       duplicates);
  Poco::JSON::Object o;
  o.set("received", true);
  o.set("events", fresh);
  o.set("duplicates", duplicates);
  return Response::json(200, o);
}

Result<NextAction> PaymentService::requestPush(const std::string& id, const std::string& msisdn) {
  auto loaded = load(id);
  if (!loaded.ok()) return loaded.error();
  const Payment& p = loaded.value();
  if (p.status != PaymentStatus::pending && p.status != PaymentStatus::created)
    return Error::make(ErrorCode::conflict, "payment is " + std::string(statusName(p.status)),
                       "This payment is no longer waiting for money.");
  auto prov = provider(p.provider);
  if (!prov)
    return Error::make(ErrorCode::unavailable, "provider " + p.provider + " is not loaded",
                       "Payment provider unavailable.");
  int wait = 0;
  store_.write([&](Tx& tx) {
    wait = takePushSlot(tx, p.id, msisdn);
    if (wait)
      event(tx, p.id, p.provider, "push_limited",
            "prompt refused: limit reached (next in " + std::to_string(wait) + " s)");
  });
  if (wait)
    return Error::make(ErrorCode::rateLimited, "push limit reached for this number or payment",
                       "A payment prompt was sent recently. Please wait " + std::to_string(wait) +
                           " seconds, or pay from the menu on your phone.")
        .retryAfter(wait);
  auto res = guarded(
      bulkheads_, metrics_, p.provider,
      [&]() -> Result<NextAction> { return prov->requestPush(p, msisdn); },
      p.provider + ".requestPush");
  store_.write([&](Tx& tx) {
    event(tx, p.id, p.provider, res.ok() ? "push_sent" : "push_failed",
          res.ok() ? "prompt sent" : res.error().internal);
    // No call was made (the provider's bulkhead was full): the prompt it did not send gives
    // its slot back.
    if (!res.ok() && isBulkheadFull(res.error()))
      tx.exec(
          "DELETE FROM payment_pushes WHERE payment_id = ? AND created_at = (SELECT "
          "MAX(created_at) FROM payment_pushes "
          "WHERE payment_id = ?)",
          {p.id, p.id});
  });
  return res;
}

std::vector<ChannelItem> PaymentService::catalog(const std::string& channel) {
  std::vector<ChannelItem> out;
  for (const auto& name : productOrder_) {
    try {
      for (auto& item : products_[name]->catalog(channel)) out.push_back({name, std::move(item)});
    } catch (const std::exception& e) {
      log_.error("payments", "product " + name + " catalog threw: " + e.what());
    }
  }
  return out;
}

Result<std::string> PaymentService::accountSummary(const std::string& productName,
                                                   const std::string& accountId) {
  auto prod = product(productName);
  if (!prod) return Error::make(ErrorCode::notFound, "no product " + productName);
  try {
    return prod->accountSummary(accountId);
  } catch (const std::exception& e) {
    return Error::make(ErrorCode::internal, productName + ".accountSummary threw: " + e.what(),
                       "Service temporarily unavailable.");
  }
}

Result<std::string> PaymentService::prepareChannelSale(const std::string& productName,
                                                       const CatalogItem& item,
                                                       const Customer& customer) {
  auto prod = product(productName);
  if (!prod) return Error::make(ErrorCode::notFound, "no product " + productName);
  try {
    return prod->prepareChannelSale(item, customer);
  } catch (const std::exception& e) {
    return Error::make(ErrorCode::internal, productName + ".prepareChannelSale threw: " + e.what(),
                       "Service temporarily unavailable.");
  }
}

Handler PaymentService::webhookInbox(const std::string& provider) {
  return [this, provider](const Request& req) { return receiveWebhook(provider, req); };
}

JobOutcome PaymentService::runSync(const Job& job) {
  auto r = sync(job.payload);
  if (r.ok()) return JobOutcome::ok();
  if (r.error().code == ErrorCode::notFound) return JobOutcome::fail(r.error().internal);
  return JobOutcome::retry(r.error().internal);
}

JobOutcome PaymentService::runSettled(const Job& job, bool settled) {
  auto p = load(job.payload);
  if (!p.ok()) return JobOutcome::fail(p.error().internal);
  auto prod = product(p.value().product);
  if (!prod) return JobOutcome::retry("product " + p.value().product + " is not loaded");
  JobOutcome outcome;
  std::int64_t now = clock_.nowMs();
  if (settled && p.value().fulfilment == "done")
    return JobOutcome::ok();  // delivered before a crash
  if (settled && prod->deliversInTransaction()) {
    // The delivery record and the product's writes commit together, or not at all.
    struct NotDelivered {};
    try {
      store_.write([&](Tx& tx) {
        // No row: another run delivered it (the row lock made us wait for it).
        if (tx.exec("UPDATE payments SET fulfilment = 'done', fulfilled_at = ?, fulfilment_error = "
                    "NULL "
                    "WHERE id = ? AND (fulfilment IS NULL OR fulfilment <> 'done')",
                    {now, job.payload}) == 0)
          return;
        outcome = prod->onPaymentSettledInTx(p.value(), tx);
        if (outcome.kind != JobOutcome::Kind::done) throw NotDelivered{};
      });
      return JobOutcome::ok();
    } catch (const NotDelivered&) {
      // The outcome says why; the failure bookkeeping below applies.
    } catch (const std::exception& e) {
      outcome = JobOutcome::retry(std::string("product threw: ") + e.what());
    }
  } else {
    try {
      outcome = settled ? prod->onPaymentSettled(p.value()) : prod->onPaymentFailed(p.value());
    } catch (const std::exception& e) {
      outcome = JobOutcome::retry(std::string("product threw: ") + e.what());
    }
  }
  if (!settled) return outcome;
  // What became of the delivery, for whoever must report it (a channel's callback, the
  // admin API): done, or failed once the product gave up or its attempts ran out.
  if (outcome.kind == JobOutcome::Kind::done) {
    store_.exec(
        "UPDATE payments SET fulfilment = 'done', fulfilled_at = ?, fulfilment_error = NULL WHERE "
        "id = ?",
        {now, job.payload});
  } else if (outcome.kind == JobOutcome::Kind::fail || job.attempt >= job.maxAttempts) {
    store_.exec("UPDATE payments SET fulfilment = 'failed', fulfilment_error = ? WHERE id = ?",
                {outcome.error, job.payload});
    log_.error("payments", job.payload + " was paid but not delivered: " + outcome.error);
  }
  return outcome;
}

std::int64_t PaymentService::nextCheckDelayMs(int checks) {
  static const std::int64_t schedule[] = {60000, 300000, 900000, 3600000};
  return checks < 4 ? schedule[checks] : 3600000;
}

int PaymentService::takePushSlot(Tx& tx, const std::string& paymentId, const std::string& msisdn) {
  std::string number;  // digits only: "+255 712…" and "255712…" are one phone
  for (char c : msisdn)
    if (c >= '0' && c <= '9') number += c;
  const std::int64_t now = clock_.nowMs(), hourAgo = now - 3600 * 1000;
  auto waitFor = [&](const Rows& r, int perHour) -> int {
    // r: this key's prompts of the last hour, newest first.
    std::int64_t until = 0;
    if (!r.empty() && r.i64(0, "created_at") > now - opts_.pushIntervalMs)
      until = r.i64(0, "created_at") + opts_.pushIntervalMs;
    if (static_cast<int>(r.size()) >= perHour)
      until =
          std::max(until, r.i64(static_cast<std::size_t>(perHour) - 1, "created_at") + 3600 * 1000);
    return until > now ? static_cast<int>((until - now + 999) / 1000) : 0;
  };
  Rows byNumber = tx.query(
      "SELECT created_at FROM payment_pushes WHERE msisdn = ? AND created_at > ? ORDER BY "
      "created_at DESC",
      {number, hourAgo});
  Rows byPayment = tx.query(
      "SELECT created_at FROM payment_pushes WHERE payment_id = ? AND created_at > ? ORDER BY "
      "created_at DESC",
      {paymentId, hourAgo});
  int wait = std::max(waitFor(byNumber, opts_.pushesPerNumberPerHour),
                      waitFor(byPayment, opts_.pushesPerPaymentPerHour));
  if (wait > 0) return wait;
  tx.exec("INSERT INTO payment_pushes (msisdn, payment_id, created_at) VALUES (?, ?, ?)",
          {number, paymentId, now});
  return 0;
}

int PaymentService::purgeUnmatchedWebhooks() {
  const std::int64_t cutoff = clock_.nowMs() - opts_.unmatchedWebhookRetentionMs;
  std::int64_t n = store_.exec(
      "DELETE FROM payment_events WHERE payment_id IS NULL AND kind = 'webhook' AND created_at < ?",
      {cutoff});
  return static_cast<int>(n);
}

int PaymentService::runJanitor() {
  purgeUnmatchedWebhooks();
  // Prompts older than the push limits' hour count for nothing any more.
  store_.exec("DELETE FROM payment_pushes WHERE created_at < ?", {clock_.nowMs() - 3600 * 1000});
  std::int64_t now = clock_.nowMs();
  Rows due = store_.query(
      "SELECT id, checks, created_at FROM payments WHERE status IN ('created', 'pending', "
      "'unknown') AND next_check_at <= ? "
      "ORDER BY next_check_at LIMIT 200",
      {now});
  int n = 0;
  for (std::size_t i = 0; i < due.size(); ++i) {
    std::string id = due.str(i, "id");
    std::int64_t checks = due.i64(i, "checks");
    store_.write([&](Tx& tx) {
      std::int64_t moved = tx.exec(
          "UPDATE payments SET checks = checks + 1, next_check_at = ? WHERE id = ? AND checks = ?",
          {now + nextCheckDelayMs(static_cast<int>(checks) + 1), id, checks});
      if (moved == 1) {
        jobs_.enqueue(
            tx, JobSpec{"payment.sync", id, "janitor:" + id + ":" + std::to_string(checks), 0, 0});
        ++n;
      }
    });
  }
  return n;
}

std::vector<Payment> PaymentService::list(const std::string& status, int limit) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM payments";
  Params p;
  if (!status.empty()) {
    sql += " WHERE status = ?";
    p.push_back(status);
  }
  sql += " ORDER BY created_at DESC LIMIT ?";
  p.push_back(static_cast<std::int64_t>(limit));
  Rows r = store_.query(sql, p);
  std::vector<Payment> out;
  for (std::size_t i = 0; i < r.size(); ++i) out.push_back(rowToPayment(r, i));
  return out;
}

std::vector<PaymentEvent> PaymentService::events(const std::string& paymentId) {
  Rows r = store_.query(
      "SELECT id, kind, detail, provider_event_id, created_at FROM payment_events WHERE payment_id "
      "= ? ORDER BY id",
      {paymentId});
  std::vector<PaymentEvent> out;
  for (std::size_t i = 0; i < r.size(); ++i)
    out.push_back({r.i64(i, "id"), r.str(i, "kind"), r.str(i, "detail"),
                   r.str(i, "provider_event_id"), r.i64(i, "created_at")});
  return out;
}

Poco::JSON::Object PaymentService::toJson(const Payment& p) const {
  Poco::JSON::Object o;
  o.set("id", p.id);
  o.set("product", p.product);
  o.set("order_ref", p.orderRef);
  o.set("provider", p.provider);
  o.set("channel", p.channel);
  o.set("amount_minor", p.amountMinor);
  o.set("amount", formatMajor(p.amountMinor, p.currency));
  o.set("currency", p.currency);
  o.set("status", statusName(p.status));
  o.set("provider_ref", p.providerRef);
  o.set("provider_txn_id", p.providerTxnId);
  o.set("action", p.action.toJson());
  if (!p.failureReason.empty()) o.set("failure_reason", p.failureReason);
  o.set("created_at", isoTime(p.createdAtMs));
  o.set("updated_at", isoTime(p.updatedAtMs));
  o.set("expires_at", isoTime(p.expiresAtMs));
  o.set("version", p.version);
  if (!p.fulfilment.empty()) o.set("fulfilment", p.fulfilment);
  if (p.fulfilledAtMs) o.set("fulfilled_at", isoTime(p.fulfilledAtMs));
  // What the provider reported about money and fees (reconciliation), when it did.
  auto money = [&](const char* key, std::int64_t minor) {
    if (minor >= 0) o.set(key, formatMajor(minor, p.currency));
  };
  money("gross", p.grossMinor);
  money("fee", p.feeMinor);
  money("net", p.netMinor);
  return o;
}

void PaymentService::start(Router& router, bool sandbox) {
  // Short leases: a running handler's lease is extended by the dispatcher's heartbeat, so the
  // lease only bounds how long the jobs of a process that died wait to be taken back.
  jobs_.handle("payment.sync", [this](const Job& j) { return runSync(j); },
               {6, 15000, 2000, 600000});
  jobs_.handle("payment.settled", [this](const Job& j) { return runSettled(j, true); },
               {10, 15000, 2000, 1800000});
  jobs_.handle("payment.failed", [this](const Job& j) { return runSettled(j, false); },
               {10, 15000, 2000, 1800000});
  jobs_.handle("payments.janitor", [this](const Job&) {
    runJanitor();
    return JobOutcome::ok();
  });
  jobs_.every("payments.janitor", opts_.janitorIntervalMs);

  router.add("POST", "/webhooks/{provider}",
             [this](const Request& req) { return receiveWebhook(req.param("provider"), req); },
             {Auth::none, "webhooks", opts_.webhookMaxBodyBytes, "/webhooks/{provider}"});
  for (auto& [name, prov] : providers_) {
    prov->routes(router);
    if (sandbox) prov->simulator(router);
  }

  RouteOptions admin{Auth::admin, "", 0, "", false};
  router.add(
      "GET", "/admin/payments",
      [this](const Request& req) {
        Poco::JSON::Array arr;
        int limit = 100;
        try {
          limit = std::max(1, std::min(1000, std::stoi(req.queryParam("limit", "100"))));
        } catch (...) {
        }
        for (const auto& p : list(req.queryParam("status"), limit)) arr.add(toJson(p));
        return Response::json(200, Poco::JSON::Object().set("payments", arr));
      },
      admin);
  router.add(
      "GET", "/admin/payments/{id}",
      [this](const Request& req) {
        auto p = load(req.param("id"));
        if (!p.ok()) return Response::error(p.error(), req.requestId);
        Poco::JSON::Object o = toJson(p.value());
        Poco::JSON::Array timeline;
        for (const auto& e : events(p.value().id)) {
          Poco::JSON::Object ev;
          ev.set("kind", e.kind);
          ev.set("detail", e.detail);
          if (!e.providerEventId.empty()) ev.set("provider_event_id", e.providerEventId);
          ev.set("at", isoTime(e.createdAtMs));
          timeline.add(ev);
        }
        o.set("events", timeline);
        return Response::json(200, o);
      },
      admin);
  router.add(
      "POST", "/admin/payments/{id}/sync",
      [this](const Request& req) {
        auto p = sync(req.param("id"));
        if (!p.ok()) return Response::error(p.error(), req.requestId);
        return Response::json(200, toJson(p.value()));
      },
      admin);
}

}  // namespace malipo
