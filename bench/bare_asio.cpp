// The baseline of the same stack for the kernel-overhead benchmark: the kernel's connection
// layer (http/Connections: Boost.Asio, the strict HTTP/1.1 reader, timeouts, caps) with a
// trivial application that answers every request with the same bytes as the kernel's
// /healthz, on the I/O thread, with no pipeline behind it. Prints its port.
#include <signal.h>

#include <iostream>

#include "http/Connections.hpp"

namespace {
class Trivial final : public malipo::HttpApp {
 public:
  std::size_t begin(malipo::Exchange&) override { return 1 << 20; }
  void dispatch(std::shared_ptr<malipo::Exchange> ex) override {
    static const malipo::Response r = [] {
      malipo::Response x = malipo::Response::text(200, R"({"status":"ok"})", "application/json");
      x.header("X-Request-Id", "00000000-0000-4000-8000-000000000000");
      return x;
    }();
    ex->reply(r);
  }
};
}  // namespace

int main() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  Trivial app;
  malipo::ConnectionOptions o;
  o.listen = "127.0.0.1:0";
  malipo::Connections c(app, o);
  c.bind();
  c.start();
  std::cout << c.port() << std::endl;
  int sig = 0;
  sigwait(&set, &sig);
  c.closeAll();
  return 0;
}
