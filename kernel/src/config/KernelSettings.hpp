// The kernel's settings as typed structs, each key declared once (KernelSettings.cpp): the
// declaration yields ConfigLoader::kernelSchema() and KernelSettings::load(). A default is
// the member's initializer, here or in the subsystem's options struct (HttpOptions,
// JobQueueOptions, PaymentOptions).
#pragma once

#include <cstdint>
#include <string>

#include "console/ConsoleOptions.hpp"
#include "http/HttpServer.hpp"
#include "jobs/JobQueueImpl.hpp"
#include "malipo/host.hpp"
#include "malipo/settings_decl.hpp"
#include "payments/PaymentService.hpp"

namespace malipo {

// server.* (and auth.*, admin.token, which the HTTP server checks).
struct ServerSettings : HttpOptions {
  std::string publicUrl;  // empty: http://<listen address>:<bound port>
  std::int64_t shutdownGraceMs = 10000;
};

struct DatabaseSettings {
  std::string url = "sqlite:var/malipo.db";
  int poolSize = 8;
  int busyTimeoutMs = 5000;
};

struct JobsSettings : JobQueueOptions {
  std::int64_t shutdownGraceMs = 30000;
};

struct LogSettings {
  std::string level = "info";
  std::string format = "text";
};

// brand.*: who customers deal with, and how the pages look.
struct BrandSettings : Brand {
  BrandSettings() : Brand{"Malipo", "", ""} {}
  std::string logo;  // image file served at /brand/logo (empty: none)
  std::string primaryColor = "#1a56db";
  std::string headerColor = "#ffffff";
};

// pages.*: languages of the customer pages, catalogs, framing.
struct PageSettings {
  std::string defaultLanguage = "en";
  std::string messagesDir;
  std::vector<std::string> frameAncestors;
  std::vector<std::string> frameablePaths;
  std::string referrerPolicy = "same-origin";
};

struct KernelSettings {
  ServerSettings server;
  DatabaseSettings database;
  BrandSettings brand;
  PageSettings pages;
  JobsSettings jobs;
  PaymentOptions payments;
  LogSettings log;
  ConsoleOptions console;
  bool sandbox = false;

  // Every kernel key (plugins[] entries included, their `settings` passed through).
  static const Decl<KernelSettings>& decl();
  // From the root validated against decl().schema().
  static KernelSettings load(const Settings& root) { return decl().load(root); }
};

}  // namespace malipo
