// malipo-conformance: a standard battery any payment provider plugin can be run against.
//
//   malipo-conformance --plugin LIBRARY [--name NAME] [--settings YAML] [--keep-going]
//
// It starts a kernel in this process (sandbox on, a scratch SQLite file, HTTP on loopback),
// loads the plugin with its simulator, adds a product of its own and drives the simulator
// through the provider's sandbox driver (PaymentProvider::sandboxPay / sandboxFault, SDK 1.1).
// Every check goes through real HTTP or the kernel's payments API, as a client and the
// provider would. It prints a table and exits 1 when a check fails (2 on a usage or start-up
// error). See docs/plugin-guide.md §9, "The conformance kit".
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/TemporaryFile.h>
#include <Poco/UUIDGenerator.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "app/Kernel.hpp"
#include "config/ConfigLoader.hpp"
#include "http/ClientAddress.hpp"

using namespace malipo;

namespace {

// The kit's product: it records deliveries so a check can count them.
class KitProduct final : public Product {
 public:
  std::string name() const override { return "conformance"; }
  JobOutcome onPaymentSettled(const Payment& p) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++delivered_[p.id];
    return JobOutcome::ok();
  }
  // One item for channel sales (a provider whose payments start from a menu, e.g. Hubtel's
  // USSD menu, sells it through its sandboxSale driver).
  void setCurrency(const std::string& c) { currency_ = c; }
  std::vector<CatalogItem> catalog(const std::string& channel) const override {
    if (channel != "ussd_menu" || currency_.empty()) return {};
    return {CatalogItem{"kit-item", "Conformance kit item", 150000, currency_}};
  }
  Result<std::string> prepareChannelSale(const CatalogItem&, const Customer&) override {
    return std::string("{}");
  }
  int deliveries(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = delivered_.find(id);
    return it == delivered_.end() ? 0 : it->second;
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> delivered_;
  std::string currency_;
};

struct HttpAnswer {
  int status = 0;
  std::string body;
};

// `source`: the loopback address to send from ("": the system's choice, 127.0.0.1).
HttpAnswer send(std::uint16_t port, const Request& r, const std::string& source = "") {
  Poco::Net::StreamSocket socket;
  if (!source.empty()) socket.impl()->bind(Poco::Net::SocketAddress(source, 0), false);
  socket.connect(Poco::Net::SocketAddress("127.0.0.1", port), Poco::Timespan(10, 0));
  Poco::Net::HTTPClientSession session(socket);
  session.setTimeout(Poco::Timespan(10, 0));
  Poco::Net::HTTPRequest req(r.method, r.path + (r.rawQuery.empty() ? "" : "?" + r.rawQuery),
                             Poco::Net::HTTPMessage::HTTP_1_1);
  req.setHost("127.0.0.1", port);  // a session made from a socket knows no host
  for (const auto& [name, value] : r.headers) req.set(name, value);
  req.setContentLength(static_cast<std::streamsize>(r.body.size()));
  session.sendRequest(req) << r.body;
  Poco::Net::HTTPResponse resp;
  std::istream& in = session.receiveResponse(resp);
  HttpAnswer a;
  a.status = static_cast<int>(resp.getStatus());
  Poco::StreamCopier::copyToString(in, a.body);
  return a;
}

bool eventually(const std::function<bool()>& f, int ms = 10000) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return f();
}

struct Row {
  std::string check, result, detail;
};

class Kit {
 public:
  Kit(Kernel& k, std::shared_ptr<PaymentProvider> provider, std::shared_ptr<KitProduct> product,
      std::string adminToken)
      : k_(k),
        p_(std::move(provider)),
        shop_(std::move(product)),
        adminToken_(std::move(adminToken)) {
    caps_ = p_->capabilities();
    currency_ = caps_.currencies.empty() ? "" : caps_.currencies[0];
    shop_->setCurrency(currency_);
  }

  void run() {
    check("capabilities", [&] {
      if (caps_.currencies.empty()) return fail("declares no currency");
      if (caps_.channels.empty()) return fail("declares no channel");
      return pass(join(caps_.currencies) + " / " + join(caps_.channels));
    });
    // SDK 1.1: a request that lacks what the provider declares it needs is refused before any
    // payment exists, naming the field (routing has no other provider to fall back on here).
    check("customer lacks a needed field -> 400 naming it, nothing stored", [&] {
      if (caps_.needs.empty()) return skip("the provider declares no needs");
      for (const std::string& field : caps_.needs) {
        CreatePayment cp = draft();
        if (field == "msisdn") cp.customer.phone.clear();
        if (field == "email") cp.customer.email.clear();
        if (field == "country") cp.customer.country.clear();
        std::int64_t before = payments();
        auto r = k_.payments().create(cp);
        if (r.ok()) return fail("created without " + field + ": " + r.value().id);
        if (r.error().code != ErrorCode::invalidInput)
          return fail("without " + field + ": " + std::to_string(httpStatus(r.error().code)) + " " +
                      r.error().external);
        if (r.error().external.find(field) == std::string::npos)
          return fail("without " + field + ", the message does not name it: " + r.error().external);
        if (payments() != before) return fail("a refused request left a payment row");
      }
      return pass("needs " + join(caps_.needs) + ": each refused with 400");
    });
    Payment paid;
    check("initiate -> pending", [&] {
      auto p = create();
      if (!p.ok()) return fail("create: " + p.error().internal);
      if (p.value().status != PaymentStatus::pending)
        return fail(std::string("status ") + statusName(p.value().status));
      auto q = k_.payments().sync(p.value().id);
      if (!q.ok()) return fail("query: " + q.error().internal);
      if (q.value().status != PaymentStatus::pending)
        return fail(std::string("an unpaid payment queried as ") + statusName(q.value().status));
      paid = p.value();
      return pass("query of an unpaid payment: pending");
    });
    SandboxResult first;
    check("paid -> succeeded, delivered once", [&] {
      if (paid.id.empty()) return fail("no payment (initiate failed)");
      auto r = p_->sandboxPay(paid, SandboxPayment{});
      if (!r.ok()) return fail("sandboxPay: " + r.error().internal);
      first = r.value();
      if (!settledTo(paid.id, PaymentStatus::succeeded))
        return fail("not succeeded: " + now(paid.id));
      if (!eventually([&] { return shop_->deliveries(paid.id) == 1; }))
        return fail("deliveries: " + std::to_string(shop_->deliveries(paid.id)));
      return pass("txn " + first.txnId);
    });
    check("bad signature -> 401, nothing stored", [&] {
      if (auto na = notApplicable(first, "bad_signature")) return *na;
      if (first.webhooks.empty()) return fail("the driver reported no webhook to replay");
      Request w = first.webhooks[0];
      if (w.body.empty()) return fail("empty webhook body");
      w.body[w.body.size() / 2] = w.body[w.body.size() / 2] == 'x' ? 'y' : 'x';
      std::int64_t before = events();
      auto a = send(k_.port(), w);
      if (a.status != 401) return fail("tampered body answered " + std::to_string(a.status));
      if (events() != before) return fail("a rejected webhook left an event");
      return pass("tampered body: 401");
    });
    check("missing signature -> 401, nothing stored", [&] {
      if (auto na = notApplicable(first, "missing_signature")) return *na;
      if (first.webhooks.empty()) return fail("the driver reported no webhook to replay");
      Request w = first.webhooks[0];
      w.headers.clear();
      w.headers["Content-Type"] = "application/json";
      std::int64_t before = events();
      auto a = send(k_.port(), w);
      if (a.status != 401) return fail("unsigned webhook answered " + std::to_string(a.status));
      if (events() != before) return fail("a rejected webhook left an event");
      return pass("unsigned: 401");
    });
    // SDK 1.1: the kernel's webhook models the provider declares (SKIP when it uses none).
    check("bad callback token -> 401, nothing stored", [&] {
      if (!caps_.webhookToken) return skip("the provider declares no callback token");
      if (first.webhooks.empty()) return fail("the driver reported no webhook to replay");
      Request w = first.webhooks[0];
      std::size_t t = w.rawQuery.find("t=");
      if (t == std::string::npos || t + 2 >= w.rawQuery.size())
        return fail("the driver's webhook did not come to the payment's callback URL (no token)");
      std::int64_t before = events();
      char& c = w.rawQuery[t + 2];
      c = c == 'a' ? 'b' : 'a';
      auto a = send(k_.port(), w);
      if (a.status != 401) return fail("a changed token answered " + std::to_string(a.status));
      w.rawQuery.clear();
      a = send(k_.port(), w);
      if (a.status != 401) return fail("no token answered " + std::to_string(a.status));
      if (events() != before) return fail("a rejected webhook left an event");
      return pass("changed and missing token: 401");
    });
    check("webhook from another address -> 403, nothing stored", [&] {
      if (caps_.webhookAllowedIps.empty()) return skip("the provider declares no allow-list");
      if (first.webhooks.empty()) return fail("the driver reported no webhook to replay");
      TrustedProxies allowed(caps_.webhookAllowedIps, "the provider's webhook allow-list");
      std::string source;
      for (int i = 2; i < 255 && source.empty(); ++i) {
        std::string ip = "127.0.0." + std::to_string(i);
        if (!allowed.contains(ip)) source = ip;
      }
      if (source.empty()) return skip("the allow-list admits all of 127.0.0.0/24");
      std::int64_t before = events();
      auto a = send(k_.port(), first.webhooks[0], source);
      if (a.status != 403) return fail("from " + source + " answered " + std::to_string(a.status));
      if (events() != before) return fail("a refused webhook left an event");
      return pass("from " + source + ": 403");
    });
    check("same webhook x100 -> one settlement", [&] {
      if (first.webhooks.empty()) return fail("the driver reported no webhook to replay");
      for (int i = 0; i < 100; ++i) {
        auto a = send(k_.port(), first.webhooks[0]);
        if (a.status >= 300)
          return fail("replay " + std::to_string(i) + " answered " + std::to_string(a.status));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      if (shop_->deliveries(paid.id) != 1)
        return fail("deliveries: " + std::to_string(shop_->deliveries(paid.id)));
      return pass("100 replays, 1 delivery");
    });
    check("declined -> failed", [&] {
      auto p = create();
      if (!p.ok()) return fail("create: " + p.error().internal);
      SandboxPayment how;
      how.outcome = "failed";
      auto r = p_->sandboxPay(p.value(), how);
      if (!r.ok()) return fail("sandboxPay: " + r.error().internal);
      if (!settledTo(p.value().id, PaymentStatus::failed)) return fail(now(p.value().id));
      return pass("");
    });
    check("amount mismatch -> held", [&] {
      auto p = create();
      if (!p.ok()) return fail("create: " + p.error().internal);
      SandboxPayment how;
      how.amountMinor = p.value().amountMinor - exponentUnit();
      return held(p.value(), how, "amount_mismatch", "paid one unit less");
    });
    check("currency mismatch -> held", [&] {
      auto p = create();
      if (!p.ok()) return fail("create: " + p.error().internal);
      SandboxPayment how;
      how.currency = currency_ == "USD" ? "EUR" : "USD";
      return held(p.value(), how, "currency_mismatch", "paid in " + how.currency);
    });
    check("reused transaction -> held", [&] {
      if (first.txnId.empty()) return fail("no first transaction");
      auto p = create();
      if (!p.ok()) return fail("create: " + p.error().internal);
      SandboxPayment how;
      how.txnId = first.txnId;
      return held(p.value(), how, "reused_txn", "txn " + first.txnId + " again");
    });
    refunds(paid);
    check("initiate timeout -> unknown -> janitor resolves", [&] {
      auto f = p_->sandboxFault("initiate_timeout", 1);
      // A provider whose initiate() calls no API says so ("not applicable: …").
      if (!f.ok() && f.error().internal.rfind("not applicable", 0) == 0)
        return skip(f.error().internal.substr(
            std::min<std::size_t>(f.error().internal.size(), f.error().internal.find(':') + 2)));
      if (!f.ok()) return fail("sandboxFault: " + f.error().internal);
      auto p = create();
      std::string id;
      if (p.ok()) {
        id = p.value().id;
      } else if (p.error().code == ErrorCode::providerTimeout) {
        auto rows = k_.store().query(
            "SELECT id FROM payments WHERE product = 'conformance' AND order_ref = ?",
            {"kit-" + std::to_string(seq_)});
        if (rows.empty()) return fail("a timed-out initiate left no payment");
        id = rows.str(0, "id");
      } else {
        return fail("create answered " + std::string(errorCodeName(p.error().code)) +
                    " (a timeout must be provider_timeout)");
      }
      if (now(id) != "unknown") return fail("after a timeout: " + now(id));
      // The janitor asks the provider about unknown payments that are due.
      k_.store().write(
          [&](Tx& tx) { tx.exec("UPDATE payments SET next_check_at = 0 WHERE id = ?", {id}); });
      if (!eventually([&] {
            k_.payments().runJanitor();
            auto g = k_.payments().get(id);
            return g.ok() && g.value().status != PaymentStatus::unknown;
          }))
        return fail("still " + now(id));
      return pass("resolved to " + now(id));
    });
    olderAttemptPaid();
  }

  int report() const {
    std::size_t w = 0;
    for (const auto& r : rows_) w = std::max(w, r.check.size());
    int failed = 0, skipped = 0;
    std::cout << "conformance: provider '" << p_->name() << "'\n";
    for (const auto& r : rows_) {
      if (r.result == "FAIL") ++failed;
      if (r.result == "SKIP") ++skipped;
      std::cout << "  " << r.check << std::string(w - r.check.size() + 2, ' ') << r.result
                << (r.detail.empty() ? "" : "  " + r.detail) << "\n";
    }
    std::cout << (failed ? "conformance: " + std::to_string(failed) + " check(s) failed\n"
                         : "conformance: every check passed" +
                               (skipped ? " (" + std::to_string(skipped) +
                                              " not applicable to this provider: SKIP)\n"
                                        : std::string("\n")));
    return failed ? 1 : 0;
  }

 private:
  // PASS, FAIL, or SKIP: a check the provider's driver declares not applicable to it
  // (SandboxResult::notApplicable), with its reason.
  using Outcome = std::pair<std::string, std::string>;
  static Outcome pass(const std::string& d) { return {"PASS", d}; }
  static Outcome fail(const std::string& d) { return {"FAIL", d}; }
  static Outcome skip(const std::string& d) { return {"SKIP", "not applicable: " + d}; }
  static std::optional<Outcome> notApplicable(const SandboxResult& r, const std::string& key) {
    auto it = r.notApplicable.find(key);
    if (it == r.notApplicable.end()) return std::nullopt;
    return skip(it->second.empty() ? "(no reason given)" : it->second);
  }
  // Refunds, when the provider declares them, through the operator's API as an operator
  // would ask (SDK 1.1): a partial refund (when partial ones are declared) asked twice with one
  // Idempotency-Key is one refund; more than what is left is refused (422); the rest refunds
  // the whole payment.
  void refunds(const Payment& paid) {
    if (caps_.refunds == RefundSupport::none) {
      rows_.push_back({"refunds", "SKIP", "not declared (operators record manual refunds)"});
      return;
    }
    std::int64_t first = caps_.refunds == RefundSupport::partial ? paid.amountMinor / 3 : 0;
    if (first > 0) {
      check("partial refund, same key twice -> one refund", [&] {
        if (paid.id.empty()) return fail("no settled payment");
        auto a = refund(paid, first, "kit-refund-1");
        auto b = refund(paid, first, "kit-refund-1");
        if (a.status != 201)
          return fail("first ask answered " + std::to_string(a.status) + " " + a.body);
        if (b.status != 200 && b.status != 201)
          return fail("second ask answered " + std::to_string(b.status));
        if (field(a.body, "id") != field(b.body, "id")) return fail("two refunds for one key");
        if (!refundSettles(paid.id, field(a.body, "id")))
          return fail("refund not succeeded: " + refundState(paid.id, field(a.body, "id")));
        return pass(formatMajor(first, paid.currency) + " " + paid.currency + " refunded once");
      });
    }
    check("refund above what is left -> 422", [&] {
      if (paid.id.empty()) return fail("no settled payment");
      auto a = refund(paid, paid.amountMinor - first + 1, "kit-refund-too-much");
      if (a.status != 422) return fail("answered " + std::to_string(a.status) + " " + a.body);
      return pass("");
    });
    check("refund of the rest -> refunded in full", [&] {
      if (paid.id.empty()) return fail("no settled payment");
      auto a = refund(paid, paid.amountMinor - first, "kit-refund-2");
      if (a.status != 201) return fail("answered " + std::to_string(a.status) + " " + a.body);
      if (!refundSettles(paid.id, field(a.body, "id")))
        return fail("refund not succeeded: " + refundState(paid.id, field(a.body, "id")));
      auto g = k_.payments().get(paid.id);
      if (!g.ok() || g.value().refundedMinor != paid.amountMinor)
        return fail("refunded " + std::to_string(g.ok() ? g.value().refundedMinor : -1) + " of " +
                    std::to_string(paid.amountMinor));
      return pass("");
    });
  }
  // Attempts (SDK 1.1): the customer is prompted twice and pays the older prompt. The payment
  // settles once, through that attempt; the newer one is closed. SKIP for a provider whose
  // re-prompt keeps its reference (one attempt) or that has no re-prompt.
  void olderAttemptPaid() {
    check("older attempt paid -> settles once", [&] {
      auto p = create();
      if (!p.ok()) return fail("create: " + p.error().internal);
      const std::string id = p.value().id;
      auto push = k_.payments().requestPush(id, "255712345678");
      if (!push.ok()) return skip("no re-prompt (" + push.error().internal + ")");
      auto before = k_.payments().attempts(id);
      if (before.size() < 2) return skip("a re-prompt keeps the provider's reference");
      Payment older = p.value();
      older.attempt = before.front().number;
      older.providerRef = before.front().providerRef;
      auto r = p_->sandboxPay(older, SandboxPayment{});
      if (!r.ok()) return fail("sandboxPay of attempt 1: " + r.error().internal);
      if (!settledTo(id, PaymentStatus::succeeded)) return fail("not succeeded: " + now(id));
      if (!eventually([&] { return shop_->deliveries(id) == 1; }))
        return fail("deliveries: " + std::to_string(shop_->deliveries(id)));
      auto after = k_.payments().attempts(id);
      if (after.size() < 2 || !after[0].settled || after[1].state != "closed")
        return fail("attempts: 1 " + (after.empty() ? "?" : after[0].state) + ", 2 " +
                    (after.size() < 2 ? "?" : after[1].state));
      return pass("attempt 1 of 2 paid: settled once, attempt 2 closed");
    });
  }
  HttpAnswer refund(const Payment& p, std::int64_t amountMinor, const std::string& key) {
    Request r;
    r.method = "POST";
    r.path = "/admin/payments/" + p.id + "/refunds";
    r.headers["Authorization"] = "Bearer " + adminToken_;
    r.headers["Content-Type"] = "application/json";
    r.headers["Idempotency-Key"] = key;
    r.body = "{\"amount\": \"" + formatMajor(amountMinor, p.currency) +
             "\", \"reason\": \"conformance kit\"}";
    return send(k_.port(), r);
  }
  static std::string field(const std::string& json, const std::string& key) {
    auto o = parseJsonObject(json);
    return o ? o->optValue<std::string>(key, "") : "";
  }
  std::string refundState(const std::string& paymentId, const std::string& refundId) {
    Request r;
    r.method = "GET";
    r.path = "/admin/payments/" + paymentId + "/refunds";
    r.headers["Authorization"] = "Bearer " + adminToken_;
    auto o = parseJsonObject(send(k_.port(), r).body);
    if (!o || !o->getArray("refunds")) return "missing";
    auto a = o->getArray("refunds");
    for (std::size_t i = 0; i < a->size(); ++i) {
      auto x = a->getObject(static_cast<unsigned>(i));
      if (x && x->optValue<std::string>("id", "") == refundId)
        return x->optValue<std::string>("status", "");
    }
    return "missing";
  }
  bool refundSettles(const std::string& paymentId, const std::string& refundId) {
    return eventually([&] {
      k_.payments().runJanitor();
      return refundState(paymentId, refundId) == "succeeded";
    });
  }

  void check(const std::string& name, const std::function<Outcome()>& f) {
    Outcome o;
    try {
      o = f();
    } catch (const std::exception& e) {
      o = fail(std::string("threw: ") + e.what());
    }
    rows_.push_back({name, o.first, o.second});
  }
  static std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
    return s;
  }
  std::int64_t exponentUnit() const { return 100; }
  // A payment request with every customer field a provider may need (SDK 1.1 needs).
  CreatePayment draft() {
    CreatePayment cp;
    cp.product = "conformance";
    cp.orderRef = "kit-" + std::to_string(++seq_);
    cp.amountMinor = 150000;
    cp.currency = currency_;
    cp.providers = {p_->name()};
    cp.customer.phone = "255712345678";
    cp.customer.email = "kit@example.com";
    cp.customer.name = "Conformance Kit";
    // The country whose currency the payment is in (a provider may check they agree).
    static const std::map<std::string, std::string> kCountry{
        {"TZS", "TZ"}, {"KES", "KE"}, {"UGX", "UG"}, {"GHS", "GH"}, {"NGN", "NG"},
        {"RWF", "RW"}, {"ZMW", "ZM"}, {"XOF", "SN"}, {"ZAR", "ZA"}, {"USD", "US"}};
    auto c = kCountry.find(currency_);
    cp.customer.country = c == kCountry.end() ? "TZ" : c->second;
    return cp;
  }
  Result<Payment> create() {
    CreatePayment cp = draft();
    // SDK 1.1: a provider whose payments start from its own channel (Hubtel's USSD menu)
    // starts one as a customer would; notFound: it has no such driver, payments start here.
    auto sale = p_->sandboxSale(cp);
    if (sale.ok() || sale.error().code != ErrorCode::notFound) return sale;
    return k_.payments().create(cp);
  }
  bool settledTo(const std::string& id, PaymentStatus want) {
    return eventually([&] {
      auto g = k_.payments().get(id);
      return g.ok() && g.value().status == want;
    });
  }
  std::string now(const std::string& id) {
    auto g = k_.payments().get(id);
    return g.ok() ? statusName(g.value().status) : "missing";
  }
  std::int64_t events() {
    return k_.store().query("SELECT COUNT(*) AS n FROM payment_events").i64(0, "n");
  }
  std::int64_t payments() {
    return k_.store().query("SELECT COUNT(*) AS n FROM payments").i64(0, "n");
  }
  Outcome held(const Payment& p, const SandboxPayment& how, const std::string& key,
               const std::string& what) {
    auto r = p_->sandboxPay(p, how);
    if (!r.ok()) return fail("sandboxPay: " + r.error().internal);
    if (auto na = notApplicable(r.value(), key)) return *na;
    if (!settledTo(p.id, PaymentStatus::held)) return fail(what + ": " + now(p.id));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (shop_->deliveries(p.id) != 0) return fail(what + ": delivered");
    return pass(what + ": held, not delivered");
  }

  Kernel& k_;
  std::shared_ptr<PaymentProvider> p_;
  std::shared_ptr<KitProduct> shop_;
  std::string adminToken_;
  Capabilities caps_;
  std::string currency_;
  int seq_ = 0;
  std::vector<Row> rows_;
};

int usage() {
  std::cerr << "usage: malipo-conformance --plugin LIBRARY [--name NAME] [--settings YAML]\n"
               "  LIBRARY   the provider plugin (libmalipo_NAME.so)\n"
               "  NAME      the plugin's name (default: from libmalipo_NAME.so)\n"
               "  YAML      its settings as a YAML flow mapping, e.g. '{api_key: k}'\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string library, name, settings;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--plugin" || a == "--name" || a == "--settings") && i + 1 < argc) {
      (a == "--plugin" ? library : a == "--name" ? name : settings) = argv[++i];
    } else {
      return usage();
    }
  }
  if (library.empty()) return usage();
  if (name.empty()) {
    std::string file = library.substr(library.find_last_of('/') + 1);
    if (file.rfind("libmalipo_", 0) == 0 && file.size() > 13 &&
        file.compare(file.size() - 3, 3, ".so") == 0)
      name = file.substr(10, file.size() - 13);
    if (name.empty()) return usage();
  }
  Poco::TemporaryFile db;
  // The kit's own operator token, random per run.
  std::string adminToken =
      "kit-" + Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
  std::string yaml =
      // The kit replays webhooks from loopback faster than any provider would: no rate limit
      // is what it tests.
      "server: {listen: \"127.0.0.1:0\", access_log: false, rate_limits: {default: "
      "{requests_per_minute: 1000000, burst: 100000}, buckets: {webhooks: {requests_per_minute: "
      "1000000, burst: 100000}}}}\n"
      "database: {url: \"sqlite:" +
      db.path() +
      "\"}\n"
      "auth: {jwt_secret: conformance-kit-secret-0123456789abcdef}\n"
      "admin: {tokens: {conformance: {token: " +
      adminToken +
      "}}}\n"
      "jobs: {workers: 2, poll_interval_ms: 20}\n"
      "log: {level: error}\n"
      "sandbox: true\n"
      "plugins:\n"
      "  - name: " +
      name + "\n    library: \"" + library + "\"\n" +
      (settings.empty() ? "" : "    settings: " + settings + "\n");
  try {
    Kernel k(ConfigLoader::loadString(yaml, "conformance.yaml"));
    k.open();
    std::shared_ptr<PaymentProvider> provider;
    for (auto& p : k.plugins().plugins())
      for (auto& o : p.providers)
        if (o->name() == name) provider = o;
    if (!provider) {
      std::cerr << "malipo-conformance: the plugin registers no provider named '" << name << "'\n";
      return 2;
    }
    auto product = std::make_shared<KitProduct>();
    k.payments().addProduct(product);
    k.start();
    Kit kit(k, provider, product, adminToken);
    kit.run();
    int rc = kit.report();
    k.shutdown();
    return rc;
  } catch (const std::exception& e) {
    std::cerr << "malipo-conformance: " << e.what() << "\n";
    return 2;
  }
}
