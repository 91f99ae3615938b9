// Page-level drawing and text flow on top of libharu, plus the CV templates.
// Internal to the renderer (namespace detail).
#pragma once

#include <hpdf.h>

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pdf/cv_data.hpp"
#include "pdf/doc_fonts.hpp"
#include "pdf/text_engine.hpp"

namespace malipo::cvpdf::detail {

struct Rgb {
  float r, g, b;
};

// A font style as used in one document: the TextEngine's fallback chain for
// a weight (through DocFonts), or a base-14 font (last resort, CP1252).
struct Face {
  Weight weight = Weight::kRegular;
  HPDF_Font base14 = nullptr;  // set: base-14 font measured by libharu
};

struct Line {
  std::string text;
  float width = 0;
  Direction dir = Direction::kAuto;  // the paragraph's, set by Canvas::wrap
};

// Owns the pages of one document and draws on them. Text is shaped by the
// TextEngine and written as CID strings (TJ) in the page's content stream;
// measuring uses the same shaping, so lines are as wide as drawn.
class Canvas {
 public:
  static constexpr float kPageWidth = 595.276f;  // A4
  static constexpr float kPageHeight = 841.89f;

  // engine and fonts may be null when both faces are base-14.
  Canvas(HPDF_Doc doc, Face regular, Face bold, const TextEngine* engine, DocFonts* fonts);

  const Face& regular() const { return regular_; }
  const Face& bold() const { return bold_; }

  HPDF_Page addPage();
  bool failed() const;  // libharu reported an error for this document
  int pageCount() const { return static_cast<int>(pages_.size()); }
  void selectPage(int index);  // draw on an earlier page (footers)

  float textWidth(std::string_view utf8, const Face& face, float size, float charSpace = 0) const;
  // Greedy word wrap; words wider than maxWidth are broken between characters.
  std::vector<Line> wrap(std::string_view utf8, const Face& face, float size, float maxWidth) const;
  // Cuts text to fit maxWidth, ending it with an ellipsis when shortened.
  std::string ellipsize(std::string_view utf8, const Face& face, float size, float maxWidth) const;

  // y is the baseline.
  void text(float x, float y, std::string_view utf8, const Face& face, float size, Rgb color,
            float charSpace = 0, Direction dir = Direction::kAuto);
  // A wrapped line, in its paragraph's direction.
  void text(float x, float y, const Line& line, const Face& face, float size, Rgb color) {
    text(x, y, line.text, face, size, color, 0, line.dir);
  }
  void fillRect(float x, float y, float w, float h, Rgb color);
  void strokeRect(float x, float y, float w, float h, float lineWidth, Rgb color);
  void hline(float x1, float x2, float y, float lineWidth, Rgb color);

  // The paragraph's direction is right to left (its first strong character).
  bool rightToLeft(std::string_view utf8, const Face& face) const;

  // Compresses every page's content stream at zlib's fastest level (libharu
  // 2.3 hard-codes the default level, three times slower for ~10 % smaller
  // streams). Call once, after drawing. false: left for libharu to compress.
  bool compressPages();

  // Test hook: provokes a genuine libharu error (reported through the
  // document's error handler like any other).
  void provokeError();

 private:
  void endText();
  void shapedText(float x, float y, std::string_view utf8, const Face& face, float size,
                  Direction dir);

  HPDF_Doc doc_;
  Face regular_, bold_;
  const TextEngine* engine_;
  DocFonts* fonts_;
  std::vector<Glyph> glyphs_;  // scratch
  std::u32string u32_;         // scratch
  // Widths (1/1000 em) of texts measured in this document, per weight.
  mutable std::unordered_map<std::string, float> widthCache_[2];
  mutable std::vector<float> cumByte_;  // wrap(): advance up to each byte of a paragraph
  // Texts shaped while measuring, kept until drawn once (most CV lines are
  // measured and then drawn unchanged).
  mutable std::unordered_map<std::string, std::vector<Glyph>> shapeCache_[2];
  mutable std::vector<Glyph> scratchGlyphs_;
  void remember(std::string_view utf8, Weight w, const std::vector<Glyph>& glyphs) const;
  std::vector<HPDF_Page> pages_;
  HPDF_Page page_ = nullptr;
  bool inText_ = false;
  const void* curFont_ = nullptr;
  float curSize_ = 0, curCharSpace_ = 0;
  Rgb curFill_{-1, -1, -1};
};

// Vertical flow of content blocks over pages, with the page cap. Blocks ask
// for the height they need; when a page is full a new one is started, unless
// the cap is reached: then the flow is marked truncated and further content
// is dropped (callers check fits()/truncated()).
class Flow {
 public:
  struct Frame {
    float left, right;  // content column
    float top, bottom;  // top applies from page 2 on; page 1 starts below the header
  };

  Flow(Canvas& canvas, int maxPages, Frame frame, std::function<void(Flow&)> onNewPage);

  Canvas& canvas() { return canvas_; }
  float left() const { return frame_.left; }
  float right() const { return frame_.right; }
  float width() const { return frame_.right - frame_.left; }
  float y() const { return y_; }
  void setY(float y) { y_ = y; }
  void down(float dy) { y_ -= dy; }
  bool truncated() const { return truncated_; }
  void setTruncated() { truncated_ = true; }

  // Makes room for h points below y(); false when the page cap prevents it.
  bool ensure(float h);
  // Height reserved at the bottom of the last allowed page for the note.
  static constexpr float kNoteHeight = 22;

 private:
  float bottomLimit() const;

  Canvas& canvas_;
  int maxPages_;
  Frame frame_;
  std::function<void(Flow&)> onNewPage_;
  float y_;
  bool truncated_ = false;
};

enum class TemplateKind { kModern, kClassic, kMinimal, kBasic };

struct LayoutResult {
  int pages = 0;
  bool truncated = false;
};

// Lays out a sanitised CV. kBasic is the fallback: one font, no colours,
// the fewest drawing operations. `footerNote` (sanitised; "" = none): a small
// line under every page's footer (the brand behind the document).
LayoutResult layoutCv(Canvas& canvas, const CvData& cv, TemplateKind kind, int maxPages,
                      bool inputWasCut, bool provokeError, std::string_view footerNote = {});

}  // namespace malipo::cvpdf::detail
