// The SQL of the payment core: the payments, payment_events and refunds tables (schema
// history "kernel.payments"), rows to records, the compare-and-set transitions. No logs, no
// metrics: callers put those in Tx::onCommit.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "malipo/db.hpp"
#include "malipo/payments.hpp"
#include "malipo/provider.hpp"

namespace malipo {

struct PaymentEvent {
  std::int64_t id = 0;
  std::string kind, detail, providerEventId;
  std::int64_t createdAtMs = 0;
};

enum class RefundState { requested, pending, succeeded, failed };
const char* refundStateName(RefundState s);
RefundState parseRefundState(const std::string& s);

// A refund row: the SDK's Refund plus its lifecycle.
struct RefundRecord {
  Refund refund;  // id, payment id, amount, currency, reason, actor, forced
  std::string idempotencyKey;
  RefundState state = RefundState::requested;
  bool manual = false;  // recorded by an operator (the provider's reference given), no call
  bool notify = true;   // the product hears of it (not for a held payment it never delivered)
  std::string providerRefundId, failureReason;
  std::string productAnswer;  // what checkRefund said when the operator forced it
  int checks = 0;
  std::int64_t nextCheckAtMs = 0, notifiedAtMs = 0, createdAtMs = 0, updatedAtMs = 0;
  std::int64_t version = 1;
};

// What the provider said was paid, stored when a payment was held (so an operator's refund
// knows what to return and accept knows an overpayment).
struct Reported {
  std::int64_t amountMinor = -1;
  std::string currency, txnId;
  std::string resolution;  // "", "accepted", "refunded"
};

// One prompt of a payment the provider knows under its own reference (payment_attempts):
// attempt 1 is initiate's, each requestPush that answers a new reference adds one.
// state: open (may still be paid), succeeded (paid: the one that settled the payment, or a
// second payment recorded after it), failed (the provider said so), closed (the payment
// settled, failed or expired by another way; still asked when money may arrive late).
struct PaymentAttempt {
  int number = 0;
  std::string provider, providerRef, state;
  std::string txnId;              // succeeded: the provider's transaction
  std::int64_t amountMinor = -1;  // succeeded: as paid
  std::string currency;
  bool settled = false;  // this attempt's money settled the payment
  std::int64_t createdAtMs = 0, closedAtMs = 0;
};

class PaymentRepository {
 public:
  static std::vector<Migration> migrations();

  static std::optional<Payment> find(Database& db, const std::string& id);
  static std::optional<Payment> find(Tx& tx, const std::string& id);
  static std::vector<Payment> list(Database& db, const std::string& status, int limit);
  static std::vector<PaymentEvent> events(Database& db, const std::string& paymentId);
  static Reported reported(Database& db, const std::string& id);
  static Reported reported(Tx& tx, const std::string& id);

  static void insert(Tx& tx, const Payment& p, const std::string& customerJson,
                     std::int64_t firstCheckAtMs);
  // A new payment id: a UUID of version 7 (RFC 9562), the creation time in milliseconds
  // followed by 74 random bits. Ids made close in time sort close together, so the B-tree pages
  // a settlement writes (the payment, its events, attempts and jobs, all keyed by the id) are
  // mostly the same few recent ones: fewer pages per commit than random (version 4) ids.
  static std::string newId(std::int64_t nowMs);
  // An amount in minor units for a nullable column: NULL when not known (negative).
  static Value orNull(std::int64_t minor) { return minor >= 0 ? Value(minor) : Value(Null{}); }
  static void event(Tx& tx, std::int64_t nowMs, const std::string& paymentId,
                    const std::string& provider, const std::string& kind, const std::string& detail,
                    const std::string& providerEventId = {});
  // Compare-and-set on the version; false if someone else moved the payment first. `row`,
  // when given and the payment moved: set to the row as the statement left it.
  static bool setStatus(Tx& tx, const Payment& p, PaymentStatus to, const std::string& reason,
                        std::int64_t nowMs, Payment* row = nullptr);
  // The same compare-and-set to `succeeded` with the provider's settlement (transaction id,
  // gross, fee, net) and `fulfilment = 'pending'`: one statement, not three on the same row.
  static bool settle(Tx& tx, const Payment& p, const ProviderStatus& report,
                     const std::string& reason, std::int64_t nowMs, Payment* row = nullptr);

  // Attempts (SDK 1.1), by number.
  static std::vector<PaymentAttempt> attempts(Database& db, const std::string& paymentId);
  static std::vector<PaymentAttempt> attempts(Tx& tx, const std::string& paymentId);
  // A new open attempt; returns its number.
  static int openAttempt(Tx& tx, const std::string& paymentId, const std::string& provider,
                         const std::string& providerRef, std::int64_t nowMs);
  // Sets an attempt's state (closed_at = now unless open); txn/amount when it was paid.
  static void setAttempt(Tx& tx, const std::string& paymentId, int number, const std::string& state,
                         std::int64_t nowMs, const std::string& txnId = {},
                         std::int64_t amountMinor = -1, const std::string& currency = {},
                         bool settled = false);
  // Closes every open attempt of the payment but `except`.
  static void closeOpenAttempts(Tx& tx, const std::string& paymentId, int except,
                                std::int64_t nowMs);
  // The payment one of whose attempts (or the payment itself) carries this provider reference.
  static std::string paymentIdByRef(Tx& tx, const std::string& provider, const std::string& ref);
  // Finds payments by id, short reference or a provider reference of any attempt.
  static std::vector<Payment> search(Database& db, const std::string& text);
  // A short reference no payment has yet: `length` characters of Crockford's base32 without
  // I, L, O, U (charset "alnum") or of digits ("digits").
  static std::string newShortRef(Tx& tx, int length, const std::string& charset);

  // Refunds.
  static std::optional<RefundRecord> findRefund(Database& db, const std::string& id);
  static std::optional<RefundRecord> findRefund(Tx& tx, const std::string& id);
  static std::optional<RefundRecord> findRefundByKey(Tx& tx, const std::string& paymentId,
                                                     const std::string& key);
  static std::vector<RefundRecord> refunds(Database& db, const std::string& paymentId);
  // Sum of the payment's refunds that succeeded, and of those still in flight.
  static void refundTotals(Tx& tx, const std::string& paymentId, std::int64_t& succeeded,
                           std::int64_t& inFlight);
  static void refundTotals(Database& db, const std::string& paymentId, std::int64_t& succeeded,
                           std::int64_t& inFlight);
  static void insertRefund(Tx& tx, const RefundRecord& r);
  // Compare-and-set of a refund's state on its version.
  static bool setRefundState(Tx& tx, const RefundRecord& r, RefundState to,
                             const std::string& providerRefundId, const std::string& failureReason,
                             std::int64_t nextCheckAtMs, std::int64_t nowMs);
};

}  // namespace malipo
