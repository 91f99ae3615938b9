// Minimal TrueType reader and per-document subsetter for the CV PDF renderer.
//
// Every document embeds, per font it uses, a subset with only the glyphs it
// draws, numbered in order of first use (CID = glyph id of the subset).
//
// libharu 2.3's own TrueType embedding is not used: it walks all 65,536 BMP
// code points per font and document, and cannot draw shaped glyphs (Arabic
// joining forms, ligatures, positioned marks) that have no code point.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace malipo::cvpdf::detail {

struct FontMetrics {  // 1/1000 em, for the PDF font descriptor
  int ascent = 0, descent = 0, capHeight = 0;
  std::array<int, 4> bbox{};
  std::string postScriptName;
};

// A parsed glyf-flavoured TrueType font, read once and shared by every
// document (immutable, thread-safe).
class TrueTypeFont {
 public:
  // nullptr and error set for unreadable or unsupported fonts (CFF outlines,
  // collections, truncated tables).
  static std::unique_ptr<TrueTypeFont> load(std::string bytes, std::string& error);
  // The same from a file, mapped read-only: only the pages documents use
  // become resident (the fallback chain is about 8 MB of font files).
  static std::unique_ptr<TrueTypeFont> open(const std::string& path, std::string& error);
  ~TrueTypeFont();

  std::string_view bytes() const;
  std::uint16_t unitsPerEm() const;
  std::uint16_t numGlyphs() const;
  std::uint16_t glyphOf(char32_t cp) const;        // 0: not covered
  std::uint16_t advance(std::uint16_t gid) const;  // font units
  // Advance in 1/1000 em, truncated: the value written to the PDF's /W array.
  std::uint16_t advanceThousandths(std::uint16_t gid) const;
  const FontMetrics& metrics() const { return metrics_; }

  // A TrueType file whose glyph i is the source glyph sourceGids[i] (glyph 0
  // is .notdef; ids may repeat), with composite components appended and
  // renumbered. No glyph names, a minimal cmap: for CID fonts (CID = glyph id).
  bool subset(const std::vector<std::uint16_t>& sourceGids, std::string& out,
              std::string& error) const;

 private:
  struct Impl;
  explicit TrueTypeFont(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  FontMetrics metrics_;
};

}  // namespace malipo::cvpdf::detail
