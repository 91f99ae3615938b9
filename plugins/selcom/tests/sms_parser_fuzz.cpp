// libFuzzer target for parseConfirmationSms.
// Build: clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -I<selcom>/src
//        sms_parser_fuzz.cpp ../src/sms_parser.cpp
// Besides crashes and timeouts it checks the result contract and two invariances the parser
// promises: case does not matter, and one separator byte is as good as another.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sms_parser.hpp"

namespace {

using malipo::selcom::parseConfirmationSms;
using malipo::selcom::SmsParseResult;

void check(bool condition) {
  if (!condition) {
    std::abort();  // libFuzzer records the input that broke the invariant
  }
}

bool oneOf(const std::string& value, std::initializer_list<std::string_view> allowed) {
  for (const auto& a : allowed) {
    if (value == a) {
      return true;
    }
  }
  return false;
}

void checkContract(const SmsParseResult& r) {
  if (r.ok) {
    check(r.reason.empty());
    check(!r.transactionId.empty() && r.transactionId.size() <= 40);
    for (const char c : r.transactionId) {
      check((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-');
    }
    check(r.amountMinor > 0);
    check(oneOf(r.currency, {"TZS", "GHS"}));
    check(oneOf(r.wallet,
                {"mpesa_tz", "tigo_pesa", "airtel_tz", "selcom_pesa", "mtn_momo_gh", "generic"}));
  } else {
    check(oneOf(r.reason,
                {"empty", "too_long", "not_a_confirmation", "no_transaction_id", "no_amount"}));
    check(r.wallet.empty() && r.transactionId.empty() && r.currency.empty());
    check(r.amountMinor == 0);
  }
}

bool sameResult(const SmsParseResult& a, const SmsParseResult& b) {
  return a.ok == b.ok && a.wallet == b.wallet && a.transactionId == b.transactionId &&
         a.amountMinor == b.amountMinor && a.currency == b.currency && a.reason == b.reason;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const SmsParseResult result = parseConfirmationSms(text);
  checkContract(result);

  // Same-length rewrites must not change the answer.
  std::string lower = text;
  std::string respaced = text;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 'A' && c <= 'Z') {
      lower[i] = static_cast<char>(c - 'A' + 'a');
    }
    if (c == ' ' || c == '\t' || c >= 0x80 || c == 0) {
      respaced[i] = '\n';
    }
  }
  check(sameResult(result, parseConfirmationSms(lower)));
  check(sameResult(result, parseConfirmationSms(respaced)));
  return 0;
}
