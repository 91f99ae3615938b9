#include "selcom_wire.hpp"

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/DateTimeParser.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

#include "malipo/money.hpp"
#include "selcom_signing.hpp"

namespace malipo::selcom {

namespace {

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  std::size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  std::size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// The one field with two spellings: Selcom's webhook sample writes "resulcode".
std::string aliasOf(const std::string& name) {
  if (name == "resultcode") return "resulcode";
  if (name == "resulcode") return "resultcode";
  return {};
}

std::string codeText(const Poco::Dynamic::Var& v) {
  // A result code sent as a JSON number (0, 111) still means "000", "111".
  if (v.isInteger()) {
    std::string s = std::to_string(v.convert<Poco::Int64>());
    while (s.size() < 3) s.insert(s.begin(), '0');
    return s;
  }
  return trim(scalarText(v));
}

bool isCancelled(const std::string& paymentStatus) {
  return paymentStatus == "CANCEL" || paymentStatus == "CANCELLED" || paymentStatus == "CANCELED";
}

}  // namespace

std::string isoTimestamp(std::int64_t epochMs) {
  return Poco::DateTimeFormatter::format(Poco::Timestamp(epochMs * 1000), "%Y-%m-%dT%H:%M:%S") +
         "+00:00";
}

std::vector<std::pair<std::string, std::string>> signingHeaders(const std::string& apiKey,
                                                                const std::string& apiSecret,
                                                                const std::string& timestamp,
                                                                const Fields& fields) {
  std::vector<std::pair<std::string, std::string>> pairs;
  std::string names;
  for (const auto& f : fields) {
    pairs.emplace_back(f.name, f.value);
    if (!names.empty()) names += ',';
    names += f.name;
  }
  return {{"Authorization", authorizationHeader(apiKey)},
          {"Digest-Method", "HS256"},
          {"Timestamp", timestamp},
          {"Signed-Fields", names},
          {"Digest", computeDigest(apiSecret, buildSignString(timestamp, pairs))}};
}

std::string jsonBody(const Fields& fields) {
  Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  for (const auto& f : fields) {
    if (f.number) {
      o.set(f.name, static_cast<Poco::Int64>(std::stoll(f.value)));
    } else {
      o.set(f.name, f.value);
    }
  }
  std::ostringstream os;
  o.stringify(os);
  return os.str();
}

std::string queryString(const Fields& fields) {
  std::string out;
  for (const auto& f : fields) {
    if (!out.empty()) out += '&';
    std::string v;
    Poco::URI::encode(f.value, "&=+?#/:;@ ", v);
    out += f.name + "=" + v;
  }
  return out;
}

std::string base64Encode(const std::string& data) {
  std::ostringstream os;
  Poco::Base64Encoder enc(os);
  enc.rdbuf()->setLineLength(0);  // one line: it goes into a JSON string
  enc << data;
  enc.close();
  return os.str();
}

std::optional<std::string> base64Decode(const std::string& text) {
  for (char c : text)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=' ||
          c == '\r' || c == '\n'))
      return std::nullopt;
  try {
    std::istringstream is(text);
    Poco::Base64Decoder dec(is);
    std::string out((std::istreambuf_iterator<char>(dec)), std::istreambuf_iterator<char>());
    return out;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string scalarText(const Poco::Dynamic::Var& v) {
  if (v.isEmpty()) return {};
  if (v.isString()) return v.extract<std::string>();
  if (v.isBoolean()) return v.convert<bool>() ? "true" : "false";
  if (v.isInteger())
    return v.isSigned() ? std::to_string(v.convert<Poco::Int64>())
                        : std::to_string(v.convert<Poco::UInt64>());
  if (v.isNumeric()) {
    double d = v.convert<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15)
      return std::to_string(static_cast<long long>(d));
    std::ostringstream os;
    os.precision(15);
    os << d;
    return os.str();
  }
  try {
    return v.convert<std::string>();  // objects and arrays: their JSON text
  } catch (const std::exception&) {
    return {};
  }
}

FieldSource FieldSource::fromBody(const std::string& body) {
  std::map<std::string, std::string> out;
  // By what the body is, not by its label: Selcom's own callback sample posts JSON without a
  // Content-Type, which HTTP clients then send as application/x-www-form-urlencoded.
  if (auto obj = parseJsonObject(body)) {
    for (const auto& kv : *obj) out[kv.first] = scalarText(kv.second);
    return FieldSource(std::move(out));
  }
  return FieldSource(parseFormUrlEncoded(body));
}

std::optional<std::string> FieldSource::get(const std::string& name) const {
  auto it = fields_.find(name);
  if (it != fields_.end()) return it->second;
  std::string alias = aliasOf(name);
  if (!alias.empty()) {
    it = fields_.find(alias);
    if (it != fields_.end()) return it->second;
  }
  return std::nullopt;
}

bool SignatureCheck::covers(const std::string& name) const {
  std::string alias = aliasOf(name);
  for (const auto& f : signedFields)
    if (f == name || (!alias.empty() && f == alias)) return true;
  return false;
}

SignatureCheck checkSignature(const HeaderMap& headers, const FieldSource& fields,
                              const std::string& apiSecret) {
  auto header = [&](const char* n) {
    auto it = headers.find(n);
    return it == headers.end() ? std::string() : trim(it->second);
  };
  SignatureCheck out;
  std::string digest = header("Digest"), names = header("Signed-Fields"),
              timestamp = header("Timestamp"), method = header("Digest-Method");
  if (digest.empty() && names.empty() && timestamp.empty()) return out;  // not signed at all
  out.state = SignatureCheck::State::invalid;
  if (digest.empty() || names.empty() || timestamp.empty()) {
    out.why = "incomplete signature headers (Digest, Signed-Fields and Timestamp are all needed)";
    return out;
  }
  if (!method.empty() && upper(method) != "HS256") {
    out.why = "unsupported Digest-Method " + method;
    return out;
  }
  std::vector<std::pair<std::string, std::string>> pairs;
  std::istringstream is(names);
  std::string name;
  while (std::getline(is, name, ',')) {
    name = trim(name);
    if (name.empty()) {
      out.why = "empty name in Signed-Fields";
      return out;
    }
    out.signedFields.push_back(name);
    // A signed field the body lacks signs as empty, as Selcom's PHP samples build it.
    pairs.emplace_back(name, fields.value(name));
  }
  if (!verifyDigest(apiSecret, buildSignString(timestamp, pairs), digest)) {
    out.why = "Digest does not match";
    return out;
  }
  out.state = SignatureCheck::State::valid;
  return out;
}

Result<Envelope> parseEnvelope(int httpStatus, const std::string& body) {
  Envelope env;
  env.httpStatus = httpStatus;
  Poco::JSON::Object::Ptr o;
  try {
    o = Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception&) {
  }
  if (!o) {
    return Error::make(
        ErrorCode::providerError,
        "Selcom replied HTTP " + std::to_string(httpStatus) + " without a JSON envelope",
        "The payment provider answered unexpectedly.");
  }
  if (o->has("resultcode")) {
    env.resultcode = codeText(o->get("resultcode"));
  } else if (o->has("resulcode")) {
    env.resultcode = codeText(o->get("resulcode"));
  }
  env.result = upper(trim(scalarText(o->get("result"))));
  env.message = scalarText(o->get("message"));
  env.reference = scalarText(o->get("reference"));
  if (auto data = o->getArray("data"); data && data->size() > 0) env.data0 = data->getObject(0);
  if (!env.data0) env.data0 = o->getObject("data");  // some replies carry one object, not a list
  return env;
}

Result<OrderStatus> mapOrderStatus(const Envelope& env, const std::string& orderId,
                                   const std::string& defaultCurrency) {
  const std::string detail = "http " + std::to_string(env.httpStatus) + " resultcode " +
                             (env.resultcode.empty() ? "-" : env.resultcode) + " result " +
                             (env.result.empty() ? "-" : env.result);
  if (env.httpStatus == 401 || env.httpStatus == 403)
    return Error::make(ErrorCode::providerError, "Selcom refused our credentials: " + detail,
                       "The payment provider is not available right now.");
  if (env.httpStatus == 429 || env.httpStatus >= 500)
    return Error::make(ErrorCode::providerError, "Selcom unavailable: " + detail,
                       "The payment provider is not available right now.");
  if (env.resultcode.empty())
    return Error::make(ErrorCode::providerError,
                       "order-status reply without a result code: " + detail,
                       "The payment provider answered unexpectedly.");

  OrderStatus out;
  ProviderStatus& st = out.status;
  st.detail = detail;
  const std::string& code = env.resultcode;
  if (code == "111" || code == "927") {
    st.reason = "The payment is still in progress.";
    return out;
  }
  if (code == "999") {
    st.detail += " (ambiguous: reconcile later)";
    st.reason = "The payment is still being confirmed.";
    return out;
  }
  if (code != "000") {
    // A definitive refusal about this order (e.g. the order does not exist, the wallet
    // declined): Selcom documents every code outside 000/111/927/999 as failed.
    st.state = ProviderStatus::State::failed;
    st.reason = "The payment was not completed.";
    return out;
  }
  if (!env.data0) {
    st.detail += " (no order data)";
    st.reason = "Not paid yet.";
    return out;
  }
  const Poco::JSON::Object& d = *env.data0;
  std::string echoed = trim(scalarText(d.get("order_id")));
  if (!echoed.empty() && echoed != orderId)
    return Error::make(ErrorCode::providerError,
                       "order-status for " + orderId + " answered about order " + echoed,
                       "The payment provider answered unexpectedly.");
  const std::string paymentStatus = upper(trim(scalarText(d.get("payment_status"))));
  out.transid = trim(scalarText(d.get("transid")));
  out.reference = trim(scalarText(d.get("reference")));
  st.detail += " payment_status " + (paymentStatus.empty() ? std::string("-") : paymentStatus);
  if (paymentStatus == "COMPLETED") {
    std::string currency = upper(trim(scalarText(d.get("currency"))));
    if (currency.empty()) currency = defaultCurrency;  // order-status does not always say
    auto amount = amountFromWire(trim(scalarText(d.get("amount"))), currency);
    if (out.transid.empty()) {
      st.detail += " (completed without a transid: not trusted)";
      st.reason = "The payment is still being confirmed.";
      return out;
    }
    if (!amount) {
      st.detail += " (unreadable amount '" + scalarText(d.get("amount")) + "')";
      st.reason = "The payment is still being confirmed.";
      return out;
    }
    st.state = ProviderStatus::State::succeeded;
    st.providerTxnId = out.transid;
    st.amountMinor = *amount;
    st.currency = currency;
    return out;
  }
  if (isCancelled(paymentStatus)) {
    st.state = ProviderStatus::State::failed;
    st.reason = "The payment was cancelled or declined.";
    return out;
  }
  st.reason = "Not paid yet.";  // PENDING, and any status Selcom may add later
  return out;
}

Status mapCreateReply(const Envelope& env) {
  const std::string detail = "create-order-minimal: http " + std::to_string(env.httpStatus) +
                             " resultcode " + (env.resultcode.empty() ? "-" : env.resultcode) +
                             " result " + env.result + " message " + env.message;
  if (env.httpStatus == 401 || env.httpStatus == 403)
    return Error::make(ErrorCode::providerError, "Selcom refused our credentials: " + detail,
                       "Failed to initiate payment");
  if (env.httpStatus >= 500 || env.resultcode == "999")
    return Error::make(ErrorCode::providerTimeout, "outcome unknown: " + detail,
                       "The payment provider did not confirm the order.");
  if (env.httpStatus >= 200 && env.httpStatus < 300 &&
      (env.resultcode == "000" || env.resultcode == "111" || env.resultcode == "927"))
    return okStatus();
  return Error::make(ErrorCode::providerError, "Selcom refused the order: " + detail,
                     "Failed to initiate payment");
}

PushOutcome mapPushReply(const Envelope& env) {
  if (env.httpStatus == 401 || env.httpStatus == 403) return PushOutcome::refused;
  if (env.httpStatus >= 500 || env.resultcode == "999") return PushOutcome::unknown;
  if (env.resultcode == "000" || env.resultcode == "111" || env.resultcode == "927")
    return PushOutcome::sent;
  return PushOutcome::refused;
}

std::optional<std::string> normaliseMsisdn(const std::string& phone) {
  std::string digits;
  for (char c : phone) {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      digits += c;
    } else if (!(c == ' ' || c == '-' || c == '(' || c == ')' || c == '.' || c == '+')) {
      return std::nullopt;
    }
  }
  if (digits.rfind("00", 0) == 0) digits.erase(0, 2);  // international prefix
  if (digits.size() == 10 && digits[0] == '0') digits = "255" + digits.substr(1);
  if (digits.size() == 9 && (digits[0] == '6' || digits[0] == '7')) digits = "255" + digits;
  if (digits.size() != 12 || digits.rfind("255", 0) != 0) return std::nullopt;
  if (digits[3] != '6' && digits[3] != '7') return std::nullopt;  // Tanzanian mobile ranges
  return digits;
}

std::string maskMsisdn(const std::string& msisdn) {
  if (msisdn.size() < 7) return std::string(msisdn.size(), '*');
  return msisdn.substr(0, 3) + std::string(msisdn.size() - 6, '*') +
         msisdn.substr(msisdn.size() - 3);
}

std::optional<std::string> wireAmount(std::int64_t amountMinor, const std::string& currency) {
  std::int64_t scale = 1;
  for (int i = 0; i < currencyExponent(currency); ++i) scale *= 10;
  if (amountMinor <= 0 || amountMinor % scale != 0) return std::nullopt;
  return std::to_string(amountMinor / scale);
}

std::optional<std::int64_t> amountFromWire(const std::string& text, const std::string& currency) {
  std::string t = trim(text);
  // Selcom documents integer amounts; "1000.00" from a formatting layer means the same.
  return parseMajor(t, currency);
}

std::optional<std::int64_t> parseTimestamp(const std::string& text) {
  const std::string t = trim(text);
  // Poco's parser skips what it does not expect: insist on the shape first.
  static const char* kShape = "dddd-dd-ddTdd:dd:dd";
  if (t.size() < 20) return std::nullopt;
  for (std::size_t i = 0; kShape[i]; ++i) {
    const bool digit = std::isdigit(static_cast<unsigned char>(t[i])) != 0;
    if (kShape[i] == 'd' ? !digit : t[i] != kShape[i]) return std::nullopt;
  }
  Poco::DateTime dt;
  int tzd = 0;
  if (!Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT, t, dt, tzd))
    return std::nullopt;
  dt.makeUTC(tzd);
  return dt.timestamp().epochMicroseconds() / 1000;
}

Result<WebhookEvent> parseWebhookMessage(const HeaderMap& headers, const std::string& body,
                                         const std::string& apiSecret, bool requireSigned,
                                         std::int64_t nowMs) {
  auto fields = FieldSource::fromBody(body);
  SignatureCheck sig = checkSignature(headers, fields, apiSecret);
  if (sig.state == SignatureCheck::State::invalid)
    return Error::make(ErrorCode::unauthorized, "bad webhook signature: " + sig.why);
  if (sig.state == SignatureCheck::State::missing && requireSigned)
    return Error::make(ErrorCode::unauthorized,
                       "unsigned webhook refused (require_signed_webhooks)");
  if (sig.state == SignatureCheck::State::valid) {
    // The Digest covers the Timestamp: one far from now is a replay of an old delivery.
    auto it = headers.find("Timestamp");
    auto signedAt = parseTimestamp(it == headers.end() ? std::string() : it->second);
    if (!signedAt)
      return Error::make(ErrorCode::unauthorized, "webhook Timestamp is not an ISO 8601 time");
    if (*signedAt < nowMs - kWebhookTimestampWindowMs ||
        *signedAt > nowMs + kWebhookTimestampWindowMs)
      return Error::make(ErrorCode::unauthorized,
                         "webhook Timestamp " + it->second + " is outside the " +
                             std::to_string(kWebhookTimestampWindowMs / 60000) + "-minute window");
    // A valid signature over other fields must not vouch for the ones we act on.
    for (const char* name : {"order_id", "transid", "payment_status", "resultcode", "result"}) {
      bool present = name == std::string("order_id") || fields.get(name).has_value();
      if (present && !sig.covers(name))
        return Error::make(ErrorCode::unauthorized, std::string("webhook field '") + name +
                                                        "' is not covered by Signed-Fields");
    }
  }
  const std::string orderId = trim(fields.value("order_id"));
  if (orderId.empty()) return Error::make(ErrorCode::invalidInput, "webhook without order_id");
  const std::string transid = trim(fields.value("transid"));
  const std::string paymentStatus = upper(trim(fields.value("payment_status")));
  const std::string code = trim(fields.value("resultcode"));
  const std::string result = upper(trim(fields.value("result")));
  WebhookEvent ev;
  // One event per (transaction, order, state): a replay is a duplicate, a later state is new.
  ev.eventId = transid + ":" + orderId + ":" +
               (!paymentStatus.empty() ? paymentStatus
                : !result.empty()      ? result
                                       : code);
  ev.paymentId = orderId;
  ev.summary = "resultcode " + (code.empty() ? "-" : code) + ", result " +
               (result.empty() ? "-" : result) + ", payment_status " +
               (paymentStatus.empty() ? "-" : paymentStatus) +
               (sig.state == SignatureCheck::State::valid ? " (signed)" : " (unsigned)");
  return ev;
}

std::string expand(std::string text, const std::map<std::string, std::string>& values) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t open = text.find('{', i);
    if (open == std::string::npos) break;
    std::size_t close = text.find('}', open);
    if (close == std::string::npos) break;
    auto it = values.find(text.substr(open + 1, close - open - 1));
    out += text.substr(i, open - i);
    if (it != values.end()) {
      out += it->second;
    } else {
      out += text.substr(open, close - open + 1);
    }
    i = close + 1;
  }
  out += text.substr(i);
  return out;
}

}  // namespace malipo::selcom
