// Writing a plugin: one entry macro, explicit registration, a build fingerprint.
//
//   static malipo::SchemaNode mySchema() { return malipo::schema::object("…").field(…); }
//   static void myRegister(malipo::Registrar& r) {
//     r.addComponent(std::make_shared<MyThing>(r.host()));
//   }
//   MALIPO_PLUGIN("myname", "1.0.0", mySchema, myRegister)
//
// MALIPO_PLUGIN generates the only exported symbol, `malipo_plugin_v1`, returning a static
// descriptor. The loader compares the descriptor's SPI version and build fingerprint with
// its own and refuses a mismatch (Boost.DLL promises no ABI stability, so the comparison is
// exact). Build plugins with hidden visibility (cmake: malipo_add_plugin does).
//
// Ownership and lifetime: objects a plugin registers are owned by the kernel through
// shared_ptr and destroyed at shutdown after HTTP stopped and the job queue drained; the
// library itself stays loaded until the process ends, so code, vtables and std::function
// targets created by the plugin stay valid as long as anything may call them.
// Threading: the register function and Component::start/stop run on the main thread.
#pragma once

#include <boost/version.hpp>
#include <Poco/Version.h>

#include <memory>
#include <string>
#include <vector>

#include "malipo/db.hpp"
#include "malipo/host.hpp"
#include "malipo/settings.hpp"
#include "malipo/spi_hash.hpp"  // generated: MALIPO_SPI_HASH, a hash of every SPI header

#define MALIPO_SPI_VERSION 1

#define MALIPO_STR2(x) #x
#define MALIPO_STR(x) MALIPO_STR2(x)

#ifndef MALIPO_SPI_HASH_FOR_FINGERPRINT
#define MALIPO_SPI_HASH_FOR_FINGERPRINT MALIPO_SPI_HASH
#endif

#if defined(__clang__)
#define MALIPO_COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define MALIPO_COMPILER "gcc " __VERSION__
#else
#define MALIPO_COMPILER "unknown"
#endif

#if defined(__GLIBCXX__)
#define MALIPO_STDLIB "libstdc++ " MALIPO_STR(__GLIBCXX__) " cxx11abi=" MALIPO_STR(_GLIBCXX_USE_CXX11_ABI)
#else
#define MALIPO_STDLIB "other"
#endif

// Compiler and version; standard library and ABI; Poco and Boost versions; SPI header hash.
#define MALIPO_BUILD_FINGERPRINT                                                       \
  MALIPO_COMPILER "; " MALIPO_STDLIB "; poco " MALIPO_STR(POCO_VERSION) "; boost " \
      MALIPO_STR(BOOST_VERSION) "; spi " MALIPO_SPI_HASH_FOR_FINGERPRINT

namespace malipo {

class PaymentProvider;  // provider.hpp
class Product;          // product.hpp

// Anything a plugin adds that has a schema, a start and a stop.
class Component {
 public:
  virtual ~Component() = default;
  virtual std::vector<Migration> migrations() const { return {}; }
  // After migrations ran: add routes, job handlers, periodic jobs. May throw: start-up stops
  // with the plugin's name and the message.
  virtual void start() {}
  // At shutdown, after HTTP stopped and the job queue drained, before destruction.
  virtual void stop() {}
};

class Registrar {
 public:
  virtual ~Registrar() = default;
  virtual Host& host() = 0;
  virtual void addComponent(std::shared_ptr<Component> component) = 0;
  // Registered under the plugin's name (one provider per plugin).
  virtual void addProvider(std::shared_ptr<PaymentProvider> provider) = 0;
  virtual void addProduct(std::shared_ptr<Product> product) = 0;
};

constexpr unsigned kDescriptorMagic = 0x4d4c5031;  // "MLP1"

struct PluginDescriptor {
  unsigned magic;
  const char* name;
  const char* version;
  int spiVersion;
  const char* fingerprint;
  SchemaNode (*settingsSchema)();
  void (*registerPlugin)(Registrar&);
};

inline const char* kernelFingerprint() { return MALIPO_BUILD_FINGERPRINT; }

}  // namespace malipo

#define MALIPO_PLUGIN_ENTRY_SYMBOL "malipo_plugin_v1"

#define MALIPO_PLUGIN(NAME, VERSION, SCHEMA_FN, REGISTER_FN)                                \
  extern "C" __attribute__((visibility("default"))) const ::malipo::PluginDescriptor*        \
  malipo_plugin_v1() {                                                                       \
    static const ::malipo::PluginDescriptor descriptor{                                      \
        ::malipo::kDescriptorMagic, NAME,        VERSION,    MALIPO_SPI_VERSION,             \
        MALIPO_BUILD_FINGERPRINT,   &SCHEMA_FN, &REGISTER_FN};                               \
    return &descriptor;                                                                      \
  }
