// HTTPS on the listening port (server.tls) over real loopback connections: a throwaway
// self-signed certificate made here with OpenSSL, TLS 1.2+ only, plain HTTP to the TLS port,
// the header timeout during the handshake, and the certificate reload on SIGHUP.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <signal.h>

#include <cstdio>
#include <thread>

#include "kernel_fixture.hpp"
#include "raw_socket.hpp"

using namespace malipo;
using namespace malipo::test;

namespace {

std::string hex(const unsigned char* p, unsigned n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < n; ++i) s.append(1, digits[p[i] >> 4]).append(1, digits[p[i] & 15]);
  return s;
}

std::string fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  X509_digest(cert, EVP_sha256(), md, &n);
  return hex(md, n);
}

// A self-signed P-256 certificate for 127.0.0.1 (subject CN `cn`), written as PEM to
// `certPath` and `keyPath`. Returns its SHA-256 fingerprint.
std::string makeCertificate(const std::string& certPath, const std::string& keyPath,
                            const std::string& cn) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x),
                   static_cast<long>(std::hash<std::string>{}(cn)&0x7fffffff));
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, "IP:127.0.0.1");
  X509_add_ext(x, san, -1);
  X509_EXTENSION_free(san);
  X509_sign(x, key, EVP_sha256());
  FILE* f = std::fopen(certPath.c_str(), "w");
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen(keyPath.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  std::string fp = fingerprint(x);
  X509_free(x);
  EVP_PKEY_free(key);
  return fp;
}

// A blocking TLS client on a Raw socket. `minVersion`/`maxVersion`: TLS1_VERSION … TLS1_3_VERSION.
// With `trustedCert` the server's certificate must verify against it (and name 127.0.0.1).
class TlsClient {
 public:
  TlsClient(std::uint16_t port, int minVersion = TLS1_2_VERSION, int maxVersion = 0,
            const std::string& trustedCert = "")
      : raw_(port) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (minVersion < TLS1_2_VERSION) {
      // Old versions need the lowest security level on our side, so that only the server
      // can be the one refusing them.
      SSL_CTX_set_security_level(ctx_, 0);
      SSL_CTX_set_cipher_list(ctx_, "DEFAULT:@SECLEVEL=0");
    }
    SSL_CTX_set_min_proto_version(ctx_, minVersion);
    if (maxVersion) SSL_CTX_set_max_proto_version(ctx_, maxVersion);
    if (!trustedCert.empty()) {
      SSL_CTX_load_verify_locations(ctx_, trustedCert.c_str(), nullptr);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    }
    ssl_ = SSL_new(ctx_);
    if (!trustedCert.empty()) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), "127.0.0.1");
    SSL_set_fd(ssl_, raw_.fd());
    ok_ = raw_.connected() && SSL_connect(ssl_) == 1;
  }
  ~TlsClient() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  bool ok() const { return ok_; }
  std::string version() const { return SSL_get_version(ssl_); }
  std::string peerFingerprint() const {
    X509* c = SSL_get1_peer_certificate(ssl_);
    if (!c) return "";
    std::string fp = fingerprint(c);
    X509_free(c);
    return fp;
  }
  bool send(const std::string& s) {
    return SSL_write(ssl_, s.data(), static_cast<int>(s.size())) > 0;
  }
  // One whole response (header block + Content-Length body), or what came before EOF.
  std::string response() {
    std::string in;
    char buf[16384];
    for (;;) {
      std::size_t end = in.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::size_t cl = in.find("Content-Length: ");
        std::size_t want = cl == std::string::npos ? 0 : std::stoul(in.substr(cl + 16));
        if (in.size() >= end + 4 + want) return in.substr(0, end + 4 + want);
      }
      int n = SSL_read(ssl_, buf, sizeof buf);
      if (n <= 0) return in;
      in.append(buf, static_cast<std::size_t>(n));
    }
  }
  std::string get(const std::string& target) {
    send("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    return response();
  }

 private:
  Raw raw_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool ok_ = false;
};

std::string tlsYaml(const TempDir& dir, const std::string& extra = "") {
  std::string yaml = kernelYaml("sqlite:" + dir.file("k.db"));
  const std::string at = "  access_log: false\n";
  yaml.replace(yaml.find(at), at.size(),
               at + "  header_timeout_ms: 400\n  tls: {cert: \"" + dir.file("cert.pem") +
                   "\", key: \"" + dir.file("key.pem") + "\"}\n" + extra);
  return yaml;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fp_ = makeCertificate(dir_.file("cert.pem"), dir_.file("key.pem"), "malipo-test-a");
    kernel_ = std::make_unique<Kernel>(ConfigLoader::loadString(tlsYaml(dir_), "tls.yaml"));
    kernel_->open();
    kernel_->start();
    port_ = kernel_->port();
  }
  void TearDown() override { kernel_.reset(); }
  TempDir dir_;
  std::string fp_;
  std::unique_ptr<Kernel> kernel_;
  std::uint16_t port_ = 0;
};

}  // namespace

TEST_F(TlsTest, HttpsRequestSucceedsWithTheConfiguredCertificate) {
  TlsClient c(port_, TLS1_2_VERSION, 0, dir_.file("cert.pem"));
  ASSERT_TRUE(c.ok()) << "handshake failed (certificate did not verify?)";
  EXPECT_EQ(c.peerFingerprint(), fp_);
  std::string r = c.get("/healthz");
  EXPECT_EQ(statusOf(r), 200) << r;
  EXPECT_NE(r.find(R"({"status":"ok"})"), std::string::npos);
  // Keep-alive, a route on the worker pool, and a body.
  c.send("POST /test/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 11\r\n\r\nhello world");
  r = c.response();
  EXPECT_EQ(statusOf(r), 200) << r;
  EXPECT_NE(r.find("hello world"), std::string::npos) << r;
  // 100-continue over TLS: the interim answer, then the final one.
  c.send(
      "POST /test/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\nContent-Length: "
      "5\r\n\r\n");
  std::string cont = c.response();
  EXPECT_EQ(cont.rfind("HTTP/1.1 100 Continue", 0), 0u) << cont;
  c.send("jambo");
  r = c.response();
  EXPECT_EQ(statusOf(r), 200) << r;
  EXPECT_NE(r.find("jambo"), std::string::npos) << r;
  // TLS 1.3 is what a current client gets.
  EXPECT_EQ(c.version(), "TLSv1.3");
  TlsClient v12(port_, TLS1_2_VERSION, TLS1_2_VERSION);
  ASSERT_TRUE(v12.ok());
  EXPECT_EQ(v12.version(), "TLSv1.2");
  EXPECT_EQ(statusOf(v12.get("/healthz")), 200);
}

TEST_F(TlsTest, Tls10And11AreRefused) {
  for (int v : {TLS1_VERSION, TLS1_1_VERSION}) {
    TlsClient old(port_, v, v);
    EXPECT_FALSE(old.ok()) << "version " << std::hex << v << " was accepted";
  }
  std::string metrics = TlsClient(port_).get("/metrics");
  EXPECT_NE(metrics.find("malipo_tls_handshake_failures_total 2"), std::string::npos) << metrics;
}

TEST_F(TlsTest, PlainHttpToTheTlsPortGetsAPlain400AndIsClosed) {
  Raw raw(port_);
  raw.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  std::string r = raw.readFor(3000);
  EXPECT_EQ(statusOf(r), 400) << r;
  EXPECT_NE(r.find("this port speaks HTTPS"), std::string::npos) << r;
  EXPECT_NE(r.find("Connection: close"), std::string::npos) << r;
  EXPECT_TRUE(raw.eof()) << "the connection stays open";
  // The server still serves HTTPS afterwards.
  EXPECT_EQ(statusOf(TlsClient(port_).get("/healthz")), 200);
}

TEST_F(TlsTest, SlowHandshakeAndSlowHeadersGetTheHeaderTimeout) {
  // A connection that never completes its handshake (one byte of a ClientHello) is closed
  // after header_timeout_ms (400 ms here), without an answer.
  Raw silent(port_);
  silent.send(std::string(1, '\x16'));
  auto t0 = std::chrono::steady_clock::now();
  std::string got = silent.readFor(5000);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_TRUE(silent.eof());
  EXPECT_TRUE(got.empty());
  EXPECT_LT(ms, 3000);
  // After the handshake, a header block that stops half-way gets 408.
  TlsClient slow(port_);
  ASSERT_TRUE(slow.ok());
  slow.send("GET /healthz HTTP/1.1\r\nHost: 127");
  std::string r = slow.response();
  EXPECT_EQ(statusOf(r), 408) << r;
  std::string metrics = TlsClient(port_).get("/metrics");
  EXPECT_NE(metrics.find("malipo_http_connections_timed_out_total 2"), std::string::npos)
      << metrics;
}

TEST(TlsConfig, AMissingOrMismatchedCertificateStopsStartUp) {
  TempDir dir;
  makeCertificate(dir.file("cert.pem"), dir.file("other-key.pem"), "a");
  makeCertificate(dir.file("other.pem"), dir.file("key.pem"), "b");
  Kernel k(ConfigLoader::loadString(tlsYaml(dir), "tls.yaml"));
  k.open();
  try {
    k.start();
    FAIL() << "started with a key that does not match the certificate";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("does not match the certificate"), std::string::npos)
        << e.what();
  }
  // check-config refuses it too, with the same line.
  writeFile(dir.file("malipo.yaml"), tlsYaml(dir));
  auto check =
      runCommand(std::string(MALIPO_BINARY) + " check-config --config " + dir.file("malipo.yaml"));
  EXPECT_EQ(check.first, 1) << check.second;
  EXPECT_NE(check.second.find("does not match the certificate"), std::string::npos) << check.second;
}

TEST(TlsProcess, SighupReloadsTheCertificateForNewConnections) {
  TempDir dir;
  std::string fpA = makeCertificate(dir.file("cert.pem"), dir.file("key.pem"), "malipo-test-a");
  std::string config = dir.file("malipo.yaml");
  std::string yaml = tlsYaml(dir);
  yaml.replace(yaml.find("log: {level: error}"), 19, "log: {level: info}");
  yaml.replace(yaml.find("header_timeout_ms: 400"), 22, "header_timeout_ms: 5000");
  writeFile(config, yaml);
  std::string portFile = dir.file("port");
  Child server({MALIPO_BINARY, "serve", "--config", config, "--port-file", portFile},
               dir.file("server.log"));
  std::uint16_t port = waitForPortFile(portFile);
  ASSERT_NE(port, 0) << readFile(dir.file("server.log"));

  TlsClient before(port);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before.peerFingerprint(), fpA);
  EXPECT_EQ(statusOf(before.get("/healthz")), 200);

  // New files in place (written aside and renamed, as a certificate renewal does), then SIGHUP.
  std::string fpB = makeCertificate(dir.file("cert.new"), dir.file("key.new"), "malipo-test-b");
  ASSERT_NE(fpA, fpB);
  std::rename(dir.file("key.new").c_str(), dir.file("key.pem").c_str());
  std::rename(dir.file("cert.new").c_str(), dir.file("cert.pem").c_str());
  server.signal(SIGHUP);
  EXPECT_TRUE(eventually(
      [&] {
        return readFile(dir.file("server.log")).find("TLS certificate reloaded") !=
               std::string::npos;
      },
      5000))
      << readFile(dir.file("server.log"));
  TlsClient after(port, TLS1_2_VERSION, 0, dir.file("cert.pem"));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after.peerFingerprint(), fpB);
  EXPECT_EQ(statusOf(after.get("/healthz")), 200);
  // The connection opened before keeps its certificate and still serves.
  EXPECT_EQ(before.peerFingerprint(), fpA);
  EXPECT_EQ(statusOf(before.get("/healthz")), 200);

  // A broken file: the reload is refused and the running certificate stays.
  writeFile(dir.file("cert.pem"), "not a certificate\n");
  server.signal(SIGHUP);
  EXPECT_TRUE(eventually(
      [&] {
        return readFile(dir.file("server.log")).find("TLS certificate not reloaded") !=
               std::string::npos;
      },
      5000))
      << readFile(dir.file("server.log"));
  TlsClient still(port);
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still.peerFingerprint(), fpB);

  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(15000), 0) << readFile(dir.file("server.log"));
}
