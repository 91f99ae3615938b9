// Selcom's checkout API, simulated in-process for sandbox mode (mounted under /sandbox/<name>/).
//
// Wire endpoints (signed exactly like Selcom: a bad key or Digest is a 401 envelope):
//   POST   v1/checkout/create-order-minimal   POST v1/checkout/wallet-payment
//   GET    v1/checkout/order-status?order_id= DELETE v1/checkout/cancel-order?order_id=
//   (cancel-order: a PENDING order becomes CANCEL and can no longer be paid; a paid or
//   cancelled one answers resultcode 403 "no longer pending")
// Sandbox actions (unsigned: they stand for the customer's phone and the tester):
//   GET  pay/{order_id}   an HTML page with a form: the customer pays (works without JS)
//   POST pay/{order_id}   form or JSON: pay / decline / never pay; sends the signed webhook
//                         over real HTTP and returns the confirmation SMS the customer gets
//   POST script           misbehave on the next API calls (timeouts, refusals, early webhook)
//   GET  orders/{order_id} the simulator's view of an order (JSON)
// Orders live in the database (table selcom_sim_orders), so they survive a restart like a
// real provider's; scripts are per process.
// Thread-safety: handlers run concurrently; scripts are atomics, orders change by
// compare-and-set updates. Delayed webhooks run on threads that stop() wakes and joins.
#pragma once

#include <Poco/JSON/Object.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "malipo/host.hpp"
#include "malipo/http.hpp"
#include "selcom_wire.hpp"

namespace malipo::selcom::sim {

struct SimOptions {
  std::string name = "selcom";    // mount point /sandbox/<name>/
  std::string apiKey, apiSecret;  // what the plugin signs with
  int timeoutMs = 15000;          // the plugin's timeout: a scripted timeout exceeds it
};

class Simulator {
 public:
  Simulator(Host& host, SimOptions options);
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  void mount(Router& router);
  // Wakes and joins delayed-webhook threads; no webhook is sent after this.
  void stop();

 private:
  struct PayRequest {
    std::string outcome = "paid";        // paid | decline | never_paid
    std::optional<std::int64_t> amount;  // major units actually paid (wrong amount)
    std::string transid;                 // forced transaction id (reuse scenarios)
    int webhooks = 1;                    // 0: none, 2+: duplicates
    std::int64_t webhookDelayMs = 0;     // > 0: late, from a background thread
    bool misspelledResultcode = false;   // send "resulcode" like Selcom's sample
    bool afterCancel = false;            // pay a cancelled order (a payment already in flight)
  };
  struct Outcome {
    int status = 200;
    Poco::JSON::Object json;
  };
  struct Webhook {
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
  };

  Response createOrder(const Request& req);
  Response walletPayment(const Request& req);
  Response orderStatus(const Request& req);
  Response cancelOrder(const Request& req);
  Response payPage(const Request& req);
  Response pay(const Request& req);
  Response script(const Request& req);
  Response showOrder(const Request& req);

  // 401 envelope unless Authorization and Digest are right and every field is signed.
  std::optional<Response> refuse(const Request& req, const FieldSource& fields) const;
  Response envelope(int http, const std::string& code, const std::string& result,
                    const std::string& message, Poco::JSON::Array::Ptr data = nullptr);
  Outcome payOrder(const std::string& orderId, const PayRequest& pr);
  Webhook webhookFor(const std::string& orderId, bool misspelled);
  int deliver(const Webhook& w);
  void later(std::int64_t delayMs, std::function<void()> fn);
  std::string randomChars(const char* alphabet, std::size_t n);
  std::string freshTransid();
  std::string freshReference();
  Poco::JSON::Object orderJson(const std::string& orderId);
  void sleepPastTimeout();

  Host& host_;
  SimOptions o_;
  std::string base_;  // "/sandbox/<name>"

  std::atomic<int> createTimeouts_{0}, createFailures_{0}, statusTimeouts_{0}, pushTimeouts_{0},
      pushFailures_{0}, webhookBeforeReply_{0}, cancelTimeouts_{0}, cancelFailures_{0};

  std::mutex rngMutex_;
  std::mt19937_64 rng_;

  struct Task {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::mutex tasksMutex_;
  std::condition_variable tasksCv_;
  bool stopping_ = false;
  std::list<Task> tasks_;
};

}  // namespace malipo::selcom::sim
