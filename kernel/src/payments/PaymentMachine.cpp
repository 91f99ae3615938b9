#include "payments/PaymentMachine.hpp"

#include "malipo/money.hpp"

namespace malipo::machine {

namespace {

const char* reportedState(ProviderStatus::State s) {
  return s == ProviderStatus::State::succeeded ? "succeeded"
         : s == ProviderStatus::State::failed  ? "failed"
                                               : "pending";
}

std::string by(const std::string& actor, const std::string& reason) {
  return "by " + (actor.empty() ? std::string("admin") : actor) +
         (reason.empty() ? "" : ": " + reason);
}

}  // namespace

std::string describe(const ProviderStatus& st) {
  return std::string("provider says ") + reportedState(st.state) +
         (st.providerTxnId.empty() ? "" : ", txn " + st.providerTxnId) +
         (st.amountMinor >= 0 ? ", " + formatMajor(st.amountMinor, st.currency) + " " + st.currency
                              : "") +
         (st.resultCode.empty() ? "" : ", code " + st.resultCode) +
         (st.provenance.empty() || st.provenance == "query" ? "" : ", per " + st.provenance) +
         (st.detail.empty() ? "" : " (" + st.detail + ")");
}

Decision onReport(const Payment& p, const ProviderStatus& st, const std::string& source,
                  const Facts& facts) {
  Decision d;
  d.events.push_back({source, describe(st)});
  const bool paid = st.state == ProviderStatus::State::succeeded;
  if (p.status == PaymentStatus::failed || p.status == PaymentStatus::expired ||
      p.status == PaymentStatus::cancelled) {
    // Money arrived after we gave up on the payment: never lose it silently, never deliver
    // it without an operator.
    if (paid) {
      std::string why =
          p.status == PaymentStatus::cancelled
              ? std::string("paid after cancellation")
              : std::string("provider reports it paid after it was ") + statusName(p.status);
      why += st.providerTxnId.empty() ? "" : " (txn " + st.providerTxnId + ")";
      d.events.push_back({"held", why});
      d.to = PaymentStatus::held;
      d.reason = "The payment arrived late and needs review; nothing was delivered.";
      d.recordReported = true;
      d.warning = "held: " + why;
    }
    return d;
  }
  if (isFinal(p.status)) return d;  // succeeded, held: recorded, nothing else
  switch (st.state) {
    case ProviderStatus::State::pending:
      if (p.expiresAtMs > 0 && facts.nowMs > p.expiresAtMs) {
        d.to = PaymentStatus::expired;
        d.reason = "The payment was not completed in time.";
        d.job = FollowUp::failed;
      } else if (p.status == PaymentStatus::unknown || p.status == PaymentStatus::created) {
        d.to = PaymentStatus::pending;
      }
      return d;
    case ProviderStatus::State::failed:
      d.to = PaymentStatus::failed;
      d.reason = st.reason.empty() ? "The payment failed." : st.reason;
      d.job = FollowUp::failed;
      return d;
    case ProviderStatus::State::succeeded:
      break;
  }
  std::string hold;
  if (st.providerTxnId.empty()) {
    hold = "provider reported success without a transaction id";
  } else if (st.currency != p.currency) {
    hold = "currency mismatch: paid " + st.currency + ", due " + p.currency;
  } else if (st.amountMinor != p.amountMinor) {
    hold = "amount mismatch: paid " + formatMajor(st.amountMinor, st.currency) + ", due " +
           formatMajor(p.amountMinor, p.currency) + " " + p.currency;
  } else if (!facts.txnUsedBy.empty()) {
    hold =
        "provider transaction " + st.providerTxnId + " already settled payment " + facts.txnUsedBy;
  }
  if (!hold.empty()) {
    d.events.push_back({"held", hold});
    d.to = PaymentStatus::held;
    d.reason = "The payment needs review; nothing was delivered.";
    d.recordReported = true;
    d.warning = "held: " + hold;
    return d;
  }
  d.to = PaymentStatus::succeeded;
  d.recordSettlement = true;
  d.job = FollowUp::settled;
  return d;
}

Decision onCancel(const Payment& p, const std::string& actor, const std::string& reason) {
  Decision d;
  if (p.status != PaymentStatus::created && p.status != PaymentStatus::pending &&
      p.status != PaymentStatus::unknown) {
    d.refused = std::string("A ") + statusName(p.status) + " payment cannot be cancelled.";
    return d;
  }
  d.events.push_back({"cancel", "cancelled " + by(actor, reason)});
  d.to = PaymentStatus::cancelled;
  d.reason = "The payment was cancelled.";
  d.job = FollowUp::failed;
  return d;
}

Decision onResolve(const Payment& p, const std::string& resolution, bool accept,
                   const std::string& actor, const std::string& reason) {
  Decision d;
  if (p.status != PaymentStatus::held) {
    d.refused = std::string("Only a held payment can be resolved; this one is ") +
                statusName(p.status) + ".";
    return d;
  }
  if (!resolution.empty()) {
    d.refused = "This payment was already resolved (" + resolution + ").";
    return d;
  }
  if (accept) {
    d.events.push_back({"resolve", "accepted " + by(actor, reason)});
    d.to = PaymentStatus::succeeded;
    d.job = FollowUp::settled;
  } else {
    d.events.push_back({"resolve", "refund " + by(actor, reason)});
  }
  return d;
}

}  // namespace malipo::machine
