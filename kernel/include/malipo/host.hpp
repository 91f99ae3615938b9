// What the kernel lends a plugin.
//
// Ownership: every service here is owned by the kernel and outlives every plugin object.
// Lifetime: valid from the plugin's register call until its objects are destroyed at
// shutdown. Threading: every service is thread-safe.
#pragma once

#include <string>

#include "malipo/clock.hpp"
#include "malipo/db.hpp"
#include "malipo/http.hpp"
#include "malipo/http_client.hpp"
#include "malipo/jobs.hpp"
#include "malipo/log.hpp"
#include "malipo/metrics.hpp"
#include "malipo/pages.hpp"
#include "malipo/settings.hpp"

namespace malipo {

class Payments;  // payments.hpp

// Who the customer is dealing with (config `brand:`), for pages, messages and documents.
struct Brand {
  std::string name;          // business name, e.g. "CV Chap Chap"
  std::string supportPhone;  // shown wherever a page says "contact support"
  std::string supportEmail;
};

class Host {
 public:
  virtual ~Host() = default;
  virtual const Settings& settings() const = 0;  // this plugin's validated `settings:`
  virtual const std::string& pluginName() const = 0;
  virtual Router& router() = 0;
  virtual Database& db() = 0;
  virtual JobQueue& jobs() = 0;
  virtual HttpClient& http() = 0;
  virtual const Pages& pages() const = 0;
  virtual const Clock& clock() const = 0;
  virtual Logger& logger() = 0;
  virtual Metrics& metrics() = 0;
  virtual Payments& payments() = 0;
  // Absolute base URL clients and providers reach us at (server.public_url), no trailing '/'.
  virtual const std::string& publicUrl() const = 0;
  virtual bool sandbox() const = 0;
  virtual const Brand& brand() const = 0;
};

}  // namespace malipo
