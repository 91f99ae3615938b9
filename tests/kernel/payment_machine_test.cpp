// The payment state machine alone (no kernel, no database): every transition, table-driven.
#include <gtest/gtest.h>

#include "payments/PaymentMachine.hpp"

using namespace malipo;
using namespace malipo::machine;

namespace {

using S = PaymentStatus;
using R = ProviderStatus::State;

constexpr std::int64_t kNow = 1'000'000, kLater = 2'000'000, kEarlier = 500'000;

enum class Report {
  pending,
  failed,
  paid,
  paidNoTxn,
  paidOtherCurrency,
  paidOtherAmount,
  paidReusedTxn
};

const char* reportName(Report r) {
  switch (r) {
    case Report::pending:
      return "pending";
    case Report::failed:
      return "failed";
    case Report::paid:
      return "paid";
    case Report::paidNoTxn:
      return "paid-no-txn";
    case Report::paidOtherCurrency:
      return "paid-other-currency";
    case Report::paidOtherAmount:
      return "paid-other-amount";
    case Report::paidReusedTxn:
      return "paid-reused-txn";
  }
  return "?";
}

struct Row {
  S from;
  Report report;
  std::int64_t expiresAt;  // the payment's deadline
  std::optional<S> to;     // expected: none = the state stands
  FollowUp job;
  std::string heldBecause;  // expected start of the "held" event's detail
};

Payment payment(S status, std::int64_t expiresAt) {
  Payment p;
  p.id = "p1";
  p.provider = "fakepay";
  p.amountMinor = 100000;
  p.currency = "TZS";
  p.status = status;
  p.expiresAtMs = expiresAt;
  p.version = 3;
  return p;
}

std::pair<ProviderStatus, Facts> report(Report r) {
  ProviderStatus st;
  Facts f;
  f.nowMs = kNow;
  st.amountMinor = 100000;
  st.currency = "TZS";
  st.providerTxnId = "TX1";
  switch (r) {
    case Report::pending:
      st.state = R::pending;
      st.providerTxnId.clear();
      st.amountMinor = -1;
      break;
    case Report::failed:
      st.state = R::failed;
      st.reason = "Declined.";
      st.providerTxnId.clear();
      break;
    case Report::paid:
      st.state = R::succeeded;
      break;
    case Report::paidNoTxn:
      st.state = R::succeeded;
      st.providerTxnId.clear();
      break;
    case Report::paidOtherCurrency:
      st.state = R::succeeded;
      st.currency = "KES";
      break;
    case Report::paidOtherAmount:
      st.state = R::succeeded;
      st.amountMinor = 99900;
      break;
    case Report::paidReusedTxn:
      st.state = R::succeeded;
      f.txnUsedBy = "p0";
      break;
  }
  return {st, f};
}

const std::vector<Row>& table() {
  static const std::vector<Row> rows = [] {
    std::vector<Row> t;
    // Non-final states: every report, before and after the deadline.
    for (S from : {S::created, S::unknown, S::pending}) {
      t.push_back({from, Report::pending, kLater,
                   from == S::pending ? std::nullopt : std::optional<S>(S::pending), FollowUp::none,
                   ""});
      t.push_back({from, Report::pending, kEarlier, S::expired, FollowUp::failed, ""});
      t.push_back({from, Report::failed, kLater, S::failed, FollowUp::failed, ""});
      t.push_back({from, Report::paid, kLater, S::succeeded, FollowUp::settled, ""});
      // Money the customer paid after the deadline, before a sync saw it expired: honoured.
      t.push_back({from, Report::paid, kEarlier, S::succeeded, FollowUp::settled, ""});
      t.push_back({from, Report::paidNoTxn, kLater, S::held, FollowUp::none,
                   "provider reported success without a transaction id"});
      t.push_back({from, Report::paidOtherCurrency, kLater, S::held, FollowUp::none,
                   "currency mismatch: paid KES, due TZS"});
      t.push_back({from, Report::paidOtherAmount, kLater, S::held, FollowUp::none,
                   "amount mismatch: paid 999.00, due 1000.00 TZS"});
      t.push_back({from, Report::paidReusedTxn, kLater, S::held, FollowUp::none,
                   "provider transaction TX1 already settled payment p0"});
    }
    // Given up on: only money arriving changes anything, and then to held, never delivered.
    for (S from : {S::failed, S::expired, S::cancelled}) {
      std::string why =
          from == S::cancelled
              ? "paid after cancellation"
              : std::string("provider reports it paid after it was ") + statusName(from);
      for (Report r : {Report::pending, Report::failed})
        t.push_back({from, r, kLater, std::nullopt, FollowUp::none, ""});
      for (Report r : {Report::paid, Report::paidNoTxn, Report::paidOtherAmount})
        t.push_back({from, r, kLater, S::held, FollowUp::none, why});
    }
    // Settled and held are for good: reports are recorded, nothing else.
    for (S from : {S::succeeded, S::held})
      for (Report r : {Report::pending, Report::failed, Report::paid, Report::paidOtherAmount})
        t.push_back({from, r, kLater, std::nullopt, FollowUp::none, ""});
    return t;
  }();
  return rows;
}

}  // namespace

TEST(PaymentMachine, EveryProviderReportInEveryState) {
  for (const Row& row : table()) {
    SCOPED_TRACE(std::string(statusName(row.from)) + " + " + reportName(row.report) +
                 (row.expiresAt < kNow ? " (past deadline)" : ""));
    auto [st, facts] = report(row.report);
    Decision d = onReport(payment(row.from, row.expiresAt), st, "query", facts);
    EXPECT_TRUE(d.refused.empty());
    EXPECT_EQ(d.to, row.to);
    EXPECT_EQ(d.job, row.job);
    ASSERT_FALSE(d.events.empty());
    EXPECT_EQ(d.events[0].kind, "query");  // what the provider said is always recorded
    EXPECT_EQ(d.recordSettlement, row.to == S::succeeded);
    EXPECT_EQ(d.recordReported, row.to == S::held);
    if (row.to == S::held) {
      ASSERT_EQ(d.events.size(), 2u);
      EXPECT_EQ(d.events[1].kind, "held");
      EXPECT_EQ(d.events[1].detail.rfind(row.heldBecause, 0), 0u) << d.events[1].detail;
      EXPECT_FALSE(d.warning.empty());
      EXPECT_FALSE(d.reason.empty());
    } else {
      EXPECT_EQ(d.events.size(), 1u);
    }
    if (row.to == S::failed) {
      EXPECT_EQ(d.reason, "Declined.");
    }
  }
}

TEST(PaymentMachine, TheReportEventSaysWhatTheProviderSaid) {
  auto [st, facts] = report(Report::paid);
  st.detail = "status=paid";
  st.resultCode = "0";
  st.provenance = "callback";
  Decision d = onReport(payment(S::pending, kLater), st, "proof", facts);
  EXPECT_EQ(d.events[0], (Event{"proof",
                                "provider says succeeded, txn TX1, 1000.00 TZS, code 0, per "
                                "callback (status=paid)"}));
  ProviderStatus pending;
  EXPECT_EQ(describe(pending), "provider says pending");
}

TEST(PaymentMachine, OperatorCancel) {
  struct {
    S from;
    bool allowed;
  } rows[] = {{S::created, true}, {S::pending, true},  {S::unknown, true},    {S::succeeded, false},
              {S::failed, false}, {S::expired, false}, {S::cancelled, false}, {S::held, false}};
  for (const auto& row : rows) {
    SCOPED_TRACE(statusName(row.from));
    Decision d = onCancel(payment(row.from, kLater), "ops", "customer asked");
    if (row.allowed) {
      EXPECT_TRUE(d.refused.empty());
      EXPECT_EQ(d.to, S::cancelled);
      EXPECT_EQ(d.job, FollowUp::failed);
      ASSERT_EQ(d.events.size(), 1u);
      EXPECT_EQ(d.events[0], (Event{"cancel", "cancelled by ops: customer asked"}));
    } else {
      EXPECT_FALSE(d.refused.empty());
      EXPECT_FALSE(d.to);
      EXPECT_TRUE(d.events.empty());
    }
  }
}

TEST(PaymentMachine, OperatorResolvesHeld) {
  for (S from :
       {S::created, S::pending, S::unknown, S::succeeded, S::failed, S::expired, S::cancelled}) {
    SCOPED_TRACE(statusName(from));
    for (bool accept : {true, false}) {
      Decision d = onResolve(payment(from, kLater), "", accept, "ops", "why");
      EXPECT_FALSE(d.refused.empty());
      EXPECT_FALSE(d.to);
    }
  }
  Decision accept = onResolve(payment(S::held, kLater), "", true, "ops", "checked the dashboard");
  EXPECT_TRUE(accept.refused.empty());
  EXPECT_EQ(accept.to, S::succeeded);
  EXPECT_EQ(accept.job, FollowUp::settled);  // delivered once: the settled:<id> job
  EXPECT_EQ(accept.events.at(0), (Event{"resolve", "accepted by ops: checked the dashboard"}));

  Decision refund = onResolve(payment(S::held, kLater), "", false, "ops", "short payment");
  EXPECT_TRUE(refund.refused.empty());
  EXPECT_FALSE(refund.to);  // stays held: never delivered
  EXPECT_EQ(refund.job, FollowUp::none);
  EXPECT_EQ(refund.events.at(0), (Event{"resolve", "refund by ops: short payment"}));

  // Once resolved, never again.
  for (bool again : {true, false})
    EXPECT_FALSE(
        onResolve(payment(S::held, kLater), "refunded", again, "ops", "x").refused.empty());
}
