// What may reach a log line. Every field the kernel logs (its own, the access log, plugins')
// passes through here before it is formatted, so no caller has to remember:
// - control characters (CR, LF, ESC, …) and invalid UTF-8 are written as \n, \r, \t, \xHH,
//   so nothing a client sends (a `%0a` in a path) can forge a line or corrupt a terminal;
// - phone numbers (9–15 digits, spaces or dashes between groups allowed, optional '+') and
//   card numbers (up to 19 digits) keep only their last 3 digits: `*********666`;
// - email addresses keep the first character of the local part: `j***@example.com`.
// Digit runs inside identifiers (preceded or followed by a letter, '-', '_' or '.', as in
// UUIDs and provider references) are left alone.
#pragma once

#include <string>
#include <string_view>

namespace malipo {

// Appends the sanitised `text` to `out`.
void appendSanitized(std::string& out, std::string_view text);

inline std::string sanitizeForLog(std::string_view text) {
  std::string out;
  appendSanitized(out, text);
  return out;
}

}  // namespace malipo
