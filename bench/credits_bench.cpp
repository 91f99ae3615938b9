// Credits top-ups through the Flutterwave plugin and its simulator over loopback HTTP:
// top-up initiations per second (JWT, package lookup, payment created at the provider) and
// webhook-to-credit latency (p50/p99: the kernel's webhook event → the ledger row).
// Usage: credits_bench DATABASE_URL PLUGIN_DIR [TOPUPS]
#include <Poco/JSON/Parser.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>

#include <algorithm>
#include <chrono>
#include <iostream>

#include "app/Kernel.hpp"
#include "support/TestSupport.hpp"

using namespace malipo;
using Steady = std::chrono::steady_clock;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: credits_bench DATABASE_URL PLUGIN_DIR [TOPUPS]\n";
    return 2;
  }
  std::string db = argv[1], dir = argv[2];
  int n = argc > 3 ? std::stoi(argv[3]) : 400;
  try {
    std::string yaml =
        "server: {listen: \"127.0.0.1:0\", access_log: false, rate_limits: {default: "
        "{requests_per_minute: 10000000, burst: 1000000}, "
        "buckets: {webhooks: {requests_per_minute: 10000000, burst: 1000000}}}}\n"
        "database: {url: \"" +
        db +
        "\", pool_size: 16}\n"
        "auth: {jwt_secret: bench-secret-0123456789abcdefghijklmnop}\n"
        "jobs: {workers: 8, batch_size: 64, poll_interval_ms: 5}\n"
        "log: {level: error}\nsandbox: true\n"
        "plugins:\n"
        "  - {name: flutterwave, library: " +
        dir +
        "/libmalipo_flutterwave.so}\n"
        "  - {name: credits, library: " +
        dir + "/libmalipo_credits.so, settings: {topups_per_user_per_hour: 100000}}\n";
    Kernel k(ConfigLoader::loadString(yaml, "bench.yaml"));
    k.open();
    k.start();
    auto port = k.port();
    Poco::JWT::Token t;
    t.setSubject("bench-user");
    t.setExpiration(Poco::Timestamp() + Poco::Timespan(3600, 0));
    std::string jwt = Poco::JWT::Signer("bench-secret-0123456789abcdefghijklmnop")
                          .sign(t, Poco::JWT::Signer::ALGO_HS256);

    std::vector<std::string> links(static_cast<std::size_t>(n));
    std::atomic<int> next{0};
    std::vector<std::thread> ts;
    auto start = Steady::now();
    for (int w = 0; w < 8; ++w)
      ts.emplace_back([&] {
        for (int i; (i = next++) < n;) {
          auto r = test::http(port, "POST", "/api/v1/verification-credits/topup",
                              R"({"packageId": "pkg_10_credits"})",
                              {{"Authorization", "Bearer " + jwt}});
          if (r.status != 200) {
            std::cerr << "topup answered " << r.status << ": " << r.body << "\n";
            continue;
          }
          links[static_cast<std::size_t>(i)] = Poco::JSON::Parser()
                                                   .parse(r.body)
                                                   .extract<Poco::JSON::Object::Ptr>()
                                                   ->getObject("data")
                                                   ->getValue<std::string>("paymentUrl");
        }
      });
    for (auto& th : ts) th.join();
    double initSecs = std::chrono::duration<double>(Steady::now() - start).count();
    ts.clear();
    // Customers pay on the simulator's checkout page; it sends the webhooks.
    next = 0;
    for (int w = 0; w < 8; ++w)
      ts.emplace_back([&] {
        for (int i; (i = next++) < n;) {
          const std::string& link = links[static_cast<std::size_t>(i)];
          if (link.empty()) continue;
          std::string path = link.substr(link.find("/sandbox/"));
          test::http(port, "POST", path, "card_number=4242424242424242", {},
                     "application/x-www-form-urlencoded");
        }
      });
    for (auto& th : ts) th.join();
    auto deadline = Steady::now() + std::chrono::seconds(120);
    while (k.store().query("SELECT COUNT(*) AS n FROM credit_ledger").i64(0, "n") < n &&
           Steady::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    Rows lat = k.store().query(
        "SELECT l.created_at - MIN(e.created_at) AS ms FROM credit_ledger l JOIN payment_events e "
        "ON e.payment_id = l.source AND e.kind = 'webhook' GROUP BY l.id, l.created_at");
    std::vector<std::int64_t> v;
    for (std::size_t i = 0; i < lat.size(); ++i) v.push_back(lat.i64(i, "ms"));
    std::sort(v.begin(), v.end());
    auto pct = [&](double q) {
      return v.empty() ? -1
                       : v[std::min(v.size() - 1,
                                    static_cast<std::size_t>(q * static_cast<double>(v.size())))];
    };
    std::int64_t credited = k.store().query("SELECT COUNT(*) AS n FROM credit_ledger").i64(0, "n");
    std::cout << (k.store().engine() == Engine::sqlite ? "sqlite" : "postgresql") << ": " << n
              << " top-ups initiated in " << initSecs << " s = " << static_cast<long>(n / initSecs)
              << " initiations/s; " << credited << " credited; webhook-to-credit p50 " << pct(0.5)
              << " ms, p99 " << pct(0.99) << " ms\n";
    k.shutdown();
    return credited == n ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "credits_bench: " << e.what() << "\n";
    return 1;
  }
}
