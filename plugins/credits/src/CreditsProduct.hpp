// Verification credits: packages bought through a payment provider (Flutterwave by
// default, or any channel plugin such as Hubtel's USSD menu), an append-only ledger, a
// balance, and consumption.
//
// Money → credits happens in one transaction keyed by the payment id, so a payment
// credits once whatever arrives twice; consumption is a conditional update of the cached
// balance plus a ledger row keyed by the consumer's reference, so the balance never goes
// below zero and always equals the sum of the ledger.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "malipo/product.hpp"
#include "malipo/settings_decl.hpp"
#include "refund_credits.hpp"

namespace malipo::credits {

struct Package {
  std::string id;
  std::int64_t credits = 0;
  std::int64_t amountMinor = 0;
  std::string currency;
  std::string name;
};

// One configured package as written in the settings (price in major units).
struct PackageSetting {
  std::string id;
  std::int64_t credits = 0;
  std::string price, currency;
  std::string name;  // empty: "<credits> credits"
};

// The plugin's settings. Each member's initializer is its default; decl() names each key,
// its description and range once and yields both the schema and this struct.
struct CreditsSettings {
  std::vector<std::string> providers{"flutterwave"};
  // The seed's three packages.
  std::vector<PackageSetting> packages{{"pkg_10_credits", 10, "5000", "NGN", ""},
                                       {"pkg_25_credits", 25, "12500", "NGN", ""},
                                       {"pkg_50_credits", 50, "25000", "NGN", ""}};
  std::vector<PackageSetting> ussdPackages{{"pkg_10_credits", 10, "10.00", "GHS", ""},
                                           {"pkg_25_credits", 25, "25.00", "GHS", ""},
                                           {"pkg_50_credits", 50, "50.00", "GHS", ""}};
  std::string webhookAliasProvider = "flutterwave";
  std::string returnUrl;
  std::vector<std::string> returnUrlOrigins;
  std::int64_t topupsPerUserPerHour = 20;

  static const Decl<CreditsSettings>& decl();
};

class CreditsProduct final : public Product {
 public:
  explicit CreditsProduct(Host& host);
  std::string name() const override { return "credits"; }
  std::vector<Migration> migrations() const override;
  void start() override;
  JobOutcome onPaymentSettled(const Payment& payment) override;
  // The credit is ledger rows: written in the kernel's delivery transaction.
  bool deliversInTransaction() const override { return true; }
  JobOutcome onPaymentSettledInTx(const Payment& payment, Tx& tx) override;
  JobOutcome onPaymentFailed(const Payment& payment) override;
  // Refunds take back the credits the refunded money bought (refundCredits): refused
  // (conflict) when they were already spent; once per refund id in the ledger.
  Status checkRefund(const Payment& payment, const Refund& refund) override;
  JobOutcome onPaymentRefunded(const Payment& payment, const Refund& refund) override;
  std::vector<CatalogItem> catalog(const std::string& channel) const override;
  Result<std::string> accountSummary(const std::string& accountId) override;
  Result<std::string> prepareChannelSale(const CatalogItem& item, const Customer& account) override;

  std::int64_t balance(const std::string& account);

 private:
  Response topup(const Request& req);
  Response packages(const Request& req);
  Response balanceRoute(const Request& req);
  Response history(const Request& req);
  Response consume(const Request& req);
  bool topupAllowed(const std::string& user);
  bool returnUrlAllowed(const std::string& url) const;
  // What a client shows for a top-up whose payment is held: received, under review, whom to call.
  Poco::JSON::Object reviewNote(const std::string& lang, const std::string& reference) const;
  // What a payment credited (0: nothing) and what its earlier refunds took back, in `tx`.
  struct Credited {
    std::string account;
    std::int64_t credits = 0, refundedMinor = 0, takenBack = 0;
  };
  Credited credited(Tx& tx, const std::string& paymentId, const std::string& exceptRefund);
  const Package* findPackage(const std::string& id, const std::vector<Package>& list) const;

  Host& host_;
  CreditsSettings s_;
  std::vector<Package> packages_, ussdPackages_;
  std::vector<std::string> providers_;
  std::set<std::string> returnOrigins_;  // scheme://host[:port] a client's returnUrl may use
  std::mutex rateMutex_;
  std::map<std::string, std::pair<std::int64_t, int>> rate_;  // user → (window start, count)
};

}  // namespace malipo::credits
