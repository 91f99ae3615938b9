#include "plugins/Abi.hpp"

#include <Poco/JSON/Stringifier.h>

#include <sstream>
#include <stdexcept>

#include "http/PagesImpl.hpp"
#include "plugins/KernelServices.hpp"
#include "plugins/PluginManager.hpp"

namespace malipo {

namespace {

using abi::In;
using abi::Out;
using abi::Owned;

const mlp_str kEmpty{"", 0};

using abi::str;
using abi::view;

std::int32_t failWith(mlp_rec* err, ErrorCode code, const std::string& internal,
                      const std::string& external = {}) {
  if (err)
    abi::put(Out(kernelApi(), err),
             Error::make(code, internal, external.empty() ? "internal error" : external));
  return MLP_FAIL;
}
std::int32_t failWith(mlp_rec* err, const Error& e) {
  if (err) abi::put(Out(kernelApi(), err), e);
  return MLP_FAIL;
}

// Runs a host function's body; no exception leaves it.
template <class Fn>
std::int32_t hostCall(mlp_rec* err, const char* what, Fn&& fn) noexcept {
  try {
    try {
      return fn();
    } catch (const std::exception& e) {
      return failWith(err, ErrorCode::internal, std::string(what) + ": " + e.what());
    } catch (...) {
      return failWith(err, ErrorCode::internal, std::string(what) + ": unknown failure");
    }
  } catch (...) {
    return MLP_FAIL;
  }
}

// A plugin callback with its `self`, released when the last holder goes.
struct Callback {
  Callback(void* s, mlp_release_fn r) : self(s), release(r) {}
  Callback(const Callback&) = delete;
  Callback& operator=(const Callback&) = delete;
  ~Callback() {
    if (release) release(self);
  }
  void* self;
  mlp_release_fn release;
};

// ---- records -----------------------------------------------------------------------------

mlp_rec* recNew() noexcept {
  try {
    auto* r = new mlp_rec;
    r->fields.reserve(8);  // most records have a few keys: one allocation, no moves
    return r;
  } catch (...) {
    return nullptr;
  }
}
void recFree(mlp_rec* r) noexcept {
  delete r;
}
std::int32_t recHas(const mlp_rec* r, std::uint32_t key) noexcept {
  return r && r->find(key) ? 1 : 0;
}
mlp_str sv(std::string_view v) {
  return mlp_str{v.data() ? v.data() : "", v.size()};
}

mlp_str recStr(const mlp_rec* r, std::uint32_t key) noexcept {
  const auto* f = r ? r->find(key) : nullptr;
  return f && f->kind == mlp_rec::Kind::str ? sv(f->str()) : kEmpty;
}
std::int64_t recI64(const mlp_rec* r, std::uint32_t key, std::int64_t dflt) noexcept {
  const auto* f = r ? r->find(key) : nullptr;
  return f && f->kind == mlp_rec::Kind::i64 ? f->i : dflt;
}
std::uint32_t recCount(const mlp_rec* r, std::uint32_t key) noexcept {
  const auto* f = r ? r->find(key) : nullptr;
  if (!f) return 0;
  if (f->kind == mlp_rec::Kind::strs) return static_cast<std::uint32_t>(f->strCount());
  if (f->kind == mlp_rec::Kind::recs) return static_cast<std::uint32_t>(f->children.size());
  return 0;
}
mlp_str recStrAt(const mlp_rec* r, std::uint32_t key, std::uint32_t i) noexcept {
  const auto* f = r ? r->find(key) : nullptr;
  return f && f->kind == mlp_rec::Kind::strs && i < f->strCount() ? sv(f->strAt(i)) : kEmpty;
}
const mlp_rec* recAt(const mlp_rec* r, std::uint32_t key, std::uint32_t i) noexcept {
  const auto* f = r ? r->find(key) : nullptr;
  return f && f->kind == mlp_rec::Kind::recs && i < f->children.size() ? f->children[i].get()
                                                                       : nullptr;
}
void recSetStr(mlp_rec* r, std::uint32_t key, mlp_str v) noexcept {
  if (!r) return;
  try {
    auto& f = r->slot(key, mlp_rec::Kind::str);
    f.borrowed = false;
    f.s.assign(v.ptr ? v.ptr : "", v.ptr ? v.len : 0);
  } catch (...) {
  }
}
void recSetI64(mlp_rec* r, std::uint32_t key, std::int64_t v) noexcept {
  if (!r) return;
  try {
    r->slot(key, mlp_rec::Kind::i64).i = v;
  } catch (...) {
  }
}
void recAddStr(mlp_rec* r, std::uint32_t key, mlp_str v) noexcept {
  if (!r) return;
  try {
    auto& f = r->slot(key, mlp_rec::Kind::strs);
    if (!f.views.empty()) {  // a borrowed list the plugin appends to: own it from here
      for (auto x : f.views) f.list.emplace_back(x);
      f.views.clear();
    }
    f.list.emplace_back(v.ptr ? v.ptr : "", v.ptr ? v.len : 0);
  } catch (...) {
  }
}
mlp_rec* recAdd(mlp_rec* r, std::uint32_t key) noexcept {
  if (!r) return nullptr;
  try {
    auto& f = r->slot(key, mlp_rec::Kind::recs);
    f.children.push_back(std::make_unique<mlp_rec>());
    return f.children.back().get();
  } catch (...) {
    return nullptr;
  }
}

// ---- loading and registration ------------------------------------------------------------

mlp_rec* pluginSchema(mlp_plugin* p) noexcept {
  return p ? &p->schema : nullptr;
}
void pluginOnRegister(mlp_plugin* p, mlp_register_fn fn, void* self) noexcept {
  if (!p) return;
  p->registerFn = fn;
  p->registerSelf = self;
}

// The kernel objects standing for a plugin's objects. Hooks the plugin did not set get the
// C++ SDK's default behaviour.
std::int32_t callHook(const mlp_object& o, std::uint32_t hook, const mlp_rec* in, mlp_rec* out,
                      mlp_tx* tx) {
  auto it = o.hooks.find(hook);
  if (it == o.hooks.end() || !it->second) return 0;
  return it->second(o.self, in, out, tx);
}

// A hook with no answer value (start, stop, routes): a failure is an exception, as in C++.
void callVoid(const mlp_object& o, std::uint32_t hook, const char* what) {
  Owned out(kernelApi());
  std::int32_t rc = callHook(o, hook, nullptr, out.get(), nullptr);
  if (rc == 0 || rc == MLP_OK) return;
  throw std::runtime_error(abi::getError(out.in(), rc, what).internal);
}

std::vector<Migration> callMigrations(const mlp_object& o) {
  Owned out(kernelApi());
  std::int32_t rc = callHook(o, MLP_HOOK_MIGRATIONS, nullptr, out.get(), nullptr);
  if (rc == 0) return {};
  if (rc != MLP_OK)
    throw DbError("migrations: " + abi::getError(out.in(), rc, "migrations").internal);
  std::vector<Migration> ms;
  In in = out.in();
  for (std::uint32_t i = 0; i < in.count(MLP_K_ITEMS); ++i)
    ms.push_back(abi::getMigration(in.child(MLP_K_ITEMS, i)));
  return ms;
}

template <class Base>
class Hooked : public Base {
 public:
  explicit Hooked(std::shared_ptr<mlp_object> o) : o_(std::move(o)) {}
  std::vector<Migration> migrations() const override { return callMigrations(*o_); }
  void start() override { callVoid(*o_, MLP_HOOK_START, "start"); }
  void stop() override { callVoid(*o_, MLP_HOOK_STOP, "stop"); }

 protected:
  // Calls `hook` with an input record filled by `fill`; the answer in `out`. Returns the
  // error for a failure, and `missing` when the plugin did not set the hook.
  template <class Fill>
  std::optional<Error> call(std::uint32_t hook, const Owned& out, Fill&& fill, const char* what,
                            mlp_tx* tx = nullptr) const {
    Owned in(kernelApi());
    fill(in.out());
    std::int32_t rc = callHook(*o_, hook, in.get(), out.get(), tx);
    if (rc == MLP_OK) return std::nullopt;
    if (rc == 0)
      return Error::make(ErrorCode::internal, std::string("the plugin has no ") + what + " hook");
    return abi::getError(out.in(), rc, what);
  }
  bool has(std::uint32_t hook) const { return o_->hooks.count(hook) && o_->hooks.at(hook); }
  std::shared_ptr<mlp_object> o_;
};

class PluginComponent final : public Hooked<Component> {
 public:
  using Hooked::Hooked;
};

class PluginProvider final : public Hooked<PaymentProvider> {
 public:
  using Hooked::Hooked;
  std::string name() const override { return o_->name; }
  Capabilities capabilities() const override {
    Owned out(kernelApi());
    if (call(
            MLP_HOOK_CAPABILITIES, out, [](Out) {}, "capabilities"))
      return {};
    return abi::getCapabilities(out.in());
  }
  Result<InitiateResult> initiate(const Payment& payment, const CreatePayment& request) override {
    Owned out(kernelApi());
    if (auto e = call(
            MLP_HOOK_INITIATE, out,
            [&](Out in) {
              abi::put(in.add(MLP_K_PAYMENT), payment);
              abi::put(in.add(MLP_K_CREATE), request);
            },
            "initiate"))
      return *e;
    return abi::getInitiate(out.in());
  }
  Result<ProviderStatus> query(const Payment& payment) override {
    Owned out(kernelApi());
    if (auto e = call(
            MLP_HOOK_QUERY, out, [&](Out in) { abi::put(in.add(MLP_K_PAYMENT), payment); },
            "query"))
      return *e;
    return abi::getStatus(out.in());
  }
  Result<std::vector<WebhookEvent>> parseWebhook(const Request& request) override {
    auto r = parseWebhookReply(request);
    if (!r.ok()) return r.error();
    return std::move(r.value().events);
  }
  // 1.1: the events and, when the plugin says, the answer to the sender.
  Result<ParsedWebhook> parseWebhookReply(const Request& request) override {
    Owned out(kernelApi());
    if (auto e = call(
            MLP_HOOK_PARSE_WEBHOOK, out, [&](Out in) { abi::put(in.add(MLP_K_REQUEST), request); },
            "parseWebhook"))
      return *e;
    ParsedWebhook parsed;
    In o = out.in();
    for (std::uint32_t i = 0; i < o.count(MLP_K_ITEMS); ++i)
      parsed.events.push_back(abi::getEvent(o.child(MLP_K_ITEMS, i)));
    if (o.count(MLP_K_RESPONSE)) {
      if (!abi::getResponse(o.child(MLP_K_RESPONSE), parsed.reply))
        return Error::make(ErrorCode::internal,
                           "parseWebhook answered a reply with no HTTP status");
      parsed.hasReply = true;
    }
    return parsed;
  }
  Status onWebhookStored(const Request& request, const std::vector<WebhookEvent>& fresh,
                         Tx& tx) override {
    if (!has(MLP_HOOK_WEBHOOK_STORED)) return okStatus();
    mlp_tx t{&tx, nullptr};
    Owned out(kernelApi());
    auto e = call(
        MLP_HOOK_WEBHOOK_STORED, out,
        [&](Out in) {
          abi::put(in.add(MLP_K_REQUEST), request);
          for (const auto& ev : fresh) {
            Out item = in.add(MLP_K_ITEMS);
            abi::put(item, ev);
            item.s(MLP_K_WH_PAYMENT_ID, ev.paymentId);
          }
        },
        "onWebhookStored", &t);
    if (e && t.failure) std::rethrow_exception(t.failure);  // the store decides on retries
    if (e) return *e;
    return okStatus();
  }
  Result<ProviderStatus> verifyProof(const Payment& payment, const std::string& text) override {
    if (!has(MLP_HOOK_VERIFY_PROOF)) return PaymentProvider::verifyProof(payment, text);
    Owned out(kernelApi());
    if (auto e = call(
            MLP_HOOK_VERIFY_PROOF, out,
            [&](Out in) {
              abi::put(in.add(MLP_K_PAYMENT), payment);
              in.s(MLP_K_TEXT, text);
            },
            "verifyProof"))
      return *e;
    return abi::getStatus(out.in());
  }
  Result<NextAction> requestPush(const Payment& payment, const std::string& msisdn) override {
    if (!has(MLP_HOOK_REQUEST_PUSH)) return PaymentProvider::requestPush(payment, msisdn);
    Owned out(kernelApi());
    if (auto e = call(
            MLP_HOOK_REQUEST_PUSH, out,
            [&](Out in) {
              abi::put(in.add(MLP_K_PAYMENT), payment);
              in.s(MLP_K_MSISDN, msisdn);
            },
            "requestPush"))
      return *e;
    return abi::getAction(out.in().child(MLP_K_ACTION));
  }
  // 1.1: refunds and cancel (a 1.0 plugin has no such hooks: the SDK's defaults answer).
  Result<RefundStatus> refund(const Payment& payment, const RefundRequest& request) override {
    if (!has(MLP_HOOK_REFUND)) return PaymentProvider::refund(payment, request);
    return refundCall(MLP_HOOK_REFUND, payment, request, "refund");
  }
  Result<RefundStatus> queryRefund(const Payment& payment, const RefundRequest& request) override {
    if (!has(MLP_HOOK_QUERY_REFUND)) return PaymentProvider::queryRefund(payment, request);
    return refundCall(MLP_HOOK_QUERY_REFUND, payment, request, "queryRefund");
  }
  Result<ProviderStatus> cancel(const Payment& payment) override {
    if (!has(MLP_HOOK_CANCEL)) return PaymentProvider::cancel(payment);
    Owned out(kernelApi());
    if (auto e = call(
            MLP_HOOK_CANCEL, out, [&](Out in) { abi::put(in.add(MLP_K_PAYMENT), payment); },
            "cancel"))
      return *e;
    return abi::getStatus(out.in());
  }
  Result<SandboxResult> sandboxPay(const Payment& payment, const SandboxPayment& how) override {
    if (!has(MLP_HOOK_SANDBOX_PAY)) return PaymentProvider::sandboxPay(payment, how);
    Owned out(kernelApi());
    if (auto e = call(
            MLP_HOOK_SANDBOX_PAY, out,
            [&](Out in) {
              abi::put(in.add(MLP_K_PAYMENT), payment);
              abi::put(in, how);
            },
            "sandboxPay"))
      return *e;
    SandboxResult r;
    In o = out.in();
    r.txnId = o.s(MLP_K_SB_TXN);
    for (std::uint32_t i = 0; i < o.count(MLP_K_ITEMS); ++i)
      r.webhooks.push_back(abi::getRequest(o.child(MLP_K_ITEMS, i)));
    o.pairs(MLP_K_SB_NOT_APPLICABLE,
            [&](std::string k, std::string v) { r.notApplicable[std::move(k)] = std::move(v); });
    return r;
  }
  Status sandboxFault(const std::string& fault, int count) override {
    if (!has(MLP_HOOK_SANDBOX_FAULT)) return PaymentProvider::sandboxFault(fault, count);
    Owned out(kernelApi());
    if (auto e = call(
            MLP_HOOK_SANDBOX_FAULT, out,
            [&](Out in) {
              in.s(MLP_K_SB_FAULT, fault);
              in.i(MLP_K_SB_COUNT, count);
            },
            "sandboxFault"))
      return *e;
    return okStatus();
  }
  Result<Payment> sandboxSale(const CreatePayment& draft) override {
    if (!has(MLP_HOOK_SANDBOX_SALE)) return PaymentProvider::sandboxSale(draft);
    Owned out(kernelApi());
    if (auto e = call(
            MLP_HOOK_SANDBOX_SALE, out, [&](Out in) { abi::put(in.add(MLP_K_CREATE), draft); },
            "sandboxSale"))
      return *e;
    return abi::getPayment(out.in().child(MLP_K_PAYMENT));
  }
  // The plugin adds its routes through its own host (route_add): the same router.
  void routes(Router&) override { callVoid(*o_, MLP_HOOK_ROUTES, "routes"); }
  void simulator(Router&) override { callVoid(*o_, MLP_HOOK_SIMULATOR, "simulator"); }

 private:
  Result<RefundStatus> refundCall(std::uint32_t hook, const Payment& payment,
                                  const RefundRequest& request, const char* what) {
    Owned out(kernelApi());
    if (auto e = call(
            hook, out,
            [&](Out in) {
              abi::put(in.add(MLP_K_PAYMENT), payment);
              abi::put(in.add(MLP_K_REFUND), request);
            },
            what))
      return *e;
    return abi::getRefundStatus(out.in());
  }
};

class PluginProduct final : public Hooked<Product> {
 public:
  using Hooked::Hooked;
  std::string name() const override { return o_->name; }
  JobOutcome onPaymentSettled(const Payment& payment) override {
    return outcome(MLP_HOOK_SETTLED, payment, nullptr);
  }
  bool deliversInTransaction() const override {
    return o_->deliversInTx && has(MLP_HOOK_SETTLED_IN_TX);
  }
  JobOutcome onPaymentSettledInTx(const Payment& payment, Tx& tx) override {
    mlp_tx t{&tx, nullptr};
    JobOutcome r = outcome(MLP_HOOK_SETTLED_IN_TX, payment, &t);
    if (r.kind != JobOutcome::Kind::done && t.failure)
      std::rethrow_exception(t.failure);  // the store decides on retries
    return r;
  }
  JobOutcome onPaymentFailed(const Payment& payment) override {
    if (!has(MLP_HOOK_FAILED)) return JobOutcome::ok();
    return outcome(MLP_HOOK_FAILED, payment, nullptr);
  }
  std::vector<CatalogItem> catalog(const std::string& channel) const override {
    std::vector<CatalogItem> items;
    if (!has(MLP_HOOK_CATALOG)) return items;
    Owned out(kernelApi());
    if (call(
            MLP_HOOK_CATALOG, out, [&](Out in) { in.s(MLP_K_CHANNEL, channel); }, "catalog"))
      return items;
    In o = out.in();
    for (std::uint32_t i = 0; i < o.count(MLP_K_ITEMS); ++i)
      items.push_back(abi::getItem(o.child(MLP_K_ITEMS, i)));
    return items;
  }
  Result<std::string> accountSummary(const std::string& accountId) override {
    if (!has(MLP_HOOK_ACCOUNT_SUMMARY)) return Product::accountSummary(accountId);
    return text(
        MLP_HOOK_ACCOUNT_SUMMARY, [&](Out in) { in.s(MLP_K_CUST_ACCOUNT, accountId); },
        "accountSummary");
  }
  Result<std::string> prepareChannelSale(const CatalogItem& item,
                                         const Customer& account) override {
    if (!has(MLP_HOOK_CHANNEL_SALE)) return Product::prepareChannelSale(item, account);
    return text(
        MLP_HOOK_CHANNEL_SALE,
        [&](Out in) {
          abi::put(in.add(MLP_K_ITEM), item);
          abi::put(in.add(MLP_K_CUSTOMER), account);
        },
        "prepareChannelSale");
  }
  // 1.1: refunds (a 1.0 plugin has no such hooks: nothing to refuse, nothing to take back).
  Status checkRefund(const Payment& payment, const Refund& refund) override {
    if (!has(MLP_HOOK_CHECK_REFUND)) return okStatus();
    Owned out(kernelApi());
    if (auto e = call(
            MLP_HOOK_CHECK_REFUND, out,
            [&](Out in) {
              abi::put(in.add(MLP_K_PAYMENT), payment);
              abi::put(in.add(MLP_K_REFUND), refund);
            },
            "checkRefund"))
      return *e;
    return okStatus();
  }
  JobOutcome onPaymentRefunded(const Payment& payment, const Refund& refund) override {
    if (!has(MLP_HOOK_REFUNDED)) return JobOutcome::ok();
    Owned out(kernelApi());
    if (auto e = call(
            MLP_HOOK_REFUNDED, out,
            [&](Out in) {
              abi::put(in.add(MLP_K_PAYMENT), payment);
              abi::put(in.add(MLP_K_REFUND), refund);
            },
            "onPaymentRefunded"))
      return JobOutcome::retry(e->internal);
    return abi::getOutcome(out.in());
  }

 private:
  JobOutcome outcome(std::uint32_t hook, const Payment& payment, mlp_tx* tx) {
    Owned out(kernelApi());
    if (auto e = call(
            hook, out, [&](Out in) { abi::put(in.add(MLP_K_PAYMENT), payment); }, "delivery", tx))
      return JobOutcome::retry(e->internal);
    return abi::getOutcome(out.in());
  }
  template <class Fill>
  Result<std::string> text(std::uint32_t hook, Fill&& fill, const char* what) {
    Owned out(kernelApi());
    if (auto e = call(hook, out, fill, what)) return *e;
    return out.in().s(MLP_K_TEXT);
  }
};

mlp_object* objectAdd(mlp_host* h, std::int32_t kind, mlp_str name, void* self,
                      mlp_release_fn release, mlp_rec* err) noexcept {
  try {
    if (!h || !h->plugin) {
      failWith(err, ErrorCode::internal, "objects are registered only from the register function");
      return nullptr;
    }
    LoadedPlugin& p = *h->plugin;
    auto o = std::make_shared<mlp_object>();
    o->kind = kind;
    o->name = str(name);
    o->self = self;
    o->host = h;
    mlp_object* raw = o.get();
    switch (kind) {
      case MLP_OBJ_COMPONENT:
        p.components.push_back(std::make_shared<PluginComponent>(o));
        break;
      case MLP_OBJ_PROVIDER: {
        if (o->name != p.config.name) {
          failWith(
              err, ErrorCode::internal,
              "the provider is named '" + o->name + "' but the plugin '" + p.config.name + "'");
          return nullptr;
        }
        auto prov = std::make_shared<PluginProvider>(o);
        p.components.push_back(prov);
        p.providers.push_back(prov);
        break;
      }
      case MLP_OBJ_PRODUCT: {
        if (o->name.empty()) {
          failWith(err, ErrorCode::internal, "a product needs a name");
          return nullptr;
        }
        auto prod = std::make_shared<PluginProduct>(o);
        p.components.push_back(prod);
        p.products.push_back(prod);
        break;
      }
      default:
        failWith(err, ErrorCode::internal, "unknown object kind " + std::to_string(kind));
        return nullptr;
    }
    o->release = release;  // from here on the kernel owns `self`
    return raw;
  } catch (const std::exception& e) {
    failWith(err, ErrorCode::internal, e.what());
    return nullptr;
  }
}

bool knownHook(std::int32_t kind, std::uint32_t hook) {
  if (hook == MLP_HOOK_MIGRATIONS || hook == MLP_HOOK_START || hook == MLP_HOOK_STOP) return true;
  if (kind == MLP_OBJ_PROVIDER)
    return hook >= MLP_HOOK_CAPABILITIES && hook <= MLP_HOOK_SANDBOX_SALE;
  if (kind == MLP_OBJ_PRODUCT) return hook >= MLP_HOOK_SETTLED && hook <= MLP_HOOK_REFUNDED;
  return false;
}

std::int32_t objectHook(mlp_object* o, std::uint32_t hook, mlp_hook_fn fn) noexcept {
  if (!o || !knownHook(o->kind, hook)) return MLP_FAIL;
  try {
    o->hooks[hook] = fn;
    return MLP_OK;
  } catch (...) {
    return MLP_FAIL;
  }
}

std::int32_t objectFlag(mlp_object* o, std::uint32_t flag, std::int64_t value) noexcept {
  if (!o) return MLP_FAIL;
  if (flag == MLP_FLAG_DELIVERS_IN_TX && o->kind == MLP_OBJ_PRODUCT) {
    o->deliversInTx = value == 1;
    return MLP_OK;
  }
  return MLP_FAIL;
}

// ---- host information, clock, log, metrics -----------------------------------------------

mlp_str hostInfo(mlp_host* h, std::uint32_t key) noexcept {
  if (!h) return kEmpty;
  switch (key) {
    case MLP_INFO_PLUGIN_NAME:
      return view(h->name);
    case MLP_INFO_SETTINGS_JSON:
      return view(h->settingsJson);
    case MLP_INFO_PUBLIC_URL:
      return view(h->k->publicUrl);  // final once the server bound its port
    case MLP_INFO_BRAND_NAME:
      return view(h->brandName);
    case MLP_INFO_BRAND_PHONE:
      return view(h->brandPhone);
    case MLP_INFO_BRAND_EMAIL:
      return view(h->brandEmail);
    case MLP_INFO_KERNEL_VERSION:
      return view(h->kernelVersion);
    default:
      return kEmpty;
  }
}
std::int64_t hostFlag(mlp_host* h, std::uint32_t key) noexcept {
  return h && key == MLP_INFO_SANDBOX && h->sandbox ? 1 : 0;
}
std::int64_t clockNow(mlp_host* h) noexcept {
  try {
    return h->k->clock->nowMs();
  } catch (...) {
    return 0;
  }
}
void logLine(mlp_host* h, std::int32_t level, mlp_str component, mlp_str message) noexcept {
  try {
    LogLevel l = level == MLP_LOG_DEBUG     ? LogLevel::debug
                 : level == MLP_LOG_INFO    ? LogLevel::info
                 : level == MLP_LOG_WARNING ? LogLevel::warning
                                            : LogLevel::error;
    h->k->logger->log(l, str(component), str(message));
  } catch (...) {
  }
}
void metric(mlp_host* h, std::int32_t op, mlp_str name, const mlp_str* labels, std::uint32_t n,
            double value) noexcept {
  try {
    Labels l;
    for (std::uint32_t i = 0; i < n; ++i) l[str(labels[2 * i])] = str(labels[2 * i + 1]);
    Metrics& m = *h->k->metrics;
    if (op == MLP_METRIC_INCREMENT)
      m.increment(str(name), l, value);
    else if (op == MLP_METRIC_GAUGE)
      m.setGauge(str(name), l, value);
    else if (op == MLP_METRIC_OBSERVE)
      m.observe(str(name), l, value);
  } catch (...) {
  }
}
void metricDescribe(mlp_host* h, mlp_str name, mlp_str help, mlp_str type) noexcept {
  try {
    h->k->metrics->describe(str(name), str(help), str(type));
  } catch (...) {
  }
}
void metricCollector(mlp_host* h, mlp_fn fn, void* self, mlp_release_fn release) noexcept {
  auto cb = std::make_shared<Callback>(self, release);
  try {
    h->k->metrics->addCollector([cb, fn](Metrics&) { fn(cb->self); });
  } catch (...) {
  }
}

// ---- routes ------------------------------------------------------------------------------

// The request as a record that borrows the kernel's strings (they outlive the handler call):
// the same keys as abi::put(Out, const Request&), without copying headers and body.
// The handler's answer, its body moved out of the record (abi::getResponse copies).
bool takeResponse(mlp_rec& out, Response& response) {
  mlp_rec::Field* body = nullptr;
  for (auto& f : out.fields)
    if (f.key == MLP_K_RESP_BODY && f.kind == mlp_rec::Kind::str && !f.borrowed) body = &f;
  std::string moved;
  if (body) moved.swap(body->s);
  if (!abi::getResponse(In(kernelApi(), &out), response)) return false;
  response.body = std::move(moved);
  return true;
}

void borrowRequest(mlp_rec& r, const Request& q) {
  r.fields.reserve(10);
  r.borrow(MLP_K_REQ_METHOD, q.method);
  r.borrow(MLP_K_REQ_PATH, q.path);
  r.borrow(MLP_K_REQ_RAW_QUERY, q.rawQuery);
  r.borrowPairs(MLP_K_REQ_QUERY, q.query);
  r.borrowPairs(MLP_K_REQ_PARAMS, q.pathParams);
  r.borrowPairs(MLP_K_REQ_HEADERS, q.headers);
  r.borrow(MLP_K_REQ_BODY, q.body);
  r.borrow(MLP_K_REQ_CLIENT_IP, q.clientIp);
  r.borrow(MLP_K_REQ_ID, q.requestId);
  if (q.userId) r.borrow(MLP_K_REQ_USER, *q.userId);
}

std::int32_t routeAdd(mlp_host* h, const mlp_rec* route, mlp_hook_fn fn, void* self,
                      mlp_release_fn release, mlp_rec* err) noexcept {
  return hostCall(err, "route_add", [&] {
    In r(kernelApi(), route);
    RouteOptions options;
    if (!fn || !abi::getRouteOptions(r, options))
      return failWith(err, ErrorCode::invalidInput,
                      "route_add: no handler, or an unknown authentication value");
    auto cb = std::make_shared<Callback>(self, nullptr);
    h->k->router->add(
        r.s(MLP_K_ROUTE_METHOD), r.s(MLP_K_ROUTE_PATTERN),
        [cb, fn](const Request& request) -> Response {
          mlp_rec in, out;
          out.fields.reserve(6);
          borrowRequest(in, request);
          std::int32_t rc = fn(cb->self, &in, &out, nullptr);
          In answer(kernelApi(), &out);
          Response response;
          if (rc == MLP_OK && takeResponse(out, response)) return response;
          if (rc == MLP_OK)
            throw std::runtime_error("the plugin's handler answered an invalid HTTP status " +
                                     std::to_string(answer.i(MLP_K_RESP_STATUS)));
          Error e = abi::getError(answer, rc, "the plugin's handler");
          if (e.code == ErrorCode::internal)
            throw std::runtime_error(e.internal);  // the router's 500 with request id
          return Response::error(e, request.requestId);
        },
        options);
    cb->release = release;  // registered: the kernel owns `self` now
    return MLP_OK;
  });
}

// ---- database ----------------------------------------------------------------------------

}  // namespace
}  // namespace malipo

struct mlp_rows {
  malipo::Rows rows;
};

namespace malipo {
namespace {

std::int32_t dbEngine(mlp_host* h) noexcept {
  try {
    return h->k->db->engine() == Engine::postgresql ? MLP_DB_POSTGRESQL : MLP_DB_SQLITE;
  } catch (...) {
    return MLP_DB_SQLITE;
  }
}

// Parameters, or false (with err) for a value type the kernel does not know.
bool params(const mlp_value* values, std::uint32_t n, Params& out, mlp_rec* err) {
  out.resize(n);
  for (std::uint32_t i = 0; i < n; ++i)
    if (!abi::fromAbi(values[i], out[i])) {
      failWith(err, ErrorCode::internal,
               "parameter " + std::to_string(i + 1) + " has an unknown value type");
      return false;
    }
  return true;
}

struct PluginAbort : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::int32_t dbWrite(mlp_host* h, mlp_tx_fn body, void* self, mlp_rec* err) noexcept {
  return hostCall(err, "db_write", [&] {
    try {
      h->k->db->write([&](Tx& tx) {
        mlp_tx t{&tx, nullptr};
        std::int32_t rc = body(self, &t);
        if (rc == MLP_OK) return;
        if (t.failure) std::rethrow_exception(t.failure);  // the store retries what is retryable
        throw PluginAbort("the plugin's transaction body failed");
      });
    } catch (const PluginAbort& e) {
      return failWith(err, ErrorCode::internal, e.what());
    } catch (const DbError& e) {
      return failWith(err, ErrorCode::unavailable, e.what());
    }
    return MLP_OK;
  });
}

std::int32_t dbExec(mlp_host* h, mlp_tx* t, mlp_str sql, const mlp_value* values, std::uint32_t n,
                    std::int64_t* changed, mlp_rec* err) noexcept {
  return hostCall(err, "db_exec", [&] {
    Params p;
    if (!params(values, n, p, err)) return MLP_FAIL;
    try {
      std::int64_t c = t ? t->tx->exec(str(sql), p) : h->k->db->exec(str(sql), p);
      if (changed) *changed = c;
      return MLP_OK;
    } catch (const std::exception& e) {
      if (t) t->failure = std::current_exception();
      return failWith(err, ErrorCode::unavailable, e.what());
    }
  });
}

std::int32_t dbQuery(mlp_host* h, mlp_tx* t, mlp_str sql, const mlp_value* values, std::uint32_t n,
                     mlp_rows** rows, mlp_rec* err) noexcept {
  return hostCall(err, "db_query", [&] {
    Params p;
    if (!rows || !params(values, n, p, err)) return MLP_FAIL;
    try {
      auto r = std::make_unique<mlp_rows>();
      r->rows = t ? t->tx->query(str(sql), p) : h->k->db->query(str(sql), p);
      *rows = r.release();
      return MLP_OK;
    } catch (const std::exception& e) {
      if (t) t->failure = std::current_exception();
      return failWith(err, ErrorCode::unavailable, e.what());
    }
  });
}

void txOnCommit(mlp_tx* t, mlp_fn fn, void* self, mlp_release_fn release) noexcept {
  auto cb = std::make_shared<Callback>(self, release);
  try {
    t->tx->onCommit([cb, fn] { fn(cb->self); });
  } catch (...) {
  }
}

std::uint32_t rowsColumns(const mlp_rows* r) noexcept {
  return r ? static_cast<std::uint32_t>(r->rows.columns.size()) : 0;
}
std::uint64_t rowsCount(const mlp_rows* r) noexcept {
  return r ? r->rows.rows.size() : 0;
}
mlp_str rowsColumn(const mlp_rows* r, std::uint32_t c) noexcept {
  return r && c < r->rows.columns.size() ? view(r->rows.columns[c]) : kEmpty;
}
void rowsCell(const mlp_rows* r, std::uint64_t row, std::uint32_t c, mlp_value* out) noexcept {
  if (!out) return;
  *out = mlp_value{MLP_V_NULL, 0, 0, 0, kEmpty};
  if (r && row < r->rows.rows.size() && c < r->rows.rows[row].size())
    *out = abi::toAbi(r->rows.rows[row][c]);
}
void rowsFree(mlp_rows* r) noexcept {
  delete r;
}

// ---- jobs --------------------------------------------------------------------------------

std::int32_t jobHandle(mlp_host* h, const mlp_rec* options, mlp_hook_fn fn, void* self,
                       mlp_release_fn release, mlp_rec* err) noexcept {
  return hostCall(err, "job_handle", [&] {
    In o(kernelApi(), options);
    if (!fn) return failWith(err, ErrorCode::invalidInput, "job_handle: no handler");
    auto cb = std::make_shared<Callback>(self, nullptr);
    h->k->jobs->handle(
        o.s(MLP_K_JOB_KIND),
        [cb, fn](const Job& job) {
          Owned in(kernelApi()), out(kernelApi());
          abi::put(in.out(), job);
          std::int32_t rc = fn(cb->self, in.get(), out.get(), nullptr);
          if (rc == MLP_OK) return abi::getOutcome(out.in());
          return JobOutcome::retry(
              abi::getError(out.in(), rc, "the plugin's job handler").internal);
        },
        abi::getKind(o));
    cb->release = release;
    return MLP_OK;
  });
}

std::int32_t jobEvery(mlp_host* h, mlp_str kind, std::int64_t intervalMs, mlp_rec* err) noexcept {
  return hostCall(err, "job_every", [&] {
    h->k->jobs->every(str(kind), intervalMs);
    return MLP_OK;
  });
}

std::int32_t jobEnqueue(mlp_host* h, mlp_tx* t, const mlp_rec* spec, std::int32_t* inserted,
                        mlp_rec* err) noexcept {
  return hostCall(err, "job_enqueue", [&] {
    JobSpec s = abi::getJobSpec(In(kernelApi(), spec));
    try {
      bool created = t ? h->k->jobs->enqueue(*t->tx, s) : h->k->jobs->enqueue(s);
      if (inserted) *inserted = created ? 1 : 0;
      return MLP_OK;
    } catch (const std::exception& e) {
      if (t) t->failure = std::current_exception();
      return failWith(err, ErrorCode::unavailable, e.what());
    }
  });
}

// ---- outbound HTTP, pages ----------------------------------------------------------------

std::int32_t httpSend(mlp_host* h, const mlp_rec* request, mlp_rec* out) noexcept {
  return hostCall(out, "http_send", [&] {
    auto r = h->k->http->send(abi::getOutbound(In(kernelApi(), request)));
    if (!r.ok()) return failWith(out, r.error());
    abi::put(Out(kernelApi(), out), r.value());
    return MLP_OK;
  });
}

// 1.1: pages. The plugin's own catalog (its name) and the requested language.
std::string renderPluginPage(mlp_host* h, const In& i, const Poco::JSON::Object& data) {
  if (auto* p = dynamic_cast<const PagesImpl*>(h->k->pages))
    return p->renderPage(h->name, i.s(MLP_K_PAGE_LANG), i.s(MLP_K_PAGE_TITLE),
                         i.s(MLP_K_PAGE_TEMPLATE), data, i.s(MLP_K_PAGE_HEAD));
  return h->k->pages->render(i.s(MLP_K_PAGE_TITLE), i.s(MLP_K_PAGE_TEMPLATE), data,
                             i.s(MLP_K_PAGE_HEAD));
}

std::int32_t pageRender(mlp_host* h, const mlp_rec* in, mlp_rec* out) noexcept {
  return hostCall(out, "page_render", [&] {
    In i(kernelApi(), in);
    auto data = parseJsonObject(i.s(MLP_K_PAGE_DATA));
    if (!data) data = new Poco::JSON::Object;
    std::string html = renderPluginPage(h, i, *data);
    Out(kernelApi(), out).s(MLP_K_TEXT, html);
    return MLP_OK;
  });
}

std::int32_t pageI18n(mlp_host* h, std::uint32_t op, const mlp_rec* in, mlp_rec* out) noexcept {
  return hostCall(out, "page_i18n", [&]() -> std::int32_t {
    In i(kernelApi(), in);
    const Pages& pages = *h->k->pages;
    const auto* impl = dynamic_cast<const PagesImpl*>(h->k->pages);
    Out o(kernelApi(), out);
    switch (op) {
      case MLP_PAGEOP_LANGUAGE:
        o.s(MLP_K_PAGE_LANG,
            impl ? impl->negotiate(i.s(MLP_K_PAGE_LANG), i.s(MLP_K_PAGE_ACCEPT_LANGUAGE),
                                   i.s(MLP_K_PAGE_COOKIE_LANG))
                 : std::string("en"));
        return MLP_OK;
      case MLP_PAGEOP_TEXT: {
        auto params = parseJsonObject(i.s(MLP_K_PAGE_DATA));
        if (!params) params = new Poco::JSON::Object;
        o.s(MLP_K_TEXT,
            impl ? impl->textIn(h->name, i.s(MLP_K_PAGE_LANG), i.s(MLP_K_PAGE_KEY), *params)
                 : pages.text(i.s(MLP_K_PAGE_LANG), i.s(MLP_K_PAGE_KEY), *params));
        return MLP_OK;
      }
      case MLP_PAGEOP_MONEY:
        o.s(MLP_K_TEXT,
            pages.money(i.s(MLP_K_PAGE_LANG), i.i(MLP_K_PAGE_AMOUNT), i.s(MLP_K_PAGE_CURRENCY)));
        return MLP_OK;
      case MLP_PAGEOP_TRANSLATE:
        o.s(MLP_K_TEXT,
            impl ? impl->translateIn(h->name, i.s(MLP_K_PAGE_LANG), i.s(MLP_K_PAGE_ENGLISH))
                 : pages.translate(i.s(MLP_K_PAGE_LANG), i.s(MLP_K_PAGE_ENGLISH)));
        return MLP_OK;
      default:
        return failWith(out, ErrorCode::invalidInput, "page_i18n: unknown operation");
    }
  });
}

// ---- payments ----------------------------------------------------------------------------

std::int32_t paymentAnswer(mlp_rec* out, const Result<Payment>& r) {
  if (!r.ok()) return failWith(out, r.error());
  abi::put(Out(kernelApi(), out).add(MLP_K_PAYMENT), r.value());
  return MLP_OK;
}
std::int32_t textAnswer(mlp_rec* out, const Result<std::string>& r) {
  if (!r.ok()) return failWith(out, r.error());
  Out(kernelApi(), out).s(MLP_K_TEXT, r.value());
  return MLP_OK;
}

std::int32_t paymentsCall(mlp_host* h, std::uint32_t op, const mlp_rec* inRec,
                          mlp_rec* out) noexcept {
  return hostCall(out, "payments", [&]() -> std::int32_t {
    if (!h->k->payments)
      return failWith(out, ErrorCode::unavailable,
                      "the payments service is not available in this process");
    Payments& pay = *h->k->payments;
    In in(kernelApi(), inRec);
    Out o(kernelApi(), out);
    switch (op) {
      case MLP_PAYOP_CREATE:
        return paymentAnswer(out, pay.create(abi::getCreate(in.child(MLP_K_CREATE))));
      case MLP_PAYOP_GET:
        return paymentAnswer(out, pay.get(in.s(MLP_K_ID)));
      case MLP_PAYOP_SYNC:
        return paymentAnswer(out, pay.sync(in.s(MLP_K_ID)));
      case MLP_PAYOP_SUBMIT_PROOF: {
        auto r = pay.submitProof(in.s(MLP_K_ID), in.s(MLP_K_TEXT));
        if (!r.ok()) return failWith(out, r.error());
        abi::put(o.add(MLP_K_PAYMENT), r.value().payment);
        o.i(MLP_K_FLAG, r.value().settled ? 1 : 0);
        o.s(MLP_K_TEXT, r.value().message);
        return MLP_OK;
      }
      case MLP_PAYOP_REQUEST_PUSH: {
        auto r = pay.requestPush(in.s(MLP_K_ID), in.s(MLP_K_MSISDN));
        if (!r.ok()) return failWith(out, r.error());
        abi::put(o.add(MLP_K_ACTION), r.value());
        return MLP_OK;
      }
      case MLP_PAYOP_TO_JSON: {
        std::ostringstream os;
        Poco::JSON::Stringifier::condense(pay.toJson(abi::getPayment(in.child(MLP_K_PAYMENT))), os);
        o.s(MLP_K_TEXT, os.str());
        return MLP_OK;
      }
      case MLP_PAYOP_CATALOG:
        for (const auto& item : pay.catalog(in.s(MLP_K_CHANNEL))) {
          Out c = o.add(MLP_K_ITEMS);
          c.s(MLP_K_NAME, item.product);
          abi::put(c, item.item);
        }
        return MLP_OK;
      case MLP_PAYOP_ACCOUNT_SUMMARY:
        return textAnswer(out, pay.accountSummary(in.s(MLP_K_NAME), in.s(MLP_K_CUST_ACCOUNT)));
      case MLP_PAYOP_CHANNEL_SALE:
        return textAnswer(
            out, pay.prepareChannelSale(in.s(MLP_K_NAME), abi::getItem(in.child(MLP_K_ITEM)),
                                        abi::getCustomer(in.child(MLP_K_CUSTOMER))));
      case MLP_PAYOP_WEBHOOK: {
        Response r = pay.webhookInbox(in.s(MLP_K_NAME))(abi::getRequest(in.child(MLP_K_REQUEST)));
        abi::put(o, r);
        return MLP_OK;
      }
      case MLP_PAYOP_REQUIREMENTS:
        o.strs(MLP_K_CAP_REQUIRES, pay.requirements(abi::getCreate(in.child(MLP_K_CREATE))));
        return MLP_OK;
      default:
        return failWith(out, ErrorCode::internal,
                        "unknown payments operation " + std::to_string(op));
    }
  });
}

mlp_api_v1 makeApi() {
  mlp_api_v1 a{};
  a.struct_size = sizeof(mlp_api_v1);
  a.major = MALIPO_SDK_MAJOR;
  a.minor = MALIPO_SDK_MINOR;
  a.rec_new = recNew;
  a.rec_free = recFree;
  a.rec_has = recHas;
  a.rec_str = recStr;
  a.rec_i64 = recI64;
  a.rec_count = recCount;
  a.rec_str_at = recStrAt;
  a.rec_at = recAt;
  a.rec_set_str = recSetStr;
  a.rec_set_i64 = recSetI64;
  a.rec_add_str = recAddStr;
  a.rec_add = recAdd;
  a.plugin_schema = pluginSchema;
  a.plugin_on_register = pluginOnRegister;
  a.object_add = objectAdd;
  a.object_hook = objectHook;
  a.object_flag = objectFlag;
  a.host_info = hostInfo;
  a.host_flag = hostFlag;
  a.clock_now_ms = clockNow;
  a.log = logLine;
  a.metric = metric;
  a.metric_describe = metricDescribe;
  a.metric_collector = metricCollector;
  a.route_add = routeAdd;
  a.db_engine = dbEngine;
  a.db_write = dbWrite;
  a.db_exec = dbExec;
  a.db_query = dbQuery;
  a.tx_on_commit = txOnCommit;
  a.rows_columns = rowsColumns;
  a.rows_count = rowsCount;
  a.rows_column = rowsColumn;
  a.rows_cell = rowsCell;
  a.rows_free = rowsFree;
  a.job_handle = jobHandle;
  a.job_every = jobEvery;
  a.job_enqueue = jobEnqueue;
  a.http_send = httpSend;
  a.page_render = pageRender;
  a.page_i18n = pageI18n;  // 1.1: pages
  a.payments_call = paymentsCall;
  return a;
}

}  // namespace

const mlp_api_v1& kernelApi() {
  static const mlp_api_v1 api = makeApi();
  return api;
}

std::string kernelSdkVersion() {
  return std::to_string(MALIPO_SDK_MAJOR) + "." + std::to_string(MALIPO_SDK_MINOR);
}

}  // namespace malipo
