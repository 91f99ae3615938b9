// An in-process kernel with the test plugin, on a free loopback port.
#pragma once

#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>

#include <memory>

#include "app/Kernel.hpp"
#include "support/TestSupport.hpp"

namespace malipo::test {

inline std::string testPluginPath(const std::string& name) {
  return std::string(MALIPO_TEST_PLUGIN_DIR) + "/libmalipo_" + name + ".so";
}

inline std::string kernelYaml(const std::string& dbUrl, const std::string& extraPlugins = "") {
  return "server:\n"
         "  listen: 127.0.0.1:0\n"
         "  access_log: false\n"
         "  cors: {allowed_origins: [\"https://app.example\"]}\n"
         "  rate_limits:\n"
         "    default: {requests_per_minute: 100000, burst: 10000}\n"
         "    buckets: {tight: {requests_per_minute: 60, burst: 2}}\n"
         "database: {url: \"" +
         dbUrl +
         "\"}\n"
         "auth: {jwt_secret: test-secret-0123456789abcdefghijklmnop}\n"
         "admin: {token: admin-token-0123456789abcdefghijklmnop, tokens: {alice: {token: "
         "alice-operator-token-0123456789abcdef}, victor: {token: "
         "victor-viewer-token-0123456789abcdefgh, role: viewer}}}\n"
         "jobs: {workers: 2, poll_interval_ms: 20}\n"
         "log: {level: error}\n"
         "plugins:\n"
         "  - name: testplugin\n"
         "    library: " +
         testPluginPath("testplugin") +
         "\n"
         "    settings: {greeting: jambo}\n" +
         extraPlugins;
}

inline std::string makeJwt(const std::string& secret, const std::string& sub,
                           std::int64_t expiresInSec) {
  Poco::JWT::Token t;
  t.setType("JWT");
  t.setSubject(sub);
  t.setIssuedAt(Poco::Timestamp());
  t.setExpiration(Poco::Timestamp() + Poco::Timespan(expiresInSec, 0));
  Poco::JWT::Signer signer(secret);
  return signer.sign(t, Poco::JWT::Signer::ALGO_HS256);
}

class KernelFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    kernel_ = std::make_unique<Kernel>(
        ConfigLoader::loadString(kernelYaml("sqlite:" + dir_.file("k.db")), "test.yaml"));
    kernel_->open();
    kernel_->start();
    port_ = kernel_->port();
  }
  void TearDown() override { kernel_.reset(); }
  TempDir dir_;
  std::unique_ptr<Kernel> kernel_;
  std::uint16_t port_ = 0;
};

}  // namespace malipo::test
