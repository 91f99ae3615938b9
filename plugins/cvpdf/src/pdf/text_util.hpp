// UTF-8 helpers for the CV PDF renderer: sanitising untrusted input and
// decoding it for measurement. Internal to the renderer (namespace detail).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace malipo::cvpdf::detail {

enum class LineMode {
  kSingleLine,  // names, titles, list items: line breaks become spaces
  kMultiLine,   // descriptions: keeps '\n' as a paragraph break
};

// Returns valid UTF-8 restricted to what the PDF layer can draw:
//  - invalid or truncated sequences and surrogates become U+FFFD;
//  - C0/C1 control characters are dropped, tabs become spaces, CR/LF and
//    U+2028/U+2029 become '\n' (or a space in single-line mode);
//  - runs of blank lines collapse to one, each line is trimmed, the result
//    is cut at maxBytes (on a character boundary, with an ellipsis).
std::string sanitizeUtf8(std::string_view in, LineMode mode, std::size_t maxBytes);

// Decodes already sanitised UTF-8 (as returned by sanitizeUtf8). Appends one
// code point per character to out.
void decodeUtf8(std::string_view s, std::vector<char32_t>& out);

// Encodes one code point as UTF-8.
void appendUtf8(std::string& out, char32_t cp);

// Appends v (< 0x10000) as four upper-case hex digits (content streams and
// CMaps write one per glyph; snprintf was a few per cent of a document).
inline void appendHex4(std::string& out, unsigned v) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  const char b[4] = {kDigits[(v >> 12) & 0xF], kDigits[(v >> 8) & 0xF], kDigits[(v >> 4) & 0xF],
                     kDigits[v & 0xF]};
  out.append(b, 4);
}

// Appends the UTF-16BE hex of text (a ToUnicode destination or /ActualText).
inline void appendUtf16Hex(std::string& out, std::u32string_view text) {
  for (char32_t c : text) {
    if (c >= 0x10000) {
      const char32_t v = c - 0x10000;
      appendHex4(out, 0xD800 + static_cast<unsigned>(v >> 10));
      appendHex4(out, 0xDC00 + static_cast<unsigned>(v & 0x3FF));
    } else {
      appendHex4(out, static_cast<unsigned>(c));
    }
  }
}

// Best-effort conversion to Windows-1252 for the last-resort fallback that
// uses a base-14 font: Latin letters with diacritics outside CP1252 lose the
// diacritic (ć -> c), anything else becomes '?'.
std::string toCp1252(std::string_view utf8);

}  // namespace malipo::cvpdf::detail
