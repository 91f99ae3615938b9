#include "kernel_fixture.hpp"

using namespace malipo;
using namespace malipo::test;

namespace {

std::string loadError(const std::string& pluginsYaml) {
  TempDir dir;
  std::string yaml = "database: {url: \"sqlite:" + dir.file("p.db") + "\"}\nlog: {level: error}\n" +
                     "auth: {jwt_secret: test-secret-0123456789abcdefghijklmnop}\nplugins:\n" + pluginsYaml;
  try {
    Kernel k(ConfigLoader::loadString(yaml, "test.yaml"));
    k.open();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

std::string entry(const std::string& name, const std::string& library, const std::string& settings = "") {
  return "  - name: " + name + "\n    library: " + library + "\n" + (settings.empty() ? "" : "    settings: " + settings + "\n");
}

}  // namespace

TEST(PluginLoader, LoadsAGoodPluginAndReportsItsDescriptor) {
  TempDir dir;
  Kernel k(ConfigLoader::loadString(kernelYaml("sqlite:" + dir.file("a.db")), "test.yaml"));
  k.open();
  ASSERT_EQ(k.plugins().plugins().size(), 1u);
  const auto& p = k.plugins().plugins()[0];
  EXPECT_STREQ(p.descriptor->name, "testplugin");
  EXPECT_STREQ(p.descriptor->version, "1.2.3");
  EXPECT_EQ(p.descriptor->spiVersion, MALIPO_SPI_VERSION);
  EXPECT_STREQ(p.descriptor->fingerprint, kernelFingerprint());
  EXPECT_EQ(p.settings.getString("greeting"), "jambo");
  // Its migration ran.
  EXPECT_NO_THROW(k.store().query("SELECT COUNT(*) FROM test_runs"));
}

TEST(PluginLoader, MissingFile) {
  std::string e = loadError(entry("ghost", "/nonexistent/libmalipo_ghost.so"));
  EXPECT_NE(e.find("plugin 'ghost' (/nonexistent/libmalipo_ghost.so): cannot load library"), std::string::npos) << e;
}

TEST(PluginLoader, MissingEntrySymbol) {
  std::string e = loadError(entry("broken_nosymbol", testPluginPath("broken_nosymbol")));
  EXPECT_NE(e.find("plugin 'broken_nosymbol' (" + testPluginPath("broken_nosymbol") + "): no entry symbol 'malipo_plugin_v1'"),
            std::string::npos) << e;
}

TEST(PluginLoader, FingerprintMismatchSaysWhatItGotAndExpected) {
  std::string e = loadError(entry("broken_fingerprint", testPluginPath("broken_fingerprint")));
  EXPECT_NE(e.find("plugin 'broken_fingerprint' (" + testPluginPath("broken_fingerprint") + "): build fingerprint mismatch"),
            std::string::npos) << e;
  EXPECT_NE(e.find("got '"), std::string::npos) << e;
  EXPECT_NE(e.find("spi 0000deadbeef0000'"), std::string::npos) << e;
  EXPECT_NE(e.find(std::string("expected '") + kernelFingerprint() + "'"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos);  // one line
}

TEST(PluginLoader, InitThatThrows) {
  std::string e = loadError(entry("broken_init", testPluginPath("broken_init")));
  EXPECT_NE(e.find("plugin 'broken_init' (" + testPluginPath("broken_init") + "): init failed: deliberate failure in register"),
            std::string::npos) << e;
}

TEST(PluginLoader, DuplicateName) {
  std::string e = loadError(entry("testplugin", testPluginPath("testplugin")) + entry("testplugin", testPluginPath("testplugin")));
  EXPECT_NE(e.find("duplicate plugin name 'testplugin' (" + testPluginPath("testplugin")), std::string::npos) << e;
  EXPECT_NE(e.find("test.yaml:"), std::string::npos) << e;
}

TEST(PluginLoader, NameMustMatchTheLibrary) {
  std::string e = loadError(entry("other", testPluginPath("testplugin")));
  EXPECT_NE(e.find("plugin 'other' (" + testPluginPath("testplugin") + "): the library declares the name 'testplugin'"),
            std::string::npos) << e;
}

TEST(PluginLoader, SettingsValidatedAgainstThePluginSchema) {
  std::string e = loadError(entry("testplugin", testPluginPath("testplugin"), "{greting: typo}"));
  EXPECT_NE(e.find("plugin 'testplugin'"), std::string::npos) << e;
  EXPECT_NE(e.find("settings.greting: unknown key"), std::string::npos) << e;
}
