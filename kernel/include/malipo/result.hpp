// Errors as values across the plugin boundary.
//
// Every SPI call that can fail returns Result<T>. An Error carries a code (mapped to an HTTP
// status in one place, httpStatus() below), an internal message for logs and an external
// message that is safe to show a client. Provider payloads belong in `internal` only.
// Thread-safety: plain values; copy freely.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace malipo {

enum class ErrorCode {
  invalidInput,     // 400: the caller sent something we cannot accept
  unauthorized,     // 401: missing or bad credentials / signature
  paymentRequired,  // 402: not enough balance or not paid
  forbidden,        // 403
  notFound,         // 404
  conflict,         // 409: state does not allow this now
  payloadTooLarge,  // 413
  unprocessable,    // 422: well-formed but semantically refused (idempotency key reuse)
  rateLimited,      // 429
  providerError,    // 502: the provider refused or answered garbage
  unavailable,      // 503: a dependency is down (circuit open, database)
  providerTimeout,  // 504: the provider did not answer in time; outcome unknown
  internal,         // 500
};

inline int httpStatus(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalidInput:
      return 400;
    case ErrorCode::unauthorized:
      return 401;
    case ErrorCode::paymentRequired:
      return 402;
    case ErrorCode::forbidden:
      return 403;
    case ErrorCode::notFound:
      return 404;
    case ErrorCode::conflict:
      return 409;
    case ErrorCode::payloadTooLarge:
      return 413;
    case ErrorCode::unprocessable:
      return 422;
    case ErrorCode::rateLimited:
      return 429;
    case ErrorCode::providerError:
      return 502;
    case ErrorCode::unavailable:
      return 503;
    case ErrorCode::providerTimeout:
      return 504;
    case ErrorCode::internal:
      return 500;
  }
  return 500;
}

inline const char* errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalidInput:
      return "invalid_input";
    case ErrorCode::unauthorized:
      return "unauthorized";
    case ErrorCode::paymentRequired:
      return "payment_required";
    case ErrorCode::forbidden:
      return "forbidden";
    case ErrorCode::notFound:
      return "not_found";
    case ErrorCode::conflict:
      return "conflict";
    case ErrorCode::payloadTooLarge:
      return "payload_too_large";
    case ErrorCode::unprocessable:
      return "unprocessable";
    case ErrorCode::rateLimited:
      return "rate_limited";
    case ErrorCode::providerError:
      return "provider_error";
    case ErrorCode::unavailable:
      return "unavailable";
    case ErrorCode::providerTimeout:
      return "provider_timeout";
    case ErrorCode::internal:
      return "internal";
  }
  return "internal";
}

struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string internal;       // for logs: may name hosts, provider bodies (never secrets)
  std::string external;       // for clients: short, actionable, no internals
  int retryAfterSeconds = 0;  // > 0: the answer carries Retry-After (429 / 503)
  // SDK 1.1, for a provider's answer: its own result code and text (structured, for the
  // event log and operators; never shown to clients), and whether asking again may succeed
  // ("still processing", a rate limit). A retryable provider error never counts against the
  // provider's health (the circuit breaker).
  std::string providerCode, providerText;
  bool retryable = false;

  static Error make(ErrorCode c, std::string internalMsg, std::string externalMsg = {}) {
    Error e;
    e.code = c;
    e.external = externalMsg.empty() ? internalMsg : std::move(externalMsg);
    e.internal = std::move(internalMsg);
    return e;
  }
  Error& retryAfter(int seconds) {
    retryAfterSeconds = seconds;
    return *this;
  }
};

template <class T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : error_(std::move(error)) {}  // NOLINT

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return *value_; }
  T& value() & { return *value_; }
  T&& value() && { return std::move(*value_); }
  const T* operator->() const { return &*value_; }
  const Error& error() const { return error_; }

 private:
  std::optional<T> value_;
  Error error_;
};

// Result<void>.
struct Unit {};
using Status = Result<Unit>;
inline Status okStatus() {
  return Status(Unit{});
}

}  // namespace malipo
