#include "payments/Routing.hpp"

#include <algorithm>

namespace malipo {

bool CircuitBreakers::open(const std::string& provider) {
  std::lock_guard<std::mutex> lock(mutex_);
  return breakers_[provider].openUntil > clock_.nowMs();
}

void CircuitBreakers::result(const std::string& provider, bool ok) {
  bool opened = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Breaker& b = breakers_[provider];
    if (ok) {
      b.failures = 0;
      return;
    }
    if (++b.failures >= threshold_) {
      b.openUntil = clock_.nowMs() + openMs_;
      b.failures = 0;
      opened = true;
    }
  }
  if (opened)
    log_.warning("payments", "provider " + provider + " failed repeatedly: skipped for " +
                                 std::to_string(openMs_ / 1000) + " s");
}

std::vector<CircuitBreakers::State> CircuitBreakers::snapshot() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<State> out;
  for (const auto& [name, b] : breakers_)
    out.push_back({name, b.failures, threshold_, b.openUntil});
  return out;
}

std::vector<std::shared_ptr<PaymentProvider>> routeCandidates(
    const std::map<std::string, std::shared_ptr<PaymentProvider>>& providers,
    const CreatePayment& req, CircuitBreakers& breakers, Logger& log,
    std::vector<std::string>* unmet) {
  std::vector<std::string> names = req.providers;
  if (names.empty())
    for (const auto& kv : providers) names.push_back(kv.first);
  std::vector<std::shared_ptr<PaymentProvider>> candidates;
  for (const auto& n : names) {
    auto it = providers.find(n);
    if (it == providers.end()) continue;
    Capabilities caps = it->second->capabilities();
    bool currencyOk = std::find(caps.currencies.begin(), caps.currencies.end(), req.currency) !=
                      caps.currencies.end();
    bool channelOk = req.channel.empty() || std::find(caps.channels.begin(), caps.channels.end(),
                                                      req.channel) != caps.channels.end();
    if (!currencyOk || !channelOk) continue;
    auto missing = missingFields(caps.needs, req.customer);
    if (!missing.empty()) {
      if (unmet)
        for (const auto& f : missing)
          if (std::find(unmet->begin(), unmet->end(), f) == unmet->end()) unmet->push_back(f);
      continue;
    }
    if (breakers.open(n)) {
      log.info("payments", "skipping provider " + n + ": circuit open");
      continue;
    }
    candidates.push_back(it->second);
  }
  return candidates;
}

std::vector<std::string> missingFields(const std::vector<std::string>& needs,
                                       const Customer& customer) {
  std::vector<std::string> out;
  for (const auto& f : needs)
    if (!customerHas(customer, f)) out.push_back(f);
  return out;
}

std::string joinFields(const std::vector<std::string>& fields) {
  std::string s;
  for (const auto& f : fields) s += (s.empty() ? "" : ", ") + f;
  return s;
}

std::string missingFieldsMessage(const std::vector<std::string>& fields) {
  std::string s;
  for (const auto& f : fields) {
    std::string what = f == "msisdn"    ? "a phone number"
                       : f == "email"   ? "an email address"
                       : f == "country" ? "a country"
                                        : f;
    s += (s.empty() ? "" : " and ") + what;
  }
  s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s + " is needed for this payment (missing: " + joinFields(fields) + ").";
}

}  // namespace malipo
