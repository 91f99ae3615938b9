// The plugin side of the ABI: the C++ SDK's services (Host, Router, Database …) implemented
// over the kernel's function table, and trampolines that offer a plugin's components,
// providers and products to the kernel as hooks.
//
// Header-only; compiled into the plugin by MALIPO_PLUGIN (malipo/plugin.hpp). Everything here
// has hidden visibility in a plugin built with malipo_add_plugin, so each plugin has its own
// copy and its own pointer to the kernel's table. No exception leaves a hook: each is caught
// and returned as an error record.
#pragma once

#include <Poco/JSON/Stringifier.h>

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "malipo/abi.h"
#include "malipo/component.hpp"
#include "malipo/host.hpp"
#include "malipo/product.hpp"
#include "malipo/provider.hpp"
#include "malipo/sdk/records.hpp"

namespace malipo::sdk {

static_assert(sizeof(mlp_str) == 16 && sizeof(mlp_value) == 40 && sizeof(mlp_note) == 124,
              "the ABI's structs have a frozen layout");

inline const mlp_api_v1*& apiSlot() {
  static const mlp_api_v1* api = nullptr;
  return api;
}
inline const mlp_api_v1& api() {
  return *apiSlot();
}

inline std::int32_t fail(mlp_rec* out, const Error& e) {
  abi::put(abi::Out(api(), out), e);
  return MLP_FAIL;
}

// Runs `fn` (which returns MLP_OK or MLP_FAIL), turning an exception into an internal error.
template <class Fn>
std::int32_t guard(mlp_rec* out, const char* what, Fn&& fn) noexcept {
  try {
    try {
      return fn();
    } catch (const std::exception& e) {
      return fail(out, Error::make(ErrorCode::internal, std::string(what) + " threw: " + e.what(),
                                   "internal error"));
    } catch (...) {
      return fail(out, Error::make(ErrorCode::internal,
                                   std::string(what) + " threw a non-standard exception",
                                   "internal error"));
    }
  } catch (...) {  // out of memory while reporting
    return MLP_FAIL;
  }
}

inline std::string errorText(const abi::Owned& err, std::int32_t rc, const char* what) {
  return abi::getError(err.in(), rc, what).internal;
}

// ---- logging, clock, metrics, pages, outbound HTTP ---------------------------------------

class AbiLogger final : public Logger {
 public:
  explicit AbiLogger(mlp_host* h) : h_(h) {}
  void log(LogLevel level, const std::string& component, const std::string& message) override {
    std::int32_t l = level == LogLevel::debug     ? MLP_LOG_DEBUG
                     : level == LogLevel::info    ? MLP_LOG_INFO
                     : level == LogLevel::warning ? MLP_LOG_WARNING
                                                  : MLP_LOG_ERROR;
    api().log(h_, l, abi::view(component), abi::view(message));
  }

 private:
  mlp_host* h_;
};

class AbiClock final : public Clock {
 public:
  explicit AbiClock(mlp_host* h) : h_(h) {}
  std::int64_t nowMs() const override { return api().clock_now_ms(h_); }

 private:
  mlp_host* h_;
};

class AbiMetrics final : public Metrics {
 public:
  explicit AbiMetrics(mlp_host* h) : h_(h) {}
  void increment(const std::string& name, const Labels& labels, double by) override {
    send(MLP_METRIC_INCREMENT, name, labels, by);
  }
  void setGauge(const std::string& name, const Labels& labels, double value) override {
    send(MLP_METRIC_GAUGE, name, labels, value);
  }
  void observe(const std::string& name, const Labels& labels, double seconds) override {
    send(MLP_METRIC_OBSERVE, name, labels, seconds);
  }
  void describe(const std::string& name, const std::string& help,
                const std::string& type) override {
    api().metric_describe(h_, abi::view(name), abi::view(help), abi::view(type));
  }
  void addCollector(std::function<void(Metrics&)> collector) override {
    struct Box {
      std::function<void(Metrics&)> fn;
      AbiMetrics* metrics;
    };
    auto* box = new Box{std::move(collector), this};
    api().metric_collector(
        h_,
        [](void* self) {
          auto* b = static_cast<Box*>(self);
          try {
            b->fn(*b->metrics);
          } catch (...) {  // its gauges keep their last values
          }
        },
        box, [](void* self) { delete static_cast<Box*>(self); });
  }

 private:
  void send(std::int32_t op, const std::string& name, const Labels& labels, double value) {
    mlp_str kv[16];
    std::vector<mlp_str> more;
    mlp_str* p = kv;
    if (labels.size() > 8) {
      more.resize(labels.size() * 2);
      p = more.data();
    }
    std::size_t i = 0;
    for (const auto& [k, v] : labels) {
      p[i++] = abi::view(k);
      p[i++] = abi::view(v);
    }
    api().metric(h_, op, abi::view(name), p, static_cast<std::uint32_t>(labels.size()), value);
  }
  mlp_host* h_;
};

class AbiPages final : public Pages {
 public:
  explicit AbiPages(mlp_host* h) : h_(h) {}
  std::string render(const std::string& title, const std::string& bodyTemplate,
                     const Poco::JSON::Object& data, const std::string& headExtra) const override {
    abi::Owned in(api()), out(api());
    abi::Out o = in.out();
    o.s(MLP_K_PAGE_TITLE, title);
    o.s(MLP_K_PAGE_TEMPLATE, bodyTemplate);
    std::ostringstream os;
    Poco::JSON::Stringifier::condense(data, os);
    o.s(MLP_K_PAGE_DATA, os.str());
    o.s(MLP_K_PAGE_HEAD, headExtra);
    std::int32_t rc = api().page_render(h_, in.get(), out.get());
    if (rc != MLP_OK) throw std::runtime_error(errorText(out, rc, "page_render"));
    return out.in().s(MLP_K_TEXT);
  }

  // ---- 1.1: pages (page_i18n; a 1.0 kernel has none: Pages' defaults) ----
  static bool hasI18n() {
    return api().struct_size >= offsetof(mlp_api_v1, page_i18n) + sizeof(void*) && api().page_i18n;
  }
  std::string i18n(std::uint32_t op, const std::function<void(abi::Out&)>& fill,
                   const std::string& dflt) const {
    if (!hasI18n()) return dflt;
    abi::Owned in(api()), out(api());
    abi::Out o = in.out();
    fill(o);
    if (api().page_i18n(h_, op, in.get(), out.get()) != MLP_OK) return dflt;
    return out.in().s(op == MLP_PAGEOP_LANGUAGE ? MLP_K_PAGE_LANG : MLP_K_TEXT);
  }
  std::string language(const Request& req) const override {
    return i18n(
        MLP_PAGEOP_LANGUAGE,
        [&](abi::Out& o) {
          o.s(MLP_K_PAGE_LANG, req.queryParam("lang"));
          o.s(MLP_K_PAGE_COOKIE_LANG, languageCookie(req));
          o.s(MLP_K_PAGE_ACCEPT_LANGUAGE, req.header("Accept-Language"));
        },
        "en");
  }
  std::string renderIn(const std::string& lang, const std::string& title,
                       const std::string& bodyTemplate, const Poco::JSON::Object& data,
                       const std::string& headExtra) const override {
    abi::Owned in(api()), out(api());
    abi::Out o = in.out();
    o.s(MLP_K_PAGE_TITLE, title);
    o.s(MLP_K_PAGE_TEMPLATE, bodyTemplate);
    std::ostringstream os;
    Poco::JSON::Stringifier::condense(data, os);
    o.s(MLP_K_PAGE_DATA, os.str());
    o.s(MLP_K_PAGE_HEAD, headExtra);
    o.s(MLP_K_PAGE_LANG, lang);
    std::int32_t rc = api().page_render(h_, in.get(), out.get());
    if (rc != MLP_OK) throw std::runtime_error(errorText(out, rc, "page_render"));
    return out.in().s(MLP_K_TEXT);
  }
  std::string text(const std::string& lang, const std::string& key,
                   const Poco::JSON::Object& params) const override {
    return i18n(
        MLP_PAGEOP_TEXT,
        [&](abi::Out& o) {
          o.s(MLP_K_PAGE_LANG, lang);
          o.s(MLP_K_PAGE_KEY, key);
          std::ostringstream os;
          Poco::JSON::Stringifier::condense(params, os);
          o.s(MLP_K_PAGE_DATA, os.str());
        },
        key);
  }
  std::string money(const std::string& lang, std::int64_t minor,
                    const std::string& currency) const override {
    return i18n(
        MLP_PAGEOP_MONEY,
        [&](abi::Out& o) {
          o.s(MLP_K_PAGE_LANG, lang);
          o.i(MLP_K_PAGE_AMOUNT, minor);
          o.s(MLP_K_PAGE_CURRENCY, currency);
        },
        Pages::money(lang, minor, currency));
  }
  std::string translate(const std::string& lang, const std::string& english) const override {
    return i18n(
        MLP_PAGEOP_TRANSLATE,
        [&](abi::Out& o) {
          o.s(MLP_K_PAGE_LANG, lang);
          o.s(MLP_K_PAGE_ENGLISH, english);
        },
        english);
  }

 private:
  mlp_host* h_;
};

class AbiHttpClient final : public HttpClient {
 public:
  explicit AbiHttpClient(mlp_host* h) : h_(h) {}
  Result<OutboundResponse> send(const OutboundRequest& request) override {
    abi::Owned in(api()), out(api());
    abi::put(in.out(), request);
    std::int32_t rc = api().http_send(h_, in.get(), out.get());
    if (rc != MLP_OK) return abi::getError(out.in(), rc, "http_send");
    return abi::getOutboundResponse(out.in());
  }

 private:
  mlp_host* h_;
};

// ---- routes ------------------------------------------------------------------------------

struct HandlerBox {
  Handler fn;
};

inline std::int32_t routeHook(void* self, const mlp_rec* in, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "route handler", [&] {
    Response response = static_cast<HandlerBox*>(self)->fn(abi::getRequest(abi::In(api(), in)));
    abi::put(abi::Out(api(), out), response);
    return MLP_OK;
  });
}

class AbiRouter final : public Router {
 public:
  explicit AbiRouter(mlp_host* h) : h_(h) {}
  void add(const std::string& method, const std::string& pattern, Handler handler,
           RouteOptions options) override {
    abi::Owned route(api()), err(api());
    abi::putRoute(route.out(), method, pattern, options);
    auto* box = new HandlerBox{std::move(handler)};
    std::int32_t rc = api().route_add(
        h_, route.get(), &routeHook, box, [](void* self) { delete static_cast<HandlerBox*>(self); },
        err.get());
    if (rc != MLP_OK) {
      delete box;
      throw std::logic_error(errorText(err, rc, "route_add"));
    }
  }

 private:
  mlp_host* h_;
};

// ---- database ----------------------------------------------------------------------------

inline std::int64_t dbExec(mlp_host* h, mlp_tx* t, const std::string& sql, const Params& params) {
  auto values = abi::toAbi(params);
  abi::Owned err(api());
  std::int64_t changed = 0;
  std::int32_t rc = api().db_exec(h, t, abi::view(sql), values.data(),
                                  static_cast<std::uint32_t>(values.size()), &changed, err.get());
  if (rc != MLP_OK) throw DbError(errorText(err, rc, "db_exec"));
  return changed;
}

inline Rows dbQuery(mlp_host* h, mlp_tx* t, const std::string& sql, const Params& params) {
  auto values = abi::toAbi(params);
  abi::Owned err(api());
  mlp_rows* raw = nullptr;
  std::int32_t rc = api().db_query(h, t, abi::view(sql), values.data(),
                                   static_cast<std::uint32_t>(values.size()), &raw, err.get());
  if (rc != MLP_OK || !raw) throw DbError(errorText(err, rc == MLP_OK ? MLP_FAIL : rc, "db_query"));
  std::unique_ptr<mlp_rows, void (*)(mlp_rows*)> rows(raw, api().rows_free);
  Rows out;
  std::uint32_t columns = api().rows_columns(raw);
  std::uint64_t n = api().rows_count(raw);
  out.columns.reserve(columns);
  for (std::uint32_t c = 0; c < columns; ++c)
    out.columns.push_back(abi::str(api().rows_column(raw, c)));
  out.rows.resize(n);
  for (std::uint64_t r = 0; r < n; ++r) {
    out.rows[r].resize(columns);
    for (std::uint32_t c = 0; c < columns; ++c) {
      mlp_value v;
      api().rows_cell(raw, r, c, &v);
      if (!abi::fromAbi(v, out.rows[r][c]))
        throw DbError("the kernel returned an unknown value type");
    }
  }
  return out;
}

inline Engine engineOf(mlp_host* h) {
  return api().db_engine(h) == MLP_DB_POSTGRESQL ? Engine::postgresql : Engine::sqlite;
}

class AbiTx final : public Tx {
 public:
  AbiTx(mlp_host* h, mlp_tx* t, Engine e) : h_(h), t_(t), e_(e) {}
  std::int64_t exec(const std::string& sql, const Params& params) override {
    return dbExec(h_, t_, sql, params);
  }
  Rows query(const std::string& sql, const Params& params) override {
    return dbQuery(h_, t_, sql, params);
  }
  Engine engine() const override { return e_; }
  void onCommit(std::function<void()> fn) override {
    auto* box = new std::function<void()>(std::move(fn));
    api().tx_on_commit(
        t_,
        [](void* self) {
          try {
            (*static_cast<std::function<void()>*>(self))();
          } catch (...) {  // the transaction committed: nothing to undo
          }
        },
        box, [](void* self) { delete static_cast<std::function<void()>*>(self); });
  }
  mlp_tx* handle() const { return t_; }

 private:
  mlp_host* h_;
  mlp_tx* t_;
  Engine e_;
};

class AbiDatabase final : public Database {
 public:
  explicit AbiDatabase(mlp_host* h) : h_(h) {}
  Engine engine() const override { return engineOf(h_); }
  void write(const std::function<void(Tx&)>& work) override {
    struct Ctx {
      const std::function<void(Tx&)>* work;
      mlp_host* h;
      Engine engine;
      std::exception_ptr error;
    } ctx{&work, h_, engine(), nullptr};
    abi::Owned err(api());
    std::int32_t rc = api().db_write(
        h_,
        [](void* self, mlp_tx* t) noexcept -> std::int32_t {
          auto* c = static_cast<Ctx*>(self);
          c->error = nullptr;  // the body may run again (a retried transaction)
          try {
            AbiTx tx(c->h, t, c->engine);
            (*c->work)(tx);
            return MLP_OK;
          } catch (...) {
            c->error = std::current_exception();
            return MLP_FAIL;
          }
        },
        &ctx, err.get());
    if (rc == MLP_OK) return;
    if (ctx.error) std::rethrow_exception(ctx.error);
    throw DbError(errorText(err, rc, "db_write"));
  }
  Rows query(const std::string& sql, const Params& params) override {
    return dbQuery(h_, nullptr, sql, params);
  }
  std::int64_t exec(const std::string& sql, const Params& params) override {
    return dbExec(h_, nullptr, sql, params);
  }

 private:
  mlp_host* h_;
};

// ---- jobs --------------------------------------------------------------------------------

struct JobBox {
  JobHandler fn;
};

inline std::int32_t jobHook(void* self, const mlp_rec* in, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "job handler", [&] {
    JobOutcome outcome = static_cast<JobBox*>(self)->fn(abi::getJob(abi::In(api(), in)));
    abi::put(abi::Out(api(), out), outcome);
    return MLP_OK;
  });
}

class AbiJobQueue final : public JobQueue {
 public:
  explicit AbiJobQueue(mlp_host* h) : h_(h) {}
  void handle(const std::string& kind, JobHandler handler, JobKindOptions options) override {
    abi::Owned opts(api()), err(api());
    abi::putKind(opts.out(), kind, options);
    auto* box = new JobBox{std::move(handler)};
    std::int32_t rc = api().job_handle(
        h_, opts.get(), &jobHook, box, [](void* self) { delete static_cast<JobBox*>(self); },
        err.get());
    if (rc != MLP_OK) {
      delete box;
      throw std::logic_error(errorText(err, rc, "job_handle"));
    }
  }
  void every(const std::string& kind, std::int64_t intervalMs) override {
    abi::Owned err(api());
    std::int32_t rc = api().job_every(h_, abi::view(kind), intervalMs, err.get());
    if (rc != MLP_OK) throw std::logic_error(errorText(err, rc, "job_every"));
  }
  bool enqueue(Tx& tx, const JobSpec& spec) override {
    auto* t = dynamic_cast<AbiTx*>(&tx);
    if (!t) throw DbError("enqueue: not a transaction of this kernel");
    return enqueueIn(t->handle(), spec);
  }
  bool enqueue(const JobSpec& spec) override { return enqueueIn(nullptr, spec); }

 private:
  bool enqueueIn(mlp_tx* t, const JobSpec& spec) {
    abi::Owned in(api()), err(api());
    abi::put(in.out(), spec);
    std::int32_t inserted = 0;
    std::int32_t rc = api().job_enqueue(h_, t, in.get(), &inserted, err.get());
    if (rc != MLP_OK) throw DbError(errorText(err, rc, "job_enqueue"));
    return inserted == 1;
  }
  mlp_host* h_;
};

// ---- payments ----------------------------------------------------------------------------

class AbiPayments final : public Payments {
 public:
  explicit AbiPayments(mlp_host* h) : h_(h) {}

  Result<Payment> create(const CreatePayment& request) override {
    return call(MLP_PAYOP_CREATE, [&](abi::Out in) { abi::put(in.add(MLP_K_CREATE), request); });
  }
  Result<Payment> get(const std::string& id) override {
    return call(MLP_PAYOP_GET, [&](abi::Out in) { in.s(MLP_K_ID, id); });
  }
  Result<Payment> sync(const std::string& id) override {
    return call(MLP_PAYOP_SYNC, [&](abi::Out in) { in.s(MLP_K_ID, id); });
  }
  Result<ProofOutcome> submitProof(const std::string& id, const std::string& text) override {
    abi::Owned in(api()), out(api());
    in.out().s(MLP_K_ID, id);
    in.out().s(MLP_K_TEXT, text);
    std::int32_t rc = api().payments_call(h_, MLP_PAYOP_SUBMIT_PROOF, in.get(), out.get());
    if (rc != MLP_OK) return abi::getError(out.in(), rc, "submitProof");
    return ProofOutcome{abi::getPayment(out.in().child(MLP_K_PAYMENT)), out.in().i(MLP_K_FLAG) == 1,
                        out.in().s(MLP_K_TEXT)};
  }
  Result<NextAction> requestPush(const std::string& id, const std::string& msisdn) override {
    abi::Owned in(api()), out(api());
    in.out().s(MLP_K_ID, id);
    in.out().s(MLP_K_MSISDN, msisdn);
    std::int32_t rc = api().payments_call(h_, MLP_PAYOP_REQUEST_PUSH, in.get(), out.get());
    if (rc != MLP_OK) return abi::getError(out.in(), rc, "requestPush");
    return abi::getAction(out.in().child(MLP_K_ACTION));
  }
  Handler webhookInbox(const std::string& provider) override {
    mlp_host* h = h_;
    return [h, provider](const Request& request) {
      abi::Owned in(api()), out(api());
      in.out().s(MLP_K_NAME, provider);
      abi::put(in.out().add(MLP_K_REQUEST), request);
      std::int32_t rc = api().payments_call(h, MLP_PAYOP_WEBHOOK, in.get(), out.get());
      if (rc != MLP_OK)
        return Response::error(abi::getError(out.in(), rc, "webhook"), request.requestId);
      Response response;
      if (!abi::getResponse(out.in(), response))
        return Response::error(
            Error::make(ErrorCode::internal, "webhook: no response", "internal error"),
            request.requestId);
      return response;
    };
  }
  Poco::JSON::Object toJson(const Payment& p) const override {
    abi::Owned in(api()), out(api());
    abi::put(in.out().add(MLP_K_PAYMENT), p);
    std::int32_t rc = api().payments_call(h_, MLP_PAYOP_TO_JSON, in.get(), out.get());
    if (rc != MLP_OK) throw std::runtime_error(errorText(out, rc, "toJson"));
    auto obj = parseJsonObject(out.in().s(MLP_K_TEXT));
    if (!obj) throw std::runtime_error("toJson: the kernel returned no JSON object");
    return *obj;
  }
  std::vector<ChannelItem> catalog(const std::string& channel) override {
    abi::Owned in(api()), out(api());
    in.out().s(MLP_K_CHANNEL, channel);
    std::vector<ChannelItem> items;
    if (api().payments_call(h_, MLP_PAYOP_CATALOG, in.get(), out.get()) != MLP_OK) return items;
    abi::In o = out.in();
    for (std::uint32_t i = 0; i < o.count(MLP_K_ITEMS); ++i) {
      abi::In item = o.child(MLP_K_ITEMS, i);
      items.push_back(ChannelItem{item.s(MLP_K_NAME), abi::getItem(item)});
    }
    return items;
  }
  std::vector<std::string> requirements(const CreatePayment& draft) override {
    abi::Owned in(api()), out(api());
    abi::put(in.out().add(MLP_K_CREATE), draft);
    if (api().payments_call(h_, MLP_PAYOP_REQUIREMENTS, in.get(), out.get()) != MLP_OK) return {};
    return out.in().strs(MLP_K_CAP_REQUIRES);
  }
  Result<std::string> accountSummary(const std::string& product,
                                     const std::string& accountId) override {
    return text(MLP_PAYOP_ACCOUNT_SUMMARY, [&](abi::Out in) {
      in.s(MLP_K_NAME, product);
      in.s(MLP_K_CUST_ACCOUNT, accountId);
    });
  }
  Result<std::string> prepareChannelSale(const std::string& product, const CatalogItem& item,
                                         const Customer& customer) override {
    return text(MLP_PAYOP_CHANNEL_SALE, [&](abi::Out in) {
      in.s(MLP_K_NAME, product);
      abi::put(in.add(MLP_K_ITEM), item);
      abi::put(in.add(MLP_K_CUSTOMER), customer);
    });
  }

 private:
  template <class Fill>
  Result<Payment> call(std::uint32_t op, Fill&& fill) {
    abi::Owned in(api()), out(api());
    fill(in.out());
    std::int32_t rc = api().payments_call(h_, op, in.get(), out.get());
    if (rc != MLP_OK) return abi::getError(out.in(), rc, "payments");
    return abi::getPayment(out.in().child(MLP_K_PAYMENT));
  }
  template <class Fill>
  Result<std::string> text(std::uint32_t op, Fill&& fill) {
    abi::Owned in(api()), out(api());
    fill(in.out());
    std::int32_t rc = api().payments_call(h_, op, in.get(), out.get());
    if (rc != MLP_OK) return abi::getError(out.in(), rc, "payments");
    return out.in().s(MLP_K_TEXT);
  }
  mlp_host* h_;
};

// ---- the host ----------------------------------------------------------------------------

class AbiHost final : public Host {
 public:
  explicit AbiHost(mlp_host* h)
      : h_(h),
        router_(h),
        db_(h),
        jobs_(h),
        http_(h),
        pages_(h),
        clock_(h),
        logger_(h),
        metrics_(h),
        payments_(h) {
    name_ = abi::str(api().host_info(h, MLP_INFO_PLUGIN_NAME));
    settings_ = Settings(parseJsonObject(abi::str(api().host_info(h, MLP_INFO_SETTINGS_JSON))),
                         "plugins[" + name_ + "].settings");
    sandbox_ = api().host_flag(h, MLP_INFO_SANDBOX) == 1;
    brand_ = Brand{abi::str(api().host_info(h, MLP_INFO_BRAND_NAME)),
                   abi::str(api().host_info(h, MLP_INFO_BRAND_PHONE)),
                   abi::str(api().host_info(h, MLP_INFO_BRAND_EMAIL))};
  }
  const Settings& settings() const override { return settings_; }
  const std::string& pluginName() const override { return name_; }
  Router& router() override { return router_; }
  Database& db() override { return db_; }
  JobQueue& jobs() override { return jobs_; }
  HttpClient& http() override { return http_; }
  const Pages& pages() const override { return pages_; }
  const Clock& clock() const override { return clock_; }
  Logger& logger() override { return logger_; }
  Metrics& metrics() override { return metrics_; }
  Payments& payments() override { return payments_; }
  // Read from the kernel per call: with listen port 0 it is only final once the server bound.
  const std::string& publicUrl() const override {
    mlp_str v = api().host_info(h_, MLP_INFO_PUBLIC_URL);
    std::lock_guard<std::mutex> lock(urlMutex_);
    if (publicUrl_.size() != v.len || publicUrl_.compare(0, v.len, v.ptr, v.len) != 0)
      publicUrl_.assign(v.ptr, v.len);
    return publicUrl_;
  }
  bool sandbox() const override { return sandbox_; }
  const Brand& brand() const override { return brand_; }
  mlp_host* handle() const { return h_; }

 private:
  mlp_host* h_;
  AbiRouter router_;
  AbiDatabase db_;
  AbiJobQueue jobs_;
  AbiHttpClient http_;
  AbiPages pages_;
  AbiClock clock_;
  AbiLogger logger_;
  AbiMetrics metrics_;
  AbiPayments payments_;
  std::string name_;
  mutable std::string publicUrl_;
  mutable std::mutex urlMutex_;
  Settings settings_;
  bool sandbox_ = false;
  Brand brand_;
};

// ---- hooks: what the kernel calls on a plugin's objects -----------------------------------

struct ObjBox {
  std::shared_ptr<Component> obj;
  AbiHost* host;
};

template <class T>
T& self(void* box) {
  return static_cast<T&>(*static_cast<ObjBox*>(box)->obj);
}

template <class T>
std::int32_t result(mlp_rec* out, const Result<T>& r) {
  if (!r.ok()) return fail(out, r.error());
  abi::put(abi::Out(api(), out), r.value());
  return MLP_OK;
}

inline std::int32_t textResult(mlp_rec* out, const Result<std::string>& r) {
  if (!r.ok()) return fail(out, r.error());
  abi::Out(api(), out).s(MLP_K_TEXT, r.value());
  return MLP_OK;
}

namespace hooks {

inline std::int32_t migrations(void* s, const mlp_rec*, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "migrations", [&] {
    abi::Out o(api(), out);
    for (const auto& m : self<Component>(s).migrations()) abi::put(o.add(MLP_K_ITEMS), m);
    return MLP_OK;
  });
}
inline std::int32_t start(void* s, const mlp_rec*, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "start", [&] {
    self<Component>(s).start();
    return MLP_OK;
  });
}
inline std::int32_t stop(void* s, const mlp_rec*, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "stop", [&] {
    self<Component>(s).stop();
    return MLP_OK;
  });
}

inline std::int32_t capabilities(void* s, const mlp_rec*, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "capabilities", [&] {
    abi::put(abi::Out(api(), out), self<PaymentProvider>(s).capabilities());
    return MLP_OK;
  });
}
inline std::int32_t initiate(void* s, const mlp_rec* in, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "initiate", [&] {
    abi::In i(api(), in);
    return result(out, self<PaymentProvider>(s).initiate(abi::getPayment(i.child(MLP_K_PAYMENT)),
                                                         abi::getCreate(i.child(MLP_K_CREATE))));
  });
}
inline std::int32_t query(void* s, const mlp_rec* in, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "query", [&] {
    return result(out, self<PaymentProvider>(s).query(
                           abi::getPayment(abi::In(api(), in).child(MLP_K_PAYMENT))));
  });
}
inline std::int32_t parseWebhook(void* s, const mlp_rec* in, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "parseWebhook", [&] {
    auto r = self<PaymentProvider>(s).parseWebhookReply(
        abi::getRequest(abi::In(api(), in).child(MLP_K_REQUEST)));
    if (!r.ok()) return fail(out, r.error());
    abi::Out o(api(), out);
    for (const auto& e : r.value().events) abi::put(o.add(MLP_K_ITEMS), e);
    if (r.value().hasReply) abi::put(o.add(MLP_K_RESPONSE), r.value().reply);
    return MLP_OK;
  });
}
// 1.1: the inbox stored a delivery's new events, in its transaction.
inline std::int32_t webhookStored(void* s, const mlp_rec* in, mlp_rec* out, mlp_tx* t) noexcept {
  return guard(out, "onWebhookStored", [&] {
    mlp_host* h = static_cast<ObjBox*>(s)->host->handle();
    AbiTx tx(h, t, engineOf(h));
    abi::In i(api(), in);
    std::vector<WebhookEvent> fresh;
    for (std::uint32_t j = 0; j < i.count(MLP_K_ITEMS); ++j) {
      WebhookEvent e = abi::getEvent(i.child(MLP_K_ITEMS, j));
      e.paymentId = i.child(MLP_K_ITEMS, j).s(MLP_K_WH_PAYMENT_ID);
      fresh.push_back(std::move(e));
    }
    Status r = self<PaymentProvider>(s).onWebhookStored(abi::getRequest(i.child(MLP_K_REQUEST)),
                                                        fresh, tx);
    return r.ok() ? MLP_OK : fail(out, r.error());
  });
}
inline std::int32_t verifyProof(void* s, const mlp_rec* in, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "verifyProof", [&] {
    abi::In i(api(), in);
    return result(out, self<PaymentProvider>(s).verifyProof(abi::getPayment(i.child(MLP_K_PAYMENT)),
                                                            i.s(MLP_K_TEXT)));
  });
}
inline std::int32_t requestPush(void* s, const mlp_rec* in, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "requestPush", [&] {
    abi::In i(api(), in);
    auto r = self<PaymentProvider>(s).requestPush(abi::getPayment(i.child(MLP_K_PAYMENT)),
                                                  i.s(MLP_K_MSISDN));
    if (!r.ok()) return fail(out, r.error());
    abi::put(abi::Out(api(), out).add(MLP_K_ACTION), r.value());
    return MLP_OK;
  });
}
inline std::int32_t routes(void* s, const mlp_rec*, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "routes", [&] {
    self<PaymentProvider>(s).routes(static_cast<ObjBox*>(s)->host->router());
    return MLP_OK;
  });
}
inline std::int32_t simulator(void* s, const mlp_rec*, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "simulator", [&] {
    self<PaymentProvider>(s).simulator(static_cast<ObjBox*>(s)->host->router());
    return MLP_OK;
  });
}

// 1.1: refunds and cancel.
inline std::int32_t refund(void* s, const mlp_rec* in, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "refund", [&] {
    abi::In i(api(), in);
    return result(out,
                  self<PaymentProvider>(s).refund(abi::getPayment(i.child(MLP_K_PAYMENT)),
                                                  abi::getRefundRequest(i.child(MLP_K_REFUND))));
  });
}
inline std::int32_t queryRefund(void* s, const mlp_rec* in, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "queryRefund", [&] {
    abi::In i(api(), in);
    return result(
        out, self<PaymentProvider>(s).queryRefund(abi::getPayment(i.child(MLP_K_PAYMENT)),
                                                  abi::getRefundRequest(i.child(MLP_K_REFUND))));
  });
}
inline std::int32_t cancel(void* s, const mlp_rec* in, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "cancel", [&] {
    return result(out, self<PaymentProvider>(s).cancel(
                           abi::getPayment(abi::In(api(), in).child(MLP_K_PAYMENT))));
  });
}

// 1.1: the sandbox driver.
inline std::int32_t sandboxPay(void* s, const mlp_rec* in, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "sandboxPay", [&] {
    abi::In i(api(), in);
    auto r = self<PaymentProvider>(s).sandboxPay(abi::getPayment(i.child(MLP_K_PAYMENT)),
                                                 abi::getSandboxPayment(i));
    if (!r.ok()) return fail(out, r.error());
    abi::Out o(api(), out);
    o.s(MLP_K_SB_TXN, r.value().txnId);
    for (const auto& w : r.value().webhooks) abi::put(o.add(MLP_K_ITEMS), w);
    o.pairs(MLP_K_SB_NOT_APPLICABLE, r.value().notApplicable);
    return MLP_OK;
  });
}
inline std::int32_t sandboxFault(void* s, const mlp_rec* in, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "sandboxFault", [&] {
    abi::In i(api(), in);
    Status r = self<PaymentProvider>(s).sandboxFault(i.s(MLP_K_SB_FAULT),
                                                     static_cast<int>(i.i(MLP_K_SB_COUNT, 1)));
    return r.ok() ? MLP_OK : fail(out, r.error());
  });
}

inline std::int32_t sandboxSale(void* s, const mlp_rec* in, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "sandboxSale", [&] {
    auto r = self<PaymentProvider>(s).sandboxSale(
        abi::getCreate(abi::In(api(), in).child(MLP_K_CREATE)));
    if (!r.ok()) return fail(out, r.error());
    abi::put(abi::Out(api(), out).add(MLP_K_PAYMENT), r.value());
    return MLP_OK;
  });
}

inline std::int32_t outcome(mlp_rec* out, const JobOutcome& r) {
  abi::put(abi::Out(api(), out), r);
  return MLP_OK;
}
inline std::int32_t settled(void* s, const mlp_rec* in, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "onPaymentSettled", [&] {
    return outcome(out, self<Product>(s).onPaymentSettled(
                            abi::getPayment(abi::In(api(), in).child(MLP_K_PAYMENT))));
  });
}
inline std::int32_t settledInTx(void* s, const mlp_rec* in, mlp_rec* out, mlp_tx* t) noexcept {
  return guard(out, "onPaymentSettledInTx", [&] {
    mlp_host* h = static_cast<ObjBox*>(s)->host->handle();
    AbiTx tx(h, t, engineOf(h));
    return outcome(out, self<Product>(s).onPaymentSettledInTx(
                            abi::getPayment(abi::In(api(), in).child(MLP_K_PAYMENT)), tx));
  });
}
inline std::int32_t failed(void* s, const mlp_rec* in, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "onPaymentFailed", [&] {
    return outcome(out, self<Product>(s).onPaymentFailed(
                            abi::getPayment(abi::In(api(), in).child(MLP_K_PAYMENT))));
  });
}
inline std::int32_t catalog(void* s, const mlp_rec* in, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "catalog", [&] {
    abi::Out o(api(), out);
    for (const auto& item : self<Product>(s).catalog(abi::In(api(), in).s(MLP_K_CHANNEL)))
      abi::put(o.add(MLP_K_ITEMS), item);
    return MLP_OK;
  });
}
inline std::int32_t accountSummary(void* s, const mlp_rec* in, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "accountSummary", [&] {
    return textResult(out,
                      self<Product>(s).accountSummary(abi::In(api(), in).s(MLP_K_CUST_ACCOUNT)));
  });
}
inline std::int32_t channelSale(void* s, const mlp_rec* in, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "prepareChannelSale", [&] {
    abi::In i(api(), in);
    return textResult(
        out, self<Product>(s).prepareChannelSale(abi::getItem(i.child(MLP_K_ITEM)),
                                                 abi::getCustomer(i.child(MLP_K_CUSTOMER))));
  });
}

// 1.1: refunds.
inline std::int32_t checkRefund(void* s, const mlp_rec* in, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "checkRefund", [&] {
    abi::In i(api(), in);
    Status r = self<Product>(s).checkRefund(abi::getPayment(i.child(MLP_K_PAYMENT)),
                                            abi::getRefund(i.child(MLP_K_REFUND)));
    return r.ok() ? MLP_OK : fail(out, r.error());
  });
}
inline std::int32_t refunded(void* s, const mlp_rec* in, mlp_rec* out, mlp_tx*) noexcept {
  return guard(out, "onPaymentRefunded", [&] {
    abi::In i(api(), in);
    return outcome(out, self<Product>(s).onPaymentRefunded(abi::getPayment(i.child(MLP_K_PAYMENT)),
                                                           abi::getRefund(i.child(MLP_K_REFUND))));
  });
}

}  // namespace hooks

class AbiRegistrar final : public Registrar {
 public:
  explicit AbiRegistrar(AbiHost& host) : host_(host) {}
  Host& host() override { return host_; }
  void addComponent(std::shared_ptr<Component> component) override {
    if (component) add(MLP_OBJ_COMPONENT, "", std::move(component));
  }
  void addProvider(std::shared_ptr<PaymentProvider> provider) override {
    if (!provider) return;
    std::string name = provider->name();
    mlp_object* o = add(MLP_OBJ_PROVIDER, name, provider);
    hook(o, MLP_HOOK_CAPABILITIES, &hooks::capabilities);
    hook(o, MLP_HOOK_INITIATE, &hooks::initiate);
    hook(o, MLP_HOOK_QUERY, &hooks::query);
    hook(o, MLP_HOOK_PARSE_WEBHOOK, &hooks::parseWebhook);
    hook(o, MLP_HOOK_VERIFY_PROOF, &hooks::verifyProof);
    hook(o, MLP_HOOK_REQUEST_PUSH, &hooks::requestPush);
    hook(o, MLP_HOOK_ROUTES, &hooks::routes);
    hook(o, MLP_HOOK_SIMULATOR, &hooks::simulator);
    hook(o, MLP_HOOK_REFUND, &hooks::refund);
    hook(o, MLP_HOOK_QUERY_REFUND, &hooks::queryRefund);
    hook(o, MLP_HOOK_CANCEL, &hooks::cancel);
    hook(o, MLP_HOOK_SANDBOX_PAY, &hooks::sandboxPay);
    hook(o, MLP_HOOK_SANDBOX_FAULT, &hooks::sandboxFault);
    hook(o, MLP_HOOK_WEBHOOK_STORED, &hooks::webhookStored);
    hook(o, MLP_HOOK_SANDBOX_SALE, &hooks::sandboxSale);
  }
  void addProduct(std::shared_ptr<Product> product) override {
    if (!product) return;
    std::string name = product->name();
    bool inTx = product->deliversInTransaction();
    mlp_object* o = add(MLP_OBJ_PRODUCT, name, product);
    hook(o, MLP_HOOK_SETTLED, &hooks::settled);
    hook(o, MLP_HOOK_SETTLED_IN_TX, &hooks::settledInTx);
    hook(o, MLP_HOOK_FAILED, &hooks::failed);
    hook(o, MLP_HOOK_CATALOG, &hooks::catalog);
    hook(o, MLP_HOOK_ACCOUNT_SUMMARY, &hooks::accountSummary);
    hook(o, MLP_HOOK_CHANNEL_SALE, &hooks::channelSale);
    hook(o, MLP_HOOK_CHECK_REFUND, &hooks::checkRefund);
    hook(o, MLP_HOOK_REFUNDED, &hooks::refunded);
    if (api().object_flag(o, MLP_FLAG_DELIVERS_IN_TX, inTx ? 1 : 0) != MLP_OK)
      throw std::logic_error("the kernel does not offer transactional delivery");
  }

 private:
  mlp_object* add(std::int32_t kind, const std::string& name,
                  std::shared_ptr<Component> component) {
    auto* box = new ObjBox{std::move(component), &host_};
    abi::Owned err(api());
    mlp_object* o = api().object_add(
        host_.handle(), kind, abi::view(name), box, [](void* s) { delete static_cast<ObjBox*>(s); },
        err.get());
    if (!o) {
      delete box;
      throw std::logic_error(errorText(err, MLP_FAIL, "object_add"));
    }
    hook(o, MLP_HOOK_MIGRATIONS, &hooks::migrations);
    hook(o, MLP_HOOK_START, &hooks::start);
    hook(o, MLP_HOOK_STOP, &hooks::stop);
    return o;
  }
  void hook(mlp_object* o, std::uint32_t id, mlp_hook_fn fn) {
    if (api().object_hook(o, id, fn) != MLP_OK)
      throw std::logic_error("the kernel does not offer hook " + std::to_string(id));
  }
  AbiHost& host_;
};

// ---- loading -----------------------------------------------------------------------------

struct PluginFunctions {
  SchemaNode (*schema)();
  void (*registerPlugin)(Registrar&);
};

inline std::int32_t registerHook(void* fns, mlp_host* h, mlp_rec* err) noexcept {
  return guard(err, "register", [&] {
    auto* host = new AbiHost(h);  // lives as long as the process: the kernel never unloads a plugin
    AbiRegistrar registrar(*host);
    static_cast<PluginFunctions*>(fns)->registerPlugin(registrar);
    return MLP_OK;
  });
}

// What MALIPO_PLUGIN's entry point does: remember the kernel's table, describe the settings,
// leave the register function for later. The kernel checked the version note already; this
// checks the table once more (a loader that skipped the note).
inline std::int32_t init(const mlp_api_v1* a, mlp_plugin* plugin, std::uint32_t wantMajor,
                         std::uint32_t wantMinor, SchemaNode (*schema)(),
                         void (*registerPlugin)(Registrar&)) noexcept {
  if (!a || a->major != wantMajor || a->minor < wantMinor) return MLP_FAIL;
  apiSlot() = a;
  mlp_rec* out = a->plugin_schema(plugin);
  std::int32_t rc = guard(out, "the settings schema", [&] {
    abi::put(abi::Out(*a, out), schema());
    return MLP_OK;
  });
  if (rc != MLP_OK) return rc;
  static PluginFunctions fns{schema, registerPlugin};
  a->plugin_on_register(plugin, &registerHook, &fns);
  return MLP_OK;
}

}  // namespace malipo::sdk
