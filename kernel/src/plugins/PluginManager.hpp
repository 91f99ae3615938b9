// Loads plugin libraries with Boost.DLL, checks their descriptors, validates their settings,
// calls their register functions and owns what they register.
//
// Libraries are never unloaded: their handles are leaked on purpose so that no code,
// vtable or std::function a plugin created can outlive its library.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/ConfigLoader.hpp"
#include "malipo/plugin.hpp"

namespace malipo {

class PluginError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct KernelServices;  // app/Kernel.hpp

struct LoadedPlugin {
  PluginConfig config;
  const PluginDescriptor* descriptor = nullptr;
  SchemaNode schema;
  Settings settings;
  std::unique_ptr<Host> host;
  std::vector<std::shared_ptr<Component>> components;
  std::vector<std::shared_ptr<PaymentProvider>> providers;
  std::vector<std::shared_ptr<Product>> products;
};

class PluginManager {
 public:
  // Opens every enabled plugin of `config` and checks it; throws PluginError with one line.
  void load(const Config& config);
  // Builds a Host for each plugin and calls its register function.
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
