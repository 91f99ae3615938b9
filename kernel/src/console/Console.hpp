// The operator console at /console/ (docs/console.md): server-rendered pages over the admin
// data (payments, held queue, jobs, webhooks, plugins) behind a sign-in with an admin token.
// Sessions live in the database (Sessions.hpp); every form carries a per-session CSRF token;
// a viewer reads, an operator also acts. Mounted by the kernel only when an admin token is
// configured and console.enabled is true.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "console/ConsoleOptions.hpp"
#include "console/Sessions.hpp"
#include "http/HttpServer.hpp"
#include "http/MetricsRegistry.hpp"
#include "jobs/JobQueueImpl.hpp"
#include "malipo/http.hpp"
#include "malipo/log.hpp"
#include "payments/PaymentService.hpp"
#include "plugins/PluginManager.hpp"
#include "store/Store.hpp"

namespace malipo {

class Console {
 public:
  struct Deps {
    Store& store;
    JobQueueImpl& jobs;
    PaymentService& payments;
    PluginManager& plugins;
    MetricsRegistry& metrics;
    const Clock& clock;
    Logger& log;
  };
  Console(Deps deps, ConsoleOptions options, const HttpOptions& server, bool secureCookies,
          std::string brand);

  static std::vector<Migration> migrations() { return ConsoleSessions::migrations(); }
  // On when console.enabled and at least one admin token is configured.
  static bool wanted(const ConsoleOptions& o, const HttpOptions& server);
  void addRoutes(Router& router);

  static constexpr const char* kCookie = "malipo_console";
  static constexpr const char* kPreCookie = "malipo_console_pre";

 private:
  struct Page;
  Response render(const Request& req, const std::string& title, const char* tmpl,
                  Poco::JSON::Object data, const ConsoleSession* s, const std::string& nav,
                  int status = 200);
  Response message(const Request& req, int status, const std::string& title,
                   const std::string& text, const ConsoleSession* s, const std::string& back = {});
  static Response secured(Response r);
  // After an action: `notice` kept in the session for the next page (one-shot), and a 303 to
  // `to`.
  Response done(const ConsoleSession& s, const std::string& notice, const std::string& to);
  std::optional<ConsoleSession> session(const Request& req, std::string* id = nullptr);
  // Signed-in GET: the page, or a redirect to the sign-in.
  Handler view(const std::string& nav,
               std::function<Response(const Request&, const ConsoleSession&)> page);
  // Signed-in operator POST with a valid CSRF token (403 otherwise).
  Handler action(std::function<Response(const Request&, const ConsoleSession&,
                                        const std::map<std::string, std::string>& form)>
                     act);
  std::string cookie(const std::string& name, const std::string& value,
                     std::int64_t maxAgeSeconds) const;

  Response signInPage(const Request& req);
  Response signIn(const Request& req);
  Response signOut(const Request& req);
  Response overview(const Request& req, const ConsoleSession& s);
  Response payments(const Request& req, const ConsoleSession& s);
  Response payment(const Request& req, const ConsoleSession& s);
  Response confirmSync(const Request& req, const ConsoleSession& s);
  Response sync(const Request& req, const ConsoleSession& s,
                const std::map<std::string, std::string>& form);
  // Money operations (refund, cancel, resolve held): a confirmation form, then the action.
  Response confirmMoney(const Request& req, const ConsoleSession& s, const std::string& action);
  Response money(const Request& req, const ConsoleSession& s, const std::string& action,
                 const std::map<std::string, std::string>& form);
  Response held(const Request& req, const ConsoleSession& s);
  Response jobs(const Request& req, const ConsoleSession& s);
  Response retryJob(const Request& req, const ConsoleSession& s);
  Response webhooks(const Request& req, const ConsoleSession& s);
  Response plugins(const Request& req, const ConsoleSession& s);

  Deps d_;
  ConsoleOptions opts_;
  const HttpOptions& server_;
  bool secureCookies_;
  std::string brand_;
  ConsoleSessions sessions_;
};

}  // namespace malipo
