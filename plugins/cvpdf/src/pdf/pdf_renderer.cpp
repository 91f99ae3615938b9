#include "pdf/pdf_renderer.hpp"

#include <hpdf.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <utility>

#include "pdf/doc_fonts.hpp"
#include "pdf/layout.hpp"
#include "pdf/text_engine.hpp"
#include "pdf/text_util.hpp"

namespace malipo::cvpdf {
namespace {

using detail::LineMode;
using detail::TemplateKind;

// Input limits: the page cap bounds the output, these bound the work done
// before layout for absurd input.
constexpr std::size_t kMaxShortField = 300;
constexpr std::size_t kMaxLongField = 6000;
constexpr std::size_t kMaxEntries = 60;
constexpr std::size_t kMaxListItems = 120;
constexpr int kMaxPagesCeiling = 50;

struct HpdfError {
  HPDF_STATUS code = HPDF_OK;
  HPDF_STATUS detail = 0;
};

// Records the first libharu error of a document; callers check it at fixed
// points and abandon the document (no longjmp, nothing thrown through C).
extern "C" void onHpdfError(HPDF_STATUS code, HPDF_STATUS detail, void* user) {
  auto* e = static_cast<HpdfError*>(user);
  if (e->code == HPDF_OK) {
    e->code = code;
    e->detail = detail;
  }
}

std::string describe(const HpdfError& e) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "libharu error 0x%04X (detail %u)", static_cast<unsigned>(e.code),
                static_cast<unsigned>(e.detail));
  return buf;
}

struct DocDeleter {
  void operator()(HPDF_Doc d) const { HPDF_Free(d); }
};
using DocPtr = std::unique_ptr<std::remove_pointer_t<HPDF_Doc>, DocDeleter>;

// Sanitised copy of the input plus whether anything had to be dropped.
struct CleanCv {
  CvData cv;
  bool cut = false;
};

CleanCv sanitize(const CvData& in) {
  using detail::sanitizeUtf8;
  CleanCv out;
  auto shortField = [&](const std::string& s) {
    std::string r = sanitizeUtf8(s, LineMode::kSingleLine, kMaxShortField);
    return r;
  };
  auto longField = [&](const std::string& s) {
    return sanitizeUtf8(s, LineMode::kMultiLine, kMaxLongField);
  };
  out.cv.name = shortField(in.name);
  out.cv.title = shortField(in.title);
  out.cv.email = shortField(in.email);
  out.cv.phone = shortField(in.phone);
  out.cv.summary = longField(in.summary);
  for (const auto& e : in.experience) {
    if (out.cv.experience.size() == kMaxEntries) {
      out.cut = true;
      break;
    }
    ExperienceEntry c{shortField(e.position), shortField(e.company), shortField(e.duration),
                      longField(e.description)};
    if (!c.position.empty() || !c.company.empty() || !c.duration.empty() ||
        !c.description.empty()) {
      out.cv.experience.push_back(std::move(c));
    }
  }
  for (const auto& e : in.education) {
    if (out.cv.education.size() == kMaxEntries) {
      out.cut = true;
      break;
    }
    EducationEntry c{shortField(e.degree), shortField(e.school), shortField(e.duration),
                     longField(e.description)};
    if (!c.degree.empty() || !c.school.empty() || !c.duration.empty() || !c.description.empty()) {
      out.cv.education.push_back(std::move(c));
    }
  }
  auto list = [&](const std::vector<std::string>& src, std::vector<std::string>& dst) {
    for (const auto& s : src) {
      if (dst.size() == kMaxListItems) {
        out.cut = true;
        break;
      }
      std::string c = shortField(s);
      if (!c.empty()) dst.push_back(std::move(c));
    }
  };
  list(in.skills, out.cv.skills);
  list(in.languages, out.cv.languages);
  return out;
}

// Calls fn for every code point of every string of the CV.
template <typename Fn>
void forEachCodePoint(const CvData& cv, Fn&& fn) {
  std::vector<char32_t> cps;
  auto visit = [&](const std::string& s) {
    cps.clear();
    detail::decodeUtf8(s, cps);
    for (char32_t c : cps) fn(c);
  };
  visit(cv.name);
  visit(cv.title);
  visit(cv.email);
  visit(cv.phone);
  visit(cv.summary);
  for (const auto& e : cv.experience) {
    visit(e.position);
    visit(e.company);
    visit(e.duration);
    visit(e.description);
  }
  for (const auto& e : cv.education) {
    visit(e.degree);
    visit(e.school);
    visit(e.duration);
    visit(e.description);
  }
  for (const auto& s : cv.skills) visit(s);
  for (const auto& s : cv.languages) visit(s);
}

}  // namespace

struct PdfRenderer::Impl {
  RenderOptions opts;
  std::unique_ptr<detail::TextEngine> engine;

  explicit Impl(RenderOptions o) : opts(std::move(o)) {
    if (opts.fontDir.empty()) opts.fontDir = kDefaultFontDir;
    if (opts.notoFontDir.empty()) opts.notoFontDir = kDefaultNotoFontDir;
    if (opts.maxPages < 1) opts.maxPages = 1;
    if (opts.maxPages > kMaxPagesCeiling) opts.maxPages = kMaxPagesCeiling;
    opts.footerNote = detail::sanitizeUtf8(opts.footerNote, LineMode::kSingleLine, 300);
    engine = std::make_unique<detail::TextEngine>(
        detail::FontPaths{opts.fontDir, opts.notoFontDir, opts.emojiFont});
  }

  struct Attempt {
    bool ok = false;
    std::string pdf;
    int pages = 0;
    bool truncated = false;
    std::string error;
  };

  // One document from start to bytes. shaped == false: base-14 Helvetica.
  Attempt attempt(const CleanCv& cv, TemplateKind kind, bool shaped, bool provokeError) const {
    Attempt a;
    HpdfError err;
    DocPtr doc(HPDF_New(onHpdfError, &err));
    if (!doc) {
      a.error = "libharu could not create a document";
      return a;
    }
    HPDF_Doc pdf = doc.get();
    HPDF_SetCompressionMode(pdf, HPDF_COMP_ALL);
    HPDF_SetInfoAttr(pdf, HPDF_INFO_CREATOR, "Malipo CV PDF");
    detail::Face regular, bold;
    std::optional<detail::DocFonts> fonts;
    if (shaped) {
      fonts.emplace(pdf, *engine);
      regular = detail::Face{detail::Weight::kRegular, nullptr};
      bold = detail::Face{
          kind == TemplateKind::kBasic ? detail::Weight::kRegular : detail::Weight::kBold, nullptr};
    } else {
      regular =
          detail::Face{detail::Weight::kRegular, HPDF_GetFont(pdf, "Helvetica", "WinAnsiEncoding")};
      bold = regular;
      if (err.code != HPDF_OK || !regular.base14) {
        a.error = err.code != HPDF_OK ? describe(err) : "font could not be loaded";
        return a;
      }
    }
    detail::Canvas canvas(pdf, regular, bold, engine.get(), fonts ? &*fonts : nullptr);
    const detail::LayoutResult lr =
        detail::layoutCv(canvas, cv.cv, kind, opts.maxPages, cv.cut, provokeError, opts.footerNote);
    if (err.code != HPDF_OK) {
      a.error = describe(err);
      return a;
    }
    if (fonts) canvas.compressPages();
    if (fonts && !fonts->finish(a.error)) {
      a.error = "fonts: " + a.error;
      return a;
    }
    if (HPDF_SaveToStream(pdf) != HPDF_OK || err.code != HPDF_OK) {
      a.error = err.code != HPDF_OK ? describe(err) : "saving failed";
      return a;
    }
    HPDF_UINT32 size = HPDF_GetStreamSize(pdf);
    a.pdf.resize(size);
    HPDF_ResetStream(pdf);
    HPDF_UINT32 got = size;
    const HPDF_STATUS rs =
        HPDF_ReadFromStream(pdf, reinterpret_cast<HPDF_BYTE*>(a.pdf.data()), &got);
    if ((rs != HPDF_OK && rs != HPDF_STREAM_EOF) || got != size) {
      a.pdf.clear();
      a.error = "reading the document failed";
      return a;
    }
    a.ok = true;
    a.pages = lr.pages;
    a.truncated = lr.truncated;
    return a;
  }

  std::vector<std::string> unrenderable(const CvData& input) const {
    const CleanCv cv = sanitize(input);
    std::vector<char32_t> seen;
    std::vector<std::string> out;
    forEachCodePoint(cv.cv, [&](char32_t c) {
      if (engine->covers(c) || std::find(seen.begin(), seen.end(), c) != seen.end()) return;
      seen.push_back(c);
      std::string u;
      detail::appendUtf8(u, c);
      out.push_back(std::move(u));
    });
    return out;
  }

  RenderResult render(const CvData& input, const std::string& templateId) const {
    RenderResult res;
    try {
      const CleanCv cv = sanitize(input);
      TemplateKind kind = TemplateKind::kBasic;
      std::string why;
      if (templateId == "modern")
        kind = TemplateKind::kModern;
      else if (templateId == "classic")
        kind = TemplateKind::kClassic;
      else if (templateId == "minimal")
        kind = TemplateKind::kMinimal;
      else
        why = "unknown template '" + detail::sanitizeUtf8(templateId, LineMode::kSingleLine, 64) +
              "'";

      if (kind != TemplateKind::kBasic) {
        if (!engine->hasPrimary(detail::Weight::kRegular) ||
            !engine->hasPrimary(detail::Weight::kBold)) {
          why = "template '" + templateId + "' needs DejaVuSans.ttf and DejaVuSans-Bold.ttf in " +
                opts.fontDir;
        } else {
          Attempt a = attempt(cv, kind, true, opts.forceTemplateErrorForTesting);
          if (a.ok) {
            res.ok = true;
            res.pdf = std::move(a.pdf);
            res.pages = a.pages;
            res.truncated = a.truncated;
            return res;
          }
          why = "template '" + templateId + "' failed: " + a.error;
        }
      }

      // Fallback: the basic layout with the regular TrueType font, and if
      // even that is missing, Helvetica (CP1252 only).
      res.usedFallback = true;
      res.error = why;
      Attempt a;
      if (engine->hasPrimary(detail::Weight::kRegular))
        a = attempt(cv, TemplateKind::kBasic, true, false);
      if (!a.ok) {
        if (!a.error.empty()) res.error += "; basic layout failed: " + a.error;
        a = attempt(cv, TemplateKind::kBasic, false, false);
      }
      if (!a.ok) {
        res.error += "; base-14 layout failed: " + a.error;
        return res;
      }
      res.ok = true;
      res.pdf = std::move(a.pdf);
      res.pages = a.pages;
      res.truncated = a.truncated;
    } catch (const std::exception& e) {  // bad_alloc and the like
      res = RenderResult{};
      res.error = std::string("rendering failed: ") + e.what();
    }
    return res;
  }
};

PdfRenderer::PdfRenderer(RenderOptions opts)
    : impl_(std::make_unique<const Impl>(std::move(opts))) {}
PdfRenderer::~PdfRenderer() = default;
PdfRenderer::PdfRenderer(PdfRenderer&&) noexcept = default;
PdfRenderer& PdfRenderer::operator=(PdfRenderer&&) noexcept = default;

const std::vector<std::string>& PdfRenderer::templateIds() {
  static const std::vector<std::string> kIds = {"modern", "classic", "minimal"};
  return kIds;
}

RenderResult PdfRenderer::render(const CvData& cv, const std::string& templateId) const {
  return impl_->render(cv, templateId);
}

const std::string& PdfRenderer::fontWarnings() const {
  return impl_->engine->warnings();
}

std::vector<std::string> PdfRenderer::unrenderable(const CvData& cv) const {
  return impl_->unrenderable(cv);
}

std::string PdfRenderer::unrenderableWarning(const std::vector<std::string>& chars) {
  if (chars.empty()) return "";
  std::string list;
  for (std::size_t i = 0; i < chars.size() && i < 20; ++i) list += (i ? " " : "") + chars[i];
  if (chars.size() > 20) list += " \xE2\x80\xA6";
  return "Your CV contains characters that our PDF fonts cannot show: " + list +
         ". They will be left out of the PDF. Change them before you pay if they matter.";
}

}  // namespace malipo::cvpdf
