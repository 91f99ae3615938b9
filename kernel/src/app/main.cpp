// The `malipo` command: serve, check-config, migrate, plugins, jobs, payments, sdk.
// Every error is one line on stderr and a non-zero exit; nothing escapes as a crash.
#include <Poco/DateTimeFormatter.h>
#include <Poco/Timestamp.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "app/Kernel.hpp"
#include "app/Scaffold.hpp"
#include "malipo/money.hpp"

#ifndef MALIPO_VERSION
#define MALIPO_VERSION "0.0.0"
#endif

namespace {

const char* kUsage = R"(malipo — plugin-based payment orchestration server

Usage:
  malipo serve        [--config FILE] [--port-file F]   start the server (SIGTERM/SIGINT:
                      graceful stop); --port-file writes the bound port (for listen port 0)
  malipo check-config [--config FILE]   validate the config and list what would be loaded
  malipo migrate      [--config FILE]   apply pending database migrations and exit
  malipo plugins      [--config FILE]   list plugins: name, version, SPI version, library
  malipo jobs list    [--state STATE] [--limit N] [--config FILE]
  malipo jobs stats   [--config FILE]
  malipo jobs retry ID [--config FILE]  requeue a dead job
  malipo payments list [--state STATUS] [--limit N] [--config FILE]
  malipo payments show ID [--config FILE]   a payment and its event timeline
  malipo payments sync ID [--config FILE]   ask the provider now and apply its answer
  malipo payments refund ID [--amount X] --reason R [--key K] [--force]
                                     [--manual-reference REF] [--config FILE]
                                            refund a succeeded payment (all that remains
                                            unless --amount, in major units)
  malipo payments refunds ID [--config FILE]  a payment's refunds
  malipo payments cancel ID --reason R [--config FILE]
                                            cancel a payment that is not paid yet
  malipo payments resolve ID accept|refund --reason R [--manual-reference REF] [--config FILE]
                                            decide a held payment: deliver it, or refund it
  malipo sdk new-provider NAME DIR   write a buildable out-of-tree provider plugin
                      (CMake project against the installed SDK, simulator, tests) into DIR
  malipo --help | --version

FILE defaults to config/malipo.yaml. ${VAR} and ${VAR:-default} in the file are taken
from the environment.
)";

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    if (s == "--help" || s == "-h" || s == "--version" || s == "--force") {
      a.options[s] = "1";
    } else if (s.rfind("--", 0) == 0) {
      std::string key = s, value;
      auto eq = s.find('=');
      if (eq != std::string::npos) {
        key = s.substr(0, eq);
        value = s.substr(eq + 1);
      } else {
        if (i + 1 >= argc) throw std::runtime_error("option " + s + " needs a value");
        value = argv[++i];
      }
      static const std::vector<std::string> known{"--config",    "--state",           "--limit",
                                                  "--port-file", "--reason",          "--amount",
                                                  "--key",       "--manual-reference"};
      if (std::find(known.begin(), known.end(), key) == known.end())
        throw std::runtime_error("unknown option " + key);
      a.options[key] = value;
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

// A command-line number: the whole text a decimal integer in [min, max], else one clear line.
long long number(const std::string& what, const std::string& text, long long min, long long max) {
  std::size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &used, 10);
  } catch (const std::exception&) {
    used = 0;
  }
  if (text.empty() || used != text.size() || v < min || v > max)
    throw std::runtime_error(what + " must be a whole number between " + std::to_string(min) +
                             " and " + std::to_string(max) + ", got '" + text + "'");
  return v;
}

int limitOption(Args& args) {
  return args.options.count("--limit")
             ? static_cast<int>(number("--limit", args.options["--limit"], 1, 100000))
             : 50;
}

// An empty --state lists every state; anything else must be one of `known`.
std::string stateOption(Args& args, const std::vector<std::string>& known) {
  std::string state = args.options.count("--state") ? args.options["--state"] : "";
  if (state.empty() || std::find(known.begin(), known.end(), state) != known.end()) return state;
  std::string list;
  for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
  throw std::runtime_error("unknown state '" + state + "' (known: " + list + ")");
}

int serve(malipo::Config config, const std::string& portFile) {
  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);  // reload (TLS certificate), not a stop
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  malipo::Kernel kernel(std::move(config));
  kernel.open();
  kernel.start();
  if (!portFile.empty()) {
    std::ofstream(portFile + ".tmp") << kernel.port() << "\n";
    std::rename((portFile + ".tmp").c_str(), portFile.c_str());
  }
  int sig = 0;
  while (sigwait(&set, &sig) == 0 && sig == SIGHUP) kernel.reload();
  kernel.logger().info(
      "kernel", std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ", stopping");
  kernel.shutdown();
  kernel.logger().info("kernel", "stopped");
  if (kernel.handlersStuck()) {
    // A handler thread still runs plugin code: destructors must not pull it away.
    kernel.logger().flush();
    std::fflush(nullptr);
    std::_Exit(0);
  }
  return 0;
}

int paymentsCommand(malipo::Kernel& kernel, const std::string& sub, Args& args) {
  auto& payments = kernel.payments();
  if (sub == "list") {
    int limit = limitOption(args);
    std::vector<std::string> statuses;
    for (auto st : {malipo::PaymentStatus::created, malipo::PaymentStatus::pending,
                    malipo::PaymentStatus::succeeded, malipo::PaymentStatus::failed,
                    malipo::PaymentStatus::expired, malipo::PaymentStatus::cancelled,
                    malipo::PaymentStatus::unknown, malipo::PaymentStatus::held})
      statuses.push_back(malipo::statusName(st));
    std::string state = stateOption(args, statuses);
    std::printf("%-36s %-10s %-12s %-14s %-10s %s\n", "ID", "STATUS", "PROVIDER", "AMOUNT",
                "PRODUCT", "CREATED");
    for (const auto& p : payments.list(state, limit))
      std::printf("%-36s %-10s %-12s %-14s %-10s %s\n", p.id.c_str(), malipo::statusName(p.status),
                  p.provider.c_str(),
                  (malipo::formatMajor(p.amountMinor, p.currency) + " " + p.currency).c_str(),
                  p.product.c_str(), malipo::isoTime(p.createdAtMs).c_str());
    return 0;
  }
  if ((sub == "show" || sub == "sync") && args.positional.size() > 2) {
    const std::string& id = args.positional[2];
    auto p = sub == "sync" ? payments.sync(id) : payments.get(id);
    if (!p.ok()) {
      std::cerr << "malipo: " << p.error().internal << "\n";
      return 1;
    }
    std::ostringstream os;
    payments.toJson(p.value()).stringify(os, 2);
    std::cout << os.str() << "\n\nevents:\n";
    for (const auto& e : payments.events(id))
      std::cout << "  " << malipo::isoTime(e.createdAtMs) << "  " << e.kind << "  " << e.detail
                << "\n";
    return 0;
  }
  // Operator money actions: the actor is the operator running the command.
  const char* user = std::getenv("USER");
  const std::string actor = std::string("cli:") + (user && *user ? user : "unknown");
  auto reasonOption = [&]() {
    std::string r = args.options.count("--reason") ? args.options["--reason"] : "";
    if (r.empty()) throw std::runtime_error("--reason R is required");
    return r;
  };
  auto failed = [](const malipo::Error& e) {
    std::cerr << "malipo: " << (e.external.empty() ? e.internal : e.external) << "\n";
    return 1;
  };
  if (sub == "refund" && args.positional.size() > 2) {
    const std::string& id = args.positional[2];
    auto p = payments.get(id);
    if (!p.ok()) return failed(p.error());
    malipo::PaymentService::RefundAsk ask;
    ask.paymentId = id;
    ask.reason = reasonOption();
    ask.actor = actor;
    ask.force = args.options.count("--force") > 0;
    ask.manualReference =
        args.options.count("--manual-reference") ? args.options["--manual-reference"] : "";
    if (args.options.count("--amount")) {
      auto minor = malipo::parseMajor(args.options["--amount"], p.value().currency);
      if (!minor || *minor <= 0)
        throw std::runtime_error("--amount must be a positive amount in major units of " +
                                 p.value().currency);
      ask.amountMinor = *minor;
    }
    // Without --key, a fresh key: running the command twice asks twice.
    ask.idempotencyKey =
        args.options.count("--key")
            ? args.options["--key"]
            : "cli:" + std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
    auto r = payments.requestRefund(ask);
    if (!r.ok()) return failed(r.error());
    std::ostringstream os;
    payments.refundJson(r.value().refund).stringify(os, 2);
    std::cout << os.str() << "\n";
    if (r.value().refund.state == malipo::RefundState::requested)
      std::cout << "the provider is asked by the running server's job queue; follow it with "
                   "`malipo payments refunds "
                << id << "`\n";
    return 0;
  }
  if (sub == "refunds" && args.positional.size() > 2) {
    const std::string& id = args.positional[2];
    auto p = payments.get(id);
    if (!p.ok()) return failed(p.error());
    std::printf("%-36s %-10s %-14s %-10s %s\n", "REFUND", "STATUS", "AMOUNT", "ACTOR", "REASON");
    for (const auto& r : payments.refunds(id))
      std::printf(
          "%-36s %-10s %-14s %-10s %s\n", r.refund.id.c_str(), malipo::refundStateName(r.state),
          (malipo::formatMajor(r.refund.amountMinor, r.refund.currency) + " " + r.refund.currency)
              .c_str(),
          r.refund.actor.c_str(), r.refund.reason.c_str());
    return 0;
  }
  if ((sub == "cancel" && args.positional.size() > 2) ||
      (sub == "resolve" && args.positional.size() > 3)) {
    const std::string& id = args.positional[2];
    auto p = sub == "cancel" ? payments.cancel(id, actor, reasonOption())
                             : payments.resolve(id, args.positional[3], actor, reasonOption(),
                                                args.options.count("--manual-reference")
                                                    ? args.options["--manual-reference"]
                                                    : "");
    if (!p.ok()) return failed(p.error());
    std::ostringstream os;
    payments.toJson(p.value()).stringify(os, 2);
    std::cout << os.str() << "\n";
    return 0;
  }
  std::cerr << "malipo: usage: malipo payments list|show ID|sync ID|refund ID|refunds ID|cancel "
               "ID|resolve ID accept|refund [--config FILE]\n";
  return 2;
}

// `malipo sdk new-provider NAME DIR`: no config, no database.
int sdkCommand(const Args& args) {
  if (args.positional.size() != 4 || args.positional[1] != "new-provider") {
    std::cerr << "malipo: usage: malipo sdk new-provider NAME DIR\n";
    return 2;
  }
  const std::string &name = args.positional[2], &dir = args.positional[3];
  auto files = malipo::scaffold::newProvider(name, dir);
  std::cout << "wrote the provider '" << name << "' into " << dir << ":\n";
  for (const auto& f : files) std::cout << "  " << f << "\n";
  std::cout << "next: cmake -S " << dir << " -B " << dir
            << "/build -DCMAKE_PREFIX_PATH=<malipo prefix> && cmake --build " << dir
            << "/build && ctest --test-dir " << dir << "/build\n";
  return 0;
}

int run(int argc, char** argv) {
  Args args = parse(argc, argv);
  if (args.options.count("--version")) {
    std::cout << "malipo " << MALIPO_VERSION << " (plugin SDK " << malipo::kernelSdkVersion()
              << ")\n";
    return 0;
  }
  if (args.options.count("--help") || args.positional.empty()) {
    std::cout << kUsage;
    return args.positional.empty() && !args.options.count("--help") ? 2 : 0;
  }
  std::string configFile =
      args.options.count("--config") ? args.options["--config"] : "config/malipo.yaml";
  const std::string& cmd = args.positional[0];
  static const std::vector<std::string> commands{"serve", "check-config", "migrate", "plugins",
                                                 "jobs",  "payments",     "sdk"};
  if (std::find(commands.begin(), commands.end(), cmd) == commands.end()) {
    std::cerr << "malipo: unknown command '" << cmd << "' (see malipo --help)\n";
    return 2;
  }
  if (cmd == "sdk") return sdkCommand(args);
  malipo::Config config = malipo::ConfigLoader::loadFile(configFile);

  if (cmd == "serve") return serve(std::move(config), args.options["--port-file"]);

  if (cmd == "check-config") {
    // Everything serve does before it listens, so what serve would refuse is refused here:
    // secrets, plugin settings, registration, migrations and plugin start-up, run against a
    // scratch SQLite database (the real one is only reached, never changed).
    std::string url = config.root.child("database").getString("url");
    if (url.rfind("postgres", 0) == 0) malipo::Store(url, 1, 5000).ping();
    char scratch[] = "/tmp/malipo-check.XXXXXX";
    if (!mkdtemp(scratch)) throw std::runtime_error("cannot make a scratch folder for the check");
    struct Cleanup {
      std::string dir;
      ~Cleanup() {
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
      }
    } cleanup{scratch};
    malipo::Config trial = malipo::ConfigLoader::loadFile(configFile);
    trial.root.raw()
        ->getObject("database")
        ->set("url", std::string("sqlite:") + scratch + "/check.db");
    trial.root.raw()->getObject("log")->set("level", std::string("error"));
    malipo::Kernel kernel(std::move(trial));
    kernel.open();
    kernel.start(false);
    kernel.shutdown();
    std::cout << configFile << ": OK\n\n"
              << malipo::ConfigLoader::describe(config.root, malipo::ConfigLoader::kernelSchema())
              << "\nplugins:\n";
    malipo::PluginManager pm;
    pm.load(config);
    for (auto& p : pm.plugins()) {
      std::cout << "  - " << p.config.name << " " << p.version() << " (SDK " << p.sdkVersion()
                << ", " << p.config.library << ")\n"
                << malipo::ConfigLoader::describe(p.settings, p.schema, 6);
    }
    return 0;
  }
  if (cmd == "plugins") {
    malipo::PluginManager pm;
    pm.load(config);
    std::printf("%-14s %-10s %-4s %s\n", "NAME", "VERSION", "SDK", "LIBRARY");
    for (auto& p : pm.plugins())
      std::printf("%-14s %-10s %-4s %s\n", p.config.name.c_str(), p.version().c_str(),
                  p.sdkVersion().c_str(), p.config.library.c_str());
    return 0;
  }
  // migrate and jobs need the database; plugins register so their migrations are known.
  malipo::Kernel kernel(std::move(config));
  kernel.open();
  if (cmd == "migrate") {
    std::cout << "migrations applied; schema is current\n";
    return 0;
  }
  std::string sub = args.positional.size() > 1 ? args.positional[1] : "";
  if (cmd == "payments") return paymentsCommand(kernel, sub, args);
  if (sub == "stats") {
    for (const auto& [state, n] : kernel.jobs().stats()) std::cout << state << " " << n << "\n";
    return 0;
  }
  if (sub == "list") {
    int limit = limitOption(args);
    std::string state = stateOption(args, {"queued", "running", "done", "dead"});
    std::printf("%-8s %-28s %-8s %-9s %-20s %s\n", "ID", "KIND", "STATE", "ATTEMPTS", "RUN_AT",
                "LAST_ERROR");
    for (const auto& j : kernel.jobs().list(state, limit))
      std::printf("%-8lld %-28s %-8s %d/%-7d %-20s %s\n", static_cast<long long>(j.id),
                  j.kind.c_str(), j.state.c_str(), j.attempts, j.maxAttempts,
                  malipo::isoTime(j.runAt).c_str(), j.lastError.c_str());
    return 0;
  }
  if (sub == "retry" && args.positional.size() > 2) {
    long long id = number("job id", args.positional[2], 1, INT64_MAX);
    if (!kernel.jobs().retry(id)) {
      std::cerr << "malipo: job " << id << " is not dead (or does not exist)\n";
      return 1;
    }
    std::cout << "job " << id << " queued again\n";
    return 0;
  }
  std::cerr << "malipo: usage: malipo jobs list|stats|retry ID [--config FILE]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "malipo: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "malipo: unexpected error\n";
  }
  return 1;
}
