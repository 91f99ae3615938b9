// Debian's nginx for tests: a throwaway prefix folder, no daemon, one worker, on a free
// loopback port, serving the `http {}` level text it is given.
#pragma once

#include <Poco/File.h>
#include <Poco/Net/ServerSocket.h>
#include <signal.h>

#include <memory>
#include <string>

#include "raw_socket.hpp"
#include "support/TestSupport.hpp"

namespace malipo::test {

inline std::string findNginx() {
  for (const char* p : {"/usr/sbin/nginx", "/usr/bin/nginx"})
    if (Poco::File(p).exists()) return p;
  return "";
}

inline std::uint16_t freePort() {
  Poco::Net::ServerSocket s(Poco::Net::SocketAddress("127.0.0.1:0"));
  return s.address().port();
}

class Nginx {
 public:
  // `httpBlock`: what goes inside `http {}` (server blocks, upstreams, includes).
  Nginx(const TempDir& dir, std::uint16_t port, const std::string& httpBlock)
      : dir_(dir), port_(port) {
    writeFile(dir.file("nginx.conf"),
              "daemon off;\nmaster_process off;\nworker_processes 1;\npid " +
                  dir.file("nginx.pid") + ";\nerror_log " + dir.file("error.log") +
                  " warn;\nevents { worker_connections 64; }\n" +
                  "http {\n  access_log off;\n  client_body_temp_path " + dir.file("body") +
                  ";\n  proxy_temp_path " + dir.file("proxy") + ";\n  fastcgi_temp_path " +
                  dir.file("fcgi") + ";\n  uwsgi_temp_path " + dir.file("uwsgi") +
                  ";\n  scgi_temp_path " + dir.file("scgi") + ";\n" + httpBlock + "\n}\n");
    child_ = std::make_unique<Child>(
        std::vector<std::string>{findNginx(), "-p", dir.path(), "-e", dir.file("error.log"), "-c",
                                 dir.file("nginx.conf")},
        dir.file("nginx.out"));
    up_ = eventually([&] { return Raw(port).connected(); }, 10000);
  }
  ~Nginx() {
    child_->signal(SIGTERM);
    child_->wait(5000);
  }
  bool up() const { return up_; }
  std::uint16_t port() const { return port_; }
  std::string errors() const {
    return readFile(dir_.file("error.log")) + readFile(dir_.file("nginx.out"));
  }

 private:
  const TempDir& dir_;
  std::uint16_t port_;
  std::unique_ptr<Child> child_;
  bool up_ = false;
};

}  // namespace malipo::test
