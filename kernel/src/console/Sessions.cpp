#include "console/Sessions.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

namespace malipo {

namespace {
constexpr std::int64_t kMinuteMs = 60000;

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
  Migration shared;
  shared.version = 2;
  shared.description = "console flash messages and the shared sign-in limiter";
  shared.sqlite =
      "ALTER TABLE console_sessions ADD COLUMN flash TEXT;"
      "CREATE TABLE console_sign_ins (address TEXT PRIMARY KEY, window_start BIGINT NOT NULL, "
      "attempts BIGINT NOT NULL)";
  shared.postgresql = shared.sqlite;
  return {m, shared};
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
      "SELECT id_hash, actor, role, csrf, flash, expires_at FROM console_sessions WHERE id_hash = "
      "? AND expires_at > ?",
      {sha256Hex(id), clock_.nowMs()});
  if (r.empty()) return std::nullopt;
  ConsoleSession s;
  s.idHash = r.str(0, "id_hash");
  if (!r.isNull(0, "flash")) s.flash = r.str(0, "flash");
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
  const std::int64_t now = clock_.nowMs();
  db_.exec("DELETE FROM console_sign_ins WHERE window_start <= ?", {now - kMinuteMs});
  return static_cast<int>(db_.exec("DELETE FROM console_sessions WHERE expires_at <= ?", {now}));
}

void ConsoleSessions::setFlash(const std::string& idHash, const std::string& text) {
  db_.exec("UPDATE console_sessions SET flash = ? WHERE id_hash = ?", {text, idHash});
}

bool ConsoleSessions::takeFlash(const std::string& idHash, const std::string& text) {
  return db_.exec("UPDATE console_sessions SET flash = NULL WHERE id_hash = ? AND flash = ?",
                  {idHash, text}) == 1;
}

int ConsoleSessions::signInAttempt(const std::string& address, int perMinute) {
  const std::int64_t now = clock_.nowMs();
  std::int64_t start = now, attempts = 0;
  db_.write([&](Tx& tx) {
    // A minute that has passed starts again at 1; otherwise one more. The upsert takes the
    // row's lock, so concurrent attempts (from any process) are counted one after the other.
    tx.exec(
        "INSERT INTO console_sign_ins (address, window_start, attempts) VALUES (?, ?, 1) "
        "ON CONFLICT (address) DO UPDATE SET attempts = CASE WHEN console_sign_ins.window_start "
        "<= ? THEN 1 ELSE console_sign_ins.attempts + 1 END, window_start = CASE WHEN "
        "console_sign_ins.window_start <= ? THEN ? ELSE console_sign_ins.window_start END",
        {address, now, now - kMinuteMs, now - kMinuteMs, now});
    Rows r = tx.query("SELECT window_start, attempts FROM console_sign_ins WHERE address = ?",
                      {address});
    start = r.i64(0, "window_start");
    attempts = r.i64(0, "attempts");
  });
  if (attempts <= perMinute) return 0;
  return static_cast<int>(std::max<std::int64_t>(1, (start + kMinuteMs - now + 999) / 1000));
}

}  // namespace malipo
