#include "pdf/text_util.hpp"

namespace malipo::cvpdf::detail {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

// Decodes one character at s[i]; invalid input yields U+FFFD and consumes the
// maximal invalid prefix (at least one byte), as the Unicode standard advises.
char32_t decodeOne(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  int len = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1F;
    min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0F;
    min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07;
    min = 0x10000;
  } else {
    ++i;  // stray continuation byte, C0/C1 overlong lead or F5..FF
    return kReplacement;
  }
  std::size_t j = i + 1;
  for (int k = 1; k < len; ++k, ++j) {
    if (j >= s.size()) {
      i = j;
      return kReplacement;
    }
    const auto b = static_cast<unsigned char>(s[j]);
    if ((b & 0xC0) != 0x80) {
      i = j;  // resynchronise on the byte that broke the sequence
      return kReplacement;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  i = j;
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return kReplacement;
  return cp;
}

bool isDropped(char32_t cp) {
  if (cp < 0x20) return true;                     // C0 (tab/newlines handled before)
  if (cp >= 0x7F && cp <= 0x9F) return true;      // DEL and C1
  if (cp == 0xFEFF || cp == 0x200B) return true;  // BOM / zero width space
  if (cp >= 0x200E && cp <= 0x200F) return true;  // bidi marks: FriBidi orders by character types
  if (cp >= 0x202A && cp <= 0x202E) return true;  // bidi embedding controls
  if (cp >= 0x2066 && cp <= 0x2069) return true;  // bidi isolates
  if (cp == 0xFFFE || cp == 0xFFFF) return true;  // non-characters
  return false;
}

}  // namespace

void appendUtf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string sanitizeUtf8(std::string_view in, LineMode mode, std::size_t maxBytes) {
  const bool multi = mode == LineMode::kMultiLine;
  std::string out;
  out.reserve(in.size() < maxBytes ? in.size() : maxBytes);
  std::string line;
  int blankLines = 0;  // empty lines seen since the last non-empty one
  bool truncated = false;

  // Appends the finished line: single-line mode joins with a space, multi-line
  // mode keeps one '\n' per break and at most one empty line between blocks.
  auto endLine = [&]() {
    while (!line.empty() && line.back() == ' ') line.pop_back();
    if (line.empty()) {
      ++blankLines;
      return;
    }
    if (!out.empty()) {
      if (!multi) {
        out.push_back(' ');
      } else {
        out.append(blankLines > 0 ? "\n\n" : "\n");
      }
    }
    out += line;
    line.clear();
    blankLines = 0;
  };

  std::size_t i = 0;
  while (i < in.size()) {
    if (out.size() + line.size() >= maxBytes) {
      truncated = true;
      break;
    }
    char32_t cp = decodeOne(in, i);
    if (cp == '\r') {
      if (i < in.size() && in[i] == '\n') ++i;
      cp = '\n';
    }
    if (cp == 0x2028 || cp == 0x2029 || cp == 0x0B || cp == 0x0C || cp == 0x85) cp = '\n';
    if (cp == '\n') {
      endLine();
      continue;
    }
    if (cp == '\t' || cp == 0x3000) cp = ' ';
    if (isDropped(cp)) continue;
    if (cp == ' ') {
      if (!line.empty() && line.back() != ' ') line.push_back(' ');
      continue;
    }
    appendUtf8(line, cp);
  }
  endLine();
  if (truncated) {
    // Cut on a character boundary leaving room for the ellipsis.
    std::size_t cut = maxBytes > 3 ? maxBytes - 3 : 0;
    if (cut < out.size()) {
      while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
      out.resize(cut);
    }
    while (!out.empty() && (out.back() == ' ' || out.back() == '\n')) out.pop_back();
    out += "\xE2\x80\xA6";  // U+2026
  }
  return out;
}

void decodeUtf8(std::string_view s, std::vector<char32_t>& out) {
  std::size_t i = 0;
  while (i < s.size()) out.push_back(decodeOne(s, i));
}

std::string toCp1252(std::string_view utf8) {
  // Latin Extended-A (U+0100..U+017F) -> CP1252 byte, diacritics dropped
  // where CP1252 lacks the letter.
  static const char kLatinExtA[] =
      "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIiIiJjKkkLlLlLlLlLlNnNnNnnNnOoOoOo"
      "\x8c\x9cRrRrRrSsSsSs\x8a\x9aTtTtTtUuUuUuUuUuUuWwYy\x9fZzZz\x8e\x9es";
  struct Special {
    char32_t cp;
    unsigned char byte;
  };
  static const Special kSpecials[] = {
      {0x20AC, 0x80}, {0x201A, 0x82}, {0x0192, 0x83}, {0x201E, 0x84}, {0x2026, 0x85},
      {0x2020, 0x86}, {0x2021, 0x87}, {0x02C6, 0x88}, {0x2030, 0x89}, {0x2039, 0x8B},
      {0x2018, 0x91}, {0x2019, 0x92}, {0x201C, 0x93}, {0x201D, 0x94}, {0x2022, 0x95},
      {0x2013, 0x96}, {0x2014, 0x97}, {0x02DC, 0x98}, {0x2122, 0x99}, {0x203A, 0x9B},
  };
  std::string out;
  out.reserve(utf8.size());
  std::size_t i = 0;
  while (i < utf8.size()) {
    const char32_t cp = decodeOne(utf8, i);
    if (cp == '\n' || (cp >= 0x20 && cp < 0x7F)) {
      out.push_back(static_cast<char>(cp));
    } else if (cp >= 0xA0 && cp <= 0xFF) {
      out.push_back(static_cast<char>(cp));
    } else if (cp >= 0x100 && cp <= 0x17F) {
      out.push_back(kLatinExtA[cp - 0x100]);
    } else {
      char c = '?';
      for (const auto& s : kSpecials) {
        if (s.cp == cp) c = static_cast<char>(s.byte);
      }
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace malipo::cvpdf::detail
