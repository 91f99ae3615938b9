// The Hubtel simulator, mounted under /sandbox/hubtel in sandbox mode only. It plays Hubtel
// (and the customer's phone) against our own interaction route over real HTTP, in Hubtel's
// wire format, so a fresh checkout runs USSD flows end to end with no Hubtel account:
//
//   GET  /sandbox/hubtel/phone                     a USSD phone in the browser (plain HTML form)
//   POST /sandbox/hubtel/phone                     the form: dial, answer, approve/decline, hang up
//   POST /sandbox/hubtel/driver/dial               {mobile, code?, operator?} → Initiation
//   POST /sandbox/hubtel/driver/answer             {session_id, text, client_state?} → Response
//   POST /sandbox/hubtel/driver/timeout            {session_id} → Timeout
//   POST /sandbox/hubtel/driver/pay                {session_id, outcome: paid|declined,
//                                                   fulfilment: once|twice|never, amount?,
//                                                   fee_bearer: merchant|customer?}
//   POST /sandbox/hubtel/driver/fulfil             {session_id}: (re)send the fulfilment now
//   POST /sandbox/hubtel/driver/script             {callback_failures: n}: the next n callbacks get
//   500 GET  /sandbox/hubtel/driver/callbacks          ?session_id=: callbacks received GET
//   /sandbox/hubtel/driver/sessions/{id}      what the phone shows POST /sandbox/hubtel/callback
//   the fulfilment callback endpoint (Hubtel's) GET  /sandbox/hubtel/transactions/{pos}/status
//   ?clientReference= | hubtelTransactionId= |
//                                                   networkTransactionId=: the status check API
//                                                   (Basic auth; 403 unless the caller's address
//                                                   is in simulator.status_allowed_ips)
//
// State lives in the database (hubtel_sim_* tables), like a real provider's would survive a
// restart. Thread-safety: handlers run concurrently on HTTP threads and share no memory.
#pragma once

#include <Poco/JSON/Object.h>

#include <atomic>
#include <string>
#include <vector>

#include "malipo/host.hpp"
#include "malipo/http.hpp"
#include "malipo/provider.hpp"
#include "malipo/result.hpp"

namespace malipo::hubtel {

class HubtelProvider;

class Simulator {
 public:
  Simulator(Host& host, const HubtelProvider& provider);
  void mount(Router& router);
  void stop() {}

  // The sandbox driver (PaymentProvider::sandboxPay / sandboxFault, SDK 1.1), for a payment
  // made by the menu's checkout (its order_ref is the SessionId): the customer pays or
  // declines the cart with the amount and transaction id given, and the fulfilment Hubtel
  // then posts to the interaction route is sent and returned.
  Result<SandboxResult> drive(const Payment& payment, const SandboxPayment& how);
  // "query_failure": the next count status checks answer 500. "initiate_timeout" cannot
  // happen: initiate() calls no Hubtel API (the checkout is our AddToCart reply).
  Status fault(const std::string& kind, int count);
  // The channel-sale driver (PaymentProvider::sandboxSale, SDK 1.1): a customer dials, picks
  // the ussd_menu item of draft.product priced draft.amountMinor, buys one and confirms, as on
  // a phone; returns the id of the payment the checkout made.
  Result<std::string> sale(const CreatePayment& draft);

 private:
  struct Sent {
    int httpStatus = 0;
    std::string raw;                // the reply body as our route sent it
    Poco::JSON::Object::Ptr reply;  // parsed, null when not JSON
  };
  Result<std::string> dial(const std::string& mobile, const std::string& code,
                           const std::string& operatorName, Sent& sent);
  Result<Sent> answer(const std::string& sessionId, const std::string& text,
                      const std::string* clientState);
  Result<Sent> timeout(const std::string& sessionId);
  Result<Sent> interact(const std::string& sessionId, const std::string& type,
                        const std::string& message, const std::string* clientState);
  // feeBearer: "merchant" or "customer" (who pays Hubtel's fee); empty: simulator.fee_bearer.
  // txnId: Hubtel's transaction id to report (empty: a new one).
  Result<Poco::JSON::Object::Ptr> pay(const std::string& sessionId, const std::string& outcome,
                                      int fulfilments, const std::string& amount,
                                      const std::string& feeBearer, const std::string& txnId = "",
                                      std::vector<OutboundRequest>* sent = nullptr);
  int sendFulfilment(const std::string& sessionId, std::vector<OutboundRequest>* sent = nullptr);

  Response phonePage(const Request& req);
  Response phoneSubmit(const Request& req);
  Response renderPhone(const Poco::JSON::Object& data);
  Response driverDial(const Request& req);
  Response driverAnswer(const Request& req);
  Response driverTimeout(const Request& req);
  Response driverPay(const Request& req);
  Response driverFulfil(const Request& req);
  // Marks a paid transaction Refunded, as a refund from Hubtel's dashboard would.
  Response driverRefund(const Request& req);
  Response driverScript(const Request& req);
  Response driverCallbacks(const Request& req);
  Response driverSession(const Request& req);
  Response callback(const Request& req);
  Response statusCheck(const Request& req);

  Host& host_;
  const HubtelProvider& provider_;
  std::atomic<int> statusFailures_{0};
};

}  // namespace malipo::hubtel
