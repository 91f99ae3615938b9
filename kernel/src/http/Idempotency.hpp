// Idempotency-Key for POST routes that create things (payments): stored in the database so
// a retry that lands on another process replays the same answer. Keys live 48 hours.
#pragma once

#include <optional>
#include <string>

#include "malipo/clock.hpp"
#include "malipo/http.hpp"
#include "store/Store.hpp"

namespace malipo {

class Idempotency {
 public:
  Idempotency(Store& store, const Clock& clock) : store_(store), clock_(clock) {}
  static std::vector<Migration> migrations();
  // Wraps `handler`: without the header it just runs it.
  Response run(const Request& req, const std::string& scope, const Handler& handler);
  int purge(std::int64_t olderThanMs);

 private:
  Store& store_;
  const Clock& clock_;
};

}  // namespace malipo
