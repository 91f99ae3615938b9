#include "app/Kernel.hpp"

#include <Poco/Crypto/Crypto.h>
#include <Poco/JSON/Array.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <Poco/Net/SSLManager.h>
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include "app/LogContext.hpp"
#include "http/OpenApi.hpp"

namespace malipo {

namespace {
// http(s)://<listen host>:<port>, the wildcard address read as loopback.
std::string publicUrlFor(const std::string& listen, std::uint16_t port, bool tls) {
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host.empty() || host == "0.0.0.0" || host == "[::]") host = "127.0.0.1";
  return (tls ? "https://" : "http://") + host + ":" + std::to_string(port);
}
// GET / in sandbox: one link or button per flow the loaded plugins offer, found by their
// routes (a flow whose plugin is not loaded is not shown).
const char* kSandboxIndex = R"(<h1>{{brand}} sandbox</h1>
<p>No real money moves here: every provider talks to its simulator.</p>
{{#cvpdf}}<section><h2>CV Chap Chap</h2><p>Pay for a CV PDF by USSD push (Selcom simulator).</p>
<button id="start-cvpdf" type="button">Start a CV payment</button> <span class="error" id="cvpdf-error"></span></section>{{/cvpdf}}
{{#credits}}<section><h2>Credits checkout</h2><p>Buy verification credits by card or mobile money (Flutterwave simulator), as the demo user <code>{{demo_user}}</code>.</p>
<button id="start-credits" type="button" data-token="{{demo_token}}">Buy credits</button> <span class="error" id="credits-error"></span></section>{{/credits}}
{{#phone}}<section><h2>The USSD phone</h2><p><a id="phone" href="{{phone}}">Open the simulated phone</a> (Hubtel USSD).</p></section>{{/phone}}
{{#console}}<section><h2>Console</h2><p><a id="console" href="{{console}}">Open the console</a></p></section>{{/console}}
<section><h2>For developers</h2><ul>
<li><a href="/openapi.json">API description (OpenAPI 3.1)</a></li>
<li><a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a>, <a href="/metrics">/metrics</a></li>
</ul></section>
<script src="/sandbox/index.js"></script>)";

// The sandbox page's script (served: the pages' CSP runs no inline script).
const char* kSandboxScript = R"(async function start(id, url, body, token, pick) {
  const err = document.getElementById(id + '-error');
  err.textContent = '';
  const headers = {'Content-Type': 'application/json'};
  if (token) headers['Authorization'] = 'Bearer ' + token;
  try {
    const r = await fetch(url, {method: 'POST', headers, body: JSON.stringify(body)});
    const j = await r.json();
    const next = pick(j);
    if (!r.ok || !next) throw new Error(j.message || ('status ' + r.status));
    location.href = next;
  } catch (e) { err.textContent = String(e.message || e); }
}
const cv = document.getElementById('start-cvpdf');
if (cv) cv.onclick = () => start('cvpdf', '/api/cv-pdf/sandbox-' + Date.now() + '/initiate-ussd',
  {template_id: 'modern', cv_data: {name: 'Asha Demo', title: 'Engineer', email: 'asha@example.com', phone: '0754 000 000',
   summary: 'A sandbox CV.', experience: [], education: [], skills: ['C++'], languages: ['Kiswahili']}}, '', j => j.payment_page_url);
const credits = document.getElementById('start-credits');
if (credits) credits.onclick = () => start('credits', '/api/v1/verification-credits/topup', {packageId: 'pkg_10_credits'},
  credits.dataset.token, j => j.data && j.data.paymentUrl);
)";

// The standard Prometheus process metrics, read from /proc/self at each scrape.
void processMetrics(Metrics& m) try {
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream statFile("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(statFile)), std::istreambuf_iterator<char>());
  std::size_t close = stat.rfind(')');  // the command name may hold spaces and parentheses
  if (close != std::string::npos) {
    std::istringstream in(stat.substr(close + 2));
    std::vector<std::string> f((std::istream_iterator<std::string>(in)),
                               std::istream_iterator<std::string>());
    // Fields from 3 (state) on: utime 14, stime 15, starttime 22, vsize 23, rss 24 (man 5 proc).
    auto field = [&](std::size_t n) { return n - 3 < f.size() ? std::stod(f[n - 3]) : 0.0; };
    m.setGauge("process_cpu_seconds_total", {}, (field(14) + field(15)) / tick);
    m.setGauge("process_virtual_memory_bytes", {}, field(23));
    m.setGauge("process_resident_memory_bytes", {},
               field(24) * static_cast<double>(sysconf(_SC_PAGESIZE)));
    std::ifstream procStat("/proc/stat");
    std::string key;
    double bootTime = 0;
    while (procStat >> key)
      if (key == "btime") {
        procStat >> bootTime;
        break;
      }
    m.setGauge("process_start_time_seconds", {}, bootTime + field(22) / tick);
  }
  int fds = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++fds;
    closedir(d);
    m.setGauge("process_open_fds", {}, fds - 1);  // not the descriptor of this listing
  }
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
    m.setGauge("process_max_fds", {}, static_cast<double>(rl.rlim_cur));
} catch (const std::exception&) {
  // An unreadable /proc (a sandbox without it): no process metrics, the others still render.
}

}  // namespace

Kernel::Kernel(Config config, const Clock* clock)
    : config_(std::move(config)),
      settings_(KernelSettings::load(config_.root)),
      clock_(clock ? clock : &systemClock_) {
  // Poco's OpenSSL initializer is reference counted per object (JWT signers, digests): when
  // the count drops to zero on one thread while another thread starts one, it destroys
  // mutexes in use and crashes. One reference held for the life of the process avoids it.
  static std::once_flag cryptoOnce;
  std::call_once(cryptoOnce, [] {
    Poco::Crypto::initializeCrypto();
    Poco::Net::initializeSSL();
  });
  // Outside sandbox, no default, empty or short secret (the one check check-config runs too).
  ConfigLoader::checkSecrets(config_.root, ConfigLoader::kernelSchema(), settings_.sandbox,
                             config_.file);
  logger_.setLevel(KernelLogger::parseLevel(settings_.log.level));
  logger_.setJson(settings_.log.format == "json");
}

Kernel::~Kernel() {
  shutdown();
}

// server.*, auth.*, admin.token
HttpOptions Kernel::httpOptions() const {
  HttpOptions o = settings_.server;
  o.security.frameAncestors = settings_.pages.frameAncestors;
  o.security.frameablePaths = settings_.pages.frameablePaths;
  o.security.referrerPolicy = settings_.pages.referrerPolicy;
  o.security.styleHash = pages_.styleHash();
  return o;
}

// brand.* and pages.*: the layout, the catalogs, the logo's bytes.
void Kernel::configurePages() {
  const BrandSettings& b = settings_.brand;
  if (!b.logo.empty()) {
    std::ifstream f(b.logo, std::ios::binary);
    if (!f) throw std::runtime_error("brand.logo: cannot read " + b.logo);
    std::ostringstream os;
    os << f.rdbuf();
    logo_ = os.str();
    if (logo_.empty() || logo_.size() > 512 * 1024)
      throw std::runtime_error("brand.logo: " + b.logo + " is empty or larger than 512 KiB");
    std::string ext = b.logo.substr(b.logo.rfind('.') + 1);
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    logoType_ = ext == "png"                    ? "image/png"
                : ext == "jpg" || ext == "jpeg" ? "image/jpeg"
                : ext == "svg"                  ? "image/svg+xml"
                : ext == "webp"                 ? "image/webp"
                                                : "";
    if (logoType_.empty())
      throw std::runtime_error("brand.logo: " + b.logo + " is not .png, .jpg, .svg or .webp");
  }
  PageOptions po;
  po.brand = b;
  po.hasLogo = !logo_.empty();
  po.primaryColor = b.primaryColor;
  po.headerColor = b.headerColor;
  po.defaultLanguage = settings_.pages.defaultLanguage;
  po.messagesDir = settings_.pages.messagesDir;
  pages_.configure(po);
}

void Kernel::open() {
  const DatabaseSettings& db = settings_.database;
  store_ = std::make_unique<Store>(db.url, db.poolSize, db.busyTimeoutMs);
  JobQueueOptions jo = settings_.jobs;
  jobs_ = std::make_unique<JobQueueImpl>(*store_, *clock_, logger_, jo);
  httpClient_ = std::make_unique<HttpClientImpl>(logger_);
  store_->migrate("kernel.jobs", JobQueueImpl::migrations());
  store_->migrate("kernel.payments", PaymentService::migrations());
  store_->migrate("kernel.http", Idempotency::migrations());
  if (Console::wanted(settings_.console, settings_.server))
    store_->migrate("kernel.console", Console::migrations());
  PaymentOptions po = settings_.payments;
  // Callback URL tokens: their own key, else one derived from the JWT secret (strong outside
  // sandbox), else (sandbox without secrets) a random key per process.
  if (po.webhookTokenSecret.empty() && !settings_.server.jwtSecret.empty())
    po.webhookTokenSecret = WebhookAuth::deriveKey(settings_.server.jwtSecret);
  payments_ = std::make_unique<PaymentService>(*store_, *jobs_, *clock_, logger_, metrics_, po);
  payments_->setPublicUrl([this] { return services_.publicUrl; });
  idempotency_ = std::make_unique<Idempotency>(*store_, *clock_);

  services_.router = &router_;
  services_.db = store_.get();
  services_.jobs = jobs_.get();
  services_.http = httpClient_.get();
  configurePages();
  services_.pages = &pages_;
  services_.clock = clock_;
  services_.logger = &logger_;
  services_.metrics = &metrics_;
  services_.payments = payments_.get();
  std::string publicUrl = settings_.server.publicUrl;
  while (!publicUrl.empty() && publicUrl.back() == '/') publicUrl.pop_back();
  // A fixed listen port gives the URL now, so commands that do not serve (`malipo payments
  // sync`) reach a running server's sandbox simulators too; port 0 is known once bound.
  const std::string& listen = settings_.server.listen;
  int listenPort = std::atoi(listen.substr(listen.rfind(':') + 1).c_str());
  const bool tls = !settings_.server.tlsCert.empty();
  if (publicUrl.empty() && listenPort > 0)
    publicUrl = publicUrlFor(listen, static_cast<std::uint16_t>(listenPort), tls);
  services_.publicUrl = publicUrl;
  services_.sandbox = settings_.sandbox;
  services_.brand = settings_.brand;

  plugins_.load(config_);
  // Each plugin's catalogs also beside its library: <dir>/<short name>/messages, where the
  // build (and a package) puts plugins/<short name>/messages (libmalipo_cvpdf.so: cvpdf).
  for (const auto& pc : config_.plugins) {
    std::string lib = pc.library, dir = ".", base = lib;
    if (std::size_t slash = lib.rfind('/'); slash != std::string::npos) {
      dir = lib.substr(0, slash);
      base = lib.substr(slash + 1);
    }
    if (base.rfind("lib", 0) == 0) base = base.substr(3);
    if (base.rfind("malipo_", 0) == 0) base = base.substr(7);
    if (std::size_t dot = base.find('.'); dot != std::string::npos) base = base.substr(0, dot);
    pages_.setPluginMessages(pc.name, dir + "/" + base + "/messages");
  }
  plugins_.registerAll(services_);
  for (auto& p : plugins_.plugins()) {
    for (auto& prov : p.providers) payments_->addProvider(prov);
    for (auto& prod : p.products) payments_->addProduct(prod);
  }
  for (auto& p : plugins_.plugins()) {
    for (std::size_t i = 0; i < p.components.size(); ++i) {
      auto& c = p.components[i];
      // Each component of a plugin has its own migration history.
      std::string component = i == 0 ? p.config.name : p.config.name + "." + std::to_string(i);
      try {
        store_->migrate(component, c->migrations());
      } catch (const DbError& e) {
        throw PluginError(PluginManager::describeError(p, e.what()));
      }
    }
  }
}

void Kernel::addKernelRoutes() {
  router_.add("GET", "/healthz", [](const Request&) {
    return Response::text(200, R"({"status":"ok"})", "application/json");
  });
  router_.add("GET", "/readyz", [this](const Request&) {
    Poco::JSON::Object o;
    bool dbOk = store_->ping();
    o.set("database", dbOk ? "ok" : "unreachable");
    o.set("plugins", started_ ? "started" : "starting");
    o.set("status", dbOk && started_ ? "ready" : "not_ready");
    return Response::json(dbOk && started_ ? 200 : 503, o);
  });
  router_.add("GET", "/metrics", [this](const Request&) {
    return Response::text(200, metrics_.render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  // The description of every route, built once, after the router froze.
  router_.add("GET", "/openapi.json", [this](const Request&) {
    std::call_once(openApiOnce_, [this] {
      std::ostringstream os;
      openapi::document(router_, services_.brand.name, openapi::kDocumentVersion,
                        services_.publicUrl, httpOptions().maxBodyBytes)
          ->stringify(os);
      openApi_ = os.str();
    });
    return Response::text(200, openApi_, "application/json");
  });
  router_.add("GET", "/assets/refresh.js", [](const Request&) {
    Response r = Response::text(200, PagesImpl::refreshScript(), "text/javascript; charset=utf-8");
    r.header("Cache-Control", "public, max-age=300");
    return r;
  });
  if (!logo_.empty())
    router_.add("GET", "/brand/logo", [this](const Request&) {
      Response r = Response::text(200, logo_, logoType_);
      r.header("Cache-Control", "public, max-age=3600");
      return r;
    });
  if (!router_.match("GET", "/").route) {
    router_.add("GET", "/", [this](const Request&) { return index(); });
    if (settings_.sandbox)
      router_.add("GET", "/sandbox/index.js", [](const Request&) {
        return Response::text(200, kSandboxScript, "text/javascript; charset=utf-8");
      });
  }
  metrics_.describe("malipo_jobs", "jobs in the queue by state", "gauge");
  metrics_.describe("malipo_jobs_by_kind", "jobs waiting (queued), running and dead, by kind",
                    "gauge");
  metrics_.describe("malipo_plugin_info", "loaded plugins", "gauge");
  metrics_.describe("process_cpu_seconds_total", "user and system CPU time spent, in seconds",
                    "counter");
  metrics_.describe("process_resident_memory_bytes", "resident memory size in bytes", "gauge");
  metrics_.describe("process_virtual_memory_bytes", "virtual memory size in bytes", "gauge");
  metrics_.describe("process_start_time_seconds",
                    "start time of the process since the Unix epoch, in seconds", "gauge");
  metrics_.describe("process_open_fds", "open file descriptors", "gauge");
  metrics_.describe("process_max_fds", "maximum number of open file descriptors", "gauge");
  metrics_.addCollector(processMetrics);
  // (kind, state) series shown before: one that emptied is shown as 0, not as its last value.
  auto shown = std::make_shared<std::set<std::pair<std::string, std::string>>>();
  metrics_.addCollector([this, shown](Metrics& m) {
    // One read-only query gives both the counts by state and the depth by kind.
    std::map<std::string, std::int64_t> byState{
        {"queued", 0}, {"running", 0}, {"done", 0}, {"dead", 0}};
    std::map<std::pair<std::string, std::string>, std::int64_t> byKind;
    for (const auto& k : *shown) byKind[k] = 0;
    Rows rows = store_->query("SELECT kind, state, COUNT(*) AS n FROM jobs GROUP BY kind, state");
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const std::string state = rows.str(r, "state");
      byState[state] += rows.i64(r, "n");
      if (state != "done") byKind[{rows.str(r, "kind"), state}] = rows.i64(r, "n");
    }
    for (const auto& [k, n] : byKind) {
      shown->insert(k);
      m.setGauge("malipo_jobs_by_kind", {{"kind", k.first}, {"state", k.second}},
                 static_cast<double>(n));
    }
    for (const auto& [state, n] : byState)
      m.setGauge("malipo_jobs", {{"state", state}}, static_cast<double>(n));
    for (const auto& p : plugins_.plugins())
      m.setGauge("malipo_plugin_info",
                 {{"plugin", p.config.name}, {"version", p.version()}, {"sdk", p.sdkVersion()}}, 1);
  });

  auto jobJson = [](const JobRow& j) {
    Poco::JSON::Object o;
    o.set("id", j.id);
    o.set("kind", j.kind);
    o.set("state", j.state);
    o.set("attempts", j.attempts);
    o.set("max_attempts", j.maxAttempts);
    o.set("run_at", j.runAt);
    o.set("last_error", j.lastError);
    o.set("unique_key", j.uniqueKey);
    o.set("created_at", j.createdAt);
    o.set("updated_at", j.updatedAt);
    return o;
  };
  RouteOptions admin{Auth::admin, "", 0, ""};
  router_.add(
      "GET", "/admin/jobs",
      [this, jobJson](const Request& req) {
        int limit = 100;
        try {
          limit = std::stoi(req.queryParam("limit", "100"));
        } catch (...) {
          return Response::error(Error::make(ErrorCode::invalidInput, "limit must be a number"),
                                 req.requestId);
        }
        limit = std::max(1, std::min(limit, 1000));
        Poco::JSON::Array arr;
        for (const auto& j : jobs_->list(req.queryParam("state"), limit)) arr.add(jobJson(j));
        Poco::JSON::Object o;
        o.set("jobs", arr);
        return Response::json(200, o);
      },
      admin);
  router_.add(
      "GET", "/admin/jobs/stats",
      [this](const Request&) {
        Poco::JSON::Object o;
        for (const auto& [state, n] : jobs_->stats()) o.set(state, n);
        return Response::json(200, o);
      },
      admin);
  router_.add(
      "POST", "/admin/jobs/{id}/retry",
      [this](const Request& req) {
        std::int64_t id = 0;
        try {
          id = std::stoll(req.param("id"));
        } catch (...) {
          return Response::error(Error::make(ErrorCode::notFound, "no such job"), req.requestId);
        }
        if (!jobs_->retry(id))
          return Response::error(
              Error::make(ErrorCode::conflict,
                          "job " + std::to_string(id) + " is not dead (or does not exist)"),
              req.requestId);
        return Response::json(200, Poco::JSON::Object().set("retried", id));
      },
      admin);
  router_.add(
      "GET", "/admin/plugins",
      [this](const Request&) {
        Poco::JSON::Array arr;
        for (const auto& p : plugins_.plugins()) {
          Poco::JSON::Object o;
          o.set("name", p.config.name);
          o.set("version", p.version());
          o.set("sdk_version", p.sdkVersion());
          o.set("library", p.config.library);
          arr.add(o);
        }
        return Response::json(200, Poco::JSON::Object().set("plugins", arr));
      },
      admin);
}

void Kernel::start(bool serve) {
  jobs_->every("kernel.purge_jobs", 3600000);
  jobs_->handle("kernel.purge_jobs", [this](const Job&) {
    jobs_->purgeDone();
    return JobOutcome::ok();
  });
  jobs_->every("kernel.purge_idempotency", 3600000);
  jobs_->handle("kernel.purge_idempotency", [this](const Job&) {
    idempotency_->purge(48LL * 3600 * 1000);
    return JobOutcome::ok();
  });
  plugins_.startAll();
  pluginsStarted_ = true;
  payments_->start(router_, services_.sandbox);
  if (Console::wanted(settings_.console, settings_.server)) {
    const bool https =
        !settings_.server.tlsCert.empty() || settings_.server.publicUrl.rfind("https://", 0) == 0;
    console_ = std::make_unique<Console>(
        Console::Deps{*store_, *jobs_, *payments_, plugins_, metrics_, *clock_, logger_},
        settings_.console, settings_.server, https, services_.brand.name);
    console_->addRoutes(router_);
  }
  addKernelRoutes();
  router_.freeze();
  if (!serve) {
    // check-config: the TLS files load as they would when serving.
    Connections::checkTls(httpOptions().tlsCert, httpOptions().tlsKey);
    return;
  }
  http_ = std::make_unique<HttpServer>(router_, metrics_, logger_, *clock_, httpOptions());
  http_->setIdempotency(idempotency_.get());
  http_->bind();
  if (services_.publicUrl.empty())
    services_.publicUrl = publicUrlFor(settings_.server.listen, http_->port(), http_->tls());
  http_->start();
  jobs_->start();
  started_ = true;
  logger_.info("kernel", "listening on " +
                             settings_.server.listen.substr(0, settings_.server.listen.rfind(':')) +
                             ":" + std::to_string(port()) + " with " +
                             std::to_string(plugins_.plugins().size()) + " plugin(s), database " +
                             Store::redact(settings_.database.url));
  // What a person who just ran `make run` wants to know next.
  std::string names;
  for (const auto& p : plugins_.plugins()) names += (names.empty() ? "" : ", ") + p.config.name;
  logger_.info("kernel", "open " + services_.publicUrl +
                             "/healthz; plugins: " + (names.empty() ? "none" : names));
  if (services_.sandbox) {
    logger_.info("kernel", "SANDBOX: providers talk to their simulators under " +
                               services_.publicUrl +
                               "/sandbox/ (no real money; set sandbox: false in production)");
    logger_.info("kernel", "every sandbox flow starts at " + services_.publicUrl + "/");
    if (router_.match("GET", "/sandbox/hubtel/phone").route)
      logger_.info("kernel",
                   "try the USSD phone: " + services_.publicUrl + "/sandbox/hubtel/phone");
  }
}

Response Kernel::index() {
  if (!services_.sandbox) {
    Poco::JSON::Object o;
    o.set("service", "malipo");
    o.set("name", services_.brand.name);
    o.set("openapi", "/openapi.json");
    o.set("health", "/healthz");
    return Response::json(200, o);
  }
  Poco::JSON::Object data;
  data.set("brand", services_.brand.name);
  auto has = [this](const char* method, const char* path) {
    return router_.match(method, path).route != nullptr;
  };
  if (has("POST", "/api/cv-pdf/x/initiate-ussd")) data.set("cvpdf", true);
  const std::string& secret = settings_.server.jwtSecret;
  if (has("POST", "/api/v1/verification-credits/topup") && !secret.empty()) {
    // A short-lived token for a demo user, so the checkout can be tried without an app that
    // signs in (sandbox only: outside sandbox this page is not served).
    Poco::JWT::Token t;
    t.setType("JWT");
    t.setSubject("sandbox-demo");
    t.setIssuedAt(Poco::Timestamp());
    t.setExpiration(Poco::Timestamp() + Poco::Timespan(3600, 0));
    const std::string& issuer = settings_.server.jwtIssuer;
    if (!issuer.empty()) t.setIssuer(issuer);
    data.set("credits", true);
    data.set("demo_user", "sandbox-demo");
    data.set("demo_token", Poco::JWT::Signer(secret).sign(t, Poco::JWT::Signer::ALGO_HS256));
  }
  if (has("GET", "/sandbox/hubtel/phone")) data.set("phone", "/sandbox/hubtel/phone");
  for (const Route* r : router_.routes()) {
    const bool page = r->method == "GET" &&
                      std::find(r->isParam.begin(), r->isParam.end(), true) == r->isParam.end();
    if (!page) continue;
    if (r->pattern.find("console") != std::string::npos && !data.has("console"))
      data.set("console", r->pattern);
  }
  return Response::html(200, pages_.render(services_.brand.name + " sandbox", kSandboxIndex, data));
}

void Kernel::reload() {
  if (!http_ || !http_->tls()) {
    logger_.info("kernel", "SIGHUP: nothing to reload (server.tls is not set)");
    return;
  }
  try {
    http_->reloadTls();
    logger_.info("kernel", "SIGHUP: TLS certificate reloaded (new connections use it)");
  } catch (const std::exception& e) {
    logger_.error(
        "kernel",
        std::string("SIGHUP: TLS certificate not reloaded, the running one stays: ") + e.what());
  }
}

void Kernel::shutdown() {
  if (shutDown_) return;
  shutDown_ = true;
  started_ = false;
  const bool httpDone = !http_ || http_->stop(settings_.server.shutdownGraceMs);
  const bool jobsDone = !jobs_ || jobs_->drain(settings_.jobs.shutdownGraceMs);
  if (!httpDone || !jobsDone) {
    handlersStuck_ = true;
    logger_.error(
        "kernel",
        std::string("a ") + (httpDone ? "job" : "request") +
            " handler is still running: plugins are left as they are and the process exits");
    // Stuck threads still use these: they are not destroyed.
    if (!httpDone) (void)http_.release();
    if (!jobsDone) (void)jobs_.release();
    return;
  }
  if (pluginsStarted_) plugins_.stopAll();
  plugins_.destroyAll();
  http_.reset();
}

}  // namespace malipo
