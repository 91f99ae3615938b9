#include "plugins/PluginManager.hpp"

#include <Poco/JSON/Stringifier.h>

#include <boost/dll/shared_library.hpp>
#include <boost/system/system_error.hpp>
#include <sstream>

#include "plugins/KernelServices.hpp"

namespace malipo {

using abi::Owned;

namespace {

// Handles leaked on purpose: libraries stay loaded until the process ends.
std::vector<boost::dll::shared_library>& libraries() {
  static auto* libs = new std::vector<boost::dll::shared_library>;
  return *libs;
}

std::string jsonText(const Settings& s) {
  std::ostringstream os;
  Poco::JSON::Stringifier::condense(s.raw(), os);
  return os.str();
}

}  // namespace

std::string PluginManager::describeError(const LoadedPlugin& p, const std::string& what) {
  return "plugin '" + p.config.name + "' (" + p.config.library + "): " + what;
}

void PluginManager::load(const Config& config) {
  for (const PluginConfig& pc : config.plugins) {
    LoadedPlugin p;
    p.config = pc;
    for (const auto& other : plugins_)
      if (other.config.name == pc.name)
        throw PluginError(describeError(p, "duplicate plugin name"));
    // The version note first: nothing of a plugin runs (not even its static constructors)
    // before its SDK version is known to be one this kernel offers.
    std::optional<PluginNote> note;
    try {
      note = readPluginNote(pc.library);
    } catch (const std::exception& e) {
      throw PluginError(describeError(p, std::string("cannot load library: ") + e.what()));
    }
    if (!note)
      throw PluginError(describeError(
          p, "no Malipo version note (not a Malipo plugin, or built without MALIPO_PLUGIN)"));
    if (note->sdkMajor != MALIPO_SDK_MAJOR || note->sdkMinor > MALIPO_SDK_MINOR)
      throw PluginError(describeError(
          p, "built for SDK " + std::to_string(note->sdkMajor) + "." +
                 std::to_string(note->sdkMinor) + ", this kernel offers SDK " + kernelSdkVersion() +
                 " (it loads plugins built for " + std::to_string(MALIPO_SDK_MAJOR) + ".0 to " +
                 kernelSdkVersion() + ")"));
    if (pc.name != note->name)
      throw PluginError(describeError(p, "the library declares the name '" + note->name + "'"));
    p.note = *note;
    boost::dll::shared_library lib;
    try {
      lib.load(pc.library, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    } catch (const boost::system::system_error& e) {
      throw PluginError(describeError(p, std::string("cannot load library: ") + e.what()));
    }
    libraries().push_back(lib);
    if (!lib.has(MALIPO_PLUGIN_INIT_SYMBOL))
      throw PluginError(describeError(
          p, "no entry symbol '" MALIPO_PLUGIN_INIT_SYMBOL "' (built without MALIPO_PLUGIN)"));
    auto init = lib.get<std::int32_t(const mlp_api_v1*, mlp_plugin*)>(MALIPO_PLUGIN_INIT_SYMBOL);
    p.abi = std::make_unique<mlp_plugin>();
    std::int32_t rc = init(&kernelApi(), p.abi.get());
    if (rc != MLP_OK)
      throw PluginError(describeError(
          p,
          "init failed: " +
              abi::getError(abi::In(kernelApi(), &p.abi->schema), rc, "the entry point").internal));
    if (!p.abi->registerFn) throw PluginError(describeError(p, "init failed: no register hook"));
    try {
      p.schema = abi::getSchema(abi::In(kernelApi(), &p.abi->schema));
      p.settings = ConfigLoader::validate(pc.settings, p.schema,
                                          "plugins[" + pc.name + "].settings", config.file);
      ConfigLoader::checkSecrets(p.settings, p.schema, config.root.getBool("sandbox"), config.file);
    } catch (const ConfigError& e) {
      throw PluginError(describeError(p, std::string("settings: ") + e.what()));
    } catch (const std::exception& e) {
      throw PluginError(describeError(p, std::string("settings schema: ") + e.what()));
    }
    plugins_.push_back(std::move(p));
  }
}

void PluginManager::registerAll(KernelServices& services) {
  for (LoadedPlugin& p : plugins_) {
    auto* h = new mlp_host;  // never freed: the plugin keeps it as long as the process lives
    h->k = &services;
    h->name = p.config.name;
    h->settingsJson = jsonText(p.settings);
    h->sandbox = services.sandbox;
    h->brandName = services.brand.name;
    h->brandPhone = services.brand.supportPhone;
    h->brandEmail = services.brand.supportEmail;
    h->kernelVersion = kernelSdkVersion();
    p.host = h;
    h->plugin = &p;
    Owned err(kernelApi());
    std::int32_t rc = p.abi->registerFn(p.abi->registerSelf, h, err.get());
    h->plugin = nullptr;
    if (rc != MLP_OK)
      throw PluginError(
          describeError(p, "init failed: " + abi::getError(err.in(), rc, "register").internal));
  }
}

void PluginManager::startAll() {
  for (LoadedPlugin& p : plugins_) {
    for (auto& c : p.components) {
      try {
        c->start();
      } catch (const std::exception& e) {
        throw PluginError(describeError(p, std::string("start failed: ") + e.what()));
      }
    }
  }
}

void PluginManager::stopAll() {
  for (auto it = plugins_.rbegin(); it != plugins_.rend(); ++it) {
    for (auto& c : it->components) {
      try {
        c->stop();
      } catch (...) {
        // Shutdown goes on; the plugin's own log says why.
      }
    }
  }
}

void PluginManager::destroyAll() {
  for (auto it = plugins_.rbegin(); it != plugins_.rend(); ++it) {
    it->products.clear();
    it->providers.clear();
    it->components.clear();
  }
}

}  // namespace malipo
