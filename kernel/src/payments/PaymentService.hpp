// The payment core's facade, implementing malipo::Payments. Its parts:
//   PaymentMachine      the state machine (pure: state + report/action → decision)
//   PaymentRepository   the SQL (payments, events, refunds)
//   Routing             provider choice and the circuit breaker
//   WebhookInbox.cpp    POST /webhooks/{provider}
//   PaymentJobs.cpp     payment.sync / settled / failed, refund jobs, the janitor
//   Refunds.cpp         refunds, cancel, resolving held payments (operator actions)
//   AdminRoutes.cpp     /admin/payments/...
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "jobs/JobQueueImpl.hpp"
#include "malipo/payments.hpp"
#include "malipo/product.hpp"
#include "malipo/provider.hpp"
#include "payments/Bulkheads.hpp"
#include "payments/PaymentMachine.hpp"
#include "payments/PaymentRepository.hpp"
#include "payments/Routing.hpp"
#include "payments/WebhookAuth.hpp"
#include "store/Store.hpp"

namespace malipo {

struct PaymentOptions {
  std::int64_t defaultExpiryMs = 24LL * 3600 * 1000;
  std::int64_t staleReadMs = 15000;  // a poll older than this queues a provider check
  std::int64_t janitorIntervalMs = 30000;
  int breakerThreshold = 5;  // consecutive failures that open the breaker
  std::int64_t breakerOpenMs = 30000;
  // Webhook inbox: body cap of /webhooks/{provider}, and how long events that matched no
  // payment are kept (they are bounded summaries, never bodies).
  std::size_t webhookMaxBodyBytes = 64 * 1024;
  std::int64_t unmatchedWebhookRetentionMs = 72LL * 3600 * 1000;
  // HMAC key of per-payment callback tokens (WebhookAuth); empty: a random one per process.
  std::string webhookTokenSecret;
  // Payment prompts (USSD push) sent to one phone number, across all payments, and for one
  // payment: at most one per interval and so many per hour.
  std::int64_t pushIntervalMs = 30000;
  int pushesPerNumberPerHour = 5;
  int pushesPerPaymentPerHour = 3;
  int maxInFlight = 16;  // provider calls in flight per provider (bulkhead)
  std::map<std::string, int> maxInFlightByProvider;  // per-provider overrides
};

class PaymentService final : public Payments {
 public:
  PaymentService(Store& store, JobQueueImpl& jobs, const Clock& clock, Logger& log,
                 Metrics& metrics, PaymentOptions options);

  static std::vector<Migration> migrations();
  void addProvider(std::shared_ptr<PaymentProvider> p);
  void addProduct(std::shared_ptr<Product> p);
  // Job handlers, the janitor, the inbox and the admin routes.
  void start(Router& router, bool sandbox);

  Result<Payment> create(const CreatePayment& request) override;
  Result<Payment> get(const std::string& id) override;
  Result<Payment> sync(const std::string& id) override;
  Result<ProofOutcome> submitProof(const std::string& id, const std::string& text) override;
  Handler webhookInbox(const std::string& provider) override;
  Result<NextAction> requestPush(const std::string& id, const std::string& msisdn) override;
  std::vector<ChannelItem> catalog(const std::string& channel) override;
  Result<std::string> accountSummary(const std::string& product,
                                     const std::string& accountId) override;
  Result<std::string> prepareChannelSale(const std::string& product, const CatalogItem& item,
                                         const Customer& customer) override;
  Poco::JSON::Object toJson(const Payment& p) const override;
  std::vector<std::string> requirements(const CreatePayment& draft) override;

  // Operator views and the janitor, public for the CLI and tests.
  std::vector<Payment> list(const std::string& status, int limit);
  std::vector<PaymentEvent> events(const std::string& paymentId);
  // The circuit breakers of this process as they stand (read-only, for the console).
  std::vector<CircuitBreakers::State> breakerStates() { return breakers_.snapshot(); }
  std::vector<PaymentAttempt> attempts(const std::string& paymentId);
  // An attempt as the admin API shows it (GET /admin/payments/{id} "attempts").
  static Poco::JSON::Object attemptJson(const PaymentAttempt& a);
  int runJanitor();
  // Deletes webhook events that matched no payment and are older than the retention.
  int purgeUnmatchedWebhooks();
  Response receiveWebhook(const std::string& provider, const Request& req);
  // Webhook authentication (WebhookInbox.cpp): the kernel's public URL, for callback URLs.
  void setPublicUrl(std::function<std::string()> publicUrl);
  const WebhookAuth& webhookAuth() const { return webhookAuth_; }
  // When the next provider check is due for a payment checked `checks` times.
  static std::int64_t nextCheckDelayMs(int checks);

  // Operator actions (admin API and CLI); `actor` is the admin token's name.
  struct RefundAsk {
    std::string paymentId, idempotencyKey, actor, reason;
    std::int64_t amountMinor = -1;  // -1: all that remains
    bool force = false;
    std::string manualReference;  // recorded manual refund: the provider's reference
    std::string refundId;         // set by the kernel: the id the product was asked about
  };
  struct RefundAnswer {
    RefundRecord refund;
    bool created = false;  // false: the key named an earlier refund, returned as it is
  };
  Result<RefundAnswer> requestRefund(const RefundAsk& ask);
  std::vector<RefundRecord> refunds(const std::string& paymentId);
  Result<Payment> cancel(const std::string& id, const std::string& actor,
                         const std::string& reason);
  Result<Payment> resolve(const std::string& id, const std::string& action,
                          const std::string& actor, const std::string& reason,
                          const std::string& manualReference = {});
  Poco::JSON::Object refundJson(const RefundRecord& r) const;

 private:
  // Records a push to `msisdn` for `paymentId` in `tx` when the limits allow it; otherwise
  // returns the seconds until one would be allowed.
  int takePushSlot(Tx& tx, const std::string& paymentId, const std::string& msisdn);
  Result<Payment> load(const std::string& id);
  std::optional<Payment> loadByProviderRef(const std::string& provider, const std::string& ref);
  std::shared_ptr<PaymentProvider> provider(const std::string& name);
  std::shared_ptr<Product> product(const std::string& name);
  // Applies the provider's word to a payment, all in one transaction. Returns the new state.
  // `attempt`: the attempt the report is about (0: the payment as a whole).
  Result<Payment> apply(const Payment& p, const ProviderStatus& st, const std::string& source,
                        int attempt = 0);
  // Asks the provider about the closed attempts of a settled payment: a second payment is
  // recorded on its attempt (never settled twice), for the operator to refund.
  void checkClosedAttempts(const Payment& p, PaymentProvider& prov);
  // The short reference a new payment gets, within what `candidates` accept.
  static std::pair<int, std::string> shortRefFormat(
      const std::vector<std::shared_ptr<PaymentProvider>>& candidates);
  // Applies a decision of the state machine in `tx`: its events, the compare-and-set, the
  // follow-up job; logs and metrics after the commit. False if the payment moved meanwhile.
  // `attempt`: the attempt the report is about; its state follows the payment's. `moved`, when
  // the payment moved: the row as the transaction leaves it.
  bool applyDecision(Tx& tx, const Payment& p, const machine::Decision& d,
                     const ProviderStatus* report = nullptr, int attempt = 0,
                     Payment* moved = nullptr);
  // `settlement`: the provider's report of a payment that moves to succeeded (recorded with the
  // transition, fulfilment pending).
  // `row`: see PaymentRepository::setStatus.
  bool transition(Tx& tx, const Payment& p, PaymentStatus to, const std::string& reason,
                  const ProviderStatus* settlement = nullptr, Payment* row = nullptr);
  void event(Tx& tx, const std::string& paymentId, const std::string& provider,
             const std::string& kind, const std::string& detail,
             const std::string& providerEventId = {});
  void adminRoutes(Router& router);
  JobOutcome runSync(const Job& job);
  JobOutcome runSettled(const Job& job, bool settled);
  // Delivery inside `tx` with its record (fulfilment done); see PaymentJobs.cpp.
  JobOutcome deliverInTx(Tx& tx, const Payment& p, Product& prod);
  bool deliverInSettlement(Tx& tx, const Payment& settled);
  JobOutcome runRefund(const Job& job);
  JobOutcome runRefundNotify(const Job& job);
  int runRefundJanitor();
  // Records the provider's word on a refund (refund() or queryRefund()), in one transaction.
  void applyRefundStatus(const RefundRecord& r, const Payment& p, const RefundStatus& st);
  // Marks a refund succeeded in `tx`: the payment's refunded amount, events, the product's job.
  bool refundSucceeded(Tx& tx, const RefundRecord& r, const Payment& p,
                       const std::string& providerRefundId, const std::string& detail);
  // A new refund row and its job (manual: succeeded at once), in `tx`.
  RefundRecord insertRefund(Tx& tx, const Payment& p, const RefundAsk& ask,
                            std::int64_t amountMinor, const std::string& currency, bool notify,
                            const std::string& productAnswer);
  // The payment as the provider should see it for a refund (a held payment's reported txn).
  Payment forProvider(const Payment& p);

  Store& store_;
  JobQueueImpl& jobs_;
  const Clock& clock_;
  Logger& log_;
  Metrics& metrics_;
  PaymentOptions opts_;
  std::map<std::string, std::shared_ptr<PaymentProvider>> providers_;
  std::map<std::string, std::shared_ptr<Product>> products_;
  std::vector<std::string> productOrder_;
  std::mutex readSyncMutex_;
  std::map<std::string, std::int64_t> readSyncWindow_;  // payment id → last sync-on-read window
  CircuitBreakers breakers_{clock_, log_, opts_.breakerThreshold, opts_.breakerOpenMs};
  Bulkheads bulkheads_{opts_.maxInFlight, opts_.maxInFlightByProvider};
  WebhookAuth webhookAuth_{opts_.webhookTokenSecret};  // webhook models (WebhookInbox.cpp)
  // The inbox's routes: /webhooks/{provider} and the providers' own webhook paths.
  void webhookRoutes(Router& router);
};

}  // namespace malipo
