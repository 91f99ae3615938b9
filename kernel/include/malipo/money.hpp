// Money at the edges: integer minor units inside, major-unit text in config and on the wire.
// Header-only; thread-safe (pure functions).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

namespace malipo {

// ISO 4217 minor-unit exponent (2 unless the currency has no minor unit).
inline int currencyExponent(const std::string& currency) {
  static const char* zero[] = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
                               "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"};
  for (const char* c : zero)
    if (currency == c) return 0;
  if (currency == "BHD" || currency == "IQD" || currency == "JOD" || currency == "KWD" ||
      currency == "LYD" || currency == "OMR" || currency == "TND")
    return 3;
  return 2;
}

inline bool validCurrency(const std::string& c) {
  return c.size() == 3 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z' && c[2] >= 'A' &&
         c[2] <= 'Z';
}

// "1000" or "10.50" in major units → minor units; nullopt when not a plain decimal with at
// most the currency's decimals (no sign, no exponent, no thousands separators).
inline std::optional<std::int64_t> parseMajor(const std::string& text,
                                              const std::string& currency) {
  int exp = currencyExponent(currency);
  std::int64_t whole = 0, frac = 0;
  int fracDigits = 0;
  bool dot = false, any = false;
  for (char c : text) {
    if (c == '.') {
      if (dot) return std::nullopt;
      dot = true;
      continue;
    }
    if (c < '0' || c > '9') return std::nullopt;
    any = true;
    if (dot) {
      if (++fracDigits > exp) {
        if (c != '0') return std::nullopt;  // "10.500" is fine, "10.505" is not
        --fracDigits;
        continue;
      }
      frac = frac * 10 + (c - '0');
    } else {
      if (whole > 9000000000000LL) return std::nullopt;
      whole = whole * 10 + (c - '0');
    }
  }
  if (!any) return std::nullopt;
  for (int i = fracDigits; i < exp; ++i) frac *= 10;
  std::int64_t scale = 1;
  for (int i = 0; i < exp; ++i) scale *= 10;
  return whole * scale + frac;
}

// Minor units → "1000" (exponent 0 or whole amounts when trimWhole) or "10.50".
inline std::string formatMajor(std::int64_t minor, const std::string& currency,
                               bool trimWhole = false) {
  int exp = currencyExponent(currency);
  std::int64_t scale = 1;
  for (int i = 0; i < exp; ++i) scale *= 10;
  bool neg = minor < 0;
  std::uint64_t m = static_cast<std::uint64_t>(neg ? -minor : minor);
  std::string out = (neg ? "-" : "") + std::to_string(m / static_cast<std::uint64_t>(scale));
  std::uint64_t frac = m % static_cast<std::uint64_t>(scale);
  if (exp > 0 && !(trimWhole && frac == 0)) {
    std::string f = std::to_string(frac);
    out += "." + std::string(static_cast<std::size_t>(exp) - f.size(), '0') + f;
  }
  return out;
}

}  // namespace malipo
