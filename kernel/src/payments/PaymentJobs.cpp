// The payment core's durable jobs: payment.sync (ask the provider, apply its word),
// payment.settled / payment.failed (tell the product), and the janitor. The refund jobs are in
// Refunds.cpp.
#include "payments/PaymentService.hpp"

namespace malipo {

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
        outcome = deliverInTx(tx, p.value(), *prod);
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

JobOutcome PaymentService::deliverInTx(Tx& tx, const Payment& p, Product& prod) {
  // No row: another run delivered it (the row lock made us wait for it).
  if (tx.exec("UPDATE payments SET fulfilment = 'done', fulfilled_at = ?, fulfilment_error = NULL "
              "WHERE id = ? AND (fulfilment IS NULL OR fulfilment <> 'done')",
              {clock_.nowMs(), p.id}) == 0)
    return JobOutcome::ok();
  return prod.onPaymentSettledInTx(p, tx);
}

// The transaction that settles the payment delivers it too, when the product delivers in the
// transaction: the settled job is recorded done in it and never runs (one write transaction
// for settlement and delivery, instead of the job's enqueue, claim, run, its own transaction
// and its completion). Inside a savepoint: a product that declines (retry or fail) or throws
// has its writes rolled back, and the caller enqueues the job as before, whose runs do the
// retries and the failure bookkeeping. `settled`: the payment as the settling transaction left
// it (not read again).
bool PaymentService::deliverInSettlement(Tx& tx, const Payment& settled) {
  if (settled.status != PaymentStatus::succeeded) return false;
  auto prod = product(settled.product);
  if (!prod || !prod->deliversInTransaction()) return false;
  const std::string& id = settled.id;
  try {
    return Store::nested(tx, [&] {
      return jobs_.recordDone(tx, JobSpec{"payment.settled", id, "settled:" + id, 0, 0}) &&
             deliverInTx(tx, settled, *prod).kind == JobOutcome::Kind::done;
    });
  } catch (const std::exception&) {
    return false;  // rolled back; the job's run tells why
  }
}

std::int64_t PaymentService::nextCheckDelayMs(int checks) {
  static const std::int64_t schedule[] = {60000, 300000, 900000, 3600000};
  return checks < 4 ? schedule[checks] : 3600000;
}

int PaymentService::runJanitor() {
  purgeUnmatchedWebhooks();
  runRefundJanitor();
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

}  // namespace malipo
