// Fonts, font fallback, bidi and shaping for the CV PDF renderer. Internal
// (namespace detail).
//
// A TextEngine loads the font files once (immutable afterwards, shared by all
// threads) and turns a line of text in logical order into positioned glyphs
// in visual order:
//  - every character gets the first font of its chain that has a glyph for
//    it: the script's own Noto font for Ethiopic, Arabic, N'Ko and Tifinagh,
//    then DejaVu Sans, Noto Sans, Noto Sans Symbols 1/2 and Symbola
//    (monochrome emoji). Spaces, digits, punctuation and combining marks stay
//    in the font of the character before them when it has them;
//  - lines made only of characters that need no shaping (Latin, Cyrillic,
//    Greek, Ethiopic, … without combining marks or right-to-left text) take a
//    direct cmap/hmtx path;
//  - all other lines get bidi levels from FriBidi (paragraph direction from
//    the first strong character), runs of one level and one font are shaped
//    by HarfBuzz and ordered by rule L2.
// Each glyph records which characters of the input it stands for, so the PDF
// can map it back (ToUnicode) and text extraction returns the input.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pdf/truetype.hpp"

namespace malipo::cvpdf::detail {

enum class Weight : std::uint8_t { kRegular = 0, kBold = 1 };

// Paragraph direction of a line: its own first strong character (kAuto), or
// the paragraph's it was wrapped from (the last line of an Arabic paragraph
// may start with a Latin word and is still right to left).
enum class Direction : std::uint8_t { kAuto, kLeftToRight, kRightToLeft };

struct FontPaths {
  std::string dejavuDir;  // DejaVuSans.ttf, DejaVuSans-Bold.ttf
  std::string notoDir;    // Noto Sans (+ Ethiopic, Arabic, NKo, Tifinagh, Symbols)
  std::string emojiFont;  // a monochrome emoji font file (Symbola); may be empty
};

struct Glyph {
  std::uint16_t face;       // TextEngine::face index
  std::uint16_t gid;        // glyph id in that font (never 0)
  float advance;            // 1/1000 em
  float xOffset, yOffset;   // 1/1000 em
  std::uint32_t textStart;  // characters of the shaped text this glyph stands
  std::uint32_t textLen;    // for; 0: the rest of a cluster already mapped
  // Right-to-left glyph: a glyph standing for several characters (lam-alef)
  // maps to them in visual order, so extractors that turn the visual order
  // of a line back into logical order (poppler, PDFBox) read them right.
  bool rtl;
  // Bidi marks added to the glyph's text (kMarkRlmBefore: U+200F before it,
  // kMarkLrmAfter: U+200E after it), where a run of the other direction
  // starts or ends; see TextEngine::shape.
  std::uint8_t marks = 0;
};

constexpr std::uint8_t kMarkRlmBefore = 1;
constexpr std::uint8_t kMarkLrmAfter = 2;

class TextEngine {
 public:
  explicit TextEngine(const FontPaths& paths);
  ~TextEngine();
  TextEngine(const TextEngine&) = delete;
  TextEngine& operator=(const TextEngine&) = delete;

  // The primary font (DejaVu Sans regular / bold) is loaded.
  bool hasPrimary(Weight w) const;
  const std::string& warnings() const { return warnings_; }

  std::size_t faceCount() const;
  const TrueTypeFont& face(std::size_t i) const;

  // Some font of the chain has a glyph for cp (whitespace counts as covered).
  bool covers(char32_t cp) const;

  // Glyphs of one line, visual order, left to right. Characters no font
  // covers are left out.
  //
  // Where a line mixes directions, glyphs at the visual edges of a run of the
  // other direction get bidi marks in their text (Glyph::marks): invisible,
  // and they leave the line's bidi order as it is, but they tell extractors
  // that rebuild logical order from the visual order which run a space or a
  // neutral belongs to. poppler's (TextOutputDev reorderText) gives a space
  // between a left-to-right run and Arabic to the left-to-right run, and reads
  // "+ - . , / :" as digits; with the marks pdftotext returns the input with
  // its spaces (README-pdf-notes.md).
  void shape(std::u32string_view text, Weight w, std::vector<Glyph>& out,
             Direction dir = Direction::kAuto) const;
  // The line holds right-to-left characters of a script that text
  // extractors do not reorder (poppler knows Hebrew and Arabic, not N'Ko,
  // Adlam, Syriac, Thaana…): the PDF then carries its text as /ActualText.
  bool needsActualText(std::u32string_view text) const;
  // The paragraph direction FriBidi gives the text: right to left when its
  // first strong character is.
  bool rightToLeft(std::u32string_view text) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string warnings_;
};

}  // namespace malipo::cvpdf::detail
