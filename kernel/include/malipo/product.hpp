// Writing a product: what is sold, and fulfilment once the kernel says it is paid.
//
// onPaymentSettled runs from a durable job, at least once per settled payment (exactly
// once in the normal case; again if the process died mid-fulfilment): make it idempotent,
// e.g. keyed by payment id. Return JobOutcome::retry to be called again with backoff.
// Threading: any method may run concurrently on HTTP and job threads.
// Lifetime: created in the plugin's register function, destroyed at shutdown.
#pragma once

#include <string>
#include <vector>

#include "malipo/component.hpp"
#include "malipo/jobs.hpp"
#include "malipo/payments.hpp"

namespace malipo {

class Product : public Component {
 public:
  virtual std::string name() const = 0;
  virtual JobOutcome onPaymentSettled(const Payment& payment) = 0;
  // Delivery as a database write, inside the kernel's transaction: a product that returns
  // true here gets onPaymentSettledInTx instead of onPaymentSettled, with `tx` the
  // transaction that also records the payment as delivered. So a crash can never deliver
  // twice (the record and the delivery commit together, and a payment recorded as
  // delivered is not delivered again), and delivery costs no transaction of its own. A
  // retry or fail outcome, or a throw, rolls back what the product wrote.
  virtual bool deliversInTransaction() const { return false; }
  virtual JobOutcome onPaymentSettledInTx(const Payment& payment, Tx& tx) {
    (void)tx;
    return onPaymentSettled(payment);
  }
  virtual JobOutcome onPaymentFailed(const Payment& payment) {
    (void)payment;
    return JobOutcome::ok();
  }
  // SDK 1.1: refunds. Before a refund goes to the provider: an error refuses it (conflict
  // → 409 with the error's external text, e.g. "the credits were already spent"). When the
  // operator forces the refund (refund.forced) the answer is recorded but does not refuse.
  virtual Status checkRefund(const Payment& payment, const Refund& refund) {
    (void)payment;
    (void)refund;
    return okStatus();
  }
  // After a refund succeeded (at the provider, or recorded by an operator as manual): take
  // back what the payment paid for (debit credits, revoke a download). Runs from a durable
  // job, at least once per refund: idempotent by refund.id.
  virtual JobOutcome onPaymentRefunded(const Payment& payment, const Refund& refund) {
    (void)payment;
    (void)refund;
    return JobOutcome::ok();
  }
  virtual std::vector<CatalogItem> catalog(const std::string& channel) const {
    (void)channel;
    return {};
  }
  // A short human summary of an account for channel menus (e.g. "Balance: 25 credits").
  virtual Result<std::string> accountSummary(const std::string& accountId) {
    (void)accountId;
    return Error::make(ErrorCode::notFound, "no account summary");
  }
  // Sells `item` to `account` through a channel plugin (e.g. Hubtel's USSD menu): returns
  // the metadata to attach to the payment. Default: not sold through channels.
  virtual Result<std::string> prepareChannelSale(const CatalogItem& item, const Customer& account) {
    (void)item;
    (void)account;
    return Error::make(ErrorCode::invalidInput, "not sold through channels");
  }
};

}  // namespace malipo

// MALIPO_PLUGIN, for the source file that declares the plugin (included last: it needs this file).
#include "malipo/plugin.hpp"
