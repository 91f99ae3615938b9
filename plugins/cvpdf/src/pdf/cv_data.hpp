// CV content handed to the PDF renderer: plain data, no behaviour.
// Mirrors the cv_data JSON of the CV PDF product (see the plugin's API notes).
#pragma once

#include <string>
#include <vector>

namespace malipo::cvpdf {

struct ExperienceEntry {
  std::string position;
  std::string company;
  std::string duration;
  std::string description;
};

struct EducationEntry {
  std::string degree;
  std::string school;
  std::string duration;
  std::string description;
};

// All strings are UTF-8; the renderer sanitises anything else (invalid
// sequences, control characters) so callers may pass user input as received.
struct CvData {
  std::string name;
  std::string title;
  std::string email;
  std::string phone;
  std::string summary;
  std::vector<ExperienceEntry> experience;
  std::vector<EducationEntry> education;
  std::vector<std::string> skills;
  std::vector<std::string> languages;
};

}  // namespace malipo::cvpdf
