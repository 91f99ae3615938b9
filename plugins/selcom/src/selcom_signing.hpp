// Selcom API gateway request signing (Digest-Method HS256).
//
// Every request carries:
//   Authorization: SELCOM <base64(api_key)>
//   Timestamp:     ISO 8601 with offset, e.g. 2019-02-26T09:30:46+03:00
//   Signed-Fields: comma-separated field names, in signing order
//   Digest:        base64(HMAC-SHA256(key = api_secret, message = sign string))
// The sign string is "timestamp=<Timestamp>" followed by "&<field>=<value>" for each
// signed field in Signed-Fields order; values are raw (no URL encoding, no sorting).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace malipo::selcom {

// Builds "timestamp=<ts>&f1=v1&f2=v2..." exactly in the order given.
std::string buildSignString(const std::string& timestamp,
                            const std::vector<std::pair<std::string, std::string>>& fields);

// base64 (standard alphabet, with padding, no line breaks) of HMAC-SHA256(apiSecret, signString).
std::string computeDigest(const std::string& apiSecret, const std::string& signString);

// "SELCOM " + base64(apiKey).
std::string authorizationHeader(const std::string& apiKey);

// Compares without an early exit on the first differing byte, so that checking a
// presented Digest does not leak how much of it was right. Different lengths -> false.
bool constantTimeEquals(std::string_view a, std::string_view b);

// Recomputes the digest of signString and compares it with `presentedDigest` in constant time
// (for callbacks that carry a Digest header).
bool verifyDigest(const std::string& apiSecret, const std::string& signString,
                  std::string_view presentedDigest);

}  // namespace malipo::selcom
