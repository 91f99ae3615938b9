// Hubtel programmable services on the wire: the interaction request and reply, the
// fulfilment request, the fulfilment callback, the transaction status check reply, the
// tamper-checked ClientState and Ghanaian phone numbers. Pure functions, no I/O, so they are
// unit-tested without a kernel. Thread-safety: stateless (ClientStateCodec is immutable).
//
// Money crosses this module as integer minor units (pesewas); Hubtel's decimal cedis are
// converted here, at the edge.
#pragma once

#include <Poco/JSON/Object.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "malipo/http.hpp"  // parseJsonObject
#include "malipo/result.hpp"

namespace malipo::hubtel {

// The seed's error replies, word for word (Hubtel shows them to the customer).
inline const char* kUnavailable = "Service temporarily unavailable.";
inline const char* kInvalidRequest = "Invalid request. Please try again.";
inline const char* kSessionExpired = "Session expired. Please dial again.";

inline const char* kCurrency = "GHS";  // Hubtel's programmable services sell in cedis only

// An interaction request (Hubtel → us, every USSD step).
struct Interaction {
  std::string type;  // lower-cased: initiation, response, timeout, release, …
  std::string sessionId, mobile, serviceCode, message, operatorName, clientState, platform;
  std::int64_t sequence = 0;  // Hubtel sends a number or a string
};
Interaction parseInteraction(const Poco::JSON::Object& o);

// A fulfilment request (Hubtel → us, after the customer paid or failed to).
struct Fulfilment {
  std::string sessionId, orderId;
  std::string status;  // OrderInfo.Status: "Paid", …
  bool isSuccessful = false;
  std::string currency;
  std::int64_t amountPaidMinor = -1;  // Payment.AmountPaid, else Subtotal, else the items' total
  std::int64_t amountAfterChargesMinor = -1;  // Payment.AmountAfterCharges
  std::int64_t subtotalMinor = -1;
  std::int64_t itemsMinor = -1;      // the goods: sum of Quantity x UnitPrice over OrderInfo.Items
  std::int64_t quantity = 0;         // the first item's Quantity
  std::int64_t unitPriceMinor = -1;  // the first item's UnitPrice
  std::string itemName, paymentType;
  bool paid() const;  // Status == "Paid" (any case) and Payment.IsSuccessful
};
Result<Fulfilment> parseFulfilment(const Poco::JSON::Object& o);

// An interaction reply (us → Hubtel). Built by hand rather than through Poco so Price keeps
// its two decimals ("Price":10.50) and the field order matches Hubtel's documentation.
struct Reply {
  std::string sessionId;
  std::string type = "response";  // response | release | AddToCart
  std::string message, label, clientState;
  std::string dataType = "input";  // input | display | menu | select | confirm
  std::string fieldType = "text";  // text | number | decimal | phone | email | textarea
  bool hasItem = false;
  std::string itemName;
  std::int64_t qty = 0;
  std::int64_t unitPriceMinor = 0;

  static Reply release(const std::string& sessionId, const std::string& message,
                       const std::string& label = "");
  std::string toJson() const;
};

// {"SessionId","OrderId","ServiceStatus","MetaData"} for the fulfilment callback.
std::string callbackBody(const std::string& sessionId, const std::string& orderId, bool success,
                         const Poco::JSON::Object& metaData);

// The transaction status check (GET …/transactions/{pos}/status?clientReference=…).
struct TxnStatus {
  enum class Kind { paid, unpaid, refunded, notFound, other } kind = Kind::other;
  std::string status;  // as Hubtel spelled it
  std::string transactionId, externalTransactionId, clientReference, responseCode;
  std::int64_t amountMinor = -1, chargesMinor = -1, amountAfterChargesMinor = -1;
};
// A 200 with a data object (any status) or a 404 is a value; 401/403/5xx/garbage is an error.
Result<TxnStatus> parseStatusReply(int httpStatus, const std::string& body);

// The money of a paid transaction. Hubtel's fee is borne by the merchant (the customer pays
// the goods: gross = goods, net = goods - fee) or by the customer (gross = goods + fee,
// net = goods). `amountMinor` is what is settled against what is due: the goods when either
// shape fits, otherwise the gross, so the kernel holds a short or long payment.
struct Settlement {
  std::int64_t amountMinor = -1, grossMinor = -1, feeMinor = -1, netMinor = -1;
};
// gross, fee, net as Hubtel reported them (-1: absent; a missing fee or net is derived from
// the other two); goodsMinor: the items' value (Qty x UnitPrice).
Settlement settle(std::int64_t grossMinor, std::int64_t feeMinor, std::int64_t netMinor,
                  std::int64_t goodsMinor);

// Decimal cedis from JSON (number or string) → pesewas; -1 when absent or not a number.
std::int64_t cedisToMinor(const Poco::Dynamic::Var& v);
// Pesewas → "10.50" (always two decimals, as Hubtel shows prices).
std::string minorToCedis(std::int64_t minor);

// "233200585542", "0200585542", "+233 20 058 5542", "00233200585542" → "233200585542";
// empty when it is not a Ghanaian number of the right length.
std::string normaliseMsisdn(const std::string& raw);
// 233***542: for logs (phone numbers are personal data).
std::string maskMsisdn(const std::string& msisdn);

// ClientState = "<step>~<issued, base-36 seconds>~<16 hex of HMAC-SHA256(secret,
// session|step|issued)>". Binding the session id stops a state from one session being replayed in
// another; the issue time bounds how long a captured state is any good.
class ClientStateCodec {
 public:
  explicit ClientStateCodec(std::string secret) : secret_(std::move(secret)) {}
  std::string encode(const std::string& sessionId, const std::string& step,
                     std::int64_t nowMs) const;
  // The step, or nullopt when empty, malformed, forged, for another session or older than maxAgeMs.
  std::optional<std::string> decode(const std::string& sessionId, const std::string& token,
                                    std::int64_t nowMs, std::int64_t maxAgeMs) const;

 private:
  std::string mac(const std::string& sessionId, const std::string& step,
                  const std::string& issued) const;
  std::string secret_;
};

// "Basic base64(id:key)" for the status check API.
std::string basicAuth(const std::string& id, const std::string& key);
// n random lowercase hex digits (session and order ids in the simulator, secrets).
std::string randomHex(std::size_t n);

std::string toLower(std::string s);
// "{name} costs {price}" with {key} replaced from `vars`; unknown keys stay as they are.
std::string fill(const std::string& tmpl,
                 const std::vector<std::pair<std::string, std::string>>& vars);
// For logs: newlines as \n, at most `max` characters.
std::string oneLine(const std::string& s, std::size_t max = 160);

}  // namespace malipo::hubtel
