// What one crossing of the plugin ABI costs, without sockets: the test plugin's
// GET /test/hello/{name} handler called through the kernel's router (request record in, the
// plugin's C++ SDK builds its Request, runs the handler, its Response goes back as a record)
// against the same handler compiled into the kernel (a std::function call). Prints
// nanoseconds per call for each and the difference: the ABI's share of a plugin route.
// Usage: abi_call_bench PLUGIN_DIR [calls]
#include <Poco/JSON/Object.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "app/Kernel.hpp"
#include "config/ConfigLoader.hpp"

using namespace malipo;

namespace {
template <class Fn>
double nsPerCall(int n, Fn&& fn) {
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) fn();
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start)
             .count() /
         n;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: abi_call_bench PLUGIN_DIR [calls]\n";
    return 2;
  }
  int n = argc > 2 ? std::atoi(argv[2]) : 200000;
  auto dir =
      std::filesystem::temp_directory_path() / ("abi_call_bench_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string yaml = "database: {url: \"sqlite:" + (dir / "b.db").string() +
                     "\"}\nlog: {level: error}\n"
                     "auth: {jwt_secret: bench-only-secret-0123456789abcdefghijklmnop}\nplugins:\n"
                     "  - name: testplugin\n    library: " +
                     std::string(argv[1]) +
                     "/libmalipo_testplugin.so\n"
                     "    settings: {greeting: jambo}\n";
  int rc = 0;
  {
    Kernel k(ConfigLoader::loadString(yaml, "bench.yaml"));
    k.open();
    k.start(false);
    RouteMatch m = k.router().match("GET", "/test/hello/x");
    if (!m.route) {
      std::cerr << "no route /test/hello/{name}\n";
      return 1;
    }
    Request req;
    req.method = "GET";
    req.path = "/test/hello/x";
    req.headers["Host"] = "127.0.0.1:8080";
    req.headers["User-Agent"] = "wrk";
    req.headers["Accept"] = "*/*";
    req.clientIp = "127.0.0.1";
    req.requestId = "0f6c2d1e-5b8a-4c3e-9d7f-1a2b3c4d5e6f";
    req.pathParams = m.params;
    // The same handler as tests/plugins/test_plugin.cpp, compiled into this program.
    std::string greeting = "jambo";
    Handler native = [greeting](const Request& r) {
      Poco::JSON::Object o;
      o.set("greeting", greeting + ", " + r.param("name"));
      o.set("request_id", r.requestId);
      return Response::json(200, o);
    };
    const Handler& plugin = m.route->handler;
    if (plugin(req).body != native(req).body) {
      std::cerr << "the two handlers answer differently\n";
      rc = 1;
    }
    nsPerCall(n / 10, [&] { plugin(req); });  // warm-up
    double best[2] = {1e18, 1e18};
    for (int round = 0; round < 5; ++round) {  // best of 5 alternating rounds
      best[0] = std::min(best[0], nsPerCall(n, [&] { native(req); }));
      best[1] = std::min(best[1], nsPerCall(n, [&] { plugin(req); }));
    }
    std::printf("handler compiled into the kernel: %.0f ns per call\n", best[0]);
    std::printf(
        "the same handler in a plugin, through the ABI: %.0f ns per call (ABI crossing: %.0f ns)\n",
        best[1], best[1] - best[0]);
    k.shutdown();
  }
  std::filesystem::remove_all(dir);
  return rc;
}
