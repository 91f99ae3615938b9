// Writing a payment provider: translate between the kernel and one provider's wire format.
//
// A provider never decides that value is given: it reports what the provider says, and the
// kernel applies it. Anything it cannot map explicitly is `pending`, never `succeeded`.
// Every method is called from HTTP or job threads concurrently: implementations must be
// thread-safe. No exception may leave a method: return an Error (the kernel also catches,
// and counts a throw as a provider failure). Errors' `internal` text goes to logs only.
// Lifetime: created in the plugin's register function, destroyed at shutdown.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "malipo/component.hpp"
#include "malipo/http.hpp"
#include "malipo/payments.hpp"
#include "malipo/result.hpp"

namespace malipo {

// What a provider can refund (SDK 1.1). `partial`: any amount up to what is left.
enum class RefundSupport { none, full, partial };

struct Capabilities {
  std::vector<std::string> currencies;  // ISO 4217
  std::vector<std::string> channels;    // "redirect", "ussd_push", "ussd_menu", "sms_proof"
  // SDK 1.1 (a plugin built against 1.0 reports none of these: no requirements, no refunds,
  // no cancel). Customer fields the provider needs to start a payment: "msisdn", "email",
  // "country". Routing skips a provider whose needs a request cannot meet. (Not named
  // `requires`: that is a C++20 keyword, and the SDK compiles as C++17 and C++20.)
  std::vector<std::string> needs;
  RefundSupport refunds = RefundSupport::none;  // refund() / queryRefund() work
  bool cancel = false;                          // cancel() works
  // SDK 1.1: how the kernel authenticates this provider's webhooks before parseWebhook (a 1.0
  // plugin declares none: parseWebhook alone decides, as with an HMAC over the raw body).
  // webhookToken: a per-payment signed callback URL. The kernel hands the provider
  // Payment::callbackUrl (…/<payment id>/<token>, token = HMAC of the kernel's secret); a
  // webhook that does not come to such a URL is 401, and its events may only be about that
  // payment. For providers that sign nothing (Daraja).
  bool webhookToken = false;
  // webhookAllowedIps: CIDRs (IPv4, IPv6) webhooks are accepted from, checked against the
  // verified client address (Request::clientIp); others get 403. Empty: any address.
  std::vector<std::string> webhookAllowedIps;
  // webhookPath: the inbox's path for this provider instead of /webhooks/<name> (e.g.
  // "/cb/7f3k9q": Daraja refuses callback URLs that contain "mpesa"). Payment::callbackUrl
  // uses it. Letters, digits and "-._~/" only; not under /admin, /sandbox, /webhooks, /api.
  std::string webhookPath;
  // SDK 1.1: what the provider accepts as a reference (Payment::shortRef): at most so many
  // characters (0: the kernel's 10), of "alnum" (A-Z, 0-9: the default) or "digits".
  int refMaxLength = 0;
  std::string refCharset;
};

struct InitiateResult {
  std::string providerRef;
  NextAction action;
  std::int64_t expiresAtMs = 0;  // the provider's deadline; 0: the kernel's default
};

// What the provider says about a payment.
struct ProviderStatus {
  enum class State { pending, succeeded, failed } state = State::pending;
  std::string providerTxnId;      // required for succeeded
  std::int64_t amountMinor = -1;  // as settled against what is due (required for succeeded):
                                  // the goods' value, whichever side bears the provider's fee
  // What the provider says about money and fees, when it says (-1: not reported). For
  // reconciliation: gross = what the customer paid, fee = the provider's charges, net = what
  // the merchant receives. With a customer-borne fee gross = amount + fee and net = amount.
  std::int64_t grossMinor = -1, feeMinor = -1, netMinor = -1;
  std::string currency;     // as settled (required for succeeded)
  std::string providerRef;  // when learned now
  std::string reason;       // external text for failed / pending (e.g. "not paid yet")
  std::string detail;       // internal: raw status codes, for the event log
  // SDK 1.1.
  // pending: ask again in so many seconds (0: the kernel's own schedule of checks).
  int retryAfterSeconds = 0;
  // How the provider knows: "" or "query" (its status API answered), "callback" (a callback
  // the provider signed and the plugin verified). Recorded in the payment's event log.
  std::string provenance;
  // The provider's own result code (e.g. Daraja's "1032"), structured, for the event log and
  // operators; `reason` stays the human text.
  std::string resultCode;
};

// A refund the kernel asks a provider for (SDK 1.1).
struct RefundRequest {
  std::string refundId;  // our id: the idempotency key towards the provider
  std::int64_t amountMinor = 0;
  std::string currency;
  std::string reason;            // the operator's reason (may go as the provider's narration)
  std::string providerRefundId;  // queryRefund: what refund() returned
};

// What the provider says about a refund (SDK 1.1).
struct RefundStatus {
  enum class State { pending, succeeded, failed } state = State::pending;
  std::string providerRefundId;   // the provider's id of the refund (required for succeeded)
  std::int64_t amountMinor = -1;  // as refunded, when the provider says (-1: not reported)
  std::string reason;             // external text for failed
  std::string detail;             // internal: raw status codes, for the event log
  int retryAfterSeconds = 0;      // pending: ask again in so many seconds (0: kernel's schedule)
};

// One verified notification. It is a hint: the kernel queries the provider before acting.
struct WebhookEvent {
  std::string eventId;      // unique per provider (dedup); e.g. the provider's transaction id
  std::string paymentId;    // our id when the provider echoes it (tx_ref, order_id)
  std::string providerRef;  // otherwise the provider's reference
  std::string summary;      // internal, for the event log (no personal data)
};

// What parseWebhookReply returns (SDK 1.1): the events, and what the inbox answers the sender
// once they are stored (the same for a duplicate delivery). No reply: the kernel's JSON.
struct ParsedWebhook {
  std::vector<WebhookEvent> events;
  bool hasReply = false;
  Response reply;  // status, contentType, body (headers are not sent)
};

// Sandbox only (SDK 1.1): what the simulator is told a customer did, so tools that know no
// provider's simulator (the conformance kit) can drive any of them.
struct SandboxPayment {
  std::string outcome = "paid";   // "paid" or "failed"
  std::int64_t amountMinor = -1;  // what the customer paid (-1: what is due)
  std::string currency;           // as paid ("": the payment's)
  std::string txnId;              // the provider's transaction id to use ("": a new one)
};
// What the simulator then did: its transaction id and the notifications it sent to the
// kernel (method, path, headers, body), so they can be replayed or tampered with.
// notApplicable: kit checks that cannot apply to this provider, by key, with the reason
// (the kit reports them SKIP): "bad_signature", "missing_signature" (callbacks not signed
// over their body), "amount_mismatch", "currency_mismatch", "reused_txn" (a case the
// provider cannot produce). Keep it empty for every check the provider can be held to.
struct SandboxResult {
  std::string txnId;
  std::vector<Request> webhooks;
  std::map<std::string, std::string> notApplicable;
};

class PaymentProvider : public Component {
 public:
  virtual std::string name() const = 0;
  virtual Capabilities capabilities() const = 0;
  virtual Result<InitiateResult> initiate(const Payment& payment, const CreatePayment& request) = 0;
  // Authoritative status. A timeout is ErrorCode::providerTimeout (outcome unknown).
  virtual Result<ProviderStatus> query(const Payment& payment) = 0;
  // Verifies the signature over the raw body and returns the events it carries.
  // A bad or missing signature is ErrorCode::unauthorized (the inbox answers 401).
  virtual Result<std::vector<WebhookEvent>> parseWebhook(const Request& request) = 0;
  // SDK 1.1: parseWebhook with the answer the sender expects (e.g. Hubtel's
  // {"success":true,"message":"Received"}); the inbox calls this one. Default: parseWebhook,
  // and the kernel's answer.
  virtual Result<ParsedWebhook> parseWebhookReply(const Request& request) {
    auto events = parseWebhook(request);
    if (!events.ok()) return events.error();
    ParsedWebhook out;
    out.events = std::move(events.value());
    return out;
  }
  // SDK 1.1: called in the inbox's transaction with the delivery's new events (duplicates
  // are not passed; WebhookEvent::paymentId is the payment the kernel matched, "" for none),
  // so a provider can keep its own record of them atomically with the kernel's (tx.exec,
  // jobs().enqueue(tx, …)). An error rolls the delivery back (the sender is answered 500 and
  // retries). Default: nothing.
  virtual Status onWebhookStored(const Request& request, const std::vector<WebhookEvent>& fresh,
                                 Tx& tx) {
    (void)request;
    (void)fresh;
    (void)tx;
    return okStatus();
  }
  // Checks a pasted confirmation SMS against the provider (not against the text alone).
  virtual Result<ProviderStatus> verifyProof(const Payment& payment, const std::string& text) {
    (void)payment;
    (void)text;
    return Error::make(ErrorCode::invalidInput, "proof not supported by this provider",
                       "This payment method does not accept a pasted confirmation.");
  }
  // Asks the provider to push a payment prompt (USSD PIN prompt) to `msisdn` for an
  // existing payment. Default: not supported.
  virtual Result<NextAction> requestPush(const Payment& payment, const std::string& msisdn) {
    (void)payment;
    (void)msisdn;
    return Error::make(ErrorCode::invalidInput, "push not supported by this provider",
                       "A payment prompt cannot be sent for this payment method.");
  }
  // SDK 1.1: refunds, when capabilities().refunds is not none. Starts a refund of a settled
  // payment; a timeout is ErrorCode::providerTimeout (outcome unknown: the kernel asks
  // queryRefund later with the same refundId). Must be idempotent by request.refundId.
  virtual Result<RefundStatus> refund(const Payment& payment, const RefundRequest& request) {
    (void)payment;
    (void)request;
    return Error::make(ErrorCode::invalidInput, "refunds not supported by this provider",
                       "This payment method cannot refund through the platform.");
  }
  // The provider's word on a refund refund() started (request.providerRefundId may be empty
  // when refund() timed out: look it up by request.refundId).
  virtual Result<RefundStatus> queryRefund(const Payment& payment, const RefundRequest& request) {
    (void)payment;
    (void)request;
    return Error::make(ErrorCode::invalidInput, "refunds not supported by this provider",
                       "This payment method cannot refund through the platform.");
  }
  // SDK 1.1: cancels a pending payment at the provider, when capabilities().cancel. Returns
  // what the provider then says: failed (cancelled there), succeeded (too late: it was paid;
  // the kernel applies it as any success), or pending (not confirmed yet).
  virtual Result<ProviderStatus> cancel(const Payment& payment) {
    (void)payment;
    return Error::make(ErrorCode::invalidInput, "cancel not supported by this provider",
                       "This payment cannot be cancelled at the provider.");
  }
  // SDK 1.1, sandbox only: the simulator's driver. sandboxPay makes the simulated provider
  // settle (or decline) `payment` as a customer would and notify the kernel as the real one
  // does; sandboxFault makes its next `count` calls of a kind misbehave: "initiate_timeout"
  // (the order is made but the answer comes after the caller's timeout), "query_failure"
  // (the status API answers 5xx). Default: no driver (the conformance kit says so).
  virtual Result<SandboxResult> sandboxPay(const Payment& payment, const SandboxPayment& how) {
    (void)payment;
    (void)how;
    return Error::make(ErrorCode::invalidInput, "this provider's simulator has no driver");
  }
  // SDK 1.1, sandbox only: the channel-sale driver, for providers whose payments start from
  // their own channel rather than from Payments::create (Hubtel: the USSD menu's checkout).
  // Starts a payment for `draft` (product, amount, currency, customer) the way a customer
  // would there and returns it. Default: ErrorCode::notFound (payments start at
  // Payments::create; the conformance kit then creates them itself); a failure is any other code.
  virtual Result<Payment> sandboxSale(const CreatePayment& draft) {
    (void)draft;
    return Error::make(ErrorCode::notFound, "no channel-sale driver");
  }
  virtual Status sandboxFault(const std::string& fault, int count) {
    (void)fault;
    (void)count;
    return Error::make(ErrorCode::invalidInput, "this provider's simulator has no driver");
  }
  // Provider-owned endpoints (e.g. a return URL, a USSD interaction URL).
  virtual void routes(Router& router) { (void)router; }
  // Sandbox only: the simulator, mounted under /sandbox/<name>/.
  virtual void simulator(Router& router) { (void)router; }
};

}  // namespace malipo

// MALIPO_PLUGIN, for the source file that declares the plugin (included last: it needs this file).
#include "malipo/plugin.hpp"
