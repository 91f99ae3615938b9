// The operator's HTTP API for payments: /admin/payments/... (Auth::admin; the acting
// operator is Request::userId, the admin token's name).
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
        for (const auto& p : list(req.queryParam("status"), limit)) arr.add(toJson(p));
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
}

}  // namespace malipo
