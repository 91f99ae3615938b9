// The kernel's Database: a small pool of connections to SQLite or PostgreSQL.
//
// SQLite: opened as a Poco::Data session, then used through its sqlite3 handle (prepared
// statements cached per connection). WAL, synchronous=FULL, foreign keys, busy timeout.
// Writes are group-committed on both engines: concurrent write() calls queue; one of them
// (the leader) runs every queued callback in one transaction, each inside its own savepoint,
// so a batch costs one durable flush and a callback that throws rolls back only its own work.
// Every caller returns (or throws) only after the COMMIT that holds its work, so nothing is
// acknowledged before its flush. SQLite: BEGIN IMMEDIATE … COMMIT, one batch at a time; the
// busy timeout still covers other processes. PostgreSQL: libpq connections (the URL goes to
// libpq as it is), statements prepared once per connection (PQprepare) and then one round trip
// each; `?` placeholders are rewritten to $n; the next batch runs its callbacks while the previous
// one's COMMIT is being flushed; a callback that hits a serialization failure or deadlock is rolled
// back to its savepoint and run again in a later batch (see runBatchPostgres).
#pragma once

#include <Poco/Data/Session.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "malipo/db.hpp"

struct sqlite3;
struct sqlite3_stmt;
struct pg_conn;

namespace malipo {

class Store final : public Database {
 public:
  Store(const std::string& url, int poolSize, int busyTimeoutMs);
  ~Store() override;

  Engine engine() const override { return engine_; }
  void write(const std::function<void(Tx&)>& work) override;
  Rows query(const std::string& sql, const Params& params = {}) override;
  std::int64_t exec(const std::string& sql, const Params& params = {}) override;

  // Applies `migrations` of `component` not yet recorded in schema_migrations, each in its
  // own transaction. Returns the versions applied. Throws DbError naming the migration.
  std::vector<int> migrate(const std::string& component, const std::vector<Migration>& migrations);
  bool ping();
  // Inside a write callback: runs `fn` in a savepoint of `tx` (the Tx that callback was
  // given). Returns true and keeps fn's work when fn returns true; when it returns false or
  // throws, rolls back to the savepoint (fn's statements and its onCommit callbacks are
  // gone, the transaction goes on) and returns false or rethrows. On PostgreSQL a statement
  // of fn that failed, even one fn caught, counts as a throw (the transaction would stay
  // aborted otherwise).
  static bool nested(Tx& tx, const std::function<bool()>& fn);
  // A redacted form of the URL for logs (no password).
  static std::string redact(const std::string& url);
  static std::string rewritePlaceholders(const std::string& sql);
  // Write callbacks that committed, and the COMMITs (durable flushes) that held them: on
  // SQLite several callbacks share one commit under concurrent load.
  std::uint64_t committedWrites() const { return committedWrites_.load(); }
  std::uint64_t commits() const { return commits_.load(); }
  // Nanoseconds batches spent from BEGIN to the end of COMMIT (summed over lanes): the write
  // path's busy time, which bounds the write rate when it nears the elapsed time.
  std::uint64_t batchNanos() const { return batchNanos_.load(); }

  // One pooled connection. On SQLite it also keeps the connection's prepared statements:
  // statements go straight to the SQLite API (Poco's generic record sets cost more than the
  // query on a hot read path).
  struct Conn {
    std::unique_ptr<Poco::Data::Session> session;  // SQLite only: owns `db`
    sqlite3* db = nullptr;
    pg_conn* pg = nullptr;  // PostgreSQL: one round trip per statement through libpq
    std::unordered_map<std::string, sqlite3_stmt*> statements;
    std::unordered_map<std::string, std::string> pgStatements;  // SQL → prepared statement name
    std::uint64_t pgStatementSeq = 0;
    ~Conn();
  };

 private:
  class Lease;
  std::unique_ptr<Conn> openSession();
  std::unique_ptr<Conn> acquire();
  void release(std::unique_ptr<Conn> s);

  Engine engine_;
  std::string connector_, connectString_;
  int busyTimeoutMs_;
  std::size_t poolSize_;
  std::mutex poolMutex_;
  std::condition_variable poolCv_;
  std::vector<std::unique_ptr<Conn>> idle_;
  std::size_t open_ = 0;

  // Group commit.
  struct WriteItem;
  void runBatch(std::vector<WriteItem*>& batch);
  void runBatchPostgres(std::vector<WriteItem*>& batch);
  void handOnLead();
  void wakeNextLeader();
  std::mutex groupMutex_;
  std::vector<WriteItem*> queue_;
  int leading_ = 0;  // batches running their callbacks
  int lanes_ = 1;    // at most this many at once
  // SQLite: the one connection every batch writes on (one lane), outside the pool. SQLite
  // drops a connection's page cache when another connection committed since it last read: a
  // batch on any pooled connection read its pages again (pread of the WAL and the file), one
  // kept for writing finds them cached. Only the leading batch touches it.
  std::unique_ptr<Conn> writer_;

  std::atomic<std::uint64_t> committedWrites_{0}, commits_{0}, batchNanos_{0};
};

}  // namespace malipo
