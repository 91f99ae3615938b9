#include "plugins/PluginManager.hpp"

#include <boost/dll/shared_library.hpp>
#include <boost/system/system_error.hpp>

#include "malipo/product.hpp"
#include "malipo/provider.hpp"
#include "plugins/HostImpl.hpp"

namespace malipo {

Payments& HostImpl::payments() {
  if (!k_.payments) throw std::logic_error("the payments service is not available in this process");
  return *k_.payments;
}

namespace {

// Handles leaked on purpose: libraries stay loaded until the process ends.
std::vector<boost::dll::shared_library>& libraries() {
  static auto* libs = new std::vector<boost::dll::shared_library>;
  return *libs;
}

class RegistrarImpl final : public Registrar {
 public:
  explicit RegistrarImpl(LoadedPlugin& p) : p_(p) {}
  Host& host() override { return *p_.host; }
  void addComponent(std::shared_ptr<Component> c) override {
    if (c) p_.components.push_back(std::move(c));
  }
  void addProvider(std::shared_ptr<PaymentProvider> provider) override {
    if (!provider) return;
    if (provider->name() != p_.config.name)
      throw std::logic_error("the provider is named '" + provider->name() + "' but the plugin '" + p_.config.name + "'");
    p_.components.push_back(provider);
    p_.providers.push_back(std::move(provider));
  }
  void addProduct(std::shared_ptr<Product> product) override {
    if (!product) return;
    p_.components.push_back(product);
    p_.products.push_back(std::move(product));
  }

 private:
  LoadedPlugin& p_;
};

}  // namespace

std::string PluginManager::describeError(const LoadedPlugin& p, const std::string& what) {
  return "plugin '" + p.config.name + "' (" + p.config.library + "): " + what;
}

void PluginManager::load(const Config& config) {
  for (const PluginConfig& pc : config.plugins) {
    LoadedPlugin p;
    p.config = pc;
    for (const auto& other : plugins_)
      if (other.config.name == pc.name) throw PluginError(describeError(p, "duplicate plugin name"));
    boost::dll::shared_library lib;
    try {
      lib.load(pc.library, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    } catch (const boost::system::system_error& e) {
      throw PluginError(describeError(p, std::string("cannot load library: ") + e.what()));
    }
    if (!lib.has(MALIPO_PLUGIN_ENTRY_SYMBOL)) {
      libraries().push_back(std::move(lib));
      throw PluginError(describeError(p, "no entry symbol '" MALIPO_PLUGIN_ENTRY_SYMBOL
                                         "' (not a Malipo plugin, or built without MALIPO_PLUGIN)"));
    }
    auto entry = lib.get<const PluginDescriptor*()>(MALIPO_PLUGIN_ENTRY_SYMBOL);
    libraries().push_back(lib);
    const PluginDescriptor* d = nullptr;
    try {
      d = entry();
    } catch (...) {
      throw PluginError(describeError(p, "entry symbol threw"));
    }
    if (!d || d->magic != kDescriptorMagic) throw PluginError(describeError(p, "entry symbol returned no valid descriptor"));
    if (d->spiVersion != MALIPO_SPI_VERSION)
      throw PluginError(describeError(p, "SPI version mismatch: got " + std::to_string(d->spiVersion) + ", expected " +
                                             std::to_string(MALIPO_SPI_VERSION)));
    if (std::string(d->fingerprint) != kernelFingerprint())
      throw PluginError(describeError(p, std::string("build fingerprint mismatch: got '") + d->fingerprint +
                                             "', expected '" + kernelFingerprint() + "'"));
    if (pc.name != d->name)
      throw PluginError(describeError(p, std::string("the library declares the name '") + d->name + "'"));
    p.descriptor = d;
    try {
      p.schema = d->settingsSchema();
      p.settings = ConfigLoader::validate(pc.settings, p.schema, "plugins[" + pc.name + "].settings", config.file);
      ConfigLoader::checkSecrets(p.settings, p.schema, config.root.getBool("sandbox"), config.file);
    } catch (const ConfigError& e) {
      throw PluginError(describeError(p, std::string("settings: ") + e.what()));
    } catch (const std::exception& e) {
      throw PluginError(describeError(p, std::string("settings schema threw: ") + e.what()));
    }
    plugins_.push_back(std::move(p));
  }
}

void PluginManager::registerAll(KernelServices& services) {
  for (LoadedPlugin& p : plugins_) {
    p.host = std::make_unique<HostImpl>(services, p.config.name, p.settings);
    RegistrarImpl registrar(p);
    try {
      p.descriptor->registerPlugin(registrar);
    } catch (const std::exception& e) {
      throw PluginError(describeError(p, std::string("init failed: ") + e.what()));
    } catch (...) {
      throw PluginError(describeError(p, "init failed: non-standard exception"));
    }
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
