// The database lent to plugins: SQLite or PostgreSQL behind one small interface.
//
// SQL uses `?` placeholders (the kernel rewrites them for PostgreSQL) and the common subset
// of both engines: INTEGER/BIGINT, TEXT, `ON CONFLICT … DO NOTHING`, `RETURNING`.
// Where engines differ, branch on engine().
// Errors: database calls throw malipo::DbError; the kernel catches it at every boundary
// (route handler, job handler) and answers 500/503 or retries the job.
// Thread-safety: Database is safe from any thread; a Tx belongs to the thread that opened
// it and must not escape the callback. Lifetime: owned by the kernel, outlives plugins.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace malipo {

class DbError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Null {};
inline bool operator==(Null, Null) {
  return true;
}
using Value = std::variant<Null, std::int64_t, double, std::string>;
using Params = std::vector<Value>;

class Rows {
 public:
  std::vector<std::string> columns;
  std::vector<std::vector<Value>> rows;

  std::size_t size() const { return rows.size(); }
  bool empty() const { return rows.empty(); }
  std::size_t col(const std::string& name) const {
    for (std::size_t i = 0; i < columns.size(); ++i)
      if (columns[i] == name) return i;
    throw DbError("no column '" + name + "' in result");
  }
  bool isNull(std::size_t r, const std::string& name) const {
    return std::holds_alternative<Null>(rows.at(r).at(col(name)));
  }
  std::string str(std::size_t r, const std::string& name) const {
    const Value& v = rows.at(r).at(col(name));
    if (auto s = std::get_if<std::string>(&v)) return *s;
    if (auto i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
    if (auto d = std::get_if<double>(&v)) return std::to_string(*d);
    return {};
  }
  std::int64_t i64(std::size_t r, const std::string& name) const {
    const Value& v = rows.at(r).at(col(name));
    if (auto i = std::get_if<std::int64_t>(&v)) return *i;
    if (auto d = std::get_if<double>(&v)) return static_cast<std::int64_t>(*d);
    if (auto s = std::get_if<std::string>(&v)) return s->empty() ? 0 : std::stoll(*s);
    return 0;
  }
};

enum class Engine { sqlite, postgresql };

class Tx {
 public:
  virtual ~Tx() = default;
  // Runs a statement; returns the number of rows it changed.
  virtual std::int64_t exec(const std::string& sql, const Params& params = {}) = 0;
  virtual Rows query(const std::string& sql, const Params& params = {}) = 0;
  virtual Engine engine() const = 0;
  // Runs `fn` after this transaction committed (never if it rolled back), on the same thread.
  virtual void onCommit(std::function<void()> fn) = 0;
};

class Database {
 public:
  virtual ~Database() = default;
  virtual Engine engine() const = 0;
  // Runs `work` in one write transaction (SQLite: BEGIN IMMEDIATE) and commits; rolls back
  // and rethrows if `work` throws. Retries the whole callback on a serialization failure or
  // a busy database, so `work` must have no effect outside the transaction.
  virtual void write(const std::function<void(Tx&)>& work) = 0;
  // Autocommit read (or a single statement).
  virtual Rows query(const std::string& sql, const Params& params = {}) = 0;
  virtual std::int64_t exec(const std::string& sql, const Params& params = {}) = 0;
};

// A versioned schema change owned by one component; applied once, in order, each in its own
// transaction, and recorded in schema_migrations(component, version).
struct Migration {
  int version = 0;
  std::string description;
  std::string sqlite;      // statements separated by ';'
  std::string postgresql;  // empty: same as sqlite
};

}  // namespace malipo
