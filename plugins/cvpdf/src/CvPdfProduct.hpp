// The CV Chap Chap product: a CV request is paid by USSD (Selcom by default), proven by a
// pasted confirmation SMS or a provider webhook, and fulfilled with a PDF.
//
// CV request states: pending_payment → verifying_payment → generating_pdf → completed,
// or failed (retry allowed), or payment_under_review (the kernel holds the payment for an
// operator: money arrived but did not match). The kernel owns the payment; this product owns
// the request.
//
// Who may see and act on a request: a request made by a signed-in user only that user (their
// JWT, or a page link signed for them); an anonymous one whoever holds its unguessable id, with
// personal data masked on its pages.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "cv_validation.hpp"
#include "links.hpp"
#include "malipo/product.hpp"
#include "malipo/settings_decl.hpp"
#include "pdf/pdf_renderer.hpp"

namespace malipo::cvpdf {

struct CvRequest {
  std::string id, cvId, userId, templateId, cvJson, status, paymentId, paymentReference, error,
      pdfPath, etag;
  std::int64_t downloadCount = 0, verifyAttempts = 0, createdAt = 0, updatedAt = 0, completedAt = 0,
               version = 0;
};

// Who is asking about one request.
struct Access {
  bool allowed = false;
  bool owner = false;       // the signed-in owner (JWT or signed page link): may see personal data
  std::string token;        // signed page link carried in every link of the pages ("": none needed)
  std::string client;       // rate-limit key: "user:<sub>" or "ip:<address>"
  std::string denial;       // when !allowed: what to tell them (in `lang`)
  std::string lang = "en";  // the customer's language (?lang=, Accept-Language, the default)
};

// The plugin's settings. Each member's initializer is its default; decl() names each key,
// its description and range once and yields both the schema and this struct.
struct CvPdfSettings {
  std::vector<std::string> providers{"selcom"};
  std::string priceAmount = "1000", priceCurrency = "TZS";
  std::string storageDir = "var/cvpdf";
  std::string fontDir;  // empty: Debian's fonts-dejavu-core
  int maxPages = 5;
  std::size_t maxBodyBytes = 65536;
  std::string phoneRegion = "TZ";
  int utcOffsetMinutes = 180;  // the customers' clock (EAT), for the payment deadline
  std::int64_t statusCacheMs = 1000;
  int verifyRetries = 3;
  std::int64_t verifyBackoffMs = 10000;
  std::int64_t verifyMaxAttempts = 10, verifyPerClientPerHour = 30;
  std::int64_t pushMaxPerRequest = 3, pushPerClientPerHour = 10;
  std::string linkSecret;
  std::int64_t pageLinkTtlSeconds = 1440 * 60;  // configured in minutes
  std::int64_t downloadLinkTtlSeconds = 600;
  std::size_t callbackMaxBodyBytes = 16384;

  static const Decl<CvPdfSettings>& decl();
};

class CvPdfProduct final : public Product {
 public:
  explicit CvPdfProduct(Host& host);
  std::string name() const override { return "cvpdf"; }
  std::vector<Migration> migrations() const override;
  void start() override;
  JobOutcome onPaymentSettled(const Payment& payment) override;
  JobOutcome onPaymentFailed(const Payment& payment) override;
  // Once the refunds of the request's payment add up to its price, the request becomes
  // "refunded": the download answers 410 and the stored PDF is deleted. A partial refund
  // (less than the price) is recorded and leaves the download alone. Idempotent by refund id.
  JobOutcome onPaymentRefunded(const Payment& payment, const Refund& refund) override;

 private:
  Response initiate(const Request& req);
  Response paymentPage(const Request& req);
  Response verifyForm(const Request& req);
  Response verifySubmit(const Request& req);
  std::optional<Response> verifyRefusal(const Request& req, std::optional<CvRequest>& r, Access& a);
  Response verifyPage(int status, const CvRequest& r, const Access& a, const std::string& error,
                      const std::string& message);
  Response statusPage(const Request& req);
  Response statusJson(const Request& req);
  Response download(const Request& req);
  Response push(const Request& req);
  Response restart(const Request& req);
  JobOutcome runVerify(const Job& job);

  std::optional<CvRequest> load(const std::string& id);
  Access access(const Request& req, const CvRequest& r) const;
  Access ownerAccess(const CvRequest& r) const;  // as the request's own maker
  // url() plus the caller's page link (and `query`).
  std::string link(const CvRequest& r, const std::string& leaf, const Access& a,
                   const std::string& query = {}) const;
  // Where the request's PDF downloads in a browser: signed for its owner, minutes valid.
  std::string downloadLink(const CvRequest& r, std::int64_t* expiresAtMs = nullptr) const;
  // The request's payment; a payment the kernel holds for review moves the request to
  // payment_under_review (r is reloaded then).
  Result<Payment> currentPayment(CvRequest& r);
  // reference and support_* of an under-review page.
  void reviewData(Poco::JSON::Object& d, const Result<Payment>& p) const;
  // Per request and per client: one abuser cannot use up the owner's attempts.
  std::int64_t attempts(const std::string& requestId, const std::string& client,
                        const std::string& action);
  void countAttempt(const std::string& requestId, const std::string& client,
                    const std::string& action);
  // Compare-and-set on the request's version; false when someone else moved it first.
  bool moveTo(const CvRequest& r, const std::string& status, const std::string& error);
  // Every change of a request goes through here, so the status cache never outlives it.
  std::int64_t updateRequest(const std::string& id, const std::string& sql, const Params& params);
  Result<Payment> newPayment(const CvRequest& r, const std::string& phone, bool push);
  // Pages in `lang`: the title is a catalog key (messages/<lang>.json).
  Response page(const std::string& lang, int status, const std::string& titleKey,
                const std::string& tmpl, const Poco::JSON::Object& data, bool refresh = false);
  Response errorPage(const std::string& lang, int status, const std::string& titleKey,
                     const std::string& message, const std::string& backUrl = {});
  std::string tr(const std::string& lang, const std::string& key) const;
  // The payment page's per-network steps and deadline (messages: net_*).
  void paymentGuide(Poco::JSON::Object& d, const Payment& p, const std::string& lang) const;
  // Per client and hour, across requests (counts this call).
  bool clientAllowed(const std::string& action, const std::string& client, std::int64_t perHour);
  std::string url(const std::string& requestId, const std::string& leaf) const;
  std::string normalisePhone(const std::string& raw) const;

  Host& host_;
  CvPdfSettings s_;
  std::int64_t priceMinor_ = 0;
  std::string currency_;
  std::vector<std::string> providers_;
  std::string storageDir_;
  CvLimits limits_;
  std::unique_ptr<PdfRenderer> renderer_;
  std::string
      linkKey_;  // signs page and download links (settings.link_secret or one kept in the database)
  struct CachedStatus {
    std::int64_t expiresAtMs = 0;
    CvRequest request;
    std::string reference;  // of a payment under review
  };
  std::mutex statusCacheMutex_;
  std::unordered_map<std::string, CachedStatus>
      statusCache_;  // request id → what GET …/status shows
  std::mutex clientMutex_;
  std::map<std::string, std::pair<std::int64_t, int>>
      clientWindow_;  // action|client → (window start, count)
};

}  // namespace malipo::cvpdf
