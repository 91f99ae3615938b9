#include <atomic>
#include <thread>
#include <vector>

#include "engines.hpp"
#include "store/Store.hpp"

using namespace malipo;

class StoreTest : public EngineTest {};

TEST_P(StoreTest, ValuesRoundTrip) {
  SKIP_WITHOUT_ENGINE();
  Store s(url(), 4, 5000);
  s.exec("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, amount BIGINT, ratio DOUBLE PRECISION)");
  s.exec("INSERT INTO t (id, name, amount, ratio) VALUES (?, ?, ?, ?)",
         {std::int64_t{1}, std::string("Zoë 'quoted' ?"), std::int64_t{9000000000000}, 0.5});
  s.exec("INSERT INTO t (id, name, amount, ratio) VALUES (?, ?, ?, ?)", {std::int64_t{2}, Null{}, Null{}, Null{}});
  Rows r = s.query("SELECT id, name, amount, ratio FROM t WHERE id = ?", {std::int64_t{1}});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r.str(0, "name"), "Zoë 'quoted' ?");
  EXPECT_EQ(r.i64(0, "amount"), 9000000000000);
  Rows n = s.query("SELECT name, amount FROM t WHERE id = 2");
  EXPECT_TRUE(n.isNull(0, "name"));
  EXPECT_TRUE(n.isNull(0, "amount"));
  Rows c = s.query("SELECT COUNT(*) AS n FROM t WHERE name = '?'");
  EXPECT_EQ(c.i64(0, "n"), 0);  // a '?' inside a literal is not a placeholder
}

TEST_P(StoreTest, RolledBackWriteLeavesNothing) {
  SKIP_WITHOUT_ENGINE();
  Store s(url(), 4, 5000);
  s.exec("CREATE TABLE t (id BIGINT PRIMARY KEY)");
  EXPECT_THROW(s.write([](Tx& tx) {
    tx.exec("INSERT INTO t (id) VALUES (1)");
    throw std::runtime_error("abort");
  }), std::runtime_error);
  EXPECT_EQ(s.query("SELECT COUNT(*) AS n FROM t").i64(0, "n"), 0);
  bool committed = false;
  s.write([&](Tx& tx) {
    tx.exec("INSERT INTO t (id) VALUES (2)");
    tx.onCommit([&] { committed = true; });
  });
  EXPECT_TRUE(committed);
  EXPECT_EQ(s.exec("INSERT INTO t (id) VALUES (2) ON CONFLICT DO NOTHING"), 0);
}

TEST_P(StoreTest, MigrationsApplyOnceAndFailureLeavesSchema) {
  SKIP_WITHOUT_ENGINE();
  Store s(url(), 2, 5000);
  std::vector<Migration> ms{{1, "create a", "CREATE TABLE a (id BIGINT)", ""},
                            {2, "add b", "CREATE TABLE b (id BIGINT); CREATE INDEX b_id ON b (id)", ""}};
  EXPECT_EQ(s.migrate("comp", ms), (std::vector<int>{1, 2}));
  EXPECT_TRUE(s.migrate("comp", ms).empty());
  // Migration 3 creates a table then fails: the table must not exist afterwards.
  ms.push_back({3, "broken", "CREATE TABLE c (id BIGINT); INSERT INTO nowhere VALUES (1)", ""});
  try {
    s.migrate("comp", ms);
    FAIL() << "broken migration applied";
  } catch (const DbError& e) {
    EXPECT_NE(std::string(e.what()).find("migration comp/3 (broken) failed"), std::string::npos) << e.what();
  }
  EXPECT_THROW(s.query("SELECT * FROM c"), DbError);
  EXPECT_EQ(s.query("SELECT COUNT(*) AS n FROM schema_migrations WHERE component = 'comp'").i64(0, "n"), 2);
}

TEST_P(StoreTest, ConcurrentWritersSerialize) {
  SKIP_WITHOUT_ENGINE();
  Store s(url(), 8, 5000);
  s.exec("CREATE TABLE counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)");
  s.exec("INSERT INTO counter (id, n) VALUES (1, 0)");
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 25; ++i)
        s.write([](Tx& tx) {
          auto n = tx.query("SELECT n FROM counter WHERE id = 1").i64(0, "n");
          tx.exec("UPDATE counter SET n = ? WHERE id = 1 AND n = ?", {n + 1, n});
        });
    });
  for (auto& t : ts) t.join();
  // Compare-and-set updates may lose on PostgreSQL (read committed), never double-count.
  auto n = s.query("SELECT n FROM counter WHERE id = 1").i64(0, "n");
  if (GetParam() == "sqlite") {
    EXPECT_EQ(n, 200);
  } else {
    EXPECT_LE(n, 200);
    EXPECT_GT(n, 0);
  }
}

TEST(StoreUrl, RedactsPasswordsAndRewritesPlaceholders) {
  EXPECT_EQ(Store::redact("postgresql://u:secret@h:5432/db"), "postgresql://u:***@h:5432/db");
  EXPECT_EQ(Store::redact("sqlite:var/x.db"), "sqlite:var/x.db");
  EXPECT_EQ(Store::rewritePlaceholders("SELECT ? , '?', ?"), "SELECT $1 , '?', $2");
  EXPECT_THROW(Store("mysql://x", 1, 1), DbError);
}

TEST(StoreUrl, PostgresPasswordWithSpacesAndQuotesAndAClearErrorWhenWrong) {
  const std::string base = test::postgresUrl();
  if (base.empty()) {
    if (std::getenv("MALIPO_REQUIRE_PG")) FAIL() << "MALIPO_TEST_PG_URL is not set";
    GTEST_SKIP() << "no PostgreSQL (run through scripts/test.sh)";
  }
  // scripts/test.sh makes pg_hba ask this role for its password (scram-sha-256).
  {
    Store admin(base, 1, 1000);
    admin.query("SELECT 1");
    Rows r = admin.query("SELECT COUNT(*) AS n FROM pg_roles WHERE rolname = 'malipo_pw'");
    if (r.i64(0, "n") == 0) admin.exec("CREATE ROLE malipo_pw LOGIN PASSWORD 'pa ss''wo rd'");
  }
  std::string hostPart = base.substr(base.find('@'));  // @127.0.0.1:PORT/postgres
  Store ok("postgresql://malipo_pw:pa%20ss%27wo%20rd" + hostPart, 1, 1000);
  EXPECT_EQ(ok.query("SELECT current_user AS u").str(0, "u"), "malipo_pw");
  try {
    Store bad("postgresql://malipo_pw:not%20it" + hostPart, 1, 1000);
    FAIL() << "a wrong password connected";
  } catch (const DbError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("cannot open the PostgreSQL database"), std::string::npos) << what;
    EXPECT_NE(what.find("password authentication failed"), std::string::npos) << what;
    EXPECT_EQ(what.find("not it"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, StoreTest, ::testing::Values("sqlite", "postgresql"), engineName);

// Concurrent writers share commits (SQLite group commit), yet each keeps its own outcome: a
// callback that throws rolls back only its own work, its batch-mates commit, the others'
// onCommit runs on their own thread, and a constraint failure in one does not leak into the
// next. On PostgreSQL every write is its own transaction; the outcomes are the same.
TEST_P(StoreTest, ConcurrentWritersKeepTheirOwnOutcomes) {
  SKIP_WITHOUT_ENGINE();
  Store s(url(), 8, 5000);
  s.exec("CREATE TABLE g (id BIGINT PRIMARY KEY, writer BIGINT NOT NULL)");
  constexpr int kThreads = 32, kEach = 40;
  std::atomic<int> committedCallbacks{0}, threw{0}, wrongThread{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::int64_t id = t * 1000 + i;
        const bool fail = (id % 7) == 3, dup = (id % 11) == 5;
        try {
          std::thread::id me = std::this_thread::get_id();
          s.write([&](Tx& tx) {
            tx.exec("INSERT INTO g (id, writer) VALUES (?, ?)", {id, std::int64_t{t}});
            tx.exec("INSERT INTO g (id, writer) VALUES (?, ?)", {id + 500, std::int64_t{t}});
            if (dup) tx.exec("INSERT INTO g (id, writer) VALUES (?, ?)", {id, std::int64_t{t}});  // violates the key
            if (fail) throw std::runtime_error("deliberate");
            tx.onCommit([&, me] {
              if (std::this_thread::get_id() != me) ++wrongThread;
              ++committedCallbacks;
            });
          });
        } catch (const std::exception&) {
          ++threw;
        }
      }
    });
  for (auto& th : ts) th.join();
  int expectOk = 0;
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kEach; ++i) {
      std::int64_t id = t * 1000 + i;
      if ((id % 7) != 3 && (id % 11) != 5) ++expectOk;
    }
  EXPECT_EQ(committedCallbacks.load(), expectOk);
  EXPECT_EQ(threw.load(), kThreads * kEach - expectOk);
  EXPECT_EQ(wrongThread.load(), 0);
  EXPECT_EQ(s.query("SELECT COUNT(*) AS n FROM g").i64(0, "n"), 2 * expectOk);
  // Nothing of a failed callback stayed, not even its first insert.
  EXPECT_EQ(s.query("SELECT COUNT(*) AS n FROM g WHERE id % 1000 < 500 AND (id % 7 = 3 OR id % 11 = 5)").i64(0, "n"), 0);
  EXPECT_EQ(s.committedWrites(), static_cast<std::uint64_t>(expectOk) + 1);  // + the CREATE TABLE
  if (s.engine() == Engine::sqlite) {
    EXPECT_LT(s.commits(), s.committedWrites()) << "no two writers ever shared a commit";
  }
}
