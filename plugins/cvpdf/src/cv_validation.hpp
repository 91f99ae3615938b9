// Validation of the initiate-ussd body: template id, cv_data shape and size caps. Pure.
#pragma once

#include <Poco/JSON/Object.h>

#include <string>
#include <vector>

#include "pdf/cv_data.hpp"

namespace malipo::cvpdf {

struct CvLimits {
  std::size_t shortField = 120;  // name, title, position, company, degree, school, duration
  std::size_t email = 254;
  std::size_t phone = 32;
  std::size_t longField = 2000;  // summary, descriptions
  std::size_t experience = 20;
  std::size_t education = 10;
  std::size_t skills = 50;
  std::size_t languages = 20;
  std::size_t listItem = 60;  // one skill / language
};

struct CvValidation {
  bool ok = false;
  std::string message;  // external: names the field and the rule
  CvData cv;
};

// `cvData` must be the cv_data object of the request body.
CvValidation validateCv(const Poco::JSON::Object::Ptr& cvData, const CvLimits& limits);

// The ids the routes accept: a UUID (request ids) or "anonymous" / a short slug (cv ids).
bool isUuid(const std::string& s);
bool isCvId(const std::string& s);

// Serialises the validated CV for storage (and back).
std::string cvToJson(const CvData& cv);
CvData cvFromJson(const std::string& json);

}  // namespace malipo::cvpdf
