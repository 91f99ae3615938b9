// The C++ SDK's mapping between its value types and ABI records (malipo/abi.h).
//
// Header-only and compiled into each side: the kernel and every plugin convert with the same
// code, through the function table of the kernel they run in, so the field mapping is written
// once. Nothing here crosses the boundary as C++: only records do.
#pragma once

#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "malipo/abi.h"
#include "malipo/db.hpp"
#include "malipo/http.hpp"
#include "malipo/http_client.hpp"
#include "malipo/jobs.hpp"
#include "malipo/payments.hpp"
#include "malipo/provider.hpp"
#include "malipo/result.hpp"
#include "malipo/settings.hpp"

namespace malipo::abi {

inline mlp_str view(const std::string& s) {
  return mlp_str{s.data(), s.size()};
}
inline mlp_str view(const char* s) {
  return mlp_str{s, std::char_traits<char>::length(s)};
}
inline std::string str(mlp_str s) {
  return s.len ? std::string(s.ptr, s.len) : std::string();
}

// Reads a record (a null record reads as empty).
class In {
 public:
  In(const mlp_api_v1& api, const mlp_rec* rec) : a_(&api), r_(rec) {}
  explicit operator bool() const { return r_ != nullptr; }
  const mlp_rec* rec() const { return r_; }
  bool has(std::uint32_t k) const { return r_ && a_->rec_has(r_, k) == 1; }
  std::string s(std::uint32_t k) const { return r_ ? str(a_->rec_str(r_, k)) : std::string(); }
  std::int64_t i(std::uint32_t k, std::int64_t dflt = 0) const {
    return r_ ? a_->rec_i64(r_, k, dflt) : dflt;
  }
  std::uint32_t count(std::uint32_t k) const { return r_ ? a_->rec_count(r_, k) : 0; }
  std::vector<std::string> strs(std::uint32_t k) const {
    std::vector<std::string> out;
    std::uint32_t n = count(k);
    out.reserve(n);
    for (std::uint32_t j = 0; j < n; ++j) out.push_back(str(a_->rec_str_at(r_, k, j)));
    return out;
  }
  template <class Fn>
  void pairs(std::uint32_t k, Fn&& put) const {
    std::uint32_t n = count(k);
    for (std::uint32_t j = 0; j + 1 < n; j += 2)
      put(str(a_->rec_str_at(r_, k, j)), str(a_->rec_str_at(r_, k, j + 1)));
  }
  In child(std::uint32_t k, std::uint32_t j = 0) const {
    return In(*a_, r_ && j < count(k) ? a_->rec_at(r_, k, j) : nullptr);
  }

 private:
  const mlp_api_v1* a_;
  const mlp_rec* r_;
};

// Writes a record.
class Out {
 public:
  Out(const mlp_api_v1& api, mlp_rec* rec) : a_(&api), r_(rec) {}
  mlp_rec* rec() const { return r_; }
  void s(std::uint32_t k, const std::string& v) { a_->rec_set_str(r_, k, view(v)); }
  void i(std::uint32_t k, std::int64_t v) { a_->rec_set_i64(r_, k, v); }
  void strs(std::uint32_t k, const std::vector<std::string>& v) {
    for (const auto& x : v) a_->rec_add_str(r_, k, view(x));
  }
  template <class Map>
  void pairs(std::uint32_t k, const Map& m) {
    for (const auto& [name, value] : m) {
      a_->rec_add_str(r_, k, view(name));
      a_->rec_add_str(r_, k, view(value));
    }
  }
  Out add(std::uint32_t k) { return Out(*a_, a_->rec_add(r_, k)); }

 private:
  const mlp_api_v1* a_;
  mlp_rec* r_;
};

// A record this side creates and frees (inputs to host calls, outputs of them).
class Owned {
 public:
  explicit Owned(const mlp_api_v1& api) : a_(&api), r_(api.rec_new()) {}
  ~Owned() { a_->rec_free(r_); }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  mlp_rec* get() const { return r_; }
  In in() const { return In(*a_, r_); }
  Out out() const { return Out(*a_, r_); }

 private:
  const mlp_api_v1* a_;
  mlp_rec* r_;
};

// ---- errors ------------------------------------------------------------------------------

inline std::int64_t toAbi(ErrorCode c) {
  switch (c) {
    case ErrorCode::invalidInput:
      return MLP_E_INVALID_INPUT;
    case ErrorCode::unauthorized:
      return MLP_E_UNAUTHORIZED;
    case ErrorCode::paymentRequired:
      return MLP_E_PAYMENT_REQUIRED;
    case ErrorCode::forbidden:
      return MLP_E_FORBIDDEN;
    case ErrorCode::notFound:
      return MLP_E_NOT_FOUND;
    case ErrorCode::conflict:
      return MLP_E_CONFLICT;
    case ErrorCode::payloadTooLarge:
      return MLP_E_PAYLOAD_TOO_LARGE;
    case ErrorCode::unprocessable:
      return MLP_E_UNPROCESSABLE;
    case ErrorCode::rateLimited:
      return MLP_E_RATE_LIMITED;
    case ErrorCode::providerError:
      return MLP_E_PROVIDER_ERROR;
    case ErrorCode::unavailable:
      return MLP_E_UNAVAILABLE;
    case ErrorCode::providerTimeout:
      return MLP_E_PROVIDER_TIMEOUT;
    case ErrorCode::internal:
      return MLP_E_INTERNAL;
  }
  return MLP_E_INTERNAL;
}

inline ErrorCode errorCodeFromAbi(std::int64_t c) {
  switch (c) {
    case MLP_E_INVALID_INPUT:
      return ErrorCode::invalidInput;
    case MLP_E_UNAUTHORIZED:
      return ErrorCode::unauthorized;
    case MLP_E_PAYMENT_REQUIRED:
      return ErrorCode::paymentRequired;
    case MLP_E_FORBIDDEN:
      return ErrorCode::forbidden;
    case MLP_E_NOT_FOUND:
      return ErrorCode::notFound;
    case MLP_E_CONFLICT:
      return ErrorCode::conflict;
    case MLP_E_PAYLOAD_TOO_LARGE:
      return ErrorCode::payloadTooLarge;
    case MLP_E_UNPROCESSABLE:
      return ErrorCode::unprocessable;
    case MLP_E_RATE_LIMITED:
      return ErrorCode::rateLimited;
    case MLP_E_PROVIDER_ERROR:
      return ErrorCode::providerError;
    case MLP_E_UNAVAILABLE:
      return ErrorCode::unavailable;
    case MLP_E_PROVIDER_TIMEOUT:
      return ErrorCode::providerTimeout;
    default:
      return ErrorCode::internal;  // an unknown code is never a lesser error
  }
}

inline void put(Out o, const Error& e) {
  o.i(MLP_K_ERR_CODE, toAbi(e.code));
  o.s(MLP_K_ERR_INTERNAL, e.internal);
  o.s(MLP_K_ERR_EXTERNAL, e.external);
  if (e.retryAfterSeconds > 0) o.i(MLP_K_ERR_RETRY_AFTER, e.retryAfterSeconds);
  if (!e.providerCode.empty()) o.s(MLP_K_ERR_PROVIDER_CODE, e.providerCode);
  if (!e.providerText.empty()) o.s(MLP_K_ERR_PROVIDER_TEXT, e.providerText);
  if (e.retryable) o.i(MLP_K_ERR_RETRYABLE, 1);
}

// The error an out record carries after MLP_FAIL (or after a code that is not MLP_OK).
inline Error getError(In in, std::int32_t rc, const std::string& what) {
  Error e;
  if (rc != MLP_FAIL) {
    e = Error::make(ErrorCode::internal, what + " returned the invalid code " + std::to_string(rc),
                    "internal error");
    return e;
  }
  e.code = errorCodeFromAbi(in.i(MLP_K_ERR_CODE, MLP_E_INTERNAL));
  e.internal = in.s(MLP_K_ERR_INTERNAL);
  e.external = in.s(MLP_K_ERR_EXTERNAL);
  if (e.internal.empty()) e.internal = what + " failed";
  if (e.external.empty())
    e.external = e.code == ErrorCode::internal ? "internal error" : e.internal;
  e.retryAfterSeconds = static_cast<int>(in.i(MLP_K_ERR_RETRY_AFTER, 0));
  e.providerCode = in.s(MLP_K_ERR_PROVIDER_CODE);
  e.providerText = in.s(MLP_K_ERR_PROVIDER_TEXT);
  e.retryable = in.i(MLP_K_ERR_RETRYABLE, 0) == 1;
  return e;
}

// ---- payments ----------------------------------------------------------------------------

inline std::int64_t toAbi(PaymentStatus s) {
  switch (s) {
    case PaymentStatus::created:
      return MLP_PAY_CREATED;
    case PaymentStatus::pending:
      return MLP_PAY_PENDING;
    case PaymentStatus::succeeded:
      return MLP_PAY_SUCCEEDED;
    case PaymentStatus::failed:
      return MLP_PAY_FAILED;
    case PaymentStatus::expired:
      return MLP_PAY_EXPIRED;
    case PaymentStatus::cancelled:
      return MLP_PAY_CANCELLED;
    case PaymentStatus::unknown:
      return MLP_PAY_UNKNOWN;
    case PaymentStatus::held:
      return MLP_PAY_HELD;
  }
  return MLP_PAY_UNKNOWN;
}

inline PaymentStatus paymentStatusFromAbi(std::int64_t s) {
  switch (s) {
    case MLP_PAY_CREATED:
      return PaymentStatus::created;
    case MLP_PAY_PENDING:
      return PaymentStatus::pending;
    case MLP_PAY_SUCCEEDED:
      return PaymentStatus::succeeded;
    case MLP_PAY_FAILED:
      return PaymentStatus::failed;
    case MLP_PAY_EXPIRED:
      return PaymentStatus::expired;
    case MLP_PAY_CANCELLED:
      return PaymentStatus::cancelled;
    case MLP_PAY_HELD:
      return PaymentStatus::held;
    default:
      return PaymentStatus::unknown;
  }
}

inline void put(Out o, const Customer& c) {
  o.s(MLP_K_CUST_ACCOUNT, c.accountId);
  o.s(MLP_K_CUST_EMAIL, c.email);
  o.s(MLP_K_CUST_NAME, c.name);
  o.s(MLP_K_CUST_PHONE, c.phone);
  if (!c.country.empty()) o.s(MLP_K_CUST_COUNTRY, c.country);
}
inline Customer getCustomer(In in) {
  return Customer{in.s(MLP_K_CUST_ACCOUNT), in.s(MLP_K_CUST_EMAIL), in.s(MLP_K_CUST_NAME),
                  in.s(MLP_K_CUST_PHONE), in.s(MLP_K_CUST_COUNTRY)};
}

inline void put(Out o, const NextAction& a) {
  o.s(MLP_K_ACT_TYPE, a.type);
  o.s(MLP_K_ACT_URL, a.url);
  o.s(MLP_K_ACT_USSD, a.ussdCode);
  o.strs(MLP_K_ACT_STEPS, a.steps);
  o.s(MLP_K_ACT_VENDOR, a.vendor);
  o.s(MLP_K_ACT_REFERENCE, a.reference);
  o.s(MLP_K_ACT_MESSAGE, a.message);
  if (!a.attemptRef.empty()) o.s(MLP_K_ACT_ATTEMPT_REF, a.attemptRef);  // 1.1
}
inline NextAction getAction(In in) {
  NextAction a;
  if (!in) return a;
  a.type = in.has(MLP_K_ACT_TYPE) ? in.s(MLP_K_ACT_TYPE) : "none";
  a.url = in.s(MLP_K_ACT_URL);
  a.ussdCode = in.s(MLP_K_ACT_USSD);
  a.steps = in.strs(MLP_K_ACT_STEPS);
  a.vendor = in.s(MLP_K_ACT_VENDOR);
  a.reference = in.s(MLP_K_ACT_REFERENCE);
  a.message = in.s(MLP_K_ACT_MESSAGE);
  a.attemptRef = in.s(MLP_K_ACT_ATTEMPT_REF);  // 1.1 (a 1.0 plugin: "", no new attempt)
  return a;
}

inline void put(Out o, const Payment& p) {
  o.s(MLP_K_PAY_ID, p.id);
  o.s(MLP_K_PAY_PRODUCT, p.product);
  o.s(MLP_K_PAY_ORDER_REF, p.orderRef);
  o.s(MLP_K_PAY_PROVIDER, p.provider);
  o.s(MLP_K_PAY_CHANNEL, p.channel);
  o.i(MLP_K_PAY_AMOUNT, p.amountMinor);
  o.s(MLP_K_PAY_CURRENCY, p.currency);
  o.i(MLP_K_PAY_STATUS, toAbi(p.status));
  o.s(MLP_K_PAY_PROVIDER_REF, p.providerRef);
  o.s(MLP_K_PAY_PROVIDER_TXN, p.providerTxnId);
  put(o.add(MLP_K_CUSTOMER), p.customer);
  o.s(MLP_K_PAY_DESCRIPTION, p.description);
  o.s(MLP_K_PAY_METADATA, p.metadata);
  put(o.add(MLP_K_ACTION), p.action);
  o.s(MLP_K_PAY_FAILURE, p.failureReason);
  o.i(MLP_K_PAY_CREATED_AT, p.createdAtMs);
  o.i(MLP_K_PAY_UPDATED_AT, p.updatedAtMs);
  o.i(MLP_K_PAY_EXPIRES_AT, p.expiresAtMs);
  o.i(MLP_K_PAY_VERSION, p.version);
  o.s(MLP_K_PAY_FULFILMENT, p.fulfilment);
  o.i(MLP_K_PAY_FULFILLED_AT, p.fulfilledAtMs);
  o.i(MLP_K_PAY_GROSS, p.grossMinor);
  o.i(MLP_K_PAY_FEE, p.feeMinor);
  o.i(MLP_K_PAY_NET, p.netMinor);
  o.i(MLP_K_PAY_REFUNDED, p.refundedMinor);
  if (!p.callbackUrl.empty()) o.s(MLP_K_PAY_CALLBACK_URL, p.callbackUrl);
  o.i(MLP_K_PAY_ATTEMPT, p.attempt);     // 1.1
  o.s(MLP_K_PAY_SHORT_REF, p.shortRef);  // 1.1
}
inline Payment getPayment(In in) {
  Payment p;
  p.id = in.s(MLP_K_PAY_ID);
  p.product = in.s(MLP_K_PAY_PRODUCT);
  p.orderRef = in.s(MLP_K_PAY_ORDER_REF);
  p.provider = in.s(MLP_K_PAY_PROVIDER);
  p.channel = in.s(MLP_K_PAY_CHANNEL);
  p.amountMinor = in.i(MLP_K_PAY_AMOUNT);
  p.currency = in.s(MLP_K_PAY_CURRENCY);
  p.status = paymentStatusFromAbi(in.i(MLP_K_PAY_STATUS, MLP_PAY_UNKNOWN));
  p.providerRef = in.s(MLP_K_PAY_PROVIDER_REF);
  p.providerTxnId = in.s(MLP_K_PAY_PROVIDER_TXN);
  p.customer = getCustomer(in.child(MLP_K_CUSTOMER));
  p.description = in.s(MLP_K_PAY_DESCRIPTION);
  p.metadata = in.s(MLP_K_PAY_METADATA);
  p.action = getAction(in.child(MLP_K_ACTION));
  p.failureReason = in.s(MLP_K_PAY_FAILURE);
  p.createdAtMs = in.i(MLP_K_PAY_CREATED_AT);
  p.updatedAtMs = in.i(MLP_K_PAY_UPDATED_AT);
  p.expiresAtMs = in.i(MLP_K_PAY_EXPIRES_AT);
  p.version = in.i(MLP_K_PAY_VERSION);
  p.fulfilment = in.s(MLP_K_PAY_FULFILMENT);
  p.fulfilledAtMs = in.i(MLP_K_PAY_FULFILLED_AT);
  p.grossMinor = in.i(MLP_K_PAY_GROSS, -1);
  p.feeMinor = in.i(MLP_K_PAY_FEE, -1);
  p.netMinor = in.i(MLP_K_PAY_NET, -1);
  p.refundedMinor = in.i(MLP_K_PAY_REFUNDED, 0);
  p.callbackUrl = in.s(MLP_K_PAY_CALLBACK_URL);
  p.attempt = static_cast<int>(in.i(MLP_K_PAY_ATTEMPT, 0));
  p.shortRef = in.s(MLP_K_PAY_SHORT_REF);
  return p;
}

inline void put(Out o, const CreatePayment& c) {
  o.s(MLP_K_PAY_PRODUCT, c.product);
  o.s(MLP_K_PAY_ORDER_REF, c.orderRef);
  o.i(MLP_K_PAY_AMOUNT, c.amountMinor);
  o.s(MLP_K_PAY_CURRENCY, c.currency);
  o.s(MLP_K_PAY_CHANNEL, c.channel);
  o.strs(MLP_K_CREATE_PROVIDERS, c.providers);
  put(o.add(MLP_K_CUSTOMER), c.customer);
  o.s(MLP_K_PAY_DESCRIPTION, c.description);
  o.s(MLP_K_PAY_METADATA, c.metadata);
  o.s(MLP_K_CREATE_RETURN_URL, c.returnUrl);
  o.i(MLP_K_CREATE_PUSH, c.push ? 1 : 0);
}
inline CreatePayment getCreate(In in) {
  CreatePayment c;
  c.product = in.s(MLP_K_PAY_PRODUCT);
  c.orderRef = in.s(MLP_K_PAY_ORDER_REF);
  c.amountMinor = in.i(MLP_K_PAY_AMOUNT);
  c.currency = in.s(MLP_K_PAY_CURRENCY);
  c.channel = in.s(MLP_K_PAY_CHANNEL);
  c.providers = in.strs(MLP_K_CREATE_PROVIDERS);
  c.customer = getCustomer(in.child(MLP_K_CUSTOMER));
  c.description = in.s(MLP_K_PAY_DESCRIPTION);
  c.metadata = in.s(MLP_K_PAY_METADATA);
  c.returnUrl = in.s(MLP_K_CREATE_RETURN_URL);
  c.push = in.i(MLP_K_CREATE_PUSH) == 1;
  return c;
}

inline void put(Out o, const CatalogItem& item) {
  o.s(MLP_K_ITEM_ID, item.id);
  o.s(MLP_K_ITEM_NAME, item.name);
  o.i(MLP_K_ITEM_AMOUNT, item.amountMinor);
  o.s(MLP_K_ITEM_CURRENCY, item.currency);
}
inline CatalogItem getItem(In in) {
  return CatalogItem{in.s(MLP_K_ITEM_ID), in.s(MLP_K_ITEM_NAME), in.i(MLP_K_ITEM_AMOUNT),
                     in.s(MLP_K_ITEM_CURRENCY)};
}

// ---- provider results --------------------------------------------------------------------

inline void put(Out o, const InitiateResult& r) {
  o.s(MLP_K_INIT_PROVIDER_REF, r.providerRef);
  o.i(MLP_K_INIT_EXPIRES_AT, r.expiresAtMs);
  put(o.add(MLP_K_ACTION), r.action);
}
inline InitiateResult getInitiate(In in) {
  InitiateResult r;
  r.providerRef = in.s(MLP_K_INIT_PROVIDER_REF);
  r.expiresAtMs = in.i(MLP_K_INIT_EXPIRES_AT);
  r.action = getAction(in.child(MLP_K_ACTION));
  return r;
}

inline void put(Out o, const ProviderStatus& s) {
  o.i(MLP_K_ST_STATE, s.state == ProviderStatus::State::succeeded ? MLP_ST_SUCCEEDED
                      : s.state == ProviderStatus::State::failed  ? MLP_ST_FAILED
                                                                  : MLP_ST_PENDING);
  o.s(MLP_K_ST_TXN, s.providerTxnId);
  o.i(MLP_K_ST_AMOUNT, s.amountMinor);
  o.i(MLP_K_ST_GROSS, s.grossMinor);
  o.i(MLP_K_ST_FEE, s.feeMinor);
  o.i(MLP_K_ST_NET, s.netMinor);
  o.s(MLP_K_ST_CURRENCY, s.currency);
  o.s(MLP_K_ST_PROVIDER_REF, s.providerRef);
  o.s(MLP_K_ST_REASON, s.reason);
  o.s(MLP_K_ST_DETAIL, s.detail);
  if (s.retryAfterSeconds > 0) o.i(MLP_K_ST_RETRY_AFTER, s.retryAfterSeconds);
  if (!s.provenance.empty()) o.s(MLP_K_ST_PROVENANCE, s.provenance);
  if (!s.resultCode.empty()) o.s(MLP_K_ST_RESULT_CODE, s.resultCode);
}
inline ProviderStatus getStatus(In in) {
  ProviderStatus s;
  std::int64_t st = in.i(MLP_K_ST_STATE, MLP_ST_PENDING);
  s.state = st == MLP_ST_SUCCEEDED ? ProviderStatus::State::succeeded
            : st == MLP_ST_FAILED  ? ProviderStatus::State::failed
                                   : ProviderStatus::State::pending;  // unknown: pending
  s.providerTxnId = in.s(MLP_K_ST_TXN);
  s.amountMinor = in.i(MLP_K_ST_AMOUNT, -1);
  s.grossMinor = in.i(MLP_K_ST_GROSS, -1);
  s.feeMinor = in.i(MLP_K_ST_FEE, -1);
  s.netMinor = in.i(MLP_K_ST_NET, -1);
  s.currency = in.s(MLP_K_ST_CURRENCY);
  s.providerRef = in.s(MLP_K_ST_PROVIDER_REF);
  s.reason = in.s(MLP_K_ST_REASON);
  s.detail = in.s(MLP_K_ST_DETAIL);
  std::int64_t after = in.i(MLP_K_ST_RETRY_AFTER, 0);
  s.retryAfterSeconds = after > 0 && after < 86400 * 30 ? static_cast<int>(after) : 0;
  s.provenance = in.s(MLP_K_ST_PROVENANCE);
  s.resultCode = in.s(MLP_K_ST_RESULT_CODE);
  return s;
}

inline void put(Out o, const WebhookEvent& e) {
  o.s(MLP_K_EV_ID, e.eventId);
  o.s(MLP_K_EV_PAYMENT_ID, e.paymentId);
  o.s(MLP_K_EV_PROVIDER_REF, e.providerRef);
  o.s(MLP_K_EV_SUMMARY, e.summary);
}
inline WebhookEvent getEvent(In in) {
  return WebhookEvent{in.s(MLP_K_EV_ID), in.s(MLP_K_EV_PAYMENT_ID), in.s(MLP_K_EV_PROVIDER_REF),
                      in.s(MLP_K_EV_SUMMARY)};
}

inline void put(Out o, const Capabilities& c) {
  o.strs(MLP_K_CAP_CURRENCIES, c.currencies);
  o.strs(MLP_K_CAP_CHANNELS, c.channels);
  o.strs(MLP_K_CAP_REQUIRES, c.needs);
  o.i(MLP_K_CAP_REFUNDS, c.refunds == RefundSupport::partial ? MLP_REFUNDS_PARTIAL
                         : c.refunds == RefundSupport::full  ? MLP_REFUNDS_FULL
                                                             : MLP_REFUNDS_NONE);
  o.i(MLP_K_CAP_CANCEL, c.cancel ? 1 : 0);
  if (c.webhookToken) o.i(MLP_K_CAP_WEBHOOK_TOKEN, 1);
  o.strs(MLP_K_CAP_WEBHOOK_IPS, c.webhookAllowedIps);
  if (!c.webhookPath.empty()) o.s(MLP_K_CAP_WEBHOOK_PATH, c.webhookPath);
  o.i(MLP_K_CAP_REF_MAX_LEN, c.refMaxLength);
  if (!c.refCharset.empty()) o.s(MLP_K_CAP_REF_CHARSET, c.refCharset);
}
inline Capabilities getCapabilities(In in) {
  Capabilities c;
  c.currencies = in.strs(MLP_K_CAP_CURRENCIES);
  c.channels = in.strs(MLP_K_CAP_CHANNELS);
  // A 1.0 plugin sends none of these: no requirements, no refunds, no cancel.
  c.needs = in.strs(MLP_K_CAP_REQUIRES);
  std::int64_t r = in.i(MLP_K_CAP_REFUNDS, MLP_REFUNDS_NONE);
  c.refunds = r == MLP_REFUNDS_PARTIAL ? RefundSupport::partial
              : r == MLP_REFUNDS_FULL  ? RefundSupport::full
                                       : RefundSupport::none;  // unknown: none
  c.cancel = in.i(MLP_K_CAP_CANCEL, 0) == 1;
  // Nor these: parseWebhook alone authenticates, at /webhooks/<name>.
  c.webhookToken = in.i(MLP_K_CAP_WEBHOOK_TOKEN, 0) == 1;
  c.webhookAllowedIps = in.strs(MLP_K_CAP_WEBHOOK_IPS);
  c.webhookPath = in.s(MLP_K_CAP_WEBHOOK_PATH);
  c.refMaxLength = static_cast<int>(in.i(MLP_K_CAP_REF_MAX_LEN, 0));
  c.refCharset = in.s(MLP_K_CAP_REF_CHARSET);
  return c;
}

// ---- the sandbox driver (1.1) -------------------------------------------------------------

inline void put(Out o, const SandboxPayment& h) {
  o.s(MLP_K_SB_OUTCOME, h.outcome);
  o.i(MLP_K_SB_AMOUNT, h.amountMinor);
  o.s(MLP_K_SB_CURRENCY, h.currency);
  o.s(MLP_K_SB_TXN, h.txnId);
}
inline SandboxPayment getSandboxPayment(In in) {
  SandboxPayment h;
  h.outcome = in.s(MLP_K_SB_OUTCOME);
  h.amountMinor = in.i(MLP_K_SB_AMOUNT, -1);
  h.currency = in.s(MLP_K_SB_CURRENCY);
  h.txnId = in.s(MLP_K_SB_TXN);
  return h;
}

// ---- refunds (1.1) -----------------------------------------------------------------------

inline void put(Out o, const Refund& r) {
  o.s(MLP_K_RF_ID, r.id);
  o.s(MLP_K_RF_PAYMENT_ID, r.paymentId);
  o.i(MLP_K_RF_AMOUNT, r.amountMinor);
  o.s(MLP_K_RF_CURRENCY, r.currency);
  o.s(MLP_K_RF_REASON, r.reason);
  o.s(MLP_K_RF_ACTOR, r.actor);
  o.i(MLP_K_RF_FORCED, r.forced ? 1 : 0);
}
inline Refund getRefund(In in) {
  Refund r;
  r.id = in.s(MLP_K_RF_ID);
  r.paymentId = in.s(MLP_K_RF_PAYMENT_ID);
  r.amountMinor = in.i(MLP_K_RF_AMOUNT);
  r.currency = in.s(MLP_K_RF_CURRENCY);
  r.reason = in.s(MLP_K_RF_REASON);
  r.actor = in.s(MLP_K_RF_ACTOR);
  r.forced = in.i(MLP_K_RF_FORCED, 0) == 1;
  return r;
}

inline void put(Out o, const RefundRequest& r) {
  o.s(MLP_K_RF_ID, r.refundId);
  o.i(MLP_K_RF_AMOUNT, r.amountMinor);
  o.s(MLP_K_RF_CURRENCY, r.currency);
  o.s(MLP_K_RF_REASON, r.reason);
  o.s(MLP_K_RF_PROVIDER_REFUND_ID, r.providerRefundId);
}
inline RefundRequest getRefundRequest(In in) {
  RefundRequest r;
  r.refundId = in.s(MLP_K_RF_ID);
  r.amountMinor = in.i(MLP_K_RF_AMOUNT);
  r.currency = in.s(MLP_K_RF_CURRENCY);
  r.reason = in.s(MLP_K_RF_REASON);
  r.providerRefundId = in.s(MLP_K_RF_PROVIDER_REFUND_ID);
  return r;
}

inline void put(Out o, const RefundStatus& s) {
  o.i(MLP_K_RS_STATE, s.state == RefundStatus::State::succeeded ? MLP_ST_SUCCEEDED
                      : s.state == RefundStatus::State::failed  ? MLP_ST_FAILED
                                                                : MLP_ST_PENDING);
  o.s(MLP_K_RS_PROVIDER_REFUND_ID, s.providerRefundId);
  o.i(MLP_K_RS_AMOUNT, s.amountMinor);
  o.s(MLP_K_RS_REASON, s.reason);
  o.s(MLP_K_RS_DETAIL, s.detail);
  if (s.retryAfterSeconds > 0) o.i(MLP_K_RS_RETRY_AFTER, s.retryAfterSeconds);
}
inline RefundStatus getRefundStatus(In in) {
  RefundStatus s;
  std::int64_t st = in.i(MLP_K_RS_STATE, MLP_ST_PENDING);
  s.state = st == MLP_ST_SUCCEEDED ? RefundStatus::State::succeeded
            : st == MLP_ST_FAILED  ? RefundStatus::State::failed
                                   : RefundStatus::State::pending;  // unknown: pending
  s.providerRefundId = in.s(MLP_K_RS_PROVIDER_REFUND_ID);
  s.amountMinor = in.i(MLP_K_RS_AMOUNT, -1);
  s.reason = in.s(MLP_K_RS_REASON);
  s.detail = in.s(MLP_K_RS_DETAIL);
  std::int64_t after = in.i(MLP_K_RS_RETRY_AFTER, 0);
  s.retryAfterSeconds = after > 0 && after < 86400 * 30 ? static_cast<int>(after) : 0;
  return s;
}

// ---- HTTP --------------------------------------------------------------------------------

inline void put(Out o, const Request& r) {
  o.s(MLP_K_REQ_METHOD, r.method);
  o.s(MLP_K_REQ_PATH, r.path);
  o.s(MLP_K_REQ_RAW_QUERY, r.rawQuery);
  o.pairs(MLP_K_REQ_QUERY, r.query);
  o.pairs(MLP_K_REQ_PARAMS, r.pathParams);
  o.pairs(MLP_K_REQ_HEADERS, r.headers);
  o.s(MLP_K_REQ_BODY, r.body);
  o.s(MLP_K_REQ_CLIENT_IP, r.clientIp);
  o.s(MLP_K_REQ_ID, r.requestId);
  if (r.userId) o.s(MLP_K_REQ_USER, *r.userId);
}
inline Request getRequest(In in) {
  Request r;
  r.method = in.s(MLP_K_REQ_METHOD);
  r.path = in.s(MLP_K_REQ_PATH);
  r.rawQuery = in.s(MLP_K_REQ_RAW_QUERY);
  in.pairs(MLP_K_REQ_QUERY,
           [&](std::string k, std::string v) { r.query[std::move(k)] = std::move(v); });
  in.pairs(MLP_K_REQ_PARAMS,
           [&](std::string k, std::string v) { r.pathParams[std::move(k)] = std::move(v); });
  in.pairs(MLP_K_REQ_HEADERS,
           [&](std::string k, std::string v) { r.headers[std::move(k)] = std::move(v); });
  r.body = in.s(MLP_K_REQ_BODY);
  r.clientIp = in.s(MLP_K_REQ_CLIENT_IP);
  r.requestId = in.s(MLP_K_REQ_ID);
  if (in.has(MLP_K_REQ_USER)) r.userId = in.s(MLP_K_REQ_USER);
  return r;
}

inline void put(Out o, const Response& r) {
  o.i(MLP_K_RESP_STATUS, r.status);
  o.s(MLP_K_RESP_TYPE, r.contentType);
  o.pairs(MLP_K_RESP_HEADERS, r.headers);
  o.s(MLP_K_RESP_BODY, r.body);
}
// A response whose status is not an HTTP status is a plugin bug: the caller answers 500.
inline bool getResponse(In in, Response& r) {
  std::int64_t status = in.i(MLP_K_RESP_STATUS, 0);
  if (status < 100 || status > 599) return false;
  r.status = static_cast<int>(status);
  r.contentType = in.s(MLP_K_RESP_TYPE);
  r.headers.clear();
  in.pairs(MLP_K_RESP_HEADERS, [&](std::string k, std::string v) {
    r.headers.emplace_back(std::move(k), std::move(v));
  });
  r.body = in.s(MLP_K_RESP_BODY);
  return true;
}

inline std::int64_t toAbi(Auth a) {
  switch (a) {
    case Auth::none:
      return MLP_AUTH_NONE;
    case Auth::optional:
      return MLP_AUTH_OPTIONAL;
    case Auth::required:
      return MLP_AUTH_REQUIRED;
    case Auth::admin:
      return MLP_AUTH_ADMIN;
  }
  return MLP_AUTH_REQUIRED;
}

inline void putRoute(Out o, const std::string& method, const std::string& pattern,
                     const RouteOptions& opt) {
  o.s(MLP_K_ROUTE_METHOD, method);
  o.s(MLP_K_ROUTE_PATTERN, pattern);
  o.i(MLP_K_ROUTE_AUTH, toAbi(opt.auth));
  o.s(MLP_K_ROUTE_RATE_LIMIT, opt.rateLimit);
  o.i(MLP_K_ROUTE_MAX_BODY, static_cast<std::int64_t>(opt.maxBodyBytes));
  o.s(MLP_K_ROUTE_NAME, opt.name);
  o.i(MLP_K_ROUTE_IDEMPOTENT, opt.idempotent ? 1 : 0);
  o.s(MLP_K_ROUTE_UNAUTHORIZED_BODY, opt.unauthorizedBody);
}
// False for an authentication value this side does not know (never read as "none").
inline bool getRouteOptions(In in, RouteOptions& opt) {
  switch (in.i(MLP_K_ROUTE_AUTH, MLP_AUTH_NONE)) {
    case MLP_AUTH_NONE:
      opt.auth = Auth::none;
      break;
    case MLP_AUTH_OPTIONAL:
      opt.auth = Auth::optional;
      break;
    case MLP_AUTH_REQUIRED:
      opt.auth = Auth::required;
      break;
    case MLP_AUTH_ADMIN:
      opt.auth = Auth::admin;
      break;
    default:
      return false;
  }
  opt.rateLimit = in.s(MLP_K_ROUTE_RATE_LIMIT);
  std::int64_t maxBody = in.i(MLP_K_ROUTE_MAX_BODY);
  if (maxBody < 0) return false;
  opt.maxBodyBytes = static_cast<std::size_t>(maxBody);
  opt.name = in.s(MLP_K_ROUTE_NAME);
  opt.idempotent = in.i(MLP_K_ROUTE_IDEMPOTENT) == 1;
  opt.unauthorizedBody = in.s(MLP_K_ROUTE_UNAUTHORIZED_BODY);
  return true;
}

inline void put(Out o, const OutboundRequest& r) {
  o.s(MLP_K_OUT_METHOD, r.method);
  o.s(MLP_K_OUT_URL, r.url);
  o.pairs(MLP_K_OUT_HEADERS, r.headers);
  o.s(MLP_K_OUT_BODY, r.body);
  o.s(MLP_K_OUT_TYPE, r.contentType);
  o.i(MLP_K_OUT_TIMEOUT_MS, r.timeoutMs);
  o.i(MLP_K_OUT_IDEMPOTENT, r.idempotent ? 1 : 0);
  o.i(MLP_K_OUT_MAX_RETRIES, r.maxRetries);
}
inline OutboundRequest getOutbound(In in) {
  OutboundRequest r;
  r.method = in.s(MLP_K_OUT_METHOD);
  r.url = in.s(MLP_K_OUT_URL);
  in.pairs(MLP_K_OUT_HEADERS, [&](std::string k, std::string v) {
    r.headers.emplace_back(std::move(k), std::move(v));
  });
  r.body = in.s(MLP_K_OUT_BODY);
  r.contentType = in.s(MLP_K_OUT_TYPE);
  r.timeoutMs = static_cast<int>(in.i(MLP_K_OUT_TIMEOUT_MS, 10000));
  r.idempotent = in.i(MLP_K_OUT_IDEMPOTENT) == 1;
  r.maxRetries = static_cast<int>(in.i(MLP_K_OUT_MAX_RETRIES, 2));
  return r;
}
inline void put(Out o, const OutboundResponse& r) {
  o.i(MLP_K_RESP_STATUS, r.status);
  o.pairs(MLP_K_RESP_HEADERS, r.headers);
  o.s(MLP_K_RESP_BODY, r.body);
}
inline OutboundResponse getOutboundResponse(In in) {
  OutboundResponse r;
  r.status = static_cast<int>(in.i(MLP_K_RESP_STATUS));
  in.pairs(MLP_K_RESP_HEADERS,
           [&](std::string k, std::string v) { r.headers[std::move(k)] = std::move(v); });
  r.body = in.s(MLP_K_RESP_BODY);
  return r;
}

// ---- jobs --------------------------------------------------------------------------------

inline void put(Out o, const Job& j) {
  o.i(MLP_K_JOB_ID, j.id);
  o.s(MLP_K_JOB_KIND, j.kind);
  o.s(MLP_K_JOB_PAYLOAD, j.payload);
  o.i(MLP_K_JOB_ATTEMPT, j.attempt);
  o.i(MLP_K_JOB_MAX_ATTEMPTS, j.maxAttempts);
}
inline Job getJob(In in) {
  Job j;
  j.id = in.i(MLP_K_JOB_ID);
  j.kind = in.s(MLP_K_JOB_KIND);
  j.payload = in.s(MLP_K_JOB_PAYLOAD);
  j.attempt = static_cast<int>(in.i(MLP_K_JOB_ATTEMPT, 1));
  j.maxAttempts = static_cast<int>(in.i(MLP_K_JOB_MAX_ATTEMPTS, 4));
  return j;
}

inline void put(Out o, const JobOutcome& r) {
  o.i(MLP_K_JOB_OUTCOME, r.kind == JobOutcome::Kind::done   ? MLP_JOB_DONE
                         : r.kind == JobOutcome::Kind::fail ? MLP_JOB_FAIL
                                                            : MLP_JOB_RETRY);
  o.s(MLP_K_JOB_ERROR, r.error);
  o.i(MLP_K_JOB_RETRY_IN_MS, r.retryInMs);
}
inline JobOutcome getOutcome(In in) {
  std::int64_t k = in.i(MLP_K_JOB_OUTCOME, 0);
  std::string error = in.s(MLP_K_JOB_ERROR);
  if (k == MLP_JOB_DONE) return JobOutcome::ok();
  if (k == MLP_JOB_FAIL) return JobOutcome::fail(error);
  if (k != MLP_JOB_RETRY)
    error = "the plugin returned the unknown job outcome " + std::to_string(k);
  return JobOutcome::retry(error, in.i(MLP_K_JOB_RETRY_IN_MS, -1));
}

inline void put(Out o, const JobSpec& s) {
  o.s(MLP_K_JOB_KIND, s.kind);
  o.s(MLP_K_JOB_PAYLOAD, s.payload);
  o.s(MLP_K_JOB_UNIQUE_KEY, s.uniqueKey);
  o.i(MLP_K_JOB_RUN_AT, s.runAtMs);
  o.i(MLP_K_JOB_MAX_ATTEMPTS, s.maxAttempts);
}
inline JobSpec getJobSpec(In in) {
  JobSpec s;
  s.kind = in.s(MLP_K_JOB_KIND);
  s.payload = in.s(MLP_K_JOB_PAYLOAD);
  s.uniqueKey = in.s(MLP_K_JOB_UNIQUE_KEY);
  s.runAtMs = in.i(MLP_K_JOB_RUN_AT);
  s.maxAttempts = static_cast<int>(in.i(MLP_K_JOB_MAX_ATTEMPTS));
  return s;
}

inline void putKind(Out o, const std::string& kind, const JobKindOptions& k) {
  o.s(MLP_K_JOB_KIND, kind);
  o.i(MLP_K_JOB_MAX_ATTEMPTS, k.maxAttempts);
  o.i(MLP_K_JOB_LEASE_MS, k.leaseMs);
  o.i(MLP_K_JOB_BACKOFF_BASE_MS, k.backoffBaseMs);
  o.i(MLP_K_JOB_BACKOFF_MAX_MS, k.backoffMaxMs);
}
inline JobKindOptions getKind(In in) {
  JobKindOptions k;
  k.maxAttempts = static_cast<int>(in.i(MLP_K_JOB_MAX_ATTEMPTS, k.maxAttempts));
  k.leaseMs = in.i(MLP_K_JOB_LEASE_MS, k.leaseMs);
  k.backoffBaseMs = in.i(MLP_K_JOB_BACKOFF_BASE_MS, k.backoffBaseMs);
  k.backoffMaxMs = in.i(MLP_K_JOB_BACKOFF_MAX_MS, k.backoffMaxMs);
  return k;
}

// ---- migrations and settings schemas -----------------------------------------------------

inline void put(Out o, const Migration& m) {
  o.i(MLP_K_MIG_VERSION, m.version);
  o.s(MLP_K_MIG_DESCRIPTION, m.description);
  o.s(MLP_K_MIG_SQLITE, m.sqlite);
  o.s(MLP_K_MIG_POSTGRESQL, m.postgresql);
}
inline Migration getMigration(In in) {
  Migration m;
  m.version = static_cast<int>(in.i(MLP_K_MIG_VERSION));
  m.description = in.s(MLP_K_MIG_DESCRIPTION);
  m.sqlite = in.s(MLP_K_MIG_SQLITE);
  m.postgresql = in.s(MLP_K_MIG_POSTGRESQL);
  return m;
}

inline void put(Out o, const SchemaNode& n) {
  o.i(MLP_K_SCH_TYPE, static_cast<std::int64_t>(n.type) + 1);  // SettingType order = MLP_SET_* - 1
  o.s(MLP_K_SCH_DESCRIPTION, n.description);
  o.i(MLP_K_SCH_REQUIRED, n.required);
  o.i(MLP_K_SCH_SECRET, n.secret);
  o.i(MLP_K_SCH_STRONG, n.strong);
  o.i(MLP_K_SCH_EMPTY_ALLOWED, n.emptyAllowed);
  o.i(MLP_K_SCH_PASSTHROUGH, n.passthrough);
  o.i(MLP_K_SCH_PATH, n.path);
  if (n.hasDefault) {
    Poco::JSON::Array wrapped;  // [value]: a JSON text for scalars too
    wrapped.add(n.defaultValue);
    std::ostringstream os;
    Poco::JSON::Stringifier::condense(wrapped, os);
    o.s(MLP_K_SCH_DEFAULT, os.str());
  }
  o.strs(MLP_K_SCH_ALLOWED, n.allowed);
  o.i(MLP_K_SCH_MIN, n.min);
  o.i(MLP_K_SCH_MAX, n.max);
  for (const auto& [key, child] : n.fields) {
    Out f = o.add(MLP_K_SCH_FIELDS);
    f.s(MLP_K_SCH_KEY, key);
    put(f, child);
  }
  if (n.element) put(o.add(MLP_K_SCH_ELEMENT), *n.element);
}
// Throws std::invalid_argument for a type this side does not know or a default that is not JSON.
inline SchemaNode getSchema(In in) {
  SchemaNode n;
  std::int64_t t = in.i(MLP_K_SCH_TYPE, 0);
  if (t < MLP_SET_STRING || t > MLP_SET_MAP)
    throw std::invalid_argument("unknown setting type " + std::to_string(t));
  n.type = static_cast<SettingType>(t - 1);
  n.description = in.s(MLP_K_SCH_DESCRIPTION);
  n.required = in.i(MLP_K_SCH_REQUIRED) == 1;
  n.secret = in.i(MLP_K_SCH_SECRET) == 1;
  n.strong = in.i(MLP_K_SCH_STRONG) == 1;
  n.emptyAllowed = in.i(MLP_K_SCH_EMPTY_ALLOWED) == 1;
  n.passthrough = in.i(MLP_K_SCH_PASSTHROUGH) == 1;
  n.path = in.i(MLP_K_SCH_PATH) == 1;
  if (in.has(MLP_K_SCH_DEFAULT)) {
    n.hasDefault = true;
    try {
      auto wrapped =
          Poco::JSON::Parser().parse(in.s(MLP_K_SCH_DEFAULT)).extract<Poco::JSON::Array::Ptr>();
      if (!wrapped || wrapped->size() != 1) throw std::invalid_argument("not [value]");
      n.defaultValue = wrapped->get(0);
    } catch (const std::exception& e) {
      throw std::invalid_argument(std::string("a default that is not JSON: ") + e.what());
    }
  }
  n.allowed = in.strs(MLP_K_SCH_ALLOWED);
  n.min = in.i(MLP_K_SCH_MIN, INT64_MIN);
  n.max = in.i(MLP_K_SCH_MAX, INT64_MAX);
  for (std::uint32_t j = 0; j < in.count(MLP_K_SCH_FIELDS); ++j) {
    In f = in.child(MLP_K_SCH_FIELDS, j);
    n.fields.emplace_back(f.s(MLP_K_SCH_KEY), getSchema(f));
  }
  if (in.count(MLP_K_SCH_ELEMENT))
    n.element = std::make_shared<SchemaNode>(getSchema(in.child(MLP_K_SCH_ELEMENT)));
  return n;
}

// ---- SQL values --------------------------------------------------------------------------

// One value as the ABI carries it; a text value borrows `v`'s string.
inline mlp_value toAbi(const Value& v) {
  mlp_value out{MLP_V_NULL, 0, 0, 0, mlp_str{"", 0}};
  if (auto i = std::get_if<std::int64_t>(&v)) {
    out.type = MLP_V_INT;
    out.i = *i;
  } else if (auto d = std::get_if<double>(&v)) {
    out.type = MLP_V_REAL;
    out.f = *d;
  } else if (auto s = std::get_if<std::string>(&v)) {
    out.type = MLP_V_TEXT;
    out.s = view(*s);
  }
  return out;
}
inline std::vector<mlp_value> toAbi(const Params& params) {
  std::vector<mlp_value> out;
  out.reserve(params.size());
  for (const auto& p : params) out.push_back(toAbi(p));
  return out;
}
// False for a value type this side does not know.
inline bool fromAbi(const mlp_value& v, Value& out) {
  switch (v.type) {
    case MLP_V_NULL:
      out = Null{};
      return true;
    case MLP_V_INT:
      out = v.i;
      return true;
    case MLP_V_REAL:
      out = v.f;
      return true;
    case MLP_V_TEXT:
      out = str(v.s);
      return true;
    default:
      return false;
  }
}

}  // namespace malipo::abi
