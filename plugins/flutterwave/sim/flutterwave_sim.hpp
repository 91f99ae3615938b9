// The Flutterwave v3 simulator, mounted under /sandbox/flutterwave in sandbox mode only.
//
// It speaks the wire format the provider speaks to the real API (bearer secret key, the
// {status, message, data} envelope, major-unit amounts, the hosted checkout redirect with
// ?status&tx_ref&transaction_id, webhooks signed with verif-hash or flutterwave-signature, or
// in the legacy flat shape), so the sandbox exercises the real HTTP paths end to end.
//
//   POST /sandbox/flutterwave/v3/payments                              create a hosted link
//   GET  /sandbox/flutterwave/v3/transactions/{id}/verify              verify by id
//   GET  /sandbox/flutterwave/v3/transactions/verify_by_reference?tx_ref=
//   GET  /sandbox/flutterwave/checkout/{id}                            the hosted page (HTML form)
//   POST /sandbox/flutterwave/checkout/{id}                            pay (card_number) or cancel
//   POST /sandbox/flutterwave/v3/transactions/{id}/refund              refund (partial: amount)
//   GET  /sandbox/flutterwave/v3/refunds/{id}                          one refund
//   GET  /sandbox/flutterwave/v3/refunds?from&to&page&status&currency  the refund list
//   POST /sandbox/flutterwave/script                                   script the next/a given
//   order GET  /sandbox/flutterwave/calls                                    API calls answered so
//   far (tests)
//
// State (checkouts, transactions, scripts) lives in the database, like a real provider's
// would survive a restart of this process. Thread-safety: handlers run concurrently on HTTP
// threads; the only in-memory state is the set of late-webhook threads, under a mutex, and
// the call counters (atomics, per process: what a test counts to prove a page makes no fan-out).
// Lifetime: owned by the provider; stop() wakes and joins late-webhook threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "malipo/db.hpp"
#include "malipo/host.hpp"
#include "malipo/http.hpp"

namespace malipo::flutterwave {

struct SimulatorConfig {
  std::string secretKey;                   // the bearer key the API accepts
  std::string secretHash;                  // signs the webhooks it sends
  std::string webhookMode = "verif-hash";  // verif-hash | signature | legacy
  std::string webhookUrl;                  // empty: <public_url>/webhooks/flutterwave
};

// Test cards the hosted page knows (spaces and dashes are ignored when typed).
bool simCardSucceeds(const std::string& digits);
bool simCardDeclines(const std::string& digits);
// Flutterwave's fee for a successful local card charge (app_fee), in minor units.
std::int64_t simAppFeeMinor(std::int64_t amountMinor, const std::string& currency);

class Simulator {
 public:
  Simulator(Host& host, SimulatorConfig config);
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  void mount(Router& router);
  void stop();

 private:
  struct Script;
  Response createPayment(const Request& req);
  Response verifyById(const Request& req);
  Response verifyByReference(const Request& req);
  Response checkoutPage(const Request& req);
  Response checkoutSubmit(const Request& req);
  Response script(const Request& req);
  Response saveScript(const Request& req);
  Response calls(const Request& req);
  Response createRefund(const Request& req);
  Response fetchRefund(const Request& req);
  Response listRefunds(const Request& req);
  Poco::JSON::Object::Ptr refundData(const Rows& rows, std::size_t i) const;
  // Waits up to ms (less at shutdown): a scripted slow answer.
  void pause(std::int64_t ms);

  bool authorized(const Request& req) const;
  Script loadScript(const std::string& txRef);
  Response transactionReply(const Rows& rows);
  Poco::JSON::Object::Ptr transactionData(const Rows& rows, std::size_t i) const;
  Response renderCheckout(const Rows& checkout, int status, const std::string& error);
  void deliverWebhook(const std::string& transactionId, const Script& script);
  void sendWebhookNow(const std::string& transactionId, const std::string& mode);
  void sendLater(std::int64_t delayMs, std::function<void()> fn);
  std::string publicBase() const;

  Host& host_;
  SimulatorConfig cfg_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  struct Late {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::list<Late> late_;
  std::atomic<std::int64_t> createCalls_{0}, verifyByIdCalls_{0}, verifyByReferenceCalls_{0},
      refundCalls_{0};
};

}  // namespace malipo::flutterwave
