// The Selcom payment provider: Selcom API gateway checkout (create-order-minimal, USSD push by
// wallet-payment, order-status) behind the kernel's PaymentProvider SPI.
//
// It translates only: the kernel decides. Settlement always rests on a signed order-status
// query; a webhook is a hint and a pasted SMS is a claim that order-status must confirm.
// Thread-safety: every method may run concurrently on HTTP and job threads; the object holds
// only immutable settings, and the database and HTTP client are thread-safe.
// Lifetime: created in the register function; stop() ends the simulator's background work.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "malipo/provider.hpp"
#include "malipo/settings_decl.hpp"
#include "selcom_wire.hpp"

namespace malipo::selcom {

namespace sim {
class Simulator;
}

// Sandbox credentials the settings default to; start() refuses them outside sandbox mode.
inline constexpr const char* kSandboxApiKey = "sandbox-key";
inline constexpr const char* kSandboxApiSecret = "sandbox-secret";

// The plugin's settings, read once. Each member's initializer is its default; decl() (in
// selcom_provider.cpp) names each key, its description and range once, and yields both the
// schema and this struct.
struct SelcomConfig {
  std::string baseUrl;
  std::string apiKey = kSandboxApiKey, apiSecret = kSandboxApiSecret;
  std::string vendor = "CVCHAPCHAP", ussdCode = "*150*00#";
  std::vector<std::string> ussdSteps{"Dial {ussd_code}",
                                     "Choose Lipa kwa M-Pesa (Pay by M-Pesa)",
                                     "Enter the business number {vendor}",
                                     "Enter the reference {reference}",
                                     "Enter the amount {amount} {currency}",
                                     "Confirm with your PIN",
                                     "Keep the confirmation SMS: paste it here if the payment is "
                                     "not confirmed within a minute"};
  std::string ussdMessage =
      "Dial {ussd_code} and pay {currency} {amount} to {vendor} with reference {reference}, then "
      "paste the confirmation SMS if the payment is not confirmed within a minute.";
  std::string pushMessage =
      "We sent a payment request to {phone}. Enter your PIN to pay {currency} {amount} to "
      "{vendor}. No prompt? Dial {ussd_code} and pay with reference {reference}.";
  std::vector<std::string> currencies{"TZS"};
  std::string fallbackBuyerName = "Customer", fallbackBuyerEmail = "customer@example.com",
              fallbackBuyerPhone = "255700000000";
  int timeoutMs = 15000;
  bool requireSignedWebhooks = false;
  std::int64_t orderExpiryMinutes = 60;

  static const Decl<SelcomConfig>& decl();
  static SelcomConfig from(const Settings& s);
};

// The settings schema (also the documentation `malipo check-config` shows).
SchemaNode selcomSchema();

class SelcomProvider final : public PaymentProvider {
 public:
  explicit SelcomProvider(Host& host);
  ~SelcomProvider() override;

  std::string name() const override { return host_.pluginName(); }
  Capabilities capabilities() const override;
  std::vector<Migration> migrations() const override;
  void start() override;
  void stop() override;

  Result<InitiateResult> initiate(const Payment& payment, const CreatePayment& request) override;
  Result<ProviderStatus> query(const Payment& payment) override;
  Result<std::vector<WebhookEvent>> parseWebhook(const Request& request) override;
  Result<ProviderStatus> verifyProof(const Payment& payment, const std::string& text) override;
  // checkout/wallet-payment for an existing order (the payment page's "send me a prompt").
  Result<NextAction> requestPush(const Payment& payment, const std::string& msisdn) override;
  // DELETE checkout/cancel-order, then order-status: what Selcom then says (CANCEL: failed;
  // COMPLETED: too late, succeeded; PENDING: pending). Selcom has no refund API: refunds are
  // none (operators record manual refunds).
  Result<ProviderStatus> cancel(const Payment& payment) override;
  void simulator(Router& router) override;

 private:
  std::string baseUrl() const;
  // One signed call; GET and DELETE carry the fields in the query string.
  Result<Envelope> call(const std::string& method, const std::string& path, const Fields& fields);
  Result<OrderStatus> orderStatus(const Payment& payment);
  NextAction ussdAction(const Payment& payment, const std::string& reference) const;
  // Transaction ids (Selcom's transid and reference) seen settling a payment, so a pasted
  // SMS naming another payment's transaction gets a clear refusal.
  void remember(const OrderStatus& st, const std::string& paymentId);
  std::optional<std::string> usedBy(const std::string& txnId, const std::string& paymentId);

  Host& host_;
  SelcomConfig cfg_;
  std::unique_ptr<sim::Simulator> sim_;
};

}  // namespace malipo::selcom
