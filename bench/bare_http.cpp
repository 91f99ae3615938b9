// The baseline for the kernel-overhead benchmark: a bare Poco HTTPServer answering the same
// bytes as the kernel's /healthz, with the same thread settings. Prints its port.
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <signal.h>

#include <iostream>

namespace {
class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  void handleRequest(Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& out) override {
    static const std::string body = "{\"status\":\"ok\"}";
    out.setContentType("application/json");
    // The same bytes as the kernel's reply, with no work behind them: the strictest baseline.
    out.set("X-Request-Id", "00000000-0000-4000-8000-000000000000");
    out.setContentLength(static_cast<std::streamsize>(body.size()));
    out.sendBuffer(body.data(), body.size());
  }
};
class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new Handler;
  }
};
}  // namespace

int main() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1:0"), 128);
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(32);
  params->setMaxQueued(256);
  params->setKeepAlive(true);
  params->setMaxKeepAliveRequests(10000);
  Poco::ThreadPool pool(2, 34, 60);
  Poco::Net::HTTPServer server(new Factory, pool, socket, params);
  server.start();
  std::cout << server.port() << std::endl;
  int sig = 0;
  sigwait(&set, &sig);
  server.stopAll(true);
  return 0;
}
