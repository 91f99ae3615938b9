// The durable job queue (see malipo/jobs.hpp for the contract).
//
// One dispatcher thread claims batches (one UPDATE … RETURNING per batch, SKIP LOCKED on
// PostgreSQL), hands jobs to worker threads and writes their outcomes back in batches, so
// durable throughput comes from more work per commit rather than weaker durability.
// A per-claim owner token guards completions: a job whose lease expired and was claimed
// again cannot be completed by the first, late runner.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "malipo/clock.hpp"
#include "malipo/jobs.hpp"
#include "malipo/log.hpp"
#include "store/Store.hpp"

namespace malipo {

struct JobQueueOptions {
  int workers = 4;
  int batchSize = 32;
  std::int64_t pollIntervalMs = 200;
  std::int64_t rescueIntervalMs = 5000;
  std::int64_t keepDoneMs = 7LL * 24 * 3600 * 1000;
};

struct JobRow {
  std::int64_t id = 0;
  std::string kind, state, payload, lastError, uniqueKey;
  int attempts = 0, maxAttempts = 0;
  std::int64_t runAt = 0, createdAt = 0, updatedAt = 0;
};

class JobQueueImpl final : public JobQueue {
 public:
  JobQueueImpl(Store& store, const Clock& clock, Logger& logger, JobQueueOptions options);
  ~JobQueueImpl() override;

  static std::vector<Migration> migrations();

  void handle(const std::string& kind, JobHandler handler, JobKindOptions options = {}) override;
  void every(const std::string& kind, std::int64_t intervalMs) override;
  bool enqueue(Tx& tx, const JobSpec& spec) override;
  bool enqueue(const JobSpec& spec) override;
  // Records in `tx` a job whose work that same transaction did: its row is inserted done
  // (one attempt), so it never runs, and its unique key is taken as an enqueue's would be.
  // Returns false when the unique key already existed (that job does the work; roll back).
  bool recordDone(Tx& tx, const JobSpec& spec);

  void start();
  // Stops claiming, lets running jobs finish (up to `graceMs`), returns the claimed but
  // unstarted ones to the queue, writes every outcome. A handler still running after the
  // grace has its job returned to the queue (the attempt not counted) and its thread left
  // behind: drain then returns false, and the caller must not destroy this queue or the
  // plugins (the process should exit).
  bool drain(std::int64_t graceMs = 30000);
  // Extends the lease of each job running here whose lease is half spent, so a slow
  // handler is not taken for a dead one. The dispatcher calls it on every pass.
  int heartbeat();

  // Synchronous, for tests and the CLI: one claim of up to `max` due jobs, run on the calling
  // thread, outcomes written. Returns how many ran.
  int runOnce(int max = 1000);
  // Returns expired leases to the queue (or to dead when out of attempts). Returns how many.
  int rescueExpired();
  void schedulePeriodic();
  int purgeDone();

  // Backoff before retry after `attempt` failed runs: base·2^(attempt-1), capped, ±20% jitter.
  std::int64_t backoffMs(const JobKindOptions& o, int attempt);

  // Operator views.
  std::vector<JobRow> list(const std::string& state, int limit);
  std::map<std::string, std::int64_t> stats();
  bool retry(std::int64_t id);

  std::int64_t completed() const { return completed_.load(); }
  const std::string& owner() const { return owner_; }

 private:
  struct Claimed {
    Job job;
    std::string token;
    std::int64_t leaseMs = 0;
    std::int64_t leaseUntil = 0;
  };
  struct Running {
    std::string token;
    std::int64_t leaseMs = 0;
    std::int64_t leaseUntil = 0;
    std::size_t worker = 0;  // index into workers_
  };
  struct Completion {
    std::int64_t id;
    std::string token;
    std::string kind;
    JobOutcome outcome;
    int attempt;
  };

  std::int64_t insert(Tx& tx, const JobSpec& spec, bool done);
  std::vector<Claimed> claim(int max);
  std::vector<Claimed> claim(Tx& tx, int max);
  Completion runJob(const Claimed& c);
  void complete(const std::vector<Completion>& done);
  void complete(Tx& tx, const std::vector<Completion>& done);
  void dispatcherLoop();
  void workerLoop(std::size_t index);
  std::vector<std::string> handledKinds();
  const JobKindOptions& optionsFor(const std::string& kind);

  Store& store_;
  const Clock& clock_;
  Logger& log_;
  JobQueueOptions opts_;
  std::string owner_;
  std::atomic<std::int64_t> claimSeq_{0};
  std::atomic<std::int64_t> completed_{0};

  std::mutex handlersMutex_;
  std::map<std::string, std::pair<JobHandler, JobKindOptions>> handlers_;
  std::map<std::string, std::int64_t> periodic_;      // kind → interval
  std::map<std::string, std::int64_t> periodicSlot_;  // kind → last slot scheduled here
  JobKindOptions defaults_;

  std::mutex mutex_;
  std::condition_variable wake_;    // dispatcher: new work, completions, stop
  std::condition_variable workCv_;  // workers: jobs ready
  std::deque<Claimed> ready_;
  std::vector<Completion> completions_;
  int inflight_ = 0;                         // claimed and not yet completed
  std::map<std::int64_t, Running> running_;  // job id → started here, not yet completed
  bool stopping_ = false, stopWorkers_ = false, poke_ = false;
  std::thread dispatcher_;
  std::vector<std::thread> workers_;
  std::mutex rngMutex_;
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace malipo
