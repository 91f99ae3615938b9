// No-op jobs completed per second through the durable queue (real workers, real commits).
// Usage: job_queue_bench DATABASE_URL [JOBS]
#include <chrono>
#include <iostream>
#include <thread>

#include "app/KernelLogger.hpp"
#include "jobs/JobQueueImpl.hpp"

using namespace malipo;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: job_queue_bench DATABASE_URL [JOBS]\n";
    return 2;
  }
  int total = argc > 2 ? std::stoi(argv[2]) : 20000;
  try {
    Store store(argv[1], 8, 5000);
    store.migrate("kernel.jobs", JobQueueImpl::migrations());
    store.exec("DELETE FROM jobs");
    SystemClock clock;
    KernelLogger log(LogLevel::error);
    JobQueueOptions o;
    o.workers = 4;
    o.batchSize = 256;
    o.pollIntervalMs = 5;
    JobQueueImpl q(store, clock, log, o);
    q.handle("noop", [](const Job&) { return JobOutcome::ok(); });
    // Enqueue in transactions of 1,000 (what a busy API does across requests, grouped).
    for (int done = 0; done < total; done += 1000)
      store.write([&](Tx& tx) {
        for (int i = 0; i < 1000 && done + i < total; ++i)
          q.enqueue(tx, JobSpec{"noop", "", "", 0, 0});
      });
    auto start = std::chrono::steady_clock::now();
    q.start();
    while (q.completed() < total) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    q.drain();
    auto n = store.query("SELECT COUNT(*) AS n FROM jobs WHERE state = 'done'").i64(0, "n");
    std::cout << (store.engine() == Engine::sqlite ? "sqlite" : "postgresql") << ": " << total
              << " no-op jobs in " << secs << " s = " << static_cast<long>(total / secs)
              << " jobs/s (done rows: " << n << ")\n";
    return n == total ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "job_queue_bench: " << e.what() << "\n";
    return 1;
  }
}
