#include "sim_sms.hpp"

#include <Poco/DateTime.h>
#include <Poco/Timestamp.h>

namespace malipo::selcom::sim {

std::string groupThousands(std::int64_t n) {
  bool negative = n < 0;
  std::string digits = std::to_string(negative ? -n : n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return negative ? "-" + out : out;
}

std::string confirmationSms(const std::string& transid, std::int64_t amountMajor,
                            const std::string& vendor, const std::string& reference,
                            std::int64_t epochMs, std::int64_t balanceMajor) {
  // East Africa Time (UTC+3, no daylight saving), as the customer's phone would print it.
  Poco::DateTime t(Poco::Timestamp((epochMs + 3 * 3600 * 1000LL) * 1000));
  std::string minute = (t.minute() < 10 ? "0" : "") + std::to_string(t.minute());
  std::string when = std::to_string(t.day()) + "/" + std::to_string(t.month()) + "/" +
                     std::to_string(t.year() % 100) + " at " + std::to_string(t.hourAMPM()) + ":" +
                     minute + (t.isAM() ? " AM" : " PM");
  return transid + " Confirmed. Tsh" + groupThousands(amountMajor) + ".00 sent to " + vendor +
         " (Selcom) for reference " + reference + " on " + when + ". New M-Pesa balance is Tsh" +
         groupThousands(balanceMajor) + ".00.";
}

}  // namespace malipo::selcom::sim
