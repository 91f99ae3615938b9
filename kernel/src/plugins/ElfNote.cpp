#include "plugins/ElfNote.hpp"

#include <elf.h>

#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "malipo/abi.h"

namespace malipo {

namespace {

std::uint32_t align4(std::uint32_t n) {
  return (n + 3u) & ~3u;
}

// The notes of one SHT_NOTE section: the first with our name and type.
std::optional<PluginNote> scanNotes(const std::vector<char>& data) {
  std::size_t pos = 0;
  while (pos + 12 <= data.size()) {
    std::uint32_t namesz, descsz, type;
    std::memcpy(&namesz, &data[pos], 4);
    std::memcpy(&descsz, &data[pos + 4], 4);
    std::memcpy(&type, &data[pos + 8], 4);
    std::size_t name = pos + 12, desc = name + align4(namesz);
    if (namesz > 64 || descsz > 4096 || desc + descsz > data.size()) return std::nullopt;
    if (type == MLP_NOTE_TYPE && namesz == sizeof(MLP_NOTE_NAME) &&
        std::memcmp(&data[name], MLP_NOTE_NAME, sizeof(MLP_NOTE_NAME)) == 0 &&
        descsz >= 8 + 64 + 32) {
      PluginNote n;
      std::memcpy(&n.sdkMajor, &data[desc], 4);
      std::memcpy(&n.sdkMinor, &data[desc + 4], 4);
      n.name.assign(&data[desc + 8], strnlen(&data[desc + 8], 64));
      n.version.assign(&data[desc + 72], strnlen(&data[desc + 72], 32));
      return n;
    }
    pos = desc + align4(descsz);
  }
  return std::nullopt;
}

}  // namespace

std::optional<PluginNote> readPluginNote(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(std::string("cannot open the file: ") + std::strerror(errno));
  Elf64_Ehdr eh;
  if (!f.read(reinterpret_cast<char*>(&eh), sizeof eh) ||
      std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
    throw std::runtime_error("not an ELF file");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
    throw std::runtime_error("not a 64-bit little-endian ELF file");
  if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shnum > 4096)
    throw std::runtime_error("an ELF file without a readable section table");
  std::vector<Elf64_Shdr> sections(eh.e_shnum);
  f.seekg(static_cast<std::streamoff>(eh.e_shoff));
  if (!f.read(reinterpret_cast<char*>(sections.data()),
              static_cast<std::streamsize>(sections.size() * sizeof(Elf64_Shdr))))
    throw std::runtime_error("an ELF file with a truncated section table");
  for (const auto& sh : sections) {
    if (sh.sh_type != SHT_NOTE || sh.sh_size == 0 || sh.sh_size > (1u << 20)) continue;
    std::vector<char> data(sh.sh_size);
    f.seekg(static_cast<std::streamoff>(sh.sh_offset));
    if (!f.read(data.data(), static_cast<std::streamsize>(data.size()))) continue;
    if (auto n = scanNotes(data)) return n;
  }
  return std::nullopt;
}

}  // namespace malipo
