#include "payments/PaymentService.hpp"

#include <Poco/UUIDGenerator.h>

#include <algorithm>

#include "malipo/money.hpp"
#include "payments/ProviderCalls.hpp"

namespace malipo {

namespace {

std::string customerJson(const Customer& c) {
  Poco::JSON::Object o;
  o.set("account_id", c.accountId);
  o.set("email", c.email);
  o.set("name", c.name);
  o.set("phone", c.phone);
  if (!c.country.empty()) o.set("country", c.country);
  std::ostringstream os;
  o.stringify(os);
  return os.str();
}

Value orNull(std::int64_t minor) {
  return minor >= 0 ? Value(minor) : Value(Null{});
}

std::string actionJson(const NextAction& a) {
  std::ostringstream os;
  a.toJson().stringify(os);
  return os.str();
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
  metrics_.describe("malipo_refunds_total", "refunds by provider and new status", "counter");
}

std::vector<Migration> PaymentService::migrations() {
  return PaymentRepository::migrations();
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

void PaymentService::event(Tx& tx, const std::string& paymentId, const std::string& provider,
                           const std::string& kind, const std::string& detail,
                           const std::string& providerEventId) {
  PaymentRepository::event(tx, clock_.nowMs(), paymentId, provider, kind, detail, providerEventId);
}

bool PaymentService::transition(Tx& tx, const Payment& p, PaymentStatus to,
                                const std::string& reason) {
  if (!PaymentRepository::setStatus(tx, p, to, reason, clock_.nowMs())) return false;
  event(tx, p.id, p.provider, "transition",
        std::string(statusName(p.status)) + " -> " + statusName(to) +
            (reason.empty() ? "" : ": " + reason));
  // The write may be retried: what leaves the transaction happens once, after the commit.
  std::string provider = p.provider,
              line = p.id + " " + statusName(p.status) + " -> " + statusName(to);
  tx.onCommit([this, provider, to, line] {
    metrics_.increment("malipo_payments_transitions_total",
                       {{"provider", provider}, {"status", statusName(to)}});
    log_.info("payments", line);
  });
  return true;
}

bool PaymentService::applyDecision(Tx& tx, const Payment& p, const machine::Decision& d,
                                   const ProviderStatus* report) {
  for (const auto& e : d.events) event(tx, p.id, p.provider, e.kind, e.detail);
  if (!d.to) return true;
  if (d.recordSettlement && report)
    tx.exec(
        "UPDATE payments SET provider_txn_id = ?, gross_minor = ?, fee_minor = ?, net_minor = "
        "? WHERE id = ? AND version = ?",
        {report->providerTxnId, orNull(report->grossMinor), orNull(report->feeMinor),
         orNull(report->netMinor), p.id, p.version});
  if (d.recordReported && report)
    tx.exec(
        "UPDATE payments SET reported_amount_minor = ?, reported_currency = ?, reported_txn_id = "
        "? WHERE id = ?",
        {orNull(report->amountMinor), report->currency,
         report->providerTxnId.empty() ? Value(Null{}) : Value(report->providerTxnId), p.id});
  if (!transition(tx, p, *d.to, d.reason)) return false;
  if (*d.to == PaymentStatus::succeeded)
    tx.exec("UPDATE payments SET fulfilment = 'pending' WHERE id = ?", {p.id});
  if (d.job == machine::FollowUp::settled && !deliverInSettlement(tx, p.id))
    jobs_.enqueue(tx, JobSpec{"payment.settled", p.id, "settled:" + p.id, 0, 0});
  else if (d.job == machine::FollowUp::failed)
    jobs_.enqueue(tx, JobSpec{"payment.failed", p.id, "failed:" + p.id, 0, 0});
  if (!d.warning.empty()) {
    std::string line = p.id + " " + d.warning;
    tx.onCommit([this, line] { log_.warning("payments", line); });
  }
  return true;
}

Result<Payment> PaymentService::load(const std::string& id) {
  auto p = PaymentRepository::find(store_, id);
  if (!p) return Error::make(ErrorCode::notFound, "no payment " + id, "Payment not found.");
  p->callbackUrl = webhookAuth_.callbackUrl(p->provider, p->id);  // for the provider (SDK 1.1)
  return *p;
}

std::optional<Payment> PaymentService::loadByProviderRef(const std::string& provider,
                                                         const std::string& ref) {
  Rows r = store_.query("SELECT id FROM payments WHERE provider = ? AND provider_ref = ?",
                        {provider, ref});
  if (r.empty()) return std::nullopt;
  return PaymentRepository::find(store_, r.str(0, "id"));
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
  std::vector<std::string> unmet;
  auto candidates = routeCandidates(providers_, req, breakers_, log_, &unmet);
  // Only providers that need what the customer did not give could take it: say what is
  // missing (and store nothing), so the product can ask for it.
  if (candidates.empty() && !unmet.empty())
    return Error::make(ErrorCode::invalidInput,
                       "customer lacks " + joinFields(unmet) + " that the providers need",
                       missingFieldsMessage(unmet));
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
  p.expiresAtMs = now + opts_.defaultExpiryMs;
  p.version = 1;
  store_.write([&](Tx& tx) {
    PaymentRepository::insert(tx, p, customerJson(p.customer), now + 600000);
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
    p.callbackUrl = webhookAuth_.callbackUrl(p.provider, p.id);  // for the provider (SDK 1.1)
    auto res = guarded(
        bulkheads_, metrics_, p.provider,
        [&]() -> Result<InitiateResult> { return prov->initiate(p, req); },
        p.provider + ".initiate");
    if (res.ok()) {
      breakers_.result(p.provider, true);
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
    // A retryable answer ("still processing", a rate limit) says nothing about the provider's
    // health.
    log_.warning("payments", p.id + " initiate via " + p.provider + " failed: " + last.internal);
    if (last.code == ErrorCode::providerTimeout) {
      // The provider may have created the order: never try a second one; find out later.
      breakers_.result(p.provider, false);
      store_.write([&](Tx& tx) {
        event(tx, p.id, p.provider, "initiate_timeout", last.internal);
        tx.exec("UPDATE payments SET next_check_at = ? WHERE id = ?",
                {clock_.nowMs() + 30000, p.id});
        if (transition(tx, p, PaymentStatus::unknown, "")) ++p.version;
      });
      p.status = PaymentStatus::unknown;
      return p;
    }
    if (last.code != ErrorCode::invalidInput && !isBulkheadFull(last) && !last.retryable)
      breakers_.result(p.provider, false);
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
    auto row = PaymentRepository::find(tx, seen.id);
    if (!row) throw DbError("payment vanished: " + seen.id);
    const Payment& p = *row;
    if (!st.providerRef.empty() && p.providerRef.empty())
      tx.exec("UPDATE payments SET provider_ref = ? WHERE id = ?", {st.providerRef, p.id});
    machine::Facts facts;
    facts.nowMs = clock_.nowMs();
    if (st.state == ProviderStatus::State::succeeded && !st.providerTxnId.empty()) {
      Rows other =
          tx.query("SELECT id FROM payments WHERE provider = ? AND provider_txn_id = ? AND id <> ?",
                   {p.provider, st.providerTxnId, p.id});
      if (!other.empty()) facts.txnUsedBy = other.str(0, "id");
    }
    machine::Decision d = machine::onReport(p, st, source, facts);
    result = p;
    if (applyDecision(tx, p, d, &st) && d.to) {
      result.status = *d.to;
      ++result.version;
      if (*d.to == PaymentStatus::held) result.failureReason = d.warning.substr(6);
      if (*d.to == PaymentStatus::failed) result.failureReason = st.reason;
      if (*d.to == PaymentStatus::succeeded) {
        result.fulfilment = "pending";
        result.providerTxnId = st.providerTxnId;
        result.grossMinor = st.grossMinor;
        result.feeMinor = st.feeMinor;
        result.netMinor = st.netMinor;
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
    if (!isBulkheadFull(st.error()) && !st.error().retryable) breakers_.result(p.provider, false);
    store_.write([&](Tx& tx) { event(tx, p.id, p.provider, "query_failed", st.error().internal); });
    return st.error();
  }
  breakers_.result(p.provider, true);
  auto applied = apply(p, st.value(), "query");
  // The provider's word on when to ask again (SDK 1.1) replaces the kernel's schedule of
  // checks for a payment still waiting (at most a day ahead).
  int hint = st.value().retryAfterSeconds;
  if (applied.ok() && st.value().state == ProviderStatus::State::pending && hint > 0)
    store_.exec(
        "UPDATE payments SET next_check_at = ? WHERE id = ? AND status IN ('created', 'pending', "
        "'unknown')",
        {clock_.nowMs() + std::min(hint, 86400) * 1000LL, p.id});
  return applied;
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

std::vector<Payment> PaymentService::list(const std::string& status, int limit) {
  return PaymentRepository::list(store_, status, limit);
}

std::vector<PaymentEvent> PaymentService::events(const std::string& paymentId) {
  return PaymentRepository::events(store_, paymentId);
}

std::vector<std::string> PaymentService::requirements(const CreatePayment& draft) {
  std::vector<std::string> unmet;
  if (!routeCandidates(providers_, draft, breakers_, log_, &unmet).empty()) return {};
  // None can take it as it is: what the preferred provider among those that would, with the
  // customer's fields, still needs.
  CreatePayment all = draft;
  for (const auto& f : unmet) {
    if (f == "msisdn" && all.customer.phone.empty()) all.customer.phone = "?";
    if (f == "email" && all.customer.email.empty()) all.customer.email = "?";
    if (f == "country" && all.customer.country.empty()) all.customer.country = "?";
  }
  auto candidates = routeCandidates(providers_, all, breakers_, log_);
  if (candidates.empty()) return unmet;
  return missingFields(candidates.front()->capabilities().needs, draft.customer);
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
  // Refunds (SDK 1.1): what went back to the customer so far.
  o.set("refunded_minor", p.refundedMinor);
  o.set("refunded", formatMajor(p.refundedMinor, p.currency));
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
  jobs_.handle("refund.run", [this](const Job& j) { return runRefund(j); },
               {8, 15000, 2000, 600000});
  jobs_.handle("refund.notify", [this](const Job& j) { return runRefundNotify(j); },
               {10, 15000, 2000, 1800000});
  jobs_.handle("payments.janitor", [this](const Job&) {
    runJanitor();
    return JobOutcome::ok();
  });
  jobs_.every("payments.janitor", opts_.janitorIntervalMs);

  webhookRoutes(router);
  for (auto& [name, prov] : providers_) {
    prov->routes(router);
    if (sandbox) prov->simulator(router);
  }
  adminRoutes(router);
}

}  // namespace malipo
