// Writing a plugin: the entry header. Include it in the one source file that says
// MALIPO_PLUGIN; other files include what they use (component.hpp, provider.hpp, product.hpp).
//
//   static malipo::SchemaNode mySchema() { return malipo::schema::object("…").field(…); }
//   static void myRegister(malipo::Registrar& r) {
//     r.addProvider(std::make_shared<MyProvider>(r.host()));
//   }
//   MALIPO_PLUGIN("myname", "1.0.0", mySchema, myRegister)
//
// MALIPO_PLUGIN writes two things into the library:
// - the version note (section .note.malipo): the plugin's name and version and the SDK version
//   it was built against, MALIPO_SDK_MAJOR.MALIPO_SDK_MINOR of malipo/abi.h. The kernel reads
//   it from the file before loading it and refuses a plugin that needs a newer minor version
//   or another major version, before any of the plugin's code runs;
// - the one exported function, malipo_plugin_init_v1, which hands the kernel the settings
//   schema and, later, calls the register function with a Registrar.
// Everything else the SDK compiles into the plugin (malipo/sdk/bridge.hpp) has hidden
// visibility: build plugins with malipo_add_plugin (CMake) or -fvisibility=hidden.
//
// Ownership, lifetime and threading: see component.hpp and malipo/abi.h.
#pragma once

#include <cstdint>

#include "malipo/abi.h"
#include "malipo/component.hpp"
#include "malipo/product.hpp"
#include "malipo/provider.hpp"
#include "malipo/sdk/bridge.hpp"

// The SDK version this plugin asks for (tests of the version check override them).
#ifndef MALIPO_NOTE_SDK_MAJOR
#define MALIPO_NOTE_SDK_MAJOR MALIPO_SDK_MAJOR
#endif
#ifndef MALIPO_NOTE_SDK_MINOR
#define MALIPO_NOTE_SDK_MINOR MALIPO_SDK_MINOR
#endif

// The version note alone (MALIPO_PLUGIN writes it; a plugin without the C++ SDK writes its own).
#define MALIPO_PLUGIN_NOTE(NAME, VERSION)                                                          \
  extern "C" {                                                                                     \
  __attribute__((used, section(".note.malipo"), aligned(4))) const mlp_note malipo_plugin_note = { \
      sizeof(MLP_NOTE_NAME), sizeof(mlp_note) - 20, MLP_NOTE_TYPE, MLP_NOTE_NAME,                  \
      MALIPO_NOTE_SDK_MAJOR, MALIPO_NOTE_SDK_MINOR, NAME,          VERSION};                       \
  }

#define MALIPO_PLUGIN(NAME, VERSION, SCHEMA_FN, REGISTER_FN)                              \
  MALIPO_PLUGIN_NOTE(NAME, VERSION)                                                       \
  extern "C" __attribute__((visibility("default"))) std::int32_t malipo_plugin_init_v1(   \
      const mlp_api_v1* api, mlp_plugin* plugin) {                                        \
    return ::malipo::sdk::init(api, plugin, MALIPO_NOTE_SDK_MAJOR, MALIPO_NOTE_SDK_MINOR, \
                               &SCHEMA_FN, &REGISTER_FN);                                 \
  }
