#include "selcom_signing.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

namespace malipo::selcom {
namespace {

std::string base64(const unsigned char* data, std::size_t len) {
  // EVP_EncodeBlock writes standard base64 with padding and no line breaks,
  // which is what the Digest and Authorization headers need.
  std::string out(4 * ((len + 2) / 3) + 1, '\0');
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(len));
  out.resize(written < 0 ? 0 : static_cast<std::size_t>(written));
  return out;
}

}  // namespace

std::string buildSignString(const std::string& timestamp,
                            const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out = "timestamp=" + timestamp;
  for (const auto& [name, value] : fields) {
    out += '&';
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

std::string computeDigest(const std::string& apiSecret, const std::string& signString) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int macLen = 0;
  // std::string::data() is never null, so an empty secret or message is still well defined.
  const unsigned char* ok = HMAC(EVP_sha256(), apiSecret.data(), static_cast<int>(apiSecret.size()),
                                 reinterpret_cast<const unsigned char*>(signString.data()),
                                 signString.size(), mac, &macLen);
  if (ok == nullptr) {
    throw std::runtime_error("selcom: HMAC-SHA256 failed");
  }
  return base64(mac, macLen);
}

std::string authorizationHeader(const std::string& apiKey) {
  return "SELCOM " + base64(reinterpret_cast<const unsigned char*>(apiKey.data()), apiKey.size());
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
  // The length is not secret (a digest is always 44 characters); only the content is.
  if (a.size() != b.size()) {
    return false;
  }
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool verifyDigest(const std::string& apiSecret, const std::string& signString,
                  std::string_view presentedDigest) {
  return constantTimeEquals(computeDigest(apiSecret, signString), presentedDigest);
}

}  // namespace malipo::selcom
