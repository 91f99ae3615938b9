// Operator money actions: refunds (requested → pending → succeeded | failed, the provider
// called from a durable job), cancelling a payment that is not paid yet, and resolving a held
// one (accept: delivered once; refund: the money goes back, nothing is delivered).
#include <Poco/UUIDGenerator.h>

#include "malipo/money.hpp"
#include "payments/PaymentService.hpp"
#include "payments/ProviderCalls.hpp"

namespace malipo {

namespace {

std::string money(std::int64_t minor, const std::string& currency) {
  return formatMajor(minor, currency) + " " + currency;
}

std::string by(const std::string& actor, const std::string& reason) {
  return "by " + actor + (reason.empty() ? "" : ": " + reason);
}

// Gaps between the checks of a refund whose outcome is not known yet (refund() timed out or
// the provider said pending without a hint).
std::int64_t refundCheckDelayMs(int checks) {
  static const std::int64_t schedule[] = {30000, 60000, 300000, 900000};
  return checks < 4 ? schedule[checks] : 3600000;
}

// A refund job sees a requested refund again only if its first run died: ten minutes.
constexpr std::int64_t kRequestedRecheckMs = 600000;

Capabilities capabilitiesOf(PaymentProvider* prov) {
  if (!prov) return {};
  try {
    return prov->capabilities();
  } catch (...) {
    return {};
  }
}

}  // namespace

Payment PaymentService::forProvider(const Payment& p) {
  Payment out = p;
  if (out.providerTxnId.empty())
    out.providerTxnId = PaymentRepository::reported(store_, p.id).txnId;
  return out;
}

std::vector<RefundRecord> PaymentService::refunds(const std::string& paymentId) {
  return PaymentRepository::refunds(store_, paymentId);
}

Poco::JSON::Object PaymentService::refundJson(const RefundRecord& r) const {
  Poco::JSON::Object o;
  o.set("id", r.refund.id);
  o.set("payment_id", r.refund.paymentId);
  o.set("status", refundStateName(r.state));
  o.set("amount_minor", r.refund.amountMinor);
  o.set("amount", formatMajor(r.refund.amountMinor, r.refund.currency));
  o.set("currency", r.refund.currency);
  o.set("reason", r.refund.reason);
  o.set("actor", r.refund.actor);
  o.set("forced", r.refund.forced);
  o.set("manual", r.manual);
  o.set("idempotency_key", r.idempotencyKey);
  if (!r.providerRefundId.empty()) o.set("provider_refund_id", r.providerRefundId);
  if (!r.failureReason.empty()) o.set("failure_reason", r.failureReason);
  if (!r.productAnswer.empty()) o.set("product_answer", r.productAnswer);
  o.set("created_at", isoTime(r.createdAtMs));
  o.set("updated_at", isoTime(r.updatedAtMs));
  return o;
}

RefundRecord PaymentService::insertRefund(Tx& tx, const Payment& p, const RefundAsk& ask,
                                          std::int64_t amountMinor, const std::string& currency,
                                          bool notify, const std::string& productAnswer) {
  std::int64_t now = clock_.nowMs();
  RefundRecord r;
  r.refund.id = !ask.refundId.empty()
                    ? ask.refundId
                    : Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
  r.refund.paymentId = p.id;
  r.refund.amountMinor = amountMinor;
  r.refund.currency = currency;
  r.refund.reason = ask.reason;
  r.refund.actor = ask.actor;
  r.refund.forced = ask.force;
  r.idempotencyKey = ask.idempotencyKey;
  r.manual = !ask.manualReference.empty();
  r.notify = notify;
  r.productAnswer = productAnswer;
  r.createdAtMs = r.updatedAtMs = now;
  r.nextCheckAtMs = now + kRequestedRecheckMs;
  PaymentRepository::insertRefund(tx, r);
  event(tx, p.id, p.provider, "refund_requested",
        "refund " + r.refund.id + " of " + money(amountMinor, currency) +
            (r.manual ? " (manual, provider reference " + ask.manualReference + ")" : "") + " " +
            by(ask.actor, ask.reason) +
            (productAnswer.empty() ? "" : "; forced over the product's refusal: " + productAnswer));
  if (r.manual) {
    refundSucceeded(tx, r, p, ask.manualReference, "recorded manual refund");
    r.state = RefundState::succeeded;
    r.providerRefundId = ask.manualReference;
    ++r.version;
  } else {
    jobs_.enqueue(tx, JobSpec{"refund.run", r.refund.id, "refund:" + r.refund.id, 0, 0});
  }
  return r;
}

bool PaymentService::refundSucceeded(Tx& tx, const RefundRecord& r, const Payment& p,
                                     const std::string& providerRefundId,
                                     const std::string& detail) {
  std::int64_t now = clock_.nowMs();
  if (!PaymentRepository::setRefundState(tx, r, RefundState::succeeded, providerRefundId, "", 0,
                                         now))
    return false;
  tx.exec("UPDATE payments SET refunded_minor = refunded_minor + ?, updated_at = ? WHERE id = ?",
          {r.refund.amountMinor, now, p.id});
  event(tx, p.id, p.provider, "refund_succeeded",
        "refund " + r.refund.id + " of " + money(r.refund.amountMinor, r.refund.currency) +
            " succeeded" + (providerRefundId.empty() ? "" : ", provider ref " + providerRefundId) +
            (detail.empty() ? "" : " (" + detail + ")"));
  if (r.notify)
    jobs_.enqueue(tx, JobSpec{"refund.notify", r.refund.id, "refunded:" + r.refund.id, 0, 0});
  std::string provider = p.provider, line = p.id + " refund " + r.refund.id + " of " +
                                            money(r.refund.amountMinor, r.refund.currency) +
                                            " succeeded";
  tx.onCommit([this, provider, line] {
    metrics_.increment("malipo_refunds_total", {{"provider", provider}, {"status", "succeeded"}});
    log_.info("payments", line);
  });
  return true;
}

Result<PaymentService::RefundAnswer> PaymentService::requestRefund(const RefundAsk& ask) {
  if (ask.idempotencyKey.empty() || ask.idempotencyKey.size() > 200)
    return Error::make(ErrorCode::invalidInput, "refund without an Idempotency-Key",
                       "An Idempotency-Key header (at most 200 characters) is required.");
  if (ask.reason.empty())
    return Error::make(ErrorCode::invalidInput, "refund without a reason", "A reason is required.");
  auto loaded = load(ask.paymentId);
  if (!loaded.ok()) return loaded.error();
  Payment p = loaded.value();
  // The same key again: the refund it made, as it is now.
  for (const auto& r : refunds(p.id))
    if (r.idempotencyKey == ask.idempotencyKey) return RefundAnswer{r, false};
  if (p.status != PaymentStatus::succeeded)
    return Error::make(ErrorCode::conflict, "payment is " + std::string(statusName(p.status)),
                       std::string("Only a succeeded payment can be refunded; this one is ") +
                           statusName(p.status) + ".");
  auto prov = provider(p.provider);
  Capabilities caps = capabilitiesOf(prov.get());
  const bool manual = !ask.manualReference.empty();
  if (!manual && caps.refunds == RefundSupport::none)
    return Error::make(ErrorCode::conflict, "provider " + p.provider + " cannot refund",
                       "This payment method cannot refund through the platform: refund at the "
                       "provider, then record it with manual.provider_reference.");
  Reported rep = PaymentRepository::reported(store_, p.id);
  // What the customer paid: the provider's reported amount when an operator accepted a held
  // payment (short or over), else the payment's amount.
  std::int64_t paid =
      rep.amountMinor >= 0 && rep.currency == p.currency ? rep.amountMinor : p.amountMinor;

  std::int64_t amount = ask.amountMinor;
  auto checkAmount = [&](std::int64_t succeeded, std::int64_t inFlight) -> std::optional<Error> {
    std::int64_t remaining = paid - succeeded - inFlight;
    if (amount < 0) amount = remaining;
    if (amount <= 0 && ask.amountMinor < 0)
      return Error::make(ErrorCode::unprocessable, "nothing left to refund",
                         "Nothing is left to refund on this payment.");
    if (amount <= 0)
      return Error::make(ErrorCode::invalidInput, "refund amount not positive",
                         "The refund amount must be positive.");
    if (amount > remaining)
      return Error::make(ErrorCode::unprocessable, "refund larger than what remains",
                         "The refund (" + money(amount, p.currency) +
                             ") is larger than what remains refundable (" +
                             money(std::max<std::int64_t>(remaining, 0), p.currency) + ").");
    if (!manual && caps.refunds == RefundSupport::full && (amount != paid || succeeded || inFlight))
      return Error::make(
          ErrorCode::unprocessable, "provider refunds whole payments only",
          "This payment method refunds only the whole payment (" + money(paid, p.currency) + ").");
    return std::nullopt;
  };
  // A first look, for the product's question; the transaction below checks again.
  {
    std::int64_t succeeded = 0, inFlight = 0;
    PaymentRepository::refundTotals(store_, p.id, succeeded, inFlight);
    if (auto e = checkAmount(succeeded, inFlight)) return *e;
  }
  // The product may refuse (the credits were spent); the operator may force it.
  const std::string refundId = Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
  std::string productAnswer;
  {
    Refund asked;
    asked.id = refundId;
    asked.paymentId = p.id;
    asked.amountMinor = amount;
    asked.currency = p.currency;
    asked.reason = ask.reason;
    asked.actor = ask.actor;
    asked.forced = ask.force;
    auto prod = product(p.product);
    Status st =
        prod ? okStatus()
             : Status(Error::make(ErrorCode::unavailable, "product " + p.product + " is not loaded",
                                  "The product is not available to approve the refund."));
    if (prod) {
      try {
        st = prod->checkRefund(p, asked);
      } catch (const std::exception& e) {
        st = Error::make(ErrorCode::internal, std::string("checkRefund threw: ") + e.what(),
                         "The product could not check the refund.");
      }
    }
    if (!st.ok()) {
      const Error& e = st.error();
      if (!ask.force) {
        Error out = Error::make(
            e.code == ErrorCode::unavailable ? ErrorCode::unavailable : ErrorCode::conflict,
            p.product + " refused the refund: " + e.internal,
            e.external.empty() ? "The product refused the refund." : e.external);
        store_.write([&](Tx& tx) {
          event(tx, p.id, p.provider, "refund_refused",
                p.product + " refused " + money(amount, p.currency) + ": " +
                    (e.external.empty() ? e.internal : e.external) + " (" +
                    by(ask.actor, ask.reason) + ")");
        });
        return out;
      }
      productAnswer = e.external.empty() ? e.internal : e.external;
    }
  }
  std::optional<Error> refused;
  RefundAnswer answer;
  try {
    store_.write([&](Tx& tx) {
      refused.reset();
      answer = {};
      // The payment's row lock orders concurrent refunds of one payment (PostgreSQL).
      tx.exec("UPDATE payments SET version = version WHERE id = ?", {p.id});
      if (auto earlier = PaymentRepository::findRefundByKey(tx, p.id, ask.idempotencyKey)) {
        answer = {*earlier, false};
        return;
      }
      auto now = PaymentRepository::find(tx, p.id);
      if (!now || now->status != PaymentStatus::succeeded) {
        refused = Error::make(ErrorCode::conflict, "payment moved", "The payment changed; retry.");
        return;
      }
      std::int64_t succeeded = 0, inFlight = 0;
      PaymentRepository::refundTotals(tx, p.id, succeeded, inFlight);
      // The amount the product was asked about, checked again under the lock.
      if ((refused = checkAmount(succeeded, inFlight))) return;
      RefundAsk withId = ask;
      withId.refundId = refundId;
      answer = {insertRefund(tx, *now, withId, amount, p.currency, true, productAnswer), true};
    });
  } catch (const DbError&) {
    // Two requests with one key raced: the unique index let one in; return that one.
    for (const auto& r : refunds(p.id))
      if (r.idempotencyKey == ask.idempotencyKey) return RefundAnswer{r, false};
    throw;
  }
  if (refused) return *refused;
  return answer;
}

void PaymentService::applyRefundStatus(const RefundRecord& r, const Payment& p,
                                       const RefundStatus& st) {
  std::int64_t now = clock_.nowMs();
  store_.write([&](Tx& tx) {
    auto cur = PaymentRepository::findRefund(tx, r.refund.id);
    if (!cur || cur->state == RefundState::succeeded || cur->state == RefundState::failed) return;
    std::string said =
        std::string("provider says refund ") +
        (st.state == RefundStatus::State::succeeded ? "succeeded"
         : st.state == RefundStatus::State::failed  ? "failed"
                                                    : "pending") +
        (st.providerRefundId.empty() ? "" : ", ref " + st.providerRefundId) +
        (st.amountMinor >= 0 ? ", " + money(st.amountMinor, r.refund.currency) : "") +
        (st.detail.empty() ? "" : " (" + st.detail + ")");
    event(tx, p.id, p.provider, "refund_query", "refund " + r.refund.id + ": " + said);
    switch (st.state) {
      case RefundStatus::State::succeeded:
        if (st.amountMinor >= 0 && st.amountMinor != r.refund.amountMinor)
          event(tx, p.id, p.provider, "refund_mismatch",
                "refund " + r.refund.id + ": provider refunded " +
                    money(st.amountMinor, r.refund.currency) + ", asked " +
                    money(r.refund.amountMinor, r.refund.currency));
        refundSucceeded(tx, *cur, p, st.providerRefundId, "");
        break;
      case RefundStatus::State::failed: {
        std::string why = st.reason.empty() ? "The provider refused the refund." : st.reason;
        if (PaymentRepository::setRefundState(tx, *cur, RefundState::failed, st.providerRefundId,
                                              why, 0, now)) {
          event(tx, p.id, p.provider, "refund_failed", "refund " + r.refund.id + " failed: " + why);
          std::string provider = p.provider;
          tx.onCommit([this, provider] {
            metrics_.increment("malipo_refunds_total",
                               {{"provider", provider}, {"status", "failed"}});
          });
        }
        break;
      }
      case RefundStatus::State::pending: {
        std::int64_t next = now + (st.retryAfterSeconds > 0 ? st.retryAfterSeconds * 1000LL
                                                            : refundCheckDelayMs(cur->checks));
        if (PaymentRepository::setRefundState(tx, *cur, RefundState::pending, st.providerRefundId,
                                              "", next, now) &&
            cur->state == RefundState::requested)
          event(tx, p.id, p.provider, "refund_pending",
                "refund " + r.refund.id + " accepted by the provider, not final yet");
        break;
      }
    }
  });
}

JobOutcome PaymentService::runRefund(const Job& job) {
  auto r = PaymentRepository::findRefund(store_, job.payload);
  if (!r) return JobOutcome::fail("no refund " + job.payload);
  if (r->state == RefundState::succeeded || r->state == RefundState::failed)
    return JobOutcome::ok();
  auto p = load(r->refund.paymentId);
  if (!p.ok()) return JobOutcome::fail(p.error().internal);
  auto prov = provider(p.value().provider);
  if (!prov) return JobOutcome::retry("provider " + p.value().provider + " is not loaded");
  Payment pay = forProvider(p.value());
  RefundRequest req;
  req.refundId = r->refund.id;
  req.amountMinor = r->refund.amountMinor;
  req.currency = r->refund.currency;
  req.reason = r->refund.reason;
  req.providerRefundId = r->providerRefundId;
  const std::string& name = pay.provider;
  auto callRefund = [&] {
    return guarded(
        bulkheads_, metrics_, name,
        [&]() -> Result<RefundStatus> { return prov->refund(pay, req); }, name + ".refund");
  };
  Result<RefundStatus> res = Error::make(ErrorCode::internal, "not called");
  if (r->state == RefundState::requested) {
    res = callRefund();
  } else {
    res = guarded(
        bulkheads_, metrics_, name,
        [&]() -> Result<RefundStatus> { return prov->queryRefund(pay, req); },
        name + ".queryRefund");
    // The provider never saw it (refund() timed out before it arrived): ask again; refund()
    // is idempotent by our refund id.
    if (!res.ok() && res.error().code == ErrorCode::notFound) res = callRefund();
  }
  if (res.ok()) {
    applyRefundStatus(*r, p.value(), res.value());
    return JobOutcome::ok();
  }
  const Error& e = res.error();
  const bool definite = e.code == ErrorCode::invalidInput || e.code == ErrorCode::conflict ||
                        e.code == ErrorCode::unprocessable;
  if (definite && r->state == RefundState::requested) {
    RefundStatus failed;
    failed.state = RefundStatus::State::failed;
    failed.reason = e.external.empty() ? "The provider refused the refund." : e.external;
    failed.detail = e.internal;
    applyRefundStatus(*r, p.value(), failed);
    return JobOutcome::ok();
  }
  // Unknown outcome (a timeout, a provider error): pending; the janitor asks queryRefund.
  if (e.code == ErrorCode::providerTimeout || r->state == RefundState::pending ||
      job.attempt >= job.maxAttempts) {
    std::int64_t now = clock_.nowMs();
    store_.write([&](Tx& tx) {
      auto cur = PaymentRepository::findRefund(tx, r->refund.id);
      if (!cur || (cur->state != RefundState::requested && cur->state != RefundState::pending))
        return;
      std::int64_t next = now + (e.retryAfterSeconds > 0 ? e.retryAfterSeconds * 1000LL
                                                         : refundCheckDelayMs(cur->checks));
      PaymentRepository::setRefundState(tx, *cur, RefundState::pending, "", "", next, now);
      event(tx, pay.id, pay.provider,
            e.code == ErrorCode::providerTimeout ? "refund_timeout" : "refund_query_failed",
            "refund " + r->refund.id + ": " + e.internal);
    });
    return JobOutcome::ok();
  }
  return JobOutcome::retry(e.internal);
}

JobOutcome PaymentService::runRefundNotify(const Job& job) {
  auto r = PaymentRepository::findRefund(store_, job.payload);
  if (!r) return JobOutcome::fail("no refund " + job.payload);
  if (r->notifiedAtMs) return JobOutcome::ok();  // told before a crash
  auto p = load(r->refund.paymentId);
  if (!p.ok()) return JobOutcome::fail(p.error().internal);
  auto prod = product(p.value().product);
  if (!prod) return JobOutcome::retry("product " + p.value().product + " is not loaded");
  JobOutcome outcome;
  try {
    outcome = prod->onPaymentRefunded(p.value(), r->refund);
  } catch (const std::exception& e) {
    outcome = JobOutcome::retry(std::string("product threw: ") + e.what());
  }
  if (outcome.kind == JobOutcome::Kind::done) {
    store_.write([&](Tx& tx) {
      tx.exec("UPDATE refunds SET notified_at = ? WHERE id = ? AND notified_at IS NULL",
              {clock_.nowMs(), r->refund.id});
      event(tx, p.value().id, p.value().provider, "refund_delivered",
            "refund " + r->refund.id + ": " + p.value().product + " took back what it paid for");
    });
  } else if (outcome.kind == JobOutcome::Kind::fail || job.attempt >= job.maxAttempts) {
    log_.error("payments", p.value().id + " refund " + r->refund.id + ": " + p.value().product +
                               " did not take back what it paid for: " + outcome.error);
  }
  return outcome;
}

int PaymentService::runRefundJanitor() {
  std::int64_t now = clock_.nowMs();
  Rows due = store_.query(
      "SELECT id, checks FROM refunds WHERE status IN ('requested', 'pending') AND manual = 0 AND "
      "next_check_at <= ? ORDER BY next_check_at LIMIT 200",
      {now});
  int n = 0;
  for (std::size_t i = 0; i < due.size(); ++i) {
    std::string id = due.str(i, "id");
    std::int64_t checks = due.i64(i, "checks");
    store_.write([&](Tx& tx) {
      if (tx.exec("UPDATE refunds SET checks = checks + 1, next_check_at = ? WHERE id = ? AND "
                  "checks = ?",
                  {now + refundCheckDelayMs(static_cast<int>(checks) + 1), id, checks}) == 1) {
        jobs_.enqueue(tx, JobSpec{"refund.run", id,
                                  "refundcheck:" + id + ":" + std::to_string(checks), 0, 0});
        ++n;
      }
    });
  }
  return n;
}

Result<Payment> PaymentService::cancel(const std::string& id, const std::string& actor,
                                       const std::string& reason) {
  if (reason.empty())
    return Error::make(ErrorCode::invalidInput, "cancel without a reason", "A reason is required.");
  auto loaded = load(id);
  if (!loaded.ok()) return loaded;
  Payment p = loaded.value();
  machine::Decision d = machine::onCancel(p, actor, reason);
  if (!d.refused.empty())
    return Error::make(ErrorCode::conflict, "payment is " + std::string(statusName(p.status)),
                       d.refused);
  auto prov = provider(p.provider);
  if (capabilitiesOf(prov.get()).cancel) {
    auto st = guarded(
        bulkheads_, metrics_, p.provider,
        [&]() -> Result<ProviderStatus> { return prov->cancel(p); }, p.provider + ".cancel");
    if (!st.ok()) {
      store_.write([&](Tx& tx) {
        event(tx, p.id, p.provider, "cancel_failed",
              st.error().internal + " (" + by(actor, reason) + ")");
      });
      return Error::make(st.error().code == ErrorCode::providerTimeout ? ErrorCode::providerTimeout
                                                                       : ErrorCode::providerError,
                         st.error().internal,
                         "The provider did not cancel the payment: " +
                             (st.error().external.empty() ? std::string("try again later.")
                                                          : st.error().external));
    }
    if (st.value().state == ProviderStatus::State::succeeded) {
      // Too late: it was paid. Applied as any success (checks, settlement).
      store_.write([&](Tx& tx) {
        event(tx, p.id, p.provider, "cancel",
              "cancel asked " + by(actor, reason) + ": the provider says it was paid");
      });
      return apply(p, st.value(), "cancel");
    }
    if (st.value().state == ProviderStatus::State::pending) {
      store_.write([&](Tx& tx) {
        event(tx, p.id, p.provider, "cancel_failed",
              machine::describe(st.value()) + " (" + by(actor, reason) + ")");
      });
      return Error::make(ErrorCode::conflict, "provider did not confirm the cancellation",
                         "The provider has not confirmed the cancellation; the payment stays " +
                             std::string(statusName(p.status)) + ". Try again later.");
    }
    d.events.insert(d.events.begin(), {"cancel", "provider: " + machine::describe(st.value())});
  }
  bool moved = false;
  store_.write([&](Tx& tx) {
    auto cur = PaymentRepository::find(tx, p.id);
    if (!cur) return;
    machine::Decision again = machine::onCancel(*cur, actor, reason);
    if (!again.refused.empty()) return;
    moved = applyDecision(tx, *cur, d);
  });
  auto after = load(p.id);
  if (!moved && after.ok() && after.value().status != PaymentStatus::cancelled)
    return Error::make(ErrorCode::conflict, "payment moved during cancel",
                       std::string("The payment changed meanwhile; it is now ") +
                           statusName(after.value().status) + ".");
  return after;
}

Result<Payment> PaymentService::resolve(const std::string& id, const std::string& action,
                                        const std::string& actor, const std::string& reason,
                                        const std::string& manualReference) {
  if (action != "accept" && action != "refund")
    return Error::make(ErrorCode::invalidInput, "bad action " + action,
                       "action must be \"accept\" or \"refund\".");
  if (reason.empty())
    return Error::make(ErrorCode::invalidInput, "resolve without a reason",
                       "A reason is required.");
  auto loaded = load(id);
  if (!loaded.ok()) return loaded;
  Payment p = loaded.value();
  Reported rep = PaymentRepository::reported(store_, p.id);
  const bool accept = action == "accept";
  machine::Decision d = machine::onResolve(p, rep.resolution, accept, actor, reason);
  if (!d.refused.empty()) return Error::make(ErrorCode::conflict, "cannot resolve", d.refused);
  // What to give back: all that was paid (refund), or the overpaid difference (accept).
  std::int64_t back = 0;
  std::string currency = rep.currency.empty() ? p.currency : rep.currency;
  if (!accept)
    back = rep.amountMinor >= 0 ? rep.amountMinor : p.amountMinor;
  else if (rep.currency == p.currency && rep.amountMinor > p.amountMinor)
    back = rep.amountMinor - p.amountMinor;
  auto prov = provider(p.provider);
  if (back > 0 && manualReference.empty() &&
      capabilitiesOf(prov.get()).refunds == RefundSupport::none)
    return Error::make(ErrorCode::conflict, "provider " + p.provider + " cannot refund",
                       "This payment method cannot refund through the platform: refund " +
                           money(back, currency) +
                           " at the provider, then give its reference as "
                           "manual.provider_reference.");
  bool moved = false;
  store_.write([&](Tx& tx) {
    moved = false;
    auto cur = PaymentRepository::find(tx, p.id);
    if (!cur || cur->version != p.version) return;
    Reported now = PaymentRepository::reported(tx, p.id);
    if (!now.resolution.empty()) return;
    if (!applyDecision(tx, *cur, d)) return;
    tx.exec("UPDATE payments SET resolution = ?, version = version + ? WHERE id = ?",
            {accept ? "accepted" : "refunded", static_cast<std::int64_t>(d.to ? 0 : 1), p.id});
    // Accepted: the provider's transaction is the payment's, unless another payment has it.
    if (accept)
      tx.exec(
          "UPDATE payments SET provider_txn_id = reported_txn_id WHERE id = ? AND reported_txn_id "
          "IS NOT NULL AND NOT EXISTS (SELECT 1 FROM payments o WHERE o.provider = "
          "payments.provider AND o.provider_txn_id = payments.reported_txn_id)",
          {p.id});
    if (back > 0) {
      Payment after = *cur;
      RefundAsk ask;
      ask.paymentId = p.id;
      ask.idempotencyKey = "resolve:" + p.id;
      ask.actor = actor;
      ask.reason = accept ? "overpayment returned: " + reason : reason;
      ask.manualReference = manualReference;
      // Not the product's business: an undelivered payment gave nothing to take back, and an
      // overpayment's difference bought nothing.
      insertRefund(tx, after, ask, back, currency, false, "");
    }
    moved = true;
  });
  if (!moved)
    return Error::make(ErrorCode::conflict, "payment moved during resolve",
                       "The payment changed meanwhile; reload it and try again.");
  return load(p.id);
}

}  // namespace malipo
