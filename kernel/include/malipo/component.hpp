// Components and registration: what a plugin adds to the kernel.
//
// Ownership and lifetime: objects a plugin registers are owned by the kernel (through
// shared_ptr on the plugin's side of the ABI) and destroyed at shutdown after HTTP stopped and
// the job queue drained; the library itself stays loaded until the process ends, so code and
// callbacks created by the plugin stay valid as long as anything may call them.
// Threading: the register function and Component::start/stop run on the main thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "malipo/db.hpp"
#include "malipo/host.hpp"
#include "malipo/settings.hpp"

namespace malipo {

class PaymentProvider;  // provider.hpp
class Product;          // product.hpp

// Anything a plugin adds that has a schema, a start and a stop.
class Component {
 public:
  virtual ~Component() = default;
  virtual std::vector<Migration> migrations() const { return {}; }
  // After migrations ran: add routes, job handlers, periodic jobs. May throw: start-up stops
  // with the plugin's name and the message.
  virtual void start() {}
  // At shutdown, after HTTP stopped and the job queue drained, before destruction.
  virtual void stop() {}
};

class Registrar {
 public:
  virtual ~Registrar() = default;
  virtual Host& host() = 0;
  virtual void addComponent(std::shared_ptr<Component> component) = 0;
  // Registered under the plugin's name (one provider per plugin).
  virtual void addProvider(std::shared_ptr<PaymentProvider> provider) = 0;
  virtual void addProduct(std::shared_ptr<Product> product) = 0;
};

}  // namespace malipo
