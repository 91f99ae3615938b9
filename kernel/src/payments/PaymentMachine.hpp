// The payment state machine as one pure function: the current payment + what happened (a
// provider's report, an operator's action) → the transition to make, the events to write and
// the follow-up job to enqueue. No database, no clock, no logs: PaymentService applies the
// decision in one transaction (compare-and-set on the version) and logs after the commit.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "malipo/payments.hpp"
#include "malipo/provider.hpp"

namespace malipo::machine {

// The job a transition enqueues in its transaction.
enum class FollowUp {
  none,
  settled,  // payment.settled (key settled:<id>): the product delivers
  failed,   // payment.failed (key failed:<id>): the product hears it will not be paid
};

struct Event {
  std::string kind, detail;
  bool operator==(const Event& o) const { return kind == o.kind && detail == o.detail; }
};

struct Decision {
  // Non-empty: the action is refused (the payment is in a state that does not allow it);
  // nothing is written. Operator actions only (a provider's report is always recorded).
  std::string refused;
  std::optional<PaymentStatus> to;  // no value: the state stands
  std::string reason;               // failure_reason stored with the new state (customer-safe)
  std::vector<Event> events;        // written in this order, before the transition's own event
  FollowUp job = FollowUp::none;
  bool recordSettlement = false;  // → succeeded: store the provider's txn id and fees
  bool recordReported = false;    // → held: store what the provider said was paid
  std::string warning;            // to log after the commit (why a payment is held)
};

// What the caller looked up for the decision.
struct Facts {
  std::int64_t nowMs = 0;
  // Another payment of the same provider already carries the report's transaction id.
  std::string txnUsedBy;
};

// "provider says succeeded, txn TX9, 1000.00 TZS (status=paid)": the event a report writes.
std::string describe(const ProviderStatus& st);

// A provider's report about the payment: `source` names the event ("query", "proof",
// "cancel").
Decision onReport(const Payment& p, const ProviderStatus& st, const std::string& source,
                  const Facts& facts);

// An operator cancels (locally, or the provider confirmed it cancelled the order).
Decision onCancel(const Payment& p, const std::string& actor, const std::string& reason);

// An operator resolves a held payment. accept: delivered (held → succeeded, settlement once);
// refund: the money goes back, the payment stays held and is never delivered.
// `resolution` is what was decided before ("" when never resolved).
Decision onResolve(const Payment& p, const std::string& resolution, bool accept,
                   const std::string& actor, const std::string& reason);

}  // namespace malipo::machine
