#include "config/KernelSettings.hpp"

namespace malipo {

namespace {

using K = KernelSettings;
using S = ServerSettings;
using H = HttpOptions;
using Limit = RateLimiter::Limit;

Decl<Limit> bucket() {
  return Decl<Limit>("a token bucket")
      .integer("requests_per_minute", &Limit::perMinute, "sustained rate per client")
      .range(1, 10000000)
      .integer("burst", &Limit::burst, "requests allowed at once above the rate")
      .range(1, 1000000);
}

void server(Decl<S>& s) {
  s.str("listen", &H::listen, "address:port to listen on (port 0: any free port)")
      .str("public_url", &S::publicUrl,
           "absolute URL clients and providers reach us at (empty: http://<listen address>)")
      .integer("threads", &H::threads, "HTTP worker threads (handlers run on them)")
      .range(1, 1024)
      .integer("queue", &H::queue,
               "requests waiting for a worker thread (503 with Retry-After above)")
      .range(1, 100000)
      .integer("io_threads", &H::ioThreads,
               "threads reading and writing sockets (no handler runs on them)")
      .range(1, 64)
      .integer("header_timeout_ms", &H::headerTimeoutMs,
               "time from a request's first byte to the end of its header block (408 after)")
      .range(100, 600000)
      .integer("idle_timeout_ms", &H::idleTimeoutMs,
               "a keep-alive connection with no request is closed after this")
      .range(100, 3600000)
      .integer("body_timeout_ms", &H::bodyTimeoutMs,
               "time from the end of the header block to the end of the body (408 after)")
      .range(100, 3600000)
      .integer("max_header_bytes", &H::maxHeaderBytes,
               "largest request line + header block (431 above)")
      .range(1024, 1048576)
      .integer("max_connections", &H::maxConnections,
               "open client connections at most; the excess is closed at accept")
      .range(1, 1000000)
      .integer("max_connections_per_client", &H::maxConnectionsPerClient,
               "open connections per client address at most (0: no cap; trusted proxies exempt)")
      .range(0, 1000000)
      .integer(
          "shutdown_grace_ms", &S::shutdownGraceMs,
          "on SIGTERM, how long in-flight requests may finish before their connections are closed")
      .range(0, 600000)
      .integer("max_body_bytes", &H::maxBodyBytes, "largest request body accepted (413 above)")
      .range(1, 1073741824)
      .integer("max_buffered_body_bytes", &H::maxBufferedBodyBytes,
               "request bodies held in memory at once, all connections together (503 above)")
      .range(1024, 68719476736)
      .list("trusted_proxies", &H::trustedProxies,
            "proxies (IPv4/IPv6 CIDRs) whose X-Forwarded-For is believed; the client is the "
            "rightmost address not in this list",
            schema::str("CIDR"))
      .boolean("access_log", &H::accessLog, "log one line per request")
      .section("tls", "HTTPS on the listening port (TLS 1.2+; SIGHUP reloads the files)",
               [](Decl<S>& t) {
                 t.str("cert", &H::tlsCert, "PEM certificate chain file (empty: plain HTTP)")
                     .str("key", &H::tlsKey, "PEM private key file");
               })
      .section("cors", "cross-origin requests",
               [](Decl<S>& c) {
                 c.list("allowed_origins", &H::corsOrigins, "origins allowed ('*' for any)",
                        schema::str("origin"))
                     .integer("max_age", &H::corsMaxAge, "seconds a preflight may be cached");
               })
      .section("rate_limits", "per-client rate limits (by client address)", [](Decl<S>& r) {
        r.object("default", &H::defaultLimit, bucket())
            .map("buckets", &H::buckets, "named buckets routes may use", bucket());
      });
}

void payments(Decl<PaymentOptions>& p) {
  using P = PaymentOptions;
  p.integer("default_expiry_minutes", &P::defaultExpiryMs,
            "a payment the provider gives no deadline for expires after this")
      .unit(60000)
      .range(1, 525600)
      .integer("stale_read_seconds", &P::staleReadMs,
               "a client poll of a pending payment older than this queues a provider check")
      .unit(1000)
      .range(1, 86400)
      .integer("janitor_interval_seconds", &P::janitorIntervalMs,
               "how often pending and unknown payments are looked for")
      .unit(1000)
      .range(1, 86400)
      .integer("breaker_threshold", &P::breakerThreshold,
               "consecutive provider failures that make routing skip it")
      .range(1, 1000)
      .integer("breaker_open_seconds", &P::breakerOpenMs, "how long a failing provider is skipped")
      .unit(1000)
      .range(1, 86400)
      .integer("webhook_max_body_bytes", &P::webhookMaxBodyBytes,
               "largest webhook body the inbox (/webhooks/{provider}) accepts (413 above)")
      .range(1024, 1073741824)
      .integer("unmatched_webhook_retention_hours", &P::unmatchedWebhookRetentionMs,
               "how long webhook events that matched no payment are kept")
      .unit(3600000)
      .range(1, 100000)
      .str("webhook_token_secret", &P::webhookTokenSecret,
           "HMAC key of the per-payment callback URL tokens (providers with webhook_token); "
           "empty: derived from auth.jwt_secret (random per process when that is empty too)")
      .strongSecret(true)
      .section("push_limits", "payment prompts (USSD push) sent to customers' phones",
               [](Decl<P>& push) {
                 push.integer("interval_seconds", &P::pushIntervalMs,
                              "least time between two prompts to one number, or for one payment")
                     .unit(1000)
                     .range(0, 86400)
                     .integer("per_number_per_hour", &P::pushesPerNumberPerHour,
                              "prompts one phone number may get in an hour, across all payments")
                     .range(1, 1000)
                     .integer("per_payment_per_hour", &P::pushesPerPaymentPerHour,
                              "prompts one payment may send in an hour")
                     .range(1, 1000);
               })
      .integer("max_in_flight", &P::maxInFlight,
               "provider calls in flight at once, per provider (past it: 503 with Retry-After)")
      .range(1, 10000)
      .map("max_in_flight_by_provider", &P::maxInFlightByProvider,
           "per-provider overrides of max_in_flight, by provider name",
           schema::integer("calls in flight").range(1, 10000));
}

// plugins[]: read by ConfigLoader (each entry's settings by the plugin's own schema).
SchemaNode pluginEntry() {
  using namespace schema;
  auto settings = object("the plugin's settings, validated against its own schema");
  settings.passthrough = true;
  return object("one plugin to load")
      .field("name", str("unique plugin name; must equal the name the library declares").req())
      .field("library", str("path of the shared library (relative: to the config's folder)").req())
      .field("enabled", boolean("load this plugin").def(true))
      .field("settings", settings);
}

Decl<K> declare() {
  Decl<K> d("malipo configuration");
  d.object("server", &K::server, "the HTTP server", server)
      .object("database", &K::database, "persistence",
              [](Decl<DatabaseSettings>& db) {
                using D = DatabaseSettings;
                db.str("url", &D::url, "sqlite:PATH or postgresql://user:password@host:port/db")
                    .secret()
                    .integer("pool_size", &D::poolSize, "connections in the pool")
                    .range(1, 256)
                    .integer("busy_timeout_ms", &D::busyTimeoutMs,
                             "SQLite: how long a writer waits for the lock")
                    .range(0, 600000);
              })
      .object("auth", &K::server, "client authentication",
              [](Decl<S>& a) {
                a.str("jwt_secret", &H::jwtSecret, "HS256 secret for client JWTs (sub = user id)")
                    .strongSecret()
                    .str("jwt_issuer", &H::jwtIssuer, "required `iss` claim (empty: not checked)");
              })
      .object("admin", &K::server, "operator API",
              [](Decl<S>& a) {
                a.str("token", &H::adminToken,
                      "bearer token for /admin/* of the operator named 'admin' (empty: none)")
                    .strongSecret(true)
                    .map("tokens", &H::adminTokens,
                         "named operator tokens (the name is recorded as the actor)",
                         Decl<H::AdminToken>("an operator's token")
                             .str("token", &H::AdminToken::token, "its bearer token")
                             .strongSecret()
                             .str("role", &H::AdminToken::role,
                                  "viewer: reads /admin/*; operator: also acts")
                             .oneOf({"viewer", "operator"}));
              })
      .object("brand", &K::brand, "who customers deal with: shown on pages and in messages",
              [](Decl<BrandSettings>& b) {
                b.str("name", &Brand::name, "business name")
                    .str("support_phone", &Brand::supportPhone,
                         "support phone number shown to customers")
                    .str("support_email", &Brand::supportEmail,
                         "support email address shown to customers")
                    .str("logo", &BrandSettings::logo,
                         "logo image file (PNG, JPEG, SVG or WebP, at most 512 KiB) shown in "
                         "every page's header and served at /brand/logo (empty: the name only)")
                    .path()
                    .str("primary_color", &BrandSettings::primaryColor,
                         "colour of buttons and links (#rgb or #rrggbb; it carries white text: "
                         "keep a contrast of 4.5:1 or more)")
                    .str("header_color", &BrandSettings::headerColor,
                         "background of the page header (#rgb or #rrggbb; dark text on it)");
              })
      .object("pages", &K::pages, "customer pages: language, catalogs, framing",
              [](Decl<PageSettings>& p) {
                p.str("default_language", &PageSettings::defaultLanguage,
                      "language when neither ?lang= nor Accept-Language names a supported one")
                    .oneOf({"en", "sw", "fr"})
                    .str("messages_dir", &PageSettings::messagesDir,
                         "folder of the plugins' message catalogs: "
                         "<dir>/<plugin>/messages/<lang>.json (empty: English texts built into "
                         "the templates only)")
                    .path()
                    .list("frame_ancestors", &PageSettings::frameAncestors,
                          "origins (scheme://host[:port]) allowed to frame the pages under "
                          "frameable_paths; every other page refuses any frame",
                          schema::str("origin"))
                    .list("frameable_paths", &PageSettings::frameablePaths,
                          "path prefixes of pages an integrator may frame (its origin in "
                          "frame_ancestors)",
                          schema::str("path prefix"))
                    .str("referrer_policy", &PageSettings::referrerPolicy,
                         "Referrer-Policy header of every answer (a handler's own wins)");
              })
      .object("jobs", &K::jobs, "durable job queue",
              [](Decl<JobsSettings>& j) {
                using J = JobQueueOptions;
                j.integer("workers", &J::workers,
                          "job worker threads (0: this process runs no jobs)")
                    .range(0, 256)
                    .integer("batch_size", &J::batchSize, "jobs claimed per database round trip")
                    .range(1, 1000)
                    .integer("poll_interval_ms", &J::pollIntervalMs, "idle wait between claims")
                    .range(1, 60000)
                    .integer("rescue_interval_ms", &J::rescueIntervalMs,
                             "how often expired leases are returned")
                    .range(10, 3600000)
                    .integer("keep_done_hours", &J::keepDoneMs, "how long finished jobs are kept")
                    .unit(3600000)
                    .range(1, 100000)
                    .integer("shutdown_grace_ms", &JobsSettings::shutdownGraceMs,
                             "on SIGTERM, how long running job handlers may finish before their "
                             "jobs go back to the queue")
                    .range(0, 3600000);
              })
      .object("payments", &K::payments, "the payment lifecycle", payments)
      .object("console", &K::console, "the operator console at /console/ (docs/console.md)",
              [](Decl<ConsoleOptions>& c) {
                using C = ConsoleOptions;
                c.boolean("enabled", &C::enabled,
                          "serve the console (only when an admin token is configured)")
                    .integer("session_minutes", &C::sessionMs,
                             "how long a console session lasts after sign-in")
                    .unit(60000)
                    .range(1, 10080)
                    .integer("sign_in_attempts_per_minute", &C::signInAttemptsPerMinute,
                             "console sign-in attempts per client address and minute (429 above)")
                    .range(1, 1000);
              })
      .object("log", &K::log, "logging",
              [](Decl<LogSettings>& l) {
                l.str("level", &LogSettings::level, "minimum level")
                    .oneOf({"debug", "info", "warning", "error"})
                    .str("format", &LogSettings::format, "line format")
                    .oneOf({"text", "json"});
              })
      .boolean("sandbox", &K::sandbox,
               "mount provider simulators under /sandbox and point providers at them")
      .node("plugins", schema::list("plugins to load, in order", pluginEntry())
                           .def(Poco::JSON::Array::Ptr(new Poco::JSON::Array)));
  return d;
}

}  // namespace

const Decl<KernelSettings>& KernelSettings::decl() {
  static const Decl<KernelSettings> d = declare();
  return d;
}

}  // namespace malipo
