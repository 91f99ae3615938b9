// Typed, validated configuration: the schema a component declares and the view it reads.
//
// A plugin describes its `settings:` section with a SchemaNode tree; the kernel validates the
// YAML against it before the plugin runs (unknown key or wrong type = start-up error naming
// the key path and line), fills defaults, and hands the plugin a Settings view.
// Ownership: Settings holds a shared pointer to an immutable tree; copy freely.
// Thread-safety: read-only after start-up, safe from any thread.
#pragma once

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace malipo {

inline constexpr std::size_t kMinSecretBytes = 32;

enum class SettingType { string, integer, number, boolean, list, object, map };

// One node of a schema. Build with the helpers in namespace `schema` below.
struct SchemaNode {
  SettingType type = SettingType::string;
  std::string description;
  bool required = false;
  bool secret = false;  // never printed or logged; check-config shows "***"
  // A secret we choose ourselves (signing keys, tokens): outside sandbox the kernel refuses
  // to start when it is shorter than kMinSecretBytes or a published placeholder (contains
  // "change-me" or "sandbox"), or empty unless `emptyAllowed` (empty turns its feature off).
  bool strong = false, emptyAllowed = false;
  bool passthrough = false;  // not validated here (a plugin's own section)
  bool path = false;  // a file or folder: relative values resolve against the config's folder
  bool hasDefault = false;
  Poco::Dynamic::Var defaultValue;                // used when the key is absent
  std::vector<std::string> allowed;               // for strings: the accepted values (empty = any)
  std::int64_t min = INT64_MIN, max = INT64_MAX;  // for integers
  std::vector<std::pair<std::string, SchemaNode>> fields;  // object: fixed keys, in order
  std::shared_ptr<SchemaNode> element;                     // list / map: the value schema

  SchemaNode& describe(std::string d) {
    description = std::move(d);
    return *this;
  }
  SchemaNode& def(Poco::Dynamic::Var v) {
    hasDefault = true;
    defaultValue = std::move(v);
    return *this;
  }
  SchemaNode& req() {
    required = true;
    return *this;
  }
  SchemaNode& isSecret() {
    secret = true;
    return *this;
  }
  SchemaNode& isPath() {
    path = true;
    return *this;
  }
  SchemaNode& strongSecret(bool allowEmpty = false) {
    secret = strong = true;
    emptyAllowed = allowEmpty;
    return *this;
  }
  SchemaNode& oneOf(std::vector<std::string> v) {
    allowed = std::move(v);
    return *this;
  }
  SchemaNode& range(std::int64_t lo, std::int64_t hi) {
    min = lo;
    max = hi;
    return *this;
  }
  SchemaNode& field(std::string key, SchemaNode node) {
    fields.emplace_back(std::move(key), std::move(node));
    return *this;
  }
};

namespace schema {
inline SchemaNode make(SettingType t, std::string desc) {
  SchemaNode n;
  n.type = t;
  n.description = std::move(desc);
  return n;
}
inline SchemaNode str(std::string desc) {
  return make(SettingType::string, std::move(desc));
}
inline SchemaNode integer(std::string desc) {
  return make(SettingType::integer, std::move(desc));
}
inline SchemaNode number(std::string desc) {
  return make(SettingType::number, std::move(desc));
}
inline SchemaNode boolean(std::string desc) {
  return make(SettingType::boolean, std::move(desc));
}
inline SchemaNode object(std::string desc) {
  return make(SettingType::object, std::move(desc));
}
inline SchemaNode list(std::string desc, SchemaNode element) {
  auto n = make(SettingType::list, std::move(desc));
  n.element = std::make_shared<SchemaNode>(std::move(element));
  return n;
}
inline SchemaNode map(std::string desc, SchemaNode element) {
  auto n = make(SettingType::map, std::move(desc));
  n.element = std::make_shared<SchemaNode>(std::move(element));
  return n;
}
}  // namespace schema

// A read-only view of one validated section. Missing keys were filled from defaults by
// validation, so a getter on a declared key only throws for a programming error.
class Settings {
 public:
  Settings() : obj_(new Poco::JSON::Object) {}
  Settings(Poco::JSON::Object::Ptr obj, std::string path)
      : obj_(obj ? obj : Poco::JSON::Object::Ptr(new Poco::JSON::Object)), path_(std::move(path)) {}

  bool has(const std::string& key) const { return obj_->has(key) && !obj_->isNull(key); }
  std::string getString(const std::string& key, const std::string& dflt = {}) const {
    return has(key) ? obj_->getValue<std::string>(key) : dflt;
  }
  std::int64_t getInt(const std::string& key, std::int64_t dflt = 0) const {
    return has(key) ? obj_->getValue<std::int64_t>(key) : dflt;
  }
  double getDouble(const std::string& key, double dflt = 0) const {
    return has(key) ? obj_->getValue<double>(key) : dflt;
  }
  bool getBool(const std::string& key, bool dflt = false) const {
    return has(key) ? obj_->getValue<bool>(key) : dflt;
  }
  std::vector<std::string> getStringList(const std::string& key) const {
    std::vector<std::string> out;
    if (!has(key)) return out;
    auto arr = obj_->getArray(key);
    if (!arr) return out;
    for (std::size_t i = 0; i < arr->size(); ++i) out.push_back(arr->getElement<std::string>(i));
    return out;
  }
  Settings child(const std::string& key) const {
    return Settings(has(key) ? obj_->getObject(key) : nullptr, path_ + "." + key);
  }
  // List of objects, e.g. `packages: [{id: …}, …]`.
  std::vector<Settings> childList(const std::string& key) const {
    std::vector<Settings> out;
    if (!has(key)) return out;
    auto arr = obj_->getArray(key);
    for (std::size_t i = 0; arr && i < arr->size(); ++i)
      out.emplace_back(arr->getObject(i), path_ + "." + key + "[" + std::to_string(i) + "]");
    return out;
  }
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    for (const auto& kv : *obj_) out.push_back(kv.first);
    return out;
  }
  const std::string& path() const { return path_; }
  Poco::JSON::Object::Ptr raw() const { return obj_; }

 private:
  Poco::JSON::Object::Ptr obj_;
  std::string path_;
};

}  // namespace malipo
