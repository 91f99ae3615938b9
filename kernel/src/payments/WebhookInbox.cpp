// The webhook inbox: POST /webhooks/{provider} (and a product's alias of it). A webhook is a
// hint: it is stored (deduplicated by the provider's event id) and queues a payment.sync,
// which asks the provider; it never changes a payment itself.
#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

#include "payments/PaymentService.hpp"
#include "payments/ProviderCalls.hpp"

namespace malipo {

namespace {

constexpr std::size_t kMaxStoredEventId = 128, kMaxStoredSummary = 256;

std::string sha256Hex(const std::string& text) {
  Poco::SHA2Engine sha;
  sha.update(text);
  return Poco::DigestEngine::digestToHex(sha.digest());
}

// At most `max` bytes of `text`, cut before a UTF-8 continuation byte, "…" when cut.
std::string truncateUtf8(const std::string& text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xc0) == 0x80) --n;
  return text.substr(0, n) + "…";
}

}  // namespace

namespace {

// What a provider's onWebhookStored refused: the delivery is rolled back and answered 500.
struct StoredHookFailed {
  Error error;
};
// A delivery the callback token does not cover: rolled back whole, nothing stored.
struct NotThisPayment {
  Error error;
};

}  // namespace

void PaymentService::setPublicUrl(std::function<std::string()> publicUrl) {
  webhookAuth_.setPublicUrl(std::move(publicUrl));
}

void PaymentService::webhookRoutes(Router& router) {
  RouteOptions o{Auth::none, "webhooks", opts_.webhookMaxBodyBytes, "/webhooks/{provider}"};
  router.add(
      "POST", "/webhooks/{provider}",
      [this](const Request& req) { return receiveWebhook(req.param("provider"), req); }, o);
  // SDK 1.1: each provider's declared models; a bad path or CIDR stops the start.
  for (auto& [name, prov] : providers_) {
    webhookAuth_.declare(name, prov->capabilities());
    WebhookAuth::Model m = webhookAuth_.model(name);
    if (!m.ownPath) continue;
    RouteOptions own = o;
    own.name = "webhook:" + name;  // metrics and access log: not the opaque path
    std::string provider = name;
    router.add(
        "POST", m.path,
        [this, provider](const Request& req) { return receiveWebhook(provider, req); }, own);
    log_.info("webhooks", name + ": webhooks at " + m.path);
  }
}

Response PaymentService::receiveWebhook(const std::string& name, const Request& req) {
  auto prov = provider(name);
  if (!prov)
    return Response::error(Error::make(ErrorCode::notFound, "no provider '" + name + "'"),
                           req.requestId);
  auto refuse = [&](const Error& e, const std::string& outcome) {
    metrics_.increment("malipo_webhooks_total", {{"provider", name}, {"outcome", outcome}});
    log_.warning("webhooks", name + ": rejected: " + e.internal);
    return Response::error(e, req.requestId);
  };
  // The kernel's models first (SDK 1.1): the source address, then the callback URL's token.
  const WebhookAuth::Model model = webhookAuth_.model(name);
  if (!model.allowed.empty() && !model.allowed.contains(req.clientIp))
    return refuse(
        Error::make(ErrorCode::forbidden,
                    "from " + req.clientIp + ", not in the webhook allow-list", "forbidden"),
        "forbidden_ip");
  std::string bound;  // the payment the callback URL was made for
  if (model.token) {
    std::string id = req.queryParam("p"), token = req.queryParam("t");
    if (!webhookAuth_.tokenValid(name, id, token))
      return refuse(Error::make(ErrorCode::unauthorized,
                                token.empty() ? "no callback token" : "bad callback token",
                                "invalid callback token"),
                    "bad_token");
    bound = id;
  }
  auto parsed = guarded([&]() -> Result<ParsedWebhook> { return prov->parseWebhookReply(req); },
                        name + ".parseWebhook");
  if (!parsed.ok()) {
    const Error& e = parsed.error();
    metrics_.increment("malipo_webhooks_total",
                       {{"provider", name}, {"outcome", errorCodeName(e.code)}});
    log_.warning("webhooks", name + ": rejected: " + e.internal);
    Error out = e.code == ErrorCode::unauthorized
                    ? Error::make(ErrorCode::unauthorized, e.internal, "invalid signature")
                    : Error::make(ErrorCode::invalidInput, e.internal, "invalid webhook");
    return Response::error(out, req.requestId);
  }
  int fresh = 0, duplicates = 0, unmatched = 0;
  try {
    store_.write([&](Tx& tx) {
      fresh = duplicates = unmatched = 0;
      std::vector<WebhookEvent> stored;
      if (!bound.empty() &&
          tx.query("SELECT id FROM payments WHERE id = ? AND provider = ?", {bound, name}).empty())
        throw NotThisPayment{Error::make(
            ErrorCode::unauthorized,
            "callback token for payment " + bound + ", which is not one of " + name + "'s",
            "invalid callback token")};
      for (const WebhookEvent& ev : parsed.value().events) {
        std::string paymentId;
        if (!ev.paymentId.empty()) {
          Rows r = tx.query("SELECT id FROM payments WHERE id = ? AND provider = ?",
                            {ev.paymentId, name});
          if (!r.empty()) paymentId = r.str(0, "id");
        }
        // The reference of any of the payment's attempts (SDK 1.1: an older prompt paid).
        if (paymentId.empty() && !ev.providerRef.empty())
          paymentId = PaymentRepository::paymentIdByRef(tx, name, ev.providerRef);
        if (!bound.empty()) {
          // The token vouches for one payment: an event about another is refused whole.
          bool other = (!ev.paymentId.empty() && ev.paymentId != bound) ||
                       (!paymentId.empty() && paymentId != bound);
          if (other)
            throw NotThisPayment{
                Error::make(ErrorCode::unauthorized,
                            "event " + ev.eventId +
                                " is about another payment than the callback URL's " + bound,
                            "invalid callback token")};
          paymentId = bound;
        }
        // What is stored is bounded whatever the sender sent: a long event id by its digest,
        // the summary cut short.
        std::string eventId =
            ev.eventId.size() <= kMaxStoredEventId ? ev.eventId : "sha256:" + sha256Hex(ev.eventId);
        std::int64_t inserted = tx.exec(
            "INSERT INTO payment_events (payment_id, provider, kind, provider_event_id, detail, "
            "created_at) "
            "VALUES (?, ?, 'webhook', ?, ?, ?) ON CONFLICT DO NOTHING",
            {paymentId.empty() ? Value(Null{}) : Value(paymentId), name,
             eventId.empty() ? Value(Null{}) : Value(eventId),
             truncateUtf8(ev.summary, kMaxStoredSummary), clock_.nowMs()});
        if (inserted == 0) {
          ++duplicates;
          continue;
        }
        ++fresh;
        WebhookEvent s = ev;
        s.paymentId = paymentId;
        stored.push_back(std::move(s));
        if (paymentId.empty()) {
          ++unmatched;
          continue;
        }
        jobs_.enqueue(tx, JobSpec{"payment.sync", paymentId, "", 0, 0});
      }
      // SDK 1.1: the provider's own record of the new events, in this transaction. A database
      // failure inside it propagates as such (the store retries what is retryable).
      if (!stored.empty()) {
        Status r = prov->onWebhookStored(req, stored, tx);
        if (!r.ok()) throw StoredHookFailed{r.error()};
      }
    });
  } catch (const StoredHookFailed& f) {
    log_.error("webhooks",
               name + ": onWebhookStored failed, delivery not stored: " + f.error.internal);
    metrics_.increment("malipo_webhooks_total", {{"provider", name}, {"outcome", "internal"}});
    return Response::error(Error::make(ErrorCode::internal, f.error.internal, "internal error"),
                           req.requestId);
  } catch (const NotThisPayment& n) {
    return refuse(n.error, "wrong_payment");
  }
  metrics_.increment("malipo_webhooks_total", {{"provider", name}, {"outcome", "accepted"}}, fresh);
  if (duplicates)
    metrics_.increment("malipo_webhooks_total", {{"provider", name}, {"outcome", "duplicate"}},
                       duplicates);
  // The events are durable now: the provider's answer (SDK 1.1), the same for a duplicate.
  if (parsed.value().hasReply) {
    const Response& r = parsed.value().reply;
    return Response::text(r.status, r.body,
                          r.contentType.empty() ? "application/json" : r.contentType);
  }
  Poco::JSON::Object o;
  o.set("received", true);
  o.set("events", fresh);
  o.set("duplicates", duplicates);
  return Response::json(200, o);
}

int PaymentService::purgeUnmatchedWebhooks() {
  const std::int64_t cutoff = clock_.nowMs() - opts_.unmatchedWebhookRetentionMs;
  std::int64_t n = store_.exec(
      "DELETE FROM payment_events WHERE payment_id IS NULL AND kind = 'webhook' AND created_at < ?",
      {cutoff});
  return static_cast<int>(n);
}

}  // namespace malipo
