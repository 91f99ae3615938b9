// Payments as products and providers see them. The kernel owns every payment: it stores it,
// moves it through its states with compare-and-set on a version, re-verifies with the
// provider before anything is delivered, and calls the product exactly once on settlement.
//
//   created → pending → succeeded | failed | expired | cancelled
//   created/pending → unknown (a provider call timed out) → any of the above
//   any non-final → held (amount/currency mismatch or a reused provider transaction: an
//                   operator decides; nothing is delivered)
//
// Money is integer minor units with an ISO 4217 currency (TZS 1000 = 100000 minor units).
// Thread-safety: Payments is safe from any thread. Lifetime: owned by the kernel.
#pragma once

#include <Poco/JSON/Object.h>

#include <cstdint>
#include <string>
#include <vector>

#include "malipo/http.hpp"
#include "malipo/result.hpp"

namespace malipo {

enum class PaymentStatus { created, pending, succeeded, failed, expired, cancelled, unknown, held };

inline const char* statusName(PaymentStatus s) {
  switch (s) {
    case PaymentStatus::created:
      return "created";
    case PaymentStatus::pending:
      return "pending";
    case PaymentStatus::succeeded:
      return "succeeded";
    case PaymentStatus::failed:
      return "failed";
    case PaymentStatus::expired:
      return "expired";
    case PaymentStatus::cancelled:
      return "cancelled";
    case PaymentStatus::unknown:
      return "unknown";
    case PaymentStatus::held:
      return "held";
  }
  return "unknown";
}

inline PaymentStatus parseStatus(const std::string& s) {
  for (auto st : {PaymentStatus::created, PaymentStatus::pending, PaymentStatus::succeeded,
                  PaymentStatus::failed, PaymentStatus::expired, PaymentStatus::cancelled,
                  PaymentStatus::unknown, PaymentStatus::held})
    if (s == statusName(st)) return st;
  return PaymentStatus::unknown;
}

// Final states never change again (held waits for an operator).
inline bool isFinal(PaymentStatus s) {
  return s == PaymentStatus::succeeded || s == PaymentStatus::failed ||
         s == PaymentStatus::expired || s == PaymentStatus::cancelled || s == PaymentStatus::held;
}

struct Customer {
  std::string accountId;  // opaque: "user:<sub>", "msisdn:2557…"
  std::string email, name, phone;
  std::string country;  // SDK 1.1: ISO 3166-1 alpha-2 ("TZ"), when the product knows it
};

// SDK 1.1: the customer fields a provider may need (Capabilities::needs), and whether a
// customer has each.
inline bool customerHas(const Customer& c, const std::string& field) {
  if (field == "msisdn") return !c.phone.empty();
  if (field == "email") return !c.email.empty();
  if (field == "country") return !c.country.empty();
  return false;  // a need the kernel does not know cannot be met
}

// What the customer does next.
struct NextAction {
  std::string type = "none";  // "redirect", "ussd_instructions", "push_sent", "none"
  std::string url;            // redirect: the hosted page
  std::string ussdCode;       // ussd_instructions: e.g. "*150*00#"
  std::vector<std::string> steps;
  std::string vendor;     // till / merchant id to pay
  std::string reference;  // what the customer enters as the reference
  std::string message;    // one human sentence
  // SDK 1.1, requestPush: the provider's reference of this new prompt when it is one the
  // provider knows apart (Daraja: each STK push is a new CheckoutRequestID). Non-empty: the
  // kernel opens a new attempt of the payment with it. Not part of the JSON.
  std::string attemptRef;

  Poco::JSON::Object toJson() const {
    Poco::JSON::Object o;
    o.set("type", type);
    if (!url.empty()) o.set("url", url);
    if (!ussdCode.empty()) o.set("ussd_code", ussdCode);
    if (!steps.empty()) {
      Poco::JSON::Array a;
      for (const auto& s : steps) a.add(s);
      o.set("steps", a);
    }
    if (!vendor.empty()) o.set("vendor", vendor);
    if (!reference.empty()) o.set("reference", reference);
    if (!message.empty()) o.set("message", message);
    return o;
  }
};

struct Payment {
  std::string id;  // UUID; also the reference sent to providers (tx_ref, order_id)
  std::string product;
  std::string orderRef;  // the product's own id for what is being bought
  std::string provider;
  std::string channel;  // "redirect", "ussd_push", "ussd_menu", "sms_proof"
  std::int64_t amountMinor = 0;
  std::string currency;
  PaymentStatus status = PaymentStatus::created;
  std::string providerRef;    // the provider's id for the order/checkout
  std::string providerTxnId;  // the provider's id for the money movement (unique per provider)
  Customer customer;
  std::string description;
  std::string metadata;  // JSON text the product attached
  NextAction action;
  std::string failureReason;  // external, safe for clients
  std::int64_t createdAtMs = 0, updatedAtMs = 0, expiresAtMs = 0;
  std::int64_t version = 0;
  // Delivery of a succeeded payment by its product (Product::onPaymentSettled): "pending"
  // until the product returns ok ("done", at fulfilledAtMs) or gives up / runs out of
  // attempts ("failed"); "" for a payment that has not succeeded.
  std::string fulfilment;
  std::int64_t fulfilledAtMs = 0;
  // As the provider reported them when the payment settled (-1: not reported):
  // ProviderStatus::grossMinor / feeMinor / netMinor.
  std::int64_t grossMinor = -1, feeMinor = -1, netMinor = -1;
  // SDK 1.1: what has been refunded so far (succeeded refunds; 0 for a plugin built on 1.0).
  std::int64_t refundedMinor = 0;
  // SDK 1.1, for providers: the URL this payment's webhooks are to be sent to (the kernel's
  // public URL, the provider's webhook path, and with Capabilities::webhookToken the payment
  // id and its token). Give it to the provider as the callback URL. "" from a 1.0 kernel.
  std::string callbackUrl;
  // SDK 1.1: attempts. A payment has one attempt per prompt the provider knows under its own
  // reference: 1 for initiate, one more per requestPush that answers a new attemptRef. In a
  // provider call (query, cancel, verifyProof) `attempt` is the attempt the call is about and
  // providerRef that attempt's reference; 0 elsewhere.
  int attempt = 0;
  // SDK 1.1: the kernel's short unique reference of the payment (10 characters of A-Z and
  // 0-9 by default, within Capabilities::refMaxLength / refCharset): for providers that limit
  // a reference's length (Daraja AccountReference, at most 12).
  std::string shortRef;
};

// A refund of a settled payment (SDK 1.1), as products hear of it.
struct Refund {
  std::string id;  // our id; unique
  std::string paymentId;
  std::int64_t amountMinor = 0;
  std::string currency;
  std::string reason;   // the operator's reason (internal)
  std::string actor;    // who asked: the admin token's name
  bool forced = false;  // the operator overrode the product's refusal (Product::checkRefund)
};

struct CreatePayment {
  std::string product;
  std::string orderRef;
  std::int64_t amountMinor = 0;
  std::string currency;
  std::string channel;                 // required channel, or empty for any the provider offers
  std::vector<std::string> providers;  // in order of preference; the first usable one is used
  Customer customer;
  std::string description;
  std::string metadata;   // JSON text
  std::string returnUrl;  // where a redirect flow comes back to (product page), optional
  bool push = false;      // ask for a USSD push when the customer's phone is known
};

// Something a channel (e.g. a USSD menu) may sell on a product's behalf.
struct CatalogItem {
  std::string id;
  std::string name;
  std::int64_t amountMinor = 0;
  std::string currency;
};

struct ChannelItem {
  std::string product;
  CatalogItem item;
};

// What became of a pasted confirmation SMS.
struct ProofOutcome {
  Payment payment;
  bool settled = false;
  std::string message;  // external: what the person can do about it
};

class Payments {
 public:
  virtual ~Payments() = default;
  // Picks the provider, creates the payment and asks the provider to start it.
  virtual Result<Payment> create(const CreatePayment& request) = 0;
  // The stored payment; a stale pending one is queued for a provider check (sync on read).
  virtual Result<Payment> get(const std::string& id) = 0;
  // Asks the provider now and applies what it says (never trusting anything else).
  virtual Result<Payment> sync(const std::string& id) = 0;
  // Verifies a pasted confirmation SMS with the provider; settles when the provider agrees.
  virtual Result<ProofOutcome> submitProof(const std::string& id, const std::string& text) = 0;
  // Sends a payment prompt to the customer's phone for a pending payment (USSD push).
  virtual Result<NextAction> requestPush(const std::string& id, const std::string& msisdn) = 0;
  // A handler that feeds POST bodies to the webhook inbox of `provider`, for products that
  // must accept webhooks on an extra path (e.g. /api/cv-pdf/ussd-callback).
  virtual Handler webhookInbox(const std::string& provider) = 0;
  virtual Poco::JSON::Object toJson(const Payment& p) const = 0;
  // SDK 1.1: what to collect before create(): the customer fields ("msisdn", "email",
  // "country") that `draft` lacks for the provider routing would pick for it (the first
  // usable one); empty when some usable provider can take it as it is.
  virtual std::vector<std::string> requirements(const CreatePayment& draft) {
    (void)draft;
    return {};
  }

  // For channel plugins (a USSD menu) that sell other products' items:
  // every loaded product's items for `channel`, in plugin order.
  virtual std::vector<ChannelItem> catalog(const std::string& channel) = 0;
  virtual Result<std::string> accountSummary(const std::string& product,
                                             const std::string& accountId) = 0;
  // The payment metadata (JSON) the product wants on a channel sale of `item` to `customer`.
  virtual Result<std::string> prepareChannelSale(const std::string& product,
                                                 const CatalogItem& item,
                                                 const Customer& customer) = 0;
};

}  // namespace malipo
