// The kernel: builds every subsystem from the config and runs the start-up and shutdown
// order. Start: store → kernel migrations → plugins loaded and registered → plugin
// migrations → plugins started → kernel routes → HTTP → jobs.
// Shutdown: HTTP (in-flight requests finish) → jobs drained → plugins stopped → destroyed.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "app/KernelLogger.hpp"
#include "config/ConfigLoader.hpp"
#include "config/KernelSettings.hpp"
#include "console/Console.hpp"
#include "http/HttpClientImpl.hpp"
#include "http/HttpServer.hpp"
#include "http/Idempotency.hpp"
#include "http/MetricsRegistry.hpp"
#include "http/PagesImpl.hpp"
#include "http/RouterImpl.hpp"
#include "jobs/JobQueueImpl.hpp"
#include "payments/PaymentService.hpp"
#include "plugins/KernelServices.hpp"
#include "plugins/PluginManager.hpp"
#include "store/Store.hpp"

namespace malipo {

class Kernel {
 public:
  explicit Kernel(Config config, const Clock* clock = nullptr);
  ~Kernel();

  // Opens the database, loads and registers plugins, applies every migration.
  void open();
  // Starts plugins, HTTP and the job workers. With `serve` false it stops before the network
  // (check-config: everything serve would refuse is found, nothing listens, no job runs).
  void start(bool serve = true);
  void shutdown();

  std::uint16_t port() const { return http_ ? http_->port() : 0; }
  // SIGHUP: reloads the TLS certificate and key (server.tls); logs what happened.
  void reload();
  Store& store() { return *store_; }
  JobQueueImpl& jobs() { return *jobs_; }
  PaymentService& payments() { return *payments_; }
  RouterImpl& router() { return router_; }
  MetricsRegistry& metrics() { return metrics_; }
  PluginManager& plugins() { return plugins_; }
  KernelLogger& logger() { return logger_; }
  const Config& config() const { return config_; }
  bool ready() const { return started_; }
  // After shutdown(): a request handler outlived server.shutdown_grace_ms or a job handler
  // jobs.shutdown_grace_ms (its job went back to the queue). Its thread still runs plugin
  // code, so plugins were not destroyed and the process should end without running
  // destructors (main uses _Exit).
  bool handlersStuck() const { return handlersStuck_; }

 private:
  void addKernelRoutes();
  Response index();  // GET /: the sandbox page of flows, or a short JSON about the service
  HttpOptions httpOptions() const;
  void configurePages();

  Config config_;
  KernelSettings settings_;  // config_.root as typed structs
  SystemClock systemClock_;
  const Clock* clock_;
  KernelLogger logger_;
  MetricsRegistry metrics_;
  RouterImpl router_;
  std::once_flag openApiOnce_;
  std::string openApi_;  // GET /openapi.json, built at its first request
  PagesImpl pages_;
  std::string logo_, logoType_;  // brand.logo, served at /brand/logo
  std::unique_ptr<HttpClientImpl> httpClient_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<JobQueueImpl> jobs_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<PaymentService> payments_;
  std::unique_ptr<Idempotency> idempotency_;
  std::unique_ptr<Console> console_;  // /console/, when an admin token is configured
  KernelServices services_;
  PluginManager plugins_;
  bool started_ = false, shutDown_ = false, pluginsStarted_ = false, handlersStuck_ = false;
};

}  // namespace malipo
