#include "pdf/pdf_renderer.hpp"

#include <hpdf.h>

#include <algorithm>
#include <bitset>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "pdf/layout.hpp"
#include "pdf/text_util.hpp"
#include "pdf/truetype.hpp"

#if defined(__linux__)
#include <sys/mman.h>
#endif
#include <unistd.h>

namespace malipo::cvpdf {
namespace {

using detail::CodeRange;
using detail::LineMode;
using detail::TemplateKind;
using detail::WidthTable;

// Code points of the fast font set: Latin (Basic through Extended-B), the
// general punctuation CVs use (dashes, quotes, bullet, ellipsis), currency
// signs and U+FFFD. Every extra range costs one cmap segment, and every glyph
// costs per document (see truetype.hpp), so rarer scripts go to the slow path
// that embeds the original font files.
const std::vector<CodeRange>& fastRanges() {
  static const std::vector<CodeRange> kRanges = {
      {0x0020, 0x024F}, {0x2010, 0x203A}, {0x20A0, 0x20BF}, {0xFFFD, 0xFFFD}};
  return kRanges;
}

// Input limits: the page cap bounds the output, these bound the work done
// before layout for absurd input.
constexpr std::size_t kMaxShortField = 300;
constexpr std::size_t kMaxLongField = 6000;
constexpr std::size_t kMaxEntries = 60;
constexpr std::size_t kMaxListItems = 120;
constexpr int kMaxPagesCeiling = 50;

bool readFile(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return static_cast<bool>(in) || in.eof();
}

// A font file libharu can open by path. libharu 2.3 loads TrueType fonts only
// from files, so the reduced fonts live in an anonymous memory file on Linux
// (nothing left on disk) or else in an unlinked-on-destruction temp file.
class FontFile {
 public:
  FontFile() = default;
  FontFile(const FontFile&) = delete;
  FontFile& operator=(const FontFile&) = delete;
  ~FontFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!tempPath_.empty()) std::remove(tempPath_.c_str());
  }

  bool create(const std::string& bytes, std::string& error) {
#if defined(__linux__) && defined(MFD_CLOEXEC)
    fd_ = ::memfd_create("malipo-cvpdf-font", MFD_CLOEXEC);
    if (fd_ >= 0 && writeAll(bytes)) {
      path_ = "/proc/self/fd/" + std::to_string(fd_);
      if (std::FILE* f = std::fopen(path_.c_str(), "rb")) {
        std::fclose(f);
        return true;
      }
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
#endif
    std::error_code ec;
    std::string tmpl = (std::filesystem::temp_directory_path(ec) / "malipo-cvpdf-XXXXXX").string();
    fd_ = ::mkstemp(tmpl.data());
    if (fd_ < 0) {
      error = "cannot create a temporary font file";
      return false;
    }
    tempPath_ = tmpl;
    path_ = tmpl;
    if (!writeAll(bytes)) {
      error = "cannot write a temporary font file";
      return false;
    }
    return true;
  }

  const std::string& path() const { return path_; }

 private:
  bool writeAll(const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

  int fd_ = -1;
  std::string path_;
  std::string tempPath_;
};

// Regular + bold font files and their width tables.
struct FontSet {
  std::string regularPath, boldPath;  // empty when unavailable
  WidthTable regularWidths, boldWidths;
};

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

// libharu 2.3 writes a ToUnicode CMap for its UTF-8 fonts that uses
// "begincidrange", which is not valid in a ToUnicode CMap: poppler warns and
// guesses right (our CIDs are Unicode code points), but stricter extractors
// (PDFBox/Tika, pdfminer: what CV parsers use) can lose the text. With
// Identity-H and CID = code point the right map is the identity, written as
// one bfrange per 256-code row; only the rows the document uses, since every
// row costs bytes and zlib time.
using RowSet = std::bitset<256>;

std::string identityToUnicodeCMap(const RowSet& rows) {
  std::string s =
      "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
      "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
      "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
      "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n";
  std::vector<unsigned> list;
  for (unsigned hi = 0; hi < 0x100; ++hi) {
    if (rows.test(hi) && (hi < 0xD8 || hi > 0xDF)) list.push_back(hi);  // no surrogates
  }
  char buf[64];
  for (std::size_t i = 0; i < list.size(); i += 100) {  // at most 100 per block
    const std::size_t n = std::min<std::size_t>(100, list.size() - i);
    s += std::to_string(n) + " beginbfrange\n";
    for (std::size_t k = i; k < i + n; ++k) {
      std::snprintf(buf, sizeof buf, "<%02X00> <%02XFF> <%02X00>\n", list[k], list[k], list[k]);
      s += buf;
    }
    s += "endbfrange\n";
  }
  s += "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n";
  return s;
}

// Replaces the content of the font's ToUnicode stream (libharu internals:
// the exported dictionary/stream API of Debian's libhpdf 2.3). Leaves the
// font alone if the structure is not what we expect.
void fixToUnicode(HPDF_Font font, const std::string& cmap) {
  auto* tu = static_cast<HPDF_Dict>(HPDF_Dict_GetItem(font, "ToUnicode", HPDF_OCLASS_DICT));
  if (!tu || !tu->stream) return;
  HPDF_Stream fresh = HPDF_MemStream_New(tu->mmgr, 4096);
  if (!fresh) return;
  if (HPDF_Stream_Write(fresh, reinterpret_cast<const HPDF_BYTE*>(cmap.data()),
                        static_cast<HPDF_UINT>(cmap.size())) != HPDF_OK) {
    HPDF_Stream_Free(fresh);
    return;
  }
  HPDF_Stream_Free(tu->stream);
  tu->stream = fresh;
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
  auto longField = [&](const std::string& s) { return sanitizeUtf8(s, LineMode::kMultiLine, kMaxLongField); };
  out.cv.name = shortField(in.name);
  out.cv.title = shortField(in.title);
  out.cv.email = shortField(in.email);
  out.cv.phone = shortField(in.phone);
  out.cv.summary = longField(in.summary);
  for (const auto& e : in.experience) {
    if (out.cv.experience.size() == kMaxEntries) { out.cut = true; break; }
    ExperienceEntry c{shortField(e.position), shortField(e.company), shortField(e.duration),
                      longField(e.description)};
    if (!c.position.empty() || !c.company.empty() || !c.duration.empty() || !c.description.empty()) {
      out.cv.experience.push_back(std::move(c));
    }
  }
  for (const auto& e : in.education) {
    if (out.cv.education.size() == kMaxEntries) { out.cut = true; break; }
    EducationEntry c{shortField(e.degree), shortField(e.school), shortField(e.duration),
                     longField(e.description)};
    if (!c.degree.empty() || !c.school.empty() || !c.duration.empty() || !c.description.empty()) {
      out.cv.education.push_back(std::move(c));
    }
  }
  auto list = [&](const std::vector<std::string>& src, std::vector<std::string>& dst) {
    for (const auto& s : src) {
      if (dst.size() == kMaxListItems) { out.cut = true; break; }
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
  visit(cv.name); visit(cv.title); visit(cv.email); visit(cv.phone); visit(cv.summary);
  for (const auto& e : cv.experience) { visit(e.position); visit(e.company); visit(e.duration); visit(e.description); }
  for (const auto& e : cv.education) { visit(e.degree); visit(e.school); visit(e.duration); visit(e.description); }
  for (const auto& s : cv.skills) visit(s);
  for (const auto& s : cv.languages) visit(s);
}

}  // namespace

struct PdfRenderer::Impl {
  RenderOptions opts;
  FontSet fast;  // reduced fonts: most CVs
  FontSet full;  // the original files: CVs with other scripts
  std::vector<bool> inFast, inFull;  // per BMP code point
  RowSet fastRows;                   // 256-code rows of the fast set
  std::string fastToUnicode;         // ToUnicode CMap for those rows
  FontFile fastRegularFile, fastBoldFile;
  std::string warnings;

  explicit Impl(RenderOptions o) : opts(std::move(o)) {
    if (opts.fontDir.empty()) opts.fontDir = kDefaultFontDir;
    if (opts.maxPages < 1) opts.maxPages = 1;
    if (opts.maxPages > kMaxPagesCeiling) opts.maxPages = kMaxPagesCeiling;
    inFast.assign(0x10000, false);
    for (const CodeRange& r : fastRanges()) {
      for (char32_t c = r.first; c <= r.last; ++c) inFast[c] = true;
    }
    inFast['\n'] = true;
    for (const CodeRange& r : fastRanges()) {
      for (char32_t row = r.first >> 8; row <= (r.last >> 8); ++row) fastRows.set(row);
    }
    fastToUnicode = identityToUnicodeCMap(fastRows);
    inFull.assign(0x10000, false);
    loadFace(opts.fontDir + "/DejaVuSans.ttf", full.regularPath, full.regularWidths, fast.regularPath,
             fast.regularWidths, fastRegularFile, &inFull);
    loadFace(opts.fontDir + "/DejaVuSans-Bold.ttf", full.boldPath, full.boldWidths, fast.boldPath,
             fast.boldWidths, fastBoldFile, nullptr);
  }

  void warn(const std::string& w) {
    if (!warnings.empty()) warnings += "; ";
    warnings += w;
  }

  void loadFace(const std::string& path, std::string& fullPath, WidthTable& fullWidths, std::string& fastPath,
                WidthTable& fastWidths, FontFile& file, std::vector<bool>* coverage) {
    std::string bytes, err;
    if (!readFile(path, bytes)) {
      warn("cannot read " + path);
      return;
    }
    std::vector<bool> covered;
    if (!detail::readWidths(bytes, fullWidths, covered, err)) {
      warn(path + ": " + err);
      return;
    }
    fullPath = path;
    if (coverage) *coverage = std::move(covered);
    detail::ReducedFont reduced;
    if (detail::buildReducedFont(bytes, fastRanges(), reduced, err) && file.create(reduced.bytes, err)) {
      fastPath = file.path();
      fastWidths = std::move(reduced.widths);
    } else {
      warn(path + ": no reduced font (" + err + "), using the full font");
      fastPath = fullPath;
      fastWidths = fullWidths;
    }
  }

  struct Attempt {
    bool ok = false;
    std::string pdf;
    int pages = 0;
    bool truncated = false;
    std::string error;
  };

  // One document from start to bytes. fonts == nullptr: base-14 Helvetica.
  Attempt attempt(const CleanCv& cv, TemplateKind kind, const FontSet* fonts, const std::string& toUnicode,
                  bool provokeError) const {
    Attempt a;
    HpdfError err;
    DocPtr doc(HPDF_New(onHpdfError, &err));
    if (!doc) {
      a.error = "libharu could not create a document";
      return a;
    }
    HPDF_Doc pdf = doc.get();
    // Compression: without it the two 65,536-entry CIDToGIDMaps alone make
    // a 300 KB file; with it a two-page CV is ~20 KB for ~1.3 ms of zlib.
    HPDF_SetCompressionMode(pdf, HPDF_COMP_ALL);
    HPDF_SetInfoAttr(pdf, HPDF_INFO_CREATOR, "Malipo CV PDF");
    detail::Face regular, bold;
    if (fonts) {
      HPDF_UseUTFEncodings(pdf);
      HPDF_SetCurrentEncoder(pdf, "UTF-8");
      const char* r = HPDF_LoadTTFontFromFile(pdf, fonts->regularPath.c_str(), HPDF_TRUE);
      regular = detail::Face{r ? HPDF_GetFont(pdf, r, "UTF-8") : nullptr, &fonts->regularWidths, false};
      if (regular.font) fixToUnicode(regular.font, toUnicode);
      if (kind == TemplateKind::kBasic) {
        bold = regular;  // the fallback needs no second font
      } else {
        const char* b = HPDF_LoadTTFontFromFile(pdf, fonts->boldPath.c_str(), HPDF_TRUE);
        bold = detail::Face{b ? HPDF_GetFont(pdf, b, "UTF-8") : nullptr, &fonts->boldWidths, false};
        if (bold.font) fixToUnicode(bold.font, toUnicode);
      }
    } else {
      regular = detail::Face{HPDF_GetFont(pdf, "Helvetica", "WinAnsiEncoding"), nullptr, true};
      bold = regular;
    }
    if (err.code != HPDF_OK || !regular.font || !bold.font) {
      a.error = err.code != HPDF_OK ? describe(err) : "font could not be loaded";
      return a;
    }
    detail::Canvas canvas(pdf, regular, bold);
    const detail::LayoutResult lr = detail::layoutCv(canvas, cv.cv, kind, opts.maxPages, cv.cut, provokeError);
    if (err.code != HPDF_OK) {
      a.error = describe(err);
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
    const HPDF_STATUS rs = HPDF_ReadFromStream(pdf, reinterpret_cast<HPDF_BYTE*>(a.pdf.data()), &got);
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

  RenderResult render(const CvData& input, const std::string& templateId) const {
    RenderResult res;
    try {
      const CleanCv cv = sanitize(input);
      // Fast fonts unless the CV uses a character only the full font has.
      bool needFull = false;
      RowSet rows = fastRows;
      forEachCodePoint(cv.cv, [&](char32_t c) {
        if (c < 0x10000 && !inFast[c] && inFull[c]) needFull = true;
        rows.set((c >> 8) & 0xFF);
      });
      const FontSet& fonts = needFull ? full : fast;
      const std::string toUnicode = rows == fastRows ? fastToUnicode : identityToUnicodeCMap(rows);

      TemplateKind kind = TemplateKind::kBasic;
      std::string why;
      if (templateId == "modern") kind = TemplateKind::kModern;
      else if (templateId == "classic") kind = TemplateKind::kClassic;
      else if (templateId == "minimal") kind = TemplateKind::kMinimal;
      else why = "unknown template '" + detail::sanitizeUtf8(templateId, LineMode::kSingleLine, 64) + "'";

      if (kind != TemplateKind::kBasic) {
        if (fonts.regularPath.empty() || fonts.boldPath.empty()) {
          why = "template '" + templateId + "' needs DejaVuSans.ttf and DejaVuSans-Bold.ttf in " + opts.fontDir;
        } else {
          Attempt a = attempt(cv, kind, &fonts, toUnicode, opts.forceTemplateErrorForTesting);
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
      if (!fonts.regularPath.empty()) a = attempt(cv, TemplateKind::kBasic, &fonts, toUnicode, false);
      if (!a.ok) {
        if (!a.error.empty()) res.error += "; basic layout failed: " + a.error;
        a = attempt(cv, TemplateKind::kBasic, nullptr, toUnicode, false);
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

PdfRenderer::PdfRenderer(RenderOptions opts) : impl_(std::make_unique<const Impl>(std::move(opts))) {}
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

const std::string& PdfRenderer::fontWarnings() const { return impl_->warnings; }

}  // namespace malipo::cvpdf
