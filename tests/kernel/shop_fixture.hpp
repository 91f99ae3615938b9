// The payment tests' common ground: a kernel with the test provider(s) (fakepay, whose
// simulator answers over real loopback HTTP) and the test product (shop), which counts what it
// delivers in shop_fulfilments.
#pragma once

#include <Poco/JSON/Parser.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engines.hpp"
#include "kernel_fixture.hpp"

namespace malipo::test {

inline const std::string kShopAdminToken = "admin-token-0123456789abcdefghijklmnop";

inline Poco::JSON::Object::Ptr parseObject(const std::string& s) {
  return Poco::JSON::Parser().parse(s).extract<Poco::JSON::Object::Ptr>();
}

// A test provider plugin (from tests/plugins) and its settings, as YAML flow text.
struct TestProvider {
  std::string name;
  std::string settings = "{}";
};

// The config of a kernel with `providers` and the shop product on `dbUrl`, rate limits out of
// the way, fast job polling.
inline std::string shopYaml(const std::string& dbUrl, int workers,
                            const std::vector<TestProvider>& providers,
                            const std::string& shopSettings = "{}") {
  std::string y =
      "server: {listen: \"127.0.0.1:0\", access_log: false, rate_limits: {default: "
      "{requests_per_minute: 1000000, burst: 100000}, "
      "buckets: {webhooks: {requests_per_minute: 1000000, burst: 100000}}}}\n"
      "database: {url: \"" +
      dbUrl +
      "\", pool_size: 16}\n"
      "admin: {token: " +
      kShopAdminToken +
      "}\n"
      "auth: {jwt_secret: test-secret-0123456789abcdefghijklmnop}\n"
      "jobs: {workers: " +
      std::to_string(workers) +
      ", poll_interval_ms: 20, rescue_interval_ms: 200}\n"
      "log: {level: error}\n"
      "sandbox: true\n"
      "plugins:\n";
  for (const auto& p : providers)
    y += "  - name: " + p.name + "\n    library: " + testPluginPath(p.name) +
         "\n    settings: " + p.settings + "\n";
  y += "  - name: shop\n    library: " + testPluginPath("shop") +
       "\n    settings: " + shopSettings + "\n";
  return y;
}

// A kernel booted from yaml() on a fresh database of the engine under test.
class ShopTest : public EngineTest {
 protected:
  // The config for `workers` job workers and the shop's settings.
  virtual std::string yaml(int workers, const std::string& shopSettings) = 0;

  void boot(int workers = 2, const std::string& shopSettings = "{}") {
    if (dbUrl_.empty()) dbUrl_ = url();
    kernel_ = std::make_unique<Kernel>(
        ConfigLoader::loadString(yaml(workers, shopSettings), "shop.yaml"));
    kernel_->open();
    kernel_->start();
    port_ = kernel_->port();
  }
  void TearDown() override { kernel_.reset(); }

  HttpResult admin(const std::string& method, const std::string& path, const std::string& body = "",
                   const std::string& idempotencyKey = "") {
    std::map<std::string, std::string> h{{"Authorization", "Bearer " + kShopAdminToken}};
    if (!idempotencyKey.empty()) h["Idempotency-Key"] = idempotencyKey;
    return http(port_, method, path, body, h);
  }
  std::string status(const std::string& id) {
    return kernel_->store()
        .query("SELECT status FROM payments WHERE id = ?", {id})
        .str(0, "status");
  }
  std::int64_t fulfilments(const std::string& id, const std::string& kind = "settled") {
    return kernel_->store()
        .query("SELECT COUNT(*) AS n FROM shop_fulfilments WHERE payment_id = ? AND kind = ?",
               {id, kind})
        .i64(0, "n");
  }

  std::string dbUrl_;
  std::unique_ptr<Kernel> kernel_;
  std::uint16_t port_ = 0;
};

}  // namespace malipo::test
