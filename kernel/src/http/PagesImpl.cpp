#include "http/PagesImpl.hpp"

#include <Poco/JSON/Array.h>

#include <mstch/mstch.hpp>

namespace malipo {

namespace {

mstch::node toNode(const Poco::Dynamic::Var& v);

mstch::map toMap(const Poco::JSON::Object& o) {
  mstch::map m;
  for (const auto& kv : o) m.emplace(kv.first, toNode(kv.second));
  return m;
}

mstch::node toNode(const Poco::Dynamic::Var& v) {
  if (v.isEmpty()) return nullptr;
  if (v.type() == typeid(Poco::JSON::Object::Ptr)) {
    auto p = v.extract<Poco::JSON::Object::Ptr>();
    return p ? mstch::node(toMap(*p)) : mstch::node(nullptr);
  }
  // Arrays and objects set by value (obj.set("k", Poco::JSON::Array())) render like pointers.
  if (v.type() == typeid(Poco::JSON::Object)) return toMap(v.extract<Poco::JSON::Object>());
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
  if (v.isInteger()) return v.convert<int>();
  if (v.isNumeric()) return v.convert<double>();
  return v.convert<std::string>();
}

const char* kLayout = R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}}</title>
<style>
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;background:#f5f7fa}
main{max-width:32rem;margin:0 auto;padding:1rem}
.card>:first-child{margin-top:0}.card>:last-child{margin-bottom:0}
.card{background:#fff;border-radius:12px;padding:1.25rem;box-shadow:0 1px 3px rgba(0,0,0,.08);margin-bottom:1rem}
h1{font-size:1.35rem;margin:.25rem 0 1rem}h2{font-size:1.1rem}
.code{font:700 1.6rem/1.2 ui-monospace,monospace;letter-spacing:.05em;background:#eef2ff;padding:.5rem .75rem;border-radius:8px;display:inline-block}
.muted{color:#616e7c;font-size:.9rem}.error{background:#fde8e8;color:#9b1c1c;padding:.75rem;border-radius:8px}
.ok{background:#def7ec;color:#03543f;padding:.75rem;border-radius:8px}
.btn{display:inline-block;border:0;background:#1a56db;color:#fff;padding:.75rem 1.25rem;border-radius:8px;font-size:1rem;text-decoration:none;cursor:pointer;width:100%;text-align:center}
.btn.secondary{background:#e4e7eb;color:#1f2933}
button,input,textarea,select{font:inherit}
textarea,input{width:100%;font-size:1rem;padding:.6rem;border:1px solid #cbd2d9;border-radius:8px}
ol li{margin:.3rem 0}dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem .75rem}dt{color:#616e7c}dd{margin:0;font-weight:600}
</style>{{{head}}}</head>
<body><main>{{{body}}}</main></body></html>
)";

}  // namespace

std::string PagesImpl::render(const std::string& title, const std::string& bodyTemplate,
                              const Poco::JSON::Object& data, const std::string& headExtra) const {
  std::string body = mstch::render(bodyTemplate, toMap(data));
  mstch::map layout{{"title", title}, {"body", body}, {"head", headExtra}};
  return mstch::render(kLayout, layout);
}

}  // namespace malipo
