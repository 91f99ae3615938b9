// Unit tests of Selcom's wire format: signing headers (the documented vectors through the
// request path), the order-status / create / push mappings, webhooks, msisdn, amounts and
// the simulator's SMS text against the real parser.
#include "selcom_wire.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "selcom_signing.hpp"
#include "sim_sms.hpp"
#include "sms_parser.hpp"

namespace malipo::selcom {
namespace {

const std::string kDocSecret = "81dc9bdb52d04dc20036dbd8313ed055";
const std::string kDocTimestamp = "2019-02-26T09:30:46+03:00";

std::string header(const std::vector<std::pair<std::string, std::string>>& hs,
                   const std::string& name) {
  for (const auto& h : hs)
    if (h.first == name) return h.second;
  return "<absent>";
}

HeaderMap toMap(const std::vector<std::pair<std::string, std::string>>& hs) {
  HeaderMap m;
  for (const auto& h : hs) m[h.first] = h.second;
  return m;
}

// ---------------------------------------------------------------- signing on the request path

TEST(SelcomWire, DocumentedVectorsThroughSigningHeaders) {
  // The utility vector has a numeric amount: it must sign as its plain digits.
  Fields utility = {
      {"utilityref", "075XXXXXXX"}, {"vendor", "BANKX"},      {"pin", "3333"},
      {"transid", "T001"},          {"amount", "1234", true}, {"msisdn", "25568XXXXXXX"}};
  auto hs = signingHeaders("key", kDocSecret, kDocTimestamp, utility);
  EXPECT_EQ(header(hs, "Digest"), "9TUpwhlhOB3sfszGU4ec5tzjUnCbXFACwOWiWI4J8Ek=");
  EXPECT_EQ(header(hs, "Signed-Fields"), "utilityref,vendor,pin,transid,amount,msisdn");
  EXPECT_EQ(header(hs, "Timestamp"), kDocTimestamp);
  EXPECT_EQ(header(hs, "Digest-Method"), "HS256");
  EXPECT_EQ(header(hs, "Authorization"), "SELCOM a2V5");  // base64("key")

  auto status = signingHeaders("key", kDocSecret, kDocTimestamp, {{"order_id", "123"}});
  EXPECT_EQ(header(status, "Digest"), "Si3kCa2CN2EJcFlFjyiyhZr2l7cyon3wnkxtWRdeyb4=");
  EXPECT_EQ(queryString({{"order_id", "123"}}), "order_id=123");
}

TEST(SelcomWire, JsonBodyKeepsOrderAndSendsNumbersAsIntegers) {
  EXPECT_EQ(jsonBody({{"vendor", "CVCHAPCHAP"}, {"amount", "1000", true}, {"a", "x\"y"}}),
            "{\"vendor\":\"CVCHAPCHAP\",\"amount\":1000,\"a\":\"x\\\"y\"}");
}

TEST(SelcomWire, QueryStringPercentEncodesValues) {
  EXPECT_EQ(queryString({{"order_id", "a b&c=d/e"}, {"x", "1"}}), "order_id=a%20b%26c%3Dd%2Fe&x=1");
}

TEST(SelcomWire, TimestampHasAnOffset) {
  EXPECT_EQ(isoTimestamp(1551162646000), "2019-02-26T06:30:46+00:00");
}

TEST(SelcomWire, SignedRequestVerifiesAndTamperingIsCaught) {
  Fields f = {
      {"order_id", "o-1"}, {"amount", "1000", true}, {"webhook", base64Encode("http://x/y")}};
  HeaderMap h = toMap(signingHeaders("k", "s3cret", "2024-01-01T00:00:00+03:00", f));
  FieldSource body = FieldSource::fromBody(jsonBody(f));
  auto ok = checkSignature(h, body, "s3cret");
  EXPECT_EQ(ok.state, SignatureCheck::State::valid) << ok.why;
  EXPECT_TRUE(ok.covers("amount"));
  EXPECT_FALSE(ok.covers("vendor"));

  EXPECT_EQ(checkSignature(h, body, "other-secret").state, SignatureCheck::State::invalid);
  FieldSource tampered =
      FieldSource::fromBody(jsonBody({{"order_id", "o-1"}, {"amount", "1", true}}));
  EXPECT_EQ(checkSignature(h, tampered, "s3cret").state, SignatureCheck::State::invalid);

  HeaderMap noDigest = h;
  noDigest.erase("Digest");
  EXPECT_EQ(checkSignature(noDigest, body, "s3cret").state, SignatureCheck::State::invalid);
  HeaderMap otherMethod = h;
  otherMethod["Digest-Method"] = "HS512";
  EXPECT_EQ(checkSignature(otherMethod, body, "s3cret").state, SignatureCheck::State::invalid);
  EXPECT_EQ(checkSignature(HeaderMap{}, body, "s3cret").state, SignatureCheck::State::missing);
}

TEST(SelcomWire, Base64RoundTripsOnOneLine) {
  std::string url = "http://127.0.0.1:8080/webhooks/selcom?" + std::string(200, 'x');
  std::string enc = base64Encode(url);
  EXPECT_EQ(enc.find('\n'), std::string::npos);
  ASSERT_TRUE(base64Decode(enc));
  EXPECT_EQ(*base64Decode(enc), url);
  EXPECT_EQ(base64Encode("http://x"), "aHR0cDovL3g=");
  EXPECT_FALSE(base64Decode("not base64!"));
}

// ---------------------------------------------------------------- order-status mapping

struct StatusRow {
  const char* name;
  int http;
  const char* body;
  // "succeeded", "pending", "failed" or "error"
  const char* expect;
  const char* txn = "";
  std::int64_t amountMinor = -1;
  const char* currency = "";
};
std::ostream& operator<<(std::ostream& os, const StatusRow& r) {
  return os << r.name;
}

const StatusRow kStatusRows[] = {
    {"completed", 200,
     R"({"resultcode":"000","result":"SUCCESS","data":[{"order_id":"o1","payment_status":"COMPLETED","transid":"T1","reference":"R1","amount":"1000"}]})",
     "succeeded", "T1", 100000, "TZS"},
    {"completed_numeric_amount", 200,
     R"({"resultcode":"000","result":"SUCCESS","data":[{"order_id":"o1","payment_status":"COMPLETED","transid":"T1","amount":1000}]})",
     "succeeded", "T1", 100000, "TZS"},
    {"completed_decimal_amount", 200,
     R"({"resultcode":"000","data":[{"payment_status":"completed","transid":"T1","amount":"1000.00"}]})",
     "succeeded", "T1", 100000, "TZS"},
    {"completed_reported_currency", 200,
     R"({"resultcode":"000","data":[{"order_id":"o1","payment_status":"COMPLETED","transid":"T1","amount":"1000","currency":"KES"}]})",
     "succeeded", "T1", 100000, "KES"},
    {"completed_numeric_resultcode", 200,
     R"({"resultcode":0,"data":[{"payment_status":"COMPLETED","transid":"T1","amount":"1000"}]})",
     "succeeded", "T1", 100000, "TZS"},
    {"completed_resulcode_spelling", 200,
     R"({"resulcode":"000","data":[{"payment_status":"COMPLETED","transid":"T1","amount":"1000"}]})",
     "succeeded", "T1", 100000, "TZS"},
    {"completed_without_transid", 200,
     R"({"resultcode":"000","data":[{"order_id":"o1","payment_status":"COMPLETED","transid":null,"amount":"1000"}]})",
     "pending"},
    {"completed_empty_transid", 200,
     R"({"resultcode":"000","data":[{"order_id":"o1","payment_status":"COMPLETED","transid":"","amount":"1000"}]})",
     "pending"},
    {"completed_unreadable_amount", 200,
     R"({"resultcode":"000","data":[{"order_id":"o1","payment_status":"COMPLETED","transid":"T1","amount":"1,000/="}]})",
     "pending"},
    {"pending", 200,
     R"({"resultcode":"000","result":"SUCCESS","data":[{"order_id":"o1","payment_status":"PENDING"}]})",
     "pending"},
    {"unknown_payment_status", 200,
     R"({"resultcode":"000","data":[{"order_id":"o1","payment_status":"PROCESSING","transid":"T1","amount":"1000"}]})",
     "pending"},
    {"pending_envelope_without_data", 200, R"({"resultcode":"000","result":"PENDING","data":[]})",
     "pending"},
    {"cancel", 200,
     R"({"resultcode":"000","data":[{"order_id":"o1","payment_status":"CANCEL","transid":"T1"}]})",
     "failed"},
    {"cancelled", 200,
     R"({"resultcode":"000","data":[{"order_id":"o1","payment_status":"CANCELLED"}]})", "failed"},
    {"in_progress_111", 200, R"({"resultcode":"111","result":"PENDING","data":[]})", "pending"},
    {"in_progress_927", 200, R"({"resultcode":"927","result":"PENDING"})", "pending"},
    {"ambiguous_999", 200, R"({"resultcode":"999","result":"AMBIGOUS"})", "pending"},
    {"other_code_failed", 200,
     R"({"resultcode":"403","result":"FAIL","message":"Transaction failed"})", "failed"},
    {"not_found_failed", 404, R"({"resultcode":"404","result":"FAIL","message":"Order not found"})",
     "failed"},
    {"bad_key", 401, R"({"resultcode":"401","result":"FAIL"})", "error"},
    {"forbidden", 403, R"({"resultcode":"403","result":"FAIL"})", "error"},
    {"rate_limited", 429, R"({"resultcode":"429","result":"FAIL"})", "error"},
    {"server_error", 500,
     R"({"resultcode":"000","data":[{"payment_status":"COMPLETED","transid":"T1","amount":"1000"}]})",
     "error"},
    {"no_resultcode", 200, R"({"result":"SUCCESS","data":[]})", "error"},
    {"another_order", 200,
     R"({"resultcode":"000","data":[{"order_id":"o2","payment_status":"COMPLETED","transid":"T1","amount":"1000"}]})",
     "error"},
    {"not_json", 200, "<html>gateway</html>", "error"},
};

class StatusMapping : public ::testing::TestWithParam<StatusRow> {};

TEST_P(StatusMapping, MapsAsDocumented) {
  const StatusRow& row = GetParam();
  auto env = parseEnvelope(row.http, row.body);
  Result<OrderStatus> st =
      env.ok() ? mapOrderStatus(env.value(), "o1", "TZS") : Result<OrderStatus>(env.error());
  if (std::string(row.expect) == "error") {
    EXPECT_FALSE(st.ok());
    return;
  }
  ASSERT_TRUE(st.ok()) << st.error().internal;
  const ProviderStatus& s = st.value().status;
  const char* state = s.state == ProviderStatus::State::succeeded ? "succeeded"
                      : s.state == ProviderStatus::State::failed  ? "failed"
                                                                  : "pending";
  EXPECT_STREQ(state, row.expect) << s.detail;
  if (s.state == ProviderStatus::State::succeeded) {
    EXPECT_EQ(s.providerTxnId, row.txn);
    EXPECT_EQ(s.amountMinor, row.amountMinor);
    EXPECT_EQ(s.currency, row.currency);
  } else {
    EXPECT_EQ(s.providerTxnId, "") << "only a success carries a transaction for the kernel";
    EXPECT_FALSE(s.reason.empty());
  }
  EXPECT_FALSE(s.detail.empty());
}

INSTANTIATE_TEST_SUITE_P(OrderStatus, StatusMapping, ::testing::ValuesIn(kStatusRows),
                         [](const ::testing::TestParamInfo<StatusRow>& info) {
                           return std::string(info.param.name);
                         });

TEST(SelcomWire, OrderStatusKeepsTransidAndReferenceForProofs) {
  auto env = parseEnvelope(
      200,
      R"({"resultcode":"000","data":[{"order_id":"o1","payment_status":"COMPLETED","transid":"T9","reference":"0281121212","amount":"5000"}]})");
  ASSERT_TRUE(env.ok());
  auto st = mapOrderStatus(env.value(), "o1", "TZS");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st.value().transid, "T9");
  EXPECT_EQ(st.value().reference, "0281121212");
}

Envelope env(int http, const std::string& code) {
  Envelope e;
  e.httpStatus = http;
  e.resultcode = code;
  return e;
}

TEST(SelcomWire, CreateReplyMapping) {
  EXPECT_TRUE(mapCreateReply(env(200, "000")).ok());
  EXPECT_TRUE(mapCreateReply(env(200, "111")).ok());
  EXPECT_EQ(mapCreateReply(env(200, "999")).error().code, ErrorCode::providerTimeout);
  EXPECT_EQ(mapCreateReply(env(502, "")).error().code, ErrorCode::providerTimeout);
  EXPECT_EQ(mapCreateReply(env(401, "")).error().code, ErrorCode::providerError);
  EXPECT_EQ(mapCreateReply(env(200, "403")).error().code, ErrorCode::providerError);
  EXPECT_EQ(mapCreateReply(env(400, "000")).error().code, ErrorCode::providerError);
}

TEST(SelcomWire, PushReplyMapping) {
  EXPECT_EQ(mapPushReply(env(200, "111")), PushOutcome::sent);
  EXPECT_EQ(mapPushReply(env(200, "000")), PushOutcome::sent);
  EXPECT_EQ(mapPushReply(env(200, "927")), PushOutcome::sent);
  EXPECT_EQ(mapPushReply(env(200, "999")), PushOutcome::unknown);
  EXPECT_EQ(mapPushReply(env(503, "")), PushOutcome::unknown);
  EXPECT_EQ(mapPushReply(env(200, "403")), PushOutcome::refused);
  EXPECT_EQ(mapPushReply(env(401, "")), PushOutcome::refused);
}

// ---------------------------------------------------------------- msisdn and amounts

TEST(SelcomWire, MsisdnNormalisation) {
  EXPECT_EQ(normaliseMsisdn("0712345678").value_or("-"), "255712345678");
  EXPECT_EQ(normaliseMsisdn("+255 712 345 678").value_or("-"), "255712345678");
  EXPECT_EQ(normaliseMsisdn("00255-712-345-678").value_or("-"), "255712345678");
  EXPECT_EQ(normaliseMsisdn("712345678").value_or("-"), "255712345678");
  EXPECT_EQ(normaliseMsisdn("255 655 123 456").value_or("-"), "255655123456");
  EXPECT_FALSE(normaliseMsisdn(""));
  EXPECT_FALSE(normaliseMsisdn("0212345678"));    // a landline range
  EXPECT_FALSE(normaliseMsisdn("254712345678"));  // Kenya
  EXPECT_FALSE(normaliseMsisdn("07123"));
  EXPECT_FALSE(normaliseMsisdn("0712345678; DROP"));
  EXPECT_EQ(maskMsisdn("255712345678"), "255******678");
}

TEST(SelcomWire, AmountsCrossTheWireAsWholeMajorUnits) {
  EXPECT_EQ(wireAmount(100000, "TZS").value_or("-"), "1000");
  EXPECT_EQ(wireAmount(17500000, "TZS").value_or("-"), "175000");
  EXPECT_FALSE(wireAmount(100050, "TZS"));  // TZS 1000.50: Selcom takes integers only
  EXPECT_FALSE(wireAmount(0, "TZS"));
  EXPECT_FALSE(wireAmount(-100, "TZS"));
  EXPECT_EQ(amountFromWire("1000", "TZS").value_or(-1), 100000);
  EXPECT_EQ(amountFromWire(" 1000.00 ", "TZS").value_or(-1), 100000);
  EXPECT_FALSE(amountFromWire("1,000", "TZS"));
  EXPECT_FALSE(amountFromWire("", "TZS"));
}

// ---------------------------------------------------------------- webhooks

// 2024-05-01T10:00:00+03:00, when the webhooks below were signed.
const std::int64_t kSignedAt = 1714546800000;

const Fields kWebhook = {{"transid", "T123442"},      {"order_id", "123"},
                         {"reference", "0281121212"}, {"result", "SUCCESS"},
                         {"resultcode", "000"},       {"payment_status", "COMPLETED"}};

TEST(SelcomWire, SignedWebhookBecomesAHint) {
  HeaderMap h = toMap(signingHeaders("k", "s", "2024-05-01T10:00:00+0300", kWebhook));
  auto ev = parseWebhookMessage(h, jsonBody(kWebhook), "s", true, kSignedAt);
  ASSERT_TRUE(ev.ok()) << ev.error().internal;
  EXPECT_EQ(ev.value().paymentId, "123");
  EXPECT_EQ(ev.value().eventId, "T123442:123:COMPLETED");
  EXPECT_NE(ev.value().summary.find("(signed)"), std::string::npos);
  EXPECT_EQ(ev.value().summary.find("0281121212"), std::string::npos) << "no references in logs";
}

TEST(SelcomWire, WebhookAcceptsTheResulcodeSpelling) {
  // Selcom signs "resultcode" but its sample body says "resulcode".
  HeaderMap h = toMap(signingHeaders("k", "s", "2024-05-01T10:00:00+03:00", kWebhook));
  Fields body = kWebhook;
  body[4].name = "resulcode";
  auto ev = parseWebhookMessage(h, jsonBody(body), "s", true, kSignedAt);
  ASSERT_TRUE(ev.ok()) << ev.error().internal;
  EXPECT_NE(ev.value().summary.find("resultcode 000"), std::string::npos);
}

TEST(SelcomWire, WebhookWithABadSignatureIsUnauthorized) {
  HeaderMap h = toMap(signingHeaders("k", "wrong-secret", "2024-05-01T10:00:00+03:00", kWebhook));
  auto ev = parseWebhookMessage(h, jsonBody(kWebhook), "s", false, kSignedAt);
  ASSERT_FALSE(ev.ok());
  EXPECT_EQ(ev.error().code, ErrorCode::unauthorized);

  HeaderMap partial;
  partial["Digest"] = "abc=";
  ev = parseWebhookMessage(partial, jsonBody(kWebhook), "s", false, kSignedAt);
  ASSERT_FALSE(ev.ok());
  EXPECT_EQ(ev.error().code, ErrorCode::unauthorized);
}

TEST(SelcomWire, UnsignedWebhookOnlyWhenAllowed) {
  auto refused = parseWebhookMessage({}, jsonBody(kWebhook), "s", true, kSignedAt);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::unauthorized);
  auto hint = parseWebhookMessage({}, jsonBody(kWebhook), "s", false, kSignedAt);
  ASSERT_TRUE(hint.ok());
  EXPECT_NE(hint.value().summary.find("(unsigned)"), std::string::npos);
}

TEST(SelcomWire, WebhookFieldsWeReadMustBeSigned) {
  // A genuine signature over transid alone must not vouch for another order_id.
  HeaderMap h =
      toMap(signingHeaders("k", "s", "2024-05-01T10:00:00+03:00", {{"transid", "T123442"}}));
  auto ev = parseWebhookMessage(h, jsonBody(kWebhook), "s", false, kSignedAt);
  ASSERT_FALSE(ev.ok());
  EXPECT_EQ(ev.error().code, ErrorCode::unauthorized);
}

TEST(SelcomWire, WebhookAsFormBodyAndMalformedBodies) {
  HeaderMap h = toMap(signingHeaders("k", "s", "2024-05-01T10:00:00+03:00", kWebhook));
  auto ev = parseWebhookMessage(h, queryString(kWebhook), "s", true, kSignedAt);
  ASSERT_TRUE(ev.ok()) << ev.error().internal;
  EXPECT_EQ(ev.value().paymentId, "123");

  auto garbage = parseWebhookMessage({}, "not json", "s", false, kSignedAt);
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().code, ErrorCode::invalidInput);
  auto noOrder = parseWebhookMessage({}, R"({"transid":"T1"})", "s", false, kSignedAt);
  ASSERT_FALSE(noOrder.ok());
  EXPECT_EQ(noOrder.error().code, ErrorCode::invalidInput);
}

TEST(SelcomWire, SignedWebhookTimestampMustBeWithinFiveMinutes) {
  HeaderMap h = toMap(signingHeaders("k", "s", "2024-05-01T10:00:00+03:00", kWebhook));
  const std::string body = jsonBody(kWebhook);
  for (std::int64_t skew : {0LL, 299000LL, -299000LL}) {
    auto ev = parseWebhookMessage(h, body, "s", true, kSignedAt + skew);
    EXPECT_TRUE(ev.ok()) << "skew " << skew << ": " << ev.error().internal;
  }
  for (std::int64_t skew : {301000LL, -301000LL, 5LL * 365 * 86400000}) {
    auto ev = parseWebhookMessage(h, body, "s", true, kSignedAt + skew);
    ASSERT_FALSE(ev.ok()) << "skew " << skew;
    EXPECT_EQ(ev.error().code, ErrorCode::unauthorized);
    EXPECT_NE(ev.error().internal.find("5-minute window"), std::string::npos)
        << ev.error().internal;
  }
  // Selcom's documented vector, signed in 2019: a valid Digest, but far too old today.
  HeaderMap old = toMap(signingHeaders("k", "s", kDocTimestamp, kWebhook));
  EXPECT_FALSE(parseWebhookMessage(old, body, "s", false, kSignedAt).ok());
  // A Timestamp the Digest covers but that is no time at all.
  HeaderMap junk = toMap(signingHeaders("k", "s", "yesterday", kWebhook));
  auto ev = parseWebhookMessage(junk, body, "s", false, kSignedAt);
  ASSERT_FALSE(ev.ok());
  EXPECT_EQ(ev.error().code, ErrorCode::unauthorized);
}

TEST(SelcomWire, TimestampForms) {
  EXPECT_EQ(parseTimestamp("2019-02-26T09:30:46+03:00"), 1551162646000);
  EXPECT_EQ(parseTimestamp("2019-02-26T09:30:46+0300"), 1551162646000);
  EXPECT_EQ(parseTimestamp("2019-02-26T06:30:46Z"), 1551162646000);
  EXPECT_EQ(parseTimestamp(" 2019-02-26T06:30:46.250+00:00 "), 1551162646250);
  EXPECT_EQ(parseTimestamp(isoTimestamp(1714546800000)), 1714546800000);
  EXPECT_FALSE(parseTimestamp(""));
  EXPECT_FALSE(parseTimestamp("26/02/2019"));
}

TEST(SelcomWire, BodyIsReadByWhatItIs) {
  // Selcom's callback sample: JSON, labelled (by the client) as a form or not at all.
  FieldSource json =
      FieldSource::fromBody(R"({"order_id":"123","resultcode":"000","amount":1000})");
  EXPECT_EQ(json.value("order_id"), "123");
  EXPECT_EQ(json.value("amount"), "1000");
  FieldSource form = FieldSource::fromBody("order_id=123&result=SUCCESS&buyer_name=A+B%26C");
  EXPECT_EQ(form.value("order_id"), "123");
  EXPECT_EQ(form.value("buyer_name"), "A B&C");
  EXPECT_TRUE(FieldSource::fromBody("").all().empty());
  EXPECT_FALSE(FieldSource::fromBody("[1,2]").get("order_id"));
}

// ---------------------------------------------------------------- the simulator's SMS

TEST(SelcomWire, SimulatorSmsIsReadByTheParser) {
  // Across the day (AM/PM, one- and two-digit hours) and amounts with thousands separators.
  const std::int64_t base = 1714550400000;  // 2024-05-01T08:00:00Z
  for (std::int64_t amount : {1000LL, 175000LL, 999LL, 1250000LL}) {
    for (int hour = 0; hour < 24; hour += 5) {
      std::string sms = sim::confirmationSms("SAB12CD34E5", amount, "CVCHAPCHAP", "80012345",
                                             base + hour * 3600000LL + 7 * 60000, 23500);
      SmsParseResult r = parseConfirmationSms(sms);
      ASSERT_TRUE(r.ok) << r.reason << ": " << sms;
      EXPECT_EQ(r.transactionId, "SAB12CD34E5") << sms;
      EXPECT_EQ(r.amountMinor, amount * 100) << sms;
      EXPECT_EQ(r.currency, "TZS");
      EXPECT_EQ(r.wallet, "mpesa_tz");
    }
  }
  // A transaction id without a digit is still the one read, not the reference.
  SmsParseResult letters = parseConfirmationSms(
      sim::confirmationSms("ABCDEFGHIJ", 1000, "CVCHAPCHAP", "80012345", base, 0));
  EXPECT_TRUE(letters.ok) << letters.reason;
  EXPECT_EQ(letters.transactionId, "ABCDEFGHIJ");
  EXPECT_EQ(sim::groupThousands(1234567), "1,234,567");
  EXPECT_EQ(sim::groupThousands(999), "999");
}

TEST(SelcomWire, ExpandFillsKnownPlaceholdersOnly) {
  EXPECT_EQ(expand("Dial {ussd_code} for {vendor} {unknown}",
                   {{"ussd_code", "*150*00#"}, {"vendor", "V"}}),
            "Dial *150*00# for V {unknown}");
  EXPECT_EQ(expand("{a", {{"a", "x"}}), "{a");
}

}  // namespace
}  // namespace malipo::selcom
