// GET /openapi.json: an OpenAPI 3.1 description of every API route the router holds (kernel,
// payment core, provider and product routes, sandbox simulators when they are mounted; not
// the console's HTML pages, `documented`),
// built at start-up from what the router knows of each route (method, pattern, auth, name,
// body cap, rate-limit bucket, idempotency) plus the kernel's own descriptions below.
// Plugin routes carry no description in the SPI: they get their name and pattern.
#pragma once

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <map>
#include <string>
#include <vector>

#include "http/RouterImpl.hpp"

namespace malipo::openapi {

// The version of the document's own shape (info.version), raised when it changes.
inline constexpr const char* kDocumentVersion = "1.0.0";

struct QueryParam {
  const char* name;
  const char* description;
};

struct KernelRouteDoc {
  const char* summary;
  const char* description;
  const char* okStatus;  // the success answer
  const char* okDescription;
  std::vector<QueryParam> query;
};

// Whether the document lists a route: every API route, but not the operator console's HTML
// pages and forms (/console, /console/…, docs/console.md), which are for a browser, not for a
// client generated from this document.
inline bool documented(const Route& r) {
  return r.pattern != "/console" && r.pattern.rfind("/console/", 0) != 0;
}

// The kernel's own routes ("METHOD pattern" → description). The test checks that the
// document lists exactly the router's routes, so a kernel route added without an entry here
// is still described (by its pattern), and one removed from the router leaves the document.
inline const std::map<std::string, KernelRouteDoc>& kernelRouteDocs() {
  static const std::map<std::string, KernelRouteDoc> docs{
      {"GET /",
       {"Service index",
        "In sandbox mode an HTML page linking every flow the loaded plugins offer; otherwise a "
        "short JSON "
        "object naming the service and where its API description is.",
        "200",
        "The index (text/html in sandbox, application/json otherwise)",
        {}}},
      {"GET /healthz",
       {"Liveness", "Always 200 while the process serves HTTP.", "200", "{\"status\":\"ok\"}", {}}},
      {"GET /readyz",
       {"Readiness",
        "200 once the database answers and the plugins started; 503 otherwise.",
        "200",
        "{\"database\":\"ok\",\"plugins\":\"started\",\"status\":\"ready\"}",
        {}}},
      {"GET /metrics",
       {"Prometheus metrics",
        "The process's metrics in the Prometheus text format (docs/operations.md).",
        "200",
        "text/plain; version=0.0.4",
        {}}},
      {"GET /openapi.json",
       {"This document", "The OpenAPI 3.1 description of every route.", "200", "OpenAPI 3.1", {}}},
      {"GET /admin/jobs",
       {"List jobs",
        "Jobs newest first.",
        "200",
        "{\"jobs\": [...]}",
        {{"state", "queued, running, done or dead (empty: all)"},
         {"limit", "1-1000, default 100"}}}},
      {"GET /admin/jobs/stats",
       {"Job counts by state",
        "",
        "200",
        "{\"queued\":0,\"running\":0,\"done\":0,\"dead\":0}",
        {}}},
      {"POST /admin/jobs/{id}/retry",
       {"Retry a dead job",
        "Puts a dead job back in the queue with its attempts reset; 409 if it is not dead.",
        "200",
        "{\"retried\": ID}",
        {}}},
      {"GET /admin/plugins",
       {"Loaded plugins",
        "Name, version, SPI version and library of each plugin.",
        "200",
        "{\"plugins\": [...]}",
        {}}},
      {"POST /webhooks/{provider}",
       {"Webhook inbox",
        "A provider's payment notification. Verified by the provider's plugin (signature, "
        "allow-list); events are "
        "recorded once and applied to their payment after re-verification with the provider.",
        "200",
        "Accepted (duplicates too)",
        {}}},
      {"GET /admin/payments",
       {"List payments",
        "Payments newest first.",
        "200",
        "{\"payments\": [...]}",
        {{"status", "a payment status (empty: all)"}, {"limit", "1-1000"}}}},
      {"GET /admin/payments/{id}",
       {"A payment and its events", "", "200", "The payment and its event timeline", {}}},
      {"POST /admin/payments/{id}/sync",
       {"Check a payment with its provider now",
        "Queries the provider and applies its answer.",
        "200",
        "The payment after the check",
        {}}},
      {"POST /admin/payments/{id}/refunds",
       {"Refund a succeeded payment",
        "Body {\"amount\": \"500.00\" (major units; default: all that remains), \"reason\", "
        "\"force\": false, \"manual\": {\"provider_reference\"}}. Idempotency-Key header "
        "required: the same key returns the same refund (200). 422 when larger than what "
        "remains; 409 when the payment is not succeeded or the product refuses (unless force). "
        "The provider is called from a durable job (docs/payments.md).",
        "201",
        "The refund (status requested, or succeeded for a recorded manual refund)",
        {}}},
      {"GET /admin/payments/{id}/refunds",
       {"A payment's refunds", "", "200", "{\"refunds\": [...], \"refunded\": \"...\"}", {}}},
      {"POST /admin/payments/{id}/cancel",
       {"Cancel a payment not paid yet",
        "Body {\"reason\"}. For created, pending or unknown payments: at the provider when it "
        "can cancel, otherwise locally. A success reported later is held.",
        "200",
        "The payment after the cancel",
        {}}},
      {"POST /admin/payments/{id}/resolve",
       {"Resolve a held payment",
        "Body {\"action\": \"accept\"|\"refund\", \"reason\", \"manual\": "
        "{\"provider_reference\"}}. accept: delivered once (an overpaid difference is "
        "refunded); refund: what was paid goes back and nothing is delivered.",
        "200",
        "The payment after the decision",
        {}}},
  };
  return docs;
}

inline std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The tag of a route: admin, webhooks, sandbox, kernel, or the first literal path segment.
inline std::string tagFor(const Route& r) {
  if (r.segments.empty()) return "kernel";
  const std::string& first = r.segments[0];
  if (first == "admin" || first == "webhooks" || first == "sandbox") return first;
  if (first == "healthz" || first == "readyz" || first == "metrics" || first == "openapi.json")
    return "kernel";
  if ((first == "api" || first == "v1") && r.segments.size() > 1 && !r.isParam[1])
    return r.segments[1];
  return first;
}

// The routes' shape ("/a/{}/b"): two patterns of one shape are one OpenAPI path.
inline std::string shapeOf(const Route& r) {
  std::string s;
  for (std::size_t i = 0; i < r.segments.size(); ++i)
    s += "/" + (r.isParam[i] ? std::string("{}") : r.segments[i]);
  return s.empty() ? "/" : s;
}

inline Poco::JSON::Object::Ptr errorResponse(const std::string& description) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("$ref", "#/components/responses/" + description);
  return o;
}

inline Poco::JSON::Object::Ptr document(const RouterImpl& router, const std::string& title,
                                        const std::string& version, const std::string& serverUrl,
                                        std::size_t defaultMaxBody) {
  using Poco::JSON::Array;
  using Poco::JSON::Object;
  Object::Ptr doc = new Object;
  doc->set("openapi", "3.1.0");
  Object::Ptr info = new Object;
  info->set("title", title + " API");
  info->set("version", version);
  info->set("description",
            "Every route this server has mounted: the kernel's, the payment core's and those of "
            "the loaded plugins. "
            "Errors share one shape (components/schemas/Error).");
  doc->set("info", info);
  if (!serverUrl.empty()) {
    Array::Ptr servers = new Array;
    Object::Ptr s = new Object;
    s->set("url", serverUrl);
    servers->add(s);
    doc->set("servers", servers);
  }

  // Components: the error shape, its common answers, the two bearer schemes.
  Object::Ptr components = new Object;
  Object::Ptr schemas = new Object;
  Object::Ptr error = new Object;
  error->set("type", "object");
  Array::Ptr required = new Array;
  required->add("error");
  required->add("message");
  error->set("required", required);
  Object::Ptr props = new Object;
  for (const char* k : {"error", "message", "request_id"}) {
    Object::Ptr p = new Object;
    p->set("type", "string");
    props->set(k, p);
  }
  error->set("properties", props);
  schemas->set("Error", error);
  components->set("schemas", schemas);
  Object::Ptr responses = new Object;
  auto errorAnswer = [&](const std::string& name, const std::string& description) {
    Object::Ptr r = new Object;
    r->set("description", description);
    Object::Ptr content = new Object, json = new Object, schema = new Object;
    schema->set("$ref", "#/components/schemas/Error");
    json->set("schema", schema);
    content->set("application/json", json);
    r->set("content", content);
    responses->set(name, r);
  };
  errorAnswer("Error", "An error in the kernel's error shape");
  errorAnswer("Unauthorized", "Missing or invalid credentials");
  errorAnswer("Forbidden", "The admin API is disabled (admin.token is empty)");
  errorAnswer("TooLarge", "Request body above the route's cap");
  errorAnswer("RateLimited", "Too many requests from this client (Retry-After says when to retry)");
  components->set("responses", responses);
  Object::Ptr schemes = new Object;
  Object::Ptr bearer = new Object;
  bearer->set("type", "http");
  bearer->set("scheme", "bearer");
  bearer->set("bearerFormat", "JWT");
  bearer->set("description", "HS256 JWT signed with auth.jwt_secret; its sub is the user id");
  schemes->set("userJwt", bearer);
  Object::Ptr admin = new Object;
  admin->set("type", "http");
  admin->set("scheme", "bearer");
  admin->set("description", "The admin token (admin.token)");
  schemes->set("adminToken", admin);
  components->set("securitySchemes", schemes);
  doc->set("components", components);

  Object::Ptr paths = new Object;
  std::map<std::string, std::string> keyOfShape;  // shape → the path key used for it
  std::map<std::string, int> operationIds;
  Array::Ptr tags = new Array;
  std::map<std::string, bool> tagSeen;
  const auto& kdocs = kernelRouteDocs();
  for (const Route* r : router.routes()) {
    if (!documented(*r)) continue;
    std::string shape = shapeOf(*r);
    auto known = keyOfShape.find(shape);
    if (known == keyOfShape.end())
      known = keyOfShape.emplace(shape, r->pattern.empty() ? "/" : r->pattern).first;
    const std::string& key = known->second;
    Object::Ptr item = paths->has(key) ? paths->getObject(key) : Object::Ptr(new Object);
    // Parameter names come from the path key (a route of the same shape may name them otherwise).
    std::vector<std::string> keySegments = RouterImpl::split(key);

    Object::Ptr op = new Object;
    auto kd = kdocs.find(r->method + " " + r->pattern);
    std::string tag = tagFor(*r);
    Array::Ptr tagList = new Array;
    tagList->add(tag);
    op->set("tags", tagList);
    if (!tagSeen[tag]) {
      tagSeen[tag] = true;
      Object::Ptr t = new Object;
      t->set("name", tag);
      tags->add(t);
    }
    if (kd != kdocs.end()) {
      op->set("summary", std::string(kd->second.summary));
      if (*kd->second.description) op->set("description", std::string(kd->second.description));
    } else {
      op->set("summary",
              r->options.name != r->pattern ? r->options.name : r->method + " " + r->pattern);
    }
    // operationId: method and path, unique.
    std::string id = lower(r->method);
    for (const auto& seg : r->segments) {
      id += "_";
      for (char c : seg)
        if (std::isalnum(static_cast<unsigned char>(c))) id += c;
    }
    if (int n = operationIds[id]++) id += "_" + std::to_string(n + 1);
    op->set("operationId", id);
    op->set("x-malipo-route-name", r->options.name);

    Array::Ptr params = new Array;
    for (std::size_t i = 0; i < keySegments.size(); ++i) {
      const std::string& seg = keySegments[i];
      if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
        Object::Ptr p = new Object;
        p->set("name", seg.substr(1, seg.size() - 2));
        p->set("in", "path");
        p->set("required", true);
        Object::Ptr schema = new Object;
        schema->set("type", "string");
        p->set("schema", schema);
        params->add(p);
      }
    }
    if (kd != kdocs.end())
      for (const auto& q : kd->second.query) {
        Object::Ptr p = new Object;
        p->set("name", std::string(q.name));
        p->set("in", "query");
        p->set("description", std::string(q.description));
        Object::Ptr schema = new Object;
        schema->set("type", "string");
        p->set("schema", schema);
        params->add(p);
      }
    if (r->options.idempotent) {
      Object::Ptr p = new Object;
      p->set("name", "Idempotency-Key");
      p->set("in", "header");
      p->set("description",
             "Replays the first answer for the same key and body (at most 255 characters)");
      Object::Ptr schema = new Object;
      schema->set("type", "string");
      schema->set("maxLength", 255);
      p->set("schema", schema);
      params->add(p);
    }
    if (params->size() > 0) op->set("parameters", params);

    const bool hasBody = r->method == "POST" || r->method == "PUT" || r->method == "PATCH";
    const std::size_t cap = r->options.maxBodyBytes > 0 ? r->options.maxBodyBytes : defaultMaxBody;
    if (hasBody) {
      Object::Ptr body = new Object;
      body->set("description", "At most " + std::to_string(cap) + " bytes");
      Object::Ptr content = new Object, any = new Object;
      content->set("*/*", any);
      body->set("content", content);
      op->set("requestBody", body);
    }
    op->set("x-malipo-max-body-bytes", static_cast<Poco::UInt64>(cap));
    if (!r->options.rateLimit.empty()) op->set("x-malipo-rate-limit-bucket", r->options.rateLimit);

    Array::Ptr security = new Array;
    if (r->options.auth == Auth::optional) security->add(Object::Ptr(new Object));
    if (r->options.auth == Auth::optional || r->options.auth == Auth::required) {
      Object::Ptr s = new Object;
      s->set("userJwt", Array::Ptr(new Array));
      security->add(s);
    }
    if (r->options.auth == Auth::admin) {
      Object::Ptr s = new Object;
      s->set("adminToken", Array::Ptr(new Array));
      security->add(s);
    }
    op->set("security", security);  // [] for a public route: no credentials

    Object::Ptr answers = new Object;
    Object::Ptr ok = new Object;
    ok->set("description",
            kd != kdocs.end() ? std::string(kd->second.okDescription) : "The route's answer");
    answers->set(kd != kdocs.end() ? kd->second.okStatus : "200", ok);
    if (r->options.auth != Auth::none) answers->set("401", errorResponse("Unauthorized"));
    if (r->options.auth == Auth::admin) answers->set("403", errorResponse("Forbidden"));
    if (hasBody) answers->set("413", errorResponse("TooLarge"));
    const bool health =
        r->pattern == "/healthz" || r->pattern == "/readyz" || r->pattern == "/metrics";
    if (!health) answers->set("429", errorResponse("RateLimited"));
    answers->set("default", errorResponse("Error"));
    op->set("responses", answers);

    item->set(lower(r->method), op);
    paths->set(key, item);
  }
  doc->set("paths", paths);
  doc->set("tags", tags);
  return doc;
}

}  // namespace malipo::openapi
