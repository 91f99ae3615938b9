// Console sessions, in the database (table console_sessions, migration history
// "kernel.console"): only the SHA-256 of a session id is stored, with the operator's name and
// role, its CSRF token and when it expires.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "malipo/clock.hpp"
#include "malipo/db.hpp"

namespace malipo {

struct ConsoleSession {
  std::string actor, role, csrf;
  std::int64_t expiresAtMs = 0;
  bool operatorRole() const { return role == "operator"; }
};

class ConsoleSessions {
 public:
  ConsoleSessions(Database& db, const Clock& clock, std::int64_t lifetimeMs)
      : db_(db), clock_(clock), lifetimeMs_(lifetimeMs) {}
  static std::vector<Migration> migrations();

  // A new session; returns its id (to the cookie only) and fills `out`.
  std::string create(const std::string& actor, const std::string& role, ConsoleSession& out);
  // The live session of `id`, if any (expired ones are not).
  std::optional<ConsoleSession> find(const std::string& id);
  void remove(const std::string& id);
  int purgeExpired();
  std::int64_t lifetimeMs() const { return lifetimeMs_; }

  static std::string randomHex(std::size_t bytes);
  static std::string sha256Hex(const std::string& text);
  // Equal strings, compared in time that depends only on their lengths.
  static bool constantTimeEquals(const std::string& a, const std::string& b);

 private:
  Database& db_;
  const Clock& clock_;
  std::int64_t lifetimeMs_;
};

}  // namespace malipo
