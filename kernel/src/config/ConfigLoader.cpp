#include "config/ConfigLoader.hpp"

#include <Poco/JSON/Array.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

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
    case SettingType::string: return "a string";
    case SettingType::integer: return "an integer";
    case SettingType::number: return "a number";
    case SettingType::boolean: return "a boolean (true/false)";
    case SettingType::list: return "a list";
    case SettingType::object: return "a mapping";
    case SettingType::map: return "a mapping";
  }
  return "?";
}

Poco::Dynamic::Var convert(const YAML::Node& node, const SchemaNode& schema, const std::string& path,
                           const std::string& file);

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
      if (text.empty() || pos != text.size()) fail(file, node, path, "expected an integer, got '" + text + "'");
      if (v < schema.min || v > schema.max)
        fail(file, node, path, "must be between " + std::to_string(schema.min) + " and " + std::to_string(schema.max));
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
      if (text.empty() || pos != text.size()) fail(file, node, path, "expected a number, got '" + text + "'");
      return v;
    }
    case SettingType::boolean: {
      if (text == "true" || text == "yes" || text == "on") return true;
      if (text == "false" || text == "no" || text == "off") return false;
      fail(file, node, path, "expected true or false, got '" + text + "'");
    }
    default: break;
  }
  fail(file, node, path, "internal: not a scalar type");
}

Poco::Dynamic::Var convert(const YAML::Node& node, const SchemaNode& schema, const std::string& path,
                           const std::string& file) {
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
          if (child.required) fail(file, node, childPath, "is required (" + child.description + ")");
          if (child.hasDefault) {
            obj->set(key, child.defaultValue);
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
    default: return convertScalar(node, schema, path, file);
  }
}

SchemaNode pluginEntrySchema() {
  using namespace schema;
  return object("one plugin to load")
      .field("name", str("unique plugin name; must equal the name the library declares").req())
      .field("library", str("path of the shared library, relative to the working directory").req())
      .field("enabled", boolean("load this plugin").def(true))
      .field("settings", [] {
        auto n = object("the plugin's settings, validated against its own schema");
        n.passthrough = true;
        return n;
      }());
}

}  // namespace

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
  using namespace schema;
  auto bucket = object("a token bucket")
                    .field("requests_per_minute", integer("sustained rate per client").def(600).range(1, 10000000))
                    .field("burst", integer("requests allowed at once above the rate").def(60).range(1, 1000000));
  return object("malipo configuration")
      .field("server",
             object("the HTTP server")
                 .field("listen", str("address:port to listen on (port 0: any free port)").def("127.0.0.1:8080"))
                 .field("public_url", str("absolute URL clients and providers reach us at (empty: http://<listen address>)").def(""))
                 .field("threads", integer("HTTP worker threads (handlers run on them)").def(32).range(1, 1024))
                 .field("queue", integer("requests waiting for a worker thread (503 with Retry-After above)").def(256).range(1, 100000))
                 .field("io_threads", integer("threads reading and writing sockets (no handler runs on them)").def(2).range(1, 64))
                 .field("header_timeout_ms", integer("time from a request's first byte to the end of its header block (408 after)").def(10000).range(100, 600000))
                 .field("idle_timeout_ms", integer("a keep-alive connection with no request is closed after this").def(30000).range(100, 3600000))
                 .field("body_timeout_ms", integer("time from the end of the header block to the end of the body (408 after)").def(60000).range(100, 3600000))
                 .field("max_header_bytes", integer("largest request line + header block (431 above)").def(16384).range(1024, 1048576))
                 .field("max_connections", integer("open client connections at most; the excess is closed at accept").def(10000).range(1, 1000000))
                 .field("max_connections_per_client", integer("open connections per client address at most (0: no cap; trusted proxies exempt)").def(2500).range(0, 1000000))
                 .field("shutdown_grace_ms", integer("on SIGTERM, how long in-flight requests may finish before their connections are closed").def(10000).range(0, 600000))
                 .field("max_body_bytes", integer("largest request body accepted (413 above)").def(1048576).range(1, 1073741824))
                 .field("max_buffered_body_bytes", integer("request bodies held in memory at once, all connections together (503 above)").def(268435456).range(1024, 68719476736))
                 .field("trusted_proxies", list("proxies (IPv4/IPv6 CIDRs) whose X-Forwarded-For is believed; the client is the rightmost address not in this list", str("CIDR")).def(Poco::JSON::Array::Ptr(new Poco::JSON::Array)))
                 .field("access_log", boolean("log one line per request").def(true))
                 .field("tls", object("HTTPS on the listening port (TLS 1.2+; SIGHUP reloads the files)")
                                   .field("cert", str("PEM certificate chain file (empty: plain HTTP)").def(""))
                                   .field("key", str("PEM private key file").def("")))
                 .field("cors", object("cross-origin requests")
                                    .field("allowed_origins", list("origins allowed ('*' for any)", str("origin")).def(Poco::JSON::Array::Ptr(new Poco::JSON::Array)))
                                    .field("max_age", integer("seconds a preflight may be cached").def(600)))
                 .field("rate_limits", object("per-client rate limits (by client address)")
                                           .field("default", bucket)
                                           .field("buckets", map("named buckets routes may use", bucket).def(Poco::JSON::Object::Ptr(new Poco::JSON::Object)))))
      .field("database",
             object("persistence")
                 .field("url", str("sqlite:PATH or postgresql://user:password@host:port/db").def("sqlite:var/malipo.db").isSecret())
                 .field("pool_size", integer("connections in the pool").def(8).range(1, 256))
                 .field("busy_timeout_ms", integer("SQLite: how long a writer waits for the lock").def(5000).range(0, 600000)))
      .field("auth", object("client authentication")
                         .field("jwt_secret", str("HS256 secret for client JWTs (sub = user id)").def("").strongSecret())
                         .field("jwt_issuer", str("required `iss` claim (empty: not checked)").def("")))
      .field("admin", object("operator API").field("token", str("bearer token for /admin/* (empty: admin API off)").def("").strongSecret(true)))
      .field("brand", object("who customers deal with: shown on pages and in messages")
                          .field("name", str("business name").def("Malipo"))
                          .field("support_phone", str("support phone number shown to customers").def(""))
                          .field("support_email", str("support email address shown to customers").def("")))
      .field("jobs", object("durable job queue")
                         .field("workers", integer("job worker threads (0: this process runs no jobs)").def(4).range(0, 256))
                         .field("batch_size", integer("jobs claimed per database round trip").def(32).range(1, 1000))
                         .field("poll_interval_ms", integer("idle wait between claims").def(200).range(1, 60000))
                         .field("rescue_interval_ms", integer("how often expired leases are returned").def(5000).range(10, 3600000))
                         .field("keep_done_hours", integer("how long finished jobs are kept").def(168).range(1, 100000))
                         .field("shutdown_grace_ms", integer("on SIGTERM, how long running job handlers may finish before their jobs go back to the queue").def(30000).range(0, 3600000)))
      .field("payments", object("the payment lifecycle")
                             .field("default_expiry_minutes", integer("a payment the provider gives no deadline for expires after this").def(1440).range(1, 525600))
                             .field("stale_read_seconds", integer("a client poll of a pending payment older than this queues a provider check").def(15).range(1, 86400))
                             .field("janitor_interval_seconds", integer("how often pending and unknown payments are looked for").def(30).range(1, 86400))
                             .field("breaker_threshold", integer("consecutive provider failures that make routing skip it").def(5).range(1, 1000))
                             .field("breaker_open_seconds", integer("how long a failing provider is skipped").def(30).range(1, 86400))
                             .field("webhook_max_body_bytes", integer("largest webhook body the inbox (/webhooks/{provider}) accepts (413 above)").def(65536).range(1024, 1073741824))
                             .field("unmatched_webhook_retention_hours", integer("how long webhook events that matched no payment are kept").def(72).range(1, 100000))
                             .field("push_limits", object("payment prompts (USSD push) sent to customers' phones")
                                                       .field("interval_seconds", integer("least time between two prompts to one number, or for one payment").def(30).range(0, 86400))
                                                       .field("per_number_per_hour", integer("prompts one phone number may get in an hour, across all payments").def(5).range(1, 1000))
                                                       .field("per_payment_per_hour", integer("prompts one payment may send in an hour").def(3).range(1, 1000)))
                             .field("max_in_flight", integer("provider calls in flight at once, per provider (past it: 503 with Retry-After)").def(16).range(1, 10000))
                             .field("max_in_flight_by_provider", map("per-provider overrides of max_in_flight, by provider name", integer("calls in flight").range(1, 10000)).def(Poco::JSON::Object::Ptr(new Poco::JSON::Object))))
      .field("log", object("logging")
                        .field("level", str("minimum level").def("info").oneOf({"debug", "info", "warning", "error"}))
                        .field("format", str("line format").def("text").oneOf({"text", "json"})))
      .field("sandbox", boolean("mount provider simulators under /sandbox and point providers at them").def(false))
      .field("plugins", list("plugins to load, in order", pluginEntrySchema()).def(Poco::JSON::Array::Ptr(new Poco::JSON::Array)));
}

Settings ConfigLoader::validate(const YAML::Node& node, const SchemaNode& schema, const std::string& path,
                                const std::string& file) {
  Poco::Dynamic::Var v = convert(node, schema, path, file);
  return Settings(v.extract<Poco::JSON::Object::Ptr>(), path);
}

Config ConfigLoader::loadString(const std::string& yaml, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    throw ConfigError(name + ":" + std::to_string(e.mark.line + 1) + ": YAML syntax error: " + e.msg);
  }
  if (root.IsNull() || !root.IsDefined()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) throw ConfigError(name + ": the top level must be a mapping");

  // plugins[].settings are passed through: each plugin's schema validates its own.
  Config cfg;
  cfg.file = name;
  cfg.root = validate(root, kernelSchema(), "", name);
  if (root["plugins"] && root["plugins"].IsSequence()) {
    std::map<std::string, int> names;
    for (std::size_t i = 0; i < root["plugins"].size(); ++i) {
      YAML::Node p = root["plugins"][i];
      PluginConfig pc;
      pc.name = substitute(p["name"].as<std::string>());
      pc.library = substitute(p["library"].as<std::string>());
      pc.enabled = cfg.root.raw()->getArray("plugins")->getObject(static_cast<unsigned>(i))->getValue<bool>("enabled");
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
    } else if (lower.find("change-me") != std::string::npos || lower.find("changeme") != std::string::npos ||
               lower.find("sandbox") != std::string::npos) {
      why = "is a published placeholder";
    } else if (value.size() < kMinSecretBytes) {
      why = "is shorter than " + std::to_string(kMinSecretBytes) + " bytes";
    }
    if (!why.empty())
      throw ConfigError(file + ": " + path + ": " + why + "; outside sandbox set a random secret of at least " +
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
      if (v.type() == typeid(Poco::JSON::Array::Ptr) || v.type() == typeid(Poco::JSON::Object::Ptr)) {
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
