// USSD interactions per second and their latency through the kernel, the Hubtel plugin and
// the credits product's catalog, with 64 sessions in flight at once: 64 keep-alive clients
// play Hubtel over loopback HTTP. Each session: Initiation → choose a package → quantity →
// confirm (one in four check out, which creates a payment) or cancel. Prints one line.
//
// Usage: hubtel_ussd_bench [DATABASE_URL] [SECONDS] [RATE]
//   DATABASE_URL  default: SQLite in a temporary folder
//   SECONDS       measured time after a one-second warm-up (default 10)
//   RATE          0 (default): closed loop, every client sends its next step as soon as the
//                 reply arrives: the capacity, with latency dominated by queueing. N > 0:
//                 the 64 sessions together offer N interactions per second on a fixed
//                 schedule; latency counts from the scheduled time, so a server that falls
//                 behind is charged for it (no coordinated omission).
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <thread>
#include <vector>

#include "app/Kernel.hpp"
#include "support/TestSupport.hpp"

using namespace malipo;
using Steady = std::chrono::steady_clock;

namespace {

const int kSessions = 64;

std::string body(const std::string& type, const std::string& session, const std::string& message,
                 int seq, const std::string& clientState, long mobile) {
  char phone[16];
  std::snprintf(phone, sizeof phone, "2332440%05ld", mobile % 100000);
  return R"({"Type":")" + type + R"(","Mobile":")" + phone + R"(","SessionId":")" + session +
         R"(","ServiceCode":"713","Message":")" + message + R"(","Operator":"mtn","Sequence":)" +
         std::to_string(seq) + R"(,"ClientState":")" + clientState + R"(","Platform":"USSD"})";
}

// A reply's string field, read without a JSON parser: on two cores the simulated Hubtel
// shares the CPU with the server, so it should cost little.
std::string field(const std::string& json, const std::string& name) {
  std::string key = "\"" + name + "\":\"";
  auto at = json.find(key);
  if (at == std::string::npos) return {};
  at += key.size();
  return json.substr(at, json.find('"', at) - at);
}

}  // namespace

int main(int argc, char** argv) {
  test::TempDir dir;
  std::string db = argc > 1 && *argv[1] ? argv[1] : "sqlite:" + dir.file("bench.db");
  int seconds = argc > 2 ? std::stoi(argv[2]) : 10;
  double rate = argc > 3 ? std::stod(argv[3]) : 0;
  try {
    std::string yaml =
        "server: {listen: \"127.0.0.1:0\", access_log: false, threads: 80, queue: 256, "
        "rate_limits: {default: "
        "{requests_per_minute: 10000000, burst: 1000000}, buckets: {webhooks: "
        "{requests_per_minute: 10000000, burst: 1000000}}}}\n"
        "database: {url: \"" +
        db +
        "\", pool_size: 16}\n"
        "jobs: {workers: 2, poll_interval_ms: 50}\n"
        "log: {level: error}\nsandbox: true\n"
        "plugins:\n"
        "  - {name: hubtel, library: " HUBTEL_PLUGIN
        ", settings: {client_state_secret: bench-secret-0123456789abcdefghijklmnop}}\n"
        "  - {name: credits, library: " CREDITS_PLUGIN ", settings: {providers: [hubtel]}}\n";
    Kernel k(ConfigLoader::loadString(yaml, "bench.yaml"));
    k.open();
    k.start();
    const std::uint16_t port = k.port();

    std::atomic<bool> measuring{false}, stop{false};
    std::atomic<long> sessionSeq{0}, errors{0}, checkouts{0};
    std::vector<std::vector<double>> lat(kSessions);
    std::vector<std::vector<double>> checkoutLat(kSessions);  // the confirmations that buy
    const auto begin = Steady::now();
    // Paced mode: each client sends every `interval`, starting at a staggered offset.
    const auto interval = rate > 0 ? std::chrono::duration<double>(kSessions / rate)
                                   : std::chrono::duration<double>(0);
    std::vector<std::thread> ts;
    for (int t = 0; t < kSessions; ++t)
      ts.emplace_back([&, t] {
        Poco::Net::HTTPClientSession s("127.0.0.1", port);
        s.setKeepAlive(true);
        s.setTimeout(Poco::Timespan(30, 0));
        auto next = begin + std::chrono::duration_cast<Steady::duration>(
                                interval * (static_cast<double>(t) / kSessions));
        struct Reply {
          std::string type, clientState;
        };
        bool buying = false;  // the next call is a confirmation that creates a payment
        auto call = [&](const std::string& b) -> std::optional<Reply> {
          auto t0 = Steady::now();
          if (rate > 0) {
            std::this_thread::sleep_until(next);
            t0 = next;  // late sends count against the server
            next += std::chrono::duration_cast<Steady::duration>(interval);
          }
          Poco::Net::HTTPRequest req("POST", "/ussd", Poco::Net::HTTPMessage::HTTP_1_1);
          req.setContentType("application/json");
          req.setContentLength64(static_cast<Poco::Int64>(b.size()));
          req.setKeepAlive(true);
          s.sendRequest(req) << b;
          Poco::Net::HTTPResponse resp;
          std::string out;
          Poco::StreamCopier::copyToString(s.receiveResponse(resp), out);
          double ms = std::chrono::duration<double, std::milli>(Steady::now() - t0).count();
          if (measuring) {
            lat[static_cast<std::size_t>(t)].push_back(ms);
            if (buying) checkoutLat[static_cast<std::size_t>(t)].push_back(ms);
          }
          if (resp.getStatus() != 200) {
            ++errors;
            return std::nullopt;
          }
          return Reply{field(out, "Type"), field(out, "ClientState")};
        };
        while (!stop) {
          long n = sessionSeq++;
          std::string id = "bench-" + std::to_string(n);
          try {
            auto r = call(body("Initiation", id, "*713#", 1, "", n));
            if (!r) continue;
            r = call(body("Response", id, std::to_string(1 + n % 3), 2, r->clientState, n));
            if (!r) continue;
            r = call(body("Response", id, "2", 3, r->clientState, n));
            if (!r) continue;
            bool buy = n % 4 == 0;
            buying = buy;
            r = call(body("Response", id, buy ? "1" : "2", 4, r->clientState, n));
            if (!r) continue;
            buying = false;
            if (buy && r->type == "AddToCart" && measuring) ++checkouts;
            if (r->type != (buy ? "AddToCart" : "release")) ++errors;
          } catch (const std::exception&) {
            ++errors;
            s.reset();
          }
        }
      });
    std::this_thread::sleep_for(std::chrono::seconds(1));  // warm-up: connections, caches
    measuring = true;
    auto start = Steady::now();
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    measuring = false;
    double elapsed = std::chrono::duration<double>(Steady::now() - start).count();
    stop = true;
    for (auto& th : ts) th.join();
    auto sorted = [](const std::vector<std::vector<double>>& per) {
      std::vector<double> out;
      for (auto& v : per) out.insert(out.end(), v.begin(), v.end());
      std::sort(out.begin(), out.end());
      return out;
    };
    std::vector<double> all = sorted(lat), buys = sorted(checkoutLat);
    auto pctOf = [](const std::vector<double>& v, double p) {
      return v.empty() ? 0.0
                       : v[std::min(v.size() - 1,
                                    static_cast<std::size_t>(p * static_cast<double>(v.size())))];
    };
    auto pct = [&](double p) { return pctOf(all, p); };
    std::string engine = db.rfind("postgresql", 0) == 0 ? "postgresql" : "sqlite";
    std::string mode =
        rate > 0 ? "offered " + std::to_string(static_cast<long>(rate)) + "/s" : "closed loop";
    std::printf(
        "hubtel ussd (%s, %s): %.0f interactions/s, p50 %.1f ms, p99 %.1f ms (target p99 <= 20 ms) "
        "with %d concurrent "
        "sessions; %zu interactions, %ld checkouts, %ld errors in %.1f s\n",
        engine.c_str(), mode.c_str(), static_cast<double>(all.size()) / elapsed, pct(0.50),
        pct(0.99), kSessions, all.size(), checkouts.load(), errors.load(), elapsed);
    // The confirmations that buy create a payment (several commits): the slowest step.
    std::printf("  checkout confirmations: p50 %.1f ms, p99 %.1f ms (%zu of them)\n",
                pctOf(buys, 0.50), pctOf(buys, 0.99), buys.size());
    return errors > 0 ? 1 : 0;
  } catch (const std::exception& e) {
    std::cerr << "hubtel_ussd_bench: " << e.what() << "\n";
    return 1;
  }
}
