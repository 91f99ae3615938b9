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

std::vector<std::shared_ptr<PaymentProvider>> routeCandidates(
    const std::map<std::string, std::shared_ptr<PaymentProvider>>& providers,
    const CreatePayment& req, CircuitBreakers& breakers, Logger& log) {
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
    if (breakers.open(n)) {
      log.info("payments", "skipping provider " + n + ": circuit open");
      continue;
    }
    candidates.push_back(it->second);
  }
  return candidates;
}

}  // namespace malipo
