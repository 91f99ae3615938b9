// mstch rendering with one shared, mobile-first layout (see malipo/pages.hpp).
#pragma once

#include "malipo/pages.hpp"

namespace malipo {

class PagesImpl final : public Pages {
 public:
  std::string render(const std::string& title, const std::string& bodyTemplate,
                     const Poco::JSON::Object& data,
                     const std::string& headExtra = {}) const override;
};

}  // namespace malipo
