#include "http/TemplateData.hpp"

#include <Poco/JSON/Array.h>

#include <limits>

namespace malipo {

namespace {

mstch::node toNode(const Poco::Dynamic::Var& v) {
  if (v.isEmpty()) return nullptr;
  if (v.type() == typeid(Poco::JSON::Object::Ptr)) {
    auto p = v.extract<Poco::JSON::Object::Ptr>();
    return p ? mstch::node(templateData(*p)) : mstch::node(nullptr);
  }
  // Arrays and objects set by value (obj.set("k", Poco::JSON::Array())) render like pointers.
  if (v.type() == typeid(Poco::JSON::Object)) return templateData(v.extract<Poco::JSON::Object>());
  if (v.type() == typeid(Poco::JSON::Array)) {
    const auto& arr = v.extract<Poco::JSON::Array>();
    mstch::array a;
    for (std::size_t i = 0; i < arr.size(); ++i) a.push_back(toNode(arr.get(i)));
    return a;
  }
  if (v.type() == typeid(Poco::JSON::Array::Ptr)) {
    auto p = v.extract<Poco::JSON::Array::Ptr>();
    mstch::array a;
    for (std::size_t i = 0; p && i < p->size(); ++i) a.push_back(toNode(p->get(i)));
    return a;
  }
  if (v.isBoolean()) return v.convert<bool>();
  if (v.isInteger()) {
    if (v.isSigned()) {
      auto n = v.convert<Poco::Int64>();
      if (n >= std::numeric_limits<int>::min() && n <= std::numeric_limits<int>::max())
        return static_cast<int>(n);
    } else if (v.convert<Poco::UInt64>() <=
               static_cast<Poco::UInt64>(std::numeric_limits<int>::max())) {
      return static_cast<int>(v.convert<Poco::UInt64>());
    }
    return v.convert<std::string>();
  }
  if (v.isNumeric()) return v.convert<double>();
  return v.convert<std::string>();
}

}  // namespace

mstch::map templateData(const Poco::JSON::Object& o) {
  mstch::map m;
  for (const auto& kv : o) m.emplace(kv.first, toNode(kv.second));
  return m;
}

}  // namespace malipo
