// Signed links to one CV request for its signed-in owner, usable where no JWT is sent (a
// browser following a link, a form post, a download button).
//
// A token is "<expiry, unix seconds>.<base64url HMAC-SHA256>" over the purpose ("page" or
// "download"), the request id, the owner's user id and the expiry: it opens that request only,
// for that user only, until it expires. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace malipo::cvpdf {

enum class LinkCheck { valid, expired, invalid };

std::string signLink(const std::string& key, const std::string& purpose,
                     const std::string& requestId, const std::string& userId,
                     std::int64_t expiresAtSeconds);

// Constant-time comparison of the signature; `expired` only for a genuine token past its time.
LinkCheck checkLink(const std::string& key, const std::string& purpose,
                    const std::string& requestId, const std::string& userId,
                    const std::string& token, std::int64_t nowSeconds);

// A fresh random key (hex of 32 random bytes) for when none is configured.
std::string randomLinkKey();

}  // namespace malipo::cvpdf
