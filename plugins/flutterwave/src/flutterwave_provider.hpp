// The Flutterwave v3 provider: hosted checkout (redirect channel), verification by
// reference (and by transaction id when one is known), webhooks as hints, and the return
// route that shows the customer the verified result and tells a parent frame.
//
// Thread-safety: every method may run concurrently on HTTP and job threads; the object holds
// only immutable configuration, and state lives in the database.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "flutterwave_wire.hpp"
#include "malipo/provider.hpp"
#include "malipo/settings_decl.hpp"

namespace malipo::flutterwave {

class Simulator;

// Used when the setting is empty and sandbox is on: the simulator accepts these, so a fresh
// checkout runs with no Flutterwave account. Outside sandbox they are refused at start-up.
inline const char* kSandboxSecretKey = "FLWSECK_TEST-malipo-sandbox";
inline const char* kSandboxSecretHash = "malipo-sandbox-secret-hash";
inline const char* kProductionBaseUrl = "https://api.flutterwave.com/v3";

// The plugin's settings. Each member's initializer is its default; decl() names each key,
// its description and range once and yields both the schema and this struct.
struct ProviderConfig {
  std::string baseUrl;  // as configured; empty: the simulator (sandbox) or production
  std::string secretKey, secretHash;
  int timeoutMs = 15000;
  std::string title, description, logo, paymentOptions;
  std::vector<std::string> currencies{"NGN", "GHS", "KES", "TZS", "UGX", "RWF", "ZAR", "USD"};
  std::string placeholderEmailDomain = "example.com";
  std::string postMessageOrigin = "*";
  std::string simWebhookMode = "verif-hash", simWebhookUrl;
  // The return page: where "Back" leads when the payment names no return URL, how often it
  // may ask Flutterwave for one payment, and how long it keeps checking while pending.
  std::string defaultReturnUrl;
  std::int64_t checkIntervalMs = 10000;
  int refreshSeconds = 5, maxRefreshes = 24;
  // A refund whose create call got no answer and that the refund list does not show after
  // this long was never made (the kernel then records it as failed).
  std::int64_t refundGraceMs = 900000;
  bool sandbox = false;  // not a setting: the kernel's

  static const Decl<ProviderConfig>& decl();
  static ProviderConfig fromSettings(const Settings& settings, bool sandbox);
};

class FlutterwaveProvider final : public PaymentProvider {
 public:
  explicit FlutterwaveProvider(Host& host);
  ~FlutterwaveProvider() override;

  std::string name() const override { return "flutterwave"; }
  Capabilities capabilities() const override;
  std::vector<Migration> migrations() const override;
  void start() override;
  void stop() override;

  Result<InitiateResult> initiate(const Payment& payment, const CreatePayment& request) override;
  Result<ProviderStatus> query(const Payment& payment) override;
  Result<RefundStatus> refund(const Payment& payment, const RefundRequest& request) override;
  Result<RefundStatus> queryRefund(const Payment& payment, const RefundRequest& request) override;
  Result<std::vector<WebhookEvent>> parseWebhook(const Request& request) override;
  void routes(Router& router) override;
  void simulator(Router& router) override;

 private:
  std::string baseUrl() const;
  Result<OutboundResponse> call(const std::string& method, const std::string& path,
                                const std::string& body);
  Result<ProviderStatus> verify(const std::string& path, const std::string& txRef);
  // A transaction id Flutterwave itself told us about (a signed webhook; never the public
  // return URL): query() verifies it by id, and only a transaction carrying our tx_ref counts.
  void recordHint(const std::string& paymentId, const std::string& transactionId,
                  const std::string& source);
  std::vector<std::string> hints(const std::string& paymentId);
  // The return page's check of one payment with Flutterwave: at most one per
  // checkIntervalMs per payment across every page load and process (false: serve the stored
  // state, which the kernel's sync on read keeps fresh).
  bool claimReturnCheck(const std::string& paymentId);
  Response returnPage(const Request& request);
  // Refunds: our row per refund id (state sending | created | refused, Flutterwave's id once
  // known), and the lookups that keep refund() from ever refunding twice.
  struct RefundRow {
    bool exists = false;
    std::string transactionId, flwRefundId, state;
    std::int64_t createdAtMs = 0;
  };
  RefundRow refundRow(const std::string& refundId);
  void saveRefund(const std::string& refundId, const std::string& state,
                  const std::string& flwRefundId);
  Result<RefundStatus> postRefund(const Payment& payment, const RefundRequest& request,
                                  const std::string& transactionId);
  // GET /v3/refunds/{id}; a 404 is notFound.
  Result<RefundStatus> fetchRefund(const Payment& payment, const std::string& flwRefundId);
  // The refund list, searched for our marker; found=false when no page has it.
  Result<RefundLookup> lookupRefund(const Payment& payment, const std::string& refundId,
                                    const RefundRow& row);

  Host& host_;
  ProviderConfig cfg_;
  std::unique_ptr<Simulator> sim_;
};

}  // namespace malipo::flutterwave
