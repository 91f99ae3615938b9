#include "flutterwave_wire.hpp"

#include <Poco/JSON/Parser.h>
#include <Poco/URI.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <sstream>

#include "malipo/money.hpp"

namespace malipo::flutterwave {

namespace {

const char* kInitiateFailed = "Failed to initiate payment";

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Provider bodies go to logs only, and a misbehaving endpoint must not flood them.
std::string clip(const std::string& s, std::size_t n = 500) {
  return s.size() <= n ? s : s.substr(0, n) + "…";
}

std::string field(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  if (!o || !o->has(key)) return {};
  return scalarText(o->get(key));
}

std::int64_t scaleOf(const std::string& currency) {
  std::int64_t scale = 1;
  for (int i = 0; i < currencyExponent(currency); ++i) scale *= 10;
  return scale;
}

}  // namespace

std::string hmacSha256Base64(const std::string& key, const std::string& message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  unsigned char out[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  int n = EVP_EncodeBlock(out, mac, static_cast<int>(len));
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
}

bool constantTimeEquals(const std::string& a, const std::string& b) {
  unsigned char da[EVP_MAX_MD_SIZE], db[EVP_MAX_MD_SIZE];
  unsigned int la = 0, lb = 0;
  if (!EVP_Digest(a.data(), a.size(), da, &la, EVP_sha256(), nullptr)) return false;
  if (!EVP_Digest(b.data(), b.size(), db, &lb, EVP_sha256(), nullptr)) return false;
  // Fixed-size digests: the comparison time depends on neither input's length nor content.
  return la == lb && CRYPTO_memcmp(da, db, la) == 0;
}

Poco::Dynamic::Var majorAmountJson(std::int64_t minor, const std::string& currency) {
  std::int64_t scale = scaleOf(currency);
  if (minor % scale == 0) return static_cast<Poco::Int64>(minor / scale);
  return static_cast<double>(minor) / static_cast<double>(scale);
}

std::int64_t minorFromJson(const Poco::Dynamic::Var& v, const std::string& currency) {
  try {
    if (v.isEmpty() || v.isBoolean()) return -1;
    std::int64_t scale = scaleOf(currency);
    if (v.isString()) {
      auto parsed = parseMajor(v.extract<std::string>(), currency);
      return parsed ? *parsed : -1;
    }
    if (v.isInteger()) {
      Poco::Int64 i = v.convert<Poco::Int64>();
      if (i < 0 || i > std::numeric_limits<std::int64_t>::max() / scale) return -1;
      return i * scale;
    }
    if (v.isNumeric()) {
      double d = v.convert<double>();
      if (!std::isfinite(d) || d < 0 || d > 9.0e13) return -1;
      double scaled = d * static_cast<double>(scale);
      double rounded = std::round(scaled);
      // A JSON decimal like 10.5 is not exact in binary; accept representation error only,
      // never a real fraction of a minor unit (10.505 NGN is refused, not rounded).
      if (std::fabs(scaled - rounded) > 1e-3) return -1;
      return static_cast<std::int64_t>(rounded);
    }
  } catch (const std::exception&) {
  }
  return -1;
}

std::string placeholderEmail(const std::string& accountId, const std::string& paymentId,
                             const std::string& domain) {
  std::string local;
  for (char c : lower(accountId)) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    local += ok ? c : '-';
  }
  while (!local.empty() && (local.front() == '.' || local.front() == '-'))
    local.erase(local.begin());
  while (!local.empty() && (local.back() == '.' || local.back() == '-')) local.pop_back();
  if (local.empty()) local = "customer-" + lower(paymentId.substr(0, 8));
  if (local.size() > 64) local.resize(64);
  return local + "@" + (domain.empty() ? "example.com" : domain);
}

std::string buildPaymentRequest(const Payment& p, const CheckoutOptions& opt) {
  Poco::JSON::Object body(Poco::JSON_PRESERVE_KEY_ORDER);
  body.set("tx_ref", p.id);
  body.set("amount", majorAmountJson(p.amountMinor, p.currency));
  body.set("currency", p.currency);
  body.set("redirect_url", opt.redirectUrl);

  const Customer& c = p.customer;
  Poco::JSON::Object::Ptr customer = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  bool emailOk = c.email.find('@') != std::string::npos;
  customer->set(
      "email", emailOk ? c.email : placeholderEmail(c.accountId, p.id, opt.placeholderEmailDomain));
  if (!c.name.empty()) customer->set("name", c.name);
  if (!c.phone.empty()) customer->set("phonenumber", c.phone);
  body.set("customer", customer);

  Poco::JSON::Object::Ptr custom = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  std::string description = opt.description.empty() ? p.description : opt.description;
  if (!opt.title.empty()) custom->set("title", opt.title);
  if (!description.empty()) custom->set("description", description);
  if (!opt.logo.empty()) custom->set("logo", opt.logo);
  if (custom->size() > 0) body.set("customizations", custom);

  // Our ids ride along so Flutterwave's dashboard and exports point back to the payment.
  Poco::JSON::Object::Ptr meta = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  meta->set("payment_id", p.id);
  meta->set("product", p.product);
  meta->set("order_ref", p.orderRef);
  body.set("meta", meta);
  if (!opt.paymentOptions.empty()) body.set("payment_options", opt.paymentOptions);
  return toJson(body);
}

Result<std::string> parseHostedLink(int httpStatus, const std::string& body) {
  auto o = parseJsonObject(body);
  std::string why;
  if (httpStatus < 200 || httpStatus > 299) {
    why = "create payment returned HTTP " + std::to_string(httpStatus);
  } else if (!o || field(o, "status") != "success") {
    why = "create payment did not succeed";
  } else {
    std::string link = field(o->getObject("data"), "link");
    if (link.rfind("https://", 0) == 0 || link.rfind("http://", 0) == 0) return link;
    why = "create payment reply has no hosted link";
  }
  return Error::make(ErrorCode::providerError, "flutterwave: " + why + ": " + clip(body),
                     kInitiateFailed);
}

Result<ProviderStatus> mapVerifyResponse(int httpStatus, const std::string& body,
                                         const std::string& expectedTxRef) {
  auto refused = [&](const std::string& why) {
    return Error::make(
        ErrorCode::providerError,
        "flutterwave verify: " + why + " (HTTP " + std::to_string(httpStatus) + "): " + clip(body),
        "The payment provider could not be reached.");
  };
  if (httpStatus == 401 || httpStatus == 403) return refused("the secret key was refused");
  if (httpStatus >= 500 || httpStatus < 200) return refused("provider failure");
  auto o = parseJsonObject(body);
  if (!o) return refused("unparseable reply");
  std::string message = lower(field(o, "message"));
  if (httpStatus != 200 || field(o, "status") != "success") {
    // Flutterwave answers an unknown tx_ref/id with an error; for us it means "not paid yet"
    // (the customer may still be on the checkout page, or the create call timed out).
    if (message.find("no transaction") != std::string::npos) {
      ProviderStatus st;
      st.reason = "Not paid yet.";
      st.detail = "no transaction found";
      return st;
    }
    return refused("error reply");
  }
  auto data = o->getObject("data");
  if (!data) return refused("reply without data");

  ProviderStatus st;
  std::string status = lower(field(data, "status"));
  std::string txRef = field(data, "tx_ref");
  std::string id = field(data, "id");
  st.detail = "status=" + status + " id=" + id + " flw_ref=" + field(data, "flw_ref") +
              " payment_type=" + field(data, "payment_type");
  if (txRef != expectedTxRef) {
    // Someone else's transaction (e.g. a forged transaction_id on the return URL): it says
    // nothing about this payment.
    st.reason = "Not paid yet.";
    st.detail += " tx_ref mismatch";
    return st;
  }
  if (status == "successful") {
    std::string currency = field(data, "currency");
    std::int64_t amount = minorFromJson(data->get("amount"), currency);
    std::int64_t charged =
        data->has("charged_amount") ? minorFromJson(data->get("charged_amount"), currency) : -1;
    // charged_amount includes fees the customer bore, so it is normally >= amount; if it is
    // ever lower, the lower figure is what was really paid.
    if (charged >= 0 && (amount < 0 || charged < amount)) amount = charged;
    // For reconciliation: what the customer was charged, Flutterwave's fee, what we receive.
    st.grossMinor = charged >= 0 ? charged : amount;
    st.feeMinor = data->has("app_fee") ? minorFromJson(data->get("app_fee"), currency) : -1;
    st.netMinor =
        data->has("amount_settled") ? minorFromJson(data->get("amount_settled"), currency) : -1;
    if (id.empty()) {
      st.reason = "Not confirmed yet.";
      st.detail += " no transaction id";
      return st;
    }
    st.state = ProviderStatus::State::succeeded;
    st.providerTxnId = id;
    st.amountMinor = amount;
    st.currency = currency;
    return st;
  }
  if (status == "failed") {
    st.state = ProviderStatus::State::failed;
    st.reason = "The payment was declined.";
    return st;
  }
  st.reason = "Not paid yet.";
  return st;
}

std::string refundMarker(const std::string& refundId) {
  return "malipo-refund:" + refundId;
}

std::string buildRefundRequest(const RefundRequest& request) {
  Poco::JSON::Object body(Poco::JSON_PRESERVE_KEY_ORDER);
  body.set("amount", majorAmountJson(request.amountMinor, request.currency));
  std::string comments = refundMarker(request.refundId);
  if (!request.reason.empty()) comments += " " + clip(request.reason, 150);
  body.set("comments", comments);
  return toJson(body);
}

RefundStatus refundStatusFromData(const Poco::JSON::Object::Ptr& data,
                                  const std::string& currency) {
  RefundStatus st;
  std::string status = lower(field(data, "status"));
  st.providerRefundId = field(data, "id");
  if (data && data->has("amount_refunded"))
    st.amountMinor = minorFromJson(data->get("amount_refunded"), currency);
  st.detail = "refund status=" + status + " id=" + st.providerRefundId +
              " flw_ref=" + field(data, "flw_ref") + " tx_id=" + field(data, "tx_id");
  if (status == "completed" || status == "successful") {
    st.state =
        st.providerRefundId.empty() ? RefundStatus::State::pending : RefundStatus::State::succeeded;
  } else if (status == "failed" || status == "declined" || status == "rejected" ||
             status == "reversed") {
    st.state = RefundStatus::State::failed;
    st.reason = "Flutterwave did not complete the refund (" + status + ").";
  } else {
    st.state = RefundStatus::State::pending;
    st.reason = "Flutterwave is processing the refund.";
  }
  return st;
}

Result<RefundStatus> mapRefundResponse(int httpStatus, const std::string& body,
                                       const std::string& currency) {
  auto refused = [&](const std::string& why, bool retryable) {
    Error e = Error::make(
        ErrorCode::providerError,
        "flutterwave refund: " + why + " (HTTP " + std::to_string(httpStatus) + "): " + clip(body),
        "The payment provider could not process the refund now.");
    e.retryable = retryable;
    return e;
  };
  if (httpStatus == 401 || httpStatus == 403) return refused("the secret key was refused", false);
  if (httpStatus >= 500 || httpStatus < 200) return refused("provider failure", true);
  auto o = parseJsonObject(body);
  if (!o) return refused("unparseable reply", true);
  if (httpStatus >= 400 || field(o, "status") != "success") {
    if (httpStatus < 400 || httpStatus >= 500) return refused("error reply", true);
    // Flutterwave's own refusal: nothing was refunded.
    RefundStatus st;
    st.state = RefundStatus::State::failed;
    std::string message = clip(field(o, "message"), 200);
    st.reason = message.empty() ? std::string("Flutterwave refused the refund.")
                                : "Flutterwave refused the refund: " + message;
    st.detail = "HTTP " + std::to_string(httpStatus) + " " + message;
    return st;
  }
  auto data = o->getObject("data");
  if (!data) return refused("reply without data", true);
  return refundStatusFromData(data, currency);
}

Result<RefundLookup> findRefundInList(int httpStatus, const std::string& body,
                                      const std::string& transactionId, const std::string& refundId,
                                      const std::string& currency) {
  auto refused = [&](const std::string& why) {
    Error e = Error::make(ErrorCode::providerError,
                          "flutterwave list refunds: " + why + " (HTTP " +
                              std::to_string(httpStatus) + "): " + clip(body),
                          "The payment provider could not be reached.");
    e.retryable = httpStatus >= 500 || httpStatus < 200;
    return e;
  };
  if (httpStatus != 200) return refused("not a success");
  auto o = parseJsonObject(body);
  if (!o || field(o, "status") != "success") return refused("error reply");
  RefundLookup out;
  auto meta = o->getObject("meta");
  auto info = meta ? meta->getObject("page_info") : nullptr;
  if (info && info->has("total_pages")) {
    try {
      out.totalPages = std::max(1, std::stoi(scalarText(info->get("total_pages"))));
    } catch (const std::exception&) {
    }
  }
  auto list = o->getArray("data");
  if (!list) return out;
  // The marker is followed by a space or ends the comment, so refund id "r1" never matches
  // a comment made for "r10".
  std::string marker = refundMarker(refundId);
  for (std::size_t i = 0; i < list->size(); ++i) {
    auto item = list->getObject(static_cast<unsigned>(i));
    if (!item || field(item, "tx_id") != transactionId) continue;
    std::string comments = field(item, "comments");
    if (comments.rfind(marker, 0) != 0) continue;
    if (comments.size() > marker.size() && comments[marker.size()] != ' ') continue;
    out.found = true;
    out.status = refundStatusFromData(item, currency);
    return out;
  }
  return out;
}

Status verifyWebhookAuth(const Request& req, const std::string& secretHash) {
  if (secretHash.empty())
    return Error::make(ErrorCode::unauthorized, "flutterwave: no secret_hash configured");
  std::string verif = req.header("verif-hash");
  if (!verif.empty() && constantTimeEquals(verif, secretHash)) return okStatus();
  // flutterwave-signature comes in two documented forms: base64(HMAC-SHA256(secret hash, raw
  // body)), or (older dashboards) the secret hash itself. Both compared in constant time.
  std::string sig = req.header("flutterwave-signature");
  if (!sig.empty() && (constantTimeEquals(sig, hmacSha256Base64(secretHash, req.body)) ||
                       constantTimeEquals(sig, secretHash)))
    return okStatus();
  if (verif.empty() && sig.empty())
    return Error::make(ErrorCode::unauthorized,
                       "flutterwave: no verif-hash or flutterwave-signature header");
  return Error::make(ErrorCode::unauthorized,
                     "flutterwave: verif-hash / flutterwave-signature does not match");
}

Result<WebhookPayload> parseWebhookBody(const std::string& body) {
  auto o = parseJsonObject(body);
  if (!o)
    return Error::make(ErrorCode::invalidInput, "flutterwave webhook: body is not a JSON object");
  WebhookPayload p;
  auto data = o->getObject("data");
  if (data) {
    p.shape = "envelope";
    p.event = field(o, "event");
    p.transactionId = field(data, "id");
    p.txRef = field(data, "tx_ref");
    p.status = lower(field(data, "status"));
  } else {
    p.shape = "legacy";
    p.event = field(o, "event.type");
    if (p.event.empty()) p.event = field(o, "event");
    p.transactionId = field(o, "id");
    p.txRef = field(o, "txRef");
    if (p.txRef.empty()) p.txRef = field(o, "tx_ref");
    p.status = lower(field(o, "status"));
  }
  if (p.transactionId.empty() && p.txRef.empty())
    return Error::make(ErrorCode::invalidInput,
                       "flutterwave webhook: neither a transaction id nor a tx_ref");
  return p;
}

WebhookEvent toWebhookEvent(const WebhookPayload& p) {
  WebhookEvent ev;
  // One id format for both shapes, so the same delivery in either shape deduplicates.
  ev.eventId = (p.transactionId.empty() ? "tx_ref:" + p.txRef : p.transactionId) + ":" + p.status;
  ev.paymentId = p.txRef;
  ev.providerRef = p.txRef;
  ev.summary = (p.event.empty() ? std::string("webhook") : p.event) + " status=" + p.status +
               " transaction=" + p.transactionId + " shape=" + p.shape;
  return ev;
}

Result<std::vector<WebhookEvent>> parseWebhook(const Request& req, const std::string& secretHash) {
  auto auth = verifyWebhookAuth(req, secretHash);
  if (!auth.ok()) return auth.error();
  auto parsed = parseWebhookBody(req.body);
  if (!parsed.ok()) return parsed.error();
  const WebhookPayload& p = parsed.value();
  std::vector<WebhookEvent> out;
  std::string event = lower(p.event);
  // Transfers and other non-charge events concern no payment of ours: acknowledge them (so
  // Flutterwave stops retrying) without an event.
  bool charge = p.shape == "envelope" ? (event.empty() || event.rfind("charge.", 0) == 0)
                                      : event != "transfer";
  if (charge && !p.txRef.empty()) out.push_back(toWebhookEvent(p));
  return out;
}

std::map<std::string, std::string> parseForm(const std::string& body) {
  return parseFormUrlEncoded(body);
}

std::string appendQuery(const std::string& url,
                        const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out = url;
  char sep = url.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [k, v] : params) {
    std::string ek, ev;
    Poco::URI::encode(k, "!#$&'()*+,/:;=?@[]", ek);
    Poco::URI::encode(v, "!#$&'()*+,/:;=?@[]", ev);
    out += sep + ek + "=" + ev;
    sep = '&';
  }
  return out;
}

std::string toJson(const Poco::JSON::Object& o) {
  std::ostringstream os;
  o.stringify(os);
  return os.str();
}

std::string scalarText(const Poco::Dynamic::Var& v) {
  try {
    if (v.isEmpty()) return {};
    if (v.isString()) return v.extract<std::string>();
    if (v.isBoolean()) return v.convert<bool>() ? "true" : "false";
    if (v.isInteger()) return v.convert<std::string>();
    if (v.isNumeric()) {
      double d = v.convert<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15)
        return std::to_string(static_cast<long long>(d));
      return v.convert<std::string>();
    }
  } catch (const std::exception&) {
  }
  return {};
}

bool looksLikeTransactionId(const std::string& s) {
  return !s.empty() && s.size() <= 20 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace malipo::flutterwave
