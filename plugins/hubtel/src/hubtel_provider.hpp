// The Hubtel provider: Ghana USSD programmable services.
//
// Hubtel runs the USSD session and collects the money itself; we host one route (default
// /ussd) that answers every USSD step with menus built from the products' catalogs and, on
// checkout, replies AddToCart. The same route receives the fulfilment after the customer paid
// (a body with OrderId). The kernel settles only from query(), and query() settles only from
// Hubtel's transaction status check (fulfilments carry no signature), so:
//
//   confirm ──▶ Payments::create → initiate(): claims the session (no network), records the
//               SessionId as spent (hubtel_payment_refs: it never pays for another payment),
//               provider_ref = SessionId, job hubtel.status_check due in 5 minutes
//           ──▶ AddToCart reply
//   fulfilment ──▶ the kernel's webhook inbox (allow-listed IP, dedup by OrderId, event log)
//              ──▶ row in hubtel_fulfilments + job hubtel.fulfil, in the inbox's transaction;
//                  200 {"success":true,"message":"Received"} once stored
//   hubtel.fulfil ──▶ Payments::sync → query(): the fulfilment is the cue to ask the status
//                     check now → succeeded (gross/fee/net) / failed / pending / held
//                 ──▶ POST the fulfilment callback (success / failed), retried for up to an hour
//   hubtel.status_check ──▶ no fulfilment yet: query() asks Hubtel's status API; Unpaid keeps
//                           checking until the payment's deadline
//
// Interaction requests (every USSD step) are accepted from Hubtel's addresses only outside
// sandbox (interaction_ip_check); account data is shown only to such proven sessions.
//
// Thread-safety: handlers and jobs run concurrently; configuration is immutable after
// construction, state lives in the database, and the one cache (which products answer
// balances) is under a mutex. Lifetime: owned by the kernel; the simulator by the provider.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "group_commit.hpp"
#include "hubtel_menu.hpp"
#include "hubtel_wire.hpp"
#include "malipo/provider.hpp"
#include "malipo/settings_decl.hpp"

namespace malipo::hubtel {

class Simulator;

inline const char* kProductionCallbackUrl = "https://gs-callback.hubtel.com:9055/callback";
inline const char* kProductionStatusBaseUrl = "https://api-txnstatus.hubtel.com";
// Sandbox credentials the simulator accepts when none are configured.
inline const char* kSandboxApiId = "sandbox-api-id";
inline const char* kSandboxApiKey = "sandbox-api-key";
inline const char* kSandboxPosSalesId = "2000000";

// The plugin's settings. Each member's initializer is its default; decl() names each key,
// its description and range once and yields both the schema and this struct.
struct Config {
  bool sandbox = false;  // not a setting: the kernel's
  std::string interactionPath = "/ussd";
  std::string callbackUrl, statusBaseUrl;  // empty: production, or the simulator in sandbox
  std::string posSalesId, apiId, apiKey;
  std::vector<std::string> allowedIps{"52.50.116.54", "18.202.122.131", "52.31.15.68"};
  std::string ipCheckMode = "auto";  // auto (on unless sandbox) | on | off: gives ipCheck
  bool ipCheck = true;
  // Interaction requests (every USSD step) from these addresses only: the allowed_ips unless
  // interaction_allowed_ips is set. Without the check (sandbox, or turned off) a request's
  // Mobile is unproven, so no account data (balances) is shown.
  std::vector<std::string> interactionAllowedIps;
  std::string interactionIpCheckMode = "auto";
  bool interactionIpCheck = true;
  std::string clientStateSecret;
  std::int64_t maxQuantity = 1000;
  std::vector<std::string> quantityFields{"credits"};
  int pageSize = 6;
  bool balanceEntries = true;
  std::int64_t statusCheckAfterMs = 300000, statusCheckIntervalMs = 60000,
               paymentExpiryMs = 3600000;
  std::int64_t callbackWindowMs = 3600000, callbackRetryBaseMs = 2000,
               sessionTtlMs = 24LL * 3600000;
  int timeoutMs = 10000;
  std::string rateLimitBucket = "webhooks";
  Texts texts;
  std::string language;        // of the USSD texts: en, sw, fr ("": the kernel's default language)
  bool languageChoice = true;  // main menu entry 98: the customer picks en, sw or fr
  // Simulator (sandbox only).
  std::vector<std::string> simStatusAllowedIps{"127.0.0.1", "::1"};
  std::string simOperator = "mtn", simServiceCode = "*713#";
  std::string simFeeBearer = "merchant";  // who pays Hubtel's fee: merchant | customer

  static const Decl<Config>& decl();
  static Config fromSettings(const Settings& settings, bool sandbox);
};

class HubtelProvider final : public PaymentProvider {
 public:
  explicit HubtelProvider(Host& host);
  ~HubtelProvider() override;

  std::string name() const override { return "hubtel"; }
  // No refunds (Hubtel's programmable-services API has no refund call we know of: operators
  // refund in the Hubtel dashboard and record a manual refund) and no cancel.
  Capabilities capabilities() const override {
    Capabilities c;
    c.currencies = {kCurrency};
    c.channels = {"ussd_menu"};
    c.refunds = RefundSupport::none;
    c.cancel = false;
    // Fulfilments carry no signature: the kernel's inbox admits them from Hubtel's addresses
    // only (SDK 1.1 allow-list), before parseWebhook sees them.
    if (cfg_.ipCheck) c.webhookAllowedIps = cfg_.allowedIps;
    return c;
  }
  std::vector<Migration> migrations() const override;
  void start() override;
  void stop() override;

  Result<InitiateResult> initiate(const Payment& payment, const CreatePayment& request) override;
  Result<ProviderStatus> query(const Payment& payment) override;
  // Fulfilments, through the kernel's inbox (dedup, audit trail): one event per OrderId, for
  // the payment whose provider_ref is the SessionId; answered {"success":true,"message":
  // "Received"} (a duplicate too) once stored.
  Result<std::vector<WebhookEvent>> parseWebhook(const Request& request) override;
  Result<ParsedWebhook> parseWebhookReply(const Request& request) override;
  // In the inbox's transaction: the fulfilment's row and its hubtel.fulfil job (the callback).
  Status onWebhookStored(const Request& request, const std::vector<WebhookEvent>& fresh,
                         Tx& tx) override;
  void routes(Router& router) override;
  void simulator(Router& router) override;
  Result<SandboxResult> sandboxPay(const Payment& payment, const SandboxPayment& how) override;
  Status sandboxFault(const std::string& fault, int count) override;
  // The channel-sale driver: the simulated phone buys the item in the menu (the kit's way in).
  Result<Payment> sandboxSale(const CreatePayment& draft) override;

  const Config& config() const { return cfg_; }
  // Where Hubtel's endpoints are (the simulator's in sandbox unless configured).
  std::string callbackUrl() const;
  std::string statusBaseUrl() const;

 private:
  Response handle(const Request& req);
  Reply interact(const Interaction& in, const std::string& msisdn);
  Reply start(const Interaction& in, const std::string& msisdn);
  Reply proceed(const Interaction& in, const std::string& msisdn);
  Reply proceedFromRow(const Interaction& in, const std::string& msisdn,
                       const std::optional<std::string>& fromClient);
  // Stores the step (closing the session when `closes`) only if the session is open and
  // young enough; false when it is not (or has no row).
  bool storeIfOpen(const std::string& sessionId, const std::string& step, bool closes,
                   std::int64_t now);
  Reply end(const Interaction& in);
  Reply checkout(const Interaction& in, const std::string& msisdn, const Outcome& o);
  Reply showBalance(const Interaction& in, const std::string& msisdn, const std::string& product,
                    const std::string& lang);
  // A fulfilment on the interaction route: handed to the kernel's inbox; its errors in
  // Hubtel's shape ({"success":false,"message":…}).
  Response fulfil(const Request& req);
  // Whether the caller's address is on `allowed` (a dual-stack listener's ::ffff: prefix aside).
  static bool allowedAddress(const Request& req, const std::vector<std::string>& allowed);
  // Account data (balances) only for sessions whose requests are proven to come from Hubtel
  // (the interaction allow-list) or, in sandbox, from the simulator.
  bool showsAccountData() const { return cfg_.sandbox || cfg_.interactionIpCheck; }

  // The menu every session sees alike: the texts, the languages and the channel's catalog.
  // Screens take the one built at most kMenuMaxAgeMs ago (a product's catalog crosses the
  // ABI and a rebuild was a tenth of the CPU of an interaction); `fresh` rebuilds it now, for
  // the steps that go by the stored session (among them every checkout and balance), so money
  // follows the current catalog.
  std::shared_ptr<const Menu> menu(bool fresh = false);
  // Whether an item's sale metadata carries a quantity field: asked once per item and process,
  // for a placeholder account like balanceProducts (checkout asks again for the customer's).
  bool sellsQuantity(const ChannelItem& item);
  Result<std::string> saleMetadata(const ChannelItem& item, std::int64_t qty,
                                   const std::string& msisdn, const std::string& sessionId);
  std::vector<std::string> balanceProducts(const std::vector<ChannelItem>& items);
  // Stores the step and closes the session when the reply ends it.
  void saveStep(const Interaction& in, const std::string& msisdn, const std::string& step,
                bool closes);
  Reply withState(Reply reply, const std::string& sessionId, const std::string& step);

  // Hubtel's transaction status check for the payment's session, the one source we settle
  // from; `goodsMinor` is the items' value it is settled against.
  Result<ProviderStatus> statusCheck(const Payment& payment, std::int64_t goodsMinor);
  JobOutcome runFulfil(const Job& job);
  JobOutcome runStatusCheck(const Job& job);
  void runPurge();
  void runStats();
  void recordOutcome(const Payment& payment);
  void error(const std::string& type);
  std::int64_t retryDelay(int attempt) const;

  Host& host_;
  Config cfg_;
  std::vector<MenuLanguage> languages_;  // the customer's choice (language_choice)
  // The texts of a step's language (the customer's choice, else `language`'s).
  const Texts& textsFor(const std::string& lang) const;
  ClientStateCodec codec_;
  GroupCommit sessions_;  // every step's session write, committed in groups under load
  std::unique_ptr<Simulator> sim_;
  std::mutex balanceMutex_;
  std::map<std::string, bool> answersBalance_;  // product → accountSummary is implemented
  std::map<std::string, bool> sellsQuantity_;   // product|item → sold by quantity
  std::mutex menuMutex_;
  std::shared_ptr<const Menu> menu_;
  std::int64_t menuBuiltAtMs_ = 0;
};

}  // namespace malipo::hubtel
