#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "kernel_fixture.hpp"

using namespace malipo;
using namespace malipo::test;

namespace {

std::string loadError(const std::string& pluginsYaml) {
  TempDir dir;
  std::string yaml = "database: {url: \"sqlite:" + dir.file("p.db") + "\"}\nlog: {level: error}\n" +
                     "auth: {jwt_secret: test-secret-0123456789abcdefghijklmnop}\nplugins:\n" +
                     pluginsYaml;
  try {
    Kernel k(ConfigLoader::loadString(yaml, "test.yaml"));
    k.open();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

std::string entry(const std::string& name, const std::string& library,
                  const std::string& settings = "") {
  return "  - name: " + name + "\n    library: " + library + "\n" +
         (settings.empty() ? "" : "    settings: " + settings + "\n");
}

}  // namespace

TEST(PluginLoader, LoadsAGoodPluginAndReportsItsVersionNote) {
  TempDir dir;
  Kernel k(ConfigLoader::loadString(kernelYaml("sqlite:" + dir.file("a.db")), "test.yaml"));
  k.open();
  ASSERT_EQ(k.plugins().plugins().size(), 1u);
  const auto& p = k.plugins().plugins()[0];
  EXPECT_EQ(p.note.name, "testplugin");
  EXPECT_EQ(p.version(), "1.2.3");
  EXPECT_EQ(p.note.sdkMajor, static_cast<std::uint32_t>(MALIPO_SDK_MAJOR));
  EXPECT_EQ(p.note.sdkMinor, static_cast<std::uint32_t>(MALIPO_SDK_MINOR));
  EXPECT_EQ(p.sdkVersion(), kernelSdkVersion());
  EXPECT_EQ(p.settings.getString("greeting"), "jambo");
  // Its migration ran.
  EXPECT_NO_THROW(k.store().query("SELECT COUNT(*) FROM test_runs"));
}

TEST(PluginLoader, MissingFile) {
  std::string e = loadError(entry("ghost", "/nonexistent/libmalipo_ghost.so"));
  EXPECT_NE(e.find("plugin 'ghost' (/nonexistent/libmalipo_ghost.so): cannot load library"),
            std::string::npos)
      << e;
}

TEST(PluginLoader, ALibraryWithoutAVersionNoteIsNotLoaded) {
  TempDir dir;
  std::string marker = dir.file("ctor");
  ::setenv("MALIPO_TEST_CTOR_MARKER", marker.c_str(), 1);
  std::string e = loadError(entry("broken_nonote", testPluginPath("broken_nonote")));
  ::unsetenv("MALIPO_TEST_CTOR_MARKER");
  EXPECT_NE(e.find("plugin 'broken_nonote' (" + testPluginPath("broken_nonote") +
                   "): no Malipo version note"),
            std::string::npos)
      << e;
  EXPECT_FALSE(std::ifstream(marker).good()) << "the library was loaded";
}

TEST(PluginLoader, MissingEntrySymbol) {
  std::string e = loadError(entry("broken_nosymbol", testPluginPath("broken_nosymbol")));
  EXPECT_NE(e.find("plugin 'broken_nosymbol' (" + testPluginPath("broken_nosymbol") +
                   "): no entry symbol 'malipo_plugin_init_v1'"),
            std::string::npos)
      << e;
}

// A plugin that asks for a newer minor or another major version is refused with one line
// naming the file, the version it wants and the one offered, before any of its code ran.
TEST(PluginLoader, ANewerSdkIsRefusedBeforeAnyOfItsCodeRuns) {
  // The marker works: a plugin that loads (for the first time in this process) leaves it.
  TempDir dir;
  std::string marker = dir.file("ctor");
  ::setenv("MALIPO_TEST_CTOR_MARKER", marker.c_str(), 1);
  EXPECT_EQ(loadError(entry("ctor_probe", testPluginPath("ctor_probe"))), "");
  EXPECT_TRUE(std::ifstream(marker).good()) << "the good plugin's constructor left no mark";
  std::remove(marker.c_str());
  const std::string offered = kernelSdkVersion();
  const std::string nextMinor =
      std::to_string(MALIPO_SDK_MAJOR) + "." + std::to_string(MALIPO_SDK_MINOR + 1);
  const std::string nextMajor = std::to_string(MALIPO_SDK_MAJOR + 1) + ".0";
  for (const auto& [name, wanted] :
       {std::pair<std::string, std::string>{"wants_next_minor", nextMinor},
        std::pair<std::string, std::string>{"wants_next_major", nextMajor}}) {
    SCOPED_TRACE(name);
    std::string e = loadError(entry(name, testPluginPath(name)));
    EXPECT_NE(e.find("plugin '" + name + "' (" + testPluginPath(name) + "): built for SDK " +
                     wanted + ", this kernel offers SDK " + offered),
              std::string::npos)
        << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << "one line";
    EXPECT_FALSE(std::ifstream(marker).good()) << "the refused plugin's constructor ran";
  }
  ::unsetenv("MALIPO_TEST_CTOR_MARKER");
}

TEST(PluginLoader, InitThatThrows) {
  std::string e = loadError(entry("broken_init", testPluginPath("broken_init")));
  EXPECT_NE(e.find("plugin 'broken_init' (" + testPluginPath("broken_init") +
                   "): init failed: register threw: deliberate failure in register"),
            std::string::npos)
      << e;
}

// A plugin written in C against malipo/abi.h alone, whose handlers answer garbage: each is a
// 500 JSON answer with a request id, and the process lives on.
TEST(PluginAbi, AHandlerThatAnswersGarbageIsContained) {
  TempDir dir;
  Kernel k(ConfigLoader::loadString(
      kernelYaml("sqlite:" + dir.file("g.db"), entry("garbage", testPluginPath("garbage"))),
      "test.yaml"));
  k.open();
  k.start();
  auto good = http(k.port(), "GET", "/garbage/ok");
  EXPECT_EQ(good.status, 200);
  EXPECT_EQ(good.body, "fine");
  for (const char* path :
       {"/garbage/code", "/garbage/status", "/garbage/fail", "/garbage/zero", "/test/throws"}) {
    SCOPED_TRACE(path);
    auto r = http(k.port(), "GET", path);
    EXPECT_EQ(r.status, 500) << r.body;
    auto o = parseJsonObject(r.body);
    ASSERT_TRUE(o) << r.body;
    EXPECT_EQ(o->getValue<std::string>("error"), "internal");
    EXPECT_FALSE(o->getValue<std::string>("request_id").empty());
    EXPECT_EQ(r.body.find("12345"), std::string::npos) << "internals leaked";
  }
  EXPECT_EQ(http(k.port(), "GET", "/healthz").status, 200);
  EXPECT_EQ(http(k.port(), "GET", "/garbage/ok").status, 200);
}

// Binary compatibility: the fake provider built against the SDK 1.0 headers kept in
// tests/fixtures/sdk-1.0 loads in this kernel and takes a payment from order to delivery.
TEST(PluginAbi, APluginBuiltAgainstSdk10TakesAPayment) {
  TempDir dir;
  std::string yaml =
      "server: {listen: \"127.0.0.1:0\", access_log: false}\n"
      "database: {url: \"sqlite:" +
      dir.file("c.db") +
      "\"}\n"
      "auth: {jwt_secret: test-secret-0123456789abcdefghijklmnop}\n"
      "jobs: {workers: 2, poll_interval_ms: 20}\nlog: {level: error}\nsandbox: true\nplugins:\n" +
      entry("fakepay_sdk10", testPluginPath("fakepay_sdk10")) +
      entry("shop", testPluginPath("shop"));
  Kernel k(ConfigLoader::loadString(yaml, "test.yaml"));
  k.open();
  k.start();
  ASSERT_EQ(k.plugins().plugins()[0].sdkVersion(), "1.0");
  auto order =
      http(k.port(), "POST", "/shop/orders",
           R"({"amount_minor": 250000, "currency": "TZS", "providers": ["fakepay_sdk10"]})");
  ASSERT_EQ(order.status, 201) << order.body;
  auto payment = parseJsonObject(order.body)->getObject("payment");
  std::string id = payment->getValue<std::string>("id");
  auto paid = http(
      k.port(), "POST",
      "/sandbox/fakepay_sdk10/orders/" + payment->getValue<std::string>("provider_ref") + "/pay",
      "{}");
  ASSERT_EQ(paid.status, 200) << paid.body;
  ASSERT_TRUE(eventually([&] {
    return k.store()
               .query("SELECT COUNT(*) AS n FROM shop_fulfilments WHERE payment_id = ?", {id})
               .i64(0, "n") == 1;
  }));
  EXPECT_EQ(k.store().query("SELECT status FROM payments WHERE id = ?", {id}).str(0, "status"),
            "succeeded");
}

TEST(PluginLoader, DuplicateName) {
  std::string e = loadError(entry("testplugin", testPluginPath("testplugin")) +
                            entry("testplugin", testPluginPath("testplugin")));
  EXPECT_NE(e.find("duplicate plugin name 'testplugin' (" + testPluginPath("testplugin")),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("test.yaml:"), std::string::npos) << e;
}

TEST(PluginLoader, NameMustMatchTheLibrary) {
  std::string e = loadError(entry("other", testPluginPath("testplugin")));
  EXPECT_NE(e.find("plugin 'other' (" + testPluginPath("testplugin") +
                   "): the library declares the name 'testplugin'"),
            std::string::npos)
      << e;
}

TEST(PluginLoader, SettingsValidatedAgainstThePluginSchema) {
  std::string e = loadError(entry("testplugin", testPluginPath("testplugin"), "{greting: typo}"));
  EXPECT_NE(e.find("plugin 'testplugin'"), std::string::npos) << e;
  EXPECT_NE(e.find("settings.greting: unknown key"), std::string::npos) << e;
}
