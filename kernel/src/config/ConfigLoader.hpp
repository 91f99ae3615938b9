// Loads the YAML config: ${VAR} / ${VAR:-default} substitution in scalars, validation
// against a SchemaNode, defaults filled in. Errors name the file, line and key path.
#pragma once

#include <yaml-cpp/yaml.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "malipo/settings.hpp"

namespace malipo {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct PluginConfig {
  std::string name;
  std::string library;
  bool enabled = true;
  YAML::Node settings;  // validated later against the plugin's own schema
  int line = 0;
};

struct Config {
  std::string file;
  Settings root;  // everything but plugins[].settings, validated, defaults filled
  std::vector<PluginConfig> plugins;
};

class ConfigLoader {
 public:
  static SchemaNode kernelSchema();
  static Config loadFile(const std::string& path);
  static Config loadString(const std::string& yaml, const std::string& name);
  // Validates `node` (may be undefined: all defaults) against `schema`; `path` names it in
  // errors ("plugins[0].settings").
  static Settings validate(const YAML::Node& node, const SchemaNode& schema,
                           const std::string& path, const std::string& file);
  // The one rule for paths in a config: a relative `value` resolves against the folder of
  // the config file `file` (unchanged when absolute, empty, or `file` names no folder).
  // Applied to plugins[].library, a sqlite: database.url and every setting marked isPath().
  static std::string resolvePath(const std::string& value, const std::string& file);
  // Substitutes ${VAR} and ${VAR:-default}; throws ConfigError for an unset ${VAR}.
  static std::string substitute(const std::string& value);
  // Outside sandbox, throws ConfigError for a `strongSecret()` field of `schema` that is
  // empty (unless allowed), shorter than kMinSecretBytes or a published placeholder; the
  // message names the key and never the value.
  static void checkSecrets(const Settings& settings, const SchemaNode& schema, bool sandbox,
                           const std::string& file);
  // The validated tree as text with secrets masked, for check-config.
  static std::string describe(const Settings& settings, const SchemaNode& schema, int indent = 0);
};

}  // namespace malipo
