// Parser for the mobile-money confirmation SMS a customer pastes as proof of a manual payment.
//
// Pure and bounded: input over kMaxSmsBytes is rejected up front, there is no regex, and
// every scan is a short loop over that capped, normalised copy. The result is a claim to
// check against Selcom (order status), never proof of payment by itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace malipo::selcom {

// Inputs longer than this are rejected with reason "too_long" rather than parsed in part:
// a real confirmation, even a multi-part SMS, is well under 1,000 characters, and parsing a
// prefix of something that long would only invite picking an id out of unrelated text.
inline constexpr std::size_t kMaxSmsBytes = 2000;

struct SmsParseResult {
  bool ok = false;
  // "mpesa_tz", "tigo_pesa", "airtel_tz", "selcom_pesa", "mtn_momo_gh", "generic"
  std::string wallet;
  // As printed, upper-cased: [A-Z0-9] with inner '.' or '-' (e.g. "PP141141.1843.D06413").
  std::string transactionId;
  // Minor units; TZS and GHS both have 2 decimals (TZS 1000 -> 100000, GHS 47.50 -> 4750).
  std::int64_t amountMinor = 0;
  // ISO 4217 of the payment amount: "TZS" or "GHS".
  std::string currency;
  // Only when !ok: "empty", "too_long", "not_a_confirmation", "no_transaction_id", "no_amount".
  std::string reason;
};

// Extracts wallet, transaction id and payment amount from a confirmation SMS.
// The amount is the first money amount not introduced by a balance or fee word
// (balance, salio, ada, fee, cost, makato, ...) within the few words before it.
// On failure every field except `reason` is left empty / zero.
SmsParseResult parseConfirmationSms(std::string_view text);

}  // namespace malipo::selcom
