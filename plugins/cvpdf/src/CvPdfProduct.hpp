// The CV Chap Chap product: a CV request is paid by USSD (Selcom by default), proven by a
// pasted confirmation SMS or a provider webhook, and fulfilled with a PDF.
//
// CV request states: pending_payment → verifying_payment → generating_pdf → completed,
// or failed (retry allowed). The kernel owns the payment; this product owns the request.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "cv_validation.hpp"
#include "malipo/product.hpp"
#include "pdf/pdf_renderer.hpp"

namespace malipo::cvpdf {

struct CvRequest {
  std::string id, cvId, userId, templateId, cvJson, status, paymentId, paymentReference, error, pdfPath, etag;
  std::int64_t downloadCount = 0, verifyAttempts = 0, createdAt = 0, updatedAt = 0, completedAt = 0, version = 0;
};

class CvPdfProduct final : public Product {
 public:
  explicit CvPdfProduct(Host& host);
  std::string name() const override { return "cvpdf"; }
  std::vector<Migration> migrations() const override;
  void start() override;
  JobOutcome onPaymentSettled(const Payment& payment) override;
  JobOutcome onPaymentFailed(const Payment& payment) override;

 private:
  Response initiate(const Request& req);
  Response paymentPage(const Request& req);
  Response verifyForm(const Request& req);
  Response verifySubmit(const Request& req);
  Response statusPage(const Request& req);
  Response statusJson(const Request& req);
  Response download(const Request& req);
  Response push(const Request& req);
  Response restart(const Request& req);
  JobOutcome runVerify(const Job& job);

  std::optional<CvRequest> load(const std::string& id);
  // Compare-and-set on the request's version; false when someone else moved it first.
  bool moveTo(const CvRequest& r, const std::string& status, const std::string& error);
  // Every change of a request goes through here, so the status cache never outlives it.
  std::int64_t updateRequest(const std::string& id, const std::string& sql, const Params& params);
  Result<Payment> newPayment(const CvRequest& r, const std::string& phone, bool push);
  Response page(int status, const std::string& title, const std::string& tmpl, const Poco::JSON::Object& data,
                bool refresh = false);
  Response errorPage(int status, const std::string& title, const std::string& message, const std::string& backUrl = {});
  bool clientAllowed(const std::string& clientIp);
  std::string url(const std::string& requestId, const std::string& leaf) const;
  std::string normalisePhone(const std::string& raw) const;

  Host& host_;
  Settings s_;
  std::int64_t priceMinor_ = 0;
  std::string currency_;
  std::vector<std::string> providers_;
  std::string storageDir_;
  CvLimits limits_;
  std::unique_ptr<PdfRenderer> renderer_;
  std::mutex statusCacheMutex_;
  std::unordered_map<std::string, std::pair<std::int64_t, std::string>> statusCache_;  // id → (expiry, JSON)
  std::mutex clientMutex_;
  std::map<std::string, std::pair<std::int64_t, int>> clientWindow_;  // ip → (window start, count)
};

}  // namespace malipo::cvpdf
