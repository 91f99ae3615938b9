#include "cv_validation.hpp"

#include <Poco/JSON/Parser.h>
#include <Poco/TextIterator.h>
#include <Poco/UTF8Encoding.h>
#include <Poco/UTF8String.h>
#include <Poco/Unicode.h>

#include <sstream>

namespace malipo::cvpdf {

namespace {

// Length in characters (code points), so a Swahili or Serbian name is not cut short.
std::size_t chars(const std::string& s) {
  Poco::UTF8Encoding utf8;
  std::size_t n = 0;
  for (Poco::TextIterator it(s, utf8), end(s); it != end; ++it) ++n;
  return n;
}

bool getString(const Poco::JSON::Object::Ptr& o, const std::string& key, std::size_t max,
               const std::string& path, std::string& out, std::string& err, bool required = false) {
  if (!o->has(key) || o->isNull(key)) {
    if (required) err = path + key + " is required";
    return !required;
  }
  Poco::Dynamic::Var v = o->get(key);
  if (!v.isString()) {
    err = path + key + " must be a string";
    return false;
  }
  out = Poco::trim(v.convert<std::string>());
  if (required && out.empty()) {
    err = path + key + " is required";
    return false;
  }
  if (chars(out) > max) {
    err = path + key + " is longer than " + std::to_string(max) + " characters";
    return false;
  }
  return true;
}

Poco::JSON::Array::Ptr getArray(const Poco::JSON::Object::Ptr& o, const std::string& key,
                                std::size_t max, std::string& err) {
  if (!o->has(key) || o->isNull(key)) return new Poco::JSON::Array;
  if (o->get(key).type() != typeid(Poco::JSON::Array::Ptr)) {
    err = "cv_data." + key + " must be a list";
    return nullptr;
  }
  auto a = o->getArray(key);
  if (a->size() > max) {
    err = "cv_data." + key + " has more than " + std::to_string(max) + " entries";
    return nullptr;
  }
  return a;
}

}  // namespace

CvValidation validateCv(const Poco::JSON::Object::Ptr& d, const CvLimits& L) {
  CvValidation v;
  std::string& err = v.message;
  CvData& cv = v.cv;
  const std::string p = "cv_data.";
  if (!d) {
    err = "cv_data is required and must be an object";
    return v;
  }
  if (!getString(d, "name", L.shortField, p, cv.name, err, true) ||
      !getString(d, "title", L.shortField, p, cv.title, err) ||
      !getString(d, "email", L.email, p, cv.email, err) ||
      !getString(d, "phone", L.phone, p, cv.phone, err) ||
      !getString(d, "summary", L.longField, p, cv.summary, err))
    return v;
  auto exp = getArray(d, "experience", L.experience, err);
  if (!exp) return v;
  for (std::size_t i = 0; i < exp->size(); ++i) {
    auto e = exp->getObject(i);
    std::string path = p + "experience[" + std::to_string(i) + "].";
    if (!e) {
      err = path.substr(0, path.size() - 1) + " must be an object";
      return v;
    }
    ExperienceEntry x;
    if (!getString(e, "position", L.shortField, path, x.position, err) ||
        !getString(e, "company", L.shortField, path, x.company, err) ||
        !getString(e, "duration", L.shortField, path, x.duration, err) ||
        !getString(e, "description", L.longField, path, x.description, err))
      return v;
    cv.experience.push_back(x);
  }
  auto edu = getArray(d, "education", L.education, err);
  if (!edu) return v;
  for (std::size_t i = 0; i < edu->size(); ++i) {
    auto e = edu->getObject(i);
    std::string path = p + "education[" + std::to_string(i) + "].";
    if (!e) {
      err = path.substr(0, path.size() - 1) + " must be an object";
      return v;
    }
    EducationEntry x;
    if (!getString(e, "degree", L.shortField, path, x.degree, err) ||
        !getString(e, "school", L.shortField, path, x.school, err) ||
        !getString(e, "duration", L.shortField, path, x.duration, err) ||
        !getString(e, "description", L.longField, path, x.description, err))
      return v;
    cv.education.push_back(x);
  }
  for (const char* key : {"skills", "languages"}) {
    auto arr = getArray(d, key, std::string(key) == "skills" ? L.skills : L.languages, err);
    if (!arr) return v;
    for (std::size_t i = 0; i < arr->size(); ++i) {
      Poco::Dynamic::Var item = arr->get(i);
      std::string path = p + key + "[" + std::to_string(i) + "]";
      if (!item.isString()) {
        err = path + " must be a string";
        return v;
      }
      std::string s = Poco::trim(item.convert<std::string>());
      if (chars(s) > L.listItem) {
        err = path + " is longer than " + std::to_string(L.listItem) + " characters";
        return v;
      }
      if (!s.empty()) (std::string(key) == "skills" ? cv.skills : cv.languages).push_back(s);
    }
  }
  v.ok = true;
  return v;
}

bool isUuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

bool isCvId(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  return true;
}

std::string cvToJson(const CvData& cv) {
  Poco::JSON::Object o;
  o.set("name", cv.name);
  o.set("title", cv.title);
  o.set("email", cv.email);
  o.set("phone", cv.phone);
  o.set("summary", cv.summary);
  Poco::JSON::Array exp, edu, skills, langs;
  for (const auto& e : cv.experience) {
    Poco::JSON::Object x;
    x.set("position", e.position);
    x.set("company", e.company);
    x.set("duration", e.duration);
    x.set("description", e.description);
    exp.add(x);
  }
  for (const auto& e : cv.education) {
    Poco::JSON::Object x;
    x.set("degree", e.degree);
    x.set("school", e.school);
    x.set("duration", e.duration);
    x.set("description", e.description);
    edu.add(x);
  }
  for (const auto& s : cv.skills) skills.add(s);
  for (const auto& s : cv.languages) langs.add(s);
  o.set("experience", exp);
  o.set("education", edu);
  o.set("skills", skills);
  o.set("languages", langs);
  std::ostringstream os;
  o.stringify(os);
  return os.str();
}

CvData cvFromJson(const std::string& json) {
  auto o = Poco::JSON::Parser().parse(json).extract<Poco::JSON::Object::Ptr>();
  // Stored CVs were validated on the way in, under the limits then configured.
  CvLimits unlimited{1000000, 1000000, 1000000, 1000000, 100000, 100000, 100000, 100000, 1000000};
  return validateCv(o, unlimited).cv;
}

}  // namespace malipo::cvpdf
