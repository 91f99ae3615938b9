#include "app/LogSanitizer.hpp"

namespace malipo {

namespace {

bool isDigit(unsigned char c) {
  return c >= '0' && c <= '9';
}
bool isAlpha(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
// A character that makes a neighbouring digit run part of an identifier.
bool isIdChar(unsigned char c) {
  return isDigit(c) || isAlpha(c) || c == '-' || c == '_' || c == '.';
}
bool isLocalPartChar(unsigned char c) {
  return isDigit(c) || isAlpha(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}
bool isDomainChar(unsigned char c) {
  return isDigit(c) || isAlpha(c) || c == '.' || c == '-';
}

void appendHex(std::string& out, unsigned char c) {
  static const char* hex = "0123456789abcdef";
  out += "\\x";
  out += hex[c >> 4];
  out += hex[c & 0x0f];
}

// Length of the valid UTF-8 sequence starting at text[i], or 0.
std::size_t utf8Length(std::string_view text, std::size_t i) {
  unsigned char c = static_cast<unsigned char>(text[i]);
  std::size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
  if (n == 0 || i + n > text.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80) return 0;
  unsigned char c1 = static_cast<unsigned char>(text[i + 1]);
  if (n == 3 && ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 > 0x9f)))
    return 0;  // overlong, surrogates
  if (n == 4 && ((c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 > 0x8f)))
    return 0;  // overlong, > U+10FFFF
  return n;
}

// A phone or card number starting at `i` (an optional '+', digits with single spaces or dashes
// between groups): its end, and the digits it holds; 0 when there is none worth masking.
std::size_t numberEnd(std::string_view text, std::size_t i, std::string& digits) {
  digits.clear();
  std::size_t j = i;
  if (text[j] == '+') ++j;
  std::size_t end = j;
  while (j < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[j]);
    if (isDigit(c)) {
      digits += static_cast<char>(c);
      end = ++j;
    } else if ((c == ' ' || c == '-') && j + 1 < text.size() &&
               isDigit(static_cast<unsigned char>(text[j + 1])) && !digits.empty()) {
      ++j;
    } else {
      break;
    }
  }
  if (digits.size() < 9 || digits.size() > 19) return 0;
  if (end < text.size() && (isAlpha(static_cast<unsigned char>(text[end])) || text[end] == '_'))
    return 0;
  return end;
}

}  // namespace

namespace {
// True when `text` has nothing to escape or mask (the common case: an access-log line): no
// control or non-ASCII byte, no '@', and no run of 9 or more digits, counting single spaces,
// dashes and '+' between them as the slow path does.
bool plain(std::string_view text) {
  int digits = 0;
  bool lastSeparator = false;
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7f || c == '@') return false;
    if (isDigit(c)) {
      if (++digits >= 9) return false;
      lastSeparator = false;
    } else if ((c == ' ' || c == '-' || c == '+') && !lastSeparator) {
      lastSeparator = true;
    } else {
      digits = 0;
      lastSeparator = false;
    }
  }
  return true;
}
}  // namespace

void appendSanitized(std::string& out, std::string_view text) {
  if (plain(text)) {
    out.append(text);
    return;
  }
  std::string digits;
  std::size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    bool boundary = i == 0 || !isIdChar(static_cast<unsigned char>(text[i - 1]));
    if ((isDigit(c) ||
         (c == '+' && i + 1 < text.size() && isDigit(static_cast<unsigned char>(text[i + 1])))) &&
        boundary) {
      if (std::size_t end = numberEnd(text, i, digits)) {
        out.append(digits.size() - 3, '*').append(digits, digits.size() - 3, 3);
        i = end;
        continue;
      }
      // Not a number worth masking: copy its digits as they are.
      while (i < text.size() && (isDigit(static_cast<unsigned char>(text[i])) || text[i] == '+'))
        out += text[i++];
      continue;
    }
    if (c == '@' && i > 0 && isLocalPartChar(static_cast<unsigned char>(text[i - 1]))) {
      // An email address: find where its local part began (already copied) and its domain.
      std::size_t start = out.size();
      while (start > 0 && isLocalPartChar(static_cast<unsigned char>(out[start - 1]))) --start;
      std::size_t d = i + 1, dot = std::string_view::npos;
      while (d < text.size() && isDomainChar(static_cast<unsigned char>(text[d]))) {
        if (text[d] == '.') dot = d;
        ++d;
      }
      if (dot != std::string_view::npos && dot > i + 1 && d - dot - 1 >= 2 && start < out.size()) {
        out.resize(start + 1);
        out += "***@";
        out.append(text.substr(i + 1, d - i - 1));
        i = d;
        continue;
      }
    }
    if (c < 0x20 || c == 0x7f) {
      if (c == '\n')
        out += "\\n";
      else if (c == '\r')
        out += "\\r";
      else if (c == '\t')
        out += "\\t";
      else
        appendHex(out, c);
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (std::size_t n = utf8Length(text, i)) {
        out.append(text.substr(i, n));
        i += n;
      } else {
        appendHex(out, c);
        ++i;
      }
      continue;
    }
    out += static_cast<char>(c);
    ++i;
  }
}

}  // namespace malipo
