// Webhook authentication the kernel offers providers (SDK 1.1, Capabilities::webhook*), decided
// before a provider's parseWebhook sees a delivery:
//   - a per-payment signed callback URL: Payment::callbackUrl carries ?p=<payment id>&t=<token>,
//     token = the first 128 bits of HMAC-SHA256(key, provider, payment id), in hex; a delivery
//     without a valid one is 401 and its events may only be about that payment;
//   - an IP allow-list: CIDRs checked against the verified client address (Request::clientIp,
//     which honours server.trusted_proxies only); others get 403;
//   - a webhook path of the provider's choosing instead of /webhooks/<name>.
// The token is in the query string, which no log line carries (the access log writes the path).
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "http/ClientAddress.hpp"
#include "malipo/provider.hpp"

namespace malipo {

class WebhookAuth {
 public:
  struct Model {
    bool token = false;
    std::vector<std::string> cidrs;
    TrustedProxies allowed;  // empty: any address
    std::string path;        // the inbox's path: the declared one or /webhooks/<name>
    bool ownPath = false;    // declared by the provider
  };

  // `key` is the HMAC key of callback tokens; empty: a random one for this process.
  explicit WebhookAuth(std::string key);

  // Checks and records what a provider declares; throws std::invalid_argument naming the
  // provider and the bad value (a path or a CIDR).
  void declare(const std::string& provider, const Capabilities& caps);
  // The provider's model (declared at start; an undeclared provider: /webhooks/<name>, no
  // token, any address).
  Model model(const std::string& provider) const;
  // The kernel's public URL, read per call (final only once the server bound its port).
  void setPublicUrl(std::function<std::string()> publicUrl) { publicUrl_ = std::move(publicUrl); }

  std::string token(const std::string& provider, const std::string& paymentId) const;
  bool tokenValid(const std::string& provider, const std::string& paymentId,
                  const std::string& token) const;
  // Where this payment's webhooks are to be sent ("" before the public URL is known).
  std::string callbackUrl(const std::string& provider, const std::string& paymentId) const;

  // A key for callback tokens derived from another secret (HMAC of a fixed label), so one
  // configured secret serves both without either revealing the other.
  static std::string deriveKey(const std::string& secret);
  // A declared path is valid: "/" then letters, digits, "-._~/", no "//", not a kernel prefix.
  static bool validPath(const std::string& path);

 private:
  std::string key_;
  std::function<std::string()> publicUrl_;
  mutable std::mutex mutex_;
  std::map<std::string, Model> models_;
};

}  // namespace malipo
