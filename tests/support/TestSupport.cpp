#include "support/TestSupport.hpp"

#include "store/Store.hpp"

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/UUIDGenerator.h>

namespace malipo::test {

std::string freshDatabaseUrl(const std::string& engine, const TempDir& dir) {
  if (engine == "sqlite") return "sqlite:" + dir.file("test.db");
  std::string base = postgresUrl();
  if (base.empty()) return "";
  // base is postgresql://user@host:port/postgres; make a new database per test.
  std::string name = "t_" + Poco::UUIDGenerator::defaultGenerator().createRandom().toString().substr(0, 8);
  Poco::Data::PostgreSQL::Connector::registerConnector();
  {
    Poco::Data::Session admin("PostgreSQL", malipo::Store::postgresConnectString(base));
    admin << ("CREATE DATABASE " + name), Poco::Data::Keywords::now;
  }
  return base.substr(0, base.rfind('/') + 1) + name;
}

}  // namespace malipo::test
