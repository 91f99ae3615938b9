#include "pdf/layout.hpp"

#include <hpdf_pages.h>
#include <hpdf_streams.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <utility>

#include "pdf/text_util.hpp"

namespace malipo::cvpdf::detail {
namespace {

// Decodes sanitised UTF-8 one code point at a time (input is always valid:
// it comes from sanitizeUtf8 or from our own constants).
char32_t nextCp(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  auto cont = [&](std::size_t k) {
    return static_cast<char32_t>(static_cast<unsigned char>(s[i + k]) & 0x3Fu);
  };
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  if (b0 < 0xE0 && i + 1 < s.size()) {
    const char32_t cp = (b0 & 0x1Fu) << 6 | cont(1);
    i += 2;
    return cp;
  }
  if (b0 < 0xF0 && i + 2 < s.size()) {
    const char32_t cp = (b0 & 0x0Fu) << 12 | cont(1) << 6 | cont(2);
    i += 3;
    return cp;
  }
  if (b0 < 0xF8 && i + 3 < s.size()) {
    const char32_t cp = (b0 & 0x07u) << 18 | cont(1) << 12 | cont(2) << 6 | cont(3);
    i += 4;
    return cp;
  }
  ++i;
  return 0xFFFD;
}

void toU32(std::string_view s, std::u32string& out) {
  out.clear();
  for (std::size_t i = 0; i < s.size();) out.push_back(nextCp(s, i));
}

// Shortest decimal for a content stream number, to 1/1000.
void appendNum(std::string& out, float v) {
  long long m = std::llround(static_cast<double>(v) * 1000.0);
  if (m < 0) {
    out += '-';
    m = -m;
  }
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, m / 1000);
  out.append(buf, res.ptr);
  int frac = static_cast<int>(m % 1000);
  if (frac == 0) return;
  char digits[4] = {static_cast<char>('.'), static_cast<char>('0' + frac / 100),
                    static_cast<char>('0' + frac / 10 % 10), static_cast<char>('0' + frac % 10)};
  std::size_t n = 4;
  while (digits[n - 1] == '0') --n;
  out.append(digits, n);
}

bool sameColor(Rgb a, Rgb b) {
  return a.r == b.r && a.g == b.g && a.b == b.b;
}

}  // namespace

// ---------------------------------------------------------------- Canvas

Canvas::Canvas(HPDF_Doc doc, Face regular, Face bold, const TextEngine* engine, DocFonts* fonts)
    : doc_(doc), regular_(regular), bold_(bold), engine_(engine), fonts_(fonts) {}

HPDF_Page Canvas::addPage() {
  endText();
  // After an error libharu hands out no pages; keep counting so the layout
  // can finish, drawing nothing (the document is discarded anyway).
  page_ = failed() ? nullptr : HPDF_AddPage(doc_);
  if (page_) {
    HPDF_Page_SetWidth(page_, kPageWidth);
    HPDF_Page_SetHeight(page_, kPageHeight);
  }
  pages_.push_back(page_);
  curFont_ = nullptr;
  curSize_ = 0;
  curCharSpace_ = 0;
  curFill_ = Rgb{-1, -1, -1};
  return page_;
}

void Canvas::selectPage(int index) {
  endText();
  page_ = pages_.at(static_cast<std::size_t>(index));
  // The page keeps its own graphics state; forget ours so it is set again.
  curFont_ = nullptr;
  curSize_ = 0;
  curFill_ = Rgb{-1, -1, -1};
  curCharSpace_ = -1;
}

float Canvas::textWidth(std::string_view utf8, const Face& face, float size,
                        float charSpace) const {
  if (utf8.empty()) return 0;
  std::size_t chars = 0;
  float units = 0;
  if (!face.base14) {
    thread_local std::u32string u32;
    thread_local std::vector<Glyph> glyphs;
    if (charSpace != 0) {
      toU32(utf8, u32);
      engine_->shape(u32, face.weight, glyphs);
      for (const Glyph& g : glyphs) units += g.advance;
      chars = glyphs.size();
    } else {
      // Wrapping measures each word; shaping a word (Arabic) costs far
      // more than looking it up again in this document.
      auto& cache = widthCache_[static_cast<int>(face.weight)];
      std::string key(utf8);
      const auto it = cache.find(key);
      if (it != cache.end()) {
        units = it->second;
      } else {
        toU32(utf8, u32);
        engine_->shape(u32, face.weight, scratchGlyphs_);
        for (const Glyph& g : scratchGlyphs_) units += g.advance;
        if (cache.size() < 4096) cache.emplace(std::move(key), units);
        remember(utf8, face.weight, scratchGlyphs_);
      }
    }
  } else {
    const std::string bytes = toCp1252(utf8);
    units = static_cast<float>(HPDF_Font_TextWidth(face.base14,
                                                   reinterpret_cast<const HPDF_BYTE*>(bytes.data()),
                                                   static_cast<HPDF_UINT>(bytes.size()))
                                   .width);
    chars = bytes.size();
  }
  return units * size / 1000.0f + charSpace * static_cast<float>(chars);
}

std::vector<Line> Canvas::wrap(std::string_view utf8, const Face& face, float size,
                               float maxWidth) const {
  std::vector<Line> lines;
  const float spaceW = textWidth(" ", face, size);
  std::size_t pos = 0;
  while (pos <= utf8.size()) {
    std::size_t nl = utf8.find('\n', pos);
    if (nl == std::string_view::npos) nl = utf8.size();
    const std::string_view para = utf8.substr(pos, nl - pos);
    pos = nl + 1;
    if (para.empty()) {
      lines.push_back(Line{});
      continue;
    }
    // Shaped text: the paragraph is shaped once, and each word's width is
    // the sum of its characters' advances (shaping does not join across
    // spaces), instead of one shaping call per word.
    const bool byParagraph = !face.base14;
    const std::size_t firstLine = lines.size();
    Direction dir = Direction::kAuto;
    if (byParagraph) {
      thread_local std::u32string u32;
      thread_local std::vector<float> adv;
      toU32(para, u32);
      dir = engine_->rightToLeft(u32) ? Direction::kRightToLeft : Direction::kLeftToRight;
      std::vector<Glyph>& glyphs = scratchGlyphs_;
      engine_->shape(u32, face.weight, glyphs);
      adv.assign(u32.size(), 0.0f);
      for (const Glyph& g : glyphs) {
        if (g.textStart < adv.size()) adv[g.textStart] += g.advance;
      }
      // A paragraph that stays one line is drawn with these very glyphs.
      remember(para, face.weight, glyphs);
      cumByte_.assign(para.size() + 1, 0.0f);
      std::size_t ci = 0;
      for (std::size_t b = 0; b < para.size(); ++ci) {
        const std::size_t start = b;
        nextCp(para, b);
        for (std::size_t k = start + 1; k <= b; ++k) cumByte_[k] = cumByte_[start];
        cumByte_[b] = cumByte_[start] + (ci < adv.size() ? adv[ci] : 0.0f);
      }
    }
    auto span = [&](std::size_t a, std::size_t b) {
      return (cumByte_[b] - cumByte_[a]) * size / 1000.0f;
    };
    Line cur;
    std::size_t w = 0;
    while (w < para.size()) {
      std::size_t sp = para.find(' ', w);
      if (sp == std::string_view::npos) sp = para.size();
      const std::string_view word = para.substr(w, sp - w);
      const std::size_t wordStart = w;
      w = sp + 1;
      if (word.empty()) continue;
      const float ww = byParagraph ? span(wordStart, sp) : textWidth(word, face, size);
      if (!cur.text.empty() && cur.width + spaceW + ww <= maxWidth) {
        cur.text += ' ';
        cur.text.append(word);
        cur.width += spaceW + ww;
        continue;
      }
      if (!cur.text.empty()) lines.push_back(std::move(cur));
      cur = Line{};
      if (ww <= maxWidth) {
        cur.text.assign(word);
        cur.width = ww;
        continue;
      }
      // A word longer than the line (URLs, pasted hashes): break it between
      // characters, at least one character per line.
      for (std::size_t i = 0; i < word.size();) {
        const std::size_t start = i;
        const char32_t cp = nextCp(word, i);
        // Combining marks stay with their base character.
        while (i < word.size()) {
          std::size_t k = i;
          const char32_t next = nextCp(word, k);
          if (!((next >= 0x300 && next <= 0x36F) || (next >= 0x1AB0 && next <= 0x1AFF) ||
                (next >= 0x20D0 && next <= 0x20FF) || next == 0x200D ||
                (next >= 0xFE00 && next <= 0xFE0F)))
            break;
          i = k;
        }
        (void)cp;
        const float cw = byParagraph ? span(wordStart + start, wordStart + i)
                                     : textWidth(word.substr(start, i - start), face, size);
        if (!cur.text.empty() && cur.width + cw > maxWidth) {
          lines.push_back(std::move(cur));
          cur = Line{};
        }
        cur.text.append(word.substr(start, i - start));
        cur.width += cw;
      }
    }
    if (!cur.text.empty()) lines.push_back(std::move(cur));
    for (std::size_t i = firstLine; i < lines.size(); ++i) lines[i].dir = dir;
    if (nl == utf8.size()) break;
  }
  return lines;
}

std::string Canvas::ellipsize(std::string_view utf8, const Face& face, float size,
                              float maxWidth) const {
  if (textWidth(utf8, face, size) <= maxWidth) return std::string(utf8);
  static constexpr std::string_view kEllipsis = "\xE2\x80\xA6";
  const float limit = maxWidth - textWidth(kEllipsis, face, size);
  std::string out;
  float w = 0;
  for (std::size_t i = 0; i < utf8.size();) {
    const std::size_t start = i;
    nextCp(utf8, i);
    const float cw = textWidth(utf8.substr(start, i - start), face, size);
    if (w + cw > limit) break;
    out.append(utf8.substr(start, i - start));
    w += cw;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  out.append(kEllipsis);
  return out;
}

bool Canvas::failed() const {
  return HPDF_GetError(doc_) != HPDF_OK;
}

void Canvas::endText() {
  if (inText_) {
    if (page_) HPDF_Page_EndText(page_);
    inText_ = false;
  }
}

void Canvas::text(float x, float y, std::string_view utf8, const Face& face, float size, Rgb color,
                  float charSpace, Direction dir) {
  if (utf8.empty() || !page_) return;
  if (!inText_) {
    HPDF_Page_BeginText(page_);
    inText_ = true;
  }
  if (curCharSpace_ != charSpace) {
    HPDF_Page_SetCharSpace(page_, charSpace);
    curCharSpace_ = charSpace;
  }
  if (!sameColor(curFill_, color)) {
    HPDF_Page_SetRGBFill(page_, color.r, color.g, color.b);
    curFill_ = color;
  }
  if (!face.base14) {
    shapedText(x, y, utf8, face, size, dir);
    return;
  }
  if (curFont_ != face.base14 || curSize_ != size) {
    HPDF_Page_SetFontAndSize(page_, face.base14, size);
    curFont_ = face.base14;
    curSize_ = size;
  }
  // libharu needs NUL-terminated text; base-14 fonts take CP1252 bytes.
  const std::string s = toCp1252(utf8);
  HPDF_Page_TextOut(page_, x, y, s.c_str());
}

// Writes shaped glyphs as TJ arrays of 2-byte CIDs. The PDF advances each
// glyph by its /W width; where the shaper's advance or offset differs, a TJ
// adjustment (x) or the text rise Ts (y) moves the glyph to its place.
void Canvas::remember(std::string_view utf8, Weight w, const std::vector<Glyph>& glyphs) const {
  auto& cache = shapeCache_[static_cast<int>(w)];
  if (cache.size() < 1024 && utf8.size() < 512) cache.emplace(std::string(utf8), glyphs);
}

void Canvas::shapedText(float x, float y, std::string_view utf8, const Face& face, float size,
                        Direction dir) {
  toU32(utf8, u32_);
  // Measured glyphs were shaped in the text's own direction.
  if (dir != Direction::kAuto && (dir == Direction::kRightToLeft) == engine_->rightToLeft(u32_))
    dir = Direction::kAuto;
  auto& cache = shapeCache_[static_cast<int>(face.weight)];
  const auto hit = dir == Direction::kAuto ? cache.find(std::string(utf8)) : cache.end();
  if (hit != cache.end()) {
    glyphs_.swap(hit->second);
    cache.erase(hit);
  } else {
    engine_->shape(u32_, face.weight, glyphs_, dir);
  }
  if (glyphs_.empty()) return;
  std::string ops;
  ops.reserve(32 + glyphs_.size() * 8);
  ops += "1 0 0 1 ";
  appendNum(ops, x);
  ops += ' ';
  appendNum(ops, y);
  ops += " Tm\n";
  // Right-to-left scripts that extractors do not reorder themselves (N'Ko
  // and the like) get the line's logical text as /ActualText.
  const bool actual = engine_->needsActualText(u32_);
  if (actual) {
    ops += "/Span<</ActualText<FEFF";
    appendUtf16Hex(ops, u32_);
    ops += ">>>BDC\n";
  }
  bool open = false;
  float rise = 0;
  // TJ adjustment not written yet (1/1000 em). Whole units are written as
  // they accumulate and the fraction is carried, so glyphs stay within
  // 1/1000 em of the shaper's positions without a number after each glyph.
  float pending = 0;
  auto flush = [&](bool all) {
    const long whole = all ? std::lround(pending) : static_cast<long>(pending);
    if (whole == 0) return;
    char num[24];
    const auto res = std::to_chars(num, num + sizeof num, whole);
    ops.append(num, res.ptr);
    pending -= static_cast<float>(whole);
  };
  std::u32string rev;
  for (const Glyph& g : glyphs_) {
    HPDF_Dict font = fonts_->font(g.face);
    if (!font) return;
    const float wantRise = g.yOffset * size / 1000.0f;
    if (curFont_ != font || curSize_ != size || wantRise != rise) {
      if (open) {
        flush(true);
        pending = 0;
        ops += "]TJ\n";
      }
      open = false;
    }
    if (curFont_ != font || curSize_ != size) {
      const char* name = HPDF_Page_GetLocalFontName(page_, font);
      if (!name) return;
      ops += '/';
      ops += name;
      ops += ' ';
      appendNum(ops, size);
      ops += " Tf\n";
      curFont_ = font;
      curSize_ = size;
    }
    if (wantRise != rise) {
      appendNum(ops, wantRise);
      ops += " Ts\n";
      rise = wantRise;
    }
    if (!open) ops += '[';
    open = true;
    std::u32string_view text = std::u32string_view(u32_).substr(g.textStart, g.textLen);
    if (g.marks != 0) {  // see Glyph::marks
      rev.clear();
      if (g.marks & kMarkRlmBefore) rev += U'\u200F';
      if (g.rtl)
        rev.append(text.rbegin(), text.rend());
      else
        rev.append(text);
      if (g.marks & kMarkLrmAfter) rev += U'\u200E';
      text = rev;
    } else if (g.rtl && text.size() > 1) {  // see Glyph::rtl
      rev.assign(text.rbegin(), text.rend());
      text = rev;
    }
    // A mark drawn to the left of its origin (zero advance, negative x
    // offset) gets a CID whose width spans the offset, so the pen ends where
    // the next character starts and extractors see no gap there.
    int widthOverride = -1;
    if (g.advance == 0 && g.xOffset < 0) widthOverride = static_cast<int>(-g.xOffset + 0.5f);
    const std::uint16_t cid = fonts_->cid(g.face, g.gid, text, widthOverride);
    const float w = fonts_->width(g.face, cid);
    pending -= g.xOffset;
    flush(false);
    ops += '<';
    appendHex4(ops, cid);
    ops += '>';
    pending += g.xOffset + w - g.advance;
  }
  if (open) {
    flush(true);
    ops += "]TJ\n";
  }
  if (rise != 0) ops += "0 Ts\n";
  if (actual) ops += "EMC\n";
  auto* attr = static_cast<HPDF_PageAttr>(page_->attr);
  HPDF_Stream_WriteStr(attr->stream, ops.c_str());
}

bool Canvas::rightToLeft(std::string_view utf8, const Face& face) const {
  if (face.base14) return false;
  thread_local std::u32string u32;
  toU32(utf8, u32);
  return engine_->rightToLeft(u32);
}

bool Canvas::compressPages() {
  endText();
  bool ok = true;
  for (HPDF_Page p : pages_) {
    if (!p) continue;
    auto* attr = static_cast<HPDF_PageAttr>(p->attr);
    HPDF_Dict contents = attr->contents;
    if (!contents || !contents->stream || contents->stream != attr->stream) {
      ok = false;
      continue;
    }
    std::string raw;
    const HPDF_UINT n = HPDF_MemStream_GetBufCount(contents->stream);
    for (HPDF_UINT i = 0; i < n; ++i) {
      HPDF_UINT len = 0;
      const HPDF_BYTE* b = HPDF_MemStream_GetBufPtr(contents->stream, i, &len);
      if (b) raw.append(reinterpret_cast<const char*>(b), len);
    }
    if (raw.size() != HPDF_Stream_Size(contents->stream) ||
        !setPrecompressedStream(contents, raw)) {
      ok = false;
      continue;
    }
    attr->stream = contents->stream;
    attr->compression_mode = HPDF_COMP_NONE;  // else libharu sets the filter again when saving
  }
  page_ = nullptr;  // nothing may be drawn after this
  return ok;
}

void Canvas::fillRect(float x, float y, float w, float h, Rgb color) {
  if (!page_ || w <= 0 || h <= 0) return;
  endText();
  if (!sameColor(curFill_, color)) {
    HPDF_Page_SetRGBFill(page_, color.r, color.g, color.b);
    curFill_ = color;
  }
  HPDF_Page_Rectangle(page_, x, y, w, h);
  HPDF_Page_Fill(page_);
}

void Canvas::strokeRect(float x, float y, float w, float h, float lineWidth, Rgb color) {
  if (!page_ || w <= 0 || h <= 0) return;
  endText();
  HPDF_Page_SetLineWidth(page_, lineWidth);
  HPDF_Page_SetRGBStroke(page_, color.r, color.g, color.b);
  HPDF_Page_Rectangle(page_, x, y, w, h);
  HPDF_Page_Stroke(page_);
}

void Canvas::hline(float x1, float x2, float y, float lineWidth, Rgb color) {
  if (!page_ || x2 <= x1) return;
  endText();
  HPDF_Page_SetLineWidth(page_, lineWidth);
  HPDF_Page_SetRGBStroke(page_, color.r, color.g, color.b);
  HPDF_Page_MoveTo(page_, x1, y);
  HPDF_Page_LineTo(page_, x2, y);
  HPDF_Page_Stroke(page_);
}

void Canvas::provokeError() {
  if (!page_) return;
  endText();
  HPDF_Page_SetLineWidth(page_, -1.0f);  // out of range: libharu reports an error
}

// ---------------------------------------------------------------- Flow

Flow::Flow(Canvas& canvas, int maxPages, Frame frame, std::function<void(Flow&)> onNewPage)
    : canvas_(canvas),
      maxPages_(maxPages),
      frame_(frame),
      onNewPage_(std::move(onNewPage)),
      y_(frame.top) {}

float Flow::bottomLimit() const {
  return frame_.bottom + (canvas_.pageCount() >= maxPages_ ? kNoteHeight : 0.0f);
}

bool Flow::ensure(float h) {
  if (truncated_ || canvas_.failed()) return false;
  if (y_ - h >= bottomLimit()) return true;
  if (canvas_.pageCount() >= maxPages_) {
    truncated_ = true;
    return false;
  }
  canvas_.addPage();
  y_ = frame_.top;
  if (onNewPage_) onNewPage_(*this);
  return true;  // a block taller than a page is drawn anyway, it cannot loop
}

// ---------------------------------------------------------------- templates
namespace {

constexpr float kMarginBottom = 54;  // footer sits below this
constexpr float kFooterBaseline = 30;
constexpr float kFooterNoteBaseline = 18;  // the brand's line, under the footer

struct Palette {
  Rgb text, muted, accent, accentSoft, rule;
};

struct Sizes {
  float body = 9.5f;
  float lead = 13.4f;  // body line height
  float entryTitle = 10.5f;
  float entrySub = 9.8f;
};

// Baseline for a line box whose top is `top`.
float baseline(float top, float lineHeight, float size) {
  return top - (lineHeight * 0.5f + size * 0.35f);
}

bool isBulletLine(std::string_view line, std::size_t& skip) {
  static constexpr std::string_view kMarks[] = {
      "- ", "* ", "\xE2\x80\xA2 ", "\xC2\xB7 ", "\xE2\x80\x93 ", "\xE2\x80\x94 "};
  for (std::string_view m : kMarks) {
    if (line.size() > m.size() && line.substr(0, m.size()) == m) {
      skip = m.size();
      return true;
    }
  }
  return false;
}

class CvLayout {
 public:
  CvLayout(Canvas& c, const CvData& cv, TemplateKind kind, int maxPages, bool provokeError,
           std::string_view footerNote)
      : c_(c),
        cv_(cv),
        kind_(kind),
        maxPages_(maxPages),
        provokeError_(provokeError),
        footerNote_(footerNote) {
    switch (kind) {
      case TemplateKind::kModern:
        pal_ = {{0.15f, 0.16f, 0.18f},
                {0.42f, 0.45f, 0.50f},
                {0.118f, 0.306f, 0.475f},
                {0.890f, 0.929f, 0.965f},
                {0.80f, 0.84f, 0.88f}};
        left_ = 48;
        right_ = Canvas::kPageWidth - 48;
        break;
      case TemplateKind::kClassic:
        pal_ = {{0.10f, 0.10f, 0.10f},
                {0.36f, 0.36f, 0.36f},
                {0.10f, 0.10f, 0.10f},
                {0.93f, 0.93f, 0.93f},
                {0.25f, 0.25f, 0.25f}};
        left_ = 62;
        right_ = Canvas::kPageWidth - 62;
        break;
      case TemplateKind::kMinimal:
        pal_ = {{0.13f, 0.13f, 0.13f},
                {0.50f, 0.50f, 0.50f},
                {0.13f, 0.13f, 0.13f},
                {0.95f, 0.95f, 0.95f},
                {0.85f, 0.85f, 0.85f}};
        left_ = 56;
        right_ = Canvas::kPageWidth - 56;
        break;
      case TemplateKind::kBasic:
        pal_ = {{0, 0, 0}, {0.3f, 0.3f, 0.3f}, {0, 0, 0}, {1, 1, 1}, {0.5f, 0.5f, 0.5f}};
        left_ = 56;
        right_ = Canvas::kPageWidth - 56;
        break;
    }
    // Minimal puts section labels in a left column and content beside it.
    contentLeft_ = kind == TemplateKind::kMinimal ? left_ + 108 : left_;
  }

  LayoutResult run(bool inputWasCut) {
    c_.addPage();
    const float top = Canvas::kPageHeight - (kind_ == TemplateKind::kModern ? 40.0f : 54.0f);
    Flow flow(c_, maxPages_, Flow::Frame{contentLeft_, right_, top, kMarginBottom},
              [this](Flow& f) { continuationHeader(f); });
    flow_ = &flow;
    header();
    if (provokeError_) c_.provokeError();
    if (!cv_.summary.empty()) {
      if (section("Profile")) description(cv_.summary, contentLeft_, right_ - contentLeft_);
      sectionGap();
    }
    if (!cv_.experience.empty() && section("Experience")) {
      for (const auto& e : cv_.experience) {
        if (!entry(e.position, e.company, e.duration, e.description)) break;
      }
    }
    if (!cv_.education.empty() && section("Education")) {
      for (const auto& e : cv_.education) {
        if (!entry(e.degree, e.school, e.duration, e.description)) break;
      }
    }
    if (!cv_.skills.empty() && section("Skills")) list(cv_.skills, false);
    if (!cv_.languages.empty() && section("Languages")) list(cv_.languages, true);

    if (flow.truncated() || inputWasCut) truncationNote(flow.truncated());
    footers();
    return LayoutResult{c_.pageCount(), flow.truncated() || inputWasCut};
  }

 private:
  const Face& bold() const { return kind_ == TemplateKind::kBasic ? c_.regular() : c_.bold(); }
  const Face& reg() const { return c_.regular(); }
  Flow& flow() { return *flow_; }

  // Draws wrapped lines; false once the page cap cut the text.
  // alignRight > 0: each line ends there (right-to-left paragraphs).
  bool lines(const std::vector<Line>& ls, float x, const Face& face, float size, float lead,
             Rgb color, std::string_view bullet = {}, float bulletX = 0, float alignRight = 0) {
    bool first = true;
    for (const Line& l : ls) {
      if (!flow().ensure(lead)) return false;
      const float base = baseline(flow().y(), lead, size);
      if (first && !bullet.empty()) c_.text(bulletX, base, bullet, face, size, pal_.accent);
      c_.text(alignRight > 0 ? alignRight - l.width : x, base, l, face, size, color);
      flow().down(l.text.empty() ? lead * 0.5f : lead);
      first = false;
    }
    return true;
  }

  // Multi-paragraph text; lines starting with "- ", "* " or "• " become
  // bullet points with a hanging indent.
  bool description(const std::string& text, float x, float width) {
    if (text.empty()) return true;
    std::size_t pos = 0;
    while (pos <= text.size()) {
      std::size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) nl = text.size();
      const std::string_view para(text.data() + pos, nl - pos);
      pos = nl + 1;
      if (para.empty()) {
        flow().down(sz_.lead * 0.4f);
      } else {
        std::size_t skip = 0;
        // A right-to-left paragraph (first strong character Arabic, N'Ko…)
        // is aligned right, its bullet on the right.
        const bool rtl = c_.rightToLeft(para, reg());
        const float right = rtl ? x + width : 0;
        if (isBulletLine(para, skip)) {
          const float indent = 11;
          static constexpr std::string_view kBullet = "\xE2\x80\xA2";
          const float bulletX =
              rtl ? x + width - 1.5f - c_.textWidth(kBullet, reg(), sz_.body) : x + 1.5f;
          if (!lines(c_.wrap(para.substr(skip), reg(), sz_.body, width - indent), x + indent, reg(),
                     sz_.body, sz_.lead, pal_.text, kBullet, bulletX, rtl ? right - indent : 0)) {
            return false;
          }
        } else if (!lines(c_.wrap(para, reg(), sz_.body, width), x, reg(), sz_.body, sz_.lead,
                          pal_.text, {}, 0, right)) {
          return false;
        }
      }
      if (nl == text.size()) break;
    }
    return true;
  }

  void sectionGap() { flow().down(kind_ == TemplateKind::kMinimal ? 10 : 8); }

  // Heading of a section, kept together with at least two lines of content.
  bool section(std::string_view title) {
    Flow& f = flow();
    switch (kind_) {
      case TemplateKind::kModern: {
        if (!f.ensure(26 + 2 * sz_.lead)) return false;
        const float base = f.y() - 14;
        c_.fillRect(left_, base - 1.5f, 3.5f, 12.5f, pal_.accent);
        c_.text(left_ + 9, base, upper(title), bold(), 11, pal_.accent, 0.6f);
        c_.hline(left_ + 9 + c_.textWidth(upper(title), bold(), 11, 0.6f) + 8, right_, base + 3.5f,
                 0.6f, pal_.rule);
        f.down(24);
        return true;
      }
      case TemplateKind::kClassic: {
        if (!f.ensure(30 + 2 * sz_.lead)) return false;
        const std::string t = upper(title);
        const float w = c_.textWidth(t, bold(), 10.5f, 0.8f) - 0.8f;
        const float mid = (left_ + right_) / 2;
        const float base = f.y() - 16;
        c_.text(mid - w / 2, base, t, bold(), 10.5f, pal_.text, 0.8f);
        c_.hline(left_, mid - w / 2 - 12, base + 3.5f, 0.5f, pal_.rule);
        c_.hline(mid + w / 2 + 12, right_, base + 3.5f, 0.5f, pal_.rule);
        f.down(28);
        return true;
      }
      case TemplateKind::kMinimal: {
        if (!f.ensure(8 + 2 * sz_.lead)) return false;
        f.down(4);
        // Label sits in the left column on the first content line.
        c_.text(left_, baseline(f.y(), sz_.lead, 9), title, bold(), 9, pal_.muted);
        return true;
      }
      case TemplateKind::kBasic: {
        if (!f.ensure(24 + 2 * sz_.lead)) return false;
        const float base = f.y() - 14;
        c_.text(left_, base, title, reg(), 12.5f, pal_.text);
        c_.hline(left_, right_, base - 4, 0.5f, pal_.rule);
        f.down(22);
        return true;
      }
    }
    return false;
  }

  // One experience or education entry.
  bool entry(const std::string& title, const std::string& sub, const std::string& date,
             const std::string& desc) {
    Flow& f = flow();
    const float x = contentLeft_;
    const float width = right_ - x;
    const std::string& main = title.empty() ? sub : title;
    const std::string& second = title.empty() ? std::string() : sub;
    if (kind_ == TemplateKind::kBasic) {
      std::string line = main;
      if (!second.empty()) line += (line.empty() ? "" : " \xE2\x80\x94 ") + second;
      if (!date.empty()) line += (line.empty() ? "" : " (") + date + (line.empty() ? "" : ")");
      if (!f.ensure(2 * sz_.lead)) return false;
      if (!lines(c_.wrap(line, reg(), 10.5f, width), x, reg(), 10.5f, 14, pal_.text)) return false;
      if (!description(desc, x, width)) return false;
      f.down(8);
      return true;
    }
    const float dateSize = 9;
    const float dateW = date.empty() ? 0 : c_.textWidth(date, reg(), dateSize);
    const bool dateBeside = kind_ != TemplateKind::kMinimal && dateW < width * 0.4f;
    const float titleW = dateBeside ? width - dateW - 14 : width;
    std::vector<Line> titleLines = c_.wrap(main, bold(), sz_.entryTitle, titleW);
    if (titleLines.size() > 3) {
      titleLines.resize(3);
      titleLines[2].text =
          c_.ellipsize(titleLines[2].text + "\xE2\x80\xA6", bold(), sz_.entryTitle, titleW);
    }
    const float titleLead = sz_.entryTitle + 4;
    // Keep the entry head together with the first description line.
    if (!f.ensure(titleLead * static_cast<float>(titleLines.size()) + 2 * sz_.lead)) return false;
    bool first = true;
    for (const Line& l : titleLines) {
      const float base = baseline(f.y(), titleLead, sz_.entryTitle);
      c_.text(x, base, l, bold(), sz_.entryTitle, pal_.text);
      if (first && dateBeside && !date.empty()) {
        c_.text(right_ - dateW, base, date, reg(), dateSize, pal_.muted);
      }
      first = false;
      f.down(titleLead);
    }
    std::string subLine = second;
    if (!dateBeside && !date.empty()) {
      subLine += (subLine.empty() ? "" : "  \xC2\xB7  ") + date;
    }
    if (!subLine.empty()) {
      const Rgb subColor = kind_ == TemplateKind::kModern ? pal_.accent : pal_.muted;
      if (!lines(c_.wrap(subLine, reg(), sz_.entrySub, width), x, reg(), sz_.entrySub,
                 sz_.entrySub + 3.5f, subColor)) {
        return false;
      }
    }
    f.down(2.5f);
    if (!description(desc, x, width)) return false;
    f.down(kind_ == TemplateKind::kMinimal ? 10 : 8);
    return true;
  }

  // Skills and languages: chips for modern, a separated line otherwise.
  void list(const std::vector<std::string>& items, bool secondary) {
    Flow& f = flow();
    if (kind_ != TemplateKind::kModern) {
      std::string joined;
      const char* sep = kind_ == TemplateKind::kClassic ? "   \xC2\xB7   " : ", ";
      for (const auto& it : items) {
        if (!joined.empty()) joined += sep;
        joined += it;
      }
      lines(c_.wrap(joined, reg(), sz_.body, right_ - contentLeft_), contentLeft_, reg(), sz_.body,
            sz_.lead, pal_.text);
      sectionGap();
      return;
    }
    const float size = 9, padX = 7, rowH = 17, gap = 6;
    float x = left_;
    bool rowStarted = false;
    for (const auto& it : items) {
      std::string label = c_.ellipsize(it, reg(), size, right_ - left_ - 2 * padX);
      const float w = c_.textWidth(label, reg(), size) + 2 * padX;
      if (rowStarted && x + w > right_) {
        f.down(rowH + gap);
        x = left_;
        rowStarted = false;
      }
      if (!rowStarted && !f.ensure(rowH + gap)) return;
      rowStarted = true;
      const float yb = f.y() - rowH;
      if (secondary) {
        c_.strokeRect(x, yb, w, rowH, 0.8f, pal_.accent);
      } else {
        c_.fillRect(x, yb, w, rowH, pal_.accentSoft);
      }
      c_.text(x + padX, yb + 5.2f, label, reg(), size, pal_.accent);
      x += w + gap;
    }
    f.down(rowH + gap + 6);
  }

  static std::string upper(std::string_view ascii) {
    std::string s(ascii);
    for (char& ch : s) {
      if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
    }
    return s;
  }

  // Name, title and contact line on the first page.
  void header() {
    Flow& f = flow();
    std::string contact = cv_.email;
    if (!cv_.phone.empty()) contact += (contact.empty() ? "" : "   \xE2\x80\xA2   ") + cv_.phone;
    const float width = right_ - left_;
    auto capped = [&](const std::string& s, const Face& face, float size, std::size_t maxLines) {
      std::vector<Line> ls = c_.wrap(s, face, size, width);
      if (ls.size() > maxLines) {
        ls.resize(maxLines);
        ls.back().text = c_.ellipsize(ls.back().text + "\xE2\x80\xA6", face, size, width);
        ls.back().width = c_.textWidth(ls.back().text, face, size);
      }
      return ls;
    };
    switch (kind_) {
      case TemplateKind::kModern: {
        const auto name = capped(cv_.name, bold(), 24, 2);
        const auto title = capped(cv_.title, reg(), 12.5f, 2);
        const auto cont = capped(contact, reg(), 9.5f, 2);
        const float h = 30 + 29 * static_cast<float>(name.size()) +
                        17 * static_cast<float>(title.size()) +
                        14 * static_cast<float>(cont.size()) + (cont.empty() ? 0 : 8);
        const float bandBottom = Canvas::kPageHeight - std::max(h, 96.0f);
        c_.fillRect(0, bandBottom, Canvas::kPageWidth, Canvas::kPageHeight - bandBottom,
                    pal_.accent);
        float y = Canvas::kPageHeight - 30;
        for (const auto& l : name) {
          y -= 24;
          c_.text(left_, y, l, bold(), 24, {1, 1, 1});
          y -= 5;
        }
        for (const auto& l : title) {
          y -= 15;
          c_.text(left_, y, l, reg(), 12.5f, {0.80f, 0.87f, 0.94f});
          y -= 2;
        }
        if (!cont.empty()) y -= 8;
        for (const auto& l : cont) {
          y -= 12;
          c_.text(left_, y, l, reg(), 9.5f, {1, 1, 1});
          y -= 2;
        }
        f.setY(bandBottom - 18);
        break;
      }
      case TemplateKind::kClassic: {
        const float mid = (left_ + right_) / 2;
        float y = Canvas::kPageHeight - 58;
        for (const auto& l : capped(cv_.name, bold(), 22, 2)) {
          y -= 22;
          c_.text(mid - l.width / 2, y, l, bold(), 22, pal_.text);
          y -= 6;
        }
        for (const auto& l : capped(cv_.title, reg(), 11.5f, 2)) {
          y -= 13;
          c_.text(mid - l.width / 2, y, l, reg(), 11.5f, pal_.muted);
          y -= 4;
        }
        for (const auto& l : capped(contact, reg(), 9, 2)) {
          y -= 11;
          c_.text(mid - l.width / 2, y, l, reg(), 9, pal_.text);
          y -= 3;
        }
        y -= 10;
        c_.hline(left_, right_, y, 1.4f, pal_.text);
        c_.hline(left_, right_, y - 3, 0.5f, pal_.text);
        f.setY(y - 10);
        break;
      }
      case TemplateKind::kMinimal: {
        float y = Canvas::kPageHeight - 62;
        for (const auto& l : capped(cv_.name, bold(), 20, 2)) {
          y -= 20;
          c_.text(left_, y, l, bold(), 20, pal_.text);
          y -= 6;
        }
        for (const auto& l : capped(cv_.title, reg(), 11, 2)) {
          y -= 12;
          c_.text(left_, y, l, reg(), 11, pal_.muted);
          y -= 4;
        }
        for (const auto& l : capped(contact, reg(), 9, 2)) {
          y -= 11;
          c_.text(left_, y, l, reg(), 9, pal_.muted);
          y -= 3;
        }
        f.setY(y - 26);
        break;
      }
      case TemplateKind::kBasic: {
        float y = Canvas::kPageHeight - 60;
        for (const auto& l : capped(cv_.name, reg(), 18, 2)) {
          y -= 18;
          c_.text(left_, y, l, reg(), 18, pal_.text);
          y -= 6;
        }
        for (const auto& l : capped(cv_.title, reg(), 11, 2)) {
          y -= 12;
          c_.text(left_, y, l, reg(), 11, pal_.text);
          y -= 3;
        }
        for (const auto& l : capped(contact, reg(), 10, 2)) {
          y -= 11;
          c_.text(left_, y, l, reg(), 10, pal_.muted);
          y -= 3;
        }
        f.setY(y - 14);
        break;
      }
    }
  }

  void continuationHeader(Flow& f) {
    if (kind_ == TemplateKind::kModern) {
      c_.fillRect(0, Canvas::kPageHeight - 8, Canvas::kPageWidth, 8, pal_.accent);
      f.setY(Canvas::kPageHeight - 40);
    }
  }

  void truncationNote(bool pageCap) {
    const std::string note =
        pageCap
            ? "Content truncated: this CV is longer than the " + std::to_string(maxPages_) +
                  "-page limit."
            : std::string("Content truncated: some entries were too long or too many to include.");
    const float size = 8.5f;
    if (!pageCap && flow().ensure(Flow::kNoteHeight)) {
      c_.text(contentLeft_, baseline(flow().y(), Flow::kNoteHeight, size), note, reg(), size,
              pal_.muted);
      return;
    }
    // The flow kept kNoteHeight free at the bottom of the last page.
    c_.selectPage(c_.pageCount() - 1);
    c_.text(left_, kMarginBottom + 6, note, reg(), size, pal_.muted);
  }

  void footers() {
    const int n = c_.pageCount();
    for (int i = 0; i < n; ++i) {
      c_.selectPage(i);
      const std::string label = "Page " + std::to_string(i + 1) + " of " + std::to_string(n);
      const float size = 8;
      const float w = c_.textWidth(label, reg(), size);
      switch (kind_) {
        case TemplateKind::kModern:
          c_.hline(left_, right_, kFooterBaseline + 12, 0.5f, pal_.rule);
          if (!cv_.name.empty()) {
            c_.text(left_, kFooterBaseline, c_.ellipsize(cv_.name, reg(), size, 300), reg(), size,
                    pal_.muted);
          }
          c_.text(right_ - w, kFooterBaseline, label, reg(), size, pal_.muted);
          break;
        case TemplateKind::kClassic:
        case TemplateKind::kBasic:
          c_.text((left_ + right_ - w) / 2, kFooterBaseline, label, reg(), size, pal_.muted);
          break;
        case TemplateKind::kMinimal:
          c_.text(right_ - w, kFooterBaseline, label, reg(), size, pal_.muted);
          break;
      }
      if (!footerNote_.empty()) {
        // Centred under the footer, in the margin no content reaches.
        const float noteSize = 7;
        const std::string note = c_.ellipsize(footerNote_, reg(), noteSize, right_ - left_);
        const float nw = c_.textWidth(note, reg(), noteSize);
        c_.text((left_ + right_ - nw) / 2, kFooterNoteBaseline, note, reg(), noteSize, pal_.muted);
      }
    }
  }

  Canvas& c_;
  const CvData& cv_;
  TemplateKind kind_;
  int maxPages_;
  bool provokeError_;
  std::string_view footerNote_;
  Palette pal_{};
  Sizes sz_;
  float left_ = 56, right_ = 539, contentLeft_ = 56;
  Flow* flow_ = nullptr;
};

}  // namespace

LayoutResult layoutCv(Canvas& canvas, const CvData& cv, TemplateKind kind, int maxPages,
                      bool inputWasCut, bool provokeError, std::string_view footerNote) {
  CvLayout layout(canvas, cv, kind, maxPages, provokeError, footerNote);
  return layout.run(inputWasCut);
}

}  // namespace malipo::cvpdf::detail
