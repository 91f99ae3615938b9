#include "jobs/JobQueueImpl.hpp"

#include <Poco/Process.h>
#include <Poco/UUIDGenerator.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>

#include "app/LogContext.hpp"

namespace malipo {

JobQueueImpl::JobQueueImpl(Store& store, const Clock& clock, Logger& logger,
                           JobQueueOptions options)
    : store_(store), clock_(clock), log_(logger), opts_(options) {
  owner_ = Poco::UUIDGenerator::defaultGenerator().createRandom().toString().substr(0, 8) + "-" +
           std::to_string(Poco::Process::id());
}

JobQueueImpl::~JobQueueImpl() {
  drain(0);
}

std::vector<Migration> JobQueueImpl::migrations() {
  Migration m;
  m.version = 1;
  m.description = "jobs table";
  const std::string cols =
      "kind TEXT NOT NULL, payload TEXT NOT NULL DEFAULT '', state TEXT NOT NULL, "
      "attempts BIGINT NOT NULL DEFAULT 0, max_attempts BIGINT NOT NULL, run_at BIGINT NOT NULL, "
      "lease_ms BIGINT NOT NULL, lease_until BIGINT, lease_owner TEXT, unique_key TEXT UNIQUE, "
      "last_error TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);"
      "CREATE INDEX jobs_ready ON jobs (state, run_at);"
      "CREATE INDEX jobs_lease ON jobs (state, lease_until)";
  m.sqlite = "CREATE TABLE jobs (id INTEGER PRIMARY KEY, " + cols;
  m.postgresql = "CREATE TABLE jobs (id BIGSERIAL PRIMARY KEY, " + cols;
  // Partial indexes: every update of a job row writes an entry in each index whose
  // predicate the new row meets, so a job now costs three index entries per state change
  // instead of four; and the claim reads due jobs in (run_at, id) order straight from the
  // index, stopping at its LIMIT, instead of sorting every queued row. PostgreSQL:
  // autovacuum and analyze after 1% of the rows changed, not 20% (the table is a queue).
  Migration m2;
  m2.version = 2;
  m2.description = "jobs: partial indexes for the claim, the rescuer and the purge";
  m2.sqlite =
      "DROP INDEX jobs_ready; DROP INDEX jobs_lease;"
      "CREATE INDEX jobs_due ON jobs (run_at, id) WHERE state = 'queued';"
      "CREATE INDEX jobs_leased ON jobs (lease_until) WHERE state = 'running';"
      "CREATE INDEX jobs_done ON jobs (updated_at) WHERE state = 'done'";
  m2.postgresql =
      m2.sqlite +
      ";ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.01, "
      "autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.01)";
  return {m, m2};
}

void JobQueueImpl::handle(const std::string& kind, JobHandler handler, JobKindOptions options) {
  std::lock_guard<std::mutex> lock(handlersMutex_);
  if (handlers_.count(kind))
    throw std::logic_error("job kind '" + kind + "' has a handler already");
  handlers_[kind] = {std::move(handler), options};
}

void JobQueueImpl::every(const std::string& kind, std::int64_t intervalMs) {
  std::lock_guard<std::mutex> lock(handlersMutex_);
  periodic_[kind] = std::max<std::int64_t>(intervalMs, 1);
}

const JobKindOptions& JobQueueImpl::optionsFor(const std::string& kind) {
  std::lock_guard<std::mutex> lock(handlersMutex_);
  auto it = handlers_.find(kind);
  return it == handlers_.end() ? defaults_ : it->second.second;
}

std::vector<std::string> JobQueueImpl::handledKinds() {
  std::lock_guard<std::mutex> lock(handlersMutex_);
  std::vector<std::string> kinds;
  for (const auto& kv : handlers_) kinds.push_back(kv.first);
  return kinds;
}

std::int64_t JobQueueImpl::insert(Tx& tx, const JobSpec& spec, bool done) {
  const JobKindOptions& o = optionsFor(spec.kind);
  std::int64_t now = clock_.nowMs();
  std::int64_t runAt = spec.runAtMs > 0 ? spec.runAtMs : now;
  int maxAttempts = spec.maxAttempts > 0 ? spec.maxAttempts : o.maxAttempts;
  Value unique = spec.uniqueKey.empty() ? Value(Null{}) : Value(spec.uniqueKey);
  return tx.exec(
      "INSERT INTO jobs (kind, payload, state, attempts, max_attempts, run_at, lease_ms, "
      "unique_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT DO NOTHING",
      {spec.kind, spec.payload, std::string(done ? "done" : "queued"),
       static_cast<std::int64_t>(done ? 1 : 0), static_cast<std::int64_t>(maxAttempts), runAt,
       o.leaseMs, unique, now, now});
}

bool JobQueueImpl::recordDone(Tx& tx, const JobSpec& spec) {
  return insert(tx, spec, true) > 0;
}

bool JobQueueImpl::enqueue(Tx& tx, const JobSpec& spec) {
  std::int64_t n = insert(tx, spec, false);
  const std::int64_t now = clock_.nowMs();
  const std::int64_t runAt = spec.runAtMs > 0 ? spec.runAtMs : now;
  if (n > 0 && runAt <= now) {
    tx.onCommit([this] {
      std::lock_guard<std::mutex> lock(mutex_);
      poke_ = true;
      wake_.notify_one();
    });
  }
  return n > 0;
}

bool JobQueueImpl::enqueue(const JobSpec& spec) {
  bool created = false;
  store_.write([&](Tx& tx) { created = enqueue(tx, spec); });
  return created;
}

std::vector<JobQueueImpl::Claimed> JobQueueImpl::claim(int max) {
  std::vector<Claimed> out;
  store_.write([&](Tx& tx) { out = claim(tx, max); });
  return out;
}

std::vector<JobQueueImpl::Claimed> JobQueueImpl::claim(Tx& tx, int max) {
  std::vector<Claimed> out;
  auto kinds = handledKinds();
  if (kinds.empty() || max <= 0) return out;
  std::string inList;
  Params params;
  std::int64_t now = clock_.nowMs();
  std::string token = owner_ + ":" + std::to_string(++claimSeq_);
  params.push_back(now);
  params.push_back(token);
  params.push_back(now);
  params.push_back(now);
  for (const auto& k : kinds) {
    inList += inList.empty() ? "?" : ", ?";
    params.push_back(k);
  }
  params.push_back(static_cast<std::int64_t>(max));
  std::string sql =
      "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = ? + lease_ms, "
      "lease_owner = ?, updated_at = ? WHERE id IN (SELECT id FROM jobs WHERE state = 'queued' AND "
      "run_at <= ? AND kind IN (" +
      inList + ") ORDER BY run_at, id LIMIT ?" +
      (store_.engine() == Engine::postgresql ? " FOR UPDATE SKIP LOCKED" : "") +
      ") RETURNING id, kind, payload, attempts, max_attempts, lease_ms";
  Rows rows = tx.query(sql, params);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    Claimed c;
    c.job.id = rows.i64(r, "id");
    c.job.kind = rows.str(r, "kind");
    c.job.payload = rows.str(r, "payload");
    c.job.attempt = static_cast<int>(rows.i64(r, "attempts"));
    c.job.maxAttempts = static_cast<int>(rows.i64(r, "max_attempts"));
    c.token = token;
    c.leaseMs = rows.i64(r, "lease_ms");
    c.leaseUntil = now + c.leaseMs;
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(),
            [](const Claimed& a, const Claimed& b) { return a.job.id < b.job.id; });
  return out;
}

std::int64_t JobQueueImpl::backoffMs(const JobKindOptions& o, int attempt) {
  double base = static_cast<double>(o.backoffBaseMs);
  double delay = base * static_cast<double>(1LL << std::min(std::max(attempt - 1, 0), 30));
  delay = std::min(delay, static_cast<double>(o.backoffMaxMs));
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  std::lock_guard<std::mutex> lock(rngMutex_);
  return static_cast<std::int64_t>(delay * jitter(rng_));
}

JobQueueImpl::Completion JobQueueImpl::runJob(const Claimed& c) {
  JobHandler handler;
  {
    std::lock_guard<std::mutex> lock(handlersMutex_);
    auto it = handlers_.find(c.job.kind);
    if (it != handlers_.end()) handler = it->second.first;
  }
  LogContext ctx("job-" + std::to_string(c.job.id));
  JobOutcome outcome;
  if (!handler) {
    outcome = JobOutcome::retry("no handler for kind '" + c.job.kind + "'");
  } else {
    try {
      outcome = handler(c.job);
    } catch (const std::exception& e) {
      outcome = JobOutcome::retry(std::string("handler threw: ") + e.what());
    } catch (...) {
      outcome = JobOutcome::retry("handler threw a non-standard exception");
    }
  }
  if (outcome.kind != JobOutcome::Kind::done) {
    log_.warning("jobs", c.job.kind + " #" + std::to_string(c.job.id) + " attempt " +
                             std::to_string(c.job.attempt) + "/" +
                             std::to_string(c.job.maxAttempts) + " failed: " + outcome.error);
  }
  return {c.job.id, c.token, c.job.kind, outcome, c.job.attempt};
}

void JobQueueImpl::complete(const std::vector<Completion>& done) {
  if (done.empty()) return;
  store_.write([&](Tx& tx) { complete(tx, done); });
}

void JobQueueImpl::complete(Tx& tx, const std::vector<Completion>& done) {
  if (done.empty()) return;
  std::int64_t now = clock_.nowMs();
  {
    // PostgreSQL: the jobs that succeeded complete in one statement per owner token (a round
    // trip per job was most of the queue's time); SQLite statements cost no round trip.
    const bool bulk = tx.engine() == Engine::postgresql;
    if (bulk) {
      std::map<std::string, std::string> idsByToken;  // token → "{id,id,…}"
      for (const Completion& c : done)
        if (c.outcome.kind == JobOutcome::Kind::done) {
          std::string& ids = idsByToken[c.token];
          ids += (ids.empty() ? "{" : ",") + std::to_string(c.id);
        }
      for (auto& [token, ids] : idsByToken)
        tx.exec(
            "UPDATE jobs SET state = 'done', lease_until = NULL, last_error = NULL, updated_at = ? "
            "WHERE id = ANY(?::bigint[]) AND lease_owner = ? AND state = 'running'",
            {now, ids + "}", token});
    }
    for (const Completion& c : done) {
      switch (c.outcome.kind) {
        case JobOutcome::Kind::done:
          if (bulk) break;
          tx.exec(
              "UPDATE jobs SET state = 'done', lease_until = NULL, last_error = NULL, updated_at = "
              "? "
              "WHERE id = ? AND lease_owner = ? AND state = 'running'",
              {now, c.id, c.token});
          break;
        case JobOutcome::Kind::retry: {
          std::int64_t delay = c.outcome.retryInMs >= 0 ? c.outcome.retryInMs
                                                        : backoffMs(optionsFor(c.kind), c.attempt);
          tx.exec(
              "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE "
              "'queued' END, "
              "run_at = ?, lease_until = NULL, last_error = ?, updated_at = ? "
              "WHERE id = ? AND lease_owner = ? AND state = 'running'",
              {now + delay, c.outcome.error, now, c.id, c.token});
          break;
        }
        case JobOutcome::Kind::fail:
          tx.exec(
              "UPDATE jobs SET state = 'dead', lease_until = NULL, last_error = ?, updated_at = ? "
              "WHERE id = ? AND lease_owner = ? AND state = 'running'",
              {c.outcome.error, now, c.id, c.token});
          break;
      }
    }
  }
  tx.onCommit([this, n = done.size()] { completed_ += static_cast<std::int64_t>(n); });
}

int JobQueueImpl::runOnce(int max) {
  auto claimed = claim(max);
  std::vector<Completion> done;
  for (const auto& c : claimed) done.push_back(runJob(c));
  complete(done);
  return static_cast<int>(claimed.size());
}

int JobQueueImpl::rescueExpired() {
  std::int64_t now = clock_.nowMs();
  std::int64_t n = 0;
  store_.write([&](Tx& tx) {
    n = tx.exec(
        "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END, "
        "lease_until = NULL, lease_owner = NULL, run_at = ?, last_error = 'lease expired (worker "
        "died or hung)', "
        "updated_at = ? WHERE state = 'running' AND lease_until < ?",
        {now, now, now});
  });
  if (n > 0) log_.warning("jobs", "rescued " + std::to_string(n) + " job(s) whose lease expired");
  return static_cast<int>(n);
}

void JobQueueImpl::schedulePeriodic() {
  std::map<std::string, std::int64_t> periodic;
  {
    std::lock_guard<std::mutex> lock(handlersMutex_);
    periodic = periodic_;
  }
  std::int64_t now = clock_.nowMs();
  for (const auto& [kind, interval] : periodic) {
    std::int64_t slot = now / interval;
    if (periodicSlot_[kind] == slot) continue;
    // One job per slot across every process: the unique key is the slot.
    enqueue(JobSpec{kind, "", "periodic:" + kind + ":" + std::to_string(slot), slot * interval, 1});
    periodicSlot_[kind] = slot;
  }
}

int JobQueueImpl::purgeDone() {
  std::int64_t cutoff = clock_.nowMs() - opts_.keepDoneMs;
  // Unique keys of periodic jobs are per slot, so purging them does not re-create old slots.
  return static_cast<int>(
      store_.exec("DELETE FROM jobs WHERE state = 'done' AND updated_at < ?", {cutoff}));
}

void JobQueueImpl::start() {
  if (opts_.workers <= 0 || dispatcher_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = stopWorkers_ = false;
  }
  for (int i = 0; i < opts_.workers; ++i) {
    std::size_t index = workers_.size();
    workers_.emplace_back([this, index] { workerLoop(index); });
  }
  dispatcher_ = std::thread([this] { dispatcherLoop(); });
}

void JobQueueImpl::workerLoop(std::size_t index) {
  for (;;) {
    Claimed c;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      workCv_.wait(lock, [this] { return stopWorkers_ || !ready_.empty(); });
      if (ready_.empty()) return;
      c = std::move(ready_.front());
      ready_.pop_front();
      running_[c.job.id] = Running{c.token, c.leaseMs, c.leaseUntil, index};
    }
    Completion done = runJob(c);
    std::lock_guard<std::mutex> lock(mutex_);
    running_.erase(c.job.id);
    completions_.push_back(std::move(done));
    wake_.notify_one();
  }
}

int JobQueueImpl::heartbeat() {
  std::int64_t now = clock_.nowMs();
  std::vector<std::pair<std::int64_t, Running>> due;
  {
    // Jobs running here, and jobs claimed here that wait for a worker.
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [id, r] : running_)
      if (r.leaseUntil - now < r.leaseMs / 2) due.emplace_back(id, r);
    for (const Claimed& c : ready_)
      if (c.leaseUntil - now < c.leaseMs / 2)
        due.emplace_back(c.job.id, Running{c.token, c.leaseMs, c.leaseUntil, 0});
  }
  if (due.empty()) return 0;
  std::vector<bool> extended(due.size(), false);
  store_.write([&](Tx& tx) {
    for (std::size_t i = 0; i < due.size(); ++i)
      extended[i] = tx.exec(
                        "UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_owner = ? AND "
                        "state = 'running'",
                        {now + due[i].second.leaseMs, due[i].first, due[i].second.token}) > 0;
  });
  int n = 0;
  std::lock_guard<std::mutex> lock(mutex_);
  for (std::size_t i = 0; i < due.size(); ++i) {
    n += extended[i] ? 1 : 0;
    const std::string& token = due[i].second.token;
    auto it = running_.find(due[i].first);
    if (it != running_.end() && it->second.token == token) {
      // Not extended: the lease had already expired and the job was rescued (and may run
      // elsewhere); this runner's outcome will be ignored. Stop trying.
      it->second.leaseUntil = extended[i] ? now + it->second.leaseMs : INT64_MAX;
      continue;
    }
    auto q = std::find_if(ready_.begin(), ready_.end(), [&](const Claimed& c) {
      return c.job.id == due[i].first && c.token == token;
    });
    if (q == ready_.end()) continue;
    if (extended[i]) {
      q->leaseUntil = now + q->leaseMs;
    } else {
      ready_.erase(q);  // rescued while it waited here: not ours to run any more
      --inflight_;
    }
  }
  return n;
}

void JobQueueImpl::dispatcherLoop() {
  std::int64_t lastRescue = 0, lastPurge = 0;
  // Room for the batch the workers run and the next one, claimed meanwhile: the workers
  // need not wait for the dispatcher's round trip (claimed jobs' leases are kept alive by
  // the heartbeat while they wait).
  const int capacity = 2 * std::max(opts_.batchSize, opts_.workers * 2);
  for (;;) {
    std::vector<Completion> done;
    int room = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done.swap(completions_);
      if (stopping_) break;
      room = capacity - inflight_ + static_cast<int>(done.size());
    }
    try {
      heartbeat();
      std::int64_t now = clock_.nowMs();
      if (now - lastRescue >= opts_.rescueIntervalMs) {
        rescueExpired();
        lastRescue = now;
      }
      if (now - lastPurge >= 3600000) {
        purgeDone();
        lastPurge = now;
      }
      schedulePeriodic();
      int want = std::min(room, opts_.batchSize);
      // The outcomes reported so far and the next claim: one transaction, one commit.
      std::vector<Claimed> claimed;
      try {
        if (!done.empty() || want > 0)
          store_.write([&](Tx& tx) {
            complete(tx, done);
            claimed = want > 0 ? claim(tx, want) : std::vector<Claimed>{};
          });
      } catch (...) {
        // Outcomes not recorded: those jobs' leases expire and they run again (idempotent).
        std::lock_guard<std::mutex> lock(mutex_);
        inflight_ -= static_cast<int>(done.size());
        throw;
      }
      std::unique_lock<std::mutex> lock(mutex_);
      inflight_ -= static_cast<int>(done.size());
      if (!claimed.empty()) {
        inflight_ += static_cast<int>(claimed.size());
        for (auto& c : claimed) ready_.push_back(std::move(c));
        workCv_.notify_all();
      }
      // A full batch means more may be waiting: go round again at once.
      if (static_cast<int>(claimed.size()) == want && want > 0) continue;
      poke_ = false;
      wake_.wait_for(lock, std::chrono::milliseconds(opts_.pollIntervalMs),
                     [this] { return stopping_ || poke_ || !completions_.empty(); });
    } catch (const std::exception& e) {
      log_.error("jobs", std::string("dispatcher: ") + e.what());
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(opts_.pollIntervalMs),
                     [this] { return stopping_; });
    }
  }
}

bool JobQueueImpl::drain(std::int64_t graceMs) {
  if (!dispatcher_.joinable()) return true;
  std::deque<Claimed> unstarted;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    unstarted.swap(ready_);
    inflight_ -= static_cast<int>(unstarted.size());
    wake_.notify_all();
  }
  dispatcher_.join();
  // Claimed but never started: back to the queue, the attempt not counted.
  try {
    std::int64_t now = clock_.nowMs();
    store_.write([&](Tx& tx) {
      for (const auto& c : unstarted)
        tx.exec(
            "UPDATE jobs SET state = 'queued', attempts = attempts - 1, lease_until = NULL, "
            "lease_owner = NULL, "
            "updated_at = ? WHERE id = ? AND lease_owner = ? AND state = 'running'",
            {now, c.job.id, c.token});
    });
  } catch (const std::exception& e) {
    log_.error("jobs",
               std::string("drain: could not return unstarted jobs (their leases will expire): ") +
                   e.what());
  }
  // Running jobs finish (handlers are not interruptible); wait for them up to the grace,
  // keeping their leases alive meanwhile.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(graceMs);
  std::map<std::int64_t, Running> stuck;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!running_.empty() && std::chrono::steady_clock::now() < deadline) {
      wake_.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() +
                                                    std::chrono::milliseconds(500)));
      lock.unlock();
      try {
        heartbeat();
      } catch (const std::exception& e) {
        log_.error("jobs", std::string("drain: lease heartbeat failed: ") + e.what());
      }
      lock.lock();
    }
    stuck = running_;
    stopWorkers_ = true;
    workCv_.notify_all();
  }
  // Handlers that outlived the grace: their jobs go back to the queue now (the attempt not
  // counted), so another process can run them; their threads are left behind.
  if (!stuck.empty()) {
    try {
      std::int64_t now = clock_.nowMs();
      store_.write([&](Tx& tx) {
        for (const auto& [id, r] : stuck)
          tx.exec(
              "UPDATE jobs SET state = 'queued', attempts = attempts - 1, lease_until = NULL, "
              "lease_owner = NULL, "
              "run_at = ?, last_error = 'interrupted: the handler was still running at shutdown', "
              "updated_at = ? "
              "WHERE id = ? AND lease_owner = ? AND state = 'running'",
              {now, now, id, r.token});
      });
    } catch (const std::exception& e) {
      log_.error("jobs",
                 std::string("drain: could not return running jobs (their leases will expire): ") +
                     e.what());
    }
    std::string ids;
    for (const auto& [id, r] : stuck) ids += (ids.empty() ? "#" : ", #") + std::to_string(id);
    log_.error("jobs", std::to_string(stuck.size()) + " job handler(s) still running after " +
                           std::to_string(graceMs) + " ms (" + ids + "): returned to the queue");
  }
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    bool isStuck = std::any_of(stuck.begin(), stuck.end(),
                               [i](const auto& kv) { return kv.second.worker == i; });
    if (isStuck) {
      workers_[i].detach();
    } else {
      workers_[i].join();
    }
  }
  workers_.clear();
  std::vector<Completion> done;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done.swap(completions_);
    inflight_ = 0;
  }
  try {
    complete(done);
  } catch (const std::exception& e) {
    log_.error("jobs",
               std::string("drain: could not record outcomes (leases will expire): ") + e.what());
  }
  return stuck.empty();
}

std::vector<JobRow> JobQueueImpl::list(const std::string& state, int limit) {
  std::string sql =
      "SELECT id, kind, state, payload, attempts, max_attempts, run_at, last_error, unique_key, "
      "created_at, "
      "updated_at FROM jobs";
  Params p;
  if (!state.empty()) {
    sql += " WHERE state = ?";
    p.push_back(state);
  }
  sql += " ORDER BY id DESC LIMIT ?";
  p.push_back(static_cast<std::int64_t>(limit));
  Rows rows = store_.query(sql, p);
  std::vector<JobRow> out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    JobRow j;
    j.id = rows.i64(r, "id");
    j.kind = rows.str(r, "kind");
    j.state = rows.str(r, "state");
    j.payload = rows.str(r, "payload");
    j.attempts = static_cast<int>(rows.i64(r, "attempts"));
    j.maxAttempts = static_cast<int>(rows.i64(r, "max_attempts"));
    j.runAt = rows.i64(r, "run_at");
    j.lastError = rows.str(r, "last_error");
    j.uniqueKey = rows.str(r, "unique_key");
    j.createdAt = rows.i64(r, "created_at");
    j.updatedAt = rows.i64(r, "updated_at");
    out.push_back(std::move(j));
  }
  return out;
}

std::map<std::string, std::int64_t> JobQueueImpl::stats() {
  std::map<std::string, std::int64_t> out{{"queued", 0}, {"running", 0}, {"done", 0}, {"dead", 0}};
  Rows rows = store_.query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state");
  for (std::size_t r = 0; r < rows.size(); ++r) out[rows.str(r, "state")] = rows.i64(r, "n");
  return out;
}

bool JobQueueImpl::retry(std::int64_t id) {
  std::int64_t now = clock_.nowMs();
  return store_.exec(
             "UPDATE jobs SET state = 'queued', attempts = 0, run_at = ?, last_error = NULL, "
             "updated_at = ? "
             "WHERE id = ? AND state = 'dead'",
             {now, now, id}) > 0;
}

}  // namespace malipo
