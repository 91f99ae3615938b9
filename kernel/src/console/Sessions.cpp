#include "console/Sessions.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace malipo {

namespace {
std::string hex(const unsigned char* p, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}
}  // namespace

std::vector<Migration> ConsoleSessions::migrations() {
  Migration m;
  m.version = 1;
  m.description = "console sessions (hash of the id only)";
  m.sqlite =
      "CREATE TABLE console_sessions (id_hash TEXT PRIMARY KEY, actor TEXT NOT NULL, role TEXT "
      "NOT NULL, csrf TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL);"
      "CREATE INDEX console_sessions_expiry ON console_sessions (expires_at)";
  m.postgresql = m.sqlite;
  return {m};
}

std::string ConsoleSessions::randomHex(std::size_t bytes) {
  std::string buf(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(buf.data()), static_cast<int>(bytes)) != 1)
    throw std::runtime_error("no random bytes for a console session");
  return hex(reinterpret_cast<const unsigned char*>(buf.data()), bytes);
}

std::string ConsoleSessions::sha256Hex(const std::string& text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr);
  return hex(md, len);
}

bool ConsoleSessions::constantTimeEquals(const std::string& a, const std::string& b) {
  if (a.size() != b.size() || a.empty()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string ConsoleSessions::create(const std::string& actor, const std::string& role,
                                    ConsoleSession& out) {
  std::string id = randomHex(32);
  out.actor = actor;
  out.role = role;
  out.csrf = randomHex(32);
  const std::int64_t now = clock_.nowMs();
  out.expiresAtMs = now + lifetimeMs_;
  db_.exec(
      "INSERT INTO console_sessions (id_hash, actor, role, csrf, created_at, expires_at) VALUES "
      "(?, ?, ?, ?, ?, ?)",
      {sha256Hex(id), actor, role, out.csrf, now, out.expiresAtMs});
  return id;
}

std::optional<ConsoleSession> ConsoleSessions::find(const std::string& id) {
  if (id.size() != 64) return std::nullopt;
  Rows r = db_.query(
      "SELECT actor, role, csrf, expires_at FROM console_sessions WHERE id_hash = ? AND "
      "expires_at > ?",
      {sha256Hex(id), clock_.nowMs()});
  if (r.empty()) return std::nullopt;
  ConsoleSession s;
  s.actor = r.str(0, "actor");
  s.role = r.str(0, "role");
  s.csrf = r.str(0, "csrf");
  s.expiresAtMs = r.i64(0, "expires_at");
  return s;
}

void ConsoleSessions::remove(const std::string& id) {
  db_.exec("DELETE FROM console_sessions WHERE id_hash = ?", {sha256Hex(id)});
}

int ConsoleSessions::purgeExpired() {
  return static_cast<int>(
      db_.exec("DELETE FROM console_sessions WHERE expires_at <= ?", {clock_.nowMs()}));
}

}  // namespace malipo
