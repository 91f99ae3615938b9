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

Response PaymentService::receiveWebhook(const std::string& name, const Request& req) {
  auto prov = provider(name);
  if (!prov)
    return Response::error(Error::make(ErrorCode::notFound, "no provider '" + name + "'"),
                           req.requestId);
  auto parsed =
      guarded([&]() -> Result<std::vector<WebhookEvent>> { return prov->parseWebhook(req); },
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
  store_.write([&](Tx& tx) {
    fresh = duplicates = unmatched = 0;
    for (const WebhookEvent& ev : parsed.value()) {
      std::string paymentId;
      if (!ev.paymentId.empty()) {
        Rows r =
            tx.query("SELECT id FROM payments WHERE id = ? AND provider = ?", {ev.paymentId, name});
        if (!r.empty()) paymentId = r.str(0, "id");
      }
      // The reference of any of the payment's attempts (SDK 1.1: an older prompt paid).
      if (paymentId.empty() && !ev.providerRef.empty())
        paymentId = PaymentRepository::paymentIdByRef(tx, name, ev.providerRef);
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
      if (paymentId.empty()) {
        ++unmatched;
        continue;
      }
      jobs_.enqueue(tx, JobSpec{"payment.sync", paymentId, "", 0, 0});
    }
  });
  metrics_.increment("malipo_webhooks_total", {{"provider", name}, {"outcome", "accepted"}}, fresh);
  if (duplicates)
    metrics_.increment("malipo_webhooks_total", {{"provider", name}, {"outcome", "duplicate"}},
                       duplicates);
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
