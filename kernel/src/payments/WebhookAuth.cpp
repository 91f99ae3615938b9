#include "payments/WebhookAuth.hpp"

#include <Poco/URI.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cctype>
#include <stdexcept>

namespace malipo {

WebhookAuth::WebhookAuth(std::string key) : key_(std::move(key)) {
  if (key_.empty()) {
    unsigned char buf[32];
    if (RAND_bytes(buf, sizeof buf) != 1)
      throw std::runtime_error("no random bytes for webhook tokens");
    key_.assign(reinterpret_cast<const char*>(buf), sizeof buf);
  }
}

std::string WebhookAuth::deriveKey(const std::string& secret) {
  static const std::string label = "malipo webhook callback tokens/1";
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(label.data()), label.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

bool WebhookAuth::validPath(const std::string& path) {
  if (path.size() < 2 || path.size() > 200 || path[0] != '/' || path.back() == '/') return false;
  for (char c : path)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_' &&
        c != '~' && c != '/')
      return false;
  if (path.find("//") != std::string::npos || path.find("/.") != std::string::npos) return false;
  for (const char* kernel : {"/admin", "/sandbox", "/webhooks", "/api", "/metrics", "/healthz",
                             "/readyz", "/console", "/brand", "/openapi"}) {
    std::string k = kernel;
    if (path == k || path.rfind(k + "/", 0) == 0) return false;
  }
  return true;
}

void WebhookAuth::declare(const std::string& provider, const Capabilities& caps) {
  Model m;
  m.token = caps.webhookToken;
  m.cidrs = caps.webhookAllowedIps;
  m.allowed =
      TrustedProxies(caps.webhookAllowedIps, "provider " + provider + ": webhook allow-list");
  if (!caps.webhookPath.empty()) {
    if (!validPath(caps.webhookPath))
      throw std::invalid_argument("provider " + provider + ": webhook path '" + caps.webhookPath +
                                  "' is not a path of letters, digits and -._~/ outside the "
                                  "kernel's own (/admin, /sandbox, /webhooks, /api …)");
    m.path = caps.webhookPath;
    m.ownPath = true;
  } else {
    m.path = "/webhooks/" + provider;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [name, other] : models_)
    if (name != provider && other.path == m.path)
      throw std::invalid_argument("providers " + name + " and " + provider +
                                  " declare the same webhook path " + m.path);
  models_[provider] = std::move(m);
}

WebhookAuth::Model WebhookAuth::model(const std::string& provider) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = models_.find(provider);
  if (it != models_.end()) return it->second;
  Model m;
  m.path = "/webhooks/" + provider;
  return m;
}

std::string WebhookAuth::token(const std::string& provider, const std::string& paymentId) const {
  // Length-prefixed fields: ("ab", "c") and ("a", "bc") sign differently.
  std::string msg = "malipo-webhook-token/1 " + std::to_string(provider.size()) + ":" + provider +
                    " " + std::to_string(paymentId.size()) + ":" + paymentId;
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out, &len);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < 16; ++i) {  // 128 bits
    s += hex[out[i] >> 4];
    s += hex[out[i] & 15];
  }
  return s;
}

bool WebhookAuth::tokenValid(const std::string& provider, const std::string& paymentId,
                             const std::string& given) const {
  if (paymentId.empty() || given.empty()) return false;
  std::string want = token(provider, paymentId);
  return given.size() == want.size() && CRYPTO_memcmp(given.data(), want.data(), want.size()) == 0;
}

std::string WebhookAuth::callbackUrl(const std::string& provider,
                                     const std::string& paymentId) const {
  std::string base = publicUrl_ ? publicUrl_() : std::string();
  if (base.empty()) return {};
  Model m = model(provider);
  std::string url = base + m.path;
  if (m.token && !paymentId.empty()) {
    std::string id;
    Poco::URI::encode(paymentId, "!#$&'()*+,/:;=?@[]", id);
    url += "?p=" + id + "&t=" + token(provider, paymentId);
  }
  return url;
}

}  // namespace malipo
