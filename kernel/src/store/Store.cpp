#include "store/Store.hpp"

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/RecordSet.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Statement.h>
#include <Poco/File.h>
#include <Poco/Nullable.h>
#include <Poco/Path.h>
#include <Poco/URI.h>

#include <chrono>
#include <thread>

namespace malipo {

using namespace Poco::Data::Keywords;

namespace {

std::once_flag connectorsOnce;

void bindParams(Poco::Data::Statement& st, const Params& params) {
  for (const Value& v : params) {
    if (std::holds_alternative<Null>(v)) {
      st, bind(Poco::Nullable<std::string>());
    } else if (auto i = std::get_if<std::int64_t>(&v)) {
      st, bind(static_cast<Poco::Int64>(*i));
    } else if (auto d = std::get_if<double>(&v)) {
      st, bind(*d);
    } else {
      st, bind(std::get<std::string>(v));
    }
  }
}

Value toValue(const Poco::Dynamic::Var& v) {
  if (v.isEmpty()) return Null{};
  if (v.isInteger() || v.isBoolean()) return static_cast<std::int64_t>(v.convert<Poco::Int64>());
  if (v.isNumeric()) return v.convert<double>();
  return v.convert<std::string>();
}

Rows collect(Poco::Data::Statement& st) {
  Rows out;
  Poco::Data::RecordSet rs(st);
  std::size_t cols = rs.columnCount();
  for (std::size_t c = 0; c < cols; ++c) out.columns.push_back(rs.columnName(c));
  std::size_t n = rs.rowCount();
  out.rows.reserve(n);
  for (std::size_t r = 0; r < n; ++r) {
    std::vector<Value> row;
    row.reserve(cols);
    for (std::size_t c = 0; c < cols; ++c) row.push_back(toValue(rs.value(c, r)));
    out.rows.push_back(std::move(row));
  }
  return out;
}

bool isRetryable(const std::string& msg) {
  // PostgreSQL serialization failure / deadlock; SQLite busy beyond the timeout.
  return msg.find("40001") != std::string::npos || msg.find("40P01") != std::string::npos ||
         msg.find("could not serialize") != std::string::npos ||
         msg.find("deadlock detected") != std::string::npos ||
         msg.find("database is locked") != std::string::npos;
}

class SessionTx final : public Tx {
 public:
  SessionTx(Poco::Data::Session& s, Engine e) : s_(s), engine_(e) {}
  std::int64_t exec(const std::string& sql, const Params& params) override {
    try {
      Poco::Data::Statement st(s_);
      st << (engine_ == Engine::postgresql ? Store::rewritePlaceholders(sql) : sql);
      bindParams(st, params);
      return static_cast<std::int64_t>(st.execute());
    } catch (const Poco::Exception& e) {
      throw DbError(e.displayText());
    }
  }
  Rows query(const std::string& sql, const Params& params) override {
    try {
      Poco::Data::Statement st(s_);
      st << (engine_ == Engine::postgresql ? Store::rewritePlaceholders(sql) : sql);
      bindParams(st, params);
      st.execute();
      return collect(st);
    } catch (const Poco::Exception& e) {
      throw DbError(e.displayText());
    }
  }
  Engine engine() const override { return engine_; }
  void onCommit(std::function<void()> fn) override { afterCommit.push_back(std::move(fn)); }

  std::vector<std::function<void()>> afterCommit;

 private:
  Poco::Data::Session& s_;
  Engine engine_;
};

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
  Poco::Data::Session& operator*() { return *s_; }
  void markBroken() { broken_ = true; }

 private:
  Store& store_;
  std::unique_ptr<Poco::Data::Session> s_;
  bool broken_ = false;
};

Store::Store(const std::string& url, int poolSize, int busyTimeoutMs)
    : busyTimeoutMs_(busyTimeoutMs), poolSize_(static_cast<std::size_t>(poolSize)) {
  std::call_once(connectorsOnce, [] {
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::PostgreSQL::Connector::registerConnector();
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
    connectString_ = postgresConnectString(url);
  } else {
    throw DbError("database.url must start with sqlite: or postgresql:// (got '" + redact(url) + "')");
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

std::string Store::postgresConnectString(const std::string& url) {
  Poco::URI uri(url);
  auto quote = [](const std::string& v) {
    std::string out = "'";
    for (char c : v) {
      if (c == '\\' || c == '\'') out += '\\';
      out += c;
    }
    return out + "'";
  };
  std::string out = "host=" + quote(uri.getHost().empty() ? "127.0.0.1" : uri.getHost());
  if (uri.getPort()) out += " port=" + std::to_string(uri.getPort());
  std::string userInfo = uri.getUserInfo();
  std::string user = userInfo.substr(0, userInfo.find(':'));
  if (!user.empty()) {
    std::string decoded;
    Poco::URI::decode(user, decoded);
    out += " user=" + quote(decoded);
  }
  if (userInfo.find(':') != std::string::npos) {
    std::string decoded;
    Poco::URI::decode(userInfo.substr(userInfo.find(':') + 1), decoded);
    out += " password=" + quote(decoded);
  }
  std::string db = uri.getPath();
  if (!db.empty() && db[0] == '/') db = db.substr(1);
  if (!db.empty()) out += " dbname=" + quote(db);
  for (const auto& kv : uri.getQueryParameters()) out += " " + kv.first + "=" + quote(kv.second);
  return out;
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

std::unique_ptr<Poco::Data::Session> Store::openSession() {
  try {
    auto s = std::make_unique<Poco::Data::Session>(connector_, connectString_);
    if (engine_ == Engine::sqlite) {
      *s << "PRAGMA journal_mode=WAL", now;
      *s << "PRAGMA synchronous=FULL", now;
      *s << "PRAGMA foreign_keys=ON", now;
      *s << ("PRAGMA busy_timeout=" + std::to_string(busyTimeoutMs_)), now;
    } else {
      // NOTICEs (e.g. "already exists, skipping") would reach stderr unformatted.
      *s << "SET client_min_messages = warning", now;
    }
    return s;
  } catch (const Poco::Exception& e) {
    throw DbError("cannot open the " + connector_ + " database: " + e.displayText());
  }
}

std::unique_ptr<Poco::Data::Session> Store::acquire() {
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

void Store::release(std::unique_ptr<Poco::Data::Session> s) {
  std::lock_guard<std::mutex> lock(poolMutex_);
  idle_.push_back(std::move(s));
  poolCv_.notify_one();
}

void Store::write(const std::function<void(Tx&)>& work) {
  for (int attempt = 1;; ++attempt) {
    std::unique_lock<std::mutex> writeLock(sqliteWriteMutex_, std::defer_lock);
    if (engine_ == Engine::sqlite) writeLock.lock();
    Lease lease(*this);
    Poco::Data::Session& s = *lease;
    bool began = false;
    try {
      s << (engine_ == Engine::sqlite ? "BEGIN IMMEDIATE" : "BEGIN"), now;
      began = true;
      SessionTx tx(s, engine_);
      work(tx);
      s << "COMMIT", now;
      writeLock = {};
      for (auto& fn : tx.afterCommit) {
        try {
          fn();
        } catch (...) {
          // The transaction committed: a failing notification must not report otherwise.
        }
      }
      return;
    } catch (...) {
      std::string msg;
      try {
        throw;
      } catch (const Poco::Exception& e) {
        msg = e.displayText();
      } catch (const std::exception& e) {
        msg = e.what();
      } catch (...) {
        msg = "unknown exception";
      }
      if (began) {
        try {
          s << "ROLLBACK", now;
        } catch (...) {
          lease.markBroken();
        }
      } else {
        lease.markBroken();
      }
      if (isRetryable(msg) && attempt < 5) {
        writeLock = {};
        std::this_thread::sleep_for(std::chrono::milliseconds(5 * attempt));
        continue;
      }
      try {
        throw;
      } catch (const Poco::Exception& e) {
        throw DbError(e.displayText());
      }
    }
  }
}

Rows Store::query(const std::string& sql, const Params& params) {
  Lease lease(*this);
  try {
    SessionTx tx(*lease, engine_);
    return tx.query(sql, params);
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
    SessionTx tx(*lease, engine_);
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

std::vector<int> Store::migrate(const std::string& component, const std::vector<Migration>& migrations) {
  write([&](Tx& tx) {
    tx.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL, version BIGINT NOT NULL, "
        "description TEXT NOT NULL, applied_at BIGINT NOT NULL, PRIMARY KEY (component, version))");
  });
  std::vector<int> applied;
  for (const Migration& m : migrations) {
    bool done = false;
    write([&](Tx& tx) {
      auto rows = tx.query("SELECT version FROM schema_migrations WHERE component = ? AND version = ?",
                           {component, static_cast<std::int64_t>(m.version)});
      if (!rows.empty()) {
        done = true;
        return;
      }
      const std::string& sql = (engine_ == Engine::postgresql && !m.postgresql.empty()) ? m.postgresql : m.sqlite;
      try {
        for (const auto& stmt : splitStatements(sql)) tx.exec(stmt);
      } catch (const DbError& e) {
        throw DbError("migration " + component + "/" + std::to_string(m.version) + " (" + m.description +
                      ") failed: " + e.what());
      }
      auto nowMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
      tx.exec("INSERT INTO schema_migrations (component, version, description, applied_at) VALUES (?, ?, ?, ?)",
              {component, static_cast<std::int64_t>(m.version), m.description, static_cast<std::int64_t>(nowMs)});
    });
    if (!done) applied.push_back(m.version);
  }
  return applied;
}

}  // namespace malipo
