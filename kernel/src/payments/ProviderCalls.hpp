// Provider calls made safe: a throwing plugin becomes an Error; a call through the
// provider's bulkhead with latency and error metrics.
#pragma once

#include <chrono>
#include <string>

#include "malipo/metrics.hpp"
#include "malipo/result.hpp"
#include "payments/Bulkheads.hpp"

namespace malipo {

template <class F>
auto guarded(F&& f, const std::string& what) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return Error::make(ErrorCode::providerError, what + " threw: " + e.what(),
                       "The payment provider failed.");
  } catch (...) {
    return Error::make(ErrorCode::providerError, what + " threw", "The payment provider failed.");
  }
}

// A provider call through the provider's bulkhead: past its limit the call is not made and
// the caller gets 503 with Retry-After at once (isBulkheadFull).
template <class F>
auto guarded(Bulkheads& bulkheads, Metrics& metrics, const std::string& provider, F&& f,
             const std::string& what) -> decltype(f()) {
  Bulkheads::Slot slot(bulkheads, provider);
  if (!slot.ok()) {
    metrics.increment("malipo_provider_bulkhead_refused_total", {{"provider", provider}});
    return Error::make(ErrorCode::unavailable,
                       what + ": " + std::to_string(bulkheads.limit(provider)) +
                           " calls already in flight (bulkhead full)",
                       "The payment provider is busy. Please retry in a moment.")
        .retryAfter(1);
  }
  // Latency by provider and operation (`what` is "provider.operation"), and errors by code.
  const std::string operation = what.substr(provider.size() + 1);
  auto started = std::chrono::steady_clock::now();
  auto result = guarded(std::forward<F>(f), what);
  metrics.observe(
      "malipo_provider_call_duration_seconds", {{"provider", provider}, {"operation", operation}},
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  if (!result.ok())
    metrics.increment("malipo_provider_call_errors_total",
                      {{"provider", provider},
                       {"operation", operation},
                       {"code", errorCodeName(result.error().code)}});
  return result;
}

inline bool isBulkheadFull(const Error& e) {
  return e.code == ErrorCode::unavailable && e.retryAfterSeconds > 0;
}

}  // namespace malipo
