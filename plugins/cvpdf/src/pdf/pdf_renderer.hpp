// CV PDF renderer of the CV PDF product plugin (libharu based, standalone).
//
//   PdfRenderer renderer(RenderOptions{});            // loads fonts once
//   RenderResult r = renderer.render(cv, "modern");    // any thread
//   if (r.ok) send(r.pdf);                             // application/pdf bytes
//
// Templates: "modern", "classic", "minimal". An unknown template id, a
// template that fails inside libharu, or a font directory without the bold
// face yields a plain fallback layout (usedFallback = true, error says why)
// rather than no document. ok is false only when not even that could be made.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pdf/cv_data.hpp"

namespace malipo::cvpdf {

// Debian's fonts-dejavu-core location; used when RenderOptions::fontDir is
// empty.
inline constexpr const char* kDefaultFontDir = "/usr/share/fonts/truetype/dejavu";
// Debian's fonts-noto-core location (Noto Sans, Ethiopic, Arabic, N'Ko,
// Tifinagh, Symbols) and the monochrome emoji font of fonts-symbola.
inline constexpr const char* kDefaultNotoFontDir = "/usr/share/fonts/truetype/noto";
inline constexpr const char* kDefaultEmojiFont =
    "/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf";

struct RenderOptions {
  int maxPages = 5;     // content beyond this many pages is cut, with a note
  std::string fontDir;  // dir with DejaVuSans.ttf and DejaVuSans-Bold.ttf ("" = default)
  std::string
      notoFontDir;  // dir with the Noto fonts ("" = default); missing files shorten the chain
  std::string emojiFont = kDefaultEmojiFont;  // monochrome emoji font ("" = none)
  // Who made the document (the brand's name, support phone and email, e.g.
  // "CV Chap Chap · +255 700 000 000 · help@example.com"): one small line under
  // every page's footer, cut with an ellipsis where it does not fit. "" = none.
  std::string footerNote;
  // Test hook: makes every template raise a libharu error half-way through
  // so the fallback path can be exercised. Never set in production.
  bool forceTemplateErrorForTesting = false;
};

struct RenderResult {
  bool ok = false;
  std::string pdf;
  int pages = 0;
  bool usedFallback = false;
  bool truncated = false;  // content was cut at maxPages
  std::string error;       // why the fallback was used, or why ok is false
};

class PdfRenderer {  // thread-safe: render() may be called from several threads at once
 public:
  explicit PdfRenderer(RenderOptions opts);
  ~PdfRenderer();
  PdfRenderer(PdfRenderer&&) noexcept;
  PdfRenderer& operator=(PdfRenderer&&) noexcept;
  PdfRenderer(const PdfRenderer&) = delete;
  PdfRenderer& operator=(const PdfRenderer&) = delete;

  static const std::vector<std::string>& templateIds();  // {"modern","classic","minimal"}
  RenderResult render(const CvData& cv, const std::string& templateId) const;

  // The characters of the CV (after the same cleaning as render()) that no
  // font can draw, once each in order of appearance, as UTF-8. render()
  // leaves them out; callers say so before anyone pays.
  std::vector<std::string> unrenderable(const CvData& cv) const;
  // One sentence for the person about to pay, naming those characters; ""
  // when the list is empty.
  static std::string unrenderableWarning(const std::vector<std::string>& chars);

  // Problems found while loading fonts (empty when all is well); render()
  // still works, with a fallback layout or a slower font path.
  const std::string& fontWarnings() const;

 private:
  struct Impl;
  std::unique_ptr<const Impl> impl_;
};

}  // namespace malipo::cvpdf
