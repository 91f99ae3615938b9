// Unit tests of the Flutterwave wire format: webhook authentication (the documented HMAC
// vector), both payload shapes, the verify-reply rules that decide settlement, and money at
// the edge. No server involved.
#include "flutterwave_wire.hpp"

#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

using namespace malipo;
using namespace malipo::flutterwave;

namespace {

// The vector from the provider notes (../shared/providers/flutterwave.md).
const std::string kVectorBody =
    R"({"event":"charge.completed","data":{"id":285959875,"tx_ref":"Links-616626414629","status":"successful"}})";
const std::string kVectorSecret = "my-secret-hash";
const std::string kVectorSignature = "fhqN7r80OOxsXsD3XYFtSfjQXAKJ5JMKAKEcNIba1Z4=";

Request webhook(const std::string& body, const std::map<std::string, std::string>& headers) {
  Request r;
  r.method = "POST";
  r.path = "/webhooks/flutterwave";
  r.body = body;
  for (const auto& kv : headers) r.headers[kv.first] = kv.second;
  return r;
}

std::string verifyReply(const std::string& data) {
  return R"({"status":"success","message":"Transaction fetched successfully","data":)" + data + "}";
}

Poco::JSON::Object::Ptr parse(const std::string& s) {
  return Poco::JSON::Parser().parse(s).extract<Poco::JSON::Object::Ptr>();
}

}  // namespace

// --- Signatures --------------------------------------------------------------------------

TEST(FlutterwaveSignature, DocumentedVector) {
  EXPECT_EQ(hmacSha256Base64(kVectorSecret, kVectorBody), kVectorSignature);
}

TEST(FlutterwaveSignature, OneByteChangesTheSignature) {
  std::string body = kVectorBody;
  body[body.find("285959875")] = '3';
  EXPECT_NE(hmacSha256Base64(kVectorSecret, body), kVectorSignature);
  EXPECT_NE(hmacSha256Base64("my-secret-hasH", kVectorBody), kVectorSignature);
}

TEST(FlutterwaveSignature, ConstantTimeEquals) {
  EXPECT_TRUE(constantTimeEquals("abc", "abc"));
  EXPECT_TRUE(constantTimeEquals("", ""));
  EXPECT_FALSE(constantTimeEquals("abc", "abd"));
  EXPECT_FALSE(constantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(constantTimeEquals("abc", ""));
}

TEST(FlutterwaveWebhookAuth, SignatureHeaderWithTheVector) {
  auto ok = verifyWebhookAuth(webhook(kVectorBody, {{"flutterwave-signature", kVectorSignature}}),
                              kVectorSecret);
  EXPECT_TRUE(ok.ok()) << ok.error().internal;
  // Header names are case-insensitive on the wire.
  EXPECT_TRUE(verifyWebhookAuth(webhook(kVectorBody, {{"Flutterwave-Signature", kVectorSignature}}),
                                kVectorSecret)
                  .ok());
}

TEST(FlutterwaveWebhookAuth, SignatureOverAnotherBodyIsRefused) {
  std::string tampered = kVectorBody;
  tampered.replace(tampered.find("successful"), 10, "successfuL");
  auto r = verifyWebhookAuth(webhook(tampered, {{"flutterwave-signature", kVectorSignature}}),
                             kVectorSecret);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::unauthorized);
}

TEST(FlutterwaveWebhookAuth, VerifHash) {
  EXPECT_TRUE(verifyWebhookAuth(webhook("{}", {{"verif-hash", "s3cret"}}), "s3cret").ok());
  auto bad = verifyWebhookAuth(webhook("{}", {{"verif-hash", "s3cre"}}), "s3cret");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::unauthorized);
  EXPECT_FALSE(verifyWebhookAuth(webhook("{}", {{"verif-hash", "S3CRET"}}), "s3cret").ok());
}

TEST(FlutterwaveWebhookAuth, MissingHeadersAndEmptySecretAreRefused) {
  auto none = verifyWebhookAuth(webhook(kVectorBody, {}), kVectorSecret);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::unauthorized);
  // An unconfigured secret must not turn "empty header equals empty secret" into a pass.
  EXPECT_FALSE(verifyWebhookAuth(webhook(kVectorBody, {{"verif-hash", ""}}), "").ok());
  EXPECT_FALSE(
      verifyWebhookAuth(
          webhook(kVectorBody, {{"flutterwave-signature", hmacSha256Base64("", kVectorBody)}}), "")
          .ok());
}

TEST(FlutterwaveWebhookAuth, SignatureHeaderMayCarryThePlainSecretHash) {
  // The other documented form of flutterwave-signature: the secret hash itself.
  EXPECT_TRUE(verifyWebhookAuth(webhook(kVectorBody, {{"flutterwave-signature", kVectorSecret}}),
                                kVectorSecret)
                  .ok());
  for (const char* wrong : {"my-secret-has", "my-secret-hash ", "MY-SECRET-HASH", "x"}) {
    auto r =
        verifyWebhookAuth(webhook(kVectorBody, {{"flutterwave-signature", wrong}}), kVectorSecret);
    ASSERT_FALSE(r.ok()) << wrong;
    EXPECT_EQ(r.error().code, ErrorCode::unauthorized);
  }
  // The HMAC of the body is not accepted as a verif-hash, nor the secret as a body signature
  // of some other secret.
  EXPECT_FALSE(
      verifyWebhookAuth(webhook(kVectorBody, {{"verif-hash", kVectorSignature}}), kVectorSecret)
          .ok());
}

// --- Payload shapes ----------------------------------------------------------------------

TEST(FlutterwaveWebhook, EnvelopeShape) {
  auto r = parseWebhook(webhook(kVectorBody, {{"flutterwave-signature", kVectorSignature}}),
                        kVectorSecret);
  ASSERT_TRUE(r.ok()) << r.error().internal;
  ASSERT_EQ(r.value().size(), 1u);
  const WebhookEvent& ev = r.value()[0];
  EXPECT_EQ(ev.eventId, "285959875:successful");
  EXPECT_EQ(ev.paymentId, "Links-616626414629");
  EXPECT_NE(ev.summary.find("charge.completed"), std::string::npos);
  EXPECT_NE(ev.summary.find("envelope"), std::string::npos);
}

TEST(FlutterwaveWebhook, LegacyFlatShape) {
  std::string body =
      R"({"id":285959875,"txRef":"Links-616626414629","flwRef":"FLW-MOCK-1","orderRef":"URF_1","amount":5000,)"
      R"("charged_amount":5000,"status":"successful","currency":"NGN","event.type":"CARD_TRANSACTION",)"
      R"("customer":{"email":"a@example.com"}})";
  auto r = parseWebhook(webhook(body, {{"verif-hash", "h"}}), "h");
  ASSERT_TRUE(r.ok()) << r.error().internal;
  ASSERT_EQ(r.value().size(), 1u);
  EXPECT_EQ(r.value()[0].paymentId, "Links-616626414629");
  EXPECT_NE(r.value()[0].summary.find("CARD_TRANSACTION"), std::string::npos);
  EXPECT_NE(r.value()[0].summary.find("legacy"), std::string::npos);
  // The same transaction and status in either shape is one event (deduplicated).
  auto envelope = parseWebhook(webhook(kVectorBody, {{"verif-hash", "h"}}), "h");
  ASSERT_TRUE(envelope.ok());
  EXPECT_EQ(r.value()[0].eventId, envelope.value()[0].eventId);
}

TEST(FlutterwaveWebhook, IdAsStringAndStatusCaseAreNormalised) {
  auto p = parseWebhookBody(
      R"({"event":"charge.completed","data":{"id":"42","tx_ref":"ref-1","status":"FAILED"}})");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.value().transactionId, "42");
  EXPECT_EQ(p.value().status, "failed");
  EXPECT_EQ(toWebhookEvent(p.value()).eventId, "42:failed");
}

TEST(FlutterwaveWebhook, StatusIsPartOfTheEventId) {
  // A pending then a successful delivery for one transaction must both reach the kernel.
  auto a = parseWebhookBody(
      R"({"event":"charge.completed","data":{"id":7,"tx_ref":"r","status":"pending"}})");
  auto b = parseWebhookBody(
      R"({"event":"charge.completed","data":{"id":7,"tx_ref":"r","status":"successful"}})");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(toWebhookEvent(a.value()).eventId, toWebhookEvent(b.value()).eventId);
}

TEST(FlutterwaveWebhook, BadHashYieldsNoEvents) {
  auto r = parseWebhook(webhook(kVectorBody, {{"verif-hash", "wrong"}}), kVectorSecret);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::unauthorized);
}

TEST(FlutterwaveWebhook, GarbageAndIrrelevantBodies) {
  auto garbage = parseWebhook(webhook("not json", {{"verif-hash", "h"}}), "h");
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().code, ErrorCode::invalidInput);
  auto empty = parseWebhook(webhook("{}", {{"verif-hash", "h"}}), "h");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, ErrorCode::invalidInput);
  // A transfer concerns no payment: acknowledged, no event.
  auto transfer = parseWebhook(
      webhook(
          R"({"event":"transfer.completed","data":{"id":9,"reference":"x","status":"SUCCESSFUL"}})",
          {{"verif-hash", "h"}}),
      "h");
  ASSERT_TRUE(transfer.ok());
  EXPECT_TRUE(transfer.value().empty());
}

// --- Verify replies ----------------------------------------------------------------------

TEST(FlutterwaveVerify, SuccessfulWithOurTxRefSettles) {
  auto r = mapVerifyResponse(
      200,
      verifyReply(
          R"({"id":288200108,"tx_ref":"pay-1","flw_ref":"FLW-1","amount":5000,)"
          R"("currency":"NGN","charged_amount":5000,"status":"successful","payment_type":"card"})"),
      "pay-1");
  ASSERT_TRUE(r.ok()) << r.error().internal;
  EXPECT_EQ(r.value().state, ProviderStatus::State::succeeded);
  EXPECT_EQ(r.value().providerTxnId, "288200108");
  EXPECT_EQ(r.value().amountMinor, 500000);
  EXPECT_EQ(r.value().currency, "NGN");
}

TEST(FlutterwaveVerify, SomeoneElsesTransactionNeverSettles) {
  auto r = mapVerifyResponse(
      200,
      verifyReply(
          R"({"id":1,"tx_ref":"pay-2","amount":5000,"currency":"NGN","status":"successful"})"),
      "pay-1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().state, ProviderStatus::State::pending);
  EXPECT_TRUE(r.value().providerTxnId.empty());
  EXPECT_NE(r.value().detail.find("mismatch"), std::string::npos);
}

TEST(FlutterwaveVerify, StatusMapping) {
  auto map = [](const std::string& status) {
    return mapVerifyResponse(
        200,
        verifyReply(R"({"id":5,"tx_ref":"p","amount":10,"currency":"NGN","status":")" + status +
                    "\"}"),
        "p");
  };
  EXPECT_EQ(map("successful").value().state, ProviderStatus::State::succeeded);
  EXPECT_EQ(map("failed").value().state, ProviderStatus::State::failed);
  EXPECT_FALSE(map("failed").value().reason.empty());
  EXPECT_EQ(map("pending").value().state, ProviderStatus::State::pending);
  EXPECT_EQ(map("cancelled").value().state, ProviderStatus::State::pending);
  EXPECT_EQ(map("").value().state, ProviderStatus::State::pending);
  // Only the exact word settles.
  EXPECT_EQ(map("success").value().state, ProviderStatus::State::pending);
  EXPECT_EQ(map("successfull").value().state, ProviderStatus::State::pending);
}

TEST(FlutterwaveVerify, NoTransactionYetIsPending) {
  auto r = mapVerifyResponse(
      400, R"({"status":"error","message":"No transaction was found for this id","data":null})",
      "p");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().state, ProviderStatus::State::pending);
}

TEST(FlutterwaveVerify, ProviderFailuresAreErrors) {
  auto bad = mapVerifyResponse(
      401, R"({"status":"error","message":"Invalid authorization key","data":null})", "p");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::providerError);
  EXPECT_NE(bad.error().internal.find("Invalid authorization key"), std::string::npos);
  EXPECT_EQ(bad.error().external.find("Invalid authorization key"), std::string::npos);
  EXPECT_FALSE(mapVerifyResponse(500, "oops", "p").ok());
  EXPECT_FALSE(mapVerifyResponse(200, "<html>", "p").ok());
  EXPECT_FALSE(mapVerifyResponse(200, R"({"status":"success","data":null})", "p").ok());
  EXPECT_FALSE(
      mapVerifyResponse(400, R"({"status":"error","message":"Invalid currency","data":null})", "p")
          .ok());
}

TEST(FlutterwaveVerify, AmountsInMajorUnits) {
  auto amount = [](const std::string& data, const std::string& ref = "p") {
    auto r = mapVerifyResponse(200, verifyReply(data), ref);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.value().amountMinor : -2;
  };
  EXPECT_EQ(amount(R"({"id":5,"tx_ref":"p","amount":10.5,"currency":"GHS","status":"successful"})"),
            1050);
  EXPECT_EQ(
      amount(R"({"id":5,"tx_ref":"p","amount":"10.50","currency":"GHS","status":"successful"})"),
      1050);
  EXPECT_EQ(
      amount(R"({"id":5,"tx_ref":"p","amount":4999.99,"currency":"NGN","status":"successful"})"),
      499999);
  EXPECT_EQ(amount(R"({"id":5,"tx_ref":"p","amount":5000,"currency":"UGX","status":"successful"})"),
            5000);
  // The lower of amount and charged_amount is what was paid.
  EXPECT_EQ(
      amount(
          R"({"id":5,"tx_ref":"p","amount":5000,"charged_amount":4000,"currency":"NGN","status":"successful"})"),
      400000);
  // Fees the customer bore do not raise the reported amount.
  EXPECT_EQ(
      amount(
          R"({"id":5,"tx_ref":"p","amount":5000,"charged_amount":5070,"currency":"NGN","status":"successful"})"),
      500000);
  // A fraction of a minor unit is not money we can settle: -1 makes the kernel hold it.
  EXPECT_EQ(
      amount(R"({"id":5,"tx_ref":"p","amount":10.505,"currency":"NGN","status":"successful"})"),
      -1);
  EXPECT_EQ(amount(R"({"id":5,"tx_ref":"p","currency":"NGN","status":"successful"})"), -1);
}

TEST(FlutterwaveVerify, GrossFeeAndNetFromTheRealReply) {
  // As Flutterwave answers: charged_amount (what the customer paid), app_fee, amount_settled.
  auto merchant = mapVerifyResponse(
      200,
      verifyReply(R"({"id":5,"tx_ref":"p","amount":100,"charged_amount":100,"app_fee":1.4,)"
                  R"("amount_settled":98.6,"currency":"NGN","status":"successful"})"),
      "p");
  ASSERT_TRUE(merchant.ok());
  EXPECT_EQ(merchant.value().amountMinor, 10000);
  EXPECT_EQ(merchant.value().grossMinor, 10000);
  EXPECT_EQ(merchant.value().feeMinor, 140);
  EXPECT_EQ(merchant.value().netMinor, 9860);
  auto customer = mapVerifyResponse(
      200,
      verifyReply(R"({"id":5,"tx_ref":"p","amount":100,"charged_amount":101.4,"app_fee":1.4,)"
                  R"("amount_settled":100,"currency":"NGN","status":"successful"})"),
      "p");
  ASSERT_TRUE(customer.ok());
  EXPECT_EQ(customer.value().amountMinor, 10000);  // settled against the goods' value
  EXPECT_EQ(customer.value().grossMinor, 10140);
  EXPECT_EQ(customer.value().feeMinor, 140);
  EXPECT_EQ(customer.value().netMinor, 10000);
  // Not reported: -1, never a guess.
  auto bare = mapVerifyResponse(
      200,
      verifyReply(R"({"id":5,"tx_ref":"p","amount":100,"currency":"NGN","status":"successful"})"),
      "p");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare.value().grossMinor, 10000);
  EXPECT_EQ(bare.value().feeMinor, -1);
  EXPECT_EQ(bare.value().netMinor, -1);
}

TEST(FlutterwaveVerify, SuccessWithoutTransactionIdIsNotSettled) {
  auto r = mapVerifyResponse(
      200, verifyReply(R"({"tx_ref":"p","amount":10,"currency":"NGN","status":"successful"})"),
      "p");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().state, ProviderStatus::State::pending);
}

// --- Money and the create call -----------------------------------------------------------

TEST(FlutterwaveMoney, MajorAmountJson) {
  auto text = [](std::int64_t minor, const std::string& currency) {
    Poco::JSON::Object o;
    o.set("a", majorAmountJson(minor, currency));
    return toJson(o);
  };
  EXPECT_EQ(text(500000, "NGN"), R"({"a":5000})");
  EXPECT_EQ(text(1050, "GHS"), R"({"a":10.5})");
  EXPECT_EQ(text(5000, "UGX"), R"({"a":5000})");
  EXPECT_EQ(text(900000000000000LL, "NGN"), R"({"a":9000000000000})");
}

TEST(FlutterwaveMoney, MinorFromJson) {
  EXPECT_EQ(minorFromJson(Poco::Dynamic::Var(5000), "NGN"), 500000);
  EXPECT_EQ(minorFromJson(Poco::Dynamic::Var(std::string("12500")), "NGN"), 1250000);
  EXPECT_EQ(minorFromJson(Poco::Dynamic::Var(0.1), "USD"), 10);
  EXPECT_EQ(minorFromJson(Poco::Dynamic::Var(-5), "NGN"), -1);
  EXPECT_EQ(minorFromJson(Poco::Dynamic::Var(std::string("5,000")), "NGN"), -1);
  EXPECT_EQ(minorFromJson(Poco::Dynamic::Var(true), "NGN"), -1);
  EXPECT_EQ(minorFromJson(Poco::Dynamic::Var(), "NGN"), -1);
}

TEST(FlutterwaveCreate, RequestBody) {
  Payment p;
  p.id = "3f0c7d0e-1111-2222-3333-444455556666";
  p.product = "credits";
  p.orderRef = "pkg_10_credits";
  p.amountMinor = 500000;
  p.currency = "NGN";
  p.customer.email = "ada@example.org";
  p.customer.name = "Ada";
  p.customer.phone = "2348012345678";
  p.description = "10 verification credits";
  CheckoutOptions opt;
  opt.redirectUrl = "https://pay.example/payments/flutterwave/return";
  opt.title = "Visibuy Credits";
  opt.logo = "https://pay.example/logo.png";
  opt.paymentOptions = "card, ussd";
  auto o = parse(buildPaymentRequest(p, opt));
  EXPECT_EQ(o->getValue<std::string>("tx_ref"), p.id);
  EXPECT_EQ(o->getValue<Poco::Int64>("amount"), 5000);
  EXPECT_EQ(o->getValue<std::string>("currency"), "NGN");
  EXPECT_EQ(o->getValue<std::string>("redirect_url"), opt.redirectUrl);
  EXPECT_EQ(o->getValue<std::string>("payment_options"), "card, ussd");
  auto c = o->getObject("customer");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->getValue<std::string>("email"), "ada@example.org");
  EXPECT_EQ(c->getValue<std::string>("name"), "Ada");
  EXPECT_EQ(c->getValue<std::string>("phonenumber"), "2348012345678");
  auto custom = o->getObject("customizations");
  ASSERT_TRUE(custom);
  EXPECT_EQ(custom->getValue<std::string>("title"), "Visibuy Credits");
  EXPECT_EQ(custom->getValue<std::string>("description"), "10 verification credits");
  EXPECT_EQ(custom->getValue<std::string>("logo"), opt.logo);
  auto meta = o->getObject("meta");
  ASSERT_TRUE(meta);
  EXPECT_EQ(meta->getValue<std::string>("payment_id"), p.id);
  EXPECT_EQ(meta->getValue<std::string>("product"), "credits");
  EXPECT_EQ(meta->getValue<std::string>("order_ref"), "pkg_10_credits");
}

TEST(FlutterwaveCreate, PlaceholderEmailWhenTheCustomerHasNone) {
  Payment p;
  p.id = "ABCDEF12-0000";
  p.amountMinor = 1050;
  p.currency = "GHS";
  p.customer.accountId = "msisdn:233201234567";
  CheckoutOptions opt;
  opt.placeholderEmailDomain = "customers.example.net";
  auto o = parse(buildPaymentRequest(p, opt));
  EXPECT_EQ(o->getObject("customer")->getValue<std::string>("email"),
            "msisdn-233201234567@customers.example.net");
  EXPECT_DOUBLE_EQ(o->getValue<double>("amount"), 10.5);
  EXPECT_FALSE(o->has("customizations"));
  EXPECT_FALSE(o->has("payment_options"));
  EXPECT_EQ(placeholderEmail("", "ABCDEF12-0000", ""), "customer-abcdef12@example.com");
  EXPECT_EQ(placeholderEmail("user:<script>@x", "p", "d.example"), "user--script--x@d.example");
}

TEST(FlutterwaveCreate, HostedLinkAndErrors) {
  auto ok = parseHostedLink(
      200,
      R"({"status":"success","message":"Hosted Link","data":{"link":"https://checkout.flutterwave.com/v3/hosted/pay/abc"}})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value(), "https://checkout.flutterwave.com/v3/hosted/pay/abc");
  auto bad = parseHostedLink(
      400, R"({"status":"error","message":"Invalid currency provided","data":null})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::providerError);
  EXPECT_EQ(bad.error().external, "Failed to initiate payment");
  EXPECT_NE(bad.error().internal.find("Invalid currency provided"), std::string::npos);
  EXPECT_FALSE(parseHostedLink(200, R"({"status":"success","data":{}})").ok());
  EXPECT_FALSE(
      parseHostedLink(200, R"j({"status":"success","data":{"link":"javascript:alert(1)"}})j").ok());
  EXPECT_FALSE(parseHostedLink(500, "").ok());
}

// --- Helpers -----------------------------------------------------------------------------

TEST(FlutterwaveHelpers, FormAndQuery) {
  auto f = parseForm("action=pay&card_number=5531+8866%205214+2950&empty=&flag");
  EXPECT_EQ(f["action"], "pay");
  EXPECT_EQ(f["card_number"], "5531 8866 5214 2950");
  EXPECT_EQ(f["empty"], "");
  EXPECT_TRUE(f.count("flag"));
  EXPECT_EQ(appendQuery("https://a.example/r", {{"status", "successful"}, {"tx_ref", "a&b=c"}}),
            "https://a.example/r?status=successful&tx_ref=a%26b%3Dc");
  EXPECT_EQ(appendQuery("https://a.example/r?x=1", {{"k", "v w"}}),
            "https://a.example/r?x=1&k=v%20w");
  EXPECT_TRUE(looksLikeTransactionId("285959875"));
  EXPECT_FALSE(looksLikeTransactionId("28595a875"));
  EXPECT_FALSE(looksLikeTransactionId(""));
  EXPECT_FALSE(looksLikeTransactionId("123456789012345678901"));
}

// --- Refunds ------------------------------------------------------------------------------

TEST(FlutterwaveRefund, RequestCarriesMajorUnitsAndOurMarker) {
  RefundRequest req;
  req.refundId = "rf_1";
  req.amountMinor = 250050;
  req.currency = "NGN";
  req.reason = "out of stock";
  auto o = Poco::JSON::Parser().parse(buildRefundRequest(req)).extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(o->getValue<std::string>("amount"), "2500.5");
  EXPECT_EQ(o->getValue<std::string>("comments"), "malipo-refund:rf_1 out of stock");
  req.reason.clear();
  req.amountMinor = 600000;
  EXPECT_EQ(buildRefundRequest(req), R"({"amount":6000,"comments":"malipo-refund:rf_1"})");
}

TEST(FlutterwaveRefund, CreateReplyStatusesMapToTheKernelsStates) {
  // The documented reply of POST /v3/transactions/{id}/refund.
  const std::string completed =
      R"({"status":"success","message":"Transaction refund initiated","data":{"id":75923,"account_id":73362,"tx_id":908790,"flw_ref":"URF_1577867664541_3572735","wallet_id":74639,"amount_refunded":6900,"status":"completed","destination":"payment_source","meta":{"source":"availablebalance"},"created_at":"2021-01-24T09:18:37.366Z"}})";
  auto st = mapRefundResponse(200, completed, "NGN");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->state, RefundStatus::State::succeeded);
  EXPECT_EQ(st->providerRefundId, "75923");
  EXPECT_EQ(st->amountMinor, 690000);
  for (const char* s : {"pending", "new", "processing", "something-else"}) {
    std::string body = completed;
    body.replace(body.find("\"completed\""), 11, std::string("\"") + s + "\"");
    auto p = mapRefundResponse(200, body, "NGN");
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->state, RefundStatus::State::pending) << s;
  }
  std::string failed = completed;
  failed.replace(failed.find("\"completed\""), 11, "\"failed\"");
  EXPECT_EQ(mapRefundResponse(200, failed, "NGN")->state, RefundStatus::State::failed);
}

TEST(FlutterwaveRefund, RefusalIsFailedAndTransportTroubleIsAnError) {
  auto over = mapRefundResponse(
      400,
      R"({"status":"error","message":"Refund amount cannot be greater than the amount left","data":null})",
      "NGN");
  ASSERT_TRUE(over.ok());
  EXPECT_EQ(over->state, RefundStatus::State::failed);
  EXPECT_TRUE(over->providerRefundId.empty());
  EXPECT_NE(over->reason.find("cannot be greater"), std::string::npos);
  auto down = mapRefundResponse(502, "<html>bad gateway</html>", "NGN");
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code, ErrorCode::providerError);
  EXPECT_TRUE(down.error().retryable);
  auto key =
      mapRefundResponse(401, R"({"status":"error","message":"Invalid authorization key"})", "NGN");
  ASSERT_FALSE(key.ok());
  EXPECT_FALSE(key.error().retryable);
  EXPECT_FALSE(mapRefundResponse(200, "not json", "NGN").ok());
}

TEST(FlutterwaveRefund, ListLookupMatchesTransactionAndExactMarker) {
  const std::string list =
      R"({"status":"success","message":"Refunds fetched","meta":{"page_info":{"total":3,"current_page":1,"total_pages":2}},"data":[)"
      R"({"id":11,"tx_id":908790,"amount_refunded":10,"status":"completed","comments":"malipo-refund:r10"},)"
      R"({"id":12,"tx_id":111111,"amount_refunded":10,"status":"completed","comments":"malipo-refund:r1"},)"
      R"({"id":13,"tx_id":908790,"amount_refunded":"25.50","status":"pending","comments":"malipo-refund:r1 customer asked"}]})";
  auto hit = findRefundInList(200, list, "908790", "r1", "NGN");
  ASSERT_TRUE(hit.ok());
  EXPECT_TRUE(hit->found);
  EXPECT_EQ(hit->status.providerRefundId, "13");
  EXPECT_EQ(hit->status.amountMinor, 2550);
  EXPECT_EQ(hit->status.state, RefundStatus::State::pending);
  EXPECT_EQ(hit->totalPages, 2);
  auto miss = findRefundInList(200, list, "908790", "r2", "NGN");
  ASSERT_TRUE(miss.ok());
  EXPECT_FALSE(miss->found);
  EXPECT_FALSE(findRefundInList(500, "", "908790", "r1", "NGN").ok());
}
