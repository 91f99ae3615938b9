// Runs a test suite against both engines; PostgreSQL comes from scripts/test.sh.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "support/TestSupport.hpp"

class EngineTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string url() {
    std::string u = malipo::test::freshDatabaseUrl(GetParam(), dir_);
    return u;
  }
  bool skipIfNoEngine() {
    if (GetParam() == "postgresql" && malipo::test::postgresUrl().empty()) {
      if (std::getenv("MALIPO_REQUIRE_PG")) {
        ADD_FAILURE() << "MALIPO_REQUIRE_PG is set but MALIPO_TEST_PG_URL is not";
      }
      return true;
    }
    return false;
  }
  malipo::test::TempDir dir_;
};

#define SKIP_WITHOUT_ENGINE() \
  if (skipIfNoEngine()) GTEST_SKIP() << "no PostgreSQL (run through scripts/test.sh)"

inline std::string engineName(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}
