// Tests of the CV PDF renderer. Output is checked with the real tools CV
// readers use: qpdf --check for structure, pdftotext for the text layer.
#include <gtest/gtest.h>
#include <hpdf.h>
#include <unistd.h>

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

#include "pdf/pdf_renderer.hpp"
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
  return fs::exists(fs::path(fontDir()) / "DejaVuSans.ttf") && fs::exists(fs::path(fontDir()) / "DejaVuSans-Bold.ttf");
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

#define REQUIRE_PDF_TOOLS()                                            \
  do {                                                                 \
    if (!haveTool("qpdf") || !haveTool("pdftotext")) {                 \
      GTEST_SKIP() << "qpdf or pdftotext (poppler-utils) not installed"; \
    }                                                                  \
  } while (0)

#define REQUIRE_FONTS()                                                           \
  do {                                                                            \
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
        "Worked on payment reconciliation, ledgers and settlement reports for mobile money operators. "
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
  for (const std::string name : {"Zo\xC3\xAB \xC3\x91\x61nd\xC3\xBA", "\xC4\x90or\xC4\x91\x65 \xC5\xA0\x65\xC4\x87\x65rovi\xC4\x87",
                                 // Cyrillic and Greek take the full-font path.
                                 "\xD0\x82\xD0\xBE\xD1\x80\xD1\x92\xD0\xB5 \xD0\xA8\xD0\xB5\xD1\x9B\xD0\xB5\xD1\x80\xD0\xBE\xD0\xB2\xD0\xB8\xD1\x9B",
                                 "\xCE\x91\xCE\xB8\xCE\xB7\xCE\xBD\xCE\xAC \xCE\xA0\xCE\xB1\xCF\x80\xCE\xB1\xCE\xB4\xCE\xAC\xCE\xBA\xCE\xB7"}) {
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
    EXPECT_NE(c.text.find("Caf\xC3\xA9 \xE2\x82\xAC 5 \xE2\x80\x9Cquoted\xE2\x80\x9D"), std::string::npos);
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
  cv.name = "Bad\xFF\xFE" " Na\xC3" "me\x01\x02\x1B[31m \xED\xA0\x80 \xC0\xAF" " end\xF0\x9F\x98\x80";
  cv.name.push_back('\0');
  cv.name += "after-nul";
  cv.title = "\xE2\x82";  // truncated sequence
  cv.email = "\t\r\n";
  cv.phone = "";
  cv.summary = std::string(5000, 'A') + " " + std::string(300, '\x07') + "\r\n\r\n\r\nnext paragraph \xC2\x85 x";
  cv.experience = {ExperienceEntry{"", "", "", ""}, ExperienceEntry{"\xF8\x88\x80\x80\x80", "\x80\x80", "\xBF", "\xC1\xBF"},
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

INSTANTIATE_TEST_SUITE_P(AllTemplates, TemplateTest, ::testing::ValuesIn(PdfRenderer::templateIds()),
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
  EXPECT_EQ(sanitizeUtf8("a\xFF" "b", LineMode::kSingleLine, 100), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(sanitizeUtf8("\xED\xA0\x80", LineMode::kSingleLine, 100), "\xEF\xBF\xBD");      // surrogate
  EXPECT_EQ(sanitizeUtf8("\xC0\xAF", LineMode::kSingleLine, 100), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong
  EXPECT_EQ(sanitizeUtf8("x\xE2\x82", LineMode::kSingleLine, 100), "x\xEF\xBF\xBD");       // truncated
  EXPECT_EQ(sanitizeUtf8("\xF0\x9F\x98\x80", LineMode::kSingleLine, 100), "\xEF\xBF\xBD");  // beyond BMP
  EXPECT_EQ(sanitizeUtf8("a\x01\x1B" "b\x7F", LineMode::kSingleLine, 100), "ab");
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

// The layout measures text with our width tables; libharu positions it with
// its own. They must agree or lines would overflow.
TEST(ReducedFont, WidthsMatchLibharu) {
  REQUIRE_FONTS();
  std::ifstream in(fs::path(fontDir()) / "DejaVuSans-Bold.ttf", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  malipo::cvpdf::detail::ReducedFont font;
  std::string error;
  ASSERT_TRUE(malipo::cvpdf::detail::buildReducedFont(ss.str(), {{0x20, 0x24F}, {0x2010, 0x203A}}, font, error))
      << error;
  EXPECT_LT(font.glyphCount, 700);
  TempDir dir;
  const std::string path = writeTemp(dir, "reduced.ttf", font.bytes);
  HPDF_Doc pdf = HPDF_New(nullptr, nullptr);
  ASSERT_NE(pdf, nullptr);
  HPDF_UseUTFEncodings(pdf);
  HPDF_SetCurrentEncoder(pdf, "UTF-8");
  const char* name = HPDF_LoadTTFontFromFile(pdf, path.c_str(), HPDF_TRUE);
  ASSERT_NE(name, nullptr);
  HPDF_Font f = HPDF_GetFont(pdf, name, "UTF-8");
  ASSERT_NE(f, nullptr);
  for (const std::string s : {"Hello, World", "\xC4\x90or\xC4\x91\x65 \xC5\xA0\x65\xC4\x87\x65rovi\xC4\x87",
                              "\xE2\x80\x9Cquotes\xE2\x80\x9D \xE2\x80\x93 dash \xE2\x80\xA2 bullet \xC8\x98"}) {
    std::vector<char32_t> cps;
    malipo::cvpdf::detail::decodeUtf8(s, cps);
    unsigned ours = 0;
    for (char32_t c : cps) ours += font.widths.advance(c);
    const HPDF_TextWidth tw =
        HPDF_Font_TextWidth(f, reinterpret_cast<const HPDF_BYTE*>(s.data()), static_cast<HPDF_UINT>(s.size()));
    EXPECT_EQ(ours, tw.width) << s;
  }
  HPDF_Free(pdf);
}
