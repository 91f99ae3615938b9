#include <gtest/gtest.h>

#include <cstdlib>

#include "config/ConfigLoader.hpp"

using malipo::ConfigError;
using malipo::ConfigLoader;

namespace {

std::string errorOf(const std::string& yaml) {
  try {
    ConfigLoader::loadString(yaml, "test.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Config, DefaultsFillEveryKey) {
  auto cfg = ConfigLoader::loadString("", "empty.yaml");
  EXPECT_EQ(cfg.root.child("server").getString("listen"), "127.0.0.1:8080");
  EXPECT_EQ(cfg.root.child("jobs").getInt("workers"), 4);
  EXPECT_EQ(cfg.root.child("database").getString("url"), "sqlite:var/malipo.db");
  EXPECT_FALSE(cfg.root.getBool("sandbox"));
  EXPECT_TRUE(cfg.plugins.empty());
}

TEST(Config, EnvironmentSubstitution) {
  setenv("MALIPO_TEST_PORT", "9999", 1);
  unsetenv("MALIPO_TEST_UNSET");
  auto cfg = ConfigLoader::loadString(
      "server:\n  listen: \"127.0.0.1:${MALIPO_TEST_PORT}\"\n  public_url: "
      "\"${MALIPO_TEST_UNSET:-http://x}\"\n",
      "t.yaml");
  EXPECT_EQ(cfg.root.child("server").getString("listen"), "127.0.0.1:9999");
  EXPECT_EQ(cfg.root.child("server").getString("public_url"), "http://x");
  // Substitution yields typed values too.
  setenv("MALIPO_TEST_WORKERS", "7", 1);
  auto cfg2 = ConfigLoader::loadString("jobs:\n  workers: ${MALIPO_TEST_WORKERS}\n", "t.yaml");
  EXPECT_EQ(cfg2.root.child("jobs").getInt("workers"), 7);
}

TEST(Config, UnsetVariableWithoutDefaultNamesKeyAndLine) {
  unsetenv("MALIPO_TEST_NOPE");
  std::string e = errorOf("server:\n  threads: 4\n  listen: \"${MALIPO_TEST_NOPE}\"\n");
  EXPECT_NE(e.find("test.yaml:3"), std::string::npos) << e;
  EXPECT_NE(e.find("server.listen"), std::string::npos) << e;
  EXPECT_NE(e.find("MALIPO_TEST_NOPE"), std::string::npos) << e;
}

TEST(Config, UnknownKeyIsAnErrorWithPathAndLine) {
  std::string e = errorOf("server:\n  listen: \"127.0.0.1:1\"\n  lisen: x\n");
  EXPECT_NE(e.find("test.yaml:3"), std::string::npos) << e;
  EXPECT_NE(e.find("server.lisen"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key"), std::string::npos) << e;
  std::string top = errorOf("bogus: 1\n");
  EXPECT_NE(top.find("test.yaml:1: bogus: unknown key"), std::string::npos) << top;
}

TEST(Config, WrongTypeIsAnErrorWithPathAndLine) {
  std::string e = errorOf("jobs:\n  workers: many\n");
  EXPECT_NE(e.find("test.yaml:2"), std::string::npos) << e;
  EXPECT_NE(e.find("jobs.workers"), std::string::npos) << e;
  EXPECT_NE(e.find("integer"), std::string::npos) << e;
  std::string b = errorOf("sandbox: maybe\n");
  EXPECT_NE(b.find("sandbox: expected true or false"), std::string::npos) << b;
  std::string m = errorOf("server: 5\n");
  EXPECT_NE(m.find("server: expected a mapping"), std::string::npos) << m;
  std::string r = errorOf("jobs:\n  workers: -3\n");
  EXPECT_NE(r.find("between 0 and 256"), std::string::npos) << r;
  std::string en = errorOf("log:\n  level: loud\n");
  EXPECT_NE(en.find("'loud' is not one of: debug, info, warning, error"), std::string::npos) << en;
}

TEST(Config, YamlSyntaxErrorHasLine) {
  std::string e = errorOf("server:\n  listen: [unclosed\n");
  EXPECT_NE(e.find("YAML syntax error"), std::string::npos) << e;
  EXPECT_NE(e.find("test.yaml:"), std::string::npos) << e;
}

TEST(Config, PluginsNeedNameAndLibraryAndUniqueNames) {
  std::string e = errorOf("plugins:\n  - library: x.so\n");
  EXPECT_NE(e.find("plugins[0].name: is required"), std::string::npos) << e;
  std::string d =
      errorOf("plugins:\n  - name: a\n    library: x.so\n  - name: a\n    library: y.so\n");
  EXPECT_NE(d.find("duplicate plugin name 'a'"), std::string::npos) << d;
  EXPECT_NE(d.find("test.yaml:4"), std::string::npos) << d;
  auto cfg = ConfigLoader::loadString(
      "plugins:\n  - name: a\n    library: x.so\n    settings: {anything: 1}\n  - name: b\n    "
      "library: y.so\n    enabled: false\n",
      "t.yaml");
  ASSERT_EQ(cfg.plugins.size(), 1u);  // b is disabled
  EXPECT_EQ(cfg.plugins[0].name, "a");
  EXPECT_EQ(cfg.plugins[0].settings["anything"].as<int>(), 1);
}

TEST(Config, DescribeMasksSecrets) {
  auto cfg = ConfigLoader::loadString(
      "database:\n  url: postgresql://u:hunter2@h/db\nauth:\n  jwt_secret: s3cret-value\n",
      "t.yaml");
  std::string text = ConfigLoader::describe(cfg.root, ConfigLoader::kernelSchema());
  EXPECT_EQ(text.find("hunter2"), std::string::npos);
  EXPECT_EQ(text.find("s3cret-value"), std::string::npos);
  EXPECT_NE(text.find("jwt_secret: \"***\""), std::string::npos) << text;
  EXPECT_NE(text.find("workers: 4"), std::string::npos) << text;
}

TEST(Config, PluginSchemaValidation) {
  using namespace malipo::schema;
  auto schema = object("s")
                    .field("base_url", str("url").req())
                    .field("timeout_ms", integer("t").def(1000))
                    .field("price", object("p")
                                        .field("amount", str("a").def("1000"))
                                        .field("currency", str("c").def("TZS")));
  YAML::Node node = YAML::Load("base_url: http://x\nprice:\n  currency: GHS\n");
  auto s = ConfigLoader::validate(node, schema, "plugins[x].settings", "f.yaml");
  EXPECT_EQ(s.getString("base_url"), "http://x");
  EXPECT_EQ(s.getInt("timeout_ms"), 1000);
  EXPECT_EQ(s.child("price").getString("amount"), "1000");
  EXPECT_EQ(s.child("price").getString("currency"), "GHS");
  try {
    ConfigLoader::validate(YAML::Load("timeout_ms: 5\n"), schema, "plugins[x].settings", "f.yaml");
    FAIL() << "missing required key accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("plugins[x].settings.base_url: is required"),
              std::string::npos)
        << e.what();
  }
}
