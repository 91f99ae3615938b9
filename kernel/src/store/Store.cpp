#include "store/Store.hpp"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace malipo {

namespace {

std::once_flag connectorsOnce;

bool isRetryable(const std::string& msg) {
  // PostgreSQL serialization failure / deadlock; SQLite busy beyond the timeout.
  return msg.find("40001") != std::string::npos || msg.find("40P01") != std::string::npos ||
         msg.find("could not serialize") != std::string::npos ||
         msg.find("deadlock detected") != std::string::npos ||
         msg.find("cached plan must not change result type") != std::string::npos ||
         msg.find("database is locked") != std::string::npos;
}

[[noreturn]] void sqliteFail(sqlite3* db, const std::string& sql) {
  throw DbError(std::string("SQLite: ") + sqlite3_errmsg(db) + " [" + sql.substr(0, 200) + "]");
}

// A prepared statement from the connection's cache, reset and bound.
sqlite3_stmt* sqlitePrepare(Store::Conn& c, const std::string& sql, const Params& params) {
  sqlite3_stmt*& st = c.statements[sql];
  if (!st) {
    if (c.statements.size() > 512) {
      // Bounded: a workload with ever-new SQL text must not grow the cache forever.
      for (auto& kv : c.statements)
        if (kv.second && kv.first != sql) sqlite3_finalize(kv.second);
      sqlite3_stmt* keep = st;
      c.statements.clear();
      c.statements[sql] = keep;
    }
    sqlite3_stmt*& slot = c.statements[sql];
    if (sqlite3_prepare_v2(c.db, sql.c_str(), static_cast<int>(sql.size()), &slot, nullptr) !=
        SQLITE_OK) {
      c.statements.erase(sql);
      sqliteFail(c.db, sql);
    }
    return sqlitePrepare(c, sql, params);
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  int i = 1;
  for (const Value& v : params) {
    int rc = SQLITE_OK;
    if (std::holds_alternative<Null>(v)) {
      rc = sqlite3_bind_null(st, i);
    } else if (auto n = std::get_if<std::int64_t>(&v)) {
      rc = sqlite3_bind_int64(st, i, *n);
    } else if (auto d = std::get_if<double>(&v)) {
      rc = sqlite3_bind_double(st, i, *d);
    } else {
      const std::string& text = std::get<std::string>(v);
      rc = sqlite3_bind_text(st, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    }
    if (rc != SQLITE_OK) sqliteFail(c.db, sql);
    ++i;
  }
  return st;
}

// Steps to the end, collecting rows when `out` is given; always leaves the statement reset
// so it holds no lock.
void sqliteRun(Store::Conn& c, sqlite3_stmt* st, const std::string& sql, Rows* out) {
  int cols = 0;
  for (bool first = true;; first = false) {
    int rc = sqlite3_step(st);
    if (first && out) {
      // After the first step: a cached statement whose schema changed is re-prepared by
      // sqlite3_step, and only then has its new columns (SELECT * after ALTER TABLE).
      cols = sqlite3_column_count(st);
      out->columns.clear();
      for (int k = 0; k < cols; ++k) out->columns.emplace_back(sqlite3_column_name(st, k));
    }
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      std::string msg = sqlite3_errmsg(c.db);
      sqlite3_reset(st);
      throw DbError("SQLite: " + msg + " [" + sql.substr(0, 200) + "]");
    }
    if (!out) continue;
    std::vector<Value> row;
    row.reserve(static_cast<std::size_t>(cols));
    for (int k = 0; k < cols; ++k) {
      switch (sqlite3_column_type(st, k)) {
        case SQLITE_INTEGER:
          row.emplace_back(static_cast<std::int64_t>(sqlite3_column_int64(st, k)));
          break;
        case SQLITE_FLOAT:
          row.emplace_back(sqlite3_column_double(st, k));
          break;
        case SQLITE_NULL:
          row.emplace_back(Null{});
          break;
        default: {
          const char* p = reinterpret_cast<const char*>(sqlite3_column_text(st, k));
          row.emplace_back(
              std::string(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(st, k))));
        }
      }
    }
    out->rows.push_back(std::move(row));
  }
  sqlite3_reset(st);
}

// libpq's messages end with a newline.
std::string trimmed(std::string msg) {
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return msg;
}

// A failed statement: the server's message, its SQLSTATE (the write retry looks for
// 40001/40P01) and the start of the SQL. Frees `res`.
[[noreturn]] void pgFail(pg_conn* conn, PGresult* res, const std::string& sql) {
  std::string msg = trimmed(res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string code = state ? std::string(" (SQLSTATE ") + state + ")" : "";
  if (res) PQclear(res);
  throw DbError("PostgreSQL: " + msg + code + " [" + sql.substr(0, 200) + "]");
}

// PostgreSQL through libpq: PQexecParams parses, binds and runs in one round trip (Poco's
// connector prepares and deallocates a named statement around every execution).
std::int64_t pgRun(Store::Conn& c, const std::string& sql, const Params& params, Rows* out) {
  pg_conn* conn = c.pg;
  std::vector<std::string> values(params.size());
  std::vector<const char*> ptrs(params.size(), nullptr);
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Value& v = params[i];
    if (std::holds_alternative<Null>(v)) continue;
    if (auto n = std::get_if<std::int64_t>(&v)) {
      values[i] = std::to_string(*n);
    } else if (auto d = std::get_if<double>(&v)) {
      std::ostringstream os;
      os.precision(17);
      os << *d;
      values[i] = os.str();
    } else {
      values[i] = std::get<std::string>(v);
    }
    ptrs[i] = values[i].c_str();
  }
  // Prepared once per connection (parsing and planning a statement cost the server more
  // than running most of ours), then one round trip per execution. Bounded: past the
  // limit, new statements go through PQexecParams.
  const int n = static_cast<int>(params.size());
  auto it = c.pgStatements.find(sql);
  if (it == c.pgStatements.end() && c.pgStatements.size() < 512) {
    std::string name = "malipo_" + std::to_string(++c.pgStatementSeq);
    std::string text = Store::rewritePlaceholders(sql);
    PGresult* prep = PQprepare(conn, name.c_str(), text.c_str(), n, nullptr);
    if (!prep || PQresultStatus(prep) != PGRES_COMMAND_OK) pgFail(conn, prep, sql);
    PQclear(prep);
    it = c.pgStatements.emplace(sql, std::move(name)).first;
  }
  PGresult* res =
      it != c.pgStatements.end()
          ? PQexecPrepared(conn, it->second.c_str(), n, ptrs.data(), nullptr, nullptr, 0)
          : PQexecParams(conn, Store::rewritePlaceholders(sql).c_str(), n, nullptr, ptrs.data(),
                         nullptr, nullptr, 0);
  ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    // A table changed under a prepared SELECT (e.g. a migration added a column): prepare it
    // afresh next time; isRetryable makes the write run again.
    const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    if (state && std::strcmp(state, "0A000") == 0 && it != c.pgStatements.end())
      c.pgStatements.erase(it);
    pgFail(conn, res, sql);
  }
  std::int64_t affected = 0;
  const char* tuples = PQcmdTuples(res);
  if (tuples && *tuples) affected = std::atoll(tuples);
  if (out) {
    int cols = PQnfields(res), rows = PQntuples(res);
    out->columns.clear();
    for (int c = 0; c < cols; ++c) out->columns.emplace_back(PQfname(res, c));
    out->rows.reserve(static_cast<std::size_t>(rows));
    for (int r = 0; r < rows; ++r) {
      std::vector<Value> row;
      row.reserve(static_cast<std::size_t>(cols));
      for (int c = 0; c < cols; ++c) {
        if (PQgetisnull(res, r, c)) {
          row.emplace_back(Null{});
          continue;
        }
        const char* v = PQgetvalue(res, r, c);
        switch (PQftype(res, c)) {
          case 20:
          case 21:
          case 23:
          case 26:  // int8, int2, int4, oid
            row.emplace_back(static_cast<std::int64_t>(std::atoll(v)));
            break;
          case 700:
          case 701:  // float4, float8
            row.emplace_back(std::atof(v));
            break;
          case 1700:  // numeric (e.g. SUM of bigint): whole numbers stay integers
            if (std::strchr(v, '.'))
              row.emplace_back(std::atof(v));
            else
              row.emplace_back(static_cast<std::int64_t>(std::atoll(v)));
            break;
          case 16:  // bool
            row.emplace_back(static_cast<std::int64_t>(v[0] == 't'));
            break;
          default:
            row.emplace_back(std::string(v, static_cast<std::size_t>(PQgetlength(res, r, c))));
        }
      }
      out->rows.push_back(std::move(row));
    }
  }
  PQclear(res);
  return affected;
}

class SessionTx final : public Tx {
 public:
  SessionTx(Store::Conn& c, Engine e) : c_(c), engine_(e) {}
  std::int64_t exec(const std::string& sql, const Params& params) override {
    if (c_.pg) return pgRun(c_, sql, params, nullptr);
    sqlite3_stmt* st = sqlitePrepare(c_, sql, params);
    sqliteRun(c_, st, sql, nullptr);
    return sqlite3_changes(c_.db);
  }
  Rows query(const std::string& sql, const Params& params) override {
    Rows out;
    if (c_.pg) {
      pgRun(c_, sql, params, &out);
    } else {
      sqlite3_stmt* st = sqlitePrepare(c_, sql, params);
      sqliteRun(c_, st, sql, &out);
    }
    return out;
  }
  Engine engine() const override { return engine_; }
  void onCommit(std::function<void()> fn) override { afterCommit.push_back(std::move(fn)); }
  Store::Conn& conn() { return c_; }

  std::vector<std::function<void()>> afterCommit;

 private:
  Store::Conn& c_;
  Engine engine_;
};

// Transaction control (BEGIN, COMMIT, ROLLBACK, savepoints) and session settings: one round
// trip on PostgreSQL; on SQLite a statement of the connection's cache (sqlite3_exec parsed
// the text again on every call, and a batch runs four of these per callback).
void control(Store::Conn& c, const char* sql) {
  if (c.pg) {
    PGresult* res = PQexec(c.pg, sql);
    ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) pgFail(c.pg, res, sql);
    PQclear(res);
    return;
  }
  const std::string text(sql);
  sqliteRun(c, sqlitePrepare(c, text, {}), text, nullptr);
}

}  // namespace

// Returns a session to the pool on scope exit; drops it if it broke.
class Store::Lease {
 public:
  explicit Lease(Store& store) : store_(store), s_(store.acquire()) {}
  ~Lease() {
    if (broken_) {
      std::lock_guard<std::mutex> lock(store_.poolMutex_);
      --store_.open_;
      store_.poolCv_.notify_one();
    } else {
      store_.release(std::move(s_));
    }
  }
  Conn& conn() { return *s_; }
  void markBroken() { broken_ = true; }

 private:
  Store& store_;
  std::unique_ptr<Conn> s_;
  bool broken_ = false;
};

Store::Store(const std::string& url, int poolSize, int busyTimeoutMs)
    : busyTimeoutMs_(busyTimeoutMs), poolSize_(static_cast<std::size_t>(poolSize)) {
  std::call_once(connectorsOnce, [] {
    // SQLite's memory statistics take a global mutex on every allocation: with many HTTP
    // threads reading at once that mutex, not the database, was the bottleneck.
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    Poco::Data::SQLite::Connector::registerConnector();
  });
  if (url.rfind("sqlite:", 0) == 0) {
    engine_ = Engine::sqlite;
    connector_ = "SQLite";
    connectString_ = url.substr(7);
    if (connectString_.empty()) throw DbError("database.url: sqlite: needs a file path");
    Poco::Path p(connectString_);
    if (p.depth() > 0 || p.isAbsolute()) {
      Poco::File(p.parent()).createDirectories();
    }
  } else if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    engine_ = Engine::postgresql;
    connector_ = "PostgreSQL";
    connectString_ = url;  // libpq reads the URI itself (percent-encoding, ?sslmode=…)
    // Batches running their callbacks at once (see runBatchPostgres): one lane serialises
    // every write of the process onto one connection, a round trip at a time.
    lanes_ = std::max(1, std::min(4, poolSize / 2));
  } else {
    throw DbError("database.url must start with sqlite: or postgresql:// (got '" + redact(url) +
                  "')");
  }
  // Open one connection now so a bad URL fails at start-up, not on the first request.
  release(acquire());
}

Store::~Store() = default;

std::string Store::redact(const std::string& url) {
  auto scheme = url.find("://");
  auto at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
  auto colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

std::string Store::rewritePlaceholders(const std::string& sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int n = 0;
  bool inString = false;
  for (char c : sql) {
    if (c == '\'') inString = !inString;
    if (c == '?' && !inString) {
      out += '$';
      out += std::to_string(++n);
    } else {
      out += c;
    }
  }
  return out;
}

Store::Conn::~Conn() {
  for (auto& kv : statements)
    if (kv.second) sqlite3_finalize(kv.second);
  if (pg) PQfinish(pg);
}

std::unique_ptr<Store::Conn> Store::openSession() {
  auto c = std::make_unique<Conn>();
  if (engine_ == Engine::postgresql) {
    // Straight to libpq: the URI is expanded by libpq (so a percent-encoded password may
    // hold spaces or quotes), and a connect timeout applies unless the URI sets one.
    const char* keys[] = {"connect_timeout", "dbname", nullptr};
    const char* values[] = {"10", connectString_.c_str(), nullptr};
    c->pg = PQconnectdbParams(keys, values, 1);
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
      std::string msg = c->pg ? trimmed(PQerrorMessage(c->pg)) : "out of memory";
      for (auto& ch : msg)
        if (ch == '\n') ch = ' ';
      throw DbError("cannot open the PostgreSQL database: " + msg);
    }
    // NOTICEs (e.g. "already exists, skipping") would reach stderr unformatted.
    control(*c, "SET client_min_messages = warning");
    return c;
  }
  try {
    c->session = std::make_unique<Poco::Data::Session>(connector_, connectString_);
    c->db = Poco::Data::SQLite::Utility::dbHandle(*c->session);
  } catch (const Poco::Exception& e) {
    throw DbError("cannot open the SQLite database: " + e.displayText());
  }
  control(*c, "PRAGMA journal_mode=WAL");
  control(*c, "PRAGMA synchronous=FULL");
  control(*c, "PRAGMA foreign_keys=ON");
  // A batch's savepoints keep the pages they change in a sub-journal: in memory, not a temp
  // file opened, written and unlinked per transaction.
  control(*c, "PRAGMA temp_store=MEMORY");
  control(*c, ("PRAGMA busy_timeout=" + std::to_string(busyTimeoutMs_)).c_str());
  return c;
}

std::unique_ptr<Store::Conn> Store::acquire() {
  std::unique_lock<std::mutex> lock(poolMutex_);
  for (;;) {
    if (!idle_.empty()) {
      auto s = std::move(idle_.back());
      idle_.pop_back();
      return s;
    }
    if (open_ < poolSize_) {
      ++open_;
      lock.unlock();
      try {
        return openSession();
      } catch (...) {
        lock.lock();
        --open_;
        poolCv_.notify_one();
        throw;
      }
    }
    poolCv_.wait(lock);
  }
}

void Store::release(std::unique_ptr<Conn> s) {
  std::lock_guard<std::mutex> lock(poolMutex_);
  idle_.push_back(std::move(s));
  poolCv_.notify_one();
}

namespace {
DbError asDbError(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const DbError& d) {
    return d;
  } catch (const Poco::Exception& p) {
    return DbError(p.displayText());
  } catch (const std::exception& x) {
    return DbError(x.what());
  } catch (...) {
    return DbError("unknown exception");
  }
}

std::string messageOf(const std::exception_ptr& e) {
  return asDbError(e).what();
}

// Rethrows a callback's exception as it was, except Poco's, which become DbError.
[[noreturn]] void rethrow(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const Poco::Exception& p) {
    throw DbError(p.displayText());
  }
}

// Bounds the latency one batch adds to its last member. On PostgreSQL also the number of
// subtransactions per transaction: each writing callback's savepoint takes a subtransaction
// id, and past 64 in one transaction every other session's snapshots overflow to pg_subtrans.
constexpr std::size_t kMaxBatchSqlite = 256, kMaxBatchPostgres = 48;

// Set while this thread runs write callbacks: a write() from inside one would wait for the
// batch it is part of.
thread_local const Store* tlsWriting = nullptr;
}  // namespace

struct Store::WriteItem {
  const std::function<void(Tx&)>* work = nullptr;
  std::condition_variable cv;  // its caller waits here
  std::vector<std::function<void()>> afterCommit;
  std::exception_ptr error;
  bool taken = false;  // in a batch (no longer in the queue)
  bool done = false;
  bool rerun = false;  // `error` was not its own and nothing of it committed: run it again
};

void Store::write(const std::function<void(Tx&)>& work) {
  if (tlsWriting == this) {
    throw DbError("Database::write called from inside a write callback (use the Tx it was given)");
  }
  for (int attempt = 1;; ++attempt) {
    WriteItem item;
    item.work = &work;
    {
      std::unique_lock<std::mutex> lock(groupMutex_);
      queue_.push_back(&item);
      while (!item.done) {
        if (leading_ >= lanes_ || item.taken) {
          item.cv.wait(lock);
          continue;
        }
        // Lead: take what has gathered (this caller's item is among it) and commit it.
        ++leading_;
        const std::size_t cap = engine_ == Engine::postgresql ? kMaxBatchPostgres : kMaxBatchSqlite;
        std::size_t n = std::min(queue_.size(), cap);
        std::vector<WriteItem*> batch(queue_.begin(),
                                      queue_.begin() + static_cast<std::ptrdiff_t>(n));
        queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
        for (WriteItem* w : batch) w->taken = true;
        wakeNextLeader();  // another lane may be free for what is left
        lock.unlock();
        const auto began = std::chrono::steady_clock::now();
        if (engine_ == Engine::postgresql) {
          runBatchPostgres(batch);  // hands the lead on before its COMMIT
        } else {
          runBatch(batch);
        }
        batchNanos_ +=
            static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                           std::chrono::steady_clock::now() - began)
                                           .count());
        lock.lock();
        // Wake exactly the members of this batch (a broadcast woke every queued writer, and
        // they fought over the mutex: 9% of the CPU of payments_bench on SQLite).
        for (WriteItem* w : batch) {
          w->done = true;
          if (w != &item) w->cv.notify_one();
        }
        if (engine_ == Engine::sqlite) {
          --leading_;
          wakeNextLeader();
        }
      }
    }
    if (item.error) {
      if ((item.rerun || isRetryable(messageOf(item.error))) && attempt < 5) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5 * attempt));
        continue;
      }
      rethrow(item.error);
    }
    for (auto& fn : item.afterCommit) {
      try {
        fn();
      } catch (...) {
        // The transaction committed: a failing notification must not report otherwise.
      }
    }
    return;
  }
}

void Store::handOnLead() {
  std::lock_guard<std::mutex> lock(groupMutex_);
  --leading_;
  wakeNextLeader();
}

// With groupMutex_ held: the first queued writer leads the next batch if a lane is free.
void Store::wakeNextLeader() {
  if (leading_ < lanes_ && !queue_.empty()) queue_.front()->cv.notify_one();
}

void Store::runBatch(std::vector<WriteItem*>& batch) {
  auto failAll = [&](const std::exception_ptr& e) {
    for (WriteItem* w : batch) {
      if (!w->error) w->error = e;
      w->afterCommit.clear();
    }
  };
  try {
    if (!writer_) writer_ = openSession();
  } catch (...) {
    failAll(std::current_exception());
    return;
  }
  Conn& c = *writer_;
  try {
    control(c, "BEGIN IMMEDIATE");
  } catch (...) {
    writer_.reset();  // opened again by the next batch
    failAll(std::current_exception());
    return;
  }
  // One callback alone needs no savepoint: its failure rolls the transaction back.
  const bool savepoints = batch.size() > 1;
  tlsWriting = this;
  for (WriteItem* w : batch) {
    try {
      if (savepoints) control(c, "SAVEPOINT malipo_write");
    } catch (...) {
      failAll(std::current_exception());
      break;
    }
    SessionTx tx(c, engine_);
    try {
      (*w->work)(tx);
      if (savepoints) control(c, "RELEASE malipo_write");
      w->afterCommit = std::move(tx.afterCommit);
    } catch (...) {
      w->error = std::current_exception();
      if (!savepoints) break;
      try {
        control(c, "ROLLBACK TO malipo_write");
        control(c, "RELEASE malipo_write");
      } catch (...) {
        failAll(std::current_exception());  // the transaction itself is lost
        break;
      }
    }
  }
  tlsWriting = nullptr;
  bool anyOk = std::any_of(batch.begin(), batch.end(), [](WriteItem* w) { return !w->error; });
  if (anyOk) {
    try {
      control(c, "COMMIT");
      ++commits_;
      committedWrites_ += static_cast<std::uint64_t>(
          std::count_if(batch.begin(), batch.end(), [](WriteItem* w) { return !w->error; }));
      return;
    } catch (...) {
      failAll(std::current_exception());
    }
  }
  try {
    control(c, "ROLLBACK");
  } catch (...) {
    writer_.reset();
  }
}

// PostgreSQL: one BEGIN … COMMIT for the batch, each callback inside the savepoint
// malipo_write. Round trips: `BEGIN; SAVEPOINT` once, `RELEASE; SAVEPOINT` between two
// callbacks, one `ROLLBACK TO` after a failed one (the savepoint survives it, so the next
// callback reuses it), one COMMIT. A callback that hits a serialization failure or a
// deadlock is rolled back to its savepoint (PostgreSQL aborts only the subtransaction, and
// rolling back releases the locks it took) and marked to run again in a later batch; its
// batch-mates commit. If the transaction itself is lost (the savepoint cannot be restored, or
// COMMIT fails with 40001/40P01), the whole batch is marked to run again: nothing of it
// committed. A COMMIT that fails otherwise (e.g. the connection dropped) may or may not have
// committed: every member gets that error, none is re-run blindly.
// The lead passes to the next batch once this batch's callbacks have run, before its COMMIT:
// the next batch runs its callbacks while this one's flush is under way. Only one batch at a
// time is running callbacks, and a committing batch takes no more locks, so batches of one
// process cannot deadlock each other; a callback may wait for a committing batch's locks.
void Store::runBatchPostgres(std::vector<WriteItem*>& batch) {
  std::unique_ptr<Lease> lease;
  // Nothing of the batch committed: members that failed on their own keep their error, the
  // others get `e` and run again when it is certain that nothing of theirs committed.
  auto lost = [&](const std::exception_ptr& e, bool beforeCommit) {
    const bool again = beforeCommit || isRetryable(messageOf(e));
    for (WriteItem* w : batch) {
      w->afterCommit.clear();
      if (w->error) continue;
      w->error = e;
      w->rerun = again;
    }
  };
  try {
    lease = std::make_unique<Lease>(*this);
  } catch (...) {
    handOnLead();
    lost(std::current_exception(), false);
    return;
  }
  Conn& c = lease->conn();
  const bool savepoints = batch.size() > 1;
  try {
    control(c, savepoints ? "BEGIN; SAVEPOINT malipo_write" : "BEGIN");
  } catch (...) {
    handOnLead();
    lease->markBroken();
    lost(std::current_exception(), true);  // e.g. a pooled connection the server dropped
    return;
  }
  bool fresh = true;  // the savepoint holds no callback's work yet
  bool broken = false;
  tlsWriting = this;
  for (WriteItem* w : batch) {
    if (!fresh) {
      try {
        control(c, "RELEASE malipo_write; SAVEPOINT malipo_write");
        fresh = true;
      } catch (...) {
        lost(std::current_exception(), true);
        broken = true;
        break;
      }
    }
    SessionTx tx(c, engine_);
    std::exception_ptr failed;
    try {
      (*w->work)(tx);
      // A callback that caught a statement's error and returned anyway left the transaction
      // aborted: that is its failure, not its batch-mates'.
      if (PQtransactionStatus(c.pg) == PQTRANS_INERROR) {
        throw DbError(
            "PostgreSQL: a statement of this write failed and the callback went on "
            "(current transaction is aborted)");
      }
      w->afterCommit = std::move(tx.afterCommit);
      fresh = false;
    } catch (...) {
      failed = std::current_exception();
    }
    if (!failed) continue;
    w->error = failed;  // a serialization failure or deadlock makes write() run it again
    if (!savepoints) break;
    try {
      control(c, "ROLLBACK TO SAVEPOINT malipo_write");
    } catch (...) {
      lost(std::current_exception(), true);
      broken = true;
      break;
    }
  }
  tlsWriting = nullptr;
  handOnLead();
  const auto applied =
      std::count_if(batch.begin(), batch.end(), [](WriteItem* w) { return !w->error; });
  if (!broken && applied > 0) {
    try {
      control(c, "COMMIT");
      ++commits_;
      committedWrites_ += static_cast<std::uint64_t>(applied);
      return;
    } catch (...) {
      lost(std::current_exception(), false);
    }
  }
  try {
    control(c, "ROLLBACK");
  } catch (...) {
    lease->markBroken();
  }
}

bool Store::nested(Tx& tx, const std::function<bool()>& fn) {
  auto* s = dynamic_cast<SessionTx*>(&tx);
  if (!s) throw std::logic_error("Store::nested: not a transaction of Store::write");
  Conn& c = s->conn();
  const std::size_t callbacks = s->afterCommit.size();
  control(c, "SAVEPOINT malipo_nested");
  bool kept = false;
  std::exception_ptr error;
  try {
    kept = fn();
    if (c.pg && PQtransactionStatus(c.pg) == PQTRANS_INERROR)
      throw DbError("PostgreSQL: a statement failed inside a nested write");
  } catch (...) {
    error = std::current_exception();
    kept = false;
  }
  if (kept) {
    control(c, "RELEASE malipo_nested");
    return true;
  }
  control(c, "ROLLBACK TO malipo_nested");
  control(c, "RELEASE malipo_nested");
  s->afterCommit.resize(callbacks);
  if (error) std::rethrow_exception(error);
  return false;
}

Rows Store::query(const std::string& sql, const Params& params) {
  Lease lease(*this);
  try {
    SessionTx tx(lease.conn(), engine_);
    try {
      return tx.query(sql, params);
    } catch (const DbError& e) {
      // A prepared statement whose table changed since: prepared afresh, once.
      if (std::string(e.what()).find("cached plan must not change result type") ==
          std::string::npos)
        throw;
      return tx.query(sql, params);
    }
  } catch (const DbError&) {
    if (!ping()) lease.markBroken();
    throw;
  }
}

std::int64_t Store::exec(const std::string& sql, const Params& params) {
  std::int64_t n = 0;
  write([&](Tx& tx) { n = tx.exec(sql, params); });
  return n;
}

bool Store::ping() {
  try {
    Lease lease(*this);
    SessionTx tx(lease.conn(), engine_);
    tx.query("SELECT 1", {});
    return true;
  } catch (...) {
    return false;
  }
}

namespace {
std::vector<std::string> splitStatements(const std::string& sql) {
  std::vector<std::string> out;
  std::string cur;
  bool inString = false;
  for (char c : sql) {
    if (c == '\'') inString = !inString;
    if (c == ';' && !inString) {
      if (cur.find_first_not_of(" \t\r\n") != std::string::npos) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (cur.find_first_not_of(" \t\r\n") != std::string::npos) out.push_back(cur);
  return out;
}
}  // namespace

std::vector<int> Store::migrate(const std::string& component,
                                const std::vector<Migration>& migrations) {
  write([&](Tx& tx) {
    tx.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL, version BIGINT NOT "
        "NULL, "
        "description TEXT NOT NULL, applied_at BIGINT NOT NULL, PRIMARY KEY (component, version))");
  });
  std::vector<int> applied;
  for (const Migration& m : migrations) {
    bool done = false;
    write([&](Tx& tx) {
      auto rows =
          tx.query("SELECT version FROM schema_migrations WHERE component = ? AND version = ?",
                   {component, static_cast<std::int64_t>(m.version)});
      if (!rows.empty()) {
        done = true;
        return;
      }
      const std::string& sql =
          (engine_ == Engine::postgresql && !m.postgresql.empty()) ? m.postgresql : m.sqlite;
      try {
        for (const auto& stmt : splitStatements(sql)) tx.exec(stmt);
      } catch (const DbError& e) {
        throw DbError("migration " + component + "/" + std::to_string(m.version) + " (" +
                      m.description + ") failed: " + e.what());
      }
      auto nowMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
      tx.exec(
          "INSERT INTO schema_migrations (component, version, description, applied_at) VALUES (?, "
          "?, ?, ?)",
          {component, static_cast<std::int64_t>(m.version), m.description,
           static_cast<std::int64_t>(nowMs)});
    });
    if (!done) applied.push_back(m.version);
  }
  return applied;
}

}  // namespace malipo
