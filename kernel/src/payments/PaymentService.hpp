// The payment lifecycle (see malipo/payments.hpp): routing to a provider, the state machine
// with compare-and-set on a version, the webhook inbox, the sync / settled / failed jobs,
// the janitor, and the operator API.
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
#include "store/Store.hpp"

namespace malipo {

struct PaymentEvent {
  std::int64_t id = 0;
  std::string kind, detail, providerEventId;
  std::int64_t createdAtMs = 0;
};

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

  // Operator views and the janitor, public for the CLI and tests.
  std::vector<Payment> list(const std::string& status, int limit);
  std::vector<PaymentEvent> events(const std::string& paymentId);
  int runJanitor();
  // Deletes webhook events that matched no payment and are older than the retention.
  int purgeUnmatchedWebhooks();
  Response receiveWebhook(const std::string& provider, const Request& req);
  // When the next provider check is due for a payment checked `checks` times.
  static std::int64_t nextCheckDelayMs(int checks);

 private:
  // Records a push to `msisdn` for `paymentId` in `tx` when the limits allow it; otherwise
  // returns the seconds until one would be allowed.
  int takePushSlot(Tx& tx, const std::string& paymentId, const std::string& msisdn);
  Result<Payment> load(const std::string& id);
  std::optional<Payment> loadByProviderRef(const std::string& provider, const std::string& ref);
  std::shared_ptr<PaymentProvider> provider(const std::string& name);
  std::shared_ptr<Product> product(const std::string& name);
  // Applies the provider's word to a payment, all in one transaction. Returns the new state.
  Result<Payment> apply(const Payment& p, const ProviderStatus& st, const std::string& source);
  bool transition(Tx& tx, const Payment& p, PaymentStatus to, const std::string& reason);
  void event(Tx& tx, const std::string& paymentId, const std::string& provider,
             const std::string& kind, const std::string& detail,
             const std::string& providerEventId = {});
  JobOutcome runSync(const Job& job);
  JobOutcome runSettled(const Job& job, bool settled);
  bool breakerOpen(const std::string& provider);
  void breakerResult(const std::string& provider, bool ok);

  Store& store_;
  JobQueueImpl& jobs_;
  const Clock& clock_;
  Logger& log_;
  Metrics& metrics_;
  PaymentOptions opts_;
  std::map<std::string, std::shared_ptr<PaymentProvider>> providers_;
  std::map<std::string, std::shared_ptr<Product>> products_;
  std::vector<std::string> productOrder_;
  struct Breaker {
    int failures = 0;
    std::int64_t openUntil = 0;
  };
  std::mutex readSyncMutex_;
  std::map<std::string, std::int64_t> readSyncWindow_;  // payment id → last sync-on-read window
  std::mutex breakerMutex_;
  std::map<std::string, Breaker> breakers_;
  Bulkheads bulkheads_{opts_.maxInFlight, opts_.maxInFlightByProvider};
};

}  // namespace malipo
