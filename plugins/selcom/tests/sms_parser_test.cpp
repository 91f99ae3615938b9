#include "sms_parser.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <vector>

namespace malipo::selcom {
namespace {

struct CorpusRow {
  int row;
  const char* text;
  const char* wallet;
  const char* transactionId;
  std::int64_t amountMinor;
  const char* currency;
};

std::ostream& operator<<(std::ostream& os, const CorpusRow& r) {
  return os << "row " << r.row;
}

// providers/sms-corpus.md, verbatim (double spaces included).
const CorpusRow kCorpus[] = {
    {1, "Payment of TZS 1000 to CVCHAPCHAP confirmed. Transaction ID: ABC123XYZ. Thank you.",
     "generic", "ABC123XYZ", 100000, "TZS"},
    {2,
     "AGO2A7S9684 Confirmed.You have received Tsh3,000.00 from 255757177811 - JOHN POMBE "
     "MAGUFULI  on 24/7/23 at 10:37 AM New M-Pesa balance is Tsh3,118.00.",
     "mpesa_tz", "AGO2A7S9684", 300000, "TZS"},
    {3,
     "AGH3A5U9XY7 Imethibitishwa tarehe 17/7/23 saa 4:23 PM Pokea kiasi cha Tsh15,000.00 kutoka "
     "kwa 100421 - Ibrahim Mohamed Ahmed H/O TILL Jumla ya Ada Tsh1,645.00 (M-Pesa Ada "
     "Tsh1,450.00 + TOZO ya Serikali Tsh195.00). Salio ni Tsh0.93.",
     "mpesa_tz", "AGH3A5U9XY7", 1500000, "TZS"},
    {4,
     "Z10DN636 Confirmed. You have received Tsh50,000 from FREDRICK KIMARO on 27/1/14 at 1:19 PM "
     "New M-PESA balance is Tsh214,676",
     "mpesa_tz", "Z10DN636", 5000000, "TZS"},
    {5,
     "X89IQ877 Confirmed. Tsh2,100 sent to MUSHI WILLIAM on 15/12/13 at 10:19 PM. New M-PESA "
     "balance is Tsh23,232.",
     "mpesa_tz", "X89IQ877", 210000, "TZS"},
    {6,
     "BD56CR24PX8 Confirmed. On 5/4/24 at 6:06 PM Tsh5,000.00 Tsh. has been received from "
     "255718624061 - WARDA KITEMO.Your balance is Tsh50,000.00 Tsh.",
     "mpesa_tz", "BD56CR24PX8", 500000, "TZS"},
    {7,
     "BEK0D83QOS8 Confirmed. Tsh1,000.00 received from 255757360593 - JEREMIAH JAMES ALBERT on "
     "20/5/24 at 4:53 PM.New Pochi PAULO KIMARIO-RT WAKUBWA SHOWS - MOVIES balance is "
     "Tsh3,000.00.",
     "mpesa_tz", "BEK0D83QOS8", 100000, "TZS"},
    {8,
     "Cash-In of TSh 100,000 from Agent - PERSON FIVE is successful. New balance is TSh 100,000. "
     "TxnId: 13411949026. 16/08/23 15:19. Dial150 01# or use Tigo Pesa App.",
     "tigo_pesa", "13411949026", 10000000, "TZS"},
    {9,
     "Umepokea malipo TSh 12,500 kutoka kwa Vodacom; 255795820858 - MICHAEL PONSIAN Kumbukumbu "
     "No.: 25450569480221. 17/12/25 18:08. Salio lako jipya ni TSh 534,350. Asante kwa kutumia "
     "Lipa Kwa Simu.LKS",
     "tigo_pesa", "25450569480221", 1250000, "TZS"},
    {10,
     "New balance is Tsh 138,522. You have received Tsh 50,000 from CHARLES KOMBA, 0727666074. "
     "31/01/2014 05:36 PM; with TxnId: PP141141.1843.D06413.",
     "tigo_pesa", "PP141141.1843.D06413", 5000000, "TZS"},
    {11,
     "TID:MP260119.1639.R71104 Confirmed. On 26/01/19 at 4:39 PM Tsh 4,500.00 sent to "
     "+255754123456. New balance is Tsh 15,200.00. Transaction cost: Makato Tsh 200.00.",
     "airtel_tz", "MP260119.1639.R71104", 450000, "TZS"},
    {12,
     "0426JXCX Confirmed. You have received TZS 175,000.00 from PERSON ONE - NMB (201XXXXXXXX) "
     "on 2025-04-26 11:50. Updated balance is TZS 175,000.00. Help 0800 714 888 / 0800 784 888",
     "selcom_pesa", "0426JXCX", 17500000, "TZS"},
    {13,
     "Payment received for GHS 47.50 from PHILIP AKUTSE AGBAVITOR Current Balance: GHS 131.47 . "
     "Available Balance: GHS 131.47. Reference: 71788. Transaction ID: 84157189921. "
     "TRANSACTION FEE: 0.00",
     "mtn_momo_gh", "84157189921", 4750, "GHS"},
    {14,
     "Trans. ID: 313821006060 You have sent 20GHS to 233261234567.  Your available balance is "
     "250.67GHS.",
     "mtn_momo_gh", "313821006060", 2000, "GHS"},
};

void expectParsed(const SmsParseResult& r, const CorpusRow& row) {
  EXPECT_TRUE(r.ok) << "reason: " << r.reason;
  EXPECT_EQ(r.wallet, row.wallet);
  EXPECT_EQ(r.transactionId, row.transactionId);
  EXPECT_EQ(r.amountMinor, row.amountMinor);
  EXPECT_EQ(r.currency, row.currency);
  EXPECT_EQ(r.reason, "");
}

void expectRejected(const SmsParseResult& r, const std::string& reason) {
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, reason);
  EXPECT_EQ(r.wallet, "");
  EXPECT_EQ(r.transactionId, "");
  EXPECT_EQ(r.amountMinor, 0);
  EXPECT_EQ(r.currency, "");
}

std::string lowerCased(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string replaceAll(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t pos = s.find(from); pos != std::string::npos;
       pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

// ---------------------------------------------------------------- the corpus

class CorpusTest : public ::testing::TestWithParam<CorpusRow> {};

TEST_P(CorpusTest, ParsesAsPrinted) {
  expectParsed(parseConfirmationSms(GetParam().text), GetParam());
}

TEST_P(CorpusTest, ParsesWhenLowerCased) {
  expectParsed(parseConfirmationSms(lowerCased(GetParam().text)), GetParam());
}

TEST_P(CorpusTest, ParsesWithLineBreaksAndExtraSpaces) {
  expectParsed(parseConfirmationSms(replaceAll(GetParam().text, " ", "  \r\n \t")), GetParam());
  expectParsed(parseConfirmationSms("\n\n   " + std::string(GetParam().text) + "   \n"),
               GetParam());
}

TEST_P(CorpusTest, ParsesWithNonBreakingSpacesNulsAndInvalidUtf8) {
  expectParsed(parseConfirmationSms(replaceAll(GetParam().text, " ", "\xC2\xA0")), GetParam());
  expectParsed(parseConfirmationSms(replaceAll(GetParam().text, " ", std::string(1, '\0'))),
               GetParam());
  expectParsed(parseConfirmationSms(replaceAll(GetParam().text, " ", " \xFF\xFE ")), GetParam());
}

INSTANTIATE_TEST_SUITE_P(SmsCorpus, CorpusTest, ::testing::ValuesIn(kCorpus),
                         [](const ::testing::TestParamInfo<CorpusRow>& info) {
                           return "row" + std::to_string(info.param.row);
                         });

// ---------------------------------------------------------------- pasted text

TEST(SmsParser, LineBreaksInsideLabelsAndBeforeAmounts) {
  const auto r = parseConfirmationSms(
      "Payment of TZS\n1000 to CVCHAPCHAP confirmed.\r\nTransaction\nID:\n   ABC123XYZ.\nThank "
      "you.");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.transactionId, "ABC123XYZ");
  EXPECT_EQ(r.amountMinor, 100000);
}

TEST(SmsParser, LowerCasedIdIsUpperCased) {
  const auto r = parseConfirmationSms(
      "payment of tzs 1000 to cvchapchap confirmed. transaction id: abc123xyz. thank you.");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.transactionId, "ABC123XYZ");
  EXPECT_EQ(r.wallet, "generic");
}

TEST(SmsParser, LostSpaceAfterIdDoesNotSwallowNextWord) {
  const auto r = parseConfirmationSms(
      "Payment of TZS 1000 to CVCHAPCHAP confirmed. Transaction ID: ABC123XYZ.Thank you.");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.transactionId, "ABC123XYZ");
}

TEST(SmsParser, LeadingIdGluedToConfirmed) {
  const auto r = parseConfirmationSms(
      "AGO2A7S9684Confirmed.You have received Tsh3,000.00 from JOHN. New M-Pesa balance is "
      "Tsh3,118.00.");
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.transactionId, "AGO2A7S9684");
  EXPECT_EQ(r.wallet, "mpesa_tz");
  EXPECT_EQ(r.amountMinor, 300000);
}

TEST(SmsParser, LabelWithoutSpaceOrColon) {
  // "TxnID" spelled as one word, and "Transaction ID" with the colon lost.
  auto r = parseConfirmationSms("You have received TSh 2,000 from JOHN. TxnID:13411949027.");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.transactionId, "13411949027");
  EXPECT_EQ(r.wallet, "tigo_pesa");
  r = parseConfirmationSms("Payment of TZS 1000 confirmed Transaction ID ABC123XYZ");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.transactionId, "ABC123XYZ");
}

// ---------------------------------------------------------------- English / Swahili twins
// The second text of each pair is constructed for this test (a translation of a corpus row),
// not a real fixture.

void expectSamePayment(const char* a, const char* b) {
  const auto ra = parseConfirmationSms(a);
  const auto rb = parseConfirmationSms(b);
  ASSERT_TRUE(ra.ok) << ra.reason;
  ASSERT_TRUE(rb.ok) << rb.reason;
  EXPECT_EQ(ra.transactionId, rb.transactionId);
  EXPECT_EQ(ra.amountMinor, rb.amountMinor);
  EXPECT_EQ(ra.currency, rb.currency);
  EXPECT_EQ(ra.wallet, rb.wallet);
}

TEST(SmsParser, EnglishAndSwahiliTwinsMpesa) {
  expectSamePayment(kCorpus[2].text,
                    "AGH3A5U9XY7 Confirmed on 17/7/23 at 4:23 PM You have received Tsh15,000.00 "
                    "from 100421 - Ibrahim Mohamed Ahmed H/O TILL Total fee Tsh1,645.00 (M-Pesa "
                    "fee Tsh1,450.00 + Government levy Tsh195.00). New M-Pesa balance is "
                    "Tsh0.93.");
  EXPECT_EQ(parseConfirmationSms(kCorpus[2].text).amountMinor, 1500000);
}

TEST(SmsParser, EnglishAndSwahiliTwinsTigo) {
  expectSamePayment(kCorpus[8].text,
                    "You have received a payment of TSh 12,500 from Vodacom; 255795820858 - "
                    "MICHAEL PONSIAN TxnId: 25450569480221. 17/12/25 18:08. Your new balance is "
                    "TSh 534,350. Thank you for using Lipa Kwa Simu.");
}

TEST(SmsParser, EnglishAndSwahiliTwinsAirtel) {
  expectSamePayment(kCorpus[10].text,
                    "Muamala No. MP260119.1639.R71104 Imethibitishwa. Tarehe 26/01/19 saa 4:39 "
                    "PM Umetuma Tsh 4,500.00 kwa +255754123456. Salio jipya ni Tsh 15,200.00. "
                    "Makato Tsh 200.00.");
  EXPECT_EQ(parseConfirmationSms(kCorpus[10].text).wallet, "airtel_tz");
}

// ---------------------------------------------------------------- balance and fees

class BalanceNeverAmountTest : public ::testing::TestWithParam<const char*> {};

TEST_P(BalanceNeverAmountTest, BalanceOrFeeBeforePayment) {
  const std::string text = std::string(GetParam()) +
                           " TSh 9,999.00. You have received TSh 1,000 from JOHN DOE. "
                           "TxnId: 12345678901.";
  const auto r = parseConfirmationSms(text);
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.amountMinor, 100000) << text;
}

TEST_P(BalanceNeverAmountTest, BalanceOrFeeAfterPayment) {
  const std::string text = "You have received TSh 1,000 from JOHN DOE. " + std::string(GetParam()) +
                           " TSh 9,999.00. TxnId: 12345678901.";
  const auto r = parseConfirmationSms(text);
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.amountMinor, 100000) << text;
}

TEST_P(BalanceNeverAmountTest, OnlyBalanceMeansNoAmount) {
  const std::string text = "AB12CD34EF5 Confirmed. " + std::string(GetParam()) + " Tsh 9,999.00.";
  expectRejected(parseConfirmationSms(text), "no_amount");
}

INSTANTIATE_TEST_SUITE_P(
    Keywords, BalanceNeverAmountTest,
    ::testing::Values("New balance", "New balance is", "Salio", "Salio ni", "Salio lako jipya ni",
                      "Your balance is", "Current Balance:", "Available Balance:", "Ada",
                      "Jumla ya Ada", "Transaction cost:", "Transaction cost: Makato",
                      "TRANSACTION FEE:", "Makato", "TOZO ya Serikali", "Bal."));

TEST(SmsParser, BalanceFirstThenPayment) {
  // Row 10 shape: the balance comes first, the payment right after it.
  const auto r = parseConfirmationSms(kCorpus[9].text);
  EXPECT_EQ(r.amountMinor, 5000000);
}

TEST(SmsParser, BalanceEqualToPaymentStillTakesPaymentPosition) {
  const auto r = parseConfirmationSms(
      "New balance is TSh 7,000. Cash-In of TSh 3,000 from Agent is successful. TxnId: "
      "13411949099.");
  EXPECT_EQ(r.amountMinor, 300000);
}

TEST(SmsParser, SentenceBreakLimitsTheKeywordWindow) {
  // "balance" in an earlier sentence does not make the payment a balance.
  const auto r = parseConfirmationSms(
      "Your balance was updated. Tsh 2,500 received from JOHN. TxnId: 13411949098.");
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.amountMinor, 250000);
}

TEST(SmsParser, PhoneNumberBeforeCurrencyIsNotAnAmount) {
  const auto r = parseConfirmationSms(
      "TID:MP260119.1639.R71105 Confirmed. Sent to 255754123456 Tsh 4,500.00. New balance is "
      "Tsh 15,200.00.");
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.amountMinor, 450000);
}

// ---------------------------------------------------------------- amount forms

TEST(SmsParser, AmountForms) {
  struct Case {
    const char* amount;
    std::int64_t minor;
    const char* currency;
  };
  const Case cases[] = {
      {"Tsh3,000.00", 300000, "TZS"},
      {"TSh 100,000", 10000000, "TZS"},
      {"TZS 175,000.00", 17500000, "TZS"},
      {"Tshs 2,500", 250000, "TZS"},
      {"Tshs2,500/=", 250000, "TZS"},
      {"Tsh. 500", 50000, "TZS"},
      {"TZS 1000", 100000, "TZS"},
      {"TZS 1,234,567.89", 123456789, "TZS"},
      {"GHS 47.50", 4750, "GHS"},
      {"GHS 5.5", 550, "GHS"},
      {"20GHS", 2000, "GHS"},
      {"250.67 GHS", 25067, "GHS"},
      {"5,000 Tsh", 500000, "TZS"},
  };
  for (const auto& c : cases) {
    const std::string text =
        std::string("You have received ") + c.amount + " from JOHN. TxnId: 13411949026.";
    const auto r = parseConfirmationSms(text);
    EXPECT_TRUE(r.ok) << text << " -> " << r.reason;
    EXPECT_EQ(r.amountMinor, c.minor) << text;
    EXPECT_EQ(r.currency, c.currency) << text;
  }
}

TEST(SmsParser, MalformedAmountsAreSkipped) {
  // Three decimals, an absurd number of digits, and zero are not a payment amount.
  for (const char* amount : {"GHS 1.250", "TZS 12345678901234567", "TZS 0", "TZS 0.00"}) {
    const std::string text =
        std::string("You have received ") + amount + " from JOHN. TxnId: 13411949026.";
    expectRejected(parseConfirmationSms(text), "no_amount");
  }
}

// ---------------------------------------------------------------- wallets and ids

TEST(SmsParser, SelcomPesaAcceptedPattern) {
  // Constructed from the documented pattern (8-9 character id, then "Accepted."), not real.
  const auto r = parseConfirmationSms(
      "0427KQWZ Accepted. You have paid TZS 25,000.00 to CVCHAPCHAP on 2025-04-27 09:10.");
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.wallet, "selcom_pesa");
  EXPECT_EQ(r.transactionId, "0427KQWZ");
  EXPECT_EQ(r.amountMinor, 2500000);
}

TEST(SmsParser, MpesaIdWithoutADigitIsTakenFromItsPosition) {
  // M-Pesa ids are ten random capitals: one may have no digit. The reference the customer
  // typed (80012345, a number) must not be taken for it.
  const std::string sms =
      "ABCDEFGHIJ Confirmed. Tsh1,000.00 sent to CVCHAPCHAP (Selcom) for reference 80012345 "
      "on 1/5/24 at 11:07 AM. New M-Pesa balance is Tsh23,500.00.";
  for (const std::string& text : {sms, lowerCased(sms), replaceAll(sms, " ", "\n ")}) {
    const auto r = parseConfirmationSms(text);
    EXPECT_TRUE(r.ok) << r.reason << ": " << text;
    EXPECT_EQ(r.transactionId, "ABCDEFGHIJ") << text;
    EXPECT_EQ(r.wallet, "mpesa_tz");
    EXPECT_EQ(r.amountMinor, 100000);
  }
  EXPECT_EQ(parseConfirmationSms(
                "ABCDEFGHIJConfirmed. Tsh1,000.00 sent to CVCHAPCHAP for reference 80012345.")
                .transactionId,
            "ABCDEFGHIJ");
  // The same after a transaction or wallet label.
  EXPECT_EQ(parseConfirmationSms(
                "Payment of TZS 1000 confirmed. Transaction ID: QWERTYUIOP. Ref: 80012345.")
                .transactionId,
            "QWERTYUIOP");
  EXPECT_EQ(parseConfirmationSms(
                "You have received TSh 2,000 from JOHN. Reference 80012345. TxnId: KLMNOPQRST.")
                .transactionId,
            "KLMNOPQRST");
}

TEST(SmsParser, WordsWhereAnIdWouldStandAreNotIds) {
  // A sentence that opens with a word, then "confirmed": the number after the label is the id.
  auto r = parseConfirmationSms(
      "Transaction confirmed. Tsh1,000.00 paid to CVCHAPCHAP. Reference: 80012345.");
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.transactionId, "80012345");
  // Letters after a mere "Reference" are no id (short or long).
  expectRejected(parseConfirmationSms("Payment received: TZS 1000. Reference: CVCHAPCHAP."),
                 "no_transaction_id");
  // Short words are never ids.
  r = parseConfirmationSms("PAYMENT Confirmed. Tsh1,000.00 sent. Reference 80012345.");
  EXPECT_EQ(r.transactionId, "80012345");
}

TEST(SmsParser, MtnTransactionIdBeatsEarlierReference) {
  const auto r = parseConfirmationSms(kCorpus[12].text);
  EXPECT_EQ(r.transactionId, "84157189921");
  EXPECT_NE(r.transactionId, "71788");
}

TEST(SmsParser, ReferenceIsAFallbackLabel) {
  const auto r = parseConfirmationSms("Payment received for GHS 10.00. Reference: 71789.");
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.transactionId, "71789");
  EXPECT_EQ(r.wallet, "mtn_momo_gh");
  EXPECT_EQ(r.amountMinor, 1000);
}

TEST(SmsParser, GenericLabelWithoutConfirmationWordIsNotAConfirmation) {
  // An invoice or reminder carries a reference and an amount but says nothing was paid.
  expectRejected(parseConfirmationSms("Invoice due: TZS 50,000. Reference: INV12345."),
                 "not_a_confirmation");
}

// ---------------------------------------------------------------- not a confirmation

TEST(SmsParser, EmptyInput) {
  expectRejected(parseConfirmationSms(""), "empty");
  expectRejected(parseConfirmationSms(" \r\n\t "), "empty");
  expectRejected(parseConfirmationSms(std::string(50, '\0')), "empty");
}

TEST(SmsParser, Hello) {
  expectRejected(parseConfirmationSms("hello"), "not_a_confirmation");
}

TEST(SmsParser, RandomParagraph) {
  expectRejected(
      parseConfirmationSms(
          "The long rains arrived early this year in Arusha, and the market at Kilombero was "
          "busier than usual. Farmers brought maize, beans and bananas, and prices held steady "
          "through the week. The council will meet again on 12/05 to discuss the new road."),
      "not_a_confirmation");
}

TEST(SmsParser, OtpMessage) {
  expectRejected(parseConfirmationSms("Your M-Pesa verification code is 482913. Do not share "
                                      "this code with anyone. It expires in 5 minutes."),
                 "not_a_confirmation");
}

TEST(SmsParser, TransactionIdLabelWithNothingAfter) {
  expectRejected(parseConfirmationSms("Transaction ID: "), "no_transaction_id");
  expectRejected(parseConfirmationSms("Transaction ID:"), "no_transaction_id");
  expectRejected(parseConfirmationSms("Transaction ID: ."), "no_transaction_id");
}

TEST(SmsParser, ConfirmationWithoutAnyId) {
  expectRejected(parseConfirmationSms("You have received TZS 5,000 from JOHN. Thank you."),
                 "no_transaction_id");
}

TEST(SmsParser, IdWithoutAnyAmount) {
  expectRejected(parseConfirmationSms("AGO2A7S9684 Confirmed. You have received money."),
                 "no_amount");
}

// ---------------------------------------------------------------- size and binary input

TEST(SmsParser, InputUpToTheCapIsParsed) {
  std::string text = kCorpus[0].text;
  text.resize(kMaxSmsBytes, ' ');
  EXPECT_TRUE(parseConfirmationSms(text).ok);
  text += ' ';
  expectRejected(parseConfirmationSms(text), "too_long");
}

TEST(SmsParser, OneMegabyteIsRejectedQuickly) {
  const std::string big = std::string(kCorpus[0].text) + std::string(1 << 20, 'A');
  const auto start = std::chrono::steady_clock::now();
  const auto r = parseConfirmationSms(big);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  expectRejected(r, "too_long");
  EXPECT_LT(elapsed, std::chrono::milliseconds(50));
}

TEST(SmsParser, WorstCaseInputsUnderTheCapAreFast) {
  // Inputs built to make every scanner do the most work: repeated labels, amounts, digits.
  const std::vector<std::string> pieces = {"TxnId: ",
                                           "Tsh 1,000.",
                                           "1,",
                                           "9",
                                           "Transaction ID: A1.B2.",
                                           "balance is Tsh 1 ",
                                           "A1B2C3D4E5 Confirmed ",
                                           ".",
                                           "Tsh",
                                           "REF REF ",
                                           "0.0.0.0."};
  const auto start = std::chrono::steady_clock::now();
  for (const auto& piece : pieces) {
    std::string text;
    while (text.size() + piece.size() <= kMaxSmsBytes) {
      text += piece;
    }
    for (int i = 0; i < 20; ++i) {
      const auto r = parseConfirmationSms(text);
      EXPECT_TRUE(r.ok || !r.reason.empty());
    }
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(SmsParser, RandomBytesNeverCrashAndKeepInvariants) {
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<std::size_t> length(0, kMaxSmsBytes + 100);
  for (int i = 0; i < 2000; ++i) {
    std::string text(length(rng), '\0');
    for (auto& c : text) {
      c = static_cast<char>(byte(rng));
    }
    const auto r = parseConfirmationSms(text);
    if (r.ok) {
      EXPECT_FALSE(r.transactionId.empty());
      EXPECT_GT(r.amountMinor, 0);
    } else {
      EXPECT_FALSE(r.reason.empty());
    }
  }
}

TEST(SmsParser, CorpusRowWithBinaryNoiseAround) {
  const std::string noise("\x00\xFF\xC3\x28\xE2\x82\x00\x01\x7F", 9);
  const auto r = parseConfirmationSms(noise + kCorpus[1].text + noise);
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.transactionId, "AGO2A7S9684");
  EXPECT_EQ(r.amountMinor, 300000);
}

}  // namespace
}  // namespace malipo::selcom
