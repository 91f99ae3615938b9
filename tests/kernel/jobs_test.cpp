#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "app/KernelLogger.hpp"
#include "engines.hpp"
#include "jobs/JobQueueImpl.hpp"

using namespace malipo;
using malipo::test::ManualClock;

class JobsTest : public EngineTest {
 protected:
  void open(JobQueueOptions o = {}) {
    store_ = std::make_unique<Store>(url(), 8, 5000);
    store_->migrate("kernel.jobs", JobQueueImpl::migrations());
    queue_ = std::make_unique<JobQueueImpl>(*store_, clock_, log_, o);
  }
  Rows job(std::int64_t id = 0) {
    return id ? store_->query("SELECT * FROM jobs WHERE id = ?", {id})
              : store_->query("SELECT * FROM jobs ORDER BY id");
  }
  ManualClock clock_;
  KernelLogger log_{LogLevel::error};
  std::unique_ptr<Store> store_;
  std::unique_ptr<JobQueueImpl> queue_;
};

TEST_P(JobsTest, BackoffScheduleThenDead) {
  SKIP_WITHOUT_ENGINE();
  open();
  int runs = 0;
  queue_->handle("flaky",
                 [&](const Job& j) {
                   ++runs;
                   if (runs <= 4)
                     EXPECT_EQ(j.attempt, runs);
                   else
                     EXPECT_EQ(j.attempt, 1);  // retried by hand: counts from 1 again
                   return JobOutcome::retry("still failing");
                 },
                 {4, 60000, 1000, 3600000});
  ASSERT_TRUE(queue_->enqueue(JobSpec{"flaky", "{}", "", 0, 0}));
  std::int64_t expectedDelay = 1000;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    std::int64_t before = clock_.nowMs();
    ASSERT_EQ(queue_->runOnce(), 1) << "attempt " << attempt;
    Rows r = job();
    EXPECT_EQ(r.str(0, "state"), "queued");
    EXPECT_EQ(r.str(0, "last_error"), "still failing");
    std::int64_t delay = r.i64(0, "run_at") - before;
    EXPECT_GE(delay, expectedDelay * 8 / 10) << "attempt " << attempt;
    EXPECT_LE(delay, expectedDelay * 12 / 10) << "attempt " << attempt;
    clock_.advance(expectedDelay * 8 / 10 - 1);
    EXPECT_EQ(queue_->runOnce(), 0) << "ran before its backoff elapsed";
    clock_.advance(expectedDelay * 4 / 10 + 1);
    expectedDelay *= 2;
  }
  ASSERT_EQ(queue_->runOnce(), 1);
  EXPECT_EQ(job().str(0, "state"), "dead");
  EXPECT_EQ(runs, 4);
  clock_.advance(10000000);
  EXPECT_EQ(queue_->runOnce(), 0);
  // An operator retries it by hand.
  EXPECT_TRUE(queue_->retry(job().i64(0, "id")));
  EXPECT_EQ(queue_->runOnce(), 1);
  EXPECT_EQ(runs, 5);
}

TEST_P(JobsTest, HeartbeatKeepsTheLeaseOfASlowHandlerThatIsStillRunning) {
  SKIP_WITHOUT_ENGINE();
  JobQueueOptions o;
  o.workers = 1;
  o.pollIntervalMs = 5;
  o.rescueIntervalMs = 1;
  open(o);
  std::mutex m;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> runs{0};
  queue_->handle("slow",
                 [&](const Job&) {
                   ++runs;
                   std::unique_lock<std::mutex> lock(m);
                   cv.wait(lock, [&] { return release; });
                   return JobOutcome::ok();
                 },
                 {4, 1000, 1000, 60000});
  ASSERT_TRUE(queue_->enqueue(JobSpec{"slow", "{}", "", 0, 0}));
  queue_->start();
  ASSERT_TRUE(test::eventually([&] { return runs.load() == 1; }));
  std::int64_t t0 = clock_.nowMs();
  EXPECT_EQ(job().i64(0, "lease_until"), t0 + 1000);
  // Past half the lease: the dispatcher extends it.
  clock_.advance(600);
  ASSERT_TRUE(test::eventually([&] { return job().i64(0, "lease_until") == t0 + 600 + 1000; }));
  // Past the first lease's end: without the heartbeat the rescuer would take the job back.
  clock_.advance(600);
  ASSERT_TRUE(test::eventually([&] { return job().i64(0, "lease_until") == t0 + 1200 + 1000; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // many rescuer passes
  EXPECT_EQ(job().str(0, "state"), "running");
  {
    std::lock_guard<std::mutex> lock(m);
    release = true;
  }
  cv.notify_all();
  ASSERT_TRUE(test::eventually([&] { return job().str(0, "state") == "done"; }));
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(job().i64(0, "attempts"), 1);
  EXPECT_TRUE(queue_->drain(1000));
}

TEST_P(JobsTest, PermanentFailureAndThrowingHandler) {
  SKIP_WITHOUT_ENGINE();
  open();
  queue_->handle("fatal", [](const Job&) { return JobOutcome::fail("bad payload"); });
  queue_->handle("throws", [](const Job&) -> JobOutcome { throw std::runtime_error("kaboom"); });
  queue_->enqueue(JobSpec{"fatal", "", "", 0, 0});
  queue_->enqueue(JobSpec{"throws", "", "", 0, 0});
  EXPECT_EQ(queue_->runOnce(), 2);
  Rows r = job();
  EXPECT_EQ(r.str(0, "state"), "dead");
  EXPECT_EQ(r.str(1, "state"), "queued");
  EXPECT_NE(r.str(1, "last_error").find("kaboom"), std::string::npos);
}

TEST_P(JobsTest, RescueAfterLeaseExpires) {
  SKIP_WITHOUT_ENGINE();
  open();
  int runs = 0;
  queue_->handle("work",
                 [&](const Job&) {
                   ++runs;
                   return JobOutcome::ok();
                 },
                 {4, 30000, 1000, 60000});
  queue_->enqueue(JobSpec{"work", "", "", 0, 0});
  // A worker of another process claimed it, then died (kill -9): its lease runs out.
  store_->exec(
      "UPDATE jobs SET state = 'running', attempts = 1, lease_until = ?, lease_owner = "
      "'dead-worker'",
      {clock_.nowMs() + 30000});
  EXPECT_EQ(queue_->runOnce(), 0);
  clock_.advance(29000);
  EXPECT_EQ(queue_->rescueExpired(), 0);
  clock_.advance(2000);
  EXPECT_EQ(queue_->rescueExpired(), 1);
  EXPECT_EQ(queue_->runOnce(), 1);
  EXPECT_EQ(runs, 1);
  Rows r = job();
  EXPECT_EQ(r.str(0, "state"), "done");
  EXPECT_EQ(r.i64(0, "attempts"), 2);
}

TEST_P(JobsTest, LateCompletionOfARescuedJobIsIgnored) {
  SKIP_WITHOUT_ENGINE();
  open();
  queue_->handle("work", [](const Job&) { return JobOutcome::ok(); }, {4, 1000, 1000, 60000});
  queue_->enqueue(JobSpec{"work", "", "", 0, 0});
  store_->exec(
      "UPDATE jobs SET state = 'running', attempts = 1, lease_until = ?, lease_owner = "
      "'slow-worker'",
      {clock_.nowMs() + 1000});
  clock_.advance(5000);
  queue_->rescueExpired();
  // The slow worker finishes now, with its old token: nothing changes.
  store_->exec(
      "UPDATE jobs SET state = 'done' WHERE lease_owner = 'slow-worker' AND state = 'running'");
  EXPECT_EQ(job().str(0, "state"), "queued");
}

TEST_P(JobsTest, RolledBackTransactionLeavesNoJob) {
  SKIP_WITHOUT_ENGINE();
  open();
  EXPECT_THROW(store_->write([&](Tx& tx) {
    queue_->enqueue(tx, JobSpec{"x", "", "", 0, 0});
    throw std::runtime_error("business rule failed");
  }),
               std::runtime_error);
  EXPECT_TRUE(job().empty());
  store_->write([&](Tx& tx) { queue_->enqueue(tx, JobSpec{"x", "", "", 0, 0}); });
  EXPECT_EQ(job().size(), 1u);
}

TEST_P(JobsTest, UniqueKeysAndScheduledJobs) {
  SKIP_WITHOUT_ENGINE();
  open();
  int runs = 0;
  queue_->handle("once", [&](const Job&) {
    ++runs;
    return JobOutcome::ok();
  });
  EXPECT_TRUE(queue_->enqueue(JobSpec{"once", "", "payment:1:settled", 0, 0}));
  EXPECT_FALSE(queue_->enqueue(JobSpec{"once", "", "payment:1:settled", 0, 0}));
  EXPECT_EQ(queue_->runOnce(), 1);
  EXPECT_FALSE(
      queue_->enqueue(JobSpec{"once", "", "payment:1:settled", 0, 0}));  // even after it ran
  EXPECT_TRUE(queue_->enqueue(JobSpec{"once", "", "", clock_.nowMs() + 60000, 0}));
  EXPECT_EQ(queue_->runOnce(), 0);
  clock_.advance(60000);
  EXPECT_EQ(queue_->runOnce(), 1);
  EXPECT_EQ(runs, 2);
}

TEST_P(JobsTest, PeriodicJobsOncePerInterval) {
  SKIP_WITHOUT_ENGINE();
  open();
  int runs = 0;
  queue_->handle("tick", [&](const Job&) {
    ++runs;
    return JobOutcome::ok();
  });
  queue_->every("tick", 60000);
  queue_->schedulePeriodic();
  queue_->schedulePeriodic();
  // A second process schedules the same slot: still one job.
  JobQueueImpl other(*store_, clock_, log_, {});
  other.every("tick", 60000);
  other.schedulePeriodic();
  EXPECT_EQ(queue_->runOnce(), 1);
  clock_.advance(30000);
  queue_->schedulePeriodic();
  EXPECT_EQ(queue_->runOnce(), 0);
  clock_.advance(60000);
  queue_->schedulePeriodic();
  EXPECT_EQ(queue_->runOnce(), 1);
  EXPECT_EQ(runs, 2);
}

TEST_P(JobsTest, TwoQueuesNeverRunOneJobAtOnce) {
  SKIP_WITHOUT_ENGINE();
  std::string u = url();
  SystemClock real;
  Store s1(u, 8, 5000), s2(u, 8, 5000);
  s1.migrate("kernel.jobs", JobQueueImpl::migrations());
  std::mutex m;
  std::set<std::int64_t> running;
  std::map<std::int64_t, int> runs;
  std::atomic<int> overlaps{0};
  auto handler = [&](const Job& j) {
    {
      std::lock_guard<std::mutex> lock(m);
      if (!running.insert(j.id).second) ++overlaps;
      ++runs[j.id];
    }
    // Long enough that both queues get a share: on SQLite the second store waits in the
    // busy handler (sleeps of up to 100 ms) while the first one holds the write lock, and
    // the first claims its next batch while its workers run the current one.
    std::this_thread::sleep_for(std::chrono::milliseconds(8));
    std::lock_guard<std::mutex> lock(m);
    running.erase(j.id);
    return JobOutcome::ok();
  };
  JobQueueOptions o;
  o.workers = 4;
  o.batchSize = 16;
  o.pollIntervalMs = 10;
  JobQueueImpl q1(s1, real, log_, o), q2(s2, real, log_, o);
  q1.handle("n", handler);
  q2.handle("n", handler);
  const int total = 400;
  s1.write([&](Tx& tx) {
    for (int i = 0; i < total; ++i) q1.enqueue(tx, JobSpec{"n", "", "", 0, 0});
  });
  q1.start();
  q2.start();
  ASSERT_TRUE(
      malipo::test::eventually([&] { return q1.completed() + q2.completed() >= total; }, 60000));
  q1.drain();
  q2.drain();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(static_cast<int>(runs.size()), total);
  for (const auto& [id, n] : runs) EXPECT_EQ(n, 1) << "job " << id;
  EXPECT_GT(q1.completed(), 0);
  EXPECT_GT(q2.completed(), 0);
  EXPECT_EQ(s1.query("SELECT COUNT(*) AS n FROM jobs WHERE state = 'done'").i64(0, "n"), total);
}

// The dispatcher claims the next batch while the workers still run the current one, so a
// claimed job may wait here longer than its lease: the heartbeat keeps those leases alive
// too, and another process's rescuer never takes a job back that still waits its turn here
// (it would run twice).
TEST_P(JobsTest, ClaimedJobsWaitingForAWorkerKeepTheirLease) {
  SKIP_WITHOUT_ENGINE();
  std::string u = url();
  SystemClock real;
  Store s1(u, 8, 5000), s2(u, 8, 5000);
  s1.migrate("kernel.jobs", JobQueueImpl::migrations());
  std::mutex m;
  std::map<std::int64_t, int> runs;
  auto handler = [&](const Job& j) {
    {
      std::lock_guard<std::mutex> lock(m);
      ++runs[j.id];
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    return JobOutcome::ok();
  };
  JobKindOptions kind;
  kind.leaseMs = 300;  // shorter than the wait of the last jobs of a batch for the one worker
  JobQueueOptions o;
  o.workers = 1;
  o.batchSize = 12;
  o.pollIntervalMs = 10;
  o.rescueIntervalMs = 20;
  JobQueueImpl q1(s1, real, log_, o), q2(s2, real, log_, o);
  q1.handle("slow", handler, kind);
  q2.handle("slow", handler, kind);
  const int total = 24;
  s1.write([&](Tx& tx) {
    for (int i = 0; i < total; ++i) q1.enqueue(tx, JobSpec{"slow", "", "", 0, 0});
  });
  q1.start();
  q2.start();
  ASSERT_TRUE(
      malipo::test::eventually([&] { return q1.completed() + q2.completed() >= total; }, 30000));
  q1.drain();
  q2.drain();
  EXPECT_EQ(static_cast<int>(runs.size()), total);
  for (const auto& [id, n] : runs) EXPECT_EQ(n, 1) << "job " << id;
  EXPECT_EQ(s1.query("SELECT COUNT(*) AS n FROM jobs WHERE state = 'done' AND last_error IS NULL")
                .i64(0, "n"),
            total);
}

TEST_P(JobsTest, DrainReturnsUnstartedJobs) {
  SKIP_WITHOUT_ENGINE();
  SystemClock real;
  store_ = std::make_unique<Store>(url(), 8, 5000);
  store_->migrate("kernel.jobs", JobQueueImpl::migrations());
  JobQueueOptions o;
  o.workers = 1;
  o.batchSize = 20;
  o.pollIntervalMs = 10;
  JobQueueImpl q(*store_, real, log_, o);
  std::atomic<int> started{0};
  q.handle("slow", [&](const Job&) {
    ++started;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return JobOutcome::ok();
  });
  for (int i = 0; i < 10; ++i) q.enqueue(JobSpec{"slow", "", "", 0, 0});
  q.start();
  ASSERT_TRUE(malipo::test::eventually([&] { return started.load() >= 1; }));
  q.drain(5000);
  Rows done = store_->query("SELECT COUNT(*) AS n FROM jobs WHERE state = 'done'");
  Rows queued =
      store_->query("SELECT COUNT(*) AS n FROM jobs WHERE state = 'queued' AND attempts = 0");
  EXPECT_EQ(done.i64(0, "n"), started.load());
  EXPECT_EQ(done.i64(0, "n") + queued.i64(0, "n"), 10);
  EXPECT_EQ(store_->query("SELECT COUNT(*) AS n FROM jobs WHERE state = 'running'").i64(0, "n"), 0);
}

INSTANTIATE_TEST_SUITE_P(Engines, JobsTest, ::testing::Values("sqlite", "postgresql"), engineName);

// A job whose work its enqueuing transaction did itself (the settlement that delivers the
// payment): recorded done with one attempt, never run, its unique key taken, so neither an
// enqueue nor a second record with that key makes another; rolled back with the transaction.
TEST_P(JobsTest, AJobRecordedDoneNeverRunsAndKeepsItsKey) {
  SKIP_WITHOUT_ENGINE();
  open();
  int runs = 0;
  queue_->handle("once", [&](const Job&) {
    ++runs;
    return JobOutcome::ok();
  });
  bool recorded = false, again = true;
  store_->write([&](Tx& tx) {
    recorded = queue_->recordDone(tx, JobSpec{"once", "p1", "once:p1", 0, 0});
    again = queue_->recordDone(tx, JobSpec{"once", "p1", "once:p1", 0, 0});
  });
  EXPECT_TRUE(recorded);
  EXPECT_FALSE(again);
  EXPECT_FALSE(queue_->enqueue(JobSpec{"once", "p1", "once:p1", 0, 0}));
  EXPECT_THROW(store_->write([&](Tx& tx) {
    EXPECT_TRUE(queue_->recordDone(tx, JobSpec{"once", "p2", "once:p2", 0, 0}));
    throw std::runtime_error("rolled back");
  }),
               std::runtime_error);
  EXPECT_EQ(queue_->runOnce(), 0);
  EXPECT_EQ(runs, 0);
  Rows r = job();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r.str(0, "state"), "done");
  EXPECT_EQ(r.i64(0, "attempts"), 1);
  EXPECT_EQ(r.str(0, "payload"), "p1");
  EXPECT_TRUE(r.isNull(0, "lease_until"));
  // The key is free again for a job of its own once the transaction rolled back.
  EXPECT_TRUE(queue_->enqueue(JobSpec{"once", "p2", "once:p2", 0, 0}));
  EXPECT_EQ(queue_->runOnce(), 1);
  EXPECT_EQ(runs, 1);
}
