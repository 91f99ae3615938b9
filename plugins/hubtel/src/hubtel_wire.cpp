#include "hubtel_wire.hpp"

#include <Poco/Base64Encoder.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <phonenumbers/phonenumberutil.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "malipo/money.hpp"

namespace malipo::hubtel {

namespace {

std::string str(const Poco::JSON::Object& o, const std::string& key) {
  if (!o.has(key) || o.isNull(key)) return {};
  try {
    return o.get(key).convert<std::string>();
  } catch (const Poco::Exception&) {
    return {};
  }
}

Poco::JSON::Object::Ptr obj(const Poco::JSON::Object& o, const std::string& key) {
  if (!o.has(key) || o.isNull(key)) return nullptr;
  try {
    return o.getObject(key);
  } catch (const Poco::Exception&) {
    return nullptr;
  }
}

bool truthy(const Poco::JSON::Object& o, const std::string& key) {
  if (!o.has(key) || o.isNull(key)) return false;
  const Poco::Dynamic::Var& v = o.get(key);
  try {
    if (v.isBoolean()) return v.extract<bool>();
    if (v.isString()) return toLower(v.extract<std::string>()) == "true";
    if (v.isNumeric()) return v.convert<double>() != 0;
  } catch (const Poco::Exception&) {
  }
  return false;
}

void appendJsonString(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          static const char* hex = "0123456789abcdef";
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void field(std::string& out, const char* name, const std::string& value) {
  if (out.size() > 1) out += ',';
  appendJsonString(out, name);
  out += ':';
  appendJsonString(out, value);
}

std::string base36(std::int64_t v) {
  if (v <= 0) return "0";
  std::string s;
  while (v > 0) {
    s += "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36];
    v /= 36;
  }
  std::reverse(s.begin(), s.end());
  return s;
}

std::optional<std::int64_t> fromBase36(const std::string& s) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'z')
      d = c - 'a' + 10;
    else
      return std::nullopt;
    v = v * 36 + d;
  }
  return v;
}

}  // namespace

std::string basicAuth(const std::string& id, const std::string& key) {
  std::ostringstream os;
  Poco::Base64Encoder enc(os);
  enc.rdbuf()->setLineLength(0);
  enc << id << ":" << key;
  enc.close();
  return "Basic " + os.str();
}

std::string randomHex(std::size_t n) {
  std::string raw((n + 1) / 2, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&raw[0]), static_cast<int>(raw.size())) != 1)
    throw std::runtime_error("no randomness");
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned char c : raw) {
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s.substr(0, n);
}

std::string toLower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string fill(const std::string& tmpl,
                 const std::vector<std::pair<std::string, std::string>>& vars) {
  std::string out;
  out.reserve(tmpl.size() + 32);
  for (std::size_t i = 0; i < tmpl.size();) {
    if (tmpl[i] == '{') {
      std::size_t end = tmpl.find('}', i);
      if (end != std::string::npos) {
        std::string key = tmpl.substr(i + 1, end - i - 1);
        auto it =
            std::find_if(vars.begin(), vars.end(), [&](const auto& kv) { return kv.first == key; });
        if (it != vars.end()) {
          out += it->second;
          i = end + 1;
          continue;
        }
      }
    }
    out += tmpl[i++];
  }
  return out;
}

std::string oneLine(const std::string& s, std::size_t max) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max) {
      out += "…";
      break;
    }
    if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      continue;
    else
      out += c;
  }
  return out;
}

Interaction parseInteraction(const Poco::JSON::Object& o) {
  Interaction in;
  in.type = toLower(str(o, "Type"));
  in.sessionId = str(o, "SessionId");
  in.mobile = str(o, "Mobile");
  in.serviceCode = str(o, "ServiceCode");
  in.message = str(o, "Message");
  in.operatorName = toLower(str(o, "Operator"));
  in.clientState = str(o, "ClientState");
  in.platform = str(o, "Platform");
  std::string seq = str(o, "Sequence");
  try {
    in.sequence = seq.empty() ? 0 : std::stoll(seq);
  } catch (...) {
    in.sequence = 0;
  }
  return in;
}

std::int64_t cedisToMinor(const Poco::Dynamic::Var& v) {
  if (v.isEmpty()) return -1;
  try {
    if (v.isString()) {
      auto m = parseMajor(v.extract<std::string>(), kCurrency);
      return m ? *m : -1;
    }
    if (v.isNumeric()) {
      double d = v.convert<double>();
      if (!std::isfinite(d) || d < 0 || d > 1e12) return -1;
      // Hubtel sends cedis as JSON numbers (52.50): round to the nearest pesewa.
      return static_cast<std::int64_t>(std::llround(d * 100.0));
    }
  } catch (const Poco::Exception&) {
  }
  return -1;
}

std::string minorToCedis(std::int64_t minor) {
  return formatMajor(minor, kCurrency);
}

bool Fulfilment::paid() const {
  return toLower(status) == "paid" && isSuccessful;
}

Result<Fulfilment> parseFulfilment(const Poco::JSON::Object& o) {
  Fulfilment f;
  f.sessionId = str(o, "SessionId");
  f.orderId = str(o, "OrderId");
  if (f.sessionId.empty() || f.orderId.empty())
    return Error::make(ErrorCode::invalidInput, "fulfilment without SessionId or OrderId",
                       kInvalidRequest);
  if (f.sessionId.size() > 200 || f.orderId.size() > 200)
    return Error::make(ErrorCode::invalidInput, "fulfilment ids too long", kInvalidRequest);
  auto info = obj(o, "OrderInfo");
  if (!info)
    return Error::make(ErrorCode::invalidInput, "fulfilment without OrderInfo", kInvalidRequest);
  f.status = str(*info, "Status");
  f.currency = str(*info, "Currency");
  if (f.currency.empty()) f.currency = kCurrency;
  f.subtotalMinor = info->has("Subtotal") ? cedisToMinor(info->get("Subtotal")) : -1;
  if (info->has("Items") && !info->isNull("Items")) {
    try {
      auto items = info->getArray("Items");
      std::int64_t total = 0;
      bool readable = items && items->size() > 0;
      for (std::size_t i = 0; readable && i < items->size(); ++i) {
        auto item = items->getObject(static_cast<unsigned>(i));
        if (!item) {
          readable = false;
          break;
        }
        std::int64_t qty = 0;
        std::string q = str(*item, "Quantity");
        try {
          qty = q.empty() ? 0 : std::llround(std::stod(q));
        } catch (...) {
          qty = 0;
        }
        std::int64_t unit = item->has("UnitPrice") ? cedisToMinor(item->get("UnitPrice")) : -1;
        if (i == 0) {
          f.itemName = str(*item, "Name");
          f.quantity = qty;
          f.unitPriceMinor = unit;
        }
        // Quantities are 1-1000 and prices cedis: a product out of that range is unreadable.
        if (qty < 1 || qty > 1000000 || unit < 0 || unit > 100000000000LL)
          readable = false;
        else
          total += qty * unit;
      }
      if (readable) f.itemsMinor = total;
    } catch (const Poco::Exception&) {
    }
  }
  std::int64_t amount = -1;
  if (auto pay = obj(*info, "Payment")) {
    f.isSuccessful = truthy(*pay, "IsSuccessful");
    f.paymentType = str(*pay, "PaymentType");
    if (pay->has("AmountPaid")) amount = cedisToMinor(pay->get("AmountPaid"));
    if (pay->has("AmountAfterCharges"))
      f.amountAfterChargesMinor = cedisToMinor(pay->get("AmountAfterCharges"));
  }
  if (amount < 0) amount = f.subtotalMinor;
  if (amount < 0 && f.quantity > 0 && f.unitPriceMinor >= 0) amount = f.quantity * f.unitPriceMinor;
  f.amountPaidMinor = amount;
  return f;
}

Reply Reply::release(const std::string& sessionId, const std::string& message,
                     const std::string& label) {
  Reply r;
  r.sessionId = sessionId;
  r.type = "release";
  r.message = message;
  r.label = label;
  r.dataType = "display";
  r.fieldType = "text";
  return r;
}

std::string Reply::toJson() const {
  std::string out = "{";
  field(out, "SessionId", sessionId);
  field(out, "Type", type);
  field(out, "Message", message);
  field(out, "Label", label);
  field(out, "ClientState", clientState);
  field(out, "DataType", dataType);
  field(out, "FieldType", fieldType);
  if (hasItem) {
    out += ",\"Item\":{\"ItemName\":";
    appendJsonString(out, itemName);
    out += ",\"Qty\":" + std::to_string(qty);
    out += ",\"Price\":" + minorToCedis(unitPriceMinor);
    out += '}';
  }
  out += '}';
  return out;
}

std::string callbackBody(const std::string& sessionId, const std::string& orderId, bool success,
                         const Poco::JSON::Object& metaData) {
  Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("SessionId", sessionId);
  o.set("OrderId", orderId);
  o.set("ServiceStatus", success ? "success" : "failed");
  o.set("MetaData", metaData);
  std::ostringstream os;
  Poco::JSON::Stringifier::condense(o, os);
  return os.str();
}

Result<TxnStatus> parseStatusReply(int httpStatus, const std::string& body) {
  TxnStatus st;
  if (httpStatus == 404) {
    st.kind = TxnStatus::Kind::notFound;
    return st;
  }
  if (httpStatus == 401 || httpStatus == 403)
    return Error::make(ErrorCode::providerError,
                       "status check refused with " + std::to_string(httpStatus) +
                           (httpStatus == 403 ? " (is this server's IP allow-listed at Hubtel?)"
                                              : " (check api_id / api_key)"),
                       "The payment provider failed.");
  if (httpStatus != 200)
    return Error::make(ErrorCode::providerError,
                       "status check answered " + std::to_string(httpStatus),
                       "The payment provider failed.");
  auto o = parseJsonObject(body);
  if (!o)
    return Error::make(ErrorCode::providerError,
                       "status check answered a body that is not a JSON object");
  st.responseCode = str(*o, "responseCode");
  auto data = obj(*o, "data");
  if (!data) {
    // "0000" with no data, or an error code: the transaction is not known (yet).
    st.kind = TxnStatus::Kind::notFound;
    return st;
  }
  st.status = str(*data, "status");
  st.transactionId = str(*data, "transactionId");
  st.externalTransactionId = str(*data, "externalTransactionId");
  st.clientReference = str(*data, "clientReference");
  st.amountMinor = data->has("amount") ? cedisToMinor(data->get("amount")) : -1;
  st.chargesMinor = data->has("charges") ? cedisToMinor(data->get("charges")) : -1;
  st.amountAfterChargesMinor =
      data->has("amountAfterCharges") ? cedisToMinor(data->get("amountAfterCharges")) : -1;
  std::string s = toLower(st.status);
  st.kind = s == "paid"       ? TxnStatus::Kind::paid
            : s == "unpaid"   ? TxnStatus::Kind::unpaid
            : s == "refunded" ? TxnStatus::Kind::refunded
                              : TxnStatus::Kind::other;
  return st;
}

Settlement settle(std::int64_t gross, std::int64_t fee, std::int64_t net, std::int64_t goods) {
  Settlement s;
  if (fee < 0 && gross >= 0 && net >= 0 && net <= gross) fee = gross - net;
  if (net < 0 && gross >= 0 && fee >= 0 && fee <= gross) net = gross - fee;
  s.grossMinor = gross;
  s.feeMinor = fee;
  s.netMinor = net;
  bool merchantPays = gross >= 0 && gross == goods;
  bool customerPays = goods >= 0 && fee > 0 && net == goods && gross == goods + fee;
  s.amountMinor = merchantPays || customerPays ? goods : gross;
  return s;
}

std::string normaliseMsisdn(const std::string& raw) {
  if (raw.empty() || raw.size() > 32) return {};
  // Hubtel's own spelling, 233 and nine digits, is already canonical: skip the regex-heavy
  // parser on the hot path (it would return the same).
  if (raw.size() == 12 && raw.compare(0, 3, "233") == 0 &&
      std::all_of(raw.begin(), raw.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
      raw[3] != '0')
    return raw;
  using i18n::phonenumbers::PhoneNumberUtil;
  std::string input = raw;
  // Hubtel sends the international form without '+' ("233…"); libphonenumber reads a bare
  // "233…" as a national number, so give it the '+' it means.
  std::string digits;
  for (char c : raw)
    if (c >= '0' && c <= '9') digits += c;
  if (digits.size() == 12 && digits.rfind("233", 0) == 0 && raw.find('+') == std::string::npos)
    input = "+" + digits;
  PhoneNumberUtil* util = PhoneNumberUtil::GetInstance();
  i18n::phonenumbers::PhoneNumber number;
  if (util->Parse(input, "GH", &number) != PhoneNumberUtil::NO_PARSING_ERROR) return {};
  if (number.country_code() != 233) return {};
  std::string national = std::to_string(number.national_number());
  // Ghanaian subscriber numbers are nine digits after the country code (0XX XXX XXXX at home).
  if (national.size() != 9) return {};
  return "233" + national;
}

std::string maskMsisdn(const std::string& m) {
  if (m.size() < 7) return "***";
  return m.substr(0, 3) + "***" + m.substr(m.size() - 3);
}

std::string ClientStateCodec::mac(const std::string& sessionId, const std::string& step,
                                  const std::string& issued) const {
  std::string msg = sessionId + "|" + step + "|" + issued;
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out, &len);
  static const char* hex = "0123456789abcdef";
  std::string s;
  // 64 bits: a forger has one guess per USSD step, so this is ample and keeps the state short.
  for (unsigned i = 0; i < 8 && i < len; ++i) {
    s += hex[out[i] >> 4];
    s += hex[out[i] & 15];
  }
  return s;
}

std::string ClientStateCodec::encode(const std::string& sessionId, const std::string& step,
                                     std::int64_t nowMs) const {
  std::string issued = base36(nowMs / 1000);
  return step + "~" + issued + "~" + mac(sessionId, step, issued);
}

std::optional<std::string> ClientStateCodec::decode(const std::string& sessionId,
                                                    const std::string& token, std::int64_t nowMs,
                                                    std::int64_t maxAgeMs) const {
  if (token.empty() || token.size() > 512) return std::nullopt;
  std::size_t b = token.rfind('~');
  if (b == std::string::npos || b == 0) return std::nullopt;
  std::size_t a = token.rfind('~', b - 1);
  if (a == std::string::npos) return std::nullopt;
  std::string step = token.substr(0, a), issued = token.substr(a + 1, b - a - 1),
              sig = token.substr(b + 1);
  std::string want = mac(sessionId, step, issued);
  if (sig.size() != want.size() || CRYPTO_memcmp(sig.data(), want.data(), want.size()) != 0)
    return std::nullopt;
  auto t = fromBase36(issued);
  if (!t) return std::nullopt;
  std::int64_t age = nowMs - *t * 1000;
  // A little slack for clocks of several processes behind a load balancer.
  if (age > maxAgeMs || age < -60000) return std::nullopt;
  return step;
}

}  // namespace malipo::hubtel
