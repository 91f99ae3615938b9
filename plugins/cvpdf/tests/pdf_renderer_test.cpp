// Tests of the CV PDF renderer. Output is checked with the real tools CV
// readers use: qpdf --check for structure, pdftotext for the text layer.
#include "pdf/pdf_renderer.hpp"

#include <gtest/gtest.h>
#include <hpdf.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pdf/text_util.hpp"
#include "pdf/truetype.hpp"
#include "sample_cv.hpp"

namespace fs = std::filesystem;
using malipo::cvpdf::CvData;
using malipo::cvpdf::EducationEntry;
using malipo::cvpdf::ExperienceEntry;
using malipo::cvpdf::kDefaultFontDir;
using malipo::cvpdf::PdfRenderer;
using malipo::cvpdf::RenderOptions;
using malipo::cvpdf::RenderResult;
using malipo::cvpdf::testing::sampleCv;

namespace {

bool haveTool(const char* name) {
  return std::system((std::string("command -v ") + name + " >/dev/null 2>&1").c_str()) == 0;
}

// Font directory for the tests: MALIPO_TEST_FONT_DIR or the Debian default.
std::string fontDir() {
  const char* env = std::getenv("MALIPO_TEST_FONT_DIR");
  return env && *env ? env : kDefaultFontDir;
}

bool haveFonts() {
  return fs::exists(fs::path(fontDir()) / "DejaVuSans.ttf") &&
         fs::exists(fs::path(fontDir()) / "DejaVuSans-Bold.ttf");
}

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("cvpdf-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct CommandResult {
  int status = -1;
  std::string out;
};

CommandResult run(const std::string& cmd) {
  CommandResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  r.status = ::pclose(p);
  return r;
}

std::string writeTemp(const TempDir& dir, const std::string& name, const std::string& data) {
  const fs::path p = dir.path() / name;
  std::ofstream(p, std::ios::binary) << data;
  return p.string();
}

// Checks the PDF with qpdf and returns its text (pdftotext), or skips.
struct Checked {
  bool qpdfOk = false;
  std::string text;
  std::string warnings;  // pdftotext's stderr
};

Checked checkPdf(const std::string& pdf) {
  Checked c;
  TempDir dir;
  const std::string file = writeTemp(dir, "cv.pdf", pdf);
  c.qpdfOk = run("qpdf --check '" + file + "' >/dev/null 2>&1").status == 0;
  const std::string errFile = (dir.path() / "stderr.txt").string();
  c.text = run("pdftotext -enc UTF-8 '" + file + "' - 2>'" + errFile + "'").out;
  std::ifstream err(errFile);
  c.warnings.assign(std::istreambuf_iterator<char>(err), std::istreambuf_iterator<char>());
  return c;
}

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

bool containsNoCase(const std::string& hay, const std::string& needle) {
  return lower(hay).find(lower(needle)) != std::string::npos;
}

#define REQUIRE_PDF_TOOLS()                                              \
  do {                                                                   \
    if (!haveTool("qpdf") || !haveTool("pdftotext")) {                   \
      GTEST_SKIP() << "qpdf or pdftotext (poppler-utils) not installed"; \
    }                                                                    \
  } while (0)

#define REQUIRE_FONTS()                                                          \
  do {                                                                           \
    if (!haveFonts()) GTEST_SKIP() << "DejaVu fonts not found in " << fontDir(); \
  } while (0)

const PdfRenderer& renderer() {
  static const PdfRenderer r([] {
    RenderOptions o;
    o.fontDir = fontDir();
    return o;
  }());
  return r;
}

CvData longCv(int entries) {
  CvData cv = sampleCv();
  cv.experience.clear();
  for (int i = 0; i < entries; ++i) {
    cv.experience.push_back(ExperienceEntry{
        "Engineer " + std::to_string(i + 1), "Company " + std::to_string(i + 1), "2001 - 2002",
        "Worked on payment reconciliation, ledgers and settlement reports for mobile money "
        "operators. "
        "Maintained services, wrote tests and reviewed code.\n- Bullet one\n- Bullet two"});
  }
  return cv;
}

}  // namespace

// ------------------------------------------------------------ templates

class TemplateTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TemplateTest, ProducesValidPdfWithAllSections) {
  REQUIRE_FONTS();
  REQUIRE_PDF_TOOLS();
  const CvData cv = sampleCv();
  const RenderResult r = renderer().render(cv, GetParam());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_FALSE(r.usedFallback) << r.error;
  EXPECT_FALSE(r.truncated);
  EXPECT_EQ(r.pages, 2);
  ASSERT_EQ(r.pdf.rfind("%PDF-", 0), 0u);

  const Checked c = checkPdf(r.pdf);
  EXPECT_TRUE(c.qpdfOk);
  // libharu's own ToUnicode CMap makes poppler warn; ours must not.
  EXPECT_EQ(c.warnings, "");
  EXPECT_NE(c.text.find(cv.name), std::string::npos) << c.text;
  EXPECT_NE(c.text.find(cv.title), std::string::npos) << c.text;
  EXPECT_NE(c.text.find(cv.email), std::string::npos);
  for (const char* heading : {"Profile", "Experience", "Education", "Skills", "Languages"}) {
    EXPECT_TRUE(containsNoCase(c.text, heading)) << heading;
  }
  EXPECT_NE(c.text.find("Tigo Pesa Integrations Ltd"), std::string::npos);
  EXPECT_NE(c.text.find("University of Dar es Salaam"), std::string::npos);
  EXPECT_NE(c.text.find("PostgreSQL"), std::string::npos);
  EXPECT_NE(c.text.find("Swahili (native)"), std::string::npos);
  EXPECT_NE(c.text.find("Page 1 of 2"), std::string::npos);
  EXPECT_NE(c.text.find("Page 2 of 2"), std::string::npos);
}

TEST_P(TemplateTest, FontsAreEmbedded) {
  REQUIRE_FONTS();
  if (!haveTool("pdffonts")) GTEST_SKIP() << "pdffonts not installed";
  const RenderResult r = renderer().render(sampleCv(), GetParam());
  ASSERT_TRUE(r.ok);
  TempDir dir;
  const auto out = run("pdffonts '" + writeTemp(dir, "cv.pdf", r.pdf) + "' 2>/dev/null").out;
  EXPECT_NE(out.find("DejaVuSans"), std::string::npos) << out;
  EXPECT_NE(out.find("DejaVuSans-Bold"), std::string::npos) << out;
  EXPECT_EQ(out.find(" no "), std::string::npos) << "a font is not embedded:\n" << out;
}

TEST_P(TemplateTest, UnicodeNamesReadBackExactly) {
  REQUIRE_FONTS();
  REQUIRE_PDF_TOOLS();
  for (const std::string name :
       {"Zo\xC3\xAB \xC3\x91\x61nd\xC3\xBA",
        "\xC4\x90or\xC4\x91\x65 \xC5\xA0\x65\xC4\x87\x65rovi\xC4\x87",
        // Cyrillic and Greek.
        "\xD0\x82\xD0\xBE\xD1\x80\xD1\x92\xD0\xB5 "
        "\xD0\xA8\xD0\xB5\xD1\x9B\xD0\xB5\xD1\x80\xD0\xBE\xD0\xB2\xD0\xB8\xD1\x9B",
        "\xCE\x91\xCE\xB8\xCE\xB7\xCE\xBD\xCE\xAC "
        "\xCE\xA0\xCE\xB1\xCF\x80\xCE\xB1\xCE\xB4\xCE\xAC\xCE\xBA\xCE\xB7"}) {
    CvData cv = sampleCv();
    cv.name = name;
    cv.skills.push_back("Caf\xC3\xA9 \xE2\x82\xAC 5 \xE2\x80\x9Cquoted\xE2\x80\x9D");
    const RenderResult r = renderer().render(cv, GetParam());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_FALSE(r.usedFallback);
    const Checked c = checkPdf(r.pdf);
    EXPECT_TRUE(c.qpdfOk);
    EXPECT_EQ(c.warnings, "");
    EXPECT_NE(c.text.find(name), std::string::npos) << name << "\n" << c.text.substr(0, 300);
    EXPECT_NE(c.text.find("Caf\xC3\xA9 \xE2\x82\xAC 5 \xE2\x80\x9Cquoted\xE2\x80\x9D"),
              std::string::npos);
  }
}

TEST_P(TemplateTest, LongCvSpansPagesAndRespectsPageCap) {
  REQUIRE_FONTS();
  REQUIRE_PDF_TOOLS();
  // Medium: more than two pages, below the default cap of five.
  {
    const RenderResult r = renderer().render(longCv(12), GetParam());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_GE(r.pages, 3);
    EXPECT_LE(r.pages, 5);
    EXPECT_FALSE(r.truncated);
    const Checked c = checkPdf(r.pdf);
    EXPECT_TRUE(c.qpdfOk);
    const std::string n = std::to_string(r.pages);
    EXPECT_NE(c.text.find("Page 1 of " + n), std::string::npos);
    EXPECT_NE(c.text.find("Page " + n + " of " + n), std::string::npos);
    EXPECT_NE(c.text.find("Engineer 12"), std::string::npos);
    EXPECT_EQ(c.text.find("truncated"), std::string::npos);
  }
  // 100 entries: cut at the cap, with a note.
  {
    const RenderResult r = renderer().render(longCv(100), GetParam());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.pages, 5);
    EXPECT_TRUE(r.truncated);
    const Checked c = checkPdf(r.pdf);
    EXPECT_TRUE(c.qpdfOk);
    EXPECT_NE(c.text.find("Page 5 of 5"), std::string::npos);
    EXPECT_EQ(c.text.find("Page 6"), std::string::npos);
    EXPECT_NE(c.text.find("Content truncated"), std::string::npos);
  }
  // A smaller cap from the options.
  {
    RenderOptions o;
    o.fontDir = fontDir();
    o.maxPages = 2;
    const PdfRenderer small(o);
    const RenderResult r = small.render(longCv(100), GetParam());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.pages, 2);
    EXPECT_TRUE(r.truncated);
    EXPECT_NE(checkPdf(r.pdf).text.find("Page 2 of 2"), std::string::npos);
  }
}

TEST_P(TemplateTest, InvalidUtf8AndControlCharactersAreSafe) {
  REQUIRE_FONTS();
  REQUIRE_PDF_TOOLS();
  CvData cv;
  cv.name =
      "Bad\xFF\xFE"
      " Na\xC3"
      "me\x01\x02\x1B[31m \xED\xA0\x80 \xC0\xAF"
      " end\xF0\x9F\x98\x80";
  cv.name.push_back('\0');
  cv.name += "after-nul";
  cv.title = "\xE2\x82";  // truncated sequence
  cv.email = "\t\r\n";
  cv.phone = "";
  cv.summary = std::string(5000, 'A') + " " + std::string(300, '\x07') +
               "\r\n\r\n\r\nnext paragraph \xC2\x85 x";
  cv.experience = {
      ExperienceEntry{"", "", "", ""},
      ExperienceEntry{"\xF8\x88\x80\x80\x80", "\x80\x80", "\xBF", "\xC1\xBF"},
      ExperienceEntry{std::string(400, 'W'), "", std::string(200, '9'), "- \n-\n* \xE2\x80\xA2"}};
  cv.education = {EducationEntry{"", "", "", ""}};
  cv.skills = {"", "\x01", "ok skill", std::string(1000, 'S')};
  cv.languages = {"\xEF\xBF\xBF", "\xEF\xBB\xBF"};
  const RenderResult r = renderer().render(cv, GetParam());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_FALSE(r.usedFallback) << r.error;
  const Checked c = checkPdf(r.pdf);
  EXPECT_TRUE(c.qpdfOk);
  EXPECT_NE(c.text.find("Bad\xEF\xBF\xBD"), std::string::npos) << c.text.substr(0, 200);
  EXPECT_NE(c.text.find("after-nul"), std::string::npos);
  EXPECT_NE(c.text.find("ok skill"), std::string::npos);
  EXPECT_NE(c.text.find("next paragraph"), std::string::npos);
}

TEST_P(TemplateTest, EmptyCvStillRenders) {
  REQUIRE_FONTS();
  REQUIRE_PDF_TOOLS();
  const RenderResult r = renderer().render(CvData{}, GetParam());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.pages, 1);
  const Checked c = checkPdf(r.pdf);
  EXPECT_TRUE(c.qpdfOk);
  EXPECT_NE(c.text.find("Page 1 of 1"), std::string::npos);
}

// The brand behind the document (RenderOptions::footerNote, from the kernel's `brand:`) is
// the last line of every page, below the page numbers; a note too long for the page is cut
// with an ellipsis; without one nothing is added (the goldens render without one).
TEST_P(TemplateTest, BrandFooterIsTheLastLineOfEveryPage) {
  REQUIRE_FONTS();
  REQUIRE_PDF_TOOLS();
  const std::string note =
      "CV Chap Chap \xC2\xB7 +255 700 000 000 \xC2\xB7 help@cvchapchap.example";
  RenderOptions o;
  o.fontDir = fontDir();
  o.footerNote = note;
  const PdfRenderer branded(o);
  const RenderResult r = branded.render(sampleCv(), GetParam());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_FALSE(r.usedFallback) << r.error;
  EXPECT_EQ(r.pages, 2);
  TempDir dir;
  const std::string file = writeTemp(dir, "cv.pdf", r.pdf);
  const std::string text = run("pdftotext -layout -enc UTF-8 '" + file + "' - 2>&1").out;
  std::vector<std::string> pages;
  std::stringstream in(text);
  for (std::string page; std::getline(in, page, '\f');)
    if (page.find_first_not_of(" \n") != std::string::npos) pages.push_back(page);
  ASSERT_EQ(pages.size(), 2u) << text;
  for (std::size_t i = 0; i < pages.size(); ++i) {
    std::string last, line;
    std::stringstream ls(pages[i]);
    while (std::getline(ls, line))
      if (line.find_first_not_of(' ') != std::string::npos) last = line;
    EXPECT_EQ(last.substr(last.find_first_not_of(' ')), note) << "page " << i + 1 << ":\n"
                                                              << pages[i];
    EXPECT_NE(pages[i].find("Page " + std::to_string(i + 1) + " of 2"), std::string::npos);
  }
  EXPECT_EQ(checkPdf(r.pdf).warnings, "");

  o.footerNote = "Chap Chap " + std::string(300, 'x') + " END";
  const RenderResult cut = PdfRenderer(o).render(sampleCv(), GetParam());
  ASSERT_TRUE(cut.ok) << cut.error;
  const std::string cutText = checkPdf(cut.pdf).text;
  EXPECT_NE(cutText.find("Chap Chap xxx"), std::string::npos);
  EXPECT_EQ(cutText.find(" END"), std::string::npos) << "the note was not cut to the page";
  EXPECT_NE(cutText.find("\xE2\x80\xA6"), std::string::npos);  // …

  EXPECT_EQ(checkPdf(renderer().render(sampleCv(), GetParam()).pdf).text.find("CV Chap Chap"),
            std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(AllTemplates, TemplateTest,
                         ::testing::ValuesIn(PdfRenderer::templateIds()),
                         [](const auto& info) { return info.param; });

// ------------------------------------------------------------ fallback

namespace {
void expectValidFallback(const RenderResult& r, const CvData& cv) {
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.usedFallback);
  EXPECT_FALSE(r.error.empty());
  const Checked c = checkPdf(r.pdf);
  EXPECT_TRUE(c.qpdfOk);
  EXPECT_NE(c.text.find(cv.name), std::string::npos) << c.text.substr(0, 300);
  for (const char* heading : {"Experience", "Education", "Skills", "Languages"}) {
    EXPECT_TRUE(containsNoCase(c.text, heading)) << heading;
  }
  EXPECT_NE(c.text.find("Page 1 of "), std::string::npos);
}
}  // namespace

TEST(Fallback, TemplateErrorFallsBackToBasicLayout) {
  REQUIRE_FONTS();
  REQUIRE_PDF_TOOLS();
  RenderOptions o;
  o.fontDir = fontDir();
  o.forceTemplateErrorForTesting = true;
  const PdfRenderer failing(o);
  const CvData cv = sampleCv();
  for (const auto& id : PdfRenderer::templateIds()) {
    const RenderResult r = failing.render(cv, id);
    expectValidFallback(r, cv);
    EXPECT_NE(r.error.find("libharu error"), std::string::npos) << r.error;
  }
}

TEST(Fallback, UnknownTemplate) {
  REQUIRE_FONTS();
  REQUIRE_PDF_TOOLS();
  const CvData cv = sampleCv();
  const RenderResult r = renderer().render(cv, "fancy\xFF");
  expectValidFallback(r, cv);
  EXPECT_NE(r.error.find("unknown template"), std::string::npos);
}

TEST(Fallback, FontDirWithoutBoldFace) {
  REQUIRE_FONTS();
  REQUIRE_PDF_TOOLS();
  TempDir dir;
  fs::copy_file(fs::path(fontDir()) / "DejaVuSans.ttf", dir.path() / "DejaVuSans.ttf");
  RenderOptions o;
  o.fontDir = dir.path().string();
  const PdfRenderer r(o);
  EXPECT_NE(r.fontWarnings().find("DejaVuSans-Bold.ttf"), std::string::npos);
  CvData cv = sampleCv();
  cv.name = "Zo\xC3\xAB \xC3\x91\x61nd\xC3\xBA";
  expectValidFallback(r.render(cv, "modern"), cv);
}

TEST(Fallback, NoFontsAtAllUsesBase14) {
  REQUIRE_PDF_TOOLS();
  TempDir dir;  // empty
  RenderOptions o;
  o.fontDir = dir.path().string();
  const PdfRenderer r(o);
  CvData cv = sampleCv();
  cv.name = "Zo\xC3\xAB \xC3\x91\x61nd\xC3\xBA";  // Latin-1: survives CP1252
  expectValidFallback(r.render(cv, "classic"), cv);
}

// ------------------------------------------------------------ concurrency

TEST(Concurrency, ParallelRendersMatchSerialOutput) {
  REQUIRE_FONTS();
  const auto& ids = PdfRenderer::templateIds();
  CvData cv = sampleCv();
  cv.name = "\xC4\x90or\xC4\x91\x65 \xC5\xA0\x65\xC4\x87\x65rovi\xC4\x87";
  std::vector<std::string> expected;
  for (const auto& id : ids) expected.push_back(renderer().render(cv, id).pdf);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 15; ++i) {
        const std::size_t k = static_cast<std::size_t>(t + i) % ids.size();
        const RenderResult r = renderer().render(cv, ids[k]);
        if (!r.ok || r.pdf != expected[k]) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// ------------------------------------------------------------ internals

namespace {
using malipo::cvpdf::detail::LineMode;
using malipo::cvpdf::detail::sanitizeUtf8;
}  // namespace

TEST(Sanitize, ReplacesInvalidSequencesAndDropsControls) {
  EXPECT_EQ(sanitizeUtf8("a\xFF"
                         "b",
                         LineMode::kSingleLine, 100),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(sanitizeUtf8("\xED\xA0\x80", LineMode::kSingleLine, 100), "\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(sanitizeUtf8("\xC0\xAF", LineMode::kSingleLine, 100),
            "\xEF\xBF\xBD\xEF\xBF\xBD");                                              // overlong
  EXPECT_EQ(sanitizeUtf8("x\xE2\x82", LineMode::kSingleLine, 100), "x\xEF\xBF\xBD");  // truncated
  EXPECT_EQ(sanitizeUtf8("\xF0\x9F\x98\x80", LineMode::kSingleLine, 100),
            "\xF0\x9F\x98\x80");  // beyond BMP kept
  EXPECT_EQ(sanitizeUtf8("a\x01\x1B"
                         "b\x7F",
                         LineMode::kSingleLine, 100),
            "ab");
  EXPECT_EQ(sanitizeUtf8("  a \t\t b  ", LineMode::kSingleLine, 100), "a b");
  EXPECT_EQ(sanitizeUtf8("a\r\nb", LineMode::kSingleLine, 100), "a b");
  EXPECT_EQ(sanitizeUtf8("a\r\n\r\n\n\nb\nc\n", LineMode::kMultiLine, 100), "a\n\nb\nc");
  EXPECT_EQ(sanitizeUtf8("Zo\xC3\xAB", LineMode::kSingleLine, 100), "Zo\xC3\xAB");
}

TEST(Sanitize, CutsLongInputOnCharacterBoundary) {
  std::string in;
  for (int i = 0; i < 100; ++i) in += "\xC3\xA9";  // é
  const std::string out = sanitizeUtf8(in, LineMode::kSingleLine, 20);
  EXPECT_LE(out.size(), 20u);
  EXPECT_EQ(out.substr(out.size() - 3), "\xE2\x80\xA6");
  EXPECT_EQ(sanitizeUtf8(out, LineMode::kSingleLine, 100), out);  // still valid UTF-8
}

// The subsetter keeps exactly the glyphs asked for (plus components), and the
// result is a font again.
TEST(Subset, KeepsOnlyRequestedGlyphsAndComponents) {
  REQUIRE_FONTS();
  std::ifstream in(fs::path(fontDir()) / "DejaVuSans.ttf", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string error;
  const auto font = malipo::cvpdf::detail::TrueTypeFont::load(ss.str(), error);
  ASSERT_NE(font, nullptr) << error;
  // "Ǻ" (U+01FA) is a composite glyph in DejaVu Sans.
  const std::vector<std::uint16_t> gids = {0, font->glyphOf('A'), font->glyphOf(0x01FA),
                                           font->glyphOf('A')};
  ASSERT_NE(gids[1], 0);
  ASSERT_NE(gids[2], 0);
  std::string sub;
  ASSERT_TRUE(font->subset(gids, sub, error)) << error;
  const auto again = malipo::cvpdf::detail::TrueTypeFont::load(sub, error);
  ASSERT_NE(again, nullptr) << error;
  EXPECT_GE(again->numGlyphs(), 4);
  EXPECT_LE(again->numGlyphs(), 8);  // + the components of Ǻ
  EXPECT_LT(sub.size(), ss.str().size() / 20);
  EXPECT_EQ(again->advance(1), font->advance(gids[1]));
  EXPECT_EQ(again->advance(3), font->advance(gids[1]));  // a repeated glyph keeps its metrics
}

// ------------------------------------------------------------ scripts (golden)
//
// One small CV per script. Each must: render with its template (no
// fallback) on the expected number of pages; give its text back through
// pdftotext in logical order; draw no .notdef glyph (no CID 0, and every CID
// drawn has a ToUnicode entry); embed only font subsets (CID TrueType,
// Length1 bounded); and look like tests/golden/<case>.png (first page,
// pdftoppm -r 40 -gray) within a tolerance. MALIPO_UPDATE_GOLDEN=1 rewrites
// the PNGs (check the new images by eye before committing them).

namespace {

struct ScriptCase {
  std::string id;
  CvData cv;
  std::vector<std::string> fontNames;     // each must be embedded
  std::vector<std::string> unrenderable;  // expected from PdfRenderer::unrenderable
};

[[maybe_unused]] void PrintTo(const ScriptCase& c, std::ostream* os) {
  *os << c.id;
}

CvData smallCv(std::string name, std::string title, std::string summary, ExperienceEntry job,
               std::vector<std::string> skills) {
  CvData cv;
  cv.name = std::move(name);
  cv.title = std::move(title);
  cv.email = "cv@example.com";
  cv.phone = "+255 754 123 456";
  cv.summary = std::move(summary);
  cv.experience = {std::move(job)};
  cv.skills = std::move(skills);
  return cv;
}

std::vector<ScriptCase> scriptCases() {
  namespace t = malipo::cvpdf::testing;
  std::vector<ScriptCase> v;
  v.push_back({"latin-african",
               smallCv(u8"Ɓello Ɗanjuma Ƙarfe", u8"Ŋgɔ ɛ ɔ ŋ ɓ ɗ ƙ ƴ ǝ Ʋ ʋ Ɣ ɣ",
                       u8"Ɛfua Mɔnsa ne Kwaku Ɔdɔm. Yoruba: Adéṣínà Ọ̀ṣun, Ewe: Kɔ́fí Ɖɔ̃.",
                       {u8"Mɔ̀ɔ̀ kɛ́nɛ́", "Selcom", "2020 - 2024", u8"Ŋkɔmɔ ɛ ɔ ŋ ɓ ɗ ƙ ƴ."},
                       {"C++", u8"Hausa ƙ ɓ ɗ ʼya", u8"Bambara ɲ Ɲ", u8"Igbo ị ụ ṅ",
                        u8"Dinka ä ë ɛ̈ ɔ̈", u8"Ewe Ƒ ƒ Ɖ ɖ", u8"Kabiyè ɩ ʊ Ɩ Ʊ"}),
               {"DejaVuSans", "DejaVuSans-Bold"},
               {}});
  v.push_back({"cyrillic", t::sampleCvCyrillicName(), {"DejaVuSans"}, {}});
  v.back().cv.experience.resize(1);
  v.back().cv.education.clear();
  v.back().cv.summary =
      u8"Инженер-программист с девятью годами опыта. Умею строить платёжные системы.";
  v.push_back({"greek",
               smallCv(u8"Αθηνά Παπαδάκη", u8"Μηχανικός λογισμικού",
                       u8"Εννέα χρόνια εμπειρίας σε συστήματα πληρωμών.",
                       {u8"Προγραμματίστρια", u8"Αθήνα", "2019 - 2024", u8"Σχεδίασα υπηρεσίες."},
                       {"Python"}),
               {"DejaVuSans"},
               {}});
  {
    CvData am = t::amharicCv();
    am.experience.resize(1);
    am.education.resize(1);
    v.push_back({"amharic", am, {"NotoSansEthiopic", "NotoSansEthiopic-Bold"}, {}});
  }
  v.push_back({"tigrinya",
               smallCv(u8"ሰላም ገብረሚካኤል", u8"ሓላፊት ሶፍትዌር", u8"ኣብ ስርዓታት ክፍሊት ናይ ሸሞንተ ዓመት ተመክሮ ኣለኒ።",
                       {u8"መሃንድስ", u8"ኤርትራ ቴሌኮም", "2018 - 2024", u8"ንኣገልግሎታት ክፍሊት ሰሪሐ።"}, {"Go"}),
               {"NotoSansEthiopic"},
               {}});
  // Latin, digits and neutrals inside Arabic, on both sides of each run:
  // "PostgreSQL منذ", "C++ و", "9 ثوان", "(2018 - 2024)".
  v.push_back({"arabic",
               smallCv(u8"أمينة الحسن", u8"مهندسة برمجيات أولى",
                       u8"لدي خبرة تسع سنوات في أنظمة الدفع، وأعمل مع PostgreSQL منذ 2015 لأكثر من "
                       u8"40 تاجرا. أجيد C++ وPython وGo. خفضت زمن التأكيد من 9 ثوان إلى 1.4 ثانية "
                       u8"(2018 - 2024).",
                       {u8"مهندسة خلفية", u8"شركة سلكوم", "2018 - 2024",
                        u8"بنيت خدمة المطابقة بلغة Python لاستعادة 30 مليون شلن.\n"
                        u8"- نقلت الدفتر من MySQL إلى PostgreSQL دون توقف."},
                       {"Python", u8"قيادة الفرق"}),
               {"NotoSansArabic", "NotoSansArabic-Bold"},
               {}});
  // Arabic inside Latin paragraphs, on a page poppler reads left to right.
  v.push_back({"latin-arabic",
               smallCv("Amina Mwakyusa", "Software Engineer",
                       u8"Nine years in payments. In Arabic: أعمل مع الفرق منذ سنوات, in Dar es "
                       u8"Salaam and Muscat.",
                       {"Backend Engineer", u8"شركة سلكوم", "2020 - 2024",
                        u8"Built the site «مرحبا بكم» for merchants (شركاء) in Oman."},
                       {"C++", u8"العربية"}),
               {"DejaVuSans", "NotoSansArabic"},
               {}});
  v.push_back({"nko-tifinagh",
               smallCv(u8"ߡߊߡߊߘߎ ߞߊߣߕߍ", u8"ⵜⴰⵎⴰⵣⵉⵖⵜ ⴰⵎⴰⵣⵉⵖ", u8"ߒߞߏ ߞߊ߲ ߠߊ߫. ⴰⵣⵓⵍ ⴼⵍⵍⴰⵡⵏ.",
                       {u8"ⴰⵎⵙⵙⵓⴷⵓ", u8"ߞߊ߲ߞߊ߲", "2021 - 2024", u8"ⵜⴰⵙⵏⴰ ⵏ ⵜⵎⵓⵙⵙⵏⵉ."}, {"Go"}),
               {"NotoSansNKo", "NotoSansTifinagh"},
               {}});
  // Indic scripts of East Africa's South Asian communities: reordered
  // vowel signs (कि, કિ), conjuncts (क्ष, સ્ત), nukta and candrabindu.
  v.push_back({"devanagari-gujarati",
               smallCv(u8"प्रिया शर्मा", u8"સોફ્ટવેર એન્જિનિયર",
                       u8"भुगतान प्रणालियों में नौ वर्ष का अनुभव। क्षमता, ज़िम्मेदारी और हँसी।",
                       {u8"वरिष्ठ इंजीनियर", u8"દાર એસ સલામ", "2019 - 2024",
                        u8"ગ્રાહકો માટે સ્થિર ચુકવણી સેવા બનાવી."},
                       {"Go", u8"हिन्दी", u8"ગુજરાતી"}),
               {"NotoSansDevanagari", "NotoSansGujarati"},
               {}});
  v.push_back(
      {"emoji",
       smallCv(u8"Amina ☕ Mwakyusa", u8"Engineer 😀 ✈ ★", u8"Loves coffee ☕, travel ✈ and music 🎵.",
               {u8"Engineer 👍", "Selcom", "2020 - 2024", u8"Shipped ✔ on time."}, {"C++"}),
       {"Symbola"},
       {}});
  v.push_back({"unrenderable",
               smallCv(u8"Wang 王 Amina", u8"Engineer 🥲", u8"Summary with 漢字 inside.",
                       {"Engineer", "Selcom", "2020 - 2024", "Work."}, {"C++"}),
               {"DejaVuSans"},
               {u8"王", u8"🥲", u8"漢", u8"字"}});
  return v;
}

// Removes the directional marks pdftotext puts around right-to-left text.
std::string stripBidiMarks(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i + 2 < s.size() && static_cast<unsigned char>(s[i]) == 0xE2 &&
        static_cast<unsigned char>(s[i + 1]) == 0x80 &&
        ((static_cast<unsigned char>(s[i + 2]) >= 0xAA &&
          static_cast<unsigned char>(s[i + 2]) <= 0xAE) ||
         static_cast<unsigned char>(s[i + 2]) == 0x8E ||
         static_cast<unsigned char>(s[i + 2]) == 0x8F)) {
      i += 2;
      continue;
    }
    out += s[i];
  }
  return out;
}

// Runs of whitespace (line breaks of wrapped text) as one space.
std::string collapse(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\f') {
      if (!out.empty() && out.back() != ' ') out += ' ';
      continue;
    }
    out += c;
  }
  return out;
}

std::string removeAll(std::string s, const std::vector<std::string>& what) {
  for (const std::string& w : what) {
    for (std::size_t p; (p = s.find(w)) != std::string::npos;) s.erase(p, w.size());
  }
  return s;
}

// Minimal PNG reader for pdftoppm's output (8-bit grey or RGB), as grey.
struct Gray {
  int w = 0, h = 0;
  std::vector<unsigned char> px;
};

bool readPng(const std::string& bytes, Gray& g) {
  auto u32 = [&](std::size_t o) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[o])) << 24 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[o + 1])) << 16 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[o + 2])) << 8 |
           static_cast<unsigned char>(bytes[o + 3]);
  };
  if (bytes.size() < 33 || bytes.compare(1, 3, "PNG") != 0) return false;
  std::string idat;
  int channels = 0;
  for (std::size_t p = 8; p + 12 <= bytes.size();) {
    const std::uint32_t len = u32(p);
    const std::string type = bytes.substr(p + 4, 4);
    if (p + 12 + len > bytes.size()) return false;
    if (type == "IHDR") {
      g.w = static_cast<int>(u32(p + 8));
      g.h = static_cast<int>(u32(p + 12));
      if (bytes[p + 16] != 8 || bytes[p + 20] != 0) return false;  // 8-bit, no interlace
      channels = bytes[p + 17] == 0 ? 1 : bytes[p + 17] == 2 ? 3 : 0;
    } else if (type == "IDAT") {
      idat += bytes.substr(p + 8, len);
    }
    p += 12 + len;
  }
  if (channels == 0) return false;
  const std::size_t rowBytes = static_cast<std::size_t>(g.w) * static_cast<std::size_t>(channels);
  const std::size_t stride = rowBytes + 1;
  std::vector<unsigned char> raw(stride * static_cast<std::size_t>(g.h));
  uLongf rawLen = raw.size();
  if (uncompress(raw.data(), &rawLen, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) !=
          Z_OK ||
      rawLen != raw.size()) {
    return false;
  }
  std::vector<unsigned char> img(rowBytes * static_cast<std::size_t>(g.h), 0);
  const int bpp = channels;
  for (int y = 0; y < g.h; ++y) {
    const unsigned char f = raw[static_cast<std::size_t>(y) * stride];
    const unsigned char* in = &raw[static_cast<std::size_t>(y) * stride + 1];
    unsigned char* out = &img[static_cast<std::size_t>(y) * rowBytes];
    const unsigned char* up = y > 0 ? out - rowBytes : nullptr;
    for (int x = 0; x < static_cast<int>(rowBytes); ++x) {
      const int a = x >= bpp ? out[x - bpp] : 0, b = up ? up[x] : 0,
                c = (x >= bpp && up) ? up[x - bpp] : 0;
      int v = in[x];
      if (f == 1)
        v += a;
      else if (f == 2)
        v += b;
      else if (f == 3)
        v += (a + b) / 2;
      else if (f == 4) {
        const int pp = a + b - c, pa = std::abs(pp - a), pb = std::abs(pp - b),
                  pc = std::abs(pp - c);
        v += (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
      }
      out[x] = static_cast<unsigned char>(v & 0xFF);
    }
  }
  g.px.resize(static_cast<std::size_t>(g.w) * static_cast<std::size_t>(g.h));
  for (std::size_t i = 0; i < g.px.size(); ++i) {
    int sum = 0;
    for (int k = 0; k < channels; ++k)
      sum += img[i * static_cast<std::size_t>(channels) + static_cast<std::size_t>(k)];
    g.px[i] = static_cast<unsigned char>(sum / channels);
  }
  return true;
}

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct ImageDiff {
  std::string error;    // set: nothing compared
  std::string png;      // the rendered page
  double mean = 0;      // mean grey difference (0..255)
  double farShare = 0;  // share of pixels off by more than 64
};

// Rasterises the first page of a PDF file (pdftoppm with args) and compares
// it with the PNG at path.
ImageDiff diffFirstPage(const std::string& file, const std::string& args, const std::string& path) {
  ImageDiff d;
  TempDir dir;
  const std::string png = (dir.path() / "page").string();
  const CommandResult r =
      run("pdftoppm " + args + " -png -f 1 -l 1 -singlefile '" + file + "' '" + png + "' 2>&1");
  d.png = readAll(png + ".png");
  Gray a, b;
  if (r.status != 0 || !readPng(d.png, a)) {
    d.error = "pdftoppm gave no readable PNG: " + r.out;
  } else if (!readPng(readAll(path), b)) {
    d.error = "no golden image " + path;
  } else if (a.w != b.w || a.h != b.h) {
    d.error = "size " + std::to_string(a.w) + "x" + std::to_string(a.h) + ", golden image " +
              std::to_string(b.w) + "x" + std::to_string(b.h);
  } else {
    double sum = 0;
    std::size_t far = 0;
    for (std::size_t i = 0; i < a.px.size(); ++i) {
      const int v = std::abs(static_cast<int>(a.px[i]) - static_cast<int>(b.px[i]));
      sum += v;
      if (v > 64) ++far;
    }
    d.mean = sum / static_cast<double>(a.px.size());
    d.farShare = static_cast<double>(far) / static_cast<double>(a.px.size());
  }
  return d;
}

enum class Golden { kCompared, kWritten };

// Expects the first page to look like the PNG at path: mean grey difference
// below 1/255 and at most 0.3 % of pixels off by more than 64 — a tolerance
// for other poppler/FreeType builds (the same build gives 0).
// MALIPO_UPDATE_GOLDEN=1 writes the PNG instead.
Golden firstPageMatches(const std::string& file, const std::string& args, const std::string& path,
                        const std::string& label) {
  const ImageDiff d = diffFirstPage(file, args, path);
  if (std::getenv("MALIPO_UPDATE_GOLDEN") && !d.png.empty()) {
    std::ofstream(path, std::ios::binary) << d.png;
    return Golden::kWritten;
  }
  EXPECT_EQ(d.error, "") << label;
  EXPECT_LT(d.mean, 1.0) << label << ": mean difference";
  EXPECT_LT(d.farShare, 0.003) << label << ": pixels that differ";
  return Golden::kCompared;
}

bool haveScriptFonts() {
  return fs::exists(fs::path(malipo::cvpdf::kDefaultNotoFontDir) /
                    "NotoSansEthiopic-Regular.ttf") &&
         fs::exists(fs::path(malipo::cvpdf::kDefaultNotoFontDir) / "NotoSansArabic-Regular.ttf") &&
         fs::exists(malipo::cvpdf::kDefaultEmojiFont);
}

std::vector<std::string> fieldsOf(const CvData& cv) {
  std::vector<std::string> f = {cv.name, cv.title, cv.email, cv.phone};
  std::string summary = cv.summary;
  f.push_back(summary);
  for (const auto& e : cv.experience) {
    for (const std::string& s : {e.position, e.company, e.duration, e.description}) f.push_back(s);
  }
  for (const auto& e : cv.education) {
    for (const std::string& s : {e.degree, e.school, e.duration, e.description}) f.push_back(s);
  }
  for (const auto& s : cv.skills) f.push_back(s);
  for (const auto& s : cv.languages) f.push_back(s);
  return f;
}

}  // namespace

class ScriptTest : public ::testing::TestWithParam<ScriptCase> {};

TEST_P(ScriptTest, RoundTripsWithSubsetFontsAndMatchesGolden) {
  REQUIRE_FONTS();
  REQUIRE_PDF_TOOLS();
  if (!haveTool("pdffonts") || !haveTool("pdftoppm")) GTEST_SKIP() << "poppler-utils not installed";
  if (!haveScriptFonts()) GTEST_SKIP() << "fonts-noto-core or fonts-symbola not installed";
  const ScriptCase& sc = GetParam();
  const RenderResult r = renderer().render(sc.cv, "modern");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_FALSE(r.usedFallback) << r.error;
  EXPECT_EQ(r.pages, 1);
  EXPECT_EQ(renderer().unrenderable(sc.cv), sc.unrenderable);

  // Text in logical order.
  const Checked c = checkPdf(r.pdf);
  EXPECT_TRUE(c.qpdfOk);
  EXPECT_EQ(c.warnings, "");
  TempDir dir;
  const std::string file = writeTemp(dir, "cv.pdf", r.pdf);
  // Every field, spaces included (a line break of wrapped text reads as a
  // space), both in pdftotext's reading order and with -layout.
  const std::string layout = run("pdftotext -layout -enc UTF-8 '" + file + "' - 2>&1").out;
  for (const std::string* out : {&c.text, &layout}) {
    const std::string text = collapse(stripBidiMarks(*out));
    for (const std::string& field : fieldsOf(sc.cv)) {
      if (field.empty()) continue;
      std::string shown =
          "\n" + removeAll(field, sc.unrenderable);  // the layout draws "- " bullets as "•"
      for (std::size_t p; (p = shown.find("\n- ")) != std::string::npos;)
        shown.replace(p, 3, "\n\xE2\x80\xA2 ");
      const std::string want = collapse(shown);
      EXPECT_NE(text.find(want), std::string::npos)
          << sc.id << (out == &layout ? " (-layout)" : "") << ": missing \"" << want << "\" in\n"
          << text;
    }
    for (const std::string& u : sc.unrenderable) EXPECT_EQ(out->find(u), std::string::npos) << u;
  }

  // Fonts: every one an embedded CID TrueType subset with a ToUnicode map.
  const std::string fonts = run("pdffonts '" + file + "' 2>/dev/null").out;
  for (const std::string& name : sc.fontNames) {
    EXPECT_NE(fonts.find("+" + name), std::string::npos) << name << "\n" << fonts;
  }
  std::istringstream fl(fonts);
  int fontCount = 0;
  for (std::string line; std::getline(fl, line);) {
    if (line.find('+') == std::string::npos) continue;
    ++fontCount;
    EXPECT_NE(line.find("CID TrueType      Identity-H       yes yes yes"), std::string::npos)
        << line;
  }
  EXPECT_GT(fontCount, 0) << fonts;

  // Glyph use: uncompressed, every TJ string has no CID 0 and every CID has
  // a ToUnicode entry; each embedded font program is small.
  const std::string qdf = (dir.path() / "qdf.pdf").string();
  ASSERT_EQ(run("qpdf --qdf --object-streams=disable '" + file + "' '" + qdf + "' 2>&1").status, 0);
  const std::string raw = readAll(qdf);
  std::size_t cids = 0;
  std::istringstream rl(raw);
  for (std::string line; std::getline(rl, line);) {
    if (line.size() < 3 || line.compare(line.size() - 3, 3, "]TJ") != 0) continue;
    for (std::size_t p = line.find('<'); p != std::string::npos; p = line.find('<', p + 1)) {
      const std::size_t e = line.find('>', p);
      ASSERT_NE(e, std::string::npos);
      ASSERT_EQ((e - p - 1) % 4, 0u) << line;
      for (std::size_t k = p + 1; k < e; k += 4) {
        std::string cid = line.substr(k, 4);  // qpdf writes content hex in lower case
        for (char& ch : cid) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        EXPECT_NE(cid, "0000") << ".notdef drawn: " << line;
        EXPECT_NE(raw.find("<" + cid + "> <"), std::string::npos)
            << "CID " << cid << " has no ToUnicode entry";
        ++cids;
      }
    }
  }
  EXPECT_GT(cids, 20u);
  std::size_t fontBytes = 0;
  for (std::size_t p = raw.find("/Length1 "); p != std::string::npos;
       p = raw.find("/Length1 ", p + 1)) {
    const std::size_t n = std::stoul(raw.substr(p + 9, 12));
    EXPECT_LT(n, 80000u) << "font program of " << n << " bytes is not a subset";
    fontBytes += n;
  }
  EXPECT_GT(fontBytes, 0u);
  EXPECT_LT(r.pdf.size(), 120000u);

  // First page against the golden image.
  if (firstPageMatches(file, "-r 40 -gray", std::string(CVPDF_GOLDEN_DIR) + "/" + sc.id + ".png",
                       sc.id) == Golden::kWritten)
    GTEST_SKIP() << "golden image written";
}

INSTANTIATE_TEST_SUITE_P(Scripts, ScriptTest, ::testing::ValuesIn(scriptCases()),
                         [](const ::testing::TestParamInfo<ScriptCase>& i) {
                           std::string n = i.param.id;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// The same image check must fail when the text is wrong: the Amharic CV with
// its Ethiopic text drawn as something else is far from its golden image.
TEST(ScriptGolden, DetectsADifferentRendering) {
  REQUIRE_FONTS();
  if (!haveTool("pdftoppm") || !haveScriptFonts()) GTEST_SKIP() << "poppler-utils or fonts missing";
  CvData cv;
  for (const ScriptCase& sc : scriptCases()) {
    if (sc.id == "amharic") cv = sc.cv;
  }
  CvData latin = cv;
  latin.summary = sampleCv().summary;
  latin.name = "Amina Mwakyusa";
  latin.experience = sampleCv().experience;
  latin.experience.resize(1);
  const RenderResult r = renderer().render(latin, "modern");
  ASSERT_TRUE(r.ok);
  TempDir dir;
  const std::string file = writeTemp(dir, "cv.pdf", r.pdf);
  const std::string png = (dir.path() / "page").string();
  ASSERT_EQ(run("pdftoppm -r 40 -gray -png -f 1 -l 1 -singlefile '" + file + "' '" + png + "' 2>&1")
                .status,
            0);
  Gray a, b;
  ASSERT_TRUE(readPng(readAll(png + ".png"), a));
  ASSERT_TRUE(readPng(readAll(std::string(CVPDF_GOLDEN_DIR) + "/amharic.png"), b));
  ASSERT_EQ(a.px.size(), b.px.size());
  std::size_t far = 0;
  for (std::size_t i = 0; i < a.px.size(); ++i) far += std::abs(int(a.px[i]) - int(b.px[i])) > 64;
  EXPECT_GT(static_cast<double>(far) / static_cast<double>(a.px.size()), 0.003);
}

// Unrenderable characters are reported once each, in order, and left out.
TEST(Unrenderable, ListsCharactersNoFontHas) {
  REQUIRE_FONTS();
  if (!haveScriptFonts()) GTEST_SKIP() << "fonts missing";
  CvData cv = sampleCv();
  EXPECT_TRUE(renderer().unrenderable(cv).empty());
  cv.name = u8"王 Amina 王";
  cv.skills.push_back(u8"ꦗꦮ");  // Javanese: no Debian font in the chain
  cv.languages.push_back(u8"Kiswahili ☕ 😀 ߒߞߏ ⵜⴰ ሀ العربية");  // all covered
  const std::vector<std::string> want = {u8"王", u8"ꦗ", u8"ꦮ"};
  EXPECT_EQ(renderer().unrenderable(cv), want);
  const RenderResult r = renderer().render(cv, "classic");
  ASSERT_TRUE(r.ok) << r.error;
  if (haveTool("pdftotext")) {
    const Checked c = checkPdf(r.pdf);
    EXPECT_NE(c.text.find("Amina"), std::string::npos);
    EXPECT_EQ(c.text.find(u8"王"), std::string::npos);
  }
}

// A right-to-left paragraph is aligned right: its first word (logical order)
// ends at the right margin even though the line is shorter than the column.
TEST(Bidi, RightToLeftParagraphsAlignRight) {
  REQUIRE_FONTS();
  if (!haveTool("pdftotext") || !haveScriptFonts())
    GTEST_SKIP() << "poppler-utils or fonts missing";
  CvData cv;
  for (const ScriptCase& sc : scriptCases()) {
    if (sc.id == "arabic") cv = sc.cv;
  }
  const RenderResult r = renderer().render(cv, "modern");
  ASSERT_TRUE(r.ok);
  TempDir dir;
  const std::string bbox =
      run("pdftotext -bbox '" + writeTemp(dir, "cv.pdf", r.pdf) + "' - 2>/dev/null").out;
  const std::size_t at = bbox.find(u8">تينب<");  // -bbox prints words in visual order: "بنيت"
  ASSERT_NE(at, std::string::npos) << bbox;
  const std::size_t xMax = bbox.rfind("xMax=\"", at);
  ASSERT_NE(xMax, std::string::npos);
  EXPECT_GT(std::stod(bbox.substr(xMax + 6, 12)), 540.0);  // right margin of "modern": 547.3
}

// The two-page Arabic CV of the benchmark (Latin words, digits, "C++", dates
// and brackets inside Arabic paragraphs; wrapped lines that start with a
// Latin word), in every template: pdftotext returns each field as typed,
// spaces included, in reading order and with -layout.
TEST(Bidi, ArabicCvExtractsWithItsSpacesInEveryTemplate) {
  REQUIRE_FONTS();
  REQUIRE_PDF_TOOLS();
  if (!haveScriptFonts()) GTEST_SKIP() << "fonts missing";
  const CvData cv = malipo::cvpdf::testing::arabicCv();
  for (const std::string& id : PdfRenderer::templateIds()) {
    const RenderResult r = renderer().render(cv, id);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_FALSE(r.usedFallback) << r.error;
    TempDir dir;
    const std::string file = writeTemp(dir, "cv.pdf", r.pdf);
    for (const std::string mode : {"", "-layout "}) {
      const std::string text =
          collapse(stripBidiMarks(run("pdftotext " + mode + "-enc UTF-8 '" + file + "' -").out));
      for (const std::string& field : fieldsOf(cv)) {
        std::string shown = "\n" + field;
        for (std::size_t p; (p = shown.find("\n- ")) != std::string::npos;)
          shown.replace(p, 3, "\n\xE2\x80\xA2 ");
        const std::string want = collapse(shown);
        EXPECT_NE(text.find(want), std::string::npos)
            << id << " " << mode << ": missing \"" << want << "\" in\n"
            << text;
      }
    }
  }
}

// The pictures of the three templates in plugins/cvpdf/README.md
// (docs/template-<id>.png: the sample CV's first page, pdftoppm -r 60) show
// what the renderer draws now. MALIPO_UPDATE_GOLDEN=1 rewrites them.
TEST(DocsPictures, TemplatePicturesMatchTheRenderer) {
  REQUIRE_FONTS();
  if (!haveTool("pdftoppm") || !haveScriptFonts()) GTEST_SKIP() << "poppler-utils or fonts missing";
  const std::string docs = std::string(CVPDF_GOLDEN_DIR) + "/../../docs";
  bool written = false;
  for (const std::string& id : PdfRenderer::templateIds()) {
    const RenderResult r = renderer().render(sampleCv(), id);
    ASSERT_TRUE(r.ok) << r.error;
    TempDir dir;
    const std::string file = writeTemp(dir, "cv.pdf", r.pdf);
    written |=
        firstPageMatches(file, "-r 60", docs + "/template-" + id + ".png", id) == Golden::kWritten;
    // The comparison tells the templates apart: another template's picture
    // is far from this rendering.
    const std::string other = id == "modern" ? "classic" : "modern";
    const ImageDiff d = diffFirstPage(file, "-r 60", docs + "/template-" + other + ".png");
    EXPECT_EQ(d.error, "");
    EXPECT_GT(d.farShare, 0.003) << id << " against the picture of " << other;
  }
  if (written) GTEST_SKIP() << "pictures written to " << docs;
}

// Mixed-direction lines pdftotext must return as typed (in reading order and
// with -layout): Latin, digits and punctuation inside Arabic on an Arabic
// page, Arabic inside English on an English page. Without the bidi marks
// (Glyph::marks) most of these lose or move a space.
TEST(Bidi, MixedLinesExtractExactly) {
  REQUIRE_FONTS();
  REQUIRE_PDF_TOOLS();
  if (!haveScriptFonts()) GTEST_SKIP() << "fonts missing";
  const std::vector<std::string> arabicPage = {
      u8"راسلني على amina@example.com اليوم.",  u8"تحسن الأداء 30% في سنة (Python) و[Go].",
      u8"زرت https://example.com/a?b=1 مرتين.", u8"الإصدار 2.0.1 من Node.js صدر في 2024-05-01.",
      u8"سعر 1,000 شلن و$50 و€20 فقط.",         u8"قالت: \"Hello World\" ثم غادرت!",
      u8"أعمل مع C# و.NET منذ 10 سنوات.",       u8"الهاتف +255 754 123 456 متاح.",
      u8"فريق من 5-7 أشخاص، نسبة 3/4 منهم."};
  const std::vector<std::string> latinPage = {
      u8"Worked with شركة سلكوم on USSD.", u8"Name in Arabic: أمينة الحسن.",
      u8"The word «مرحبا» means hello!", u8"Built سلكوم-Pay in 2021.",
      u8"Said \"أهلا وسهلا\" twice."};
  for (const auto* lines : {&arabicPage, &latinPage}) {
    CvData cv;
    cv.name = lines == &arabicPage ? u8"أمينة الحسن" : "Amina Mwakyusa";
    std::string description;
    for (const std::string& l : *lines) description += l + "\n";
    cv.experience = {ExperienceEntry{"-", "-", "2020", description}};
    const RenderResult r = renderer().render(cv, "modern");
    ASSERT_TRUE(r.ok) << r.error;
    TempDir dir;
    const std::string file = writeTemp(dir, "cv.pdf", r.pdf);
    for (const std::string mode : {"", "-layout "}) {
      const std::string text =
          collapse(stripBidiMarks(run("pdftotext " + mode + "-enc UTF-8 '" + file + "' -").out));
      for (const std::string& l : *lines)
        EXPECT_NE(text.find(l), std::string::npos) << mode << "missing \"" << l << "\" in\n"
                                                   << text;
    }
  }
}
