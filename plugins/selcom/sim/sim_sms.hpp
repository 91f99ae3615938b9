// The confirmation SMS the simulator hands back when a customer "pays", in the M-Pesa
// Tanzania style of the corpus (providers/sms-corpus.md, row 5), so that a person or a test
// can paste it as proof and the real parser reads it. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace malipo::selcom::sim {

// "<transid> Confirmed. Tsh1,000.00 sent to CVCHAPCHAP (Selcom) for reference 80012345 on
// 5/4/24 at 6:06 PM. New M-Pesa balance is Tsh23,500.00."
std::string confirmationSms(const std::string& transid, std::int64_t amountMajor,
                            const std::string& vendor, const std::string& reference,
                            std::int64_t epochMs, std::int64_t balanceMajor);

// 1234567 → "1,234,567".
std::string groupThousands(std::int64_t n);

}  // namespace malipo::selcom::sim
