// Console sessions, in the database (table console_sessions, migration history
// "kernel.console"): only the SHA-256 of a session id is stored, with the operator's name and
// role, its CSRF token, when it expires and its one-shot flash message (the notice an action
// leaves for the next page). The sign-in limiter's counts are in the database too (table
// console_sign_ins), so every process on one database shares them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "malipo/clock.hpp"
#include "malipo/db.hpp"

namespace malipo {

struct ConsoleSession {
  std::string idHash;  // the row's key (SHA-256 of the cookie's id)
  std::string actor, role, csrf;
  std::string flash;  // the notice waiting for the next page (empty: none)
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
  // The one-shot notice of a session: set by an action, shown once by the next page.
  void setFlash(const std::string& idHash, const std::string& text);
  // Clears `text` as the flash of `idHash`; true for the one caller that cleared it.
  bool takeFlash(const std::string& idHash, const std::string& text);

  // One sign-in attempt from `address`: 0 when it is within `perMinute` attempts of the minute
  // that began with the address's first attempt, else the seconds until that minute ends.
  // Counted in one upsert, so two processes on one database share the count.
  int signInAttempt(const std::string& address, int perMinute);
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
