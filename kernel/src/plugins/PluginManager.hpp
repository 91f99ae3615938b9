// Loads plugin libraries with Boost.DLL through the plugin ABI (malipo/abi.h): checks each
// file's version note before loading it, validates its settings against the schema it
// declares, calls its register hook and owns what it registers.
//
// Libraries are never unloaded: their handles are leaked on purpose so that no code,
// vtable or std::function a plugin created can outlive its library.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/ConfigLoader.hpp"
#include "malipo/component.hpp"
#include "malipo/product.hpp"
#include "malipo/provider.hpp"
#include "plugins/Abi.hpp"
#include "plugins/ElfNote.hpp"

namespace malipo {

class PluginError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct KernelServices;  // app/Kernel.hpp

struct LoadedPlugin {
  PluginConfig config;
  PluginNote note;  // name, version and SDK version, from the file
  std::unique_ptr<mlp_plugin> abi;
  SchemaNode schema;
  Settings settings;
  mlp_host* host = nullptr;  // lives as long as the process (the plugin keeps it)
  std::vector<std::shared_ptr<Component>> components;
  std::vector<std::shared_ptr<PaymentProvider>> providers;
  std::vector<std::shared_ptr<Product>> products;

  const std::string& version() const { return note.version; }
  std::string sdkVersion() const {
    return std::to_string(note.sdkMajor) + "." + std::to_string(note.sdkMinor);
  }
};

class PluginManager {
 public:
  // Opens every enabled plugin of `config` and checks it; throws PluginError with one line.
  void load(const Config& config);
  // Lends each plugin its host handle and calls its register hook.
  void registerAll(KernelServices& services);
  void startAll();
  void stopAll();
  // Destroys every object plugins registered (libraries stay loaded).
  void destroyAll();

  std::vector<LoadedPlugin>& plugins() { return plugins_; }
  static std::string describeError(const LoadedPlugin& p, const std::string& what);

 private:
  std::vector<LoadedPlugin> plugins_;
};

}  // namespace malipo
