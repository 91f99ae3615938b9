#include "selcom_signing.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace malipo::selcom {
namespace {

// Worked vectors from the Selcom API documentation (see providers/selcom.md).
const std::string kSecret = "81dc9bdb52d04dc20036dbd8313ed055";
const std::string kTimestamp = "2019-02-26T09:30:46+03:00";

std::vector<std::pair<std::string, std::string>> utilityFields() {
  return {{"utilityref", "075XXXXXXX"}, {"vendor", "BANKX"}, {"pin", "3333"},
          {"transid", "T001"},          {"amount", "1234"},  {"msisdn", "25568XXXXXXX"}};
}

TEST(SelcomSigning, SignStringFollowsFieldOrder) {
  EXPECT_EQ(buildSignString(kTimestamp, utilityFields()),
            "timestamp=2019-02-26T09:30:46+03:00&utilityref=075XXXXXXX&vendor=BANKX&pin=3333"
            "&transid=T001&amount=1234&msisdn=25568XXXXXXX");
}

TEST(SelcomSigning, SignStringWithoutFieldsIsJustTheTimestamp) {
  EXPECT_EQ(buildSignString(kTimestamp, {}), "timestamp=2019-02-26T09:30:46+03:00");
}

TEST(SelcomSigning, SignStringKeepsValuesRawAndUnsorted) {
  // No URL encoding and no sorting: the receiver rebuilds the string from Signed-Fields.
  EXPECT_EQ(buildSignString("T", {{"z", "a b&c=d"}, {"a", "https://x.test/?q=1"}}),
            "timestamp=T&z=a b&c=d&a=https://x.test/?q=1");
}

TEST(SelcomSigning, DocumentedVectorUtilityPayment) {
  EXPECT_EQ(computeDigest(kSecret, buildSignString(kTimestamp, utilityFields())),
            "9TUpwhlhOB3sfszGU4ec5tzjUnCbXFACwOWiWI4J8Ek=");
}

TEST(SelcomSigning, DocumentedVectorOrderStatus) {
  EXPECT_EQ(computeDigest(kSecret, buildSignString(kTimestamp, {{"order_id", "123"}})),
            "Si3kCa2CN2EJcFlFjyiyhZr2l7cyon3wnkxtWRdeyb4=");
}

TEST(SelcomSigning, FieldOrderChangesTheDigest) {
  auto fields = utilityFields();
  std::swap(fields[0], fields[1]);
  EXPECT_NE(computeDigest(kSecret, buildSignString(kTimestamp, fields)),
            "9TUpwhlhOB3sfszGU4ec5tzjUnCbXFACwOWiWI4J8Ek=");
}

TEST(SelcomSigning, EmptySecretAndMessageMatchKnownHmac) {
  // HMAC-SHA256("", "") = b613679a...c5ad
  EXPECT_EQ(computeDigest("", ""), "thNnmggU2ex3L5XXeMNfxf8Wl8STcVZTxscSFEKSxa0=");
}

TEST(SelcomSigning, DigestIsSingleLineBase64WithPadding) {
  const std::string digest = computeDigest(kSecret, std::string(5000, 'x'));
  EXPECT_EQ(digest.size(), 44u);  // 32 bytes -> 44 characters, one '=' of padding
  EXPECT_EQ(digest.back(), '=');
  EXPECT_EQ(digest.find('\n'), std::string::npos);
}

TEST(SelcomSigning, AuthorizationHeaderBase64OfKey) {
  // RFC 4648 test vectors, covering every padding case.
  EXPECT_EQ(authorizationHeader(""), "SELCOM ");
  EXPECT_EQ(authorizationHeader("f"), "SELCOM Zg==");
  EXPECT_EQ(authorizationHeader("fo"), "SELCOM Zm8=");
  EXPECT_EQ(authorizationHeader("foo"), "SELCOM Zm9v");
  EXPECT_EQ(authorizationHeader("foobar"), "SELCOM Zm9vYmFy");
  EXPECT_EQ(authorizationHeader("202cb962ac59075b964b07152d234b70"),
            "SELCOM MjAyY2I5NjJhYzU5MDc1Yjk2NGIwNzE1MmQyMzRiNzA=");
}

TEST(SelcomSigning, AuthorizationHeaderHasNoLineBreaksForLongKeys) {
  const std::string header = authorizationHeader(std::string(200, 'k'));
  EXPECT_EQ(header.find('\n'), std::string::npos);
  EXPECT_EQ(header.size(), 7u + 268u);  // "SELCOM " + 4 * ceil(200 / 3)
}

TEST(SelcomSigning, ConstantTimeEquals) {
  EXPECT_TRUE(constantTimeEquals("", ""));
  EXPECT_TRUE(constantTimeEquals("abc", "abc"));
  EXPECT_FALSE(constantTimeEquals("abc", "abd"));
  EXPECT_FALSE(constantTimeEquals("abc", "ab"));
  EXPECT_FALSE(constantTimeEquals("", "a"));
  EXPECT_FALSE(constantTimeEquals("9TUpwhlhOB3sfszGU4ec5tzjUnCbXFACwOWiWI4J8Ek=",
                                  "9TUpwhlhOB3sfszGU4ec5tzjUnCbXFACwOWiWI4J8Ek-"));
}

TEST(SelcomSigning, VerifyDigestAcceptsGoodAndRejectsTampered) {
  const std::string signString = buildSignString(kTimestamp, utilityFields());
  EXPECT_TRUE(verifyDigest(kSecret, signString, "9TUpwhlhOB3sfszGU4ec5tzjUnCbXFACwOWiWI4J8Ek="));

  auto tampered = utilityFields();
  tampered[4].second = "1235";
  EXPECT_FALSE(verifyDigest(kSecret, buildSignString(kTimestamp, tampered),
                            "9TUpwhlhOB3sfszGU4ec5tzjUnCbXFACwOWiWI4J8Ek="));
  EXPECT_FALSE(
      verifyDigest("wrong-secret", signString, "9TUpwhlhOB3sfszGU4ec5tzjUnCbXFACwOWiWI4J8Ek="));
  EXPECT_FALSE(verifyDigest(kSecret, signString, ""));
}

}  // namespace
}  // namespace malipo::selcom
