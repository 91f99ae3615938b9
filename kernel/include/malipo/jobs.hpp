// The durable job queue lent to plugins.
//
// Jobs live in the same database as everything else, so a state change and the job it
// triggers commit in one transaction (enqueue(tx, …)). A job is claimed with a lease; if the
// process dies the lease expires and the job runs again: handlers must be idempotent.
// Failed runs are retried with exponential backoff and jitter up to maxAttempts (default 4),
// then the job is `dead` (visible to operators, retryable by hand).
// Threading: handlers run on the queue's worker threads, concurrently with each other.
// Lifetime: handlers are kept until shutdown; the queue is drained before plugins are
// destroyed.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "malipo/db.hpp"

namespace malipo {

struct Job {
  std::int64_t id = 0;
  std::string kind;
  std::string payload;  // usually JSON
  int attempt = 1;      // 1 for the first run
  int maxAttempts = 4;
};

struct JobOutcome {
  enum class Kind { done, retry, fail } kind = Kind::done;
  std::string error;
  std::int64_t retryInMs = -1;  // -1: the queue's backoff schedule

  static JobOutcome ok() { return {}; }
  static JobOutcome retry(std::string why, std::int64_t inMs = -1) {
    return {Kind::retry, std::move(why), inMs};
  }
  // Permanent failure: no more attempts; the job is dead.
  static JobOutcome fail(std::string why) { return {Kind::fail, std::move(why), -1}; }
};

using JobHandler = std::function<JobOutcome(const Job&)>;

struct JobSpec {
  std::string kind;
  std::string payload;
  std::string uniqueKey;     // non-empty: no second job with this key while the first is kept
                             // (finished jobs are purged after jobs.keep_done_hours)
  std::int64_t runAtMs = 0;  // 0: now
  int maxAttempts = 0;       // 0: the kind's default (or 4)
};

struct JobKindOptions {
  int maxAttempts = 4;
  std::int64_t leaseMs = 60000;       // how long a claim lasts before the rescuer takes it back
  std::int64_t backoffBaseMs = 1000;  // delay before retry n is base * 2^(n-1), ± jitter
  std::int64_t backoffMaxMs = 3600000;
};

class JobQueue {
 public:
  virtual ~JobQueue() = default;
  virtual void handle(const std::string& kind, JobHandler handler, JobKindOptions options = {}) = 0;
  // Runs `kind` every `intervalMs` (one run per interval across all processes).
  virtual void every(const std::string& kind, std::int64_t intervalMs) = 0;
  // Enqueues inside the caller's transaction; returns false when uniqueKey already existed.
  virtual bool enqueue(Tx& tx, const JobSpec& spec) = 0;
  virtual bool enqueue(const JobSpec& spec) = 0;
};

}  // namespace malipo
