// One declaration per setting: key, description, range and the member it fills, in one list
// that yields both the schema (validation, defaults, check-config) and the typed struct.
//
//   struct MySettings {
//     std::string baseUrl;            // the default is the member's own initializer
//     int timeoutMs = 10000;
//     std::int64_t expiryMs = 3600000;
//   };
//   const malipo::Decl<MySettings>& decl() {
//     static const auto d = malipo::Decl<MySettings>("my provider")
//         .str("base_url", &MySettings::baseUrl, "API base URL")
//         .integer("timeout_ms", &MySettings::timeoutMs, "timeout of each call").range(500, 120000)
//         .integer("expiry_minutes", &MySettings::expiryMs, "payments expire after").unit(60000);
//     return d;
//   }
//   schema:  decl().schema()                       (a SchemaNode, defaults filled in)
//   values:  MySettings s = decl().load(host.settings());
//
// Defaults: a setting's default is the value its member has in the prototype (a
// default-constructed T unless one is given), so it is written once, next to the member.
// `.unit(k)` declares a member that holds k times the configured value (minutes in the YAML,
// milliseconds in the member): the default is the member divided by k, the range is in the
// YAML's unit. Modifiers (`range`, `oneOf`, `required`, `secret`, `strongSecret`, `unit`,
// `noDefault`) apply to the setting declared just before them.
//
// Header-only and built on the public SchemaNode / Settings API only.
// Thread-safety: build once (e.g. a function-local static); schema() and load() are const.
#pragma once

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "malipo/settings.hpp"

namespace malipo {

template <class T>
class Decl;

namespace decl_detail {

template <class M>
struct IsVector : std::false_type {};
template <class E>
struct IsVector<std::vector<E>> : std::true_type {};
template <class M>
struct IsMap : std::false_type {};
template <class E>
struct IsMap<std::map<std::string, E>> : std::true_type {};

// A member's value as the validated tree holds it (integers as Int64, divided by `unit`).
template <class M>
Poco::Dynamic::Var toVar(const M& v, std::int64_t unit) {
  if constexpr (std::is_same_v<M, std::string>) {
    return v;
  } else if constexpr (std::is_same_v<M, bool>) {
    return v;
  } else if constexpr (std::is_integral_v<M>) {
    auto n = static_cast<std::int64_t>(v);
    if (n % unit != 0)
      throw std::logic_error("settings: a default is not a whole number of its unit");
    return static_cast<Poco::Int64>(n / unit);
  } else if constexpr (std::is_floating_point_v<M>) {
    return static_cast<double>(v) / static_cast<double>(unit);
  } else if constexpr (IsVector<M>::value) {
    Poco::JSON::Array::Ptr a = new Poco::JSON::Array;
    for (const auto& e : v) a->add(toVar(e, unit));
    return a;
  } else {
    static_assert(IsMap<M>::value, "unsupported setting member type");
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    for (const auto& [k, e] : v) o->set(k, toVar(e, unit));
    return o;
  }
}

// A validated value into a member (times `unit` for numbers).
template <class M>
void fromVar(const Poco::Dynamic::Var& v, M& out, std::int64_t unit) {
  if constexpr (std::is_same_v<M, std::string>) {
    out = v.convert<std::string>();
  } else if constexpr (std::is_same_v<M, bool>) {
    out = v.convert<bool>();
  } else if constexpr (std::is_integral_v<M>) {
    out = static_cast<M>(v.convert<Poco::Int64>() * unit);
  } else if constexpr (std::is_floating_point_v<M>) {
    out = static_cast<M>(v.convert<double>() * static_cast<double>(unit));
  } else if constexpr (IsVector<M>::value) {
    out.clear();
    auto a = v.extract<Poco::JSON::Array::Ptr>();
    for (std::size_t i = 0; a && i < a->size(); ++i) {
      typename M::value_type e{};
      fromVar(a->get(static_cast<unsigned>(i)), e, unit);
      out.push_back(std::move(e));
    }
  } else {
    static_assert(IsMap<M>::value, "unsupported setting member type");
    out.clear();
    auto o = v.extract<Poco::JSON::Object::Ptr>();
    for (const auto& kv : *o) fromVar(kv.second, out[kv.first], unit);
  }
}

}  // namespace decl_detail

template <class T>
class Decl {
 public:
  explicit Decl(std::string description = {}, T prototype = T{})
      : description_(std::move(description)), prototype_(std::move(prototype)) {}

  // --- settings -----------------------------------------------------------------------
  // Each takes a member of T (or of a base class of T).

  template <class C>
  Decl& str(std::string key, std::string C::*member, std::string description) {
    return scalar(std::move(key), member, schema::str(std::move(description)));
  }
  // int, int64, size_t, … members; a double member holds the integer as configured.
  template <class C, class M>
  Decl& integer(std::string key, M C::*member, std::string description) {
    static_assert(std::is_arithmetic_v<M> && !std::is_same_v<M, bool>,
                  "integer() needs a number member");
    scalar(std::move(key), member, schema::integer(std::move(description)));
    if constexpr (std::is_floating_point_v<M>) {  // still an integer in the schema
      M T::*m = checked(member);
      fields_.back().get = [m](const T& t, std::int64_t unit) {
        return decl_detail::toVar(static_cast<std::int64_t>(t.*m), unit);
      };
    }
    return *this;
  }
  template <class C, class M>
  Decl& number(std::string key, M C::*member, std::string description) {
    static_assert(std::is_floating_point_v<M>, "number() needs a floating-point member");
    return scalar(std::move(key), member, schema::number(std::move(description)));
  }
  template <class C>
  Decl& boolean(std::string key, bool C::*member, std::string description) {
    return scalar(std::move(key), member, schema::boolean(std::move(description)));
  }
  // A list of scalars, e.g. list("currencies", &S::currencies, "…", schema::str("currency code")).
  template <class C, class E>
  Decl& list(std::string key, std::vector<E> C::*member, std::string description,
             SchemaNode element) {
    return scalar(std::move(key), member, schema::list(std::move(description), std::move(element)));
  }
  // A map name → scalar, e.g. map("limits", &S::limits, "…", schema::integer("calls").range(1,
  // 100)).
  template <class C, class E>
  Decl& map(std::string key, std::map<std::string, E> C::*member, std::string description,
            SchemaNode element) {
    return scalar(std::move(key), member, schema::map(std::move(description), std::move(element)));
  }
  // A nested mapping filling a member struct, declared in place.
  template <class C, class M, class Fields>
  Decl& object(std::string key, M C::*member, std::string description, Fields&& fields) {
    Decl<M> sub(std::move(description));
    fields(sub);
    return object(std::move(key), member, sub);
  }
  // A nested mapping filling a member struct, from a declaration written elsewhere (its
  // defaults come from this declaration's prototype).
  template <class C, class M>
  Decl& object(std::string key, M C::*member, const Decl<M>& sub) {
    M T::*m = checked(member);
    Field f;
    f.key = std::move(key);
    f.withDefault = false;
    f.nested = [sub, m](const T& proto) { return sub.withPrototype(proto.*m).schema(); };
    f.get = [sub, m](const T& t, std::int64_t) { return Poco::Dynamic::Var(sub.save(t.*m)); };
    f.set = [sub, m](T& t, const Settings& s, const std::string& k, std::int64_t) {
      sub.loadInto(t.*m, s.child(k));
    };
    return add(std::move(f));
  }
  // A mapping whose keys fill members of T itself (a YAML section without a struct of its own).
  Decl& section(std::string key, std::string description,
                const std::function<void(Decl<T>&)>& fields) {
    Decl<T> sub(std::move(description));
    fields(sub);
    Field f;
    f.key = std::move(key);
    f.withDefault = false;
    f.nested = [sub](const T& proto) { return sub.withPrototype(proto).schema(); };
    f.get = [sub](const T& t, std::int64_t) { return Poco::Dynamic::Var(sub.save(t)); };
    f.set = [sub](T& t, const Settings& s, const std::string& k, std::int64_t) {
      sub.loadInto(t, s.child(k));
    };
    return add(std::move(f));
  }
  // A list of structs, each element declared by `element` (missing keys of an element take
  // the element's defaults; the list's default is the prototype's list).
  template <class C, class E>
  Decl& list(std::string key, std::vector<E> C::*member, std::string description,
             const Decl<E>& element) {
    return collection<std::vector<E>>(std::move(key), member, std::move(description), element,
                                      SettingType::list);
  }
  // A map name → struct.
  template <class C, class E>
  Decl& map(std::string key, std::map<std::string, E> C::*member, std::string description,
            const Decl<E>& element) {
    return collection<std::map<std::string, E>>(std::move(key), member, std::move(description),
                                                element, SettingType::map);
  }
  // A key validated here but read by someone else (no member), e.g. the kernel's plugin list.
  Decl& node(std::string key, SchemaNode n) {
    Field f;
    f.key = std::move(key);
    f.node = std::move(n);
    f.withDefault = false;
    return add(std::move(f));
  }

  // --- modifiers of the setting declared last -----------------------------------------
  Decl& range(std::int64_t lo, std::int64_t hi) {
    last().node.range(lo, hi);
    return *this;
  }
  Decl& oneOf(std::vector<std::string> values) {
    last().node.oneOf(std::move(values));
    return *this;
  }
  // Must be present; no default.
  Decl& required() {
    last().node.req();
    last().withDefault = false;
    return *this;
  }
  // Not filled when absent (the member keeps its prototype value; Settings::has is false).
  Decl& noDefault() {
    last().withDefault = false;
    return *this;
  }
  Decl& secret() {
    last().node.isSecret();
    return *this;
  }
  // A file or folder: a relative value resolves against the config file's folder.
  Decl& path() {
    last().node.isPath();
    return *this;
  }
  Decl& strongSecret(bool allowEmpty = false) {
    last().node.strongSecret(allowEmpty);
    return *this;
  }
  // The member holds `factor` times the configured value (e.g. 60000 for a `*_minutes` key
  // filling a milliseconds member).
  Decl& unit(std::int64_t factor) {
    if (factor <= 0) throw std::logic_error("settings: unit must be positive");
    last().unit = factor;
    return *this;
  }

  // --- results ------------------------------------------------------------------------
  // The object schema: every key in declaration order, defaults from the prototype.
  SchemaNode schema() const {
    SchemaNode out = schema::object(description_);
    for (const auto& f : fields_) {
      SchemaNode n = f.nested ? f.nested(prototype_) : f.node;
      if (f.withDefault && f.get) {
        try {
          n.def(f.get(prototype_, f.unit));
        } catch (const std::logic_error&) {
          throw std::logic_error("settings: the default of '" + f.key +
                                 "' is not a whole number of its unit");
        }
      }
      out.field(f.key, std::move(n));
    }
    return out;
  }
  // The typed struct from a section validated against schema() (defaults already filled).
  T load(const Settings& settings) const {
    T out = prototype_;
    loadInto(out, settings);
    return out;
  }
  void loadInto(T& out, const Settings& settings) const {
    for (const auto& f : fields_)
      if (f.set && (f.nested || settings.has(f.key))) f.set(out, settings, f.key, f.unit);
  }
  // The struct as a validated section would hold it (used for defaults of lists of structs).
  Poco::JSON::Object::Ptr save(const T& value) const {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    for (const auto& f : fields_)
      if (f.get) o->set(f.key, f.get(value, f.unit));
    return o;
  }
  Decl withPrototype(T prototype) const {
    Decl d = *this;
    d.prototype_ = std::move(prototype);
    return d;
  }
  const T& prototype() const { return prototype_; }
  const std::string& description() const { return description_; }

 private:
  template <class U>
  friend class Decl;

  struct Field {
    std::string key;
    SchemaNode node;          // scalars, lists, maps: type, description, flags, range
    bool withDefault = true;  // the prototype's value becomes the schema default
    std::int64_t unit = 1;
    std::function<SchemaNode(const T&)> nested;  // nested mappings: their schema
    std::function<Poco::Dynamic::Var(const T&, std::int64_t)> get;
    std::function<void(T&, const Settings&, const std::string&, std::int64_t)> set;
  };

  template <class C, class M>
  static M T::*checked(M C::*member) {
    static_assert(std::is_base_of_v<C, T>, "the member belongs to another struct");
    return member;
  }
  Field& last() {
    if (fields_.empty()) throw std::logic_error("settings: a modifier before any setting");
    return fields_.back();
  }
  Decl& add(Field f) {
    for (const auto& g : fields_)
      if (g.key == f.key) throw std::logic_error("settings: key '" + f.key + "' declared twice");
    fields_.push_back(std::move(f));
    return *this;
  }
  template <class C, class M>
  Decl& scalar(std::string key, M C::*member, SchemaNode n) {
    M T::*m = checked(member);
    Field f;
    f.key = std::move(key);
    f.node = std::move(n);
    f.get = [m](const T& t, std::int64_t unit) { return decl_detail::toVar(t.*m, unit); };
    f.set = [m](T& t, const Settings& s, const std::string& k, std::int64_t unit) {
      decl_detail::fromVar(s.raw()->get(k), t.*m, unit);
    };
    return add(std::move(f));
  }
  template <class M, class C, class E>
  Decl& collection(std::string key, M C::*member, std::string description, const Decl<E>& element,
                   SettingType type) {
    M T::*m = checked(member);
    Field f;
    f.key = std::move(key);
    f.node = schema::make(type, std::move(description));
    f.node.element = std::make_shared<SchemaNode>(element.schema());
    f.get = [element, m](const T& t, std::int64_t) -> Poco::Dynamic::Var {
      if constexpr (decl_detail::IsVector<M>::value) {
        Poco::JSON::Array::Ptr a = new Poco::JSON::Array;
        for (const auto& e : t.*m) a->add(element.save(e));
        return a;
      } else {
        Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
        for (const auto& [k, e] : t.*m) o->set(k, element.save(e));
        return o;
      }
    };
    f.set = [element, m](T& t, const Settings& s, const std::string& k, std::int64_t) {
      (t.*m).clear();
      if constexpr (decl_detail::IsVector<M>::value) {
        for (const Settings& e : s.childList(k)) (t.*m).push_back(element.load(e));
      } else {
        Settings all = s.child(k);
        for (const auto& name : all.keys()) (t.*m)[name] = element.load(all.child(name));
      }
    };
    return add(std::move(f));
  }

  std::string description_;
  T prototype_;
  std::vector<Field> fields_;
};

}  // namespace malipo
