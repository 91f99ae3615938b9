// The operator's HTTP API for payments: /admin/payments/... (Auth::admin; the acting
// operator is Request::userId, the admin token's name).
#include "malipo/money.hpp"
#include "payments/PaymentService.hpp"

namespace malipo {

void PaymentService::adminRoutes(Router& router) {
  RouteOptions admin{Auth::admin, "", 0, "", false};
  router.add(
      "GET", "/admin/payments",
      [this](const Request& req) {
        Poco::JSON::Array arr;
        int limit = 100;
        try {
          limit = std::max(1, std::min(1000, std::stoi(req.queryParam("limit", "100"))));
        } catch (...) {
        }
        // ?q=: a payment id, short reference or provider reference of any attempt.
        std::string q = req.queryParam("q");
        for (const auto& p : q.empty() ? list(req.queryParam("status"), limit)
                                       : PaymentRepository::search(store_, q))
          arr.add(toJson(p));
        return Response::json(200, Poco::JSON::Object().set("payments", arr));
      },
      admin);
  router.add(
      "GET", "/admin/payments/{id}",
      [this](const Request& req) {
        auto p = load(req.param("id"));
        if (!p.ok()) return Response::error(p.error(), req.requestId);
        Poco::JSON::Object o = toJson(p.value());
        Poco::JSON::Array timeline;
        for (const auto& e : events(p.value().id)) {
          Poco::JSON::Object ev;
          ev.set("kind", e.kind);
          ev.set("detail", e.detail);
          if (!e.providerEventId.empty()) ev.set("provider_event_id", e.providerEventId);
          ev.set("at", isoTime(e.createdAtMs));
          timeline.add(ev);
        }
        o.set("events", timeline);
        Poco::JSON::Array refundList;
        for (const auto& r : refunds(p.value().id)) refundList.add(refundJson(r));
        o.set("refunds", refundList);
        auto rep = PaymentRepository::reported(store_, p.value().id);
        if (!rep.resolution.empty()) o.set("resolution", rep.resolution);
        return Response::json(200, o);
      },
      admin);
  router.add(
      "POST", "/admin/payments/{id}/sync",
      [this](const Request& req) {
        auto p = sync(req.param("id"));
        if (!p.ok()) return Response::error(p.error(), req.requestId);
        return Response::json(200, toJson(p.value()));
      },
      admin);
  // Money operations (SDK 1.1): refunds, cancel, resolving held payments. The actor is the
  // admin token's name; a reason is required.
  auto bodyOf = [](const Request& req) -> Poco::JSON::Object::Ptr {
    if (req.body.empty()) return new Poco::JSON::Object;
    return parseJsonObject(req.body);
  };
  auto bad = [](const Request& req, const std::string& msg) {
    return Response::error(Error::make(ErrorCode::invalidInput, msg, msg), req.requestId);
  };
  auto actorOf = [](const Request& req) { return req.userId.value_or("admin"); };
  auto textOf = [](const Poco::JSON::Object::Ptr& o, const std::string& key) {
    try {
      return o->has(key) && !o->isNull(key) ? o->getValue<std::string>(key) : std::string();
    } catch (...) {
      return std::string("\x01");  // not a string: refused by the caller
    }
  };
  auto manualOf = [textOf](const Poco::JSON::Object::Ptr& o) -> std::optional<std::string> {
    if (!o->has("manual") || o->isNull("manual")) return std::string();
    auto m = o->getObject("manual");
    if (!m) return std::nullopt;
    std::string ref = textOf(m, "provider_reference");
    if (ref.empty() || ref == "\x01" || ref.size() > 200) return std::nullopt;
    return ref;
  };
  router.add(
      "POST", "/admin/payments/{id}/refunds",
      [=](const Request& req) {
        auto body = bodyOf(req);
        if (!body) return bad(req, "The body must be a JSON object.");
        auto p = load(req.param("id"));
        if (!p.ok()) return Response::error(p.error(), req.requestId);
        RefundAsk ask;
        ask.paymentId = p.value().id;
        ask.idempotencyKey = req.header("Idempotency-Key");
        ask.actor = actorOf(req);
        ask.reason = textOf(body, "reason");
        if (ask.reason == "\x01") return bad(req, "reason must be a string.");
        std::string amount = textOf(body, "amount");
        if (amount == "\x01")
          return bad(req, "amount must be a string in major units, e.g. \"500.00\".");
        if (!amount.empty()) {
          auto minor = parseMajor(amount, p.value().currency);
          if (!minor || *minor <= 0)
            return bad(req, "amount must be a positive amount in major units of " +
                                p.value().currency + ", e.g. \"500.00\".");
          ask.amountMinor = *minor;
        }
        if (body->has("force") && !body->isNull("force")) {
          if (body->get("force").type() != typeid(bool))
            return bad(req, "force must be true or false.");
          ask.force = body->getValue<bool>("force");
        }
        auto manual = manualOf(body);
        if (!manual) return bad(req, "manual.provider_reference must be a non-empty string.");
        ask.manualReference = *manual;
        auto r = requestRefund(ask);
        if (!r.ok()) return Response::error(r.error(), req.requestId);
        return Response::json(r.value().created ? 201 : 200, refundJson(r.value().refund));
      },
      admin);
  router.add(
      "GET", "/admin/payments/{id}/refunds",
      [this](const Request& req) {
        auto p = load(req.param("id"));
        if (!p.ok()) return Response::error(p.error(), req.requestId);
        Poco::JSON::Array arr;
        for (const auto& r : refunds(p.value().id)) arr.add(refundJson(r));
        Poco::JSON::Object o;
        o.set("payment_id", p.value().id);
        o.set("refunded_minor", p.value().refundedMinor);
        o.set("refunded", formatMajor(p.value().refundedMinor, p.value().currency));
        o.set("refunds", arr);
        return Response::json(200, o);
      },
      admin);
  router.add(
      "POST", "/admin/payments/{id}/cancel",
      [=](const Request& req) {
        auto body = bodyOf(req);
        if (!body) return bad(req, "The body must be a JSON object.");
        std::string reason = textOf(body, "reason");
        if (reason == "\x01") return bad(req, "reason must be a string.");
        auto p = cancel(req.param("id"), actorOf(req), reason);
        if (!p.ok()) return Response::error(p.error(), req.requestId);
        return Response::json(200, toJson(p.value()));
      },
      admin);
  router.add(
      "POST", "/admin/payments/{id}/resolve",
      [=](const Request& req) {
        auto body = bodyOf(req);
        if (!body) return bad(req, "The body must be a JSON object.");
        std::string action = textOf(body, "action"), reason = textOf(body, "reason");
        if (action == "\x01" || reason == "\x01") return bad(req, "action and reason are strings.");
        auto manual = manualOf(body);
        if (!manual) return bad(req, "manual.provider_reference must be a non-empty string.");
        auto p = resolve(req.param("id"), action, actorOf(req), reason, *manual);
        if (!p.ok()) return Response::error(p.error(), req.requestId);
        return Response::json(200, toJson(p.value()));
      },
      admin);
}

}  // namespace malipo
