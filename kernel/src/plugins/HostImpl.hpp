// One Host per plugin: the kernel's services plus this plugin's settings and name.
#pragma once

#include "malipo/host.hpp"

namespace malipo {

struct KernelServices {
  Router* router = nullptr;
  Database* db = nullptr;
  JobQueue* jobs = nullptr;
  HttpClient* http = nullptr;
  const Pages* pages = nullptr;
  const Clock* clock = nullptr;
  Logger* logger = nullptr;
  Metrics* metrics = nullptr;
  Payments* payments = nullptr;
  std::string publicUrl;
  bool sandbox = false;
  Brand brand;
};

class HostImpl final : public Host {
 public:
  HostImpl(KernelServices& k, std::string name, Settings settings)
      : k_(k), name_(std::move(name)), settings_(std::move(settings)) {}
  const Settings& settings() const override { return settings_; }
  const std::string& pluginName() const override { return name_; }
  Router& router() override { return *k_.router; }
  Database& db() override { return *k_.db; }
  JobQueue& jobs() override { return *k_.jobs; }
  HttpClient& http() override { return *k_.http; }
  const Pages& pages() const override { return *k_.pages; }
  const Clock& clock() const override { return *k_.clock; }
  Logger& logger() override { return *k_.logger; }
  Metrics& metrics() override { return *k_.metrics; }
  Payments& payments() override;
  const std::string& publicUrl() const override { return k_.publicUrl; }
  bool sandbox() const override { return k_.sandbox; }
  const Brand& brand() const override { return k_.brand; }

 private:
  KernelServices& k_;
  std::string name_;
  Settings settings_;
};

}  // namespace malipo
