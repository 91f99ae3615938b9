// Group commit for the session table: every USSD step stores its state before the reply
// goes out, so under load the cost is one commit (one fsync on SQLite) per step. Callers
// that arrive while a commit is running are queued and written together by the next
// "leader" in one transaction: each caller still returns only after its own write is
// durable, but N concurrent steps cost one commit instead of N.
//
// Thread-safety: commit() may be called from any thread. A work item runs on the leader's
// thread, inside the leader's transaction; it must only touch the Tx and its own captured
// results, and must tolerate being run again (Database::write retries a busy transaction,
// and a failed batch is retried item by item so one bad item cannot fail the others).
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <vector>

#include "malipo/db.hpp"

namespace malipo::hubtel {

class GroupCommit {
 public:
  explicit GroupCommit(Database& db, std::size_t maxBatch = 256) : db_(db), maxBatch_(maxBatch) {}

  // Runs `work` in a write transaction shared with other callers; returns once committed.
  // Rethrows what `work` (or the database) threw for this item.
  void commit(const std::function<void(Tx&)>& work) {
    Item me{&work};
    std::unique_lock<std::mutex> lock(mutex_);
    queue_.push_back(&me);
    while (!me.done) {
      if (leading_) {
        me.cv.wait(lock);  // woken when done, or when first in line to lead
        continue;
      }
      leading_ = true;
      std::vector<Item*> batch;
      std::size_t n = std::min(queue_.size(), maxBatch_);
      batch.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      lock.unlock();
      run(batch);
      lock.lock();
      leading_ = false;
      // Each waiter is woken for its own reason only (its write is done, or it leads next):
      // waking every waiter on every commit kept 64 threads spinning through the lock.
      for (Item* i : batch) {
        i->done = true;
        if (i != &me) i->cv.notify_one();
      }
      if (!queue_.empty()) queue_.front()->cv.notify_one();
    }
    if (me.error) std::rethrow_exception(me.error);
  }

 private:
  struct Item {
    const std::function<void(Tx&)>* work;
    bool done = false;
    std::exception_ptr error;
    std::condition_variable cv;
  };

  void run(const std::vector<Item*>& batch) {
    try {
      db_.write([&](Tx& tx) {
        for (Item* i : batch) (*i->work)(tx);
      });
      return;
    } catch (...) {
      if (batch.size() == 1) {
        batch.front()->error = std::current_exception();
        return;
      }
    }
    // The batch failed as a whole: isolate the culprit by running each on its own.
    for (Item* i : batch) {
      try {
        db_.write([&](Tx& tx) { (*i->work)(tx); });
      } catch (...) {
        i->error = std::current_exception();
      }
    }
  }

  Database& db_;
  std::size_t maxBatch_;
  std::mutex mutex_;
  std::vector<Item*> queue_;
  bool leading_ = false;
};

}  // namespace malipo::hubtel
