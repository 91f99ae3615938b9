// The settings declaration helper (malipo/settings_decl.hpp) and the kernel's declaration.
#include "malipo/settings_decl.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "config/ConfigLoader.hpp"
#include "config/KernelSettings.hpp"

using namespace malipo;

namespace {

// The schema as text: every node with its type, flags, range, allowed values and default.
std::string dump(const SchemaNode& n, const std::string& path = "") {
  std::ostringstream o;
  o << path << " type=" << static_cast<int>(n.type) << " desc=" << n.description
    << " req=" << n.required << " secret=" << n.secret << " strong=" << n.strong
    << " empty=" << n.emptyAllowed << " pass=" << n.passthrough << " min=" << n.min
    << " max=" << n.max << " allowed=";
  for (const auto& a : n.allowed) o << a << "|";
  if (n.hasDefault) {
    o << " default=";
    const auto& v = n.defaultValue;
    if (v.type() == typeid(Poco::JSON::Array::Ptr))
      v.extract<Poco::JSON::Array::Ptr>()->stringify(o);
    else if (v.type() == typeid(Poco::JSON::Object::Ptr))
      v.extract<Poco::JSON::Object::Ptr>()->stringify(o);
    else
      o << (v.isString() ? "s:" : v.isNumeric() ? "n:" : "b:") << v.toString();
  }
  o << "\n";
  for (const auto& [k, c] : n.fields) o << dump(c, path + "." + k);
  if (n.element) o << dump(*n.element, path + "[]");
  return o.str();
}

Settings validate(const SchemaNode& schema, const std::string& yaml) {
  return ConfigLoader::validate(YAML::Load(yaml), schema, "s", "t.yaml");
}

std::string errorOf(const SchemaNode& schema, const std::string& yaml) {
  try {
    validate(schema, yaml);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

struct Item {
  std::string id;
  int qty = 1;
};

struct Inner {
  std::string mode = "a";
  int depth = 2;
};

struct Sample {
  std::string url = "http://x";
  int threads = 8;
  std::int64_t big = 1LL << 40;
  std::size_t bytes = 4096;
  double ratio = 0.5;
  bool on = true;
  std::vector<std::string> tags{"a", "b"};
  Inner inner;
  std::int64_t expiryMs = 90 * 60000;  // configured in minutes
  std::int64_t pollMs = 1500;          // configured in ms, inside a section
  std::vector<Item> items{{"first", 2}};
  std::map<std::string, int> limits;
  std::map<std::string, Inner> named;
  std::string token;
  std::string key;
  std::string optional;
  std::string must;
};

const Decl<Sample>& sampleDecl() {
  static const Decl<Sample> d = [] {
    Decl<Item> item("an item");
    item.str("id", &Item::id, "item id")
        .required()
        .integer("qty", &Item::qty, "quantity")
        .range(1, 9);
    Decl<Inner> inner("inner");
    inner.str("mode", &Inner::mode, "mode")
        .oneOf({"a", "b"})
        .integer("depth", &Inner::depth, "depth");
    Decl<Sample> s("sample");
    s.str("url", &Sample::url, "base URL")
        .integer("threads", &Sample::threads, "threads")
        .range(1, 64)
        .integer("big", &Sample::big, "a large number")
        .integer("bytes", &Sample::bytes, "bytes")
        .range(0, 1 << 20)
        .number("ratio", &Sample::ratio, "a ratio")
        .boolean("on", &Sample::on, "a switch")
        .list("tags", &Sample::tags, "tags", schema::str("tag"))
        .object("inner", &Sample::inner, inner)
        .integer("expiry_minutes", &Sample::expiryMs, "expiry")
        .unit(60000)
        .range(1, 1440)
        .section(
            "poll", "polling",
            [](Decl<Sample>& p) { p.integer("interval_ms", &Sample::pollMs, "poll interval"); })
        .list("items", &Sample::items, "items", item)
        .map("limits", &Sample::limits, "limits", schema::integer("limit").range(1, 100))
        .map("named", &Sample::named, "named inners", inner)
        .str("token", &Sample::token, "a secret")
        .secret()
        .str("key", &Sample::key, "a strong secret")
        .strongSecret(true)
        .str("optional", &Sample::optional, "no default")
        .noDefault()
        .str("must", &Sample::must, "required")
        .required();
    return s;
  }();
  return d;
}

}  // namespace

TEST(SettingsDecl, SchemaCarriesTypesFlagsRangesAndDefaultsFromThePrototype) {
  SchemaNode n = sampleDecl().schema();
  ASSERT_EQ(n.type, SettingType::object);
  EXPECT_EQ(n.description, "sample");
  std::map<std::string, const SchemaNode*> f;
  for (const auto& [k, c] : n.fields) f[k] = &c;
  ASSERT_EQ(f.size(), 17u);
  EXPECT_EQ(n.fields.front().first, "url");  // declaration order
  EXPECT_EQ(f["url"]->type, SettingType::string);
  EXPECT_EQ(f["url"]->defaultValue.toString(), "http://x");
  EXPECT_EQ(f["threads"]->type, SettingType::integer);
  EXPECT_EQ(f["threads"]->defaultValue.convert<Poco::Int64>(), 8);
  EXPECT_EQ(f["threads"]->min, 1);
  EXPECT_EQ(f["threads"]->max, 64);
  EXPECT_EQ(f["big"]->defaultValue.convert<Poco::Int64>(), 1LL << 40);
  EXPECT_EQ(f["big"]->min, INT64_MIN);  // no range declared: none added
  EXPECT_EQ(f["ratio"]->type, SettingType::number);
  EXPECT_DOUBLE_EQ(f["ratio"]->defaultValue.convert<double>(), 0.5);
  EXPECT_EQ(f["on"]->type, SettingType::boolean);
  EXPECT_TRUE(f["on"]->defaultValue.convert<bool>());
  EXPECT_EQ(f["tags"]->type, SettingType::list);
  EXPECT_EQ(f["tags"]->element->description, "tag");
  EXPECT_EQ(f["inner"]->type, SettingType::object);
  EXPECT_FALSE(f["inner"]->hasDefault);
  EXPECT_EQ(f["inner"]->fields[0].second.allowed, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(f["expiry_minutes"]->defaultValue.convert<Poco::Int64>(), 90);  // the member / unit
  EXPECT_EQ(f["poll"]->type, SettingType::object);
  EXPECT_EQ(f["poll"]->fields[0].second.defaultValue.convert<Poco::Int64>(), 1500);
  EXPECT_EQ(f["items"]->element->type, SettingType::object);
  EXPECT_TRUE(f["items"]->element->fields[0].second.required);
  EXPECT_EQ(f["limits"]->type, SettingType::map);
  EXPECT_EQ(f["limits"]->element->max, 100);
  EXPECT_TRUE(f["token"]->secret);
  EXPECT_FALSE(f["token"]->strong);
  EXPECT_TRUE(f["key"]->strong);
  EXPECT_TRUE(f["key"]->emptyAllowed);
  EXPECT_FALSE(f["optional"]->hasDefault);
  EXPECT_TRUE(f["must"]->required);
  EXPECT_FALSE(f["must"]->hasDefault);
  std::ostringstream items;
  f["items"]->defaultValue.extract<Poco::JSON::Array::Ptr>()->stringify(items);
  EXPECT_EQ(items.str(), R"([{"id":"first","qty":2}])");
}

TEST(SettingsDecl, LoadFillsEveryMemberFromDefaults) {
  Sample s = sampleDecl().load(validate(sampleDecl().schema(), "must: m\n"));
  EXPECT_EQ(s.url, "http://x");
  EXPECT_EQ(s.threads, 8);
  EXPECT_EQ(s.bytes, 4096u);
  EXPECT_EQ(s.tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(s.inner.mode, "a");
  EXPECT_EQ(s.expiryMs, 90 * 60000);
  EXPECT_EQ(s.pollMs, 1500);
  ASSERT_EQ(s.items.size(), 1u);
  EXPECT_EQ(s.items[0].id, "first");
  EXPECT_EQ(s.items[0].qty, 2);
  EXPECT_TRUE(s.limits.empty());
  EXPECT_EQ(s.must, "m");
}

TEST(SettingsDecl, LoadReadsConfiguredValuesWithUnitsNestedListsAndMaps) {
  const char* yaml =
      "url: http://y\nthreads: 16\nbig: 9000000000\nbytes: 100\nratio: 1.25\non: off\ntags: [x]\n"
      "inner: {mode: b}\nexpiry_minutes: 2\npoll: {interval_ms: 7}\n"
      "items: [{id: one}, {id: two, qty: 9}]\nlimits: {p: 3}\nnamed: {n1: {depth: 5}}\n"
      "token: t\nkey: k\noptional: o\nmust: m\n";
  Sample s = sampleDecl().load(validate(sampleDecl().schema(), yaml));
  EXPECT_EQ(s.url, "http://y");
  EXPECT_EQ(s.threads, 16);
  EXPECT_EQ(s.big, 9000000000LL);
  EXPECT_EQ(s.bytes, 100u);
  EXPECT_DOUBLE_EQ(s.ratio, 1.25);
  EXPECT_FALSE(s.on);
  EXPECT_EQ(s.tags, (std::vector<std::string>{"x"}));
  EXPECT_EQ(s.inner.mode, "b");
  EXPECT_EQ(s.inner.depth, 2);  // the nested default
  EXPECT_EQ(s.expiryMs, 2 * 60000);
  EXPECT_EQ(s.pollMs, 7);
  ASSERT_EQ(s.items.size(), 2u);
  EXPECT_EQ(s.items[0].qty, 1);  // the element's default
  EXPECT_EQ(s.items[1].id, "two");
  EXPECT_EQ(s.items[1].qty, 9);
  EXPECT_EQ(s.limits.at("p"), 3);
  EXPECT_EQ(s.named.at("n1").depth, 5);
  EXPECT_EQ(s.named.at("n1").mode, "a");
  EXPECT_EQ(s.token, "t");
  EXPECT_EQ(s.optional, "o");
}

TEST(SettingsDecl, ValidationUsesTheDeclaredRangesChoicesAndRequiredKeys) {
  SchemaNode n = sampleDecl().schema();
  EXPECT_NE(errorOf(n, "must: m\nthreads: 65\n").find("s.threads: must be between 1 and 64"),
            std::string::npos);
  EXPECT_NE(errorOf(n, "must: m\nexpiry_minutes: 0\n")
                .find("s.expiry_minutes: must be between 1 and 1440"),
            std::string::npos);
  EXPECT_NE(errorOf(n, "must: m\ninner: {mode: c}\n").find("'c' is not one of: a, b"),
            std::string::npos);
  EXPECT_NE(errorOf(n, "must: m\nitems: [{qty: 2}]\n").find("s.items[0].id: is required (item id)"),
            std::string::npos);
  EXPECT_NE(errorOf(n, "must: m\nlimits: {p: 0}\n").find("s.limits.p: must be between 1 and 100"),
            std::string::npos);
  EXPECT_NE(errorOf(n, "threads: 2\n").find("s.must: is required (required)"), std::string::npos);
  EXPECT_TRUE(validate(n, "must: m\n").has("url"));
  EXPECT_FALSE(validate(n, "must: m\n").has("optional"));  // noDefault: absent stays absent
}

TEST(SettingsDecl, ADefaultThatIsNotAWholeNumberOfItsUnitIsAProgrammingError) {
  struct Odd {
    std::int64_t ms = 1500;
  };
  Decl<Odd> d("odd");
  d.integer("wait_seconds", &Odd::ms, "wait").unit(1000);
  try {
    d.schema();
    FAIL() << "accepted";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("wait_seconds"), std::string::npos) << e.what();
  }
  Decl<Odd> twice("twice");
  twice.integer("a", &Odd::ms, "a");
  EXPECT_THROW(twice.integer("a", &Odd::ms, "again"), std::logic_error);
}

TEST(SettingsDecl, APrototypeGivesOtherDefaults) {
  Sample p;
  p.threads = 3;
  p.inner.depth = 9;
  auto d = sampleDecl().withPrototype(p);
  Sample s = d.load(validate(d.schema(), "must: m\n"));
  EXPECT_EQ(s.threads, 3);
  EXPECT_EQ(s.inner.depth, 9);
}

namespace {

// Every leaf key of `n` with its type column facts: "default|min|max|secret".
void leaves(const SchemaNode& n, const std::string& path, std::map<std::string, std::string>& out) {
  for (const auto& [key, c] : n.fields) {
    std::string p = path.empty() ? key : path + "." + key;
    if (c.type == SettingType::object && !c.passthrough) {
      leaves(c, p, out);
      continue;
    }
    std::string dflt = "—";
    if (c.hasDefault) {
      const auto& v = c.defaultValue;
      if (v.type() == typeid(Poco::JSON::Array::Ptr))
        dflt = v.extract<Poco::JSON::Array::Ptr>()->size() ? "?" : "[]";
      else if (v.type() == typeid(Poco::JSON::Object::Ptr))
        dflt = v.extract<Poco::JSON::Object::Ptr>()->size() ? "?" : "{}";
      else
        dflt = v.toString().empty() ? "\"\"" : v.toString();
    }
    std::string range =
        c.min == INT64_MIN ? "" : std::to_string(c.min) + "–" + std::to_string(c.max);
    out[p] = dflt + "|" + range + "|" + (c.secret ? "secret" : "");
    if (c.type == SettingType::list && c.element && c.element->type == SettingType::object)
      leaves(*c.element, p + "[]", out);
  }
}

}  // namespace

// docs/kernel.md's reference table lists exactly the declared keys, with their defaults,
// ranges and secrecy.
TEST(KernelSettings, TheDocumentedReferenceMatchesTheDeclaration) {
  std::ifstream in(std::string(MALIPO_SOURCE_DIR) + "/docs/kernel.md");
  ASSERT_TRUE(in) << "docs/kernel.md";
  std::string line;
  bool inTable = false;
  std::map<std::string, std::string> documented;
  std::regex row(R"(^\| `([^`]+)` \| ([^|]*) \| ([^|]*) \|)");
  std::regex range(R"((-?\d+)–(\d+))");
  while (std::getline(in, line)) {
    if (line.rfind("### Reference: every kernel key", 0) == 0) {
      inTable = true;
      continue;
    }
    if (!inTable) continue;
    if (line.rfind("#", 0) == 0 || line.rfind("A minimal production config", 0) == 0) break;
    for (std::size_t i; (i = line.find("\\|")) != std::string::npos;)
      line.replace(i, 2, "/");  // `a` \| `b`
    std::smatch m;
    if (!std::regex_search(line, m, row)) continue;
    std::string type = m[2], dflt = m[3];
    while (!dflt.empty() && dflt.back() == ' ') dflt.pop_back();
    if (dflt.size() >= 2 && dflt.front() == '`' && dflt.back() == '`')
      dflt = dflt.substr(1, dflt.size() - 2);
    std::smatch r;
    std::string rng = std::regex_search(type, r, range) ? r[1].str() + "–" + r[2].str() : "";
    documented[m[1]] =
        dflt + "|" + rng + "|" + (type.find("secret") != std::string::npos ? "secret" : "");
  }
  std::map<std::string, std::string> declared;
  leaves(ConfigLoader::kernelSchema(), "", declared);
  declared.erase("plugins[].settings");  // documented, but passed through to the plugin
  documented.erase("plugins[].settings");
  EXPECT_EQ(documented.size(), declared.size());
  for (const auto& [k, v] : declared) {
    auto it = documented.find(k);
    if (it == documented.end()) {
      ADD_FAILURE() << k << " is declared but not documented in docs/kernel.md";
      continue;
    }
    EXPECT_EQ(it->second, v) << k << " (default|range|secret)";
  }
  for (const auto& [k, v] : documented)
    if (!declared.count(k)) ADD_FAILURE() << k << " is documented but not declared";
}

TEST(KernelSettings, LoadGivesTheOptionStructsTheirConfiguredValues) {
  auto cfg = ConfigLoader::loadString(
      "server:\n  threads: 5\n  rate_limits:\n    default: {burst: 7}\n    buckets: {webhooks: "
      "{requests_per_minute: 6000}}\n"
      "auth: {jwt_secret: j, jwt_issuer: i}\nadmin: {token: t}\njobs: {keep_done_hours: 2, "
      "shutdown_grace_ms: 5}\n"
      "payments:\n  default_expiry_minutes: 3\n  push_limits: {interval_seconds: 4}\n  "
      "max_in_flight_by_provider: {selcom: 8}\n"
      "brand: {name: Shop}\nlog: {format: json}\nsandbox: true\n",
      "t.yaml");
  KernelSettings k = KernelSettings::load(cfg.root);
  EXPECT_EQ(k.server.threads, 5);
  EXPECT_EQ(k.server.listen, "127.0.0.1:8080");
  EXPECT_DOUBLE_EQ(k.server.defaultLimit.burst, 7);
  EXPECT_DOUBLE_EQ(k.server.defaultLimit.perMinute, 600);
  EXPECT_DOUBLE_EQ(k.server.buckets.at("webhooks").perMinute, 6000);
  EXPECT_DOUBLE_EQ(k.server.buckets.at("webhooks").burst, 60);
  EXPECT_EQ(k.server.jwtSecret, "j");
  EXPECT_EQ(k.server.jwtIssuer, "i");
  EXPECT_EQ(k.server.adminToken, "t");
  EXPECT_EQ(k.server.shutdownGraceMs, 10000);
  EXPECT_EQ(k.jobs.keepDoneMs, 2 * 3600000);
  EXPECT_EQ(k.jobs.shutdownGraceMs, 5);
  EXPECT_EQ(k.jobs.workers, 4);
  EXPECT_EQ(k.payments.defaultExpiryMs, 3 * 60000);
  EXPECT_EQ(k.payments.pushIntervalMs, 4000);
  EXPECT_EQ(k.payments.maxInFlightByProvider.at("selcom"), 8);
  EXPECT_EQ(k.database.url, "sqlite:var/malipo.db");
  EXPECT_EQ(k.brand.name, "Shop");
  EXPECT_EQ(k.log.format, "json");
  EXPECT_TRUE(k.sandbox);
}
