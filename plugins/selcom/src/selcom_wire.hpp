// Selcom's wire format as pure functions: request fields and their signing headers, the
// reply envelope, the order-status and push mappings, the webhook, msisdn and amounts.
//
// Everything here is free of I/O so that the plugin, the simulator and the unit tests share
// one implementation of each rule (the simulator verifies exactly what the plugin signs).
// Thread-safety: pure functions.
#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "malipo/http.hpp"
#include "malipo/provider.hpp"
#include "malipo/result.hpp"

namespace malipo::selcom {

// One request field, in signing order. A number is sent as a JSON integer and signed as its
// plain digits; everything else is a JSON string signed raw.
struct Field {
  std::string name;
  std::string value;
  bool number = false;
};
using Fields = std::vector<Field>;

// ISO 8601 with an explicit offset, as the Timestamp header wants: "2019-02-26T06:30:46+00:00".
std::string isoTimestamp(std::int64_t epochMs);

// Authorization, Digest-Method, Timestamp, Signed-Fields and Digest for `fields`.
std::vector<std::pair<std::string, std::string>> signingHeaders(const std::string& apiKey,
                                                                const std::string& apiSecret,
                                                                const std::string& timestamp,
                                                                const Fields& fields);

// {"name": value, ...} in field order (numbers as integers).
std::string jsonBody(const Fields& fields);
// "name=value&..." percent-encoded, for GET and DELETE.
std::string queryString(const Fields& fields);

// Standard base64 with padding and no line breaks (Selcom's webhook/redirect URLs).
std::string base64Encode(const std::string& data);
// nullopt when `text` is not base64.
std::optional<std::string> base64Decode(const std::string& text);

// A scalar JSON value as text: strings raw, integers as digits, whole doubles as digits.
std::string scalarText(const Poco::Dynamic::Var& v);

// A message whose fields are looked up by name (a JSON body, a form, a query string).
// `resultcode` and `resulcode` (the spelling in Selcom's own webhook sample) are one field.
class FieldSource {
 public:
  explicit FieldSource(std::map<std::string, std::string> fields) : fields_(std::move(fields)) {}
  // The fields of a body by what it is, whatever its Content-Type says: a JSON object when
  // it parses as one, else application/x-www-form-urlencoded pairs.
  static FieldSource fromBody(const std::string& body);
  std::optional<std::string> get(const std::string& name) const;
  std::string value(const std::string& name) const { return get(name).value_or(""); }
  const std::map<std::string, std::string>& all() const { return fields_; }

 private:
  std::map<std::string, std::string> fields_;
};

// Checks Selcom's HMAC headers over `fields`. `missing`: no signature headers at all.
struct SignatureCheck {
  enum class State { valid, missing, invalid } state = State::missing;
  std::string why;                             // for logs when invalid
  std::vector<std::string> signedFields;       // as listed in Signed-Fields
  bool covers(const std::string& name) const;  // resultcode/resulcode count as one
};
SignatureCheck checkSignature(const HeaderMap& headers, const FieldSource& fields,
                              const std::string& apiSecret);

// The reply envelope {"reference", "resultcode", "result", "message", "data": [...]}.
struct Envelope {
  int httpStatus = 0;
  std::string resultcode;  // "000", "111", ... ("" when absent)
  std::string result;      // upper-cased: "SUCCESS", "PENDING", "FAIL", ...
  std::string message;
  std::string reference;
  Poco::JSON::Object::Ptr data0;  // data[0] when present
};
// providerError when the body is not a JSON object (an HTML error page, a proxy's reply).
Result<Envelope> parseEnvelope(int httpStatus, const std::string& body);

// What order-status says, mapped for the kernel, plus what a pasted SMS is checked against.
struct OrderStatus {
  ProviderStatus status;
  std::string transid;    // Selcom's transaction id (data[0].transid)
  std::string reference;  // the payment reference (data[0].reference)
};
// 000 + COMPLETED with a transid and a readable amount: succeeded. 000 + CANCEL: failed.
// 111/927 (in progress), 999 (ambiguous) and every unknown payment_status: pending. Any
// other result code on a definitive reply: failed. 401/403/429/5xx and replies about another
// order are errors (the payment is left alone and checked again later).
Result<OrderStatus> mapOrderStatus(const Envelope& env, const std::string& orderId,
                                   const std::string& defaultCurrency);

// The reply to create-order-minimal: ok, or an error the kernel understands. 999 and 5xx
// mean the order may exist: providerTimeout, so the kernel marks the payment unknown and
// resolves it by order-status instead of failing it or trying another provider.
Status mapCreateReply(const Envelope& env);

// The reply to wallet-payment (USSD push).
enum class PushOutcome { sent, refused, unknown };
PushOutcome mapPushReply(const Envelope& env);

// "+255 712 345 678", "0712345678", "712345678" → "255712345678"; nullopt otherwise.
std::optional<std::string> normaliseMsisdn(const std::string& phone);
// "255712345678" → "255*****678" (for messages shown to the customer and logs).
std::string maskMsisdn(const std::string& msisdn);

// Minor units → Selcom's integer major units ("1000"); nullopt when not whole.
std::optional<std::string> wireAmount(std::int64_t amountMinor, const std::string& currency);
// "1000", "1000.00", 1000 → minor units; nullopt when unreadable.
std::optional<std::int64_t> amountFromWire(const std::string& text, const std::string& currency);

// How far a signed webhook's Timestamp may be from our clock, either way (like Stripe's 300 s):
// a captured delivery cannot be replayed later.
inline constexpr std::int64_t kWebhookTimestampWindowMs = 5 * 60 * 1000;

// Selcom's Timestamp header ("2019-02-26T09:30:46+03:00", "+0300", "Z", fractional seconds)
// → epoch milliseconds; nullopt when it is not such a timestamp.
std::optional<std::int64_t> parseTimestamp(const std::string& text);

// Verifies a webhook (when signed; required when `requireSigned`) and turns it into the
// kernel's hint. Every field the plugin reads must be covered by the signature, and a signed
// webhook's Timestamp (which the Digest covers) must be within kWebhookTimestampWindowMs of
// `nowMs`. The body is read by what it is (JSON object or form), not by its Content-Type.
Result<WebhookEvent> parseWebhookMessage(const HeaderMap& headers, const std::string& body,
                                         const std::string& apiSecret, bool requireSigned,
                                         std::int64_t nowMs);

// Replaces "{key}" in `text` by values[key]; unknown keys stay as they are.
std::string expand(std::string text, const std::map<std::string, std::string>& values);

}  // namespace malipo::selcom
