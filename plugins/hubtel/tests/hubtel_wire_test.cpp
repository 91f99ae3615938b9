// Unit tests of the pure parts: Hubtel's wire formats, ClientState, phone numbers, money,
// the menu state machine, and group commit (against a fake database). No kernel, no network.
#include "hubtel_wire.hpp"

#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "group_commit.hpp"
#include "hubtel_menu.hpp"

using namespace malipo;
using namespace malipo::hubtel;

namespace {

Poco::JSON::Object::Ptr parse(const std::string& s) {
  return Poco::JSON::Parser().parse(s).extract<Poco::JSON::Object::Ptr>();
}

const char* kFulfilment = R"({
  "SessionId": "sess-1", "OrderId": "order-1", "ExtraData": {},
  "OrderInfo": {"CustomerMobileNumber": "233200585542", "CustomerEmail": null, "CustomerName": "John Doe",
    "Status": "Paid", "OrderDate": "2023-11-06T15:16:50.3581338+00:00", "Currency": "GHS", "BranchName": "Haatso",
    "IsRecurring": false, "RecurringInvoiceId": null, "Subtotal": 52.50,
    "Items": [{"ItemId": "item-id", "Name": "National Raffle", "Quantity": 5, "UnitPrice": 10.50}],
    "Payment": {"PaymentType": "mobilemoney", "AmountPaid": 52.50, "AmountAfterCharges": 52.00,
      "PaymentDate": "2023-11-06T15:16:50.3581338+00:00", "PaymentDescription": "Payment successful", "IsSuccessful": true}}})";

Menu creditsMenu(std::int64_t maxQuantity = 1000, bool byQuantity = true) {
  Menu m;
  m.items = {{"credits", {"pkg_10_credits", "10 credits", 1000, "GHS"}},
             {"credits", {"pkg_25_credits", "25 credits", 2500, "GHS"}},
             {"credits", {"pkg_50_credits", "50 credits", 5000, "GHS"}}};
  m.balanceProducts = {"credits"};
  m.maxQuantity = maxQuantity;
  m.sellsQuantity = [byQuantity](const ChannelItem&) { return byQuantity; };
  return m;
}

}  // namespace

TEST(HubtelWire, InteractionFieldsAndCaseInsensitiveType) {
  auto in = parseInteraction(
      *parse(R"({"Type":"RESPONSE","Mobile":"233200585542","SessionId":"s1","ServiceCode":"713",
    "Message":"2","Operator":"Vodafone","Sequence":"3","ClientState":"M0~x~y","Platform":"USSD"})"));
  EXPECT_EQ(in.type, "response");
  EXPECT_EQ(in.sessionId, "s1");
  EXPECT_EQ(in.mobile, "233200585542");
  EXPECT_EQ(in.message, "2");
  EXPECT_EQ(in.operatorName, "vodafone");
  EXPECT_EQ(in.sequence, 3);  // Hubtel may send Sequence as a string
  EXPECT_EQ(in.clientState, "M0~x~y");
  EXPECT_EQ(parseInteraction(*parse(R"({"Type":"Initiation","Sequence":1})")).sequence, 1);
}

TEST(HubtelWire, InvalidJsonIsNoObject) {
  EXPECT_FALSE(parseJsonObject("{not json"));
  EXPECT_FALSE(parseJsonObject(""));
  EXPECT_FALSE(parseJsonObject("[1,2]"));
  EXPECT_TRUE(parseJsonObject("{}"));
}

TEST(HubtelWire, FulfilmentFromTheSeed) {
  auto f = parseFulfilment(*parse(kFulfilment));
  ASSERT_TRUE(f.ok()) << f.error().internal;
  EXPECT_EQ(f->sessionId, "sess-1");
  EXPECT_EQ(f->orderId, "order-1");
  EXPECT_TRUE(f->paid());
  EXPECT_EQ(f->amountPaidMinor, 5250);
  EXPECT_EQ(f->subtotalMinor, 5250);
  EXPECT_EQ(f->quantity, 5);
  EXPECT_EQ(f->unitPriceMinor, 1050);
  EXPECT_EQ(f->currency, "GHS");
  EXPECT_EQ(f->itemName, "National Raffle");
  EXPECT_EQ(f->itemsMinor, 5250);               // 5 x 10.50
  EXPECT_EQ(f->amountAfterChargesMinor, 5200);  // the merchant bears the 0.50 fee
}

// Issue 14's live fulfilment: the customer bears the fee, so Subtotal and AmountPaid include it.
TEST(HubtelWire, ACustomerBorneFeeSettlesOnTheItems) {
  auto f = parseFulfilment(
      *parse(R"({"SessionId":"s","OrderId":"o","OrderInfo":{"Status":"Paid","Currency":"GHS",
    "Subtotal":1.02,"Items":[{"ItemId":"i","Name":"Ticket","Quantity":1,"UnitPrice":1.00}],
    "Payment":{"PaymentType":"mobilemoney","AmountPaid":1.02,"AmountAfterCharges":1.00,"IsSuccessful":true}}})"));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->itemsMinor, 100);
  EXPECT_EQ(f->amountPaidMinor, 102);
  EXPECT_EQ(f->amountAfterChargesMinor, 100);
  Settlement m = settle(f->amountPaidMinor, -1, f->amountAfterChargesMinor, f->itemsMinor);
  EXPECT_EQ(m.amountMinor, 100);  // settled against the 1.00 due
  EXPECT_EQ(m.grossMinor, 102);
  EXPECT_EQ(m.feeMinor, 2);
  EXPECT_EQ(m.netMinor, 100);
}

TEST(HubtelWire, SettlementEitherSideBearsTheFeeElseTheGross) {
  // The status check's amount, charges, amountAfterCharges (the seed's: merchant pays).
  Settlement merchant = settle(5250, 50, 5200, 5250);
  EXPECT_EQ(merchant.amountMinor, 5250);
  EXPECT_EQ(merchant.feeMinor, 50);
  EXPECT_EQ(merchant.netMinor, 5200);
  EXPECT_EQ(settle(5300, 50, 5250, 5250).amountMinor, 5250);  // customer pays
  EXPECT_EQ(settle(5250, 50, -1, 5250).netMinor, 5200);       // net derived
  // Short, long, or a fee that does not add up: the gross, so the kernel holds it.
  EXPECT_EQ(settle(1000, 10, 990, 3000).amountMinor, 1000);
  EXPECT_EQ(settle(5400, 50, 5350, 5250).amountMinor, 5400);
  EXPECT_EQ(settle(5300, 10, 5250, 5250).amountMinor, 5300);
  EXPECT_EQ(settle(-1, -1, -1, 5250).amountMinor, -1);
}

TEST(HubtelWire, ItemsTotalOverEveryItem) {
  auto f = parseFulfilment(
      *parse(R"({"SessionId":"s","OrderId":"o","OrderInfo":{"Status":"Paid","Items":[
    {"Name":"A","Quantity":2,"UnitPrice":10.50},{"Name":"B","Quantity":"1","UnitPrice":"4.00"}],"Payment":{"IsSuccessful":true}}})"));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->itemsMinor, 2500);
  EXPECT_EQ(f->quantity, 2);  // the first item's
  auto bad = parseFulfilment(
      *parse(R"({"SessionId":"s","OrderId":"o","OrderInfo":{"Status":"Paid","Items":[
    {"Name":"A","Quantity":2,"UnitPrice":10.50},{"Name":"B","Quantity":0,"UnitPrice":4}]}})"));
  EXPECT_EQ(bad->itemsMinor, -1);  // unreadable: the menu's Qty x Price is used instead
}

TEST(HubtelWire, FulfilmentNotPaidUnlessStatusPaidAndSuccessful) {
  std::string unpaid = kFulfilment;
  unpaid.replace(unpaid.find("\"Paid\""), 6, "\"Unpaid\"");
  EXPECT_FALSE(parseFulfilment(*parse(unpaid))->paid());
  std::string failed = kFulfilment;
  failed.replace(failed.find("\"IsSuccessful\": true"), 20, "\"IsSuccessful\": false");
  EXPECT_FALSE(parseFulfilment(*parse(failed))->paid());
  std::string lower = kFulfilment;
  lower.replace(lower.find("\"Paid\""), 6, "\"paid\"");
  EXPECT_TRUE(parseFulfilment(*parse(lower))->paid());
}

TEST(HubtelWire, FulfilmentWithoutIdsOrOrderInfoIsRefused) {
  EXPECT_FALSE(parseFulfilment(*parse(R"({"SessionId":"s","OrderId":""})")).ok());
  EXPECT_FALSE(parseFulfilment(*parse(R"({"SessionId":"s","OrderId":"o"})")).ok());
  // No AmountPaid: the subtotal is what was paid.
  auto f = parseFulfilment(
      *parse(R"({"SessionId":"s","OrderId":"o","OrderInfo":{"Status":"Paid","Subtotal":"20.00",
    "Payment":{"IsSuccessful":"true"}}})"));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->amountPaidMinor, 2000);
  EXPECT_TRUE(f->paid());
}

TEST(HubtelWire, ReplyJsonKeepsTwoDecimalsAndIntegerQty) {
  Reply r = addToCart(Texts{}, "National Raffle", 5, 1050);
  r.sessionId = "s1";
  std::string j = r.toJson();
  EXPECT_NE(j.find(R"("Item":{"ItemName":"National Raffle","Qty":5,"Price":10.50})"),
            std::string::npos)
      << j;
  EXPECT_NE(j.find(R"("Type":"AddToCart")"), std::string::npos);
  auto o = parse(j);
  EXPECT_TRUE(o->getObject("Item")->get("Qty").isInteger());
  EXPECT_EQ(o->getValue<std::string>("Message"),
            "Please complete payment:\n\nItem: National Raffle\nQuantity: 5\nUnit Price: GHS "
            "10.50\nTotal: GHS 52.50\n\n"
            "You will receive a payment prompt.");
  // Escaping: quotes, backslashes and control characters survive a round trip.
  Reply e = Reply::release("s\"1", "a\\b\n\"c\"\x01");
  EXPECT_EQ(parse(e.toJson())->getValue<std::string>("Message"), "a\\b\n\"c\"\x01");
  EXPECT_EQ(parse(e.toJson())->getValue<std::string>("Type"), "release");
}

TEST(HubtelWire, StatusReplies) {
  auto paid = parseStatusReply(
      200, R"({"message":"Successful","responseCode":"0000","data":{"date":"2024-04-25T21:45:48Z",
    "status":"Paid","transactionId":"tx1","externalTransactionId":"ext1","paymentMethod":"mobilemoney",
    "clientReference":"sess-1","currencyCode":null,"amount":52.50,"charges":0.50,"amountAfterCharges":52.00,"isFulfilled":null}})");
  ASSERT_TRUE(paid.ok());
  EXPECT_EQ(paid->kind, TxnStatus::Kind::paid);
  EXPECT_EQ(paid->transactionId, "tx1");
  EXPECT_EQ(paid->amountMinor, 5250);
  EXPECT_EQ(paid->amountAfterChargesMinor, 5200);
  EXPECT_EQ(parseStatusReply(200, R"({"responseCode":"0000","data":{"status":"Unpaid"}})")->kind,
            TxnStatus::Kind::unpaid);
  EXPECT_EQ(parseStatusReply(200, R"({"responseCode":"0000","data":{"status":"Refunded"}})")->kind,
            TxnStatus::Kind::refunded);
  EXPECT_EQ(parseStatusReply(404, "")->kind, TxnStatus::Kind::notFound);
  EXPECT_FALSE(parseStatusReply(403, "").ok());
  EXPECT_FALSE(parseStatusReply(401, "").ok());
  EXPECT_FALSE(parseStatusReply(500, "").ok());
  EXPECT_FALSE(parseStatusReply(200, "<html>").ok());
}

TEST(HubtelWire, CallbackBodyShape) {
  Poco::JSON::Object meta;
  meta.set("reason", "Ticket generation failed");
  auto o = parse(callbackBody("s1", "o1", false, meta));
  EXPECT_EQ(o->getValue<std::string>("SessionId"), "s1");
  EXPECT_EQ(o->getValue<std::string>("OrderId"), "o1");
  EXPECT_EQ(o->getValue<std::string>("ServiceStatus"), "failed");
  EXPECT_EQ(o->getObject("MetaData")->getValue<std::string>("reason"), "Ticket generation failed");
  EXPECT_EQ(parse(callbackBody("s1", "o1", true, Poco::JSON::Object()))
                ->getValue<std::string>("ServiceStatus"),
            "success");
}

TEST(HubtelWire, MoneyAtTheEdge) {
  EXPECT_EQ(cedisToMinor(Poco::Dynamic::Var(52.5)), 5250);
  EXPECT_EQ(cedisToMinor(Poco::Dynamic::Var(0.29)), 29);  // 0.29 * 100 is 28.999… in binary
  EXPECT_EQ(cedisToMinor(Poco::Dynamic::Var(10)), 1000);
  EXPECT_EQ(cedisToMinor(Poco::Dynamic::Var(std::string("10.50"))), 1050);
  EXPECT_EQ(cedisToMinor(Poco::Dynamic::Var(std::string("ten"))), -1);
  EXPECT_EQ(cedisToMinor(Poco::Dynamic::Var(-1.0)), -1);
  EXPECT_EQ(cedisToMinor(Poco::Dynamic::Var()), -1);
  EXPECT_EQ(minorToCedis(5250), "52.50");
  EXPECT_EQ(minorToCedis(1000), "10.00");
}

TEST(HubtelWire, PhoneNumbersNormaliseTo233) {
  EXPECT_EQ(normaliseMsisdn("233200585542"), "233200585542");
  EXPECT_EQ(normaliseMsisdn("0200585542"), "233200585542");
  EXPECT_EQ(normaliseMsisdn("+233 20 058 5542"), "233200585542");
  EXPECT_EQ(normaliseMsisdn("00233200585542"), "233200585542");
  EXPECT_EQ(normaliseMsisdn("+233-24-412-3456"), "233244123456");
  EXPECT_EQ(normaliseMsisdn("200585542"), "233200585542");  // national number without the trunk 0
  EXPECT_EQ(normaliseMsisdn("+255712345678"), "");          // Tanzania: not Hubtel's
  EXPECT_EQ(normaliseMsisdn("12345"), "");
  EXPECT_EQ(normaliseMsisdn("hello"), "");
  EXPECT_EQ(normaliseMsisdn(""), "");
  EXPECT_EQ(maskMsisdn("233200585542"), "233***542");
}

TEST(HubtelWire, ClientStateIsTamperChecked) {
  ClientStateCodec codec("secret");
  std::int64_t now = 1700000000000;
  std::string cs = codec.encode("sess-1", "Q|credits|pkg_10_credits", now);
  EXPECT_LT(cs.size(), 60u);  // small: Hubtel carries it on every step
  EXPECT_EQ(codec.decode("sess-1", cs, now + 1000, 3600000).value_or(""),
            "Q|credits|pkg_10_credits");
  // Another session, a changed step, another key, too old, garbage: all refused.
  EXPECT_FALSE(codec.decode("sess-2", cs, now, 3600000));
  std::string forged = cs;
  forged.replace(0, 1, "C");
  EXPECT_FALSE(codec.decode("sess-1", forged, now, 3600000));
  EXPECT_FALSE(ClientStateCodec("other").decode("sess-1", cs, now, 3600000));
  EXPECT_FALSE(codec.decode("sess-1", cs, now + 3600000 + 2000, 3600000));
  EXPECT_FALSE(codec.decode("sess-1", "main_menu", now, 3600000));
  EXPECT_FALSE(codec.decode("sess-1", "", now, 3600000));
  EXPECT_FALSE(codec.decode("sess-1", "~~", now, 3600000));
  // Item ids may contain the separator: the step is everything before the last two.
  std::string odd = codec.encode("s", "C|p|2|id~with~tildes", now);
  EXPECT_EQ(codec.decode("s", odd, now, 1000).value_or(""), "C|p|2|id~with~tildes");
}

TEST(HubtelWire, FillTemplates) {
  EXPECT_EQ(fill("{name} at {currency} {price} {unknown}",
                 {{"name", "A"}, {"currency", "GHS"}, {"price", "1.00"}}),
            "A at GHS 1.00 {unknown}");
  EXPECT_EQ(fill("{", {}), "{");
}

TEST(HubtelMenu, StepsRoundTrip) {
  for (const std::string s :
       {"M0", "M3", "Q|credits|pkg_10_credits", "C|credits|5|pkg_10_credits", "C|p|1|a|b", "L",
        "sw:M0", "fr:L", "sw:Q|credits|pkg_10_credits", "fr:C|credits|5|pkg_10_credits"}) {
    auto d = decodeStep(s);
    ASSERT_TRUE(d) << s;
    EXPECT_EQ(encodeStep(*d), s);
  }
  EXPECT_EQ(decodeStep("sw:C|credits|5|pkg")->lang, "sw");
  EXPECT_EQ(decodeStep("C|credits|5|pkg")->lang, "");
  for (const std::string s :
       {"", "X", "M", "Mx", "Q|", "Q|p|", "C|p|0|i", "C|p|x|i", "C|p|2", "sw:", "sw:X", "LL"})
    EXPECT_FALSE(decodeStep(s)) << s;
}

// Issue 20: with languages to choose from, the first screen offers them (98); the choice
// rides in every next step and picks the texts of every screen until the session ends.
TEST(HubtelMenu, TheCustomerChoosesALanguageForTheSession) {
  Menu m = creditsMenu();
  Texts sw = m.texts, fr = m.texts;
  sw.exitEntry = "Toka";
  sw.languageEntry =
      "English / Fran\xC3\xA7"
      "ais";
  sw.quantityPrompt = "Weka idadi (1-{max}):";
  sw.cancelled = "Ununuzi umeghairiwa.";
  fr.exitEntry = "Quitter";
  m.languages = {{"en", "English", m.texts},
                 {"sw", "Kiswahili", sw},
                 {"fr",
                  "Fran\xC3\xA7"
                  "ais",
                  fr}};
  Outcome first = mainMenu(m, 0);
  EXPECT_NE(first.reply.message.find("\n4. Check my balance\n98. Kiswahili / Fran\xC3\xA7"
                                     "ais\n0. Exit"),
            std::string::npos)
      << first.reply.message;
  Outcome screen = advance(m, first.next, "98");
  EXPECT_EQ(screen.reply.message,
            "Choose your language:\n1. English\n2. Kiswahili\n3. Fran\xC3\xA7"
            "ais");
  EXPECT_EQ(encodeStep(screen.next), "L");
  EXPECT_TRUE(advance(m, screen.next, "4").invalidInput);
  Outcome inSw = advance(m, screen.next, "2");
  EXPECT_EQ(encodeStep(inSw.next), "sw:M0");
  EXPECT_NE(inSw.reply.message.find("\n98. English / Fran\xC3\xA7"
                                    "ais\n0. Toka"),
            std::string::npos)
      << inSw.reply.message;
  Outcome q = advance(m, *decodeStep(encodeStep(inSw.next)), "1");
  EXPECT_EQ(q.reply.message, "Weka idadi (1-1000):");
  EXPECT_EQ(encodeStep(q.next), "sw:Q|credits|pkg_10_credits");
  Outcome c = advance(m, q.next, "2");
  EXPECT_EQ(c.next.lang, "sw");
  EXPECT_EQ(advance(m, c.next, "2").reply.message, "Ununuzi umeghairiwa.");
  EXPECT_EQ(advance(m, c.next, "1").next.lang, "sw");  // the checkout knows the language
  // Page two has no entry 98; without languages there is none at all.
  m.pageSize = 2;
  EXPECT_EQ(mainMenu(m, 1).reply.message.find("98."), std::string::npos);
  EXPECT_EQ(mainMenu(creditsMenu(), 0).reply.message.find("98."), std::string::npos);
  EXPECT_TRUE(advance(creditsMenu(), Step{}, "98").invalidInput);
}

TEST(HubtelMenu, MainMenuFromCatalog) {
  Outcome o = mainMenu(creditsMenu(), 0);
  EXPECT_EQ(o.kind, Outcome::Kind::show);
  EXPECT_EQ(o.reply.message,
            "Malipo\n1. 10 credits - GHS 10.00\n2. 25 credits - GHS 25.00\n3. 50 credits - GHS "
            "50.00\n4. Check my balance\n0. Exit");
  EXPECT_EQ(o.reply.label, "Main Menu");
  EXPECT_EQ(o.reply.dataType, "input");
  EXPECT_EQ(o.reply.fieldType, "text");
  EXPECT_EQ(encodeStep(o.next), "M0");
}

TEST(HubtelMenu, SeveralProductsAndPages) {
  Menu m = creditsMenu();
  m.items.push_back({"raffle", {"ticket", "Raffle ticket", 500, "GHS"}});
  m.balanceProducts.push_back("raffle");
  m.pageSize = 3;
  Outcome p0 = mainMenu(m, 0);
  EXPECT_NE(p0.reply.message.find("3. 50 credits"), std::string::npos);
  EXPECT_NE(p0.reply.message.find("99. More"), std::string::npos);
  EXPECT_EQ(p0.reply.message.find("4. Raffle"), std::string::npos);
  Outcome p1 = advance(m, p0.next, "99");
  EXPECT_EQ(encodeStep(p1.next), "M1");
  EXPECT_NE(p1.reply.message.find("4. Raffle ticket - GHS 5.00"), std::string::npos)
      << p1.reply.message;
  EXPECT_NE(p1.reply.message.find("5. Check my credits balance"), std::string::npos)
      << p1.reply.message;
  EXPECT_NE(p1.reply.message.find("6. Check my raffle balance"), std::string::npos);
  EXPECT_EQ(p1.reply.message.find("99. More"), std::string::npos);
  // Numbers are global: "2" on page 1 still picks the second entry.
  Outcome pick = advance(m, p1.next, "2");
  EXPECT_EQ(pick.next.itemId, "pkg_25_credits");
  Outcome bal = advance(m, p1.next, "6");
  EXPECT_EQ(bal.kind, Outcome::Kind::balance);
  EXPECT_EQ(bal.product, "raffle");
}

TEST(HubtelMenu, BuyWithQuantityThenConfirm) {
  Menu m = creditsMenu();
  Outcome q = advance(m, Step{}, "1");
  EXPECT_EQ(q.kind, Outcome::Kind::show);
  EXPECT_EQ(encodeStep(q.next), "Q|credits|pkg_10_credits");
  EXPECT_EQ(q.reply.fieldType, "number");
  EXPECT_NE(q.reply.message.find("Enter quantity (1-1000)"), std::string::npos);
  Outcome c = advance(m, q.next, " 5 ");
  EXPECT_EQ(encodeStep(c.next), "C|credits|5|pkg_10_credits");
  EXPECT_EQ(c.reply.message, "Buy 5 x 10 credits\nTotal: GHS 50.00\n1. Confirm\n2. Cancel");
  Outcome go = advance(m, c.next, "1");
  EXPECT_EQ(go.kind, Outcome::Kind::checkout);
  EXPECT_EQ(go.qty, 5);
  EXPECT_EQ(go.item.item.id, "pkg_10_credits");
  Outcome no = advance(m, c.next, "2");
  EXPECT_EQ(no.kind, Outcome::Kind::release);
  EXPECT_EQ(no.reply.message, "Purchase cancelled.");
}

TEST(HubtelMenu, QuantityBounds) {
  Menu m = creditsMenu();
  Step q;
  q.kind = Step::Kind::quantity;
  q.product = "credits";
  q.itemId = "pkg_10_credits";
  for (const char* bad : {"0", "1001", "abc", "", "-1", "2.5", "99999999"}) {
    Outcome o = advance(m, q, bad);
    EXPECT_EQ(o.kind, Outcome::Kind::show) << bad;
    EXPECT_TRUE(o.invalidInput) << bad;
    EXPECT_EQ(o.reply.message.rfind("Invalid quantity.", 0), 0u) << bad;
    EXPECT_EQ(encodeStep(o.next), "Q|credits|pkg_10_credits");
  }
  EXPECT_EQ(advance(m, q, "1000").next.qty, 1000);
  EXPECT_EQ(advance(m, q, "1").next.qty, 1);
  // A forged confirmation above the maximum is refused.
  Step c;
  c.kind = Step::Kind::confirm;
  c.product = "credits";
  c.itemId = "pkg_10_credits";
  c.qty = 5000;
  EXPECT_EQ(advance(m, c, "1").kind, Outcome::Kind::release);
}

TEST(HubtelMenu, ItemsNotSoldByQuantitySkipTheQuestion) {
  Outcome o = advance(creditsMenu(1000, false), Step{}, "2");
  EXPECT_EQ(encodeStep(o.next), "C|credits|1|pkg_25_credits");
  Outcome one = advance(creditsMenu(1, true), Step{}, "2");
  EXPECT_EQ(encodeStep(one.next), "C|credits|1|pkg_25_credits");
}

TEST(HubtelMenu, ExitInvalidAndGone) {
  Menu m = creditsMenu();
  Outcome exit = advance(m, Step{}, "0");
  EXPECT_EQ(exit.kind, Outcome::Kind::release);
  EXPECT_EQ(exit.reply.message, "Thank you. Goodbye.");
  Outcome bad = advance(m, Step{}, "7");
  EXPECT_TRUE(bad.invalidInput);
  EXPECT_EQ(bad.reply.message.rfind("Invalid choice.\nMalipo\n1.", 0), 0u) << bad.reply.message;
  EXPECT_EQ(advance(m, Step{}, "99").invalidInput, true);  // no second page
  Outcome bal = advance(m, Step{}, "4");
  EXPECT_EQ(bal.kind, Outcome::Kind::balance);
  Step gone;
  gone.kind = Step::Kind::quantity;
  gone.product = "credits";
  gone.itemId = "pkg_999";
  EXPECT_EQ(advance(m, gone, "1").kind, Outcome::Kind::release);
}

TEST(HubtelMenu, EmptyCatalog) {
  Menu m;
  Outcome o = mainMenu(m, 0);
  EXPECT_EQ(o.reply.message, "Malipo\nNothing is on sale right now.\n0. Exit");
  EXPECT_TRUE(advance(m, Step{}, "1").invalidInput);
}

// ---- Group commit (against a fake database: no engine needed) ----------------------------

namespace {

// Counts transactions; a transaction "commits" the items' effects only if none threw.
class FakeDb final : public Database {
 public:
  class FakeTx final : public Tx {
   public:
    std::int64_t exec(const std::string&, const Params&) override { return 1; }
    Rows query(const std::string&, const Params&) override { return {}; }
    Engine engine() const override { return Engine::sqlite; }
    void onCommit(std::function<void()> fn) override { fn(); }
  };
  Engine engine() const override { return Engine::sqlite; }
  void write(const std::function<void(Tx&)>& work) override {
    std::lock_guard<std::mutex> lock(mutex);  // one writer at a time, like SQLite
    ++transactions;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the commit's fsync
    FakeTx tx;
    work(tx);
  }
  Rows query(const std::string&, const Params&) override { return {}; }
  std::int64_t exec(const std::string&, const Params&) override { return 0; }
  std::mutex mutex;
  std::atomic<int> transactions{0};
};

}  // namespace

TEST(HubtelGroupCommit, ConcurrentWritesShareTransactions) {
  FakeDb db;
  GroupCommit gc(db);
  const int n = 64;
  std::vector<int> ran(n, 0);
  std::vector<std::thread> ts;
  for (int i = 0; i < n; ++i)
    ts.emplace_back([&, i] { gc.commit([&, i](Tx&) { ran[static_cast<std::size_t>(i)] = 1; }); });
  for (auto& t : ts) t.join();
  for (int i = 0; i < n; ++i) EXPECT_EQ(ran[static_cast<std::size_t>(i)], 1) << i;
  EXPECT_LT(db.transactions.load(), n);  // grouped: fewer commits than writers
}

TEST(HubtelGroupCommit, AFailingItemFailsAloneAndOthersCommit) {
  FakeDb db;
  GroupCommit gc(db);
  const int n = 32;
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < n; ++i)
    ts.emplace_back([&, i] {
      try {
        gc.commit([i](Tx&) {
          if (i == 7) throw DbError("constraint failed");
        });
        ++ok;
      } catch (const DbError&) {
        ++failed;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(failed.load(), 1);
  EXPECT_EQ(ok.load(), n - 1);
}
