#include "sms_parser.hpp"

#include <array>
#include <vector>

// A hand-written scanner rather than std::regex: std::regex recurses per character and can
// exhaust the stack on long input, and a scanner over a capped, normalised copy has a work
// bound that is easy to see (every pass is linear in the input times a small constant).

namespace malipo::selcom {
namespace {

constexpr std::size_t kNpos = std::string::npos;
constexpr std::size_t kMaxIdLength = 40;
constexpr std::size_t kMinLabelledIdLength = 5;  // "Reference: 71788"
constexpr std::size_t kMinLeadingIdLength = 8;   // "Z10DN636", "0426JXCX"
constexpr std::size_t kMaxLeadingIdLength = 12;  // "AGO2A7S9684" is 11
// An id without a digit (M-Pesa prints ten random capitals, e.g. "ABCDEFGHIJ") is taken only
// from an id's own position: first in the message before "Confirmed", or after a wallet or
// transaction label. Never after a mere "Reference" (a fallback label, often a word).
constexpr std::size_t kMinLettersOnlyIdLength = 8;
constexpr int kMaxIntegerDigits = 13;   // keeps amount * 100 far inside int64
constexpr int kKeywordWindowWords = 5;  // "Salio lako jipya ni TSh" needs 4

// Words that mark the amount right after them as a balance, fee or tax, never the payment.
constexpr std::array<std::string_view, 17> kBalanceOrFeeWords = {
    "BALANCE", "BAL",    "SALIO", "ADA",  "FEE", "FEES",       "COST",    "COSTS", "CHARGE",
    "CHARGES", "MAKATO", "TOZO",  "LEVY", "TAX", "COMMISSION", "GHARAMA", "KODI"};

// Words that say money actually moved; required when the id came from a generic label,
// so that an invoice or reminder with "Reference: ..." is not taken for a confirmation.
constexpr std::array<std::string_view, 13> kConfirmationWords = {
    "CONFIRMED",  "CONFIRMATION", "IMETHIBITISHWA", "RECEIVED", "UMEPOKEA",
    "SENT",       "UMETUMA",      "PAID",           "UMELIPA",  "ACCEPTED",
    "SUCCESSFUL", "IMEFANIKIWA",  "COMPLETED"};

// Words that can open a sentence where an id would stand ("Transaction confirmed."): never an
// id without a digit.
constexpr std::array<std::string_view, 16> kNotAnId = {
    "TRANSACTION", "TRANSACTIONS", "TRANSFER",     "TRANSFERS",      "PAYMENTS",   "WITHDRAWAL",
    "PURCHASE",    "CONFIRMED",    "CONFIRMATION", "IMETHIBITISHWA", "SUCCESSFUL", "SUCCESSFULLY",
    "COMPLETED",   "ACCEPTED",     "RECEIVED",     "REFERENCE"};

// Words that, right after a leading id, make it an M-Pesa / Selcom Pesa style confirmation.
constexpr std::array<std::string_view, 3> kLeadingConfirmWords = {"CONFIRMED", "IMETHIBITISHWA",
                                                                  "ACCEPTED"};

struct CurrencyMarker {
  std::string_view text;
  std::string_view iso;
};
// Longest first so that "TSHS" is not read as "TSH" followed by junk.
constexpr std::array<CurrencyMarker, 4> kCurrencyMarkers = {
    {{"TSHS", "TZS"}, {"TSH", "TZS"}, {"TZS", "TZS"}, {"GHS", "GHS"}}};

enum class IdSource { Tigo, Airtel, Leading, Generic };

struct Label {
  std::array<std::string_view, 2> words;
  std::size_t wordCount;
  IdSource source;
};

// Wallet-specific labels: these name the wallet by themselves.
constexpr std::array<Label, 4> kWalletLabels = {{
    {{"TXN", "ID"}, 2, IdSource::Tigo},  // also matches "TxnID:" (no space)
    {{"KUMBUKUMBU", "NO"}, 2, IdSource::Tigo},
    {{"TID", ""}, 1, IdSource::Airtel},
    {{"MUAMALA", "NO"}, 2, IdSource::Airtel},
}};
// Generic labels, strongest first: MTN prints "Reference:" before "Transaction ID:".
constexpr std::array<Label, 3> kTransactionLabels = {{
    {{"TRANSACTION", "ID"}, 2, IdSource::Generic},
    {{"TRANS", "ID"}, 2, IdSource::Generic},
    {{"TRANSACTION", "NO"}, 2, IdSource::Generic},
}};
constexpr std::array<Label, 4> kReferenceLabels = {{
    {{"REFERENCE", "NO"}, 2, IdSource::Generic},
    {{"REFERENCE", ""}, 1, IdSource::Generic},
    {{"REF", "NO"}, 2, IdSource::Generic},
    {{"REF", ""}, 1, IdSource::Generic},
}};

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
bool isUpper(char c) {
  return c >= 'A' && c <= 'Z';
}
// Valid only on normalised text, which has no lower-case letters left.
bool isAlnum(char c) {
  return isDigit(c) || isUpper(c);
}

char at(const std::string& s, std::size_t i) {
  return i < s.size() ? s[i] : '\0';
}

bool startsWith(const std::string& s, std::size_t pos, std::string_view word) {
  return pos <= s.size() && s.size() - pos >= word.size() &&
         std::string_view(s).substr(pos, word.size()) == word;
}

bool isWordStart(const std::string& s, std::size_t i) {
  return i == 0 || !isAlnum(s[i - 1]);
}

// Upper-cases ASCII and turns every run of whitespace, control bytes and non-ASCII bytes
// into one space. Pasted text gains line breaks, NBSPs and doubled spaces; none of them
// carry meaning here, and dropping non-ASCII bytes means invalid UTF-8 cannot hurt.
std::string normalise(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  bool pendingSpace = false;
  for (const char raw : in) {
    auto c = static_cast<unsigned char>(raw);
    if (c <= 0x20 || c >= 0x7F) {
      pendingSpace = !out.empty();
      continue;
    }
    if (c >= 'a' && c <= 'z') {
      c = static_cast<unsigned char>(c - 'a' + 'A');
    }
    if (pendingSpace) {
      out += ' ';
      pendingSpace = false;
    }
    out += static_cast<char>(c);
  }
  return out;
}

struct Word {
  std::size_t start;
  std::size_t end;
};

std::vector<Word> splitWords(const std::string& s) {
  std::vector<Word> words;
  std::size_t i = 0;
  while (i < s.size()) {
    if (!isAlnum(s[i])) {
      ++i;
      continue;
    }
    const std::size_t start = i;
    while (i < s.size() && isAlnum(s[i])) {
      ++i;
    }
    words.push_back({start, i});
  }
  return words;
}

template <std::size_t N>
bool isOneOf(std::string_view word, const std::array<std::string_view, N>& list) {
  for (const auto& entry : list) {
    if (word == entry) {
      return true;
    }
  }
  return false;
}

template <std::size_t N>
bool containsAnyWord(const std::string& s, const std::vector<Word>& words,
                     const std::array<std::string_view, N>& list) {
  for (const auto& w : words) {
    if (isOneOf(std::string_view(s).substr(w.start, w.end - w.start), list)) {
      return true;
    }
  }
  return false;
}

// True when `needle` occurs starting at a word boundary ("M-PESA", "POCHI").
bool mentions(const std::string& s, std::string_view needle) {
  for (std::size_t pos = s.find(needle); pos != kNpos; pos = s.find(needle, pos + 1)) {
    if (isWordStart(s, pos)) {
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------- transaction id

// True for a token without a digit that may still be an id in an id's own position.
bool isLettersOnlyId(std::string_view id) {
  return id.size() >= kMinLettersOnlyIdLength && id.size() <= kMaxLeadingIdLength &&
         !isOneOf(id, kNotAnId);
}

// Reads an id token at `pos`: [A-Z0-9] with inner '.' or '-' kept only when what follows
// looks like more id ("PP141141.1843.D06413"), so "ABC123XYZ.THANK YOU" (a lost space)
// still ends at the dot. Returns "" unless it has a plausible length and a digit (or, when
// `lettersOnly`, is a plausible id without one).
std::string readId(const std::string& s, std::size_t pos, std::size_t minLength, bool lettersOnly) {
  std::size_t j = pos;
  bool hasDigit = false;
  while (j < s.size() && j - pos <= kMaxIdLength) {
    const char c = s[j];
    if (isAlnum(c)) {
      hasDigit = hasDigit || isDigit(c);
      ++j;
      continue;
    }
    const bool joiner = (c == '.' || c == '-') && j > pos &&
                        (isDigit(at(s, j + 1)) || (isUpper(at(s, j + 1)) && isDigit(at(s, j + 2))));
    if (!joiner) {
      break;
    }
    ++j;
  }
  const std::size_t length = j - pos;
  if (length < minLength || length > kMaxIdLength) {
    return {};
  }
  if (!hasDigit && !(lettersOnly && isLettersOnlyId(std::string_view(s).substr(pos, length)))) {
    return {};
  }
  return s.substr(pos, length);
}

// Matches `label` at `pos` and returns where its value starts, or kNpos. Label words may be
// joined by spaces or dots or nothing ("TxnId", "Trans. ID"); after the label there must be
// some separator (":", ".", " ", ...) so that "REF" does not match inside "REFERENCE".
std::size_t matchLabel(const std::string& s, std::size_t pos, const Label& label) {
  if (!isWordStart(s, pos)) {
    return kNpos;
  }
  std::size_t i = pos;
  for (std::size_t w = 0; w < label.wordCount; ++w) {
    if (w > 0) {
      while (i < s.size() && (s[i] == ' ' || s[i] == '.')) {
        ++i;
      }
    }
    if (!startsWith(s, i, label.words[w])) {
      return kNpos;
    }
    i += label.words[w].size();
  }
  const std::size_t separatorStart = i;
  while (i < s.size() &&
         (s[i] == ' ' || s[i] == '.' || s[i] == ':' || s[i] == '#' || s[i] == '-' || s[i] == '=')) {
    ++i;
  }
  if (i == separatorStart && i < s.size()) {
    return kNpos;
  }
  return i;
}

struct IdMatch {
  std::string id;
  IdSource source = IdSource::Generic;
  bool labelSeen = false;  // a label was present, even if nothing usable followed it
};

template <std::size_t N>
bool findLabelledId(const std::string& s, const std::array<Label, N>& labels, bool lettersOnly,
                    IdMatch& match) {
  for (std::size_t pos = 0; pos < s.size(); ++pos) {
    if (!isUpper(s[pos]) || !isWordStart(s, pos)) {
      continue;
    }
    for (const auto& label : labels) {
      const std::size_t valueStart = matchLabel(s, pos, label);
      if (valueStart == kNpos) {
        continue;
      }
      match.labelSeen = true;
      std::string id = readId(s, valueStart, kMinLabelledIdLength, lettersOnly);
      if (!id.empty()) {
        match.id = std::move(id);
        match.source = label.source;
        return true;
      }
    }
  }
  return false;
}

bool isLeadingIdShape(std::string_view id) {
  if (id.size() < kMinLeadingIdLength || id.size() > kMaxLeadingIdLength) {
    return false;
  }
  for (const char c : id) {
    if (isDigit(c)) {
      return true;
    }
  }
  return isLettersOnlyId(id);
}

// M-Pesa and Selcom Pesa open with the id, then "Confirmed" / "Imethibitishwa" / "Accepted".
// Also accepts the id glued to that word when a space was lost ("AGO2A7S9684CONFIRMED").
bool findLeadingId(const std::string& s, const std::vector<Word>& words, IdMatch& match,
                   bool& acceptedWord) {
  if (words.empty()) {
    return false;
  }
  const std::string_view first =
      std::string_view(s).substr(words[0].start, words[0].end - words[0].start);
  if (words.size() > 1 && isLeadingIdShape(first)) {
    const std::string_view next =
        std::string_view(s).substr(words[1].start, words[1].end - words[1].start);
    for (const auto& keyword : kLeadingConfirmWords) {
      if (next.substr(0, keyword.size()) == keyword) {
        match.id = std::string(first);
        match.source = IdSource::Leading;
        acceptedWord = keyword == "ACCEPTED";
        return true;
      }
    }
  }
  for (const auto& keyword : kLeadingConfirmWords) {
    if (first.size() > keyword.size() && first.substr(first.size() - keyword.size()) == keyword &&
        isLeadingIdShape(first.substr(0, first.size() - keyword.size()))) {
      match.id = std::string(first.substr(0, first.size() - keyword.size()));
      match.source = IdSource::Leading;
      acceptedWord = keyword == "ACCEPTED";
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------- amounts

struct Money {
  std::size_t start;  // where the amount phrase starts (currency or first digit)
  std::size_t end;
  std::int64_t minor;
  std::string_view currency;
};

// Parses "3,000.00", "100,000", "1000", "47.50", "0.93" at `pos`. Thousands groups need
// exactly three digits; more than two decimals is not a money amount.
bool parseNumber(const std::string& s, std::size_t pos, std::int64_t& minor, std::size_t& end) {
  std::size_t j = pos;
  std::int64_t whole = 0;
  int digits = 0;
  while (j < s.size() && isDigit(s[j])) {
    if (++digits > kMaxIntegerDigits) {
      return false;
    }
    whole = whole * 10 + (s[j] - '0');
    ++j;
  }
  if (digits == 0) {
    return false;
  }
  const int leadingGroup = digits;
  while (leadingGroup <= 3 && at(s, j) == ',' && isDigit(at(s, j + 1)) && isDigit(at(s, j + 2)) &&
         isDigit(at(s, j + 3)) && !isDigit(at(s, j + 4))) {
    digits += 3;
    if (digits > kMaxIntegerDigits) {
      return false;
    }
    whole = whole * 1000 + (s[j + 1] - '0') * 100 + (s[j + 2] - '0') * 10 + (s[j + 3] - '0');
    j += 4;
  }
  std::int64_t fraction = 0;
  if (at(s, j) == '.' && isDigit(at(s, j + 1))) {
    if (isDigit(at(s, j + 2))) {
      if (isDigit(at(s, j + 3))) {
        return false;
      }
      fraction = (s[j + 1] - '0') * 10 + (s[j + 2] - '0');
      j += 3;
    } else {
      fraction = (s[j + 1] - '0') * 10;
      j += 2;
    }
  }
  minor = whole * 100 + fraction;
  end = j;
  return true;
}

// "TSH5,000.00", "TSh 100,000", "Tsh. 500", "GHS 47.50"
bool readPrefixedAmount(const std::string& s, std::size_t pos, Money& money) {
  for (const auto& marker : kCurrencyMarkers) {
    if (!startsWith(s, pos, marker.text) || isUpper(at(s, pos + marker.text.size()))) {
      continue;
    }
    std::size_t j = pos + marker.text.size();
    if (at(s, j) == '.' || at(s, j) == ':') {
      ++j;
    }
    if (at(s, j) == ' ') {
      ++j;
    }
    std::int64_t minor = 0;
    std::size_t end = 0;
    if (isDigit(at(s, j)) && parseNumber(s, j, minor, end)) {
      money = {pos, end, minor, marker.iso};
      return true;
    }
    return false;
  }
  return false;
}

// "20GHS", "250.67GHS", "5,000 TSH". The currency must not start a prefixed amount of its
// own, so "to 255754123456 Tsh 4,500" does not read the phone number as money.
bool readSuffixedAmount(const std::string& s, std::size_t numberEnd, std::size_t pos,
                        std::int64_t minor, Money& money) {
  std::size_t j = numberEnd;
  if (at(s, j) == ' ') {
    ++j;
  }
  for (const auto& marker : kCurrencyMarkers) {
    const std::size_t after = j + marker.text.size();
    if (!startsWith(s, j, marker.text) || isAlnum(at(s, after))) {
      continue;
    }
    std::size_t k = after;
    if (at(s, k) == '.' || at(s, k) == ':') {
      ++k;
    }
    if (at(s, k) == ' ') {
      ++k;
    }
    if (isDigit(at(s, k))) {
      return false;
    }
    money = {pos, after, minor, marker.iso};
    return true;
  }
  return false;
}

// A digit starts a number unless it continues one ("1,450" or "0.93" split by punctuation).
bool isNumberStart(const std::string& s, std::size_t i) {
  if (i == 0) {
    return true;
  }
  const char prev = s[i - 1];
  if (isAlnum(prev)) {
    return false;
  }
  return !((prev == '.' || prev == ',') && i >= 2 && isDigit(s[i - 2]));
}

std::vector<Money> findMoney(const std::string& s) {
  std::vector<Money> found;
  std::size_t i = 0;
  while (i < s.size()) {
    Money money{};
    if (isUpper(s[i]) && isWordStart(s, i)) {
      if (readPrefixedAmount(s, i, money)) {
        found.push_back(money);
        i = money.end;
        continue;
      }
    } else if (isDigit(s[i]) && isNumberStart(s, i)) {
      std::int64_t minor = 0;
      std::size_t end = 0;
      if (parseNumber(s, i, minor, end)) {
        if (readSuffixedAmount(s, end, i, minor, money)) {
          found.push_back(money);
          i = money.end;
        } else {
          i = end;  // a plain number (date, phone, id): skip it whole
        }
        continue;
      }
    }
    ++i;
  }
  return found;
}

// A '.' ends a sentence unless it sits between digits (a decimal point); ';' '!' '?' always do.
bool hasSentenceBreak(const std::string& s, std::size_t from, std::size_t to) {
  for (std::size_t q = from; q < to && q < s.size(); ++q) {
    const char c = s[q];
    if (c == ';' || c == '!' || c == '?') {
      return true;
    }
    if (c == '.' && !(q > 0 && isDigit(s[q - 1]) && isDigit(at(s, q + 1)))) {
      return true;
    }
  }
  return false;
}

// Looks back up to kKeywordWindowWords words from the amount, not past the previous amount
// and not into an earlier sentence, for a balance/fee word. The word just before the amount
// is checked even when a '.' follows it, so abbreviations like "Bal. Tsh 500" still count.
bool isBalanceOrFee(const std::string& s, const std::vector<Word>& words, std::size_t amountStart,
                    std::size_t previousAmountEnd) {
  std::size_t k = 0;  // index of the first word at or after the amount
  while (k < words.size() && words[k].start < amountStart) {
    ++k;
  }
  int seen = 0;
  for (std::size_t j = k; j-- > 0 && seen < kKeywordWindowWords; ++seen) {
    if (words[j].start < previousAmountEnd) {
      break;
    }
    const std::size_t gapEnd = (j + 1 < k) ? words[j + 1].start : amountStart;
    const bool sentenceBreak = hasSentenceBreak(s, words[j].end, gapEnd);
    if (j + 1 < k && sentenceBreak) {
      break;  // words[j] belongs to an earlier sentence
    }
    const std::string_view word =
        std::string_view(s).substr(words[j].start, words[j].end - words[j].start);
    if (isOneOf(word, kBalanceOrFeeWords)) {
      return true;
    }
    if (sentenceBreak) {
      break;
    }
  }
  return false;
}

// The first non-zero amount that is not a balance or a fee.
const Money* pickPayment(const std::string& s, const std::vector<Word>& words,
                         const std::vector<Money>& money) {
  std::size_t previousEnd = 0;
  for (const auto& m : money) {
    if (m.minor > 0 && !isBalanceOrFee(s, words, m.start, previousEnd)) {
      return &m;
    }
    previousEnd = m.end;
  }
  return nullptr;
}

// ---------------------------------------------------------------- wallet

std::string leadingWallet(const std::string& s, const IdMatch& match, bool acceptedWord) {
  if (mentions(s, "M-PESA") || mentions(s, "MPESA") || mentions(s, "M PESA") ||
      mentions(s, "POCHI")) {
    return "mpesa_tz";
  }
  if (acceptedWord || mentions(s, "SELCOM")) {
    return "selcom_pesa";
  }
  // Neither wallet is named: go by the id. M-Pesa ids start with a letter; the only Selcom
  // Pesa sample ("0426JXCX", sent on 04-26) is 8 characters and starts with digits.
  if (match.id.size() <= 9 && isDigit(match.id[0])) {
    return "selcom_pesa";
  }
  return "mpesa_tz";
}

SmsParseResult failure(const char* reason) {
  SmsParseResult result;
  result.reason = reason;
  return result;
}

}  // namespace

SmsParseResult parseConfirmationSms(std::string_view text) {
  if (text.empty()) {
    return failure("empty");
  }
  if (text.size() > kMaxSmsBytes) {
    return failure("too_long");
  }
  const std::string s = normalise(text);
  if (s.empty()) {
    return failure("empty");
  }
  const std::vector<Word> words = splitWords(s);
  const std::vector<Money> money = findMoney(s);
  const bool confirmationWord = containsAnyWord(s, words, kConfirmationWords);

  IdMatch match;
  bool acceptedWord = false;
  // Ids come from their labelled positions first; "Reference" is only a fallback.
  const bool found = findLabelledId(s, kWalletLabels, true, match) ||
                     findLeadingId(s, words, match, acceptedWord) ||
                     findLabelledId(s, kTransactionLabels, true, match) ||
                     findLabelledId(s, kReferenceLabels, false, match);
  if (!found) {
    return failure(match.labelSeen || (!money.empty() && confirmationWord) ? "no_transaction_id"
                                                                           : "not_a_confirmation");
  }
  if (match.source == IdSource::Generic && !confirmationWord) {
    return failure("not_a_confirmation");
  }
  const Money* payment = pickPayment(s, words, money);
  if (payment == nullptr) {
    return failure("no_amount");
  }

  SmsParseResult result;
  result.ok = true;
  result.transactionId = match.id;
  result.amountMinor = payment->minor;
  result.currency = std::string(payment->currency);
  switch (match.source) {
    case IdSource::Tigo:
      result.wallet = "tigo_pesa";
      break;
    case IdSource::Airtel:
      result.wallet = "airtel_tz";
      break;
    case IdSource::Leading:
      result.wallet = leadingWallet(s, match, acceptedWord);
      break;
    case IdSource::Generic:
      result.wallet = (result.currency == "GHS" || mentions(s, "MTN") || mentions(s, "MOMO"))
                          ? "mtn_momo_gh"
                          : "generic";
      break;
  }
  return result;
}

}  // namespace malipo::selcom
