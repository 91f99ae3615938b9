// Flutterwave v3 wire format: pure functions with no I/O, shared by the provider, the
// simulator and the unit tests.
//
// Everything here is deterministic and thread-safe (no state), so the security-relevant parts
// (webhook authentication, the rule for when a verify reply may settle a payment, money
// conversion at the edge) are unit-tested without a server.
#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "malipo/http.hpp"
#include "malipo/payments.hpp"
#include "malipo/provider.hpp"
#include "malipo/result.hpp"

namespace malipo::flutterwave {

// --- Crypto -------------------------------------------------------------------------------

// base64(HMAC-SHA256(key, message)): the `flutterwave-signature` header.
std::string hmacSha256Base64(const std::string& key, const std::string& message);

// Equality that takes the same time wherever the inputs differ (both sides are hashed first,
// so neither the position of the first difference nor the secret's length leaks).
bool constantTimeEquals(const std::string& a, const std::string& b);

// --- Money --------------------------------------------------------------------------------

// Minor units → the JSON number Flutterwave expects in major units: an integer when whole
// (exact at any size), otherwise a decimal (10.50 GHS → 10.5).
Poco::Dynamic::Var majorAmountJson(std::int64_t minor, const std::string& currency);

// A JSON amount in major units (number or numeric string) → minor units; -1 when it is not
// a plain non-negative amount with at most the currency's decimals (never rounds money).
std::int64_t minorFromJson(const Poco::Dynamic::Var& value, const std::string& currency);

// --- Create a hosted payment (POST /v3/payments) ----------------------------------------

struct CheckoutOptions {
  std::string redirectUrl;  // our return route
  std::string title, description, logo;
  std::string paymentOptions;          // e.g. "card, banktransfer"; empty: the dashboard's
  std::string placeholderEmailDomain;  // for customers without an email (Flutterwave needs one)
};

// Flutterwave requires customer.email; for customers known only by phone or account we
// derive a stable, obviously synthetic address from the account id (or the payment id).
std::string placeholderEmail(const std::string& accountId, const std::string& paymentId,
                             const std::string& domain);

// The JSON body of POST /v3/payments. tx_ref is our payment id, so verify_by_reference works
// even when the create call timed out and no link came back.
std::string buildPaymentRequest(const Payment& payment, const CheckoutOptions& options);

// The hosted link from the create reply; anything else is a providerError whose internal
// text carries the provider's status and body (for logs only).
Result<std::string> parseHostedLink(int httpStatus, const std::string& body);

// --- Verify (GET /v3/transactions/{id}/verify, …/verify_by_reference) --------------------

// Maps a verify reply to what the kernel needs. Settles (succeeded) only when the reply is a
// success, data.status is "successful" AND data.tx_ref equals `expectedTxRef`; `failed` with
// our tx_ref is failed; everything else (including "No transaction was found") is pending. A
// success also reports gross (charged_amount), fee (app_fee) and net (amount_settled) when the
// reply carries them. The amount reported is what Flutterwave says the transaction was for (the
// lower of amount and charged_amount when both are present): the kernel compares it with the
// payment's and holds any mismatch, so an underpayment can never settle. 401/5xx/garbage are
// providerError (the kernel retries and counts it against the breaker).
Result<ProviderStatus> mapVerifyResponse(int httpStatus, const std::string& body,
                                         const std::string& expectedTxRef);

// --- Refunds (POST /v3/transactions/{id}/refund, GET /v3/refunds/{id}, GET /v3/refunds) ----

// Flutterwave v3 takes no idempotency key for refunds: our refund id travels in `comments`
// as this marker, so a refund whose answer was lost can be found again in the refund list.
std::string refundMarker(const std::string& refundId);

// The JSON body of POST /v3/transactions/{id}/refund: {"amount": <major units>, "comments":
// "<marker> <reason>"} (the reason clipped to keep the comment short).
std::string buildRefundRequest(const RefundRequest& request);

// A refund object (`data` of the create or fetch reply, or one element of the list) → what
// the kernel needs: "completed" → succeeded, "failed"/"declined"/"rejected"/"reversed" →
// failed, anything else ("pending", "new", "processing", unknown) → pending.
RefundStatus refundStatusFromData(const Poco::JSON::Object::Ptr& data, const std::string& currency);

// The reply of POST …/refund or GET /v3/refunds/{id}. A 200 success carries the refund; a
// 4xx {"status":"error"} (amount above what is left, a transaction that cannot be refunded)
// is Flutterwave's definitive refusal: a failed RefundStatus (nothing was refunded) whose
// reason is Flutterwave's message. 401/403, 5xx and garbage are providerError (retryable for
// 5xx): the outcome of a create is then unknown and is looked up before any new attempt.
Result<RefundStatus> mapRefundResponse(int httpStatus, const std::string& body,
                                       const std::string& currency);

// One page of GET /v3/refunds: the refund of `transactionId` whose comments carry our marker
// for `refundId`, if the page has it; `totalPages` from meta.page_info (1 when absent).
struct RefundLookup {
  bool found = false;
  RefundStatus status;
  int totalPages = 1;
};
Result<RefundLookup> findRefundInList(int httpStatus, const std::string& body,
                                      const std::string& transactionId, const std::string& refundId,
                                      const std::string& currency);

// --- Webhooks -----------------------------------------------------------------------------

// Accepts `verif-hash` equal to the secret hash, or `flutterwave-signature` equal to
// base64(HMAC-SHA256(secret hash, raw body)) or to the secret hash itself (both documented
// forms). Constant-time comparisons; an empty secret never authenticates.
Status verifyWebhookAuth(const Request& request, const std::string& secretHash);

struct WebhookPayload {
  std::string shape;          // "envelope" ({event, data}) or "legacy" (flat camelCase)
  std::string event;          // "charge.completed", or the legacy "event.type"
  std::string transactionId;  // Flutterwave's transaction id (decimal text)
  std::string txRef;          // our payment id
  std::string status;         // "successful", "failed", "pending", …
};

// Parses either shape. invalidInput when the body is not JSON or carries neither a
// transaction id nor a tx_ref.
Result<WebhookPayload> parseWebhookBody(const std::string& body);

// One event for the kernel's inbox: deduplicated by Flutterwave's transaction id and status
// (a `pending` then `successful` delivery for one transaction are two events).
WebhookEvent toWebhookEvent(const WebhookPayload& payload);

// Authentication, then parsing: what PaymentProvider::parseWebhook returns.
Result<std::vector<WebhookEvent>> parseWebhook(const Request& request,
                                               const std::string& secretHash);

// --- Small helpers ------------------------------------------------------------------------

// application/x-www-form-urlencoded → map (last value wins).
std::map<std::string, std::string> parseForm(const std::string& body);

// Appends query parameters (URL-encoded) to a URL that may already have a query string.
std::string appendQuery(const std::string& url,
                        const std::vector<std::pair<std::string, std::string>>& params);

// JSON text of an object (compact).
std::string toJson(const Poco::JSON::Object& object);

// A JSON scalar (number or string) as text: transaction ids arrive as either.
std::string scalarText(const Poco::Dynamic::Var& value);

// Only digits, 1..20 of them: what a Flutterwave transaction id looks like.
bool looksLikeTransactionId(const std::string& text);

}  // namespace malipo::flutterwave
