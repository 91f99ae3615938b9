#include "config/ConfigLoader.hpp"

#include <Poco/JSON/Array.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "config/KernelSettings.hpp"

namespace malipo {

namespace {

std::string where(const std::string& file, const YAML::Node& node) {
  std::string out = file;
  if (node.IsDefined() && node.Mark().line >= 0) out += ":" + std::to_string(node.Mark().line + 1);
  return out;
}

[[noreturn]] void fail(const std::string& file, const YAML::Node& node, const std::string& path,
                       const std::string& what) {
  throw ConfigError(where(file, node) + ": " + (path.empty() ? "(root)" : path) + ": " + what);
}

const char* typeName(SettingType t) {
  switch (t) {
    case SettingType::string:
      return "a string";
    case SettingType::integer:
      return "an integer";
    case SettingType::number:
      return "a number";
    case SettingType::boolean:
      return "a boolean (true/false)";
    case SettingType::list:
      return "a list";
    case SettingType::object:
      return "a mapping";
    case SettingType::map:
      return "a mapping";
  }
  return "?";
}

Poco::Dynamic::Var convert(const YAML::Node& node, const SchemaNode& schema,
                           const std::string& path, const std::string& file);

Poco::Dynamic::Var convertScalar(const YAML::Node& node, const SchemaNode& schema,
                                 const std::string& path, const std::string& file) {
  if (!node.IsScalar()) fail(file, node, path, std::string("expected ") + typeName(schema.type));
  std::string text;
  try {
    text = ConfigLoader::substitute(node.Scalar());
  } catch (const ConfigError& e) {
    fail(file, node, path, e.what());
  }
  switch (schema.type) {
    case SettingType::string: {
      if (!schema.allowed.empty()) {
        bool found = false;
        std::string list;
        for (const auto& a : schema.allowed) {
          found = found || a == text;
          list += (list.empty() ? "" : ", ") + a;
        }
        if (!found) fail(file, node, path, "'" + text + "' is not one of: " + list);
      }
      return text;
    }
    case SettingType::integer: {
      std::size_t pos = 0;
      long long v = 0;
      try {
        v = std::stoll(text, &pos, 10);
      } catch (...) {
        pos = 0;
      }
      if (text.empty() || pos != text.size())
        fail(file, node, path, "expected an integer, got '" + text + "'");
      if (v < schema.min || v > schema.max)
        fail(
            file, node, path,
            "must be between " + std::to_string(schema.min) + " and " + std::to_string(schema.max));
      return static_cast<Poco::Int64>(v);
    }
    case SettingType::number: {
      std::size_t pos = 0;
      double v = 0;
      try {
        v = std::stod(text, &pos);
      } catch (...) {
        pos = 0;
      }
      if (text.empty() || pos != text.size())
        fail(file, node, path, "expected a number, got '" + text + "'");
      return v;
    }
    case SettingType::boolean: {
      if (text == "true" || text == "yes" || text == "on") return true;
      if (text == "false" || text == "no" || text == "off") return false;
      fail(file, node, path, "expected true or false, got '" + text + "'");
    }
    default:
      break;
  }
  fail(file, node, path, "internal: not a scalar type");
}

Poco::Dynamic::Var convert(const YAML::Node& node, const SchemaNode& schema,
                           const std::string& path, const std::string& file) {
  switch (schema.type) {
    case SettingType::object: {
      Poco::JSON::Object::Ptr obj = new Poco::JSON::Object;
      if (node.IsDefined() && !node.IsNull() && !node.IsMap())
        fail(file, node, path, "expected a mapping");
      std::set<std::string> known;
      for (const auto& [key, child] : schema.fields) {
        known.insert(key);
        if (child.passthrough) continue;
        std::string childPath = path.empty() ? key : path + "." + key;
        YAML::Node value = (node.IsDefined() && node.IsMap()) ? node[key] : YAML::Node();
        if (!value.IsDefined() || value.IsNull()) {
          if (child.required)
            fail(file, node, childPath, "is required (" + child.description + ")");
          if (child.hasDefault) {
            // A path default resolves like a written value.
            Poco::Dynamic::Var v = child.defaultValue;
            if (child.path) v = ConfigLoader::resolvePath(v.toString(), file);
            obj->set(key, v);
          } else if (child.type == SettingType::object) {
            obj->set(key, convert(YAML::Node(), child, childPath, file));
          }
          continue;
        }
        obj->set(key, convert(value, child, childPath, file));
      }
      if (node.IsDefined() && node.IsMap()) {
        for (const auto& kv : node) {
          std::string key = kv.first.as<std::string>();
          if (!known.count(key)) {
            std::string list;
            for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
            fail(file, kv.first, path.empty() ? key : path + "." + key,
                 "unknown key (known: " + list + ")");
          }
        }
      }
      return obj;
    }
    case SettingType::map: {
      Poco::JSON::Object::Ptr obj = new Poco::JSON::Object;
      if (!node.IsMap()) fail(file, node, path, "expected a mapping");
      for (const auto& kv : node) {
        std::string key = kv.first.as<std::string>();
        obj->set(key, convert(kv.second, *schema.element, path + "." + key, file));
      }
      return obj;
    }
    case SettingType::list: {
      Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
      if (!node.IsSequence()) fail(file, node, path, "expected a list");
      for (std::size_t i = 0; i < node.size(); ++i)
        arr->add(convert(node[i], *schema.element, path + "[" + std::to_string(i) + "]", file));
      return arr;
    }
    default: {
      Poco::Dynamic::Var v = convertScalar(node, schema, path, file);
      if (schema.path && schema.type == SettingType::string)
        return ConfigLoader::resolvePath(v.toString(), file);
      return v;
    }
  }
}

}  // namespace

std::string ConfigLoader::resolvePath(const std::string& value, const std::string& file) {
  std::filesystem::path p(value), dir = std::filesystem::path(file).parent_path();
  if (value.empty() || p.is_absolute() || dir.empty()) return value;
  return (dir / p).lexically_normal().string();
}

std::string ConfigLoader::substitute(const std::string& value) {
  std::string out;
  std::size_t i = 0;
  while (i < value.size()) {
    if (value[i] == '$' && i + 1 < value.size() && value[i + 1] == '{') {
      std::size_t end = value.find('}', i + 2);
      if (end == std::string::npos) throw ConfigError("unterminated ${ in value");
      std::string expr = value.substr(i + 2, end - i - 2);
      std::string name = expr, dflt;
      bool hasDefault = false;
      std::size_t sep = expr.find(":-");
      if (sep != std::string::npos) {
        name = expr.substr(0, sep);
        dflt = expr.substr(sep + 2);
        hasDefault = true;
      }
      const char* env = std::getenv(name.c_str());
      if (env && *env) {
        out += env;
      } else if (hasDefault) {
        out += dflt;
      } else {
        throw ConfigError("environment variable " + name + " is not set (use ${" + name +
                          ":-default} for a default)");
      }
      i = end + 1;
    } else {
      out += value[i++];
    }
  }
  return out;
}

SchemaNode ConfigLoader::kernelSchema() {
  return KernelSettings::decl().schema();
}

Settings ConfigLoader::validate(const YAML::Node& node, const SchemaNode& schema,
                                const std::string& path, const std::string& file) {
  Poco::Dynamic::Var v = convert(node, schema, path, file);
  return Settings(v.extract<Poco::JSON::Object::Ptr>(), path);
}

Config ConfigLoader::loadString(const std::string& yaml, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    throw ConfigError(name + ":" + std::to_string(e.mark.line + 1) +
                      ": YAML syntax error: " + e.msg);
  }
  if (root.IsNull() || !root.IsDefined()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) throw ConfigError(name + ": the top level must be a mapping");

  // plugins[].settings are passed through: each plugin's schema validates its own.
  Config cfg;
  cfg.file = name;
  cfg.root = validate(root, kernelSchema(), "", name);
  auto database = cfg.root.raw()->getObject("database");
  std::string url = database->getValue<std::string>("url");
  if (url.rfind("sqlite:", 0) == 0 && url.size() > 7 && url[7] != ':')  // not sqlite::memory:
    database->set("url", "sqlite:" + resolvePath(url.substr(7), name));
  if (root["plugins"] && root["plugins"].IsSequence()) {
    std::map<std::string, int> names;
    for (std::size_t i = 0; i < root["plugins"].size(); ++i) {
      YAML::Node p = root["plugins"][i];
      PluginConfig pc;
      pc.name = substitute(p["name"].as<std::string>());
      pc.library = resolvePath(substitute(p["library"].as<std::string>()), name);
      auto entry = cfg.root.raw()->getArray("plugins")->getObject(static_cast<unsigned>(i));
      entry->set("library", pc.library);  // check-config shows the resolved path
      pc.enabled = entry->getValue<bool>("enabled");
      pc.settings = p["settings"];
      pc.line = p.Mark().line + 1;
      if (names.count(pc.name))
        fail(name, p, "plugins[" + std::to_string(i) + "].name",
             "duplicate plugin name '" + pc.name + "' (" + pc.library + "; first at line " +
                 std::to_string(names[pc.name]) + ")");
      names[pc.name] = pc.line;
      if (pc.enabled) cfg.plugins.push_back(pc);
    }
  }
  return cfg;
}

Config ConfigLoader::loadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot read the config file");
  std::stringstream ss;
  ss << in.rdbuf();
  return loadString(ss.str(), path);
}

void ConfigLoader::checkSecrets(const Settings& settings, const SchemaNode& schema, bool sandbox,
                                const std::string& file) {
  if (sandbox) return;
  auto obj = settings.raw();
  std::string prefix = settings.path();
  if (!prefix.empty() && prefix[0] == '.') prefix.erase(0, 1);  // the root's children: ".auth"
  for (const auto& [key, child] : schema.fields) {
    std::string path = prefix.empty() ? key : prefix + "." + key;
    if (child.type == SettingType::object) {
      if (obj->has(key)) checkSecrets(settings.child(key), child, sandbox, file);
      continue;
    }
    if (!child.strong) continue;
    std::string value = settings.getString(key);
    std::string lower = value;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string why;
    if (value.empty()) {
      if (child.emptyAllowed) continue;
      why = "is empty";
    } else if (lower.find("change-me") != std::string::npos ||
               lower.find("changeme") != std::string::npos ||
               lower.find("sandbox") != std::string::npos) {
      why = "is a published placeholder";
    } else if (value.size() < kMinSecretBytes) {
      why = "is shorter than " + std::to_string(kMinSecretBytes) + " bytes";
    }
    if (!why.empty())
      throw ConfigError(file + ": " + path + ": " + why +
                        "; outside sandbox set a random secret of at least " +
                        std::to_string(kMinSecretBytes) + " bytes (e.g. `openssl rand -hex 32`)");
  }
}

std::string ConfigLoader::describe(const Settings& settings, const SchemaNode& schema, int indent) {
  std::ostringstream out;
  std::string pad(static_cast<std::size_t>(indent), ' ');
  auto obj = settings.raw();
  for (const auto& [key, child] : schema.fields) {
    if (!obj->has(key)) continue;
    if (child.type == SettingType::object) {
      out << pad << key << ":\n" << describe(settings.child(key), child, indent + 2);
      continue;
    }
    std::string value;
    if (child.secret) {
      value = obj->getValue<std::string>(key).empty() ? "\"\"" : "\"***\"";
    } else {
      std::ostringstream os;
      obj->get(key).isString() ? (os << '"' << obj->get(key).toString() << '"')
                               : (os << obj->get(key).toString());
      Poco::Dynamic::Var v = obj->get(key);
      if (v.type() == typeid(Poco::JSON::Array::Ptr) ||
          v.type() == typeid(Poco::JSON::Object::Ptr)) {
        std::ostringstream js;
        if (v.type() == typeid(Poco::JSON::Array::Ptr))
          v.extract<Poco::JSON::Array::Ptr>()->stringify(js);
        else
          v.extract<Poco::JSON::Object::Ptr>()->stringify(js);
        value = js.str();
      } else {
        value = os.str();
      }
    }
    out << pad << key << ": " << value << "\n";
  }
  return out.str();
}

}  // namespace malipo
