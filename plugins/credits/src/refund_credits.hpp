// How many credits a refund takes back: pure, so it is unit-tested without a kernel.
#pragma once

#include <algorithm>
#include <cstdint>

namespace malipo::credits {

// The credits a refund of `amountMinor` takes back from a payment that bought `credits` for
// `paidMinor`, after earlier refunds of `refundedMinor` that took back `takenBack`:
// proportional and cumulative, rounded up: ceil(credits × refunded-so-far / paid) minus what
// was taken back already. So partial refunds that add up to the whole payment take back
// exactly `credits` (never more), and any refund of part of the money takes back at least
// the credits that part paid for (1 kobo of a 10-credit NGN 5000 payment takes back 1).
inline std::int64_t refundCredits(std::int64_t credits, std::int64_t paidMinor,
                                  std::int64_t refundedMinor, std::int64_t takenBack,
                                  std::int64_t amountMinor) {
  if (credits <= 0 || paidMinor <= 0 || amountMinor <= 0) return 0;
  std::int64_t total = std::min(paidMinor, std::max<std::int64_t>(0, refundedMinor) + amountMinor);
  // Exact for any int64 figures: the product is computed in 128 bits.
  __extension__ typedef __int128 Wide;
  Wide num = static_cast<Wide>(credits) * total;
  std::int64_t due = static_cast<std::int64_t>((num + paidMinor - 1) / paidMinor);
  return std::max<std::int64_t>(0, std::min(credits, due) - std::max<std::int64_t>(0, takenBack));
}

}  // namespace malipo::credits
