// A kernel test plugin: one component with a migration, routes and a job kind, built against
// the SPI headers only. Compile-time switches make the deliberately broken variants.
#include <Poco/JSON/Parser.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "malipo/plugin.hpp"

#ifndef TEST_PLUGIN_NAME
#define TEST_PLUGIN_NAME "testplugin"
#endif

namespace {

class TestComponent final : public malipo::Component {
 public:
  explicit TestComponent(malipo::Host& host) : host_(host) {}

  std::vector<malipo::Migration> migrations() const override {
    malipo::Migration m;
    m.version = 1;
    m.description = "job runs table";
    m.sqlite =
        "CREATE TABLE test_runs (id INTEGER PRIMARY KEY, job_id BIGINT NOT NULL, note TEXT NOT "
        "NULL, pid BIGINT NOT NULL)";
    m.postgresql =
        "CREATE TABLE test_runs (id BIGSERIAL PRIMARY KEY, job_id BIGINT NOT NULL, note TEXT NOT "
        "NULL, pid BIGINT NOT NULL)";
    return {m};
  }

  void start() override {
    // A gauge read from the database at each scrape.
    host_.metrics().describe("malipo_testplugin_runs", "rows in test_runs", "gauge");
    host_.metrics().addCollector([this](malipo::Metrics& m) {
      m.setGauge(
          "malipo_testplugin_runs", {},
          static_cast<double>(host_.db().query("SELECT COUNT(*) AS n FROM test_runs").i64(0, "n")));
    });
    auto& r = host_.router();
    std::string greeting = host_.settings().getString("greeting");
    r.add("GET", "/test/hello/{name}", [greeting](const malipo::Request& req) {
      Poco::JSON::Object o;
      o.set("greeting", greeting + ", " + req.param("name"));
      o.set("request_id", req.requestId);
      return malipo::Response::json(200, o);
    });
    r.add("POST", "/test/echo",
          [](const malipo::Request& req) { return malipo::Response::text(200, req.body); },
          {malipo::Auth::none, "", 64, "/test/echo"});
    r.add("GET", "/test/throws",
          [](const malipo::Request&) -> malipo::Response { throw std::runtime_error("boom"); });
    r.add("GET", "/test/me",
          [](const malipo::Request& req) {
            return malipo::Response::json(
                200, Poco::JSON::Object().set("user", req.userId.value_or("")));
          },
          {malipo::Auth::required, "", 0, ""});
    r.add("GET", "/test/maybe-me",
          [](const malipo::Request& req) {
            return malipo::Response::json(
                200, Poco::JSON::Object().set("user", req.userId.value_or("anonymous")));
          },
          {malipo::Auth::optional, "", 0, ""});
    // The operator acting on an admin route (the admin token's name), for reads and actions.
    for (const char* method : {"GET", "POST"})
      r.add(method, "/test/admin/actor",
            [](const malipo::Request& req) {
              return malipo::Response::json(
                  200, Poco::JSON::Object().set("actor", req.userId.value_or("")));
            },
            {malipo::Auth::admin, "", 0, ""});
    r.add("GET", "/test/limited",
          [](const malipo::Request&) { return malipo::Response::text(200, "ok"); },
          {malipo::Auth::none, "tight", 0, ""});
    r.add("GET", "/test/slow", [](const malipo::Request& req) {
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::stoi(req.queryParam("ms", "500"))));
      return malipo::Response::text(200, "slow done");
    });
    r.add("GET", "/test/page", [this](const malipo::Request& req) {
      Poco::JSON::Object data;
      data.set("name", req.queryParam("name"));
      return malipo::Response::html(
          200, host_.pages().render("Test page", "<h1>Hello {{name}}</h1>", data));
    });
    // POST /test/jobs {"note": "...", "sleep_ms": 0, "fail": false, "unique": ""}: enqueue.
    r.add("POST", "/test/jobs", [this](const malipo::Request& req) {
      auto obj = Poco::JSON::Parser().parse(req.body).extract<Poco::JSON::Object::Ptr>();
      malipo::JobSpec spec;
      spec.kind = "test.record";
      spec.payload = req.body;
      spec.uniqueKey = obj->optValue<std::string>("unique", "");
      bool created = host_.jobs().enqueue(spec);
      return malipo::Response::json(created ? 201 : 200,
                                    Poco::JSON::Object().set("created", created));
    });
    host_.jobs().handle(
        "test.record",
        [this](const malipo::Job& job) {
          auto obj = Poco::JSON::Parser().parse(job.payload).extract<Poco::JSON::Object::Ptr>();
          int sleepMs = obj->optValue<int>("sleep_ms", 0);
          if (sleepMs > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleepMs));
          if (obj->optValue<bool>("fail", false)) return malipo::JobOutcome::retry("asked to fail");
          host_.db().write([&](malipo::Tx& tx) {
            tx.exec("INSERT INTO test_runs (job_id, note, pid) VALUES (?, ?, ?)",
                    {job.id, obj->optValue<std::string>("note", ""),
                     static_cast<std::int64_t>(::getpid())});
          });
          return malipo::JobOutcome::ok();
        },
        {4, 2000, 1000, 60000});
  }

 private:
  malipo::Host& host_;
};

[[maybe_unused]] malipo::SchemaNode testSchema() {
  using namespace malipo::schema;
  return object("test plugin settings")
      .field("greeting", str("word used by /test/hello").def("hello"))
      .field("api_secret", str("a secret, never printed").def("").isSecret());
}

[[maybe_unused]] void testRegister(malipo::Registrar& r) {
#ifdef TEST_PLUGIN_INIT_THROWS
  throw std::runtime_error("deliberate failure in register");
#endif
  r.addComponent(std::make_shared<TestComponent>(r.host()));
}

}  // namespace

// A static constructor that leaves a mark (the file named by MALIPO_TEST_CTOR_MARKER): the
// loader tests check that a refused plugin's constructors never ran.
namespace {
struct ConstructorMark {
  ConstructorMark() {
    if (const char* path = std::getenv("MALIPO_TEST_CTOR_MARKER"))
      std::ofstream(path, std::ios::app) << TEST_PLUGIN_NAME "\n";
  }
} constructorMark;
}  // namespace

#if defined(TEST_PLUGIN_NO_NOTE)
// No MALIPO_PLUGIN: a shared library that is not a Malipo plugin.
extern "C" __attribute__((visibility("default"))) int not_a_plugin() {
  return 42;
}
#elif defined(TEST_PLUGIN_NO_ENTRY)
// The version note, but no entry point.
MALIPO_PLUGIN_NOTE(TEST_PLUGIN_NAME, "1.2.3")
#else
MALIPO_PLUGIN(TEST_PLUGIN_NAME, "1.2.3", testSchema, testRegister)
#endif
