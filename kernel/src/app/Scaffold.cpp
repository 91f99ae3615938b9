#include "app/Scaffold.hpp"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace malipo::scaffold {

namespace {

void replaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (std::size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
}

}  // namespace

std::vector<std::string> newProvider(const std::string& name, const std::string& dir) {
  bool valid =
      !name.empty() && name.size() <= 32 && std::islower(static_cast<unsigned char>(name[0]));
  for (char c : name)
    valid = valid && (std::islower(static_cast<unsigned char>(c)) ||
                      std::isdigit(static_cast<unsigned char>(c)) || c == '_');
  if (!valid)
    throw std::runtime_error(
        "provider name '" + name +
        "' is not a lowercase identifier (a-z first, then a-z, 0-9 or _, at most 32)");
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path root(dir);
  if (fs::exists(root, ec)) {
    if (!fs::is_directory(root, ec)) throw std::runtime_error(dir + " exists and is not a folder");
    if (!fs::is_empty(root, ec))
      throw std::runtime_error(dir + " is not empty: give a new or empty folder");
  }
  std::string upper, cls;
  bool up = true;
  for (char c : name) {
    upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (c == '_') {
      up = true;
    } else {
      cls += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
      up = false;
    }
  }
  std::vector<std::string> written;
  for (const auto& t : templates()) {
    std::string rel = t.path, text = t.text;
    replaceAll(rel, "NAME", name);
    if (rel == "gitignore") rel = ".gitignore";
    replaceAll(text, "@NAME@", name);
    replaceAll(text, "@UPPER@", upper);
    replaceAll(text, "@CLASS@", cls);
    fs::path file = root / rel;
    fs::create_directories(file.parent_path(), ec);
    std::ofstream out(file, std::ios::binary);
    out << text;
    out.close();
    if (!out) throw std::runtime_error("cannot write " + file.string());
    written.push_back(rel);
  }
  return written;
}

}  // namespace malipo::scaffold
