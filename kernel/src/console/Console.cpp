#include "console/Console.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/String.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <mstch/mstch.hpp>
#include <set>
#include <sstream>

#include "config/ConfigLoader.hpp"
#include "console/Templates.hpp"
#include "http/TemplateData.hpp"
#include "malipo/clock.hpp"
#include "malipo/money.hpp"

namespace malipo {

namespace {

// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
std::int64_t daysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// "YYYY-MM-DD" → the UTC midnight starting it, in ms; -1 when it is not such a date.
std::int64_t parseDate(const std::string& s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return -1;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return -1;
  int y = std::stoi(s.substr(0, 4)), m = std::stoi(s.substr(5, 2)), d = std::stoi(s.substr(8, 2));
  if (m < 1 || m > 12 || d < 1 || d > 31) return -1;
  return daysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d)) * 86400000LL;
}

std::string digitsOf(const std::string& s) {
  std::string out;
  for (char c : s)
    if (std::isdigit(static_cast<unsigned char>(c))) out += c;
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A LIKE pattern matching `s` anywhere, with %, _ and \ taken literally (ESCAPE '\').
std::string likeAnywhere(const std::string& s) {
  std::string out = "%";
  for (char c : s) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out + "%";
}

// A phone number as typed ("0754 123 456", "+255 754 123 456"): its digits, if it looks like
// one (7 to 15 digits, nothing but digits, spaces, + - ( ) .).
std::string phoneQuery(const std::string& q) {
  for (char c : q)
    if (!std::isdigit(static_cast<unsigned char>(c)) && !std::strchr(" +-().", c)) return {};
  std::string d = digitsOf(q);
  return d.size() >= 7 && d.size() <= 15 ? d : std::string();
}

// The same subscriber: equal digits, or the same last nine (local 0754… and international
// 255754… forms of one number).
bool samePhone(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return false;
  if (a == b) return true;
  if (a.size() < 9 || b.size() < 9) return false;
  return a.compare(a.size() - 9, 9, b, b.size() - 9, 9) == 0;
}

const char* kStatuses[] = {"created", "pending",   "succeeded", "failed",
                           "expired", "cancelled", "unknown",   "held"};

const char* kPaymentColumns =
    "id, product, order_ref, provider, channel, amount_minor, currency, status, provider_ref, "
    "provider_txn_id, customer_json, failure_reason, created_at, updated_at, expires_at, version, "
    "fulfilment, fulfilled_at, gross_minor, fee_minor, net_minor, refunded_minor";

// The fields GET /admin/payments/{id} shows (PaymentService::toJson), from a payments row.
Poco::JSON::Object paymentFields(const Rows& r, std::size_t i) {
  Poco::JSON::Object o;
  const std::string currency = r.str(i, "currency");
  for (const char* k : {"id", "product", "order_ref", "provider", "channel", "currency", "status",
                        "provider_ref", "provider_txn_id", "failure_reason", "fulfilment"})
    o.set(k, r.str(i, k));
  o.set("amount", formatMajor(r.i64(i, "amount_minor"), currency));
  for (const char* k : {"created_at", "updated_at", "expires_at"}) {
    std::int64_t ms = r.i64(i, k);
    o.set(k, ms ? isoTime(ms) : std::string());
  }
  o.set("version", r.i64(i, "version"));
  if (r.i64(i, "refunded_minor") > 0)
    o.set("refunded", formatMajor(r.i64(i, "refunded_minor"), currency));
  if (!r.isNull(i, "gross_minor")) {
    auto money = [&](const char* col) {
      return r.isNull(i, col) ? std::string("—") : formatMajor(r.i64(i, col), currency);
    };
    o.set("gross", money("gross_minor"));
    o.set("fee", money("fee_minor"));
    o.set("net", money("net_minor"));
  }
  return o;
}

// Options of a <select>, the chosen one marked.
Poco::JSON::Array options(const std::vector<std::string>& names, const std::string& chosen) {
  Poco::JSON::Array a;
  for (const auto& n : names) {
    Poco::JSON::Object o;
    o.set("name", n);
    o.set("selected", n == chosen);
    a.add(o);
  }
  return a;
}

// Horizontal bars, one per (label, count), with the numbers written out (the table below
// the chart says the same for screen readers).
std::string barChart(const std::vector<std::pair<std::string, std::int64_t>>& bars,
                     const std::string& title, const std::string& unit = "") {
  if (bars.empty()) return {};
  std::int64_t max = 1;
  for (const auto& b : bars) max = std::max(max, b.second);
  const int rowH = 26, labelW = 100, barW = 260,
            w = labelW + barW + 60 + 8 * static_cast<int>(unit.size());
  const int h = static_cast<int>(bars.size()) * rowH + 4;
  std::ostringstream os;
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " << w << ' ' << h << "\" width=\""
     << w << "\" role=\"img\" aria-label=\"" << htmlEscape(title) << "\">";
  int y = 2;
  for (const auto& [label, n] : bars) {
    const int len = static_cast<int>(barW * n / max);
    const char* fill = label == "succeeded" ? "#31c48d"
                       : label == "held"    ? "#f0b429"
                       : (label == "failed" || label == "expired" || label == "cancelled")
                           ? "#f05252"
                           : "#3f83f8";
    os << "<text x=\"0\" y=\"" << y + 17 << "\" font-size=\"13\" fill=\"#1f2933\">"
       << htmlEscape(label) << "</text><rect x=\"" << labelW << "\" y=\"" << y + 3 << "\" width=\""
       << std::max(len, 2) << "\" height=\"18\" rx=\"3\" fill=\"" << fill << "\"/><text x=\""
       << labelW + std::max(len, 2) + 6 << "\" y=\"" << y + 17
       << "\" font-size=\"13\" fill=\"#1f2933\">" << n << htmlEscape(unit) << "</text>";
    y += rowH;
  }
  os << "</svg>";
  return os.str();
}

// One sample of a metric in the Prometheus text that MetricsRegistry::render writes.
struct Sample {
  std::map<std::string, std::string> labels;
  double value = 0;
};

// The samples of `name` (with labels) in a Prometheus text rendering.
std::vector<Sample> samples(const std::string& text, const std::string& name) {
  std::vector<Sample> out;
  std::istringstream in(text);
  std::string line;
  const std::string prefix = name + "{";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    std::size_t close = line.rfind('}');
    if (close == std::string::npos || close < prefix.size()) continue;
    Sample s;
    const std::string labels = line.substr(prefix.size(), close - prefix.size());
    std::size_t pos = 0;
    while (pos < labels.size()) {
      std::size_t eq = labels.find("=\"", pos);
      if (eq == std::string::npos) break;
      std::size_t end = labels.find('"', eq + 2);
      if (end == std::string::npos) break;
      s.labels[labels.substr(pos, eq - pos)] = labels.substr(eq + 2, end - eq - 2);
      pos = end + 1;
      if (pos < labels.size() && labels[pos] == ',') ++pos;
    }
    try {
      s.value = std::stod(line.substr(close + 1));
    } catch (...) {
      continue;
    }
    out.push_back(std::move(s));
  }
  return out;
}

// The q-quantile of a histogram given as cumulative counts by upper bound (+Inf included), as
// Prometheus's histogram_quantile() estimates it: linear inside the bucket that holds the
// rank. -1 without observations; +Inf when the rank lies past the highest finite bound.
double quantile(const std::map<double, double>& cumulative, double q) {
  if (cumulative.empty()) return -1;
  const double total = cumulative.rbegin()->second;
  if (total <= 0) return -1;
  const double rank = q * total;
  double lowerBound = 0, lowerCount = 0;
  for (const auto& [bound, count] : cumulative) {
    if (count >= rank) {
      if (std::isinf(bound)) return bound;
      if (count == lowerCount) return bound;
      return lowerBound + (bound - lowerBound) * (rank - lowerCount) / (count - lowerCount);
    }
    lowerBound = bound;
    lowerCount = count;
  }
  return cumulative.rbegin()->first;
}

std::string fixed1(double v) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(1);
  os << v;
  return os.str();
}

std::string cookieValue(const std::string& header, const std::string& name) {
  std::size_t pos = 0;
  while (pos < header.size()) {
    std::size_t end = header.find(';', pos);
    std::string part = header.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    pos = end == std::string::npos ? header.size() : end + 1;
    std::size_t b = part.find_first_not_of(' ');
    if (b == std::string::npos) continue;
    part = part.substr(b);
    std::size_t eq = part.find('=');
    if (eq != std::string::npos && part.substr(0, eq) == name) return part.substr(eq + 1);
  }
  return {};
}

}  // namespace

Console::Console(Deps deps, ConsoleOptions options, const HttpOptions& server, bool secureCookies,
                 std::string brand)
    : d_(deps),
      opts_(options),
      server_(server),
      secureCookies_(secureCookies),
      brand_(std::move(brand)),
      sessions_(deps.store, deps.clock, options.sessionMs) {}

bool Console::wanted(const ConsoleOptions& o, const HttpOptions& server) {
  return o.enabled && (!server.adminToken.empty() || !server.adminTokens.empty());
}

Response Console::secured(Response r) {
  r.header("Content-Security-Policy",
           "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
           "frame-ancestors 'none'; base-uri 'none'");
  r.header("X-Content-Type-Options", "nosniff");
  r.header("X-Frame-Options", "DENY");
  r.header("Referrer-Policy", "no-referrer");
  r.header("Cache-Control", "no-store");
  return r;
}

std::string Console::cookie(const std::string& name, const std::string& value,
                            std::int64_t maxAgeSeconds) const {
  return name + "=" + value + "; Path=/console; Max-Age=" + std::to_string(maxAgeSeconds) +
         "; HttpOnly; SameSite=Strict" + (secureCookies_ ? "; Secure" : "");
}

Response Console::render(const Request&, const std::string& title, const char* tmpl,
                         Poco::JSON::Object data, const ConsoleSession* s, const std::string& nav,
                         int status) {
  mstch::map body = templateData(data);
  if (s) {
    body["can_act"] = s->operatorRole();
    body["csrf"] = s->csrf;
  }
  mstch::map layout;
  layout["title"] = title;
  layout["brand"] = brand_;
  layout["body"] = mstch::render(tmpl, body);
  if (s) {
    layout["session"] = true;
    layout["csrf"] = s->csrf;
    layout["actor"] = s->actor;
    layout["role"] = s->role;
  }
  if (!nav.empty()) layout["nav_" + nav] = true;
  // The notice an action left in the session, shown once (never from the URL: a crafted link
  // cannot show an operator a notice).
  if (s && !s->flash.empty() && sessions_.takeFlash(s->idHash, s->flash))
    layout["notice"] = s->flash;
  return secured(Response::html(status, mstch::render(console::kLayout, layout)));
}

Response Console::message(const Request& req, int status, const std::string& title,
                          const std::string& text, const ConsoleSession* s,
                          const std::string& back) {
  Poco::JSON::Object o;
  o.set("message", text);
  if (!back.empty()) o.set("back", back);
  return render(req, title, console::kMessage, o, s, "", status);
}

Response Console::done(const ConsoleSession& s, const std::string& notice, const std::string& to) {
  sessions_.setFlash(s.idHash, notice.substr(0, 300));
  return secured(Response::redirect(303, to));
}

std::optional<ConsoleSession> Console::session(const Request& req, std::string* id) {
  std::string sid = cookieValue(req.header("Cookie"), kCookie);
  if (sid.empty()) return std::nullopt;
  if (id) *id = sid;
  return sessions_.find(sid);
}

Handler Console::view(const std::string& nav,
                      std::function<Response(const Request&, const ConsoleSession&)> page) {
  (void)nav;
  return [this, page](const Request& req) {
    auto s = session(req);
    if (!s) return secured(Response::redirect(303, "/console/sign-in"));
    return page(req, *s);
  };
}

Handler Console::action(std::function<Response(const Request&, const ConsoleSession&,
                                               const std::map<std::string, std::string>&)>
                            act) {
  return [this, act](const Request& req) {
    auto s = session(req);
    if (!s)
      return message(req, 403, "Signed out", "Your session ended: sign in again.", nullptr,
                     "/console/sign-in");
    auto form = parseFormUrlEncoded(req.body);
    auto it = form.find("csrf");
    if (it == form.end() || !ConsoleSessions::constantTimeEquals(it->second, s->csrf))
      return message(req, 403, "Refused", "This form is stale or did not come from the console.",
                     &*s, "/console/overview");
    if (!s->operatorRole())
      return message(req, 403, "Not allowed",
                     "The admin token '" + s->actor + "' may only read (role " + s->role + ").",
                     &*s, "/console/overview");
    return act(req, *s, form);
  };
}

void Console::addRoutes(Router& router) {
  RouteOptions opt{Auth::none, "", 64 * 1024, "", false, ""};
  router.add(
      "GET", "/console",
      [this](const Request& req) {
        return secured(
            Response::redirect(303, session(req) ? "/console/overview" : "/console/sign-in"));
      },
      opt);
  router.add(
      "GET", "/console/console.css",
      [](const Request&) {
        Response r = Response::text(200, console::kCss, "text/css; charset=utf-8");
        r.header("X-Content-Type-Options", "nosniff");
        r.header("Cache-Control", "no-cache");
        return r;
      },
      opt);
  router.add(
      "GET", "/console/sign-in", [this](const Request& req) { return signInPage(req); }, opt);
  router.add(
      "POST", "/console/sign-in", [this](const Request& req) { return signIn(req); }, opt);
  router.add(
      "POST", "/console/sign-out", [this](const Request& req) { return signOut(req); }, opt);
  auto page = [this](auto fn) {
    return [this, fn](const Request& req, const ConsoleSession& s) { return (this->*fn)(req, s); };
  };
  router.add("GET", "/console/overview", view("overview", page(&Console::overview)), opt);
  router.add("GET", "/console/payments", view("payments", page(&Console::payments)), opt);
  router.add("GET", "/console/payments/{id}", view("payments", page(&Console::payment)), opt);
  router.add("GET", "/console/payments/{id}/sync", view("payments", page(&Console::confirmSync)),
             opt);
  router.add(
      "POST", "/console/payments/{id}/sync",
      action([this](const Request& req, const ConsoleSession& s,
                    const std::map<std::string, std::string>& form) { return sync(req, s, form); }),
      opt);
  for (const std::string act : {"refund", "cancel", "resolve"}) {
    router.add("GET", "/console/payments/{id}/" + act,
               view("payments",
                    [this, act](const Request& req, const ConsoleSession& s) {
                      return confirmMoney(req, s, act);
                    }),
               opt);
    router.add("POST", "/console/payments/{id}/" + act,
               action([this, act](const Request& req, const ConsoleSession& s,
                                  const std::map<std::string, std::string>& form) {
                 return money(req, s, act, form);
               }),
               opt);
  }
  router.add("GET", "/console/held", view("held", page(&Console::held)), opt);
  router.add("GET", "/console/jobs", view("jobs", page(&Console::jobs)), opt);
  router.add("POST", "/console/jobs/{id}/retry",
             action([this](const Request& req, const ConsoleSession& s,
                           const std::map<std::string, std::string>&) { return retryJob(req, s); }),
             opt);
  router.add("GET", "/console/webhooks", view("webhooks", page(&Console::webhooks)), opt);
  router.add("GET", "/console/plugins", view("plugins", page(&Console::plugins)), opt);
}

// ---- sign-in ----

Response Console::signInPage(const Request& req) {
  if (session(req)) return secured(Response::redirect(303, "/console/overview"));
  // Login CSRF: the form's token must equal a cookie only this browser got (double submit).
  std::string pre = ConsoleSessions::randomHex(16);
  Poco::JSON::Object o;
  o.set("pre_csrf", pre);
  Response r = render(req, "Sign in", console::kSignIn, o, nullptr, "");
  r.header("Set-Cookie", cookie(kPreCookie, pre, 3600));
  return r;
}

Response Console::signIn(const Request& req) {
  auto form = parseFormUrlEncoded(req.body);
  auto refuse = [&](int status, const std::string& why) {
    Poco::JSON::Object o;
    std::string pre = ConsoleSessions::randomHex(16);
    o.set("pre_csrf", pre);
    Response r = render(req, "Sign in", console::kSignIn, o, nullptr, "", status);
    // The message goes in the page, above the form.
    const std::string marker = "<div class=\"card\">";
    std::size_t at = r.body.find(marker);
    if (at != std::string::npos)
      r.body.insert(
          at, "<p class=\"error\" role=\"alert\" id=\"sign-in-error\">" + htmlEscape(why) + "</p>");
    r.header("Set-Cookie", cookie(kPreCookie, pre, 3600));
    return r;
  };
  const std::string pre = cookieValue(req.header("Cookie"), kPreCookie);
  if (!ConsoleSessions::constantTimeEquals(pre, form["csrf"]))
    return refuse(403, "The sign-in form expired: try again.");
  // Counted in the database: every process serving this database shares the limit.
  if (int wait = sessions_.signInAttempt(req.clientIp, opts_.signInAttemptsPerMinute)) {
    d_.log.warning("console", "sign-in attempts from " + req.clientIp + " are rate-limited");
    Response r =
        refuse(429, "Too many sign-in attempts: try again in " + std::to_string(wait) + " s.");
    r.header("Retry-After", std::to_string(wait));
    return r;
  }
  const std::string token = form["token"];
  std::string actor, role;
  // Every token is compared, in constant time, as the admin API does.
  if (ConsoleSessions::constantTimeEquals(token, server_.adminToken)) {
    actor = "admin";
    role = "operator";
  }
  for (const auto& [name, t] : server_.adminTokens)
    if (ConsoleSessions::constantTimeEquals(token, t.token)) {
      actor = name;
      role = t.role;
    }
  if (actor.empty()) {
    d_.log.warning("console", "failed sign-in from " + req.clientIp);
    return refuse(401, "That token is not an admin token of this server.");
  }
  sessions_.purgeExpired();
  ConsoleSession s;
  std::string id = sessions_.create(actor, role, s);
  d_.log.info("console", actor + " (" + role + ") signed in from " + req.clientIp);
  Response r = secured(Response::redirect(303, "/console/overview"));
  r.header("Set-Cookie", cookie(kCookie, id, opts_.sessionMs / 1000));
  r.header("Set-Cookie", cookie(kPreCookie, "", 0));
  return r;
}

Response Console::signOut(const Request& req) {
  std::string id;
  auto s = session(req, &id);
  auto form = parseFormUrlEncoded(req.body);
  if (!s || !ConsoleSessions::constantTimeEquals(form["csrf"], s->csrf))
    return message(req, 403, "Refused", "This form is stale or did not come from the console.",
                   s ? &*s : nullptr, "/console/");
  sessions_.remove(id);
  d_.log.info("console", s->actor + " signed out");
  Response r = secured(Response::redirect(303, "/console/sign-in"));
  r.header("Set-Cookie", cookie(kCookie, "", 0));
  return r;
}

// ---- views ----

Response Console::overview(const Request& req, const ConsoleSession& s) {
  const std::int64_t now = d_.clock.nowMs();
  const std::int64_t since = now - now % 86400000LL;
  Poco::JSON::Object o;
  o.set("since", isoTime(since));
  Rows r = d_.store.query(
      "SELECT status, provider, COUNT(*) AS n FROM payments WHERE created_at >= ? GROUP BY "
      "status, provider",
      {since});
  std::map<std::string, std::int64_t> byStatus;
  std::map<std::string, std::map<std::string, std::int64_t>> byProvider;
  std::int64_t total = 0;
  for (std::size_t i = 0; i < r.size(); ++i) {
    const std::int64_t n = r.i64(i, "n");
    byStatus[r.str(i, "status")] += n;
    byProvider[r.str(i, "provider")][r.str(i, "status")] += n;
    byProvider[r.str(i, "provider")]["*"] += n;
    total += n;
  }
  o.set("total", total);
  const std::int64_t finished =
      byStatus["succeeded"] + byStatus["failed"] + byStatus["expired"] + byStatus["cancelled"];
  std::ostringstream rate;
  if (finished == 0) {
    rate << "—";
  } else {
    rate.setf(std::ios::fixed);
    rate.precision(1);
    rate << 100.0 * static_cast<double>(byStatus["succeeded"]) / static_cast<double>(finished)
         << " %";
  }
  o.set("success_rate", rate.str());
  Poco::JSON::Array statuses;
  std::vector<std::pair<std::string, std::int64_t>> bars;
  for (const char* st : kStatuses) {
    auto it = byStatus.find(st);
    if (it == byStatus.end() || it->second == 0) continue;
    statuses.add(Poco::JSON::Object().set("name", st).set("n", it->second));
    bars.emplace_back(st, it->second);
  }
  o.set("by_status", statuses);
  o.set("status_chart", barChart(bars, "Payments today by status"));
  Poco::JSON::Array providers;
  for (auto& [name, m] : byProvider) {
    Poco::JSON::Object p;
    p.set("name", name);
    p.set("n", m["*"]);
    p.set("succeeded", m["succeeded"]);
    p.set("failed", m["failed"] + m["expired"]);
    p.set("held", m["held"]);
    providers.add(p);
  }
  o.set("by_provider", providers);
  Rows c = d_.store.query(
      "SELECT currency, SUM(amount_minor) AS s, COUNT(*) AS n FROM payments WHERE created_at >= ? "
      "AND status = 'succeeded' GROUP BY currency ORDER BY currency",
      {since});
  Poco::JSON::Array currencies;
  for (std::size_t i = 0; i < c.size(); ++i)
    currencies.add(Poco::JSON::Object()
                       .set("currency", c.str(i, "currency"))
                       .set("amount", formatMajor(c.i64(i, "s"), c.str(i, "currency")))
                       .set("n", c.i64(i, "n")));
  o.set("by_currency", currencies);
  o.set("held",
        d_.store.query("SELECT COUNT(*) AS n FROM payments WHERE status = 'held'").i64(0, "n"));
  auto stats = d_.jobs.stats();
  o.set("dead", stats.count("dead") ? stats["dead"] : 0);
  // Provider health: failed calls as the payment events recorded them.
  Rows e = d_.store.query(
      "SELECT provider, SUM(CASE WHEN created_at >= ? THEN 1 ELSE 0 END) AS hour, COUNT(*) AS day, "
      "MAX(id) AS last FROM payment_events WHERE created_at >= ? AND kind IN ('query_failed', "
      "'initiate_failed', 'initiate_timeout', 'push_failed', 'proof_rejected') GROUP BY provider",
      {now - 3600000, now - 86400000});
  std::map<std::string, Poco::JSON::Object> health;
  for (const auto& p : d_.plugins.plugins())
    for (const auto& prov : p.providers)
      health[prov->name()] = Poco::JSON::Object().set("hour", 0).set("day", 0).set("last", "—");
  for (std::size_t i = 0; i < e.size(); ++i) {
    Rows last = d_.store.query("SELECT kind, detail, created_at FROM payment_events WHERE id = ?",
                               {e.i64(i, "last")});
    std::string lastText = last.empty()
                               ? "—"
                               : isoTime(last.i64(0, "created_at")) + " " + last.str(0, "kind") +
                                     ": " + last.str(0, "detail").substr(0, 200);
    health[e.str(i, "provider")] = Poco::JSON::Object()
                                       .set("hour", e.i64(i, "hour"))
                                       .set("day", e.i64(i, "day"))
                                       .set("last", lastText);
  }
  // This process's provider calls since it started: the latency histogram and error counter
  // PaymentService records for every call (summed over operations), and its breakers.
  const std::string metrics = d_.metrics.render();
  std::map<std::string, std::map<double, double>> latency;  // provider → le → cumulative
  std::map<std::string, double> calls, errors;
  for (const auto& smp : samples(metrics, "malipo_provider_call_duration_seconds_bucket")) {
    if (!smp.labels.count("provider") || !smp.labels.count("le")) continue;
    const std::string& le = smp.labels.at("le");
    const double bound = le == "+Inf" ? std::numeric_limits<double>::infinity() : std::stod(le);
    latency[smp.labels.at("provider")][bound] += smp.value;
  }
  for (const auto& smp : samples(metrics, "malipo_provider_call_duration_seconds_count"))
    if (smp.labels.count("provider")) calls[smp.labels.at("provider")] += smp.value;
  for (const auto& smp : samples(metrics, "malipo_provider_call_errors_total"))
    if (smp.labels.count("provider")) errors[smp.labels.at("provider")] += smp.value;
  std::map<std::string, CircuitBreakers::State> breakers;
  for (auto& b : d_.payments.breakerStates()) breakers[b.provider] = b;
  std::vector<std::pair<std::string, std::int64_t>> p95Bars;
  Poco::JSON::Array healthArr;
  for (auto& [name, h] : health) {
    h.set("name", name);
    auto b = breakers.find(name);
    if (b != breakers.end() && b->second.openUntilMs > now) {
      h.set("breaker", "open");
      h.set("breaker_detail", "skipped by routing for " +
                                  std::to_string((b->second.openUntilMs - now + 999) / 1000) +
                                  " s more");
    } else {
      h.set("breaker", "closed");
      if (b != breakers.end() && b->second.failures > 0)
        h.set("breaker_detail", std::to_string(b->second.failures) + " of " +
                                    std::to_string(b->second.threshold) + " failures in a row");
    }
    const double n = calls[name], failed = errors[name];
    h.set("calls", static_cast<std::int64_t>(n));
    h.set("error_rate", n > 0 ? fixed1(100.0 * failed / n) + " % (" +
                                    std::to_string(static_cast<std::int64_t>(failed)) + " of " +
                                    std::to_string(static_cast<std::int64_t>(n)) + ")"
                              : std::string("—"));
    const double p95 = quantile(latency[name], 0.95);
    if (p95 < 0) {
      h.set("p95", "—");
    } else if (std::isinf(p95)) {
      h.set(
          "p95",
          "> " + std::to_string(static_cast<int>(MetricsRegistry::kBuckets.back() * 1000)) + " ms");
      p95Bars.emplace_back(name,
                           static_cast<std::int64_t>(MetricsRegistry::kBuckets.back() * 1000));
    } else {
      const double ms = p95 * 1000;
      h.set("p95",
            (ms < 10 ? fixed1(ms) : std::to_string(static_cast<std::int64_t>(ms + 0.5))) + " ms");
      p95Bars.emplace_back(name, static_cast<std::int64_t>(ms + 0.5));
    }
    healthArr.add(h);
  }
  o.set("latency_chart",
        barChart(p95Bars, "p95 latency of provider calls, in milliseconds", " ms"));
  o.set("health", healthArr);
  return render(req, "Overview", console::kOverview, o, &s, "overview");
}

Response Console::payments(const Request& req, const ConsoleSession& s) {
  const std::string q = Poco::trim(req.queryParam("q"));
  const std::string status = req.queryParam("status"), provider = req.queryParam("provider"),
                    product = req.queryParam("product"), from = req.queryParam("from"),
                    to = req.queryParam("to");
  std::string sql = std::string("SELECT ") + kPaymentColumns + " FROM payments WHERE 1 = 1";
  Params params;
  std::string problem;
  if (!status.empty()) {
    sql += " AND status = ?";
    params.push_back(status);
  }
  if (!provider.empty()) {
    sql += " AND provider = ?";
    params.push_back(provider);
  }
  if (!product.empty()) {
    sql += " AND product = ?";
    params.push_back(product);
  }
  if (!from.empty()) {
    std::int64_t ms = parseDate(from);
    if (ms < 0) {
      problem = "“From” is not a date (YYYY-MM-DD).";
    } else {
      sql += " AND created_at >= ?";
      params.push_back(ms);
    }
  }
  if (!to.empty()) {
    std::int64_t ms = parseDate(to);
    if (ms < 0) {
      problem = "“To” is not a date (YYYY-MM-DD).";
    } else {
      sql += " AND created_at < ?";
      params.push_back(ms + 86400000LL);
    }
  }
  const std::string phone = phoneQuery(q);
  const bool email = q.find('@') != std::string::npos;
  if (!q.empty()) {
    sql += " AND (id = ? OR provider_ref = ? OR provider_txn_id = ?";
    params.insert(params.end(), {q, q, q});
    if (!phone.empty()) {
      // Candidates whose customer record holds these digits (spacing removed); the exact
      // comparison below reads the number itself.
      sql +=
          " OR REPLACE(REPLACE(REPLACE(customer_json, ' ', ''), '-', ''), '+', '') LIKE ? ESCAPE "
          "'\\'";
      params.push_back(likeAnywhere(phone.size() > 9 ? phone.substr(phone.size() - 9) : phone));
    }
    if (email) {
      sql += " OR LOWER(customer_json) LIKE ? ESCAPE '\\'";
      params.push_back(likeAnywhere(lower(q)));
    }
    sql += ")";
  }
  const std::size_t shown = 100;
  sql += " ORDER BY created_at DESC, id DESC LIMIT 1000";
  Rows r;
  if (problem.empty()) r = d_.store.query(sql, params);
  Poco::JSON::Array list;
  std::size_t count = 0;
  bool more = false;
  for (std::size_t i = 0; i < r.size(); ++i) {
    if (!q.empty() && r.str(i, "id") != q && r.str(i, "provider_ref") != q &&
        r.str(i, "provider_txn_id") != q) {
      // Matched on the customer record only: the phone or email must be the customer's.
      auto c = parseJsonObject(r.str(i, "customer_json"));
      bool match = false;
      if (c && !phone.empty())
        match = samePhone(digitsOf(c->optValue<std::string>("phone", "")), phone);
      if (c && email && !match) match = lower(c->optValue<std::string>("email", "")) == lower(q);
      if (!match) continue;
    }
    if (count == shown) {
      more = true;
      break;
    }
    list.add(paymentFields(r, i));
    ++count;
  }
  Poco::JSON::Object o;
  o.set("q", q);
  o.set("from", from);
  o.set("to", to);
  o.set("count", static_cast<std::int64_t>(count));
  o.set("more", more);
  o.set("payments", list);
  std::vector<std::string> st(std::begin(kStatuses), std::end(kStatuses)), provs, prods;
  for (const auto& p : d_.plugins.plugins()) {
    for (const auto& prov : p.providers) provs.push_back(prov->name());
    for (const auto& prod : p.products) prods.push_back(prod->name());
  }
  o.set("statuses", options(st, status));
  o.set("providers", options(provs, provider));
  o.set("products", options(prods, product));
  Response resp = render(req, "Payments", console::kPayments, o, &s, "payments");
  if (!problem.empty()) {
    std::size_t at = resp.body.find("<div class=\"card\">");
    if (at != std::string::npos)
      resp.body.insert(at, "<p class=\"error\" role=\"alert\">" + htmlEscape(problem) + "</p>");
    resp.status = 400;
  }
  return resp;
}

Response Console::payment(const Request& req, const ConsoleSession& s) {
  Rows r = d_.store.query(std::string("SELECT ") + kPaymentColumns + " FROM payments WHERE id = ?",
                          {req.param("id")});
  if (r.empty()) return message(req, 404, "Not found", "No such payment.", &s, "/console/payments");
  Poco::JSON::Object o = paymentFields(r, 0);
  const std::string st = r.str(0, "status");
  o.set("can_refund", st == "succeeded" && r.i64(0, "refunded_minor") < r.i64(0, "amount_minor"));
  o.set("can_cancel", st == "created" || st == "pending" || st == "unknown");
  o.set("can_resolve", st == "held");
  Poco::JSON::Array events;
  for (const auto& e : d_.payments.events(r.str(0, "id")))
    events.add(Poco::JSON::Object()
                   .set("kind", e.kind)
                   .set("detail", e.detail)
                   .set("provider_event_id", e.providerEventId)
                   .set("at", isoTime(e.createdAtMs)));
  o.set("events", events);
  Poco::JSON::Array refunds;  // as GET /admin/payments/{id}/refunds shows them
  for (const auto& rf : d_.payments.refunds(r.str(0, "id")))
    refunds.add(d_.payments.refundJson(rf));
  o.set("refunds", refunds);
  o.set("has_refunds", refunds.size() > 0);
  Poco::JSON::Array attempts;  // as GET /admin/payments/{id} shows them (SDK 1.1)
  for (const auto& a : d_.payments.attempts(r.str(0, "id")))
    attempts.add(PaymentService::attemptJson(a));
  o.set("attempts", attempts);
  o.set("several_attempts", attempts.size() > 1);
  return render(req, "Payment", console::kPayment, o, &s, "payments");
}

Response Console::confirmSync(const Request& req, const ConsoleSession& s) {
  if (!s.operatorRole())
    return message(req, 403, "Not allowed",
                   "The admin token '" + s.actor + "' may only read (role " + s.role + ").", &s,
                   "/console/payments/" + req.param("id"));
  Rows r =
      d_.store.query("SELECT id, provider, status FROM payments WHERE id = ?", {req.param("id")});
  if (r.empty()) return message(req, 404, "Not found", "No such payment.", &s, "/console/payments");
  Poco::JSON::Object o;
  o.set("id", r.str(0, "id"));
  o.set("provider", r.str(0, "provider"));
  o.set("status", r.str(0, "status"));
  return render(req, "Sync payment", console::kConfirmSync, o, &s, "payments");
}

Response Console::sync(const Request& req, const ConsoleSession& s,
                       const std::map<std::string, std::string>& form) {
  const std::string id = req.param("id");
  Rows r = d_.store.query("SELECT id, provider, status FROM payments WHERE id = ?", {id});
  if (r.empty()) return message(req, 404, "Not found", "No such payment.", &s, "/console/payments");
  auto it = form.find("reason");
  std::string reason = it == form.end() ? "" : Poco::trim(it->second);
  if (reason.empty())
    return message(req, 400, "Reason needed", "Say why you sync this payment.", &s,
                   "/console/payments/" + id + "/sync");
  if (reason.size() > 500) reason = reason.substr(0, 500);
  const std::string before = r.str(0, "status");
  auto result = d_.payments.sync(id);  // what POST /admin/payments/{id}/sync runs
  const std::string outcome = result.ok() ? before + " -> " + statusName(result.value().status)
                                          : std::string("failed: ") + result.error().external;
  // In the payment's timeline, as PaymentService writes its events, with the actor.
  d_.store.write([&](Tx& tx) {
    tx.exec(
        "INSERT INTO payment_events (payment_id, provider, kind, provider_event_id, detail, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?)",
        {id, r.str(0, "provider"), std::string("operator_sync"), Value(Null{}),
         "by " + s.actor + " (" + outcome + "): " + reason, d_.clock.nowMs()});
  });
  d_.log.info("console", s.actor + " synced payment " + id + " (" + outcome + ")");
  return done(s, result.ok() ? "Synced: " + outcome : "Sync " + outcome, "/console/payments/" + id);
}

Response Console::confirmMoney(const Request& req, const ConsoleSession& s,
                               const std::string& action) {
  if (!s.operatorRole())
    return message(req, 403, "Not allowed",
                   "The admin token '" + s.actor + "' may only read (role " + s.role + ").", &s,
                   "/console/payments/" + req.param("id"));
  Rows r = d_.store.query(std::string("SELECT ") + kPaymentColumns + " FROM payments WHERE id = ?",
                          {req.param("id")});
  if (r.empty()) return message(req, 404, "Not found", "No such payment.", &s, "/console/payments");
  Poco::JSON::Object o = paymentFields(r, 0);
  o.set("action", action);
  o.set("actor", s.actor);
  // One key per form shown: submitting it twice asks for one refund (Idempotency-Key).
  o.set("key", "console:" + ConsoleSessions::randomHex(16));
  const std::string currency = r.str(0, "currency");
  o.set("remaining", formatMajor(r.i64(0, "amount_minor") - r.i64(0, "refunded_minor"), currency));
  if (action == "refund") {
    o.set("is_refund", true);
    o.set("explain",
          "Give money back to the customer through the provider (or record a refund "
          "made outside, for a provider without a refund API).");
    o.set("confirm", "Confirm refund");
  } else if (action == "cancel") {
    o.set("explain",
          "Cancel this payment at the provider when it can, else here; money that "
          "arrives later is held.");
    o.set("confirm", "Confirm cancel");
  } else {
    o.set("is_resolve", true);
    o.set("explain", "Decide what happens to this held payment.");
    o.set("confirm", "Confirm resolution");
  }
  return render(req,
                action == "refund"   ? "Refund payment"
                : action == "cancel" ? "Cancel payment"
                                     : "Resolve held payment",
                console::kConfirmMoney, o, &s, "payments");
}

Response Console::money(const Request& req, const ConsoleSession& s, const std::string& action,
                        const std::map<std::string, std::string>& form) {
  const std::string id = req.param("id");
  auto field = [&](const char* k) {
    auto it = form.find(k);
    return it == form.end() ? std::string() : std::string(Poco::trim(it->second));
  };
  const std::string back = "/console/payments/" + id + "/" + action;
  Rows r = d_.store.query("SELECT id, currency FROM payments WHERE id = ?", {id});
  if (r.empty()) return message(req, 404, "Not found", "No such payment.", &s, "/console/payments");
  std::string reason = field("reason");
  if (reason.empty()) return message(req, 400, "Reason needed", "Say why.", &s, back);
  if (reason.size() > 500) reason = reason.substr(0, 500);
  std::string notice;
  Error failure;
  bool ok = true;
  if (action == "refund") {
    PaymentService::RefundAsk ask;
    ask.paymentId = id;
    ask.idempotencyKey = field("key").substr(0, 100);
    ask.actor = s.actor;
    ask.reason = reason;
    ask.force = field("force") == "1";
    ask.manualReference = field("manual_reference").substr(0, 200);
    const std::string amount = field("amount");
    if (!amount.empty()) {
      auto minor = parseMajor(amount, r.str(0, "currency"));
      if (!minor || *minor <= 0)
        return message(
            req, 400, "Amount",
            "The amount must be a positive amount in " + r.str(0, "currency") + ", e.g. 500.00.",
            &s, back);
      ask.amountMinor = *minor;
    }
    auto res = d_.payments.requestRefund(ask);  // what POST /admin/payments/{id}/refunds runs
    ok = res.ok();
    if (ok) {
      const RefundRecord& rf = res.value().refund;
      notice = "Refund of " + formatMajor(rf.refund.amountMinor, rf.refund.currency) + " " +
               rf.refund.currency + ": " + refundStateName(rf.state) + ".";
    } else {
      failure = res.error();
    }
  } else if (action == "cancel") {
    auto res = d_.payments.cancel(id, s.actor, reason);
    ok = res.ok();
    if (ok)
      notice = std::string("Cancelled: now ") + statusName(res.value().status) + ".";
    else
      failure = res.error();
  } else {
    const std::string how = field("resolution");
    if (how != "accept" && how != "refund")
      return message(req, 400, "Resolution", "Choose accept or refund.", &s, back);
    auto res =
        d_.payments.resolve(id, how, s.actor, reason, field("manual_reference").substr(0, 200));
    ok = res.ok();
    if (ok)
      notice = std::string("Resolved (") + how + "): now " + statusName(res.value().status) + ".";
    else
      failure = res.error();
  }
  if (!ok) return message(req, httpStatus(failure.code), "Not done", failure.external, &s, back);
  d_.log.info("console", s.actor + " " + action + " payment " + id);
  return done(s, notice, "/console/payments/" + id);
}

Response Console::held(const Request& req, const ConsoleSession& s) {
  Rows r = d_.store.query(
      "SELECT id, provider, amount_minor, currency, updated_at, failure_reason FROM payments WHERE "
      "status = 'held' ORDER BY updated_at ASC, id LIMIT 500");
  Poco::JSON::Array list;
  for (std::size_t i = 0; i < r.size(); ++i) {
    Rows why = d_.store.query(
        "SELECT detail, created_at FROM payment_events WHERE payment_id = ? AND kind = 'held' "
        "ORDER BY id DESC LIMIT 1",
        {r.str(i, "id")});
    list.add(
        Poco::JSON::Object()
            .set("id", r.str(i, "id"))
            .set("provider", r.str(i, "provider"))
            .set("amount", formatMajor(r.i64(i, "amount_minor"), r.str(i, "currency")))
            .set("currency", r.str(i, "currency"))
            .set("since", isoTime(why.empty() ? r.i64(i, "updated_at") : why.i64(0, "created_at")))
            .set("reason", why.empty() ? r.str(i, "failure_reason") : why.str(0, "detail")));
  }
  Poco::JSON::Object o;
  o.set("held", list);
  return render(req, "Held payments", console::kHeld, o, &s, "held");
}

Response Console::jobs(const Request& req, const ConsoleSession& s) {
  Poco::JSON::Object o;
  Poco::JSON::Array states;
  auto stats = d_.jobs.stats();
  for (const char* st : {"queued", "running", "dead", "done"})
    states.add(Poco::JSON::Object().set("name", st).set("n", stats.count(st) ? stats[st] : 0));
  o.set("states", states);
  Rows r = d_.store.query(
      "SELECT kind, state, COUNT(*) AS n FROM jobs WHERE state <> 'done' GROUP BY kind, state "
      "ORDER BY kind");
  std::map<std::string, Poco::JSON::Object> kinds;
  for (std::size_t i = 0; i < r.size(); ++i) {
    auto& k = kinds[r.str(i, "kind")];
    if (!k.has("kind"))
      k.set("kind", r.str(i, "kind")).set("queued", 0).set("running", 0).set("dead", 0);
    k.set(r.str(i, "state"), r.i64(i, "n"));
  }
  Poco::JSON::Array kindArr;
  for (auto& [name, k] : kinds) kindArr.add(k);
  o.set("kinds", kindArr);
  Poco::JSON::Array dead;
  for (const auto& j : d_.jobs.list("dead", 200))
    dead.add(Poco::JSON::Object()
                 .set("id", j.id)
                 .set("kind", j.kind)
                 .set("attempts", j.attempts)
                 .set("max_attempts", j.maxAttempts)
                 .set("last_error", j.lastError)
                 .set("updated_at", isoTime(j.updatedAt)));
  o.set("dead", dead);
  return render(req, "Jobs", console::kJobs, o, &s, "jobs");
}

Response Console::retryJob(const Request& req, const ConsoleSession& s) {
  std::int64_t id = 0;
  try {
    id = std::stoll(req.param("id"));
  } catch (...) {
    return message(req, 404, "Not found", "No such job.", &s, "/console/jobs");
  }
  if (!d_.jobs.retry(id))  // what POST /admin/jobs/{id}/retry runs
    return message(req, 409, "Not retried",
                   "Job " + std::to_string(id) + " is not dead (or does not exist).", &s,
                   "/console/jobs");
  d_.log.info("console", s.actor + " retried job " + std::to_string(id));
  return done(s, "Job " + std::to_string(id) + " queued again.", "/console/jobs");
}

Response Console::webhooks(const Request& req, const ConsoleSession& s) {
  const std::string provider = req.queryParam("provider");
  Poco::JSON::Object o;
  // The inbox's outcome counters (rejected deliveries are not stored, only counted).
  Poco::JSON::Array outcomes;
  for (const auto& smp : samples(d_.metrics.render(), "malipo_webhooks_total")) {
    const std::string prov = smp.labels.count("provider") ? smp.labels.at("provider") : "";
    if (!provider.empty() && prov != provider) continue;
    outcomes.add(Poco::JSON::Object()
                     .set("provider", prov)
                     .set("outcome", smp.labels.count("outcome") ? smp.labels.at("outcome") : "")
                     .set("n", static_cast<std::int64_t>(smp.value)));
  }
  o.set("outcomes", outcomes);
  std::string sql =
      "SELECT payment_id, provider, provider_event_id, detail, created_at FROM payment_events "
      "WHERE kind = 'webhook'";
  Params params;
  if (!provider.empty()) {
    sql += " AND provider = ?";
    params.push_back(provider);
  }
  sql += " ORDER BY id DESC LIMIT 200";
  Rows r = d_.store.query(sql, params);
  Poco::JSON::Array events;
  for (std::size_t i = 0; i < r.size(); ++i)
    events.add(Poco::JSON::Object()
                   .set("payment_id", r.str(i, "payment_id"))
                   .set("provider", r.str(i, "provider"))
                   .set("provider_event_id", r.str(i, "provider_event_id"))
                   .set("detail", r.str(i, "detail"))
                   .set("at", isoTime(r.i64(i, "created_at"))));
  o.set("events", events);
  std::vector<std::string> provs;
  for (const auto& p : d_.plugins.plugins())
    for (const auto& prov : p.providers) provs.push_back(prov->name());
  o.set("providers", options(provs, provider));
  return render(req, "Webhooks", console::kWebhooks, o, &s, "webhooks");
}

Response Console::plugins(const Request& req, const ConsoleSession& s) {
  Poco::JSON::Array list;
  for (const auto& p : d_.plugins.plugins()) {
    std::string provides;
    for (const auto& prov : p.providers)
      provides += (provides.empty() ? "provider " : ", provider ") + prov->name();
    for (const auto& prod : p.products)
      provides += (provides.empty() ? "product " : ", product ") + prod->name();
    list.add(Poco::JSON::Object()
                 .set("name", p.config.name)
                 .set("version", p.version())
                 .set("sdk_version", p.sdkVersion())
                 .set("library", p.config.library)
                 .set("provides", provides.empty() ? "—" : provides)
                 // Secrets masked, as check-config shows them.
                 .set("settings", ConfigLoader::describe(p.settings, p.schema)));
  }
  Poco::JSON::Object o;
  o.set("plugins", list);
  return render(req, "Plugins", console::kPlugins, o, &s, "plugins");
}

}  // namespace malipo
