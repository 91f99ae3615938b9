// The fonts of one PDF document: one Type0 / CIDFontType2 font (Identity-H)
// per font file the document draws with, embedding a subset that holds only
// the glyphs used, numbered in order of first use (CID = subset glyph id,
// CIDToGIDMap /Identity), a /W array for exactly those CIDs and a ToUnicode
// CMap that maps each CID to the characters it stands for. A glyph that
// stands for different text in two places (a ligature, a shared glyph) gets
// one CID per text. Internal to the renderer (namespace detail).
//
// The dictionaries are built with libharu's object API (hpdf_objects.h), so
// libharu still writes, compresses and cross-references the whole file.
#pragma once

#include <hpdf.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "pdf/text_engine.hpp"

namespace malipo::cvpdf::detail {

// Makes dict (a stream object) hold bytes compressed here with zlib's fastest
// level, marked /FlateDecode. libharu 2.3 hard-codes the default level (about
// three times slower for a few per cent less) and drops any /Filter entry of a
// stream it does not compress itself, so the entry is written from the
// dictionary's write hook. false: nothing changed.
bool setPrecompressedStream(HPDF_Dict dict, const std::string& bytes);

class DocFonts {
 public:
  DocFonts(HPDF_Doc doc, const TextEngine& engine);

  // The font dictionary of a face, created on first use (filled by finish()).
  HPDF_Dict font(std::size_t face);
  // CID for glyph gid of face standing for text (possibly empty), with the
  // font's advance as width or, when width >= 0, that width (1/1000 em).
  std::uint16_t cid(std::size_t face, std::uint16_t gid, std::u32string_view text, int width = -1);
  // Width of a CID in 1/1000 em, as written to /W.
  std::uint16_t width(std::size_t face, std::uint16_t cid) const;

  // Subsets and writes every used font. false with error on failure.
  bool finish(std::string& error);

  // Glyphs embedded per face (tests, diagnostics): face -> CID count.
  std::vector<std::pair<std::size_t, std::size_t>> usage() const;

 private:
  struct Used {
    HPDF_Dict type0 = nullptr;
    std::vector<std::uint16_t> cidOfGid;  // first CID of each source glyph (0: none)
    std::vector<std::uint16_t> gidOfCid{0};
    std::vector<std::uint16_t> widthOfCid{0};
    std::vector<std::u32string> textOfCid{std::u32string()};
    // Other texts or widths of a glyph: key text + U+110000+width.
    std::map<std::pair<std::uint16_t, std::u32string>, std::uint16_t> more;
  };
  Used& used(std::size_t face);

  HPDF_Doc doc_;
  const TextEngine& engine_;
  std::vector<Used> used_;  // by face index
};

}  // namespace malipo::cvpdf::detail
