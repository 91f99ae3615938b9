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

// Best-effort conversion to Windows-1252 for the last-resort fallback that
// uses a base-14 font: Latin letters with diacritics outside CP1252 lose the
// diacritic (ć -> c), anything else becomes '?'.
std::string toCp1252(std::string_view utf8);

}  // namespace malipo::cvpdf::detail
