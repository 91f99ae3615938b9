// Throughput of the CV PDF renderer on one thread.
//
//   pdf_bench [--n N] [--template ID] [--font-dir DIR] [--out DIR] [--cv
//   latin|cyrillic|amharic|arabic]
//
// Renders a sample CV N times (after a short warm-up) and prints documents
// per second. --out DIR also writes one PDF per template there. The four CVs
// are the ones of the ReportLab peer (bench/reportlab_cv.py reads the JSON
// that --dump-json FILE writes).
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "pdf/pdf_renderer.hpp"
#include "sample_cv.hpp"

using malipo::cvpdf::PdfRenderer;
using malipo::cvpdf::RenderOptions;

namespace {
// CPU time of this thread: on a shared machine wall time also counts the
// time other processes held the core, CPU time does not.
double threadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
}  // namespace

int main(int argc, char** argv) {
  int n = 500;
  std::string templateId = "modern";
  std::string outDir;
  std::string which = "latin";
  std::string dumpJson;
  RenderOptions opts;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--n"))
      n = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--template"))
      templateId = argv[i + 1];
    else if (!std::strcmp(argv[i], "--font-dir"))
      opts.fontDir = argv[i + 1];
    else if (!std::strcmp(argv[i], "--out"))
      outDir = argv[i + 1];
    else if (!std::strcmp(argv[i], "--cv"))
      which = argv[i + 1];
    else if (!std::strcmp(argv[i], "--dump-json"))
      dumpJson = argv[i + 1];
  }
  const auto t0 = std::chrono::steady_clock::now();
  PdfRenderer renderer(opts);
  const double setupMs =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (!renderer.fontWarnings().empty())
    std::fprintf(stderr, "fonts: %s\n", renderer.fontWarnings().c_str());
  namespace t = malipo::cvpdf::testing;
  malipo::cvpdf::CvData cv;
  if (which == "latin")
    cv = t::sampleCv();
  else if (which == "cyrillic")
    cv = t::sampleCvCyrillicName();
  else if (which == "amharic")
    cv = t::amharicCv();
  else if (which == "arabic")
    cv = t::arabicCv();
  else {
    std::fprintf(stderr, "unknown --cv %s\n", which.c_str());
    return 2;
  }
  if (!dumpJson.empty()) {
    std::ofstream(dumpJson, std::ios::binary) << t::toJson(cv);
    return 0;
  }

  if (!outDir.empty()) {
    for (const auto& id : PdfRenderer::templateIds()) {
      const auto r = renderer.render(cv, id);
      std::ofstream(outDir + "/cv-" + id + ".pdf", std::ios::binary) << r.pdf;
      std::printf("%s: ok=%d pages=%d fallback=%d bytes=%zu %s\n", id.c_str(), r.ok, r.pages,
                  r.usedFallback, r.pdf.size(), r.error.c_str());
    }
  }

  for (int i = 0; i < 20; ++i) renderer.render(cv, templateId);  // warm caches
  std::size_t bytes = 0;
  int pages = 0;
  const auto start = std::chrono::steady_clock::now();
  const double cpuStart = threadCpuSeconds();
  for (int i = 0; i < n; ++i) {
    const auto r = renderer.render(cv, templateId);
    if (!r.ok || r.usedFallback) {
      std::fprintf(stderr, "render failed: %s\n", r.error.c_str());
      return 1;
    }
    bytes = r.pdf.size();
    pages = r.pages;
  }
  const double cpu = threadCpuSeconds() - cpuStart;
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("cv=%s template=%s docs=%d pages/doc=%d bytes/doc=%zu setup=%.1f ms\n", which.c_str(),
              templateId.c_str(), n, pages, bytes, setupMs);
  std::printf("wall: %.1f docs/s (%.2f ms/doc)   cpu: %.1f docs per cpu-second (%.2f ms/doc)\n",
              n / secs, secs * 1000.0 / n, n / cpu, cpu * 1000.0 / n);
  return 0;
}
