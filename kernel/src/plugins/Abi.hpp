// The kernel's side of the plugin ABI (malipo/abi.h): the function table it offers, the
// handles it lends, and the kernel objects that stand for what a plugin registered.
//
// Every host function catches everything: no exception crosses into a plugin. Every hook
// call checks the code it gets back: only MLP_OK is success, and a plugin's failure becomes a
// Result error, a retried job or a 500 answer, never a crash of the kernel.
#pragma once

#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "malipo/abi.h"
#include "malipo/component.hpp"
#include "malipo/product.hpp"
#include "malipo/provider.hpp"
#include "malipo/sdk/records.hpp"

namespace malipo {
struct KernelServices;
struct LoadedPlugin;
}  // namespace malipo

// A record: per key a string, an integer, a string list or a list of child records. Strings
// are owned, or (the kernel's fast path for requests) borrowed from a kernel object that
// outlives the hook call the record is made for.
struct mlp_rec {
  enum class Kind : std::uint8_t { str, i64, strs, recs };
  struct Field {
    std::uint32_t key;
    Kind kind;
    std::int64_t i = 0;
    std::string s;
    bool borrowed = false;
    std::string_view view;  // when borrowed
    std::vector<std::string> list;
    std::vector<std::string_view> views;  // a borrowed list
    std::vector<std::unique_ptr<mlp_rec>> children;

    std::string_view str() const { return borrowed ? view : std::string_view(s); }
    std::size_t strCount() const { return views.empty() ? list.size() : views.size(); }
    std::string_view strAt(std::size_t n) const {
      return views.empty() ? std::string_view(list[n]) : views[n];
    }
  };
  std::vector<Field> fields;

  const Field* find(std::uint32_t key) const {
    for (const auto& f : fields)
      if (f.key == key) return &f;
    return nullptr;
  }
  Field& slot(std::uint32_t key, Kind kind) {
    for (auto& f : fields)
      if (f.key == key) {
        if (f.kind != kind) {
          f = Field{key, kind};
        }
        return f;
      }
    fields.push_back(Field{key, kind});
    return fields.back();
  }
  // Borrowed values: `v` must outlive every read of this record.
  void borrow(std::uint32_t key, std::string_view v) {
    Field& f = slot(key, Kind::str);
    f.borrowed = true;
    f.view = v;
  }
  template <class Map>
  void borrowPairs(std::uint32_t key, const Map& m) {
    if (m.empty()) return;
    Field& f = slot(key, Kind::strs);
    f.list.clear();
    f.views.reserve(m.size() * 2);
    for (const auto& [name, value] : m) {
      f.views.emplace_back(name);
      f.views.emplace_back(value);
    }
  }
};

// A transaction lent to a plugin callback. `failure` keeps the kernel's own exception when
// a statement failed, so a transaction the plugin gives up on is retried by the store when
// that failure is retryable (serialization, busy).
struct mlp_tx {
  malipo::Tx* tx;
  std::exception_ptr failure;
};

// One per loaded plugin, for its whole life (never freed: the plugin keeps the pointer).
struct mlp_host {
  malipo::KernelServices* k = nullptr;
  malipo::LoadedPlugin* plugin = nullptr;  // set while its register hook runs
  std::string name, settingsJson, brandName, brandPhone, brandEmail, kernelVersion;
  bool sandbox = false;
};

// The loading phase: what malipo_plugin_init_v1 left with the loader.
struct mlp_plugin {
  mlp_rec schema;
  mlp_register_fn registerFn = nullptr;
  void* registerSelf = nullptr;
};

// What a plugin registered: its `self`, its hooks and flags. Releases `self` when the last
// kernel object holding it goes.
struct mlp_object {
  std::int32_t kind = 0;
  std::string name;
  void* self = nullptr;
  mlp_release_fn release = nullptr;
  mlp_host* host = nullptr;
  std::map<std::uint32_t, mlp_hook_fn> hooks;
  bool deliversInTx = false;
  ~mlp_object() {
    if (release) release(self);
  }
};

namespace malipo {

const mlp_api_v1& kernelApi();

// The version of the SDK this kernel offers, "1.0".
std::string kernelSdkVersion();

}  // namespace malipo
