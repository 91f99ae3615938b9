// Reads a plugin's version note (malipo/abi.h, mlp_note) from its file, without loading it:
// nothing of the plugin runs before its SDK version has been checked.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace malipo {

struct PluginNote {
  std::uint32_t sdkMajor = 0, sdkMinor = 0;
  std::string name, version;
};

// The note, or nullopt when the file is an ELF shared object without one. Throws
// std::runtime_error with a reason when the file cannot be read or is not ELF.
std::optional<PluginNote> readPluginNote(const std::string& path);

}  // namespace malipo
