#include "pdf/truetype.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <unordered_map>

namespace malipo::cvpdf::detail {
namespace {

struct FontError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Bounds-checked big-endian access to the font bytes.
class Bytes {
 public:
  explicit Bytes(std::string_view s)
      : d_(reinterpret_cast<const std::uint8_t*>(s.data())), n_(s.size()) {}
  std::size_t size() const { return n_; }
  void need(std::size_t off, std::size_t len) const {
    if (off > n_ || len > n_ - off) throw FontError("font data truncated");
  }
  std::uint8_t u8(std::size_t off) const {
    need(off, 1);
    return d_[off];
  }
  std::uint16_t u16(std::size_t off) const {
    need(off, 2);
    return static_cast<std::uint16_t>(d_[off] << 8 | d_[off + 1]);
  }
  std::int16_t i16(std::size_t off) const { return static_cast<std::int16_t>(u16(off)); }
  std::uint32_t u32(std::size_t off) const {
    need(off, 4);
    return static_cast<std::uint32_t>(d_[off]) << 24 |
           static_cast<std::uint32_t>(d_[off + 1]) << 16 |
           static_cast<std::uint32_t>(d_[off + 2]) << 8 | d_[off + 3];
  }
  const char* at(std::size_t off) const { return reinterpret_cast<const char*>(d_ + off); }

 private:
  const std::uint8_t* d_;
  std::size_t n_;
};

struct Table {
  std::size_t off = 0;
  std::size_t len = 0;
};

// Parsed view of a glyf-flavoured TrueType font.
class Font {
 public:
  explicit Font(std::string_view data) : b_(data) {
    const std::uint32_t version = b_.u32(0);
    if (version == 0x4F54544F) throw FontError("CFF-flavoured OpenType fonts are not supported");
    if (version == 0x74746366) throw FontError("font collections are not supported");
    if (version != 0x00010000 && version != 0x74727565) throw FontError("not a TrueType font");
    const std::uint16_t numTables = b_.u16(4);
    for (std::uint16_t i = 0; i < numTables; ++i) {
      const std::size_t rec = 12 + 16u * i;
      std::string tag(b_.at(rec), 4);
      b_.need(rec, 16);
      Table t{b_.u32(rec + 8), b_.u32(rec + 12)};
      b_.need(t.off, t.len);
      tables_[tag] = t;
    }
    for (const char* tag :
         {"head", "hhea", "maxp", "hmtx", "loca", "glyf", "cmap", "name", "OS/2", "post"}) {
      if (!tables_.count(tag)) throw FontError(std::string("missing table ") + tag);
    }
    const Table head = table("head");
    unitsPerEm_ = b_.u16(head.off + 18);
    longLoca_ = b_.i16(head.off + 50) != 0;
    if (unitsPerEm_ == 0) throw FontError("bad unitsPerEm");
    numGlyphs_ = b_.u16(table("maxp").off + 4);
    numHMetrics_ = b_.u16(table("hhea").off + 34);
    if (numGlyphs_ == 0 || numHMetrics_ == 0 || numHMetrics_ > numGlyphs_)
      throw FontError("bad glyph counts");
    b_.need(table("hmtx").off, 4u * numHMetrics_ + 2u * (numGlyphs_ - numHMetrics_));
    b_.need(table("loca").off, (longLoca_ ? 4u : 2u) * (numGlyphs_ + 1u));
    readCmap();
  }

  const Bytes& bytes() const { return b_; }
  bool has(const std::string& tag) const { return tables_.count(tag) != 0; }
  Table table(const std::string& tag) const { return tables_.at(tag); }
  std::uint16_t unitsPerEm() const { return unitsPerEm_; }
  std::uint16_t numGlyphs() const { return numGlyphs_; }
  std::uint16_t glyphOf(char32_t cp) const {
    if (cp < 0x10000) return cmap_[cp];
    const auto it = supp_.find(cp);
    return it == supp_.end() ? 0 : it->second;
  }
  std::uint16_t numHMetrics() const { return numHMetrics_; }

  std::uint16_t advance(std::uint16_t gid) const {
    const Table t = table("hmtx");
    return b_.u16(t.off + 4u * (gid < numHMetrics_ ? gid : numHMetrics_ - 1u));
  }
  std::int16_t lsb(std::uint16_t gid) const {
    const Table t = table("hmtx");
    if (gid < numHMetrics_) return b_.i16(t.off + 4u * gid + 2);
    return b_.i16(t.off + 4u * numHMetrics_ + 2u * (gid - numHMetrics_));
  }
  // Byte range of a glyph's outline inside the font.
  Table glyph(std::uint16_t gid) const {
    const Table loca = table("loca");
    const Table glyf = table("glyf");
    std::size_t a, e;
    if (longLoca_) {
      a = b_.u32(loca.off + 4u * gid);
      e = b_.u32(loca.off + 4u * gid + 4);
    } else {
      a = 2u * b_.u16(loca.off + 2u * gid);
      e = 2u * b_.u16(loca.off + 2u * gid + 2);
    }
    if (e < a || e > glyf.len) throw FontError("bad loca entry");
    return Table{glyf.off + a, e - a};
  }

 private:
  void readCmap() {
    const Table t = table("cmap");
    const std::uint16_t n = b_.u16(t.off + 2);
    std::size_t best = 0;
    int bestRank = 0;
    for (std::uint16_t i = 0; i < n; ++i) {
      const std::size_t rec = t.off + 4 + 8u * i;
      const std::uint16_t platform = b_.u16(rec);
      const std::uint16_t encoding = b_.u16(rec + 2);
      const std::size_t sub = t.off + b_.u32(rec + 4);
      const std::uint16_t format = b_.u16(sub);
      int rank = 0;
      if (format == 12 && (platform == 0 || (platform == 3 && encoding == 10))) rank = 3;
      if (format == 4 && (platform == 0 || (platform == 3 && encoding == 1))) rank = 2;
      if (rank > bestRank) {
        bestRank = rank;
        best = sub;
      }
    }
    if (bestRank == 0) throw FontError("no Unicode cmap");
    cmap_.assign(0x10000, 0);
    if (b_.u16(best) == 4) {
      const std::size_t segs = b_.u16(best + 6) / 2u;
      const std::size_t ends = best + 14, starts = ends + 2 * segs + 2, deltas = starts + 2 * segs,
                        ranges = deltas + 2 * segs;
      for (std::size_t s = 0; s < segs; ++s) {
        const std::uint16_t end = b_.u16(ends + 2 * s), start = b_.u16(starts + 2 * s);
        const std::uint16_t delta = b_.u16(deltas + 2 * s), ro = b_.u16(ranges + 2 * s);
        for (std::uint32_t c = start; c <= end && c < 0xFFFF; ++c) {
          std::uint16_t g;
          if (ro == 0) {
            g = static_cast<std::uint16_t>(c + delta);
          } else {
            g = b_.u16(ranges + 2 * s + ro + 2 * (c - start));
            if (g != 0) g = static_cast<std::uint16_t>(g + delta);
          }
          cmap_[c] = g < numGlyphs_ ? g : 0;
        }
      }
    } else {
      const std::uint32_t groups = b_.u32(best + 12);
      b_.need(best + 16, 12u * groups);
      for (std::uint32_t k = 0; k < groups; ++k) {
        const std::size_t g = best + 16 + 12u * k;
        const std::uint32_t start = b_.u32(g), end = b_.u32(g + 4), gid = b_.u32(g + 8);
        if (end < start || end > 0x10FFFF) throw FontError("bad cmap group");
        for (std::uint32_t c = start; c <= end; ++c) {
          const std::uint32_t v = gid + (c - start);
          const std::uint16_t g = v < numGlyphs_ ? static_cast<std::uint16_t>(v) : 0;
          if (c < 0xFFFF)
            cmap_[c] = g;
          else if (c > 0xFFFF && g != 0)
            supp_[c] = g;
        }
      }
    }
  }

  Bytes b_;
  std::map<std::string, Table> tables_;
  std::uint16_t unitsPerEm_ = 0;
  std::uint16_t numGlyphs_ = 0;
  std::uint16_t numHMetrics_ = 0;
  bool longLoca_ = false;
  std::vector<std::uint16_t> cmap_;
  std::unordered_map<char32_t, std::uint16_t> supp_;  // code points above the BMP
};

// libharu's rounding: (advance * 1000) / unitsPerEm, truncated.
std::uint16_t toThousandths(std::uint16_t advance, std::uint16_t upem) {
  return static_cast<std::uint16_t>(static_cast<std::uint32_t>(advance) * 1000u / upem);
}

void put16(std::string& s, std::uint16_t v) {
  s.push_back(static_cast<char>(v >> 8));
  s.push_back(static_cast<char>(v & 0xFF));
}
void put32(std::string& s, std::uint32_t v) {
  put16(s, static_cast<std::uint16_t>(v >> 16));
  put16(s, static_cast<std::uint16_t>(v & 0xFFFF));
}
void set16(std::string& s, std::size_t off, std::uint16_t v) {
  s[off] = static_cast<char>(v >> 8);
  s[off + 1] = static_cast<char>(v & 0xFF);
}
void set32(std::string& s, std::size_t off, std::uint32_t v) {
  set16(s, off, static_cast<std::uint16_t>(v >> 16));
  set16(s, off + 2, static_cast<std::uint16_t>(v & 0xFFFF));
}
std::uint32_t checksum(const std::string& s) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < s.size(); i += 4) {
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      v = v << 8 | (i + k < s.size() ? static_cast<std::uint8_t>(s[i + k]) : 0u);
    }
    sum += v;
  }
  return sum;
}

// Composite glyph flags (TrueType 'glyf' spec).
constexpr std::uint16_t kArgsAreWords = 0x0001;
constexpr std::uint16_t kHaveScale = 0x0008;
constexpr std::uint16_t kMoreComponents = 0x0020;
constexpr std::uint16_t kHaveXYScale = 0x0040;
constexpr std::uint16_t kHaveTwoByTwo = 0x0080;
constexpr std::uint16_t kHaveInstructions = 0x0100;

// Offsets (relative to the glyph start) of the component glyph indices of a
// composite glyph; empty for simple glyphs.
std::vector<std::size_t> componentIndexOffsets(const Bytes& b, Table g) {
  std::vector<std::size_t> offs;
  if (g.len < 10 || b.i16(g.off) >= 0) return offs;
  std::size_t p = 10;
  for (;;) {
    if (p + 4 > g.len) throw FontError("bad composite glyph");
    const std::uint16_t flags = b.u16(g.off + p);
    offs.push_back(p + 2);
    p += 4 + ((flags & kArgsAreWords) ? 4 : 2);
    if (flags & kHaveScale)
      p += 2;
    else if (flags & kHaveXYScale)
      p += 4;
    else if (flags & kHaveTwoByTwo)
      p += 8;
    if (!(flags & kMoreComponents)) break;
  }
  return offs;
}

// Removes the hinting instructions of one glyph (simple or composite) in
// place. PDF viewers rasterise without TrueType bytecode; the instructions
// were a third to a half of the glyph data of the Noto fonts, all of it
// compressed again for every document.
void stripInstructions(std::string& g) {
  auto u16 = [&](std::size_t o) {
    if (o + 2 > g.size()) throw FontError("bad glyph");
    return static_cast<std::uint16_t>(static_cast<unsigned char>(g[o]) << 8 |
                                      static_cast<unsigned char>(g[o + 1]));
  };
  if (g.size() < 10) return;
  const auto contours = static_cast<std::int16_t>(u16(0));
  if (contours >= 0) {
    const std::size_t at = 10 + 2u * static_cast<std::size_t>(contours);
    const std::uint16_t len = u16(at);
    if (at + 2 + len > g.size()) throw FontError("bad glyph instructions");
    g.erase(at + 2, len);
    set16(g, at, 0);
    return;
  }
  std::size_t p = 10;
  std::size_t lastFlags = 0;
  for (;;) {
    const std::uint16_t flags = u16(p);
    lastFlags = p;
    p += 4 + ((flags & kArgsAreWords) ? 4 : 2);
    if (flags & kHaveScale)
      p += 2;
    else if (flags & kHaveXYScale)
      p += 4;
    else if (flags & kHaveTwoByTwo)
      p += 8;
    if (!(flags & kMoreComponents)) break;
  }
  if (p > g.size()) throw FontError("bad composite glyph");
  set16(g, lastFlags, static_cast<std::uint16_t>(u16(lastFlags) & ~kHaveInstructions));
  g.resize(p);
}

std::string copyTable(const Font& f, const char* tag) {
  if (!f.has(tag)) return std::string();
  const Table t = f.table(tag);
  return std::string(f.bytes().at(t.off), t.len);
}

// Keeps the Windows-platform naming records libharu and viewers use (family,
// style, unique and PostScript names) plus the copyright notice and the
// licence URL; drops the translations, descriptions and the 7 KB licence
// text, which would otherwise be copied into every PDF.
std::string reducedNameTable(const Font& f) {
  const Bytes& b = f.bytes();
  const Table t = f.table("name");
  const std::uint16_t count = b.u16(t.off + 2);
  const std::size_t strings = t.off + b.u16(t.off + 4);
  struct Rec {
    std::uint16_t p, e, l, n;
    std::string text;
  };
  std::vector<Rec> keep;
  for (std::uint16_t i = 0; i < count; ++i) {
    const std::size_t r = t.off + 6 + 12u * i;
    Rec rec{b.u16(r), b.u16(r + 2), b.u16(r + 4), b.u16(r + 6), {}};
    const bool win = rec.p == 3 && rec.e == 1 && rec.l == 0x409;
    const bool wanted = rec.n <= 6 || rec.n == 14;
    if (!win || !wanted) continue;
    const std::size_t len = b.u16(r + 8), off = strings + b.u16(r + 10);
    b.need(off, len);
    rec.text.assign(b.at(off), len);
    keep.push_back(std::move(rec));
  }
  std::string out;
  put16(out, 0);
  put16(out, static_cast<std::uint16_t>(keep.size()));
  put16(out, static_cast<std::uint16_t>(6 + 12 * keep.size()));
  std::string pool;
  for (const Rec& r : keep) {
    put16(out, r.p);
    put16(out, r.e);
    put16(out, r.l);
    put16(out, r.n);
    put16(out, static_cast<std::uint16_t>(r.text.size()));
    put16(out, static_cast<std::uint16_t>(pool.size()));
    pool += r.text;
  }
  return out + pool;
}

std::string assemble(std::vector<std::pair<std::string, std::string>> tables) {
  std::sort(tables.begin(), tables.end());
  const std::uint16_t n = static_cast<std::uint16_t>(tables.size());
  std::uint16_t pow2 = 1, log2 = 0;
  while (pow2 * 2 <= n) {
    pow2 = static_cast<std::uint16_t>(pow2 * 2);
    ++log2;
  }
  std::string out;
  put32(out, 0x00010000);
  put16(out, n);
  put16(out, static_cast<std::uint16_t>(pow2 * 16));
  put16(out, log2);
  put16(out, static_cast<std::uint16_t>(n * 16 - pow2 * 16));
  std::size_t offset = 12 + 16u * n;
  std::size_t headOffset = 0;
  for (const auto& [tag, data] : tables) {
    out += tag;
    put32(out, checksum(data));
    put32(out, static_cast<std::uint32_t>(offset));
    put32(out, static_cast<std::uint32_t>(data.size()));
    if (tag == "head") headOffset = offset;
    offset += (data.size() + 3) & ~std::size_t{3};
  }
  for (const auto& entry : tables) {
    out += entry.second;
    out.append((4 - entry.second.size() % 4) % 4, '\0');
  }
  set32(out, headOffset + 8, 0xB1B0AFBAu - checksum(out));
  return out;
}

}  // namespace

struct TrueTypeFont::Impl {
  std::string owned;    // load(): the bytes
  void* map = nullptr;  // open(): the file, mapped read-only
  std::size_t mapLen = 0;
  std::string_view data;
  std::unique_ptr<Font> font;
  ~Impl() {
    font.reset();
    if (map) ::munmap(map, mapLen);
  }
};

std::unique_ptr<TrueTypeFont> TrueTypeFont::load(std::string bytes, std::string& error) {
  try {
    auto impl = std::make_unique<Impl>();
    impl->owned = std::move(bytes);
    impl->data = impl->owned;
    impl->font = std::make_unique<Font>(impl->data);
    return std::unique_ptr<TrueTypeFont>(new TrueTypeFont(std::move(impl)));
  } catch (const std::exception& e) {
    error = e.what();
    return nullptr;
  }
}

std::unique_ptr<TrueTypeFont> TrueTypeFont::open(const std::string& path, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = "cannot read " + path;
    return nullptr;
  }
  struct stat st {};
  void* map = MAP_FAILED;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) {
    map = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  }
  ::close(fd);
  if (map == MAP_FAILED) {
    error = "cannot map " + path;
    return nullptr;
  }
  try {
    auto impl = std::make_unique<Impl>();
    impl->map = map;
    impl->mapLen = static_cast<std::size_t>(st.st_size);
    impl->data = std::string_view(static_cast<const char*>(map), impl->mapLen);
    impl->font = std::make_unique<Font>(impl->data);
    return std::unique_ptr<TrueTypeFont>(new TrueTypeFont(std::move(impl)));
  } catch (const std::exception& e) {
    error = path + ": " + e.what();
    return nullptr;  // impl unmaps
  }
}

TrueTypeFont::TrueTypeFont(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  const Font& f = *impl_->font;
  const Bytes& b = f.bytes();
  const std::uint16_t upem = f.unitsPerEm();
  auto em = [&](int v) { return static_cast<int>(static_cast<long>(v) * 1000 / upem); };
  const Table head = f.table("head");
  metrics_.bbox = {em(b.i16(head.off + 36)), em(b.i16(head.off + 38)), em(b.i16(head.off + 40)),
                   em(b.i16(head.off + 42))};
  const Table hhea = f.table("hhea");
  metrics_.ascent = em(b.i16(hhea.off + 4));
  metrics_.descent = em(b.i16(hhea.off + 6));
  const Table os2 = f.table("OS/2");
  metrics_.capHeight =
      os2.len >= 90 && b.u16(os2.off) >= 2 ? em(b.i16(os2.off + 88)) : metrics_.ascent;
  // PostScript name (name id 6), Windows (UTF-16BE) or Mac (bytes) records.
  const Table name = f.table("name");
  const std::uint16_t count = b.u16(name.off + 2);
  const std::size_t strings = name.off + b.u16(name.off + 4);
  for (std::uint16_t i = 0; i < count && metrics_.postScriptName.empty(); ++i) {
    const std::size_t r = name.off + 6 + 12u * i;
    if (b.u16(r + 6) != 6) continue;
    const std::uint16_t platform = b.u16(r);
    const std::size_t len = b.u16(r + 8), off = strings + b.u16(r + 10);
    b.need(off, len);
    std::string n;
    if (platform == 3) {
      for (std::size_t k = 1; k < len; k += 2) n.push_back(*b.at(off + k));
    } else if (platform == 1) {
      n.assign(b.at(off), len);
    }
    for (char c : n) {
      if (c > 0x20 && c < 0x7F && c != '/' && c != '(' && c != ')' && c != '[' && c != ']' &&
          c != '<' && c != '>' && c != '{' && c != '}' && c != '%' && c != '#')
        metrics_.postScriptName.push_back(c);
    }
  }
  if (metrics_.postScriptName.empty()) metrics_.postScriptName = "Font";
}

TrueTypeFont::~TrueTypeFont() = default;

std::string_view TrueTypeFont::bytes() const {
  return impl_->data;
}
std::uint16_t TrueTypeFont::unitsPerEm() const {
  return impl_->font->unitsPerEm();
}
std::uint16_t TrueTypeFont::numGlyphs() const {
  return impl_->font->numGlyphs();
}
std::uint16_t TrueTypeFont::glyphOf(char32_t cp) const {
  return impl_->font->glyphOf(cp);
}
std::uint16_t TrueTypeFont::advance(std::uint16_t gid) const {
  return gid < impl_->font->numGlyphs() ? impl_->font->advance(gid) : impl_->font->advance(0);
}
std::uint16_t TrueTypeFont::advanceThousandths(std::uint16_t gid) const {
  return toThousandths(advance(gid), unitsPerEm());
}

bool TrueTypeFont::subset(const std::vector<std::uint16_t>& sourceGids, std::string& out,
                          std::string& error) const {
  try {
    const Font& f = *impl_->font;
    const Bytes& b = f.bytes();
    std::vector<std::uint16_t> source = sourceGids;
    if (source.empty() || source[0] != 0) source.insert(source.begin(), 0);
    std::unordered_map<std::uint16_t, std::uint16_t> firstCopy;  // source gid -> new gid
    for (std::size_t i = 0; i < source.size(); ++i) {
      if (source[i] >= f.numGlyphs()) throw FontError("glyph id out of range");
      firstCopy.emplace(source[i], static_cast<std::uint16_t>(i));
    }
    for (std::size_t i = 0; i < source.size(); ++i) {  // grows while we walk it: components
      const Table g = f.glyph(source[i]);
      for (std::size_t off : componentIndexOffsets(b, g)) {
        const std::uint16_t comp = b.u16(g.off + off);
        if (comp >= f.numGlyphs()) throw FontError("bad component glyph");
        if (firstCopy.emplace(comp, static_cast<std::uint16_t>(source.size())).second)
          source.push_back(comp);
      }
      if (source.size() > 0xFFF0) throw FontError("too many glyphs");
    }
    const std::uint16_t numGlyphs = static_cast<std::uint16_t>(source.size());
    std::string glyf, loca, hmtx;
    glyf.reserve(source.size() * 128);
    for (std::uint16_t i = 0; i < numGlyphs; ++i) {
      put32(loca, static_cast<std::uint32_t>(glyf.size()));
      const std::uint16_t src = source[i];
      put16(hmtx, f.advance(src));
      put16(hmtx, static_cast<std::uint16_t>(f.lsb(src)));
      const Table g = f.glyph(src);
      std::string data(b.at(g.off), g.len);
      for (std::size_t off : componentIndexOffsets(b, g))
        set16(data, off, firstCopy.at(b.u16(g.off + off)));
      stripInstructions(data);
      glyf += data;
      glyf.append((4 - glyf.size() % 4) % 4, '\0');
    }
    put32(loca, static_cast<std::uint32_t>(glyf.size()));

    // cmap: a (3,1) format 4 subtable with only the closing segment. The PDF
    // addresses glyphs by CID = glyph id; rasterisers still expect a cmap.
    std::string cmap;
    put16(cmap, 0);
    put16(cmap, 1);
    put16(cmap, 3);
    put16(cmap, 1);
    put32(cmap, 12);
    put16(cmap, 4);
    put16(cmap, 24);
    put16(cmap, 0);
    put16(cmap, 2);
    put16(cmap, 2);
    put16(cmap, 0);
    put16(cmap, 0);  // segX2, range, selector, shift
    put16(cmap, 0xFFFF);
    put16(cmap, 0);
    put16(cmap, 0xFFFF);
    put16(cmap, 1);
    put16(cmap, 0);

    std::string head = copyTable(f, "head");
    if (head.size() < 54) throw FontError("short head table");
    set32(head, 8, 0);
    set16(head, 50, 1);  // long loca offsets
    std::string hhea = copyTable(f, "hhea");
    if (hhea.size() < 36) throw FontError("short hhea table");
    set16(hhea, 34, numGlyphs);
    std::string maxp = copyTable(f, "maxp");
    set16(maxp, 4, numGlyphs);
    std::string post = copyTable(f, "post");
    if (post.size() < 32) throw FontError("short post table");
    post.resize(32);
    set32(post, 0, 0x00030000);  // no glyph names

    std::vector<std::pair<std::string, std::string>> tables = {{"OS/2", copyTable(f, "OS/2")},
                                                               {"cmap", cmap},
                                                               {"glyf", glyf},
                                                               {"head", head},
                                                               {"hhea", hhea},
                                                               {"hmtx", hmtx},
                                                               {"loca", loca},
                                                               {"maxp", maxp},
                                                               {"name", reducedNameTable(f)},
                                                               {"post", post}};
    // No hinting programs (cvt, fpgm, prep): the glyphs carry no
    // instructions (see stripInstructions).
    out = assemble(std::move(tables));
    return true;
  } catch (const std::exception& e) {
    error = e.what();
    return false;
  }
}

}  // namespace malipo::cvpdf::detail
