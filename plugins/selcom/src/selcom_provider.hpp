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
#include "selcom_wire.hpp"

namespace malipo::selcom {

namespace sim {
class Simulator;
}

// The plugin's settings, read once (see selcomSchema() for every key and its default).
struct SelcomConfig {
  std::string baseUrl, apiKey, apiSecret, vendor, ussdCode, ussdMessage, pushMessage;
  std::vector<std::string> ussdSteps;
  std::vector<std::string> currencies;
  std::string fallbackBuyerName, fallbackBuyerEmail, fallbackBuyerPhone;
  int timeoutMs = 15000;
  bool requireSignedWebhooks = false;
  std::int64_t orderExpiryMinutes = 60;

  static SelcomConfig from(const Settings& s);
};

// The settings schema (also the documentation `malipo check-config` shows).
SchemaNode selcomSchema();

// Sandbox credentials the schema defaults to; start() refuses them outside sandbox mode.
inline constexpr const char* kSandboxApiKey = "sandbox-key";
inline constexpr const char* kSandboxApiSecret = "sandbox-secret";

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
