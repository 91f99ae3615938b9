#include "payments/PaymentService.hpp"

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
                                const std::string& reason, const ProviderStatus* settlement,
                                Payment* row) {
  const bool moved =
      settlement && to == PaymentStatus::succeeded
          ? PaymentRepository::settle(tx, p, *settlement, reason, clock_.nowMs(), row)
          : PaymentRepository::setStatus(tx, p, to, reason, clock_.nowMs(), row);
  if (!moved) return false;
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
                                   const ProviderStatus* report, int attempt, Payment* moved) {
  for (const auto& e : d.events) event(tx, p.id, p.provider, e.kind, e.detail);
  if (!d.to) return true;
  if (d.recordReported && report)
    tx.exec(
        "UPDATE payments SET reported_amount_minor = ?, reported_currency = ?, reported_txn_id = "
        "? WHERE id = ?",
        {PaymentRepository::orNull(report->amountMinor), report->currency,
         report->providerTxnId.empty() ? Value(Null{}) : Value(report->providerTxnId), p.id});
  // A settlement is recorded by the transition's own statement (status, the provider's
  // amounts, fulfilment pending).
  const ProviderStatus* settlement = d.recordSettlement ? report : nullptr;
  // `after`: the row as this transaction leaves it, kept up by each statement that writes it
  // (the settlement's delivery below takes it; reading it again cost a tenth of the write
  // lane's time).
  Payment after;
  if (!transition(tx, p, *d.to, d.reason, settlement, &after)) return false;
  if (*d.to == PaymentStatus::succeeded && !settlement) {
    tx.exec("UPDATE payments SET fulfilment = 'pending' WHERE id = ?", {p.id});
    after.fulfilment = "pending";
  }
  const std::int64_t now = clock_.nowMs();
  // Attempts (SDK 1.1): the one reported on takes the payment's outcome, the others close.
  if (attempt > 0 && report &&
      (*d.to == PaymentStatus::succeeded || *d.to == PaymentStatus::held ||
       *d.to == PaymentStatus::failed)) {
    bool paid = report->state == ProviderStatus::State::succeeded;
    PaymentRepository::setAttempt(tx, p.id, attempt, paid ? "succeeded" : "failed", now,
                                  report->providerTxnId, paid ? report->amountMinor : -1,
                                  report->currency, *d.to == PaymentStatus::succeeded);
    // The reference the payment is known by from now on (refunds, cancel): the paid one.
    if (paid) {
      Rows ref = tx.query(
          "SELECT provider_ref FROM payment_attempts WHERE payment_id = ? AND number = ? AND "
          "provider_ref IS NOT NULL",
          {p.id, static_cast<std::int64_t>(attempt)});
      if (!ref.empty() && ref.str(0, "provider_ref") != p.providerRef) {
        after.providerRef = ref.str(0, "provider_ref");
        tx.exec("UPDATE payments SET provider_ref = ? WHERE id = ?", {after.providerRef, p.id});
      }
    }
    PaymentRepository::closeOpenAttempts(tx, p.id, attempt, now);
  } else if (isFinal(*d.to)) {
    PaymentRepository::closeOpenAttempts(tx, p.id, 0, now);
  }
  if (moved) *moved = after;
  if (d.job == machine::FollowUp::settled && !deliverInSettlement(tx, after))
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
  p.id = PaymentRepository::newId(clock_.nowMs());
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
  p.attempt = 1;
  const auto refFormat = shortRefFormat(candidates);
  store_.write([&](Tx& tx) {
    p.shortRef = PaymentRepository::newShortRef(tx, refFormat.first, refFormat.second);
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
        tx.exec("UPDATE payment_attempts SET provider = ? WHERE payment_id = ? AND number = 1",
                {prov->name(), p.id});
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
        tx.exec("UPDATE payment_attempts SET provider_ref = ? WHERE payment_id = ? AND number = 1",
                {ir.providerRef.empty() ? Value(Null{}) : Value(ir.providerRef), p.id});
        event(tx, p.id, p.provider, "initiated",
              "provider_ref " + ir.providerRef + ", action " + ir.action.type + " [attempt 1]");
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
  store_.write([&](Tx& tx) {
    if (transition(tx, p, PaymentStatus::failed, last.external))
      PaymentRepository::setAttempt(tx, p.id, 1, "failed", clock_.nowMs());
  });
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
                                      const std::string& source, int attempt) {
  Payment result;
  store_.write([&](Tx& tx) {
    auto row = PaymentRepository::find(tx, seen.id);
    if (!row) throw DbError("payment vanished: " + seen.id);
    Payment& p = *row;
    if (!st.providerRef.empty() && p.providerRef.empty()) {
      tx.exec("UPDATE payments SET provider_ref = ? WHERE id = ?", {st.providerRef, p.id});
      p.providerRef = st.providerRef;
    }
    if (!st.providerRef.empty() && attempt > 0)
      tx.exec(
          "UPDATE payment_attempts SET provider_ref = ? WHERE payment_id = ? AND number = ? AND "
          "provider_ref IS NULL",
          {st.providerRef, p.id, static_cast<std::int64_t>(attempt)});
    machine::Facts facts;
    facts.nowMs = clock_.nowMs();
    if (st.state == ProviderStatus::State::succeeded && !st.providerTxnId.empty()) {
      Rows other =
          tx.query("SELECT id FROM payments WHERE provider = ? AND provider_txn_id = ? AND id <> ?",
                   {p.provider, st.providerTxnId, p.id});
      if (!other.empty()) facts.txnUsedBy = other.str(0, "id");
    }
    machine::Decision d = machine::onReport(p, st, source, facts);
    // The event names the attempt the provider spoke of.
    if (attempt > 0 && !d.events.empty())
      d.events.front().detail += " [attempt " + std::to_string(attempt) + "]";
    result = p;
    if (applyDecision(tx, p, d, &st, attempt, &result) && d.to) {
      if (*d.to == PaymentStatus::held) result.failureReason = d.warning.substr(6);
      if (*d.to == PaymentStatus::failed) result.failureReason = st.reason;
    }
  });
  return result;
}

Result<Payment> PaymentService::sync(const std::string& id) {
  auto loaded = load(id);
  if (!loaded.ok() || loaded.value().status == PaymentStatus::held) return loaded;
  const Payment& p = loaded.value();
  auto prov = provider(p.provider);
  if (!prov)
    return Error::make(ErrorCode::unavailable, "provider " + p.provider + " is not loaded",
                       "Payment provider unavailable.");
  if (p.status == PaymentStatus::succeeded) {
    checkClosedAttempts(p, *prov);
    return loaded;
  }
  // Every open attempt is asked, newest first: the customer may have paid an older prompt.
  // With none open (a failed or expired payment) all are: money that arrives late must be
  // seen.
  auto all = PaymentRepository::attempts(store_, p.id);
  std::vector<PaymentAttempt> ask;
  for (auto it = all.rbegin(); it != all.rend(); ++it)
    if (it->state == "open") ask.push_back(*it);
  if (ask.empty())
    for (auto it = all.rbegin(); it != all.rend(); ++it) ask.push_back(*it);
  if (ask.empty()) ask.push_back(PaymentAttempt{});  // no attempt row: the payment as it is
  std::optional<ProviderStatus> pending, failed;
  int pendingAttempt = 0, failedAttempt = 0;
  std::vector<std::pair<int, std::string>> declined;  // attempt, what the provider said
  std::optional<Error> error;
  for (const auto& a : ask) {
    Payment q = p;
    q.attempt = a.number;
    if (a.number > 0 && !a.providerRef.empty()) q.providerRef = a.providerRef;
    auto st = guarded(
        bulkheads_, metrics_, p.provider,
        [&]() -> Result<ProviderStatus> { return prov->query(q); }, p.provider + ".query");
    if (!st.ok()) {
      if (!isBulkheadFull(st.error()) && !st.error().retryable) breakers_.result(p.provider, false);
      std::string what =
          st.error().internal + (a.number > 0 ? " [attempt " + std::to_string(a.number) + "]" : "");
      store_.write([&](Tx& tx) { event(tx, p.id, p.provider, "query_failed", what); });
      if (!error) error = st.error();
      continue;
    }
    breakers_.result(p.provider, true);
    const ProviderStatus& v = st.value();
    if (v.state == ProviderStatus::State::succeeded) return apply(p, v, "query", a.number);
    if (v.state == ProviderStatus::State::pending && !pending) {
      pending = v;
      pendingAttempt = a.number;
    }
    if (v.state == ProviderStatus::State::failed) {
      if (!failed) {
        failed = v;
        failedAttempt = a.number;
      }
      if (a.number > 0 && a.state == "open") declined.push_back({a.number, machine::describe(v)});
    }
  }
  // Nothing paid. An attempt declined while another may still be paid: that attempt
  // failed, the payment waits. Only when none is left waiting does the payment fail (with the
  // newest attempt's word).
  bool paymentFails = failed && !pending && !error;
  if (!declined.empty())
    store_.write([&](Tx& tx) {
      for (const auto& [number, said] : declined) {
        if (paymentFails && number == failedAttempt) continue;  // apply() records that one
        event(tx, p.id, p.provider, "query", said + " [attempt " + std::to_string(number) + "]");
        PaymentRepository::setAttempt(tx, p.id, number, "failed", clock_.nowMs());
      }
    });
  if (!pending && !paymentFails) return *error;  // an attempt could not be asked: it may be paid
  auto applied = pending ? apply(p, *pending, "query", pendingAttempt)
                         : apply(p, *failed, "query", failedAttempt);
  // The provider's word on when to ask again (SDK 1.1) replaces the kernel's schedule of
  // checks for a payment still waiting (at most a day ahead).
  int hint = pending ? pending->retryAfterSeconds : 0;
  if (applied.ok() && pending && hint > 0)
    store_.exec(
        "UPDATE payments SET next_check_at = ? WHERE id = ? AND status IN ('created', 'pending', "
        "'unknown')",
        {clock_.nowMs() + std::min(hint, 86400) * 1000LL, p.id});
  return applied;
}

void PaymentService::checkClosedAttempts(const Payment& p, PaymentProvider& prov) {
  for (const auto& a : PaymentRepository::attempts(store_, p.id)) {
    if (a.state != "closed" || a.providerRef.empty()) continue;
    Payment q = p;
    q.attempt = a.number;
    q.providerRef = a.providerRef;
    auto st = guarded(
        bulkheads_, metrics_, p.provider, [&]() -> Result<ProviderStatus> { return prov.query(q); },
        p.provider + ".query");
    if (!st.ok()) continue;  // asked again with the next webhook or sync
    const ProviderStatus& v = st.value();
    if (v.state == ProviderStatus::State::pending) continue;
    bool paid = v.state == ProviderStatus::State::succeeded;
    // The transaction that settled the payment, seen through another attempt: the same money.
    if (paid && v.providerTxnId == p.providerTxnId) continue;
    std::string detail = machine::describe(v) + " [attempt " + std::to_string(a.number) + "]";
    std::string why;
    if (paid)
      why = "attempt " + std::to_string(a.number) + " was paid too (txn " + v.providerTxnId +
            (v.amountMinor >= 0 ? ", " + formatMajor(v.amountMinor, v.currency) + " " + v.currency
                                : "") +
            ") after the payment settled: nothing is delivered twice; refund it to the customer";
    store_.write([&](Tx& tx) {
      event(tx, p.id, p.provider, "query", detail);
      PaymentRepository::setAttempt(tx, p.id, a.number, paid ? "succeeded" : "failed",
                                    clock_.nowMs(), v.providerTxnId, paid ? v.amountMinor : -1,
                                    v.currency);
      if (paid) {
        event(tx, p.id, p.provider, "paid_twice", why);
        std::string line = p.id + " " + why;
        tx.onCommit([this, line] { log_.warning("payments", line); });
      }
    });
  }
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
  Payment asked = p;
  auto before = PaymentRepository::attempts(store_, p.id);
  asked.attempt = before.empty() ? 0 : before.back().number;
  auto res = guarded(
      bulkheads_, metrics_, p.provider,
      [&]() -> Result<NextAction> { return prov->requestPush(asked, msisdn); },
      p.provider + ".requestPush");
  store_.write([&](Tx& tx) {
    // A prompt the provider knows under a new reference is a new attempt (SDK 1.1); the
    // older ones stay open: the customer may still pay any of them.
    std::string opened;
    if (res.ok() && !res.value().attemptRef.empty()) {
      int n = PaymentRepository::openAttempt(tx, p.id, p.provider, res.value().attemptRef,
                                             clock_.nowMs());
      tx.exec("UPDATE payments SET provider_ref = ? WHERE id = ?", {res.value().attemptRef, p.id});
      opened = " [attempt " + std::to_string(n) + ", provider_ref " + res.value().attemptRef + "]";
    }
    event(tx, p.id, p.provider, res.ok() ? "push_sent" : "push_failed",
          res.ok() ? "prompt sent" + opened : res.error().internal);
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

std::vector<PaymentAttempt> PaymentService::attempts(const std::string& paymentId) {
  return PaymentRepository::attempts(store_, paymentId);
}

std::pair<int, std::string> PaymentService::shortRefFormat(
    const std::vector<std::shared_ptr<PaymentProvider>>& candidates) {
  // Whichever candidate ends up taking the payment accepts it: the shortest limit, digits
  // when one takes digits only. 32^10 (10^10) references by default; a provider that takes
  // fewer than 6 characters risks clashes (the unique index refuses them).
  int length = 10;
  std::string charset = "alnum";
  for (const auto& c : candidates) {
    Capabilities caps = c->capabilities();
    if (caps.refMaxLength > 0) length = std::min(length, caps.refMaxLength);
    if (caps.refCharset == "digits") charset = "digits";
  }
  return {std::max(length, 1), charset};
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
  // SDK 1.1: the short reference and the attempts (one per prompt the provider knows).
  if (!p.shortRef.empty()) o.set("short_ref", p.shortRef);
  Poco::JSON::Array attempts;
  for (const auto& a : PaymentRepository::attempts(store_, p.id)) attempts.add(attemptJson(a));
  o.set("attempts", attempts);
  return o;
}

Poco::JSON::Object PaymentService::attemptJson(const PaymentAttempt& a) {
  Poco::JSON::Object x;
  x.set("number", a.number);
  x.set("provider_ref", a.providerRef);
  x.set("state", a.state);
  if (!a.txnId.empty()) x.set("provider_txn_id", a.txnId);
  if (a.amountMinor >= 0) x.set("amount", formatMajor(a.amountMinor, a.currency));
  if (!a.currency.empty() && a.amountMinor >= 0) x.set("currency", a.currency);
  x.set("settled", a.settled);
  x.set("created_at", isoTime(a.createdAtMs));
  if (a.closedAtMs) x.set("closed_at", isoTime(a.closedAtMs));
  return x;
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
