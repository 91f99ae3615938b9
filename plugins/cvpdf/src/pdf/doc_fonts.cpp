#include "pdf/doc_fonts.hpp"

#include <hpdf_doc.h>
#include <hpdf_objects.h>
#include <hpdf_streams.h>
#include <zlib.h>

#include <cstdio>

#include "pdf/text_util.hpp"

namespace malipo::cvpdf::detail {
namespace {

std::string toUnicodeCMap(const std::vector<std::u32string>& textOfCid) {
  std::string s =
      "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
      "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
      "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
      "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n";
  std::vector<std::size_t> mapped;
  for (std::size_t c = 1; c < textOfCid.size(); ++c) {
    if (!textOfCid[c].empty()) mapped.push_back(c);
  }
  for (std::size_t i = 0; i < mapped.size(); i += 100) {  // at most 100 per block
    const std::size_t n = std::min<std::size_t>(100, mapped.size() - i);
    s += std::to_string(n) + " beginbfchar\n";
    for (std::size_t k = i; k < i + n; ++k) {
      s += '<';
      appendHex4(s, static_cast<unsigned>(mapped[k]));
      s += "> <";
      appendUtf16Hex(s, textOfCid[mapped[k]]);
      s += ">\n";
    }
    s += "endbfchar\n";
  }
  s += "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n";
  return s;
}

HPDF_Dict newIndirectDict(HPDF_Doc doc) {
  HPDF_Dict d = HPDF_Dict_New(doc->mmgr);
  if (d && HPDF_Xref_Add(doc->xref, d) != HPDF_OK) return nullptr;  // the xref frees it
  return d;
}

extern "C" HPDF_STATUS writeFlateFilter(HPDF_Dict, HPDF_Stream stream) {
  return HPDF_Stream_WriteStr(stream, "/Filter /FlateDecode\012");
}

HPDF_Dict newStream(HPDF_Doc doc, const std::string& bytes) {
  HPDF_Dict d = HPDF_DictStream_New(doc->mmgr, doc->xref);
  if (!d || !setPrecompressedStream(d, bytes)) return nullptr;
  return d;
}

// Six upper-case letters naming the subset (PDF 9.6.4), distinct per face.
std::string subsetTag(std::size_t face, std::size_t glyphs) {
  std::string tag(6, 'A');
  std::size_t v = face * 7919 + glyphs * 104729 + 12345;
  for (char& ch : tag) {
    ch = static_cast<char>('A' + v % 26);
    v /= 26;
  }
  return tag;
}

}  // namespace

bool setPrecompressedStream(HPDF_Dict dict, const std::string& bytes) {
  if (!dict->stream || dict->write_fn) return false;
  // One deflate state per thread, reset for each stream: compress2 would
  // allocate (mmap) and free about 270 KB of state for every stream, ten
  // times per document.
  struct Deflater {
    z_stream zs{};
    bool ok = false;
    Deflater() { ok = deflateInit(&zs, Z_BEST_SPEED) == Z_OK; }
    ~Deflater() {
      if (ok) deflateEnd(&zs);
    }
  };
  thread_local Deflater d;
  thread_local std::string z;
  if (!d.ok || deflateReset(&d.zs) != Z_OK) return false;
  z.resize(deflateBound(&d.zs, static_cast<uLong>(bytes.size())));
  d.zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  d.zs.avail_in = static_cast<uInt>(bytes.size());
  d.zs.next_out = reinterpret_cast<Bytef*>(z.data());
  d.zs.avail_out = static_cast<uInt>(z.size());
  if (deflate(&d.zs, Z_FINISH) != Z_STREAM_END) return false;
  const uLong len = d.zs.total_out;
  HPDF_Stream fresh =
      HPDF_MemStream_New(dict->mmgr, static_cast<HPDF_UINT>(len < 1024 ? 1024 : len));
  if (!fresh) return false;
  if (HPDF_Stream_Write(fresh, reinterpret_cast<const HPDF_BYTE*>(z.data()),
                        static_cast<HPDF_UINT>(len)) != HPDF_OK) {
    HPDF_Stream_Free(fresh);
    return false;
  }
  HPDF_Stream_Free(dict->stream);
  dict->stream = fresh;
  dict->filter = HPDF_STREAM_FILTER_NONE;
  dict->write_fn = writeFlateFilter;
  return true;
}

DocFonts::DocFonts(HPDF_Doc doc, const TextEngine& engine) : doc_(doc), engine_(engine) {
  used_.resize(engine.faceCount());
}

DocFonts::Used& DocFonts::used(std::size_t face) {
  Used& u = used_.at(face);
  if (u.cidOfGid.empty()) u.cidOfGid.assign(engine_.face(face).numGlyphs(), 0);
  return u;
}

HPDF_Dict DocFonts::font(std::size_t face) {
  Used& u = used(face);
  if (!u.type0) u.type0 = newIndirectDict(doc_);
  return u.type0;
}

std::uint16_t DocFonts::cid(std::size_t face, std::uint16_t gid, std::u32string_view text,
                            int width) {
  Used& u = used(face);
  if (gid >= u.cidOfGid.size()) return 0;
  std::uint16_t c = u.cidOfGid[gid];
  if (width < 0 && c != 0 && u.textOfCid[c] == text) return c;
  std::u32string key(text);
  if (width >= 0) key.push_back(static_cast<char32_t>(0x110000 + width));
  if (c != 0 || width >= 0) {
    const auto it = u.more.find({gid, key});
    if (it != u.more.end()) return it->second;
  }
  if (u.gidOfCid.size() >= 0xFFFF) return 0;
  const auto fresh = static_cast<std::uint16_t>(u.gidOfCid.size());
  u.gidOfCid.push_back(gid);
  u.widthOfCid.push_back(width >= 0 ? static_cast<std::uint16_t>(width)
                                    : engine_.face(face).advanceThousandths(gid));
  u.textOfCid.emplace_back(text);
  if (c == 0 && width < 0)
    u.cidOfGid[gid] = fresh;
  else
    u.more.emplace(std::make_pair(gid, std::move(key)), fresh);
  return fresh;
}

std::uint16_t DocFonts::width(std::size_t face, std::uint16_t cid) const {
  const Used& u = used_.at(face);
  return cid < u.widthOfCid.size() ? u.widthOfCid[cid] : 0;
}

std::vector<std::pair<std::size_t, std::size_t>> DocFonts::usage() const {
  std::vector<std::pair<std::size_t, std::size_t>> r;
  for (std::size_t f = 0; f < used_.size(); ++f) {
    if (used_[f].type0) r.emplace_back(f, used_[f].gidOfCid.size() - 1);
  }
  return r;
}

bool DocFonts::finish(std::string& error) {
  HPDF_MMgr mm = doc_->mmgr;
  for (std::size_t f = 0; f < used_.size(); ++f) {
    Used& u = used_[f];
    if (!u.type0) continue;
    const TrueTypeFont& ttf = engine_.face(f);
    std::string sub;
    if (!ttf.subset(u.gidOfCid, sub, error)) return false;
    const FontMetrics& m = ttf.metrics();
    const std::string name = subsetTag(f, u.gidOfCid.size()) + "+" + m.postScriptName;

    HPDF_Dict file = newStream(doc_, sub);
    HPDF_Dict desc = newIndirectDict(doc_);
    HPDF_Dict cidFont = newIndirectDict(doc_);
    HPDF_Dict toUnicode = newStream(doc_, toUnicodeCMap(u.textOfCid));
    HPDF_Dict info = HPDF_Dict_New(mm);
    HPDF_Array bbox = HPDF_Array_New(mm);
    HPDF_Array widths = HPDF_Array_New(mm);
    HPDF_Array run = HPDF_Array_New(mm);
    HPDF_Array descendants = HPDF_Array_New(mm);
    if (!file || !desc || !cidFont || !toUnicode || !info || !bbox || !widths || !run ||
        !descendants) {
      error = "cannot create font objects";
      return false;
    }
    HPDF_STATUS st = HPDF_Dict_AddNumber(file, "Length1", static_cast<HPDF_INT32>(sub.size()));

    for (int v : m.bbox) st |= HPDF_Array_AddNumber(bbox, v);
    st |= HPDF_Dict_AddName(desc, "Type", "FontDescriptor");
    st |= HPDF_Dict_AddName(desc, "FontName", name.c_str());
    st |= HPDF_Dict_AddNumber(desc, "Flags", 4);  // symbolic: glyphs addressed by CID
    st |= HPDF_Dict_Add(desc, "FontBBox", bbox);
    st |= HPDF_Dict_AddNumber(desc, "ItalicAngle", 0);
    st |= HPDF_Dict_AddNumber(desc, "Ascent", m.ascent);
    st |= HPDF_Dict_AddNumber(desc, "Descent", m.descent);
    st |= HPDF_Dict_AddNumber(desc, "CapHeight", m.capHeight);
    st |= HPDF_Dict_AddNumber(desc, "StemV", 80);
    st |= HPDF_Dict_Add(desc, "FontFile2", file);

    st |= HPDF_Dict_Add(info, "Registry", HPDF_String_New(mm, "Adobe", nullptr));
    st |= HPDF_Dict_Add(info, "Ordering", HPDF_String_New(mm, "Identity", nullptr));
    st |= HPDF_Dict_AddNumber(info, "Supplement", 0);
    for (std::size_t c = 1; c < u.widthOfCid.size(); ++c)
      st |= HPDF_Array_AddNumber(run, u.widthOfCid[c]);
    st |= HPDF_Array_AddNumber(widths, 1);
    st |= HPDF_Array_Add(widths, run);
    st |= HPDF_Dict_AddName(cidFont, "Type", "Font");
    st |= HPDF_Dict_AddName(cidFont, "Subtype", "CIDFontType2");
    st |= HPDF_Dict_AddName(cidFont, "BaseFont", name.c_str());
    st |= HPDF_Dict_Add(cidFont, "CIDSystemInfo", info);
    st |= HPDF_Dict_Add(cidFont, "FontDescriptor", desc);
    st |= HPDF_Dict_AddNumber(cidFont, "DW", ttf.advanceThousandths(0));
    st |= HPDF_Dict_Add(cidFont, "W", widths);
    st |= HPDF_Dict_AddName(cidFont, "CIDToGIDMap", "Identity");

    st |= HPDF_Array_Add(descendants, cidFont);
    st |= HPDF_Dict_AddName(u.type0, "Type", "Font");
    st |= HPDF_Dict_AddName(u.type0, "Subtype", "Type0");
    st |= HPDF_Dict_AddName(u.type0, "BaseFont", name.c_str());
    st |= HPDF_Dict_AddName(u.type0, "Encoding", "Identity-H");
    st |= HPDF_Dict_Add(u.type0, "DescendantFonts", descendants);
    st |= HPDF_Dict_Add(u.type0, "ToUnicode", toUnicode);
    if (st != HPDF_OK) {
      error = "cannot write font objects";
      return false;
    }
  }
  return true;
}

}  // namespace malipo::cvpdf::detail
