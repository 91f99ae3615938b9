// The relative-path rule: paths in a config file resolve against that file's folder, so a
// config works whatever the working directory (an installed /etc/malipo/malipo.yaml).
#include "config/ConfigLoader.hpp"
#include "support/TestSupport.hpp"

using namespace malipo;
using namespace malipo::test;

TEST(ConfigPaths, RelativePathsResolveAgainstTheConfigFolder) {
  TempDir dir;
  Poco::File(dir.file("etc/malipo")).createDirectories();
  std::string file = dir.file("etc/malipo/malipo.yaml");
  writeFile(file,
            "database: {url: \"sqlite:../../var/lib/malipo/malipo.db\"}\n"
            "plugins:\n"
            "  - {name: a, library: ../../lib/malipo/plugins/libmalipo_a.so}\n"
            "  - {name: b, library: /opt/b/libmalipo_b.so}\n");
  Config cfg = ConfigLoader::loadFile(file);
  EXPECT_EQ(cfg.root.child("database").getString("url"),
            "sqlite:" + dir.file("var/lib/malipo/malipo.db"));
  ASSERT_EQ(cfg.plugins.size(), 2u);
  EXPECT_EQ(cfg.plugins[0].library, dir.file("lib/malipo/plugins/libmalipo_a.so"));
  EXPECT_EQ(cfg.plugins[1].library, "/opt/b/libmalipo_b.so");

  // A plugin setting marked isPath(): written or defaulted, relative means "next to the file".
  auto schema = schema::object("s")
                    .field("store", schema::str("a folder").def("var/store").isPath())
                    .field("fonts", schema::str("a folder").def("").isPath())
                    .field("label", schema::str("not a path").def("var/x"));
  Settings s = ConfigLoader::validate(YAML::Load("{}"), schema, "plugins[p].settings", file);
  EXPECT_EQ(s.getString("store"), dir.file("etc/malipo/var/store"));
  EXPECT_EQ(s.getString("fonts"), "");
  EXPECT_EQ(s.getString("label"), "var/x");
  s = ConfigLoader::validate(YAML::Load("{store: ../data, fonts: /usr/share/fonts}"), schema, "p",
                             file);
  EXPECT_EQ(s.getString("store"), dir.file("etc/data"));
  EXPECT_EQ(s.getString("fonts"), "/usr/share/fonts");
}

TEST(ConfigPaths, AConfigWithoutFolderKeepsPathsAsWritten) {
  Config cfg = ConfigLoader::loadString("database: {url: \"sqlite:var/m.db\"}\n", "m.yaml");
  EXPECT_EQ(cfg.root.child("database").getString("url"), "sqlite:var/m.db");
  cfg = ConfigLoader::loadString("database: {url: \"sqlite::memory:\"}\n", "dir/m.yaml");
  EXPECT_EQ(cfg.root.child("database").getString("url"), "sqlite::memory:");
}
