#include "links.hpp"

#include <Poco/Base64Encoder.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <sstream>
#include <stdexcept>

namespace malipo::cvpdf {

namespace {

std::string base64Url(const unsigned char* data, std::size_t n) {
  std::ostringstream os;
  Poco::Base64Encoder enc(os, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
  enc.rdbuf()->setLineLength(0);
  enc.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n));
  enc.close();
  return os.str();
}

std::string mac(const std::string& key, const std::string& purpose, const std::string& requestId,
                const std::string& userId, const std::string& expiry) {
  const std::string message =
      "cvpdf-link\n" + purpose + "\n" + requestId + "\n" + userId + "\n" + expiry;
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &len);
  return base64Url(out, len);
}

}  // namespace

std::string signLink(const std::string& key, const std::string& purpose,
                     const std::string& requestId, const std::string& userId,
                     std::int64_t expiresAtSeconds) {
  const std::string expiry = std::to_string(expiresAtSeconds);
  return expiry + "." + mac(key, purpose, requestId, userId, expiry);
}

LinkCheck checkLink(const std::string& key, const std::string& purpose,
                    const std::string& requestId, const std::string& userId,
                    const std::string& token, std::int64_t nowSeconds) {
  std::size_t dot = token.find('.');
  if (dot == 0 || dot == std::string::npos || dot > 12) return LinkCheck::invalid;
  const std::string expiry = token.substr(0, dot);
  for (char c : expiry)
    if (c < '0' || c > '9') return LinkCheck::invalid;
  const std::string presented = token.substr(dot + 1),
                    expected = mac(key, purpose, requestId, userId, expiry);
  if (presented.size() != expected.size() ||
      CRYPTO_memcmp(presented.data(), expected.data(), expected.size()) != 0)
    return LinkCheck::invalid;
  return std::stoll(expiry) < nowSeconds ? LinkCheck::expired : LinkCheck::valid;
}

std::string randomLinkKey() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1)
    throw std::runtime_error("no random bytes for the cvpdf link key");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

}  // namespace malipo::cvpdf
