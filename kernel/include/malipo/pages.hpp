// Server-rendered HTML lent to plugins (mstch templates render in the kernel: Debian's mstch
// cannot link into a shared library).
//
// `{{x}}` escapes HTML, `{{{x}}}` does not: put user input only in `{{x}}`. The body is
// wrapped in the shared mobile-first layout with the given title.
// Thread-safety: safe from any thread.
#pragma once

#include <Poco/JSON/Object.h>

#include <string>

namespace malipo {

class Pages {
 public:
  virtual ~Pages() = default;
  // Renders `bodyTemplate` with `data` (JSON values; arrays become sections) inside the layout.
  virtual std::string render(const std::string& title, const std::string& bodyTemplate,
                             const Poco::JSON::Object& data,
                             const std::string& headExtra = {}) const = 0;
};

}  // namespace malipo
