#include "support/TestSupport.hpp"

#include <Poco/UUIDGenerator.h>
#include <libpq-fe.h>

#include <stdexcept>

#include "store/Store.hpp"

namespace malipo::test {

std::string freshDatabaseUrl(const std::string& engine, const TempDir& dir) {
  if (engine == "sqlite") return "sqlite:" + dir.file("test.db");
  std::string base = postgresUrl();
  if (base.empty()) return "";
  // base is postgresql://user@host:port/postgres; make a new database per test.
  std::string name =
      "t_" + Poco::UUIDGenerator::defaultGenerator().createRandom().toString().substr(0, 8);
  // CREATE DATABASE cannot run inside a transaction: straight through libpq.
  PGconn* admin = PQconnectdb(base.c_str());
  PGresult* res = PQstatus(admin) == CONNECTION_OK
                      ? PQexec(admin, ("CREATE DATABASE " + name).c_str())
                      : nullptr;
  bool ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
  std::string why = PQerrorMessage(admin);
  if (res) PQclear(res);
  PQfinish(admin);
  if (!ok) throw std::runtime_error("cannot create test database " + name + ": " + why);
  return base.substr(0, base.rfind('/') + 1) + name;
}

}  // namespace malipo::test
