// The `malipo` command as a user runs it: CLI errors, SIGTERM, kill -9, two processes.
#include <Poco/JSON/Parser.h>
#include <Poco/Net/ServerSocket.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "engines.hpp"
#include "kernel_fixture.hpp"
#include "store/Store.hpp"

using namespace malipo;
using namespace malipo::test;

namespace {

const std::string kBin = MALIPO_BINARY;

std::string configFor(const TempDir& dir, const std::string& dbUrl, const std::string& extra = "") {
  std::string path = dir.file("malipo.yaml");
  std::string yaml = kernelYaml(dbUrl);
  yaml.replace(yaml.find("jobs: {workers: 2, poll_interval_ms: 20}"),
               std::string("jobs: {workers: 2, poll_interval_ms: 20}").size(),
               "jobs: {workers: 2, poll_interval_ms: 20, rescue_interval_ms: 100}");
  writeFile(path, yaml + extra);
  return path;
}

// Replaces the first `from` in the config file at `path`.
void editConfig(const std::string& path, const std::string& from, const std::string& to) {
  std::string yaml = readFile(path);
  yaml.replace(yaml.find(from), from.size(), to);
  writeFile(path, yaml);
}

struct Server {
  Server(const TempDir& dir, const std::string& config, const std::string& name)
      : portFile(dir.file(name + ".port")), log(dir.file(name + ".log")) {
    std::remove(portFile.c_str());
    child = std::make_unique<Child>(
        std::vector<std::string>{kBin, "serve", "--config", config, "--port-file", portFile}, log);
    port = waitForPortFile(portFile);
  }
  std::string portFile, log;
  std::unique_ptr<Child> child;
  std::uint16_t port = 0;
};

}  // namespace

TEST(Cli, HelpVersionAndUnknownCommand) {
  auto help = runCommand(kBin + " --help");
  EXPECT_EQ(help.first, 0);
  EXPECT_NE(help.second.find("malipo check-config"), std::string::npos);
  auto version = runCommand(kBin + " --version");
  EXPECT_EQ(version.first, 0);
  EXPECT_NE(version.second.find("(plugin SDK " + kernelSdkVersion() + ")"), std::string::npos)
      << version.second;
  auto unknown = runCommand(kBin + " frobnicate");
  EXPECT_EQ(unknown.first, 2);
  EXPECT_NE(unknown.second.find("unknown command 'frobnicate'"), std::string::npos);
  auto badOpt = runCommand(kBin + " serve --colour red");
  EXPECT_NE(badOpt.first, 0);
  EXPECT_NE(badOpt.second.find("unknown option --colour"), std::string::npos);
}

TEST(Cli, CheckConfigReportsErrorsOnOneLineWithoutSecrets) {
  TempDir dir;
  writeFile(dir.file("bad.yaml"), "auth:\n  jwt_secret: topsecret\nserver:\n  thread: 4\n");
  auto bad = runCommand(kBin + " check-config --config " + dir.file("bad.yaml"));
  EXPECT_EQ(bad.first, 1);
  EXPECT_NE(bad.second.find("bad.yaml:4: server.thread: unknown key"), std::string::npos)
      << bad.second;
  EXPECT_EQ(bad.second.find("topsecret"), std::string::npos);
  EXPECT_EQ(bad.second.find("terminate"), std::string::npos);
  auto missing = runCommand(kBin + " check-config --config " + dir.file("none.yaml"));
  EXPECT_EQ(missing.first, 1);
  EXPECT_NE(missing.second.find("cannot read the config file"), std::string::npos);

  std::string good = configFor(dir, "sqlite:" + dir.file("c.db"));
  std::string withSecret = readFile(good);
  withSecret.replace(withSecret.find("{greeting: jambo}"), 17,
                     "{greeting: jambo, api_secret: plugin-secret-xyz}");
  writeFile(good, withSecret);
  auto ok = runCommand(kBin + " check-config --config " + good);
  EXPECT_EQ(ok.first, 0) << ok.second;
  EXPECT_NE(ok.second.find("testplugin 1.2.3"), std::string::npos) << ok.second;
  EXPECT_NE(ok.second.find("greeting: \"jambo\""), std::string::npos) << ok.second;
  EXPECT_EQ(ok.second.find("plugin-secret-xyz"), std::string::npos) << ok.second;
  EXPECT_EQ(ok.second.find("test-secret-0123456789abcdefghijklmnop"), std::string::npos)
      << ok.second;
  EXPECT_EQ(ok.second.find("admin-token-0123456789abcdefghijklmnop"), std::string::npos)
      << ok.second;

  auto plugins = runCommand(kBin + " plugins --config " + good);
  EXPECT_EQ(plugins.first, 0);
  EXPECT_NE(plugins.second.find("testplugin"), std::string::npos);
  EXPECT_NE(plugins.second.find("1.2.3"), std::string::npos);
  EXPECT_NE(plugins.second.find("libmalipo_testplugin.so"), std::string::npos);

  std::string broken = dir.file("broken.yaml");
  writeFile(broken, "sandbox: true\nplugins:\n  - name: wants_next_minor\n    library: " +
                        testPluginPath("wants_next_minor") + "\n");
  auto mismatch = runCommand(kBin + " check-config --config " + broken);
  EXPECT_EQ(mismatch.first, 1);
  EXPECT_NE(mismatch.second.find("built for SDK 1." + std::to_string(MALIPO_SDK_MINOR + 1) +
                                 ", this kernel offers SDK " + kernelSdkVersion()),
            std::string::npos)
      << mismatch.second;
}

// check-config runs what serve runs before it listens: a plugin whose registration fails is
// refused by both, with the same line.
TEST(Cli, CheckConfigRefusesWhatServeRefuses) {
  TempDir dir;
  std::string cfg = dir.file("x.yaml");
  writeFile(cfg, "sandbox: true\ndatabase: {url: \"sqlite:" + dir.file("x.db") +
                     "\"}\nplugins:\n  - name: broken_init\n    library: " +
                     testPluginPath("broken_init") + "\n");
  auto check = runCommand(kBin + " check-config --config " + cfg);
  // It never touched the configured database.
  EXPECT_FALSE(std::ifstream(dir.file("x.db")).good());
  auto serve = runCommand(kBin + " serve --config " + cfg);
  EXPECT_EQ(check.first, 1) << check.second;
  EXPECT_EQ(serve.first, 1) << serve.second;
  EXPECT_NE(check.second.find("init failed"), std::string::npos) << check.second;
  EXPECT_EQ(check.second, serve.second);
}

TEST(Cli, BadNumbersAndUnknownStatesAreClearErrors) {
  TempDir dir;
  std::string cfg = configFor(dir, "sqlite:" + dir.file("n.db"));
  struct Case {
    std::string args, message;
  } cases[] = {
      {"jobs list --limit abc", "--limit must be a whole number between 1 and 100000, got 'abc'"},
      {"jobs list --limit 0", "--limit must be a whole number"},
      {"payments list --limit 5x", "--limit must be a whole number"},
      {"jobs retry twelve", "job id must be a whole number"},
      {"jobs list --state bogus", "unknown state 'bogus' (known: queued, running, done, dead)"},
      {"payments list --state paid", "unknown state 'paid' (known: created, pending, succeeded"},
  };
  for (const auto& c : cases) {
    auto r = runCommand(kBin + " " + c.args + " --config " + cfg);
    EXPECT_NE(r.first, 0) << c.args;
    EXPECT_NE(r.second.find("malipo: " + c.message), std::string::npos)
        << c.args << ": " << r.second;
    EXPECT_EQ(r.second.find("stoll"), std::string::npos) << r.second;
  }
  EXPECT_EQ(runCommand(kBin + " jobs list --state dead --limit 5 --config " + cfg).first, 0);
}

// `malipo payments sync` in sandbox asks the running server's simulator (the public URL
// follows from the configured listen address), instead of failing on an empty URL.
TEST(Cli, PaymentsSyncReachesTheRunningSandboxServer) {
  TempDir dir;
  std::uint16_t port = 0;
  {
    Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
    port = probe.address().port();
  }
  std::string cfg = dir.file("sync.yaml");
  writeFile(cfg, "server: {listen: \"127.0.0.1:" + std::to_string(port) +
                     "\", access_log: false}\n"
                     "database: {url: \"sqlite:" +
                     dir.file("s.db") +
                     "\"}\n"
                     "jobs: {workers: 0}\nlog: {level: error}\nsandbox: true\nplugins:\n"
                     "  - name: fakepay\n    library: " +
                     testPluginPath("fakepay") +
                     "\n"
                     "  - name: shop\n    library: " +
                     testPluginPath("shop") + "\n");
  Server srv(dir, cfg, "sync");
  ASSERT_EQ(srv.port, port) << readFile(srv.log);
  auto created = http(port, "POST", "/shop/orders", R"({"providers": ["fakepay"]})");
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id = Poco::JSON::Parser()
                       .parse(created.body)
                       .extract<Poco::JSON::Object::Ptr>()
                       ->getObject("payment")
                       ->getValue<std::string>("id");
  auto r = runCommand(kBin + " payments sync " + id + " --config " + cfg);
  EXPECT_EQ(r.first, 0) << r.second;
  EXPECT_NE(r.second.find("\"status\": \"pending\""), std::string::npos) << r.second;
  EXPECT_NE(r.second.find("query  provider says pending"), std::string::npos) << r.second;
  EXPECT_EQ(r.second.find("query_failed"), std::string::npos) << r.second;
}

TEST(Cli, MigrateAndJobsCommands) {
  TempDir dir;
  std::string cfg = configFor(dir, "sqlite:" + dir.file("j.db"));
  auto m = runCommand(kBin + " migrate --config " + cfg);
  EXPECT_EQ(m.first, 0) << m.second;
  {
    Store s("sqlite:" + dir.file("j.db"), 1, 1000);
    EXPECT_GE(s.query("SELECT COUNT(*) AS n FROM schema_migrations").i64(0, "n"), 2);
    s.exec(
        "INSERT INTO jobs (kind, payload, state, attempts, max_attempts, run_at, lease_ms, "
        "created_at, updated_at, last_error) "
        "VALUES ('test.record', '{}', 'dead', 4, 4, 0, 1000, 0, 0, 'gave up')");
  }
  auto stats = runCommand(kBin + " jobs stats --config " + cfg);
  EXPECT_EQ(stats.first, 0);
  EXPECT_NE(stats.second.find("dead 1"), std::string::npos) << stats.second;
  auto list = runCommand(kBin + " jobs list --state dead --config " + cfg);
  EXPECT_NE(list.second.find("gave up"), std::string::npos) << list.second;
  auto retry = runCommand(kBin + " jobs retry 1 --config " + cfg);
  EXPECT_EQ(retry.first, 0) << retry.second;
  auto again = runCommand(kBin + " jobs retry 1 --config " + cfg);
  EXPECT_EQ(again.first, 1);
  EXPECT_NE(again.second.find("not dead"), std::string::npos);
}

TEST(Serve, SigtermFinishesInFlightRequestsAndExitsZero) {
  TempDir dir;
  Server srv(dir, configFor(dir, "sqlite:" + dir.file("s.db")), "s");
  ASSERT_NE(srv.port, 0) << readFile(srv.log);
  HttpResult slow;
  std::thread t([&] { slow = http(srv.port, "GET", "/test/slow?ms=700"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  srv.child->signal(SIGTERM);
  t.join();
  EXPECT_EQ(slow.status, 200);
  EXPECT_EQ(slow.body, "slow done");
  EXPECT_EQ(srv.child->wait(20000), 0) << readFile(srv.log);
}

TEST(Serve, SigtermDoesNotWaitForAnIdleKeepAliveConnection) {
  TempDir dir;
  Server srv(dir, configFor(dir, "sqlite:" + dir.file("ka.db")), "ka");
  ASSERT_NE(srv.port, 0) << readFile(srv.log);
  // A client that keeps its connection open after one request (the server would keep it
  // for its 15 s keep-alive timeout).
  Poco::Net::HTTPClientSession s("127.0.0.1", srv.port);
  auto r = getKeepingAlive(s, "/healthz");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.header("Connection"), "Keep-Alive");
  auto started = std::chrono::steady_clock::now();
  srv.child->signal(SIGTERM);
  EXPECT_EQ(srv.child->wait(20000), 0) << readFile(srv.log);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST(Serve, SigtermWithARequestThatDoesNotReturnClosesItAndExitsZero) {
  TempDir dir;
  std::string cfg = configFor(dir, "sqlite:" + dir.file("hang.db"));
  editConfig(cfg, "  listen: 127.0.0.1:0\n", "  listen: 127.0.0.1:0\n  shutdown_grace_ms: 300\n");
  Server srv(dir, cfg, "hang");
  ASSERT_NE(srv.port, 0) << readFile(srv.log);
  HttpResult hung;
  std::thread client([&] {
    try {
      hung = http(srv.port, "GET", "/test/slow?ms=600000");
    } catch (const Poco::Exception&) {
      hung.status = -1;  // the connection was closed without an answer
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto started = std::chrono::steady_clock::now();
  srv.child->signal(SIGTERM);
  EXPECT_EQ(srv.child->wait(20000), 0) << readFile(srv.log);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  client.join();  // the connection was closed: no answer
  EXPECT_NE(hung.status, 200);
  EXPECT_NE(readFile(srv.log).find("1 request(s) still running after 300 ms"), std::string::npos)
      << readFile(srv.log);
}

TEST(Serve, SigtermWithAHandlerThatDoesNotReturnRequeuesItsJobAndExitsZero) {
  TempDir dir;
  std::string db = "sqlite:" + dir.file("stuck.db");
  std::string cfg = configFor(dir, db);
  editConfig(cfg, "rescue_interval_ms: 100}", "rescue_interval_ms: 100, shutdown_grace_ms: 300}");
  Server srv(dir, cfg, "stuck");
  ASSERT_NE(srv.port, 0) << readFile(srv.log);
  // Ten minutes: far beyond the grace and the kind's 2 s lease.
  ASSERT_EQ(
      http(srv.port, "POST", "/test/jobs", "{\"note\":\"forever\",\"sleep_ms\":600000}").status,
      201);
  Store s(db, 1, 1000);
  ASSERT_TRUE(eventually([&] {
    return s.query("SELECT state FROM jobs WHERE kind = 'test.record'").str(0, "state") ==
           "running";
  }));
  auto started = std::chrono::steady_clock::now();
  srv.child->signal(SIGTERM);
  EXPECT_EQ(srv.child->wait(20000), 0) << readFile(srv.log);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  Rows r = s.query(
      "SELECT state, attempts, lease_owner, last_error FROM jobs WHERE kind = 'test.record'");
  EXPECT_EQ(r.str(0, "state"), "queued");
  EXPECT_EQ(r.i64(0, "attempts"), 0);  // interrupted by the shutdown: not counted
  EXPECT_TRUE(r.isNull(0, "lease_owner"));
  EXPECT_NE(r.str(0, "last_error").find("still running at shutdown"), std::string::npos);
  EXPECT_NE(readFile(srv.log).find("still running after 300 ms"), std::string::npos)
      << readFile(srv.log);
}

TEST(Serve, StartupErrorIsOneLineAndNonZero) {
  TempDir dir;
  std::string cfg = dir.file("x.yaml");
  writeFile(cfg, "sandbox: true\nplugins:\n  - name: broken_init\n    library: " +
                     testPluginPath("broken_init") + "\n");
  auto r = runCommand(kBin + " serve --config " + cfg);
  EXPECT_EQ(r.first, 1);
  EXPECT_NE(r.second.find("malipo: plugin 'broken_init'"), std::string::npos) << r.second;
  EXPECT_NE(r.second.find("init failed"), std::string::npos);
}

// Outside sandbox a default, empty or short secret stops serve and check-config alike, with
// one line naming the key and never the value.
TEST(Serve, RefusesPublicOrWeakSecretsOutsideSandbox) {
  TempDir dir;
  struct Case {
    std::string yaml, key;
  } cases[] = {
      {"auth: {jwt_secret: sandbox-only-jwt-secret-change-me}\n",
       "auth.jwt_secret: is a published placeholder"},
      {"", "auth.jwt_secret: is empty"},
      {"auth: {jwt_secret: short-but-not-empty}\n", "auth.jwt_secret: is shorter than 32 bytes"},
      {"auth: {jwt_secret: test-secret-0123456789abcdefghijklmnop}\nadmin: {token: admin}\n",
       "admin.token: is shorter than 32 bytes"},
  };
  for (const auto& c : cases) {
    std::string cfg = dir.file("s.yaml");
    writeFile(cfg,
              "sandbox: false\ndatabase: {url: \"sqlite:" + dir.file("s.db") + "\"}\n" + c.yaml);
    for (const char* cmd : {" serve", " check-config"}) {
      auto r = runCommand(kBin + cmd + " --config " + cfg);
      EXPECT_EQ(r.first, 1) << cmd << " " << c.yaml;
      EXPECT_NE(r.second.find(c.key), std::string::npos) << cmd << ": " << r.second;
      EXPECT_EQ(r.second.find("short-but-not-empty"), std::string::npos) << r.second;
      EXPECT_EQ(std::count(r.second.begin(), r.second.end(), '\n'), 1) << r.second;
    }
  }
  // The same secrets are fine in sandbox mode, and a strong one is fine outside it.
  std::string cfg = dir.file("ok.yaml");
  writeFile(cfg, "sandbox: false\ndatabase: {url: \"sqlite:" + dir.file("s.db") +
                     "\"}\nauth: {jwt_secret: 3f9c2a7d5e1b4c8a9d0e6f1a2b3c4d5e}\n");
  EXPECT_EQ(runCommand(kBin + " check-config --config " + cfg).first, 0);
  writeFile(cfg, "sandbox: true\ndatabase: {url: \"sqlite:" + dir.file("s.db") + "\"}\n");
  EXPECT_EQ(runCommand(kBin + " check-config --config " + cfg).first, 0);
}

class KillTest : public EngineTest {};

TEST_P(KillTest, JobSurvivesKillNineAndRunsAfterRestart) {
  SKIP_WITHOUT_ENGINE();
  std::string db = url();
  std::string cfg = configFor(dir_, db);
  std::int64_t runningId = 0;
  {
    Server srv(dir_, cfg, "first");
    ASSERT_NE(srv.port, 0) << readFile(srv.log);
    // One job that will be mid-run at the kill, one scheduled behind it.
    ASSERT_EQ(http(srv.port, "POST", "/test/jobs", "{\"note\":\"long\",\"sleep_ms\":1500}").status,
              201);
    Store s(db, 1, 1000);
    ASSERT_TRUE(eventually([&] {
      auto r = s.query("SELECT id FROM jobs WHERE kind = 'test.record' AND state = 'running'");
      if (r.empty()) return false;
      runningId = r.i64(0, "id");
      return true;
    }));
    srv.child->signal(SIGKILL);
    EXPECT_EQ(srv.child->wait(), 128 + SIGKILL);
    EXPECT_EQ(s.query("SELECT COUNT(*) AS n FROM test_runs").i64(0, "n"), 0);
  }
  Server again(dir_, cfg, "second");
  ASSERT_NE(again.port, 0) << readFile(again.log);
  Store s(db, 1, 1000);
  ASSERT_TRUE(eventually(
      [&] {
        return s.query("SELECT COUNT(*) AS n FROM test_runs WHERE job_id = ?", {runningId})
                   .i64(0, "n") == 1;
      },
      20000))
      << readFile(again.log);
  EXPECT_TRUE(eventually([&] {
    return s.query("SELECT state FROM jobs WHERE id = ?", {runningId}).str(0, "state") == "done";
  }));
}

// kill -9 while many clients enqueue jobs at once (group commit batches their writes, the
// dispatcher has the next batch claimed ahead of its workers): after the restart every job
// whose enqueue was acknowledged runs and is done, and no request made two jobs.
TEST_P(KillTest, KillNineUnderConcurrentEnqueuesLosesNoAcknowledgedJob) {
  SKIP_WITHOUT_ENGINE();
  std::string db = url();
  std::string cfg = configFor(dir_, db);
  std::mutex m;
  std::set<std::string> acked;
  std::atomic<int> attempted{0};
  {
    Server srv(dir_, cfg, "first");
    ASSERT_NE(srv.port, 0) << readFile(srv.log);
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int t = 0; t < 8; ++t)
      clients.emplace_back([&, t] {
        for (int i = 0; !stop; ++i) {
          const std::string note = "c" + std::to_string(t) + "-" + std::to_string(i);
          ++attempted;
          try {
            if (http(srv.port, "POST", "/test/jobs", "{\"note\":\"" + note + "\",\"sleep_ms\":5}")
                    .status == 201) {
              std::lock_guard<std::mutex> lock(m);
              acked.insert(note);
            }
          } catch (const std::exception&) {
            return;  // the server is gone
          }
        }
      });
    auto ackedCount = [&] {
      std::lock_guard<std::mutex> lock(m);
      return acked.size();
    };
    EXPECT_TRUE(eventually([&] { return ackedCount() >= 200; }, 20000));
    srv.child->signal(SIGKILL);  // with enqueues in flight
    EXPECT_EQ(srv.child->wait(), 128 + SIGKILL);
    stop = true;
    for (auto& c : clients) c.join();
  }
  Server again(dir_, cfg, "second");
  ASSERT_NE(again.port, 0) << readFile(again.log);
  Store s(db, 1, 1000);
  ASSERT_TRUE(eventually(
      [&] {
        return s.query(
                    "SELECT COUNT(*) AS n FROM jobs WHERE kind = 'test.record' AND state <> 'done'")
                   .i64(0, "n") == 0;
      },
      30000))
      << readFile(again.log);
  std::set<std::string> ran;
  Rows runs = s.query("SELECT DISTINCT note FROM test_runs");
  for (std::size_t r = 0; r < runs.size(); ++r) ran.insert(runs.str(r, "note"));
  for (const auto& note : acked)
    EXPECT_TRUE(ran.count(note)) << "acknowledged job " << note << " never ran";
  const auto jobs =
      s.query("SELECT COUNT(*) AS n FROM jobs WHERE kind = 'test.record'").i64(0, "n");
  EXPECT_GE(jobs, static_cast<std::int64_t>(acked.size()));
  EXPECT_LE(jobs, static_cast<std::int64_t>(attempted.load()));
  // One job per request (a request whose answer the kill cut off may have made one).
  EXPECT_EQ(static_cast<std::int64_t>(ran.size()), jobs);
  again.child->signal(SIGTERM);
  EXPECT_EQ(again.child->wait(), 0);
}

TEST_P(KillTest, TwoServersShareTheQueueWithoutRunningAJobTwice) {
  SKIP_WITHOUT_ENGINE();
  if (GetParam() == "sqlite") GTEST_SKIP() << "several processes share a database on PostgreSQL";
  std::string db = url();
  std::string cfg = configFor(dir_, db);
  Server a(dir_, cfg, "a");
  Server b(dir_, cfg, "b");
  ASSERT_NE(a.port, 0);
  ASSERT_NE(b.port, 0);
  const int total = 300;
  for (int i = 0; i < total; ++i)
    ASSERT_EQ(http(i % 2 ? a.port : b.port, "POST", "/test/jobs",
                   "{\"note\":\"n" + std::to_string(i) + "\"}")
                  .status,
              201);
  Store s(db, 1, 1000);
  ASSERT_TRUE(eventually(
      [&] {
        return s.query(
                    "SELECT COUNT(*) AS n FROM jobs WHERE state = 'done' AND kind = 'test.record'")
                   .i64(0, "n") == total;
      },
      60000));
  EXPECT_EQ(s.query("SELECT COUNT(*) AS n FROM test_runs").i64(0, "n"), total);
  EXPECT_EQ(s.query("SELECT COUNT(DISTINCT job_id) AS n FROM test_runs").i64(0, "n"), total);
  EXPECT_EQ(s.query("SELECT COUNT(DISTINCT pid) AS n FROM test_runs").i64(0, "n"), 2);
  a.child->signal(SIGTERM);
  b.child->signal(SIGTERM);
  EXPECT_EQ(a.child->wait(), 0);
  EXPECT_EQ(b.child->wait(), 0);
}

INSTANTIATE_TEST_SUITE_P(Engines, KillTest, ::testing::Values("sqlite", "postgresql"), engineName);
