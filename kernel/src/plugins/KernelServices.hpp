// The kernel's services, as the plugin ABI lends them to every plugin (plugins/Abi.cpp).
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

}  // namespace malipo
