// `malipo sdk new-provider NAME DIR`: writes a buildable out-of-tree provider plugin (CMake
// project against the installed SDK, provider, simulator, GoogleTest test, README, example
// config) from the templates in kernel/src/app/scaffold/, embedded at build time.
#pragma once

#include <string>
#include <vector>

namespace malipo::scaffold {

struct TemplateFile {
  const char* path;  // relative, e.g. "src/provider.cpp"; NAME in it becomes the name
  const char* text;  // @NAME@, @UPPER@, @CLASS@ are replaced
};
const std::vector<TemplateFile>& templates();

// Throws std::runtime_error with a one-line reason: NAME is not a lowercase identifier, DIR
// exists and is not empty, a file cannot be written. Returns the files written, relative.
std::vector<std::string> newProvider(const std::string& name, const std::string& dir);

}  // namespace malipo::scaffold
