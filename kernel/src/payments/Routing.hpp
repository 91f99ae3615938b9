// Routing of a new payment to a provider, and the per-provider circuit breaker.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "malipo/clock.hpp"
#include "malipo/log.hpp"
#include "malipo/payments.hpp"
#include "malipo/provider.hpp"

namespace malipo {

// Per provider, per process, in memory: `threshold` consecutive failures open the breaker for
// `openMs`; any success resets the count.
class CircuitBreakers {
 public:
  CircuitBreakers(const Clock& clock, Logger& log, int threshold, std::int64_t openMs)
      : clock_(clock), log_(log), threshold_(threshold), openMs_(openMs) {}
  bool open(const std::string& provider);
  void result(const std::string& provider, bool ok);

  // Read-only, for the operator console: each breaker that has seen a call, as it stands.
  struct State {
    std::string provider;
    int failures = 0;              // consecutive, since the last success or opening
    int threshold = 0;             // failures that open it
    std::int64_t openUntilMs = 0;  // open while the clock is before this
  };
  std::vector<State> snapshot();

 private:
  struct Breaker {
    int failures = 0;
    std::int64_t openUntil = 0;
  };
  const Clock& clock_;
  Logger& log_;
  int threshold_;
  std::int64_t openMs_;
  std::mutex mutex_;
  std::map<std::string, Breaker> breakers_;
};

// The providers that may start `req`, in preference order: `req.providers` (all loaded ones,
// alphabetically, when empty), keeping those that are loaded, take the currency and channel,
// have what they need of the customer (Capabilities::needs), and whose breaker is closed.
// `unmet` (when given) receives the customer fields the skipped providers needed, in the order
// of preference, each once.
std::vector<std::shared_ptr<PaymentProvider>> routeCandidates(
    const std::map<std::string, std::shared_ptr<PaymentProvider>>& providers,
    const CreatePayment& req, CircuitBreakers& breakers, Logger& log,
    std::vector<std::string>* unmet = nullptr);

// The fields `customer` lacks of `needs`.
std::vector<std::string> missingFields(const std::vector<std::string>& needs,
                                       const Customer& customer);
// "msisdn, email"; and the sentence a customer reads ("A phone number is needed …").
std::string joinFields(const std::vector<std::string>& fields);
std::string missingFieldsMessage(const std::vector<std::string>& fields);

}  // namespace malipo
