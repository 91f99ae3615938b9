// Minimal TrueType reader/writer for the CV PDF renderer.
//
// Why it exists: libharu 2.3 (Debian) pays per document for every glyph and
// every cmap segment of an embedded font. With DejaVuSans (6,253 glyphs,
// 193 cmap segments) it builds a 65,536-entry CIDToGIDMap through a linear
// cmap search for each code point, copies hmtx/post/loca four bytes at a
// time and writes a W array for every glyph. Handing it a reduced font — only
// the scripts a CV needs, glyphs numbered in code point order so the cmap has
// one segment per range — removes most of that work. The same pass yields a
// per-code-point advance table so text is measured without libharu.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace malipo::cvpdf::detail {

struct CodeRange {
  char32_t first;
  char32_t last;  // inclusive
};

// Advance widths in 1/1000 em for every BMP code point, rounded exactly as
// libharu rounds them for the PDF's /W array, so our line breaks match what
// viewers draw.
class WidthTable {
 public:
  WidthTable() : w_(0x10000, 0) {}
  std::uint16_t advance(char32_t cp) const { return cp < 0x10000 ? w_[cp] : w_[0xFFFD]; }
  void set(char32_t cp, std::uint16_t w) { w_[cp] = w; }

 private:
  std::vector<std::uint16_t> w_;
};

struct ReducedFont {
  std::string bytes;  // a complete TrueType file
  WidthTable widths;
  int glyphCount = 0;
};

// Builds a TrueType font holding the glyphs of the given code point ranges
// (sorted, non-overlapping, below U+FFFF), plus composite components and
// .notdef. Code points of a range that the source lacks get an empty glyph.
// Returns false and sets error for unreadable or unsupported fonts (CFF
// outlines, collections, truncated tables).
bool buildReducedFont(const std::string& ttf, const std::vector<CodeRange>& ranges,
                      ReducedFont& out, std::string& error);

// Width table of an unmodified font (for the slow path that embeds the
// original file), and which BMP code points it has a glyph for.
bool readWidths(const std::string& ttf, WidthTable& out, std::vector<bool>& covered,
                std::string& error);

}  // namespace malipo::cvpdf::detail
