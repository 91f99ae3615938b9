#include "pdf/text_engine.hpp"

#include <fribidi.h>
#include <hb.h>

#include <algorithm>

namespace malipo::cvpdf::detail {
namespace {

constexpr std::uint8_t kNoFace = 0xFF;

bool isSpace(char32_t c) {
  return c == ' ' || c == 0xA0 || c == '\n';
}

// Scripts drawn glyph for code point, left to right, without shaping (when
// no combining mark or right-to-left character is on the line).
bool simpleScript(hb_script_t s) {
  switch (s) {
    case HB_SCRIPT_COMMON:
    case HB_SCRIPT_LATIN:
    case HB_SCRIPT_CYRILLIC:
    case HB_SCRIPT_GREEK:
    case HB_SCRIPT_ETHIOPIC:
    case HB_SCRIPT_ARMENIAN:
    case HB_SCRIPT_GEORGIAN:
    case HB_SCRIPT_CHEROKEE:
      return true;
    default:
      return false;
  }
}

bool isMark(hb_unicode_funcs_t* uf, char32_t c) {
  const hb_unicode_general_category_t gc = hb_unicode_general_category(uf, c);
  return gc == HB_UNICODE_GENERAL_CATEGORY_NON_SPACING_MARK ||
         gc == HB_UNICODE_GENERAL_CATEGORY_SPACING_MARK ||
         gc == HB_UNICODE_GENERAL_CATEGORY_ENCLOSING_MARK;
}

bool isIgnorable(char32_t c) {
  return c == 0x00AD || c == 0x034F || (c >= 0x200B && c <= 0x200F) ||
         (c >= 0x2060 && c <= 0x206F) || (c >= 0xFE00 && c <= 0xFE0F) ||
         (c >= 0xE0100 && c <= 0xE01EF);
}

}  // namespace

struct TextEngine::Impl {
  struct Face {
    std::unique_ptr<TrueTypeFont> ttf;
    hb_face_t* hbFace = nullptr;
    hb_font_t* hbFont = nullptr;
    float toThousandths = 1;
  };
  std::vector<Face> faces;
  // Fallback chain per weight (general fonts) and the script fonts.
  std::vector<std::uint8_t> chain[2];
  std::uint8_t devanagari[2] = {kNoFace, kNoFace}, gujarati[2] = {kNoFace, kNoFace};
  std::uint8_t ethiopic[2] = {kNoFace, kNoFace}, arabic[2] = {kNoFace, kNoFace}, nko = kNoFace,
               tifinagh = kNoFace;
  bool primary[2] = {false, false};
  // Per BMP code point and weight: chosen face, and whether it is "simple".
  std::vector<std::uint8_t> faceOf[2];
  std::vector<bool> simple;
  hb_unicode_funcs_t* uf = hb_unicode_funcs_get_default();

  ~Impl() {
    for (Face& f : faces) {
      if (f.hbFont) hb_font_destroy(f.hbFont);
      if (f.hbFace) hb_face_destroy(f.hbFace);
    }
  }

  std::uint8_t load(const std::string& path, std::string& warnings) {
    std::string err;
    auto ttf = TrueTypeFont::open(path, err);
    if (!ttf) {
      if (!warnings.empty()) warnings += "; ";
      warnings += err;
      return kNoFace;
    }
    Face f;
    hb_blob_t* blob =
        hb_blob_create(ttf->bytes().data(), static_cast<unsigned>(ttf->bytes().size()),
                       HB_MEMORY_MODE_READONLY, nullptr, nullptr);
    f.hbFace = hb_face_create(blob, 0);
    hb_blob_destroy(blob);
    f.hbFont = hb_font_create(f.hbFace);
    hb_font_make_immutable(f.hbFont);
    f.toThousandths = 1000.0f / static_cast<float>(ttf->unitsPerEm());
    f.ttf = std::move(ttf);
    faces.push_back(std::move(f));
    return static_cast<std::uint8_t>(faces.size() - 1);
  }

  std::uint8_t scriptFace(char32_t c, int w) const {
    const hb_script_t s = hb_unicode_script(uf, c);
    if (s == HB_SCRIPT_ETHIOPIC) return ethiopic[w];
    if (s == HB_SCRIPT_DEVANAGARI) return devanagari[w];
    if (s == HB_SCRIPT_GUJARATI) return gujarati[w];
    if (s == HB_SCRIPT_ARABIC) return arabic[w];
    if (s == HB_SCRIPT_NKO) return nko;
    if (s == HB_SCRIPT_TIFINAGH) return tifinagh;
    return kNoFace;
  }

  std::uint8_t pick(char32_t c, int w) const {
    const std::uint8_t sf = scriptFace(c, w);
    if (sf != kNoFace && faces[sf].ttf->glyphOf(c) != 0) return sf;
    for (std::uint8_t f : chain[w]) {
      if (faces[f].ttf->glyphOf(c) != 0) return f;
    }
    // Punctuation of one script that Unicode files under Common (the
    // Devanagari danda) is in that script's font only.
    for (std::uint8_t f : {devanagari[w], gujarati[w], ethiopic[w], arabic[w], nko, tifinagh}) {
      if (f != kNoFace && faces[f].ttf->glyphOf(c) != 0) return f;
    }
    return kNoFace;
  }

  std::uint8_t faceFor(char32_t c, int w) const { return c < 0x10000 ? faceOf[w][c] : pick(c, w); }

  bool inherits(char32_t c) const {
    const hb_script_t s = hb_unicode_script(uf, c);
    return s == HB_SCRIPT_COMMON || s == HB_SCRIPT_INHERITED || isMark(uf, c);
  }

  bool lineIsSimple(std::u32string_view t) const {
    for (char32_t c : t) {
      if (c >= 0x10000 || !simple[c]) return false;
    }
    return true;
  }

  void shapeSimple(std::u32string_view t, int w, std::vector<Glyph>& out) const {
    for (std::size_t i = 0; i < t.size(); ++i) {
      const char32_t c = t[i] == 0xA0 ? ' ' : t[i];
      const std::uint8_t f = faceOf[w][c];
      if (f == kNoFace) continue;
      const TrueTypeFont& ttf = *faces[f].ttf;
      const std::uint16_t gid = ttf.glyphOf(c);
      out.push_back(Glyph{f, gid, static_cast<float>(ttf.advanceThousandths(gid)), 0, 0,
                          static_cast<std::uint32_t>(i), 1, false});
    }
  }

  void shapeComplex(std::u32string_view t, int w, std::vector<Glyph>& out, Direction dir) const {
    const auto n = static_cast<FriBidiStrIndex>(t.size());
    thread_local std::vector<FriBidiCharType> types;
    thread_local std::vector<FriBidiBracketType> brackets;
    thread_local std::vector<FriBidiLevel> levels;
    types.resize(t.size());
    brackets.resize(t.size());
    levels.resize(t.size());
    const auto* str = reinterpret_cast<const FriBidiChar*>(t.data());
    fribidi_get_bidi_types(str, n, types.data());
    fribidi_get_bracket_types(str, n, types.data(), brackets.data());
    FriBidiParType base = dir == Direction::kRightToLeft   ? FRIBIDI_PAR_RTL
                          : dir == Direction::kLeftToRight ? FRIBIDI_PAR_LTR
                                                           : FRIBIDI_PAR_ON;
    if (fribidi_get_par_embedding_levels_ex(types.data(), brackets.data(), n, &base,
                                            levels.data()) == 0) {
      std::fill(levels.begin(), levels.end(), 0);
    }
    // Faces, with common characters and marks kept in the preceding font.
    thread_local std::vector<std::uint8_t> face;
    face.assign(t.size(), kNoFace);
    for (std::size_t i = 0; i < t.size(); ++i) {
      const char32_t c = t[i];
      std::uint8_t f = kNoFace;
      if (i > 0 && face[i - 1] != kNoFace && inherits(c) &&
          faces[face[i - 1]].ttf->glyphOf(c) != 0) {
        f = face[i - 1];
      } else {
        f = faceFor(c == 0xA0 ? ' ' : c, w);
      }
      face[i] = f;
    }
    // A leading run of common characters takes the font of what follows.
    std::size_t lead = 0;
    while (lead < t.size() && inherits(t[lead])) ++lead;
    for (std::size_t i = std::min(lead, t.size() - 1); i-- > 0;) {
      if (face[i + 1] != kNoFace && faces[face[i + 1]].ttf->glyphOf(t[i]) != 0)
        face[i] = face[i + 1];
    }
    struct Run {
      std::size_t start, len;
      FriBidiLevel level;
      std::size_t glyphStart, glyphEnd;
    };
    thread_local std::vector<Run> runs;
    runs.clear();
    for (std::size_t i = 0; i < t.size();) {
      if (face[i] == kNoFace || isIgnorable(t[i])) {
        ++i;
        continue;
      }
      std::size_t j = i + 1;
      while (j < t.size() && face[j] == face[i] && levels[j] == levels[i] && !isIgnorable(t[j]))
        ++j;
      runs.push_back(Run{i, j - i, levels[i], 0, 0});
      i = j;
    }
    thread_local std::vector<Glyph> shaped;
    shaped.clear();
    struct BufferDeleter {
      void operator()(hb_buffer_t* b) const { hb_buffer_destroy(b); }
    };
    thread_local std::unique_ptr<hb_buffer_t, BufferDeleter> buffer(hb_buffer_create());
    hb_buffer_t* buf = buffer.get();
    for (Run& r : runs) {
      hb_buffer_clear_contents(buf);
      hb_buffer_add_utf32(buf, reinterpret_cast<const std::uint32_t*>(t.data()),
                          static_cast<int>(t.size()), static_cast<unsigned>(r.start),
                          static_cast<int>(r.len));
      const bool rtl = (r.level & 1) != 0;
      hb_buffer_set_direction(buf, rtl ? HB_DIRECTION_RTL : HB_DIRECTION_LTR);
      hb_buffer_guess_segment_properties(buf);
      const Face& f = faces[face[r.start]];
      hb_shape(f.hbFont, buf, nullptr, 0);
      unsigned count = 0;
      const hb_glyph_info_t* info = hb_buffer_get_glyph_infos(buf, &count);
      const hb_glyph_position_t* pos = hb_buffer_get_glyph_positions(buf, &count);
      r.glyphStart = shaped.size();
      for (unsigned k = 0; k < count; ++k) {
        shaped.push_back(Glyph{face[r.start], static_cast<std::uint16_t>(info[k].codepoint),
                               static_cast<float>(pos[k].x_advance) * f.toThousandths,
                               static_cast<float>(pos[k].x_offset) * f.toThousandths,
                               static_cast<float>(pos[k].y_offset) * f.toThousandths,
                               info[k].cluster, 0, rtl});
      }
      r.glyphEnd = shaped.size();
      // Text of each cluster: the characters from its cluster value to the
      // next cluster value of the run. Clusters are monotone (HarfBuzz's
      // default cluster level), so in logical order — forwards for
      // left-to-right runs, backwards for right-to-left ones — the glyphs of
      // a cluster are adjacent: one pass.
      thread_local std::vector<std::size_t> logical;
      logical.clear();
      for (std::size_t g = r.glyphStart; g < r.glyphEnd; ++g) logical.push_back(g);
      if (rtl) std::reverse(logical.begin(), logical.end());
      for (std::size_t i = 0; i < logical.size();) {
        const std::uint32_t cs = shaped[logical[i]].textStart;
        std::size_t j = i + 1;
        while (j < logical.size() && shaped[logical[j]].textStart == cs) ++j;
        const std::uint32_t ce = j < logical.size() ? shaped[logical[j]].textStart
                                                    : static_cast<std::uint32_t>(r.start + r.len);
        const std::uint32_t chars = ce > cs ? ce - cs : 1;
        const std::size_t n = j - i;
        for (std::size_t k = 0; k < n; ++k) {
          Glyph& g = shaped[logical[i + k]];
          if (n <= chars) {
            // One character each, the first glyph taking what is left: the
            // text stays in order and no glyph is without text, so
            // extractors see no gap inside the cluster (a reordered vowel
            // sign: "प्रि" is drawn as ि + प्र and maps to "प्र" + "ि").
            const std::uint32_t extra = static_cast<std::uint32_t>(chars - n);
            g.textStart = cs + static_cast<std::uint32_t>(k) + (k == 0 ? 0 : extra);
            g.textLen = k == 0 ? 1 + extra : 1;
          } else {
            g.textLen = k == 0 ? chars : 0;
          }
        }
        i = j;
      }
    }
    // Rule L2: from the highest level down to the lowest odd one, reverse
    // every sequence of runs at that level or above.
    thread_local std::vector<std::size_t> order;
    order.resize(runs.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    FriBidiLevel maxLevel = 0, minOdd = 0xFF;
    for (const Run& r : runs) {
      maxLevel = std::max(maxLevel, r.level);
      if (r.level & 1) minOdd = std::min(minOdd, r.level);
    }
    for (int lev = maxLevel; lev >= minOdd && lev > 0; --lev) {
      for (std::size_t i = 0; i < order.size();) {
        if (runs[order[i]].level < lev) {
          ++i;
          continue;
        }
        std::size_t j = i;
        while (j < order.size() && runs[order[j]].level >= lev) ++j;
        std::reverse(order.begin() + static_cast<std::ptrdiff_t>(i),
                     order.begin() + static_cast<std::ptrdiff_t>(j));
        i = j;
      }
    }
    thread_local std::vector<FriBidiLevel> glyphLevel;
    glyphLevel.clear();
    for (std::size_t ri : order) {
      for (std::size_t g = runs[ri].glyphStart; g < runs[ri].glyphEnd; ++g) {
        if (shaped[g].gid == 0) continue;  // never draw .notdef
        out.push_back(shaped[g]);
        glyphLevel.push_back(runs[ri].level);
      }
    }
    if (maxLevel > 0) markRuns(t, base == FRIBIDI_PAR_RTL, glyphLevel, out);
  }

  // How extractors that rebuild logical order from visual order classify a
  // character (poppler's table, close to the bidi class): 'L' left to right,
  // 'R' right to left, '#' digits and what poppler reads with them
  // (+ - . , / : # $ % NBSP…: ES, CS, ET), 'N' neutral (spaces, brackets…).
  static char extractorType(char32_t c) {
    const FriBidiCharType t = fribidi_get_bidi_type(c);
    if (t == FRIBIDI_TYPE_LTR) return 'L';
    if (t == FRIBIDI_TYPE_RTL || t == FRIBIDI_TYPE_AL) return 'R';
    if (t == FRIBIDI_TYPE_EN || t == FRIBIDI_TYPE_AN || t == FRIBIDI_TYPE_ES ||
        t == FRIBIDI_TYPE_CS || t == FRIBIDI_TYPE_ET)
      return '#';
    return 'N';
  }

  // Sets Glyph::marks on a line with right-to-left runs (out: visual order,
  // levels: each glyph's bidi level). poppler's pdftotext
  // (TextOutputDev.cc, reorderText) takes a line's characters in visual
  // order, spaces inferred from gaps, and on a page with more right-to-left
  // letters reads it from the right: a right-to-left section runs leftwards
  // over everything that is not 'L' or '#' and is reversed, a left-to-right
  // section runs leftwards over everything that is not 'R' and keeps its
  // order (on a mostly left-to-right page the same from the left, with the
  // roles swapped). So a space between "PostgreSQL" and the Arabic word
  // logically after it, which is drawn to its left, is read before it, and
  // "2018 - 2024" or "C++" inside Arabic come out turned around. An RLM
  // (class R) drawn just left of a run, and an LRM (class L) just right of
  // it where the run ends in a neutral, make the sections the runs of the
  // bidi algorithm: a right-to-left paragraph's units are its
  // left-to-right runs (even levels) and each digit-like character at an odd
  // level; a left-to-right paragraph's are its right-to-left runs. An Arabic
  // phrase with a number inside, in a left-to-right paragraph, stays out of
  // reach: poppler emits sections in visual order there.
  static void markRuns(std::u32string_view t, bool rtlParagraph,
                       const std::vector<FriBidiLevel>& level, std::vector<Glyph>& out) {
    const std::size_t n = out.size();
    auto hasText = [&](std::size_t i) { return out[i].textLen > 0; };
    auto isSpaceGlyph = [&](std::size_t i) {
      return out[i].textLen == 1 && isSpace(t[out[i].textStart]);
    };
    // First and last character of the glyph's text as written (visual order
    // for a right-to-left glyph).
    auto leftChar = [&](std::size_t i) {
      const Glyph& g = out[i];
      return t[g.rtl ? g.textStart + g.textLen - 1 : g.textStart];
    };
    auto rightChar = [&](std::size_t i) {
      const Glyph& g = out[i];
      return t[g.rtl ? g.textStart : g.textStart + g.textLen - 1];
    };
    auto digitLike = [&](std::size_t i) {
      for (std::uint32_t k = 0; k < out[i].textLen; ++k) {
        const char ty = extractorType(t[out[i].textStart + k]);
        if (ty == 'L' || ty == '#') return true;
      }
      return false;
    };
    // Nearest glyph with text left / right of i (n: none).
    auto prevText = [&](std::size_t i) {
      while (i-- > 0) {
        if (hasText(i)) return i;
      }
      return n;
    };
    auto nextText = [&](std::size_t i) {
      while (++i < n) {
        if (hasText(i)) return i;
      }
      return n;
    };
    auto inUnit = [&](std::size_t i) {
      if (rtlParagraph) return (level[i] & 1) == 0;
      return (level[i] & 1) != 0;
    };
    for (std::size_t i = 0; i < n;) {
      const bool single = rtlParagraph && !inUnit(i) && hasText(i) && digitLike(i);
      if (!inUnit(i) && !single) {
        ++i;
        continue;
      }
      std::size_t j = i + 1;
      if (!single) {
        while (j < n && inUnit(j)) ++j;
      }
      // The unit's first and last glyphs with text, spaces excluded.
      std::size_t a = i, b = j;
      while (a < j && (!hasText(a) || isSpaceGlyph(a))) ++a;
      while (b > a && (!hasText(b - 1) || isSpaceGlyph(b - 1))) --b;
      if (a < b) {
        const std::size_t last = b - 1;
        const std::size_t left = prevText(a), right = nextText(last);
        if (rtlParagraph) {
          // Stop the left-to-right section at the unit's left edge; start it
          // at its right edge.
          if (left != n && (isSpaceGlyph(left) || extractorType(rightChar(left)) != 'R'))
            out[a].marks |= kMarkRlmBefore;
          const char r = extractorType(rightChar(last));
          if (r != 'L' && r != '#') out[last].marks |= kMarkLrmAfter;
        } else {
          if (left != n && extractorType(leftChar(a)) != 'R') out[a].marks |= kMarkRlmBefore;
          if (right != n) {
            const char r = extractorType(leftChar(right));
            if (isSpaceGlyph(right) || (r != 'L' && r != '#')) out[last].marks |= kMarkLrmAfter;
          }
        }
      }
      i = j;
    }
  }
};

TextEngine::TextEngine(const FontPaths& p) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  const std::string& dv = p.dejavuDir;
  const std::string& nd = p.notoDir;
  const std::uint8_t dejavu[2] = {m.load(dv + "/DejaVuSans.ttf", warnings_),
                                  m.load(dv + "/DejaVuSans-Bold.ttf", warnings_)};
  m.primary[0] = dejavu[0] != kNoFace;
  m.primary[1] = dejavu[1] != kNoFace;
  // Optional fonts: missing ones only shorten the chain (their characters
  // are then reported by unrenderable()).
  std::string optional;
  auto opt = [&](const std::string& path) { return m.load(path, optional); };
  m.ethiopic[0] = opt(nd + "/NotoSansEthiopic-Regular.ttf");
  m.ethiopic[1] = opt(nd + "/NotoSansEthiopic-Bold.ttf");
  m.devanagari[0] = opt(nd + "/NotoSansDevanagari-Regular.ttf");
  m.devanagari[1] = opt(nd + "/NotoSansDevanagari-Bold.ttf");
  m.gujarati[0] = opt(nd + "/NotoSansGujarati-Regular.ttf");
  m.gujarati[1] = opt(nd + "/NotoSansGujarati-Bold.ttf");
  m.arabic[0] = opt(nd + "/NotoSansArabic-Regular.ttf");
  m.arabic[1] = opt(nd + "/NotoSansArabic-Bold.ttf");
  m.nko = opt(nd + "/NotoSansNKo-Regular.ttf");
  m.tifinagh = opt(nd + "/NotoSansTifinagh-Regular.ttf");
  const std::uint8_t noto[2] = {opt(nd + "/NotoSans-Regular.ttf"), opt(nd + "/NotoSans-Bold.ttf")};
  const std::uint8_t sym[2] = {opt(nd + "/NotoSansSymbols-Regular.ttf"),
                               opt(nd + "/NotoSansSymbols-Bold.ttf")};
  const std::uint8_t sym2 = opt(nd + "/NotoSansSymbols2-Regular.ttf");
  const std::uint8_t emoji = p.emojiFont.empty() ? kNoFace : opt(p.emojiFont);
  if (!optional.empty())
    warnings_ += (warnings_.empty() ? "" : "; ") + optional + " (those scripts cannot be drawn)";
  for (int w = 0; w < 2; ++w) {
    for (std::uint8_t f : {dejavu[w], noto[w], sym[w], dejavu[0], noto[0], sym[0], sym2, emoji}) {
      if (f != kNoFace && std::find(m.chain[w].begin(), m.chain[w].end(), f) == m.chain[w].end()) {
        m.chain[w].push_back(f);
      }
    }
    if (m.ethiopic[w] == kNoFace) m.ethiopic[w] = m.ethiopic[0];
    if (m.devanagari[w] == kNoFace) m.devanagari[w] = m.devanagari[0];
    if (m.gujarati[w] == kNoFace) m.gujarati[w] = m.gujarati[0];
    if (m.arabic[w] == kNoFace) m.arabic[w] = m.arabic[0];
  }
  for (int w = 0; w < 2; ++w) {
    m.faceOf[w].assign(0x10000, kNoFace);
    for (char32_t c = 0x20; c < 0x10000; ++c) m.faceOf[w][c] = m.pick(c, w);
  }
  m.simple.assign(0x10000, false);
  for (char32_t c = 0x20; c < 0x10000; ++c) {
    const FriBidiCharType bt = fribidi_get_bidi_type(c);
    m.simple[c] = simpleScript(hb_unicode_script(m.uf, c)) && !isMark(m.uf, c) && !isIgnorable(c) &&
                  !FRIBIDI_IS_RTL(bt) && bt != FRIBIDI_TYPE_AN &&
                  !FRIBIDI_IS_EXPLICIT_OR_ISOLATE_OR_BN_OR_NSM(bt);
  }
  m.simple[0xA0] = true;
}

TextEngine::~TextEngine() = default;

bool TextEngine::hasPrimary(Weight w) const {
  return impl_->primary[static_cast<int>(w)];
}
std::size_t TextEngine::faceCount() const {
  return impl_->faces.size();
}
const TrueTypeFont& TextEngine::face(std::size_t i) const {
  return *impl_->faces.at(i).ttf;
}

bool TextEngine::covers(char32_t cp) const {
  if (isSpace(cp) || isIgnorable(cp)) return true;
  return impl_->faceFor(cp, 0) != kNoFace;
}

void TextEngine::shape(std::u32string_view text, Weight w, std::vector<Glyph>& out,
                       Direction dir) const {
  out.clear();
  const int wi = static_cast<int>(w);
  if (dir != Direction::kRightToLeft && impl_->lineIsSimple(text))
    impl_->shapeSimple(text, wi, out);
  else
    impl_->shapeComplex(text, wi, out, dir);
}

bool TextEngine::rightToLeft(std::u32string_view text) const {
  for (char32_t c : text) {
    const FriBidiCharType t = fribidi_get_bidi_type(c);
    if (FRIBIDI_IS_LETTER(t) || t == FRIBIDI_TYPE_AL) return FRIBIDI_IS_RTL(t);
  }
  return false;
}

bool TextEngine::needsActualText(std::u32string_view text) const {
  for (char32_t c : text) {
    if (c < 0x07C0 || (c >= 0x0800 && c < 0x10000 && impl_->simple[c])) continue;
    if (!FRIBIDI_IS_RTL(fribidi_get_bidi_type(c))) continue;
    const hb_script_t s = hb_unicode_script(impl_->uf, c);
    if (s != HB_SCRIPT_ARABIC && s != HB_SCRIPT_HEBREW) return true;
  }
  return false;
}

}  // namespace malipo::cvpdf::detail
