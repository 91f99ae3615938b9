// The kernel's own share of a request, without sockets: a GET /healthz as the HTTP handler
// builds it, matched and run through HttpServer::handle (request id, rate limit, auth check,
// handler, CORS, metrics, access log) in a loop. Prints nanoseconds per request on one
// thread and on two, with 60 routes registered (about what the default config mounts).
// Usage: pipeline_bench [requests per thread]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>
#include <vector>

#include "app/KernelLogger.hpp"
#include "http/HttpServer.hpp"
#include "http/MetricsRegistry.hpp"
#include "http/RouterImpl.hpp"

using namespace malipo;

namespace {
double run(HttpServer& server, int threads, int perThread) {
  auto worker = [&] {
    for (int i = 0; i < perThread; ++i) {
      Request req;
      req.method = "GET";
      req.path = "/healthz";
      req.headers["Host"] = "127.0.0.1:8080";
      req.clientIp = "127.0.0.1";
      RouteMatch m = server.match(req);
      Response r = server.handle(req, m, false);
      if (r.status != 200) {
        std::cerr << "unexpected status " << r.status << "\n";
        std::exit(1);
      }
    }
  };
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  double ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  return ns / (static_cast<double>(threads) * perThread);
}
}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 500000;
  RouterImpl router;
  router.add("GET", "/healthz", [](const Request&) {
    return Response::text(200, R"({"status":"ok"})", "application/json");
  });
  for (int i = 0; i < 59; ++i)
    router.add(i % 2 ? "POST" : "GET",
               "/plugin" + std::to_string(i % 5) + "/things/{id}/part" + std::to_string(i),
               [](const Request&) { return Response::text(200, "{}", "application/json"); });
  router.freeze();
  MetricsRegistry metrics;
  KernelLogger log(LogLevel::info);  // stderr: send it to /dev/null to keep the terminal quiet
  SystemClock clock;
  HttpOptions opts;
  opts.defaultLimit = {1e12, 1e12};
  opts.accessLog = std::getenv("NO_ACCESS_LOG") == nullptr;
  HttpServer server(router, metrics, log, clock, opts);
  run(server, 1, n / 10);  // warm-up
  double one = run(server, 1, n);
  double two = run(server, 2, n / 2);
  log.flush();
  std::printf("pipeline, 1 thread:  %.0f ns per request (%d requests)\n", one, n);
  std::printf("pipeline, 2 threads: %.0f ns of wall time per request (%d requests)\n", two, n);
  return 0;
}
