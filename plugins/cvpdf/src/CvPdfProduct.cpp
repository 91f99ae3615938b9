#include "CvPdfProduct.hpp"

#include <Poco/DateTimeFormatter.h>
#include <Poco/DigestEngine.h>
#include <Poco/File.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Path.h>
#include <Poco/SHA2Engine.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>
#include <Poco/UUIDGenerator.h>
#include <phonenumbers/phonenumberutil.h>

#include <fstream>
#include <sstream>

#include "malipo/money.hpp"
#include "pages.hpp"

namespace malipo::cvpdf {

namespace {

const char* kCols =
    "id, cv_id, user_id, template_id, cv_json, status, payment_id, payment_reference, error, pdf_path, etag, download_count, "
    "verify_attempts, created_at, updated_at, completed_at, version";

std::string statusLabel(const std::string& s) {
  if (s == "pending_payment") return "Waiting for your payment";
  if (s == "verifying_payment") return "Verifying your payment";
  if (s == "generating_pdf") return "Payment confirmed: generating your PDF";
  if (s == "completed") return "Completed";
  if (s == "failed") return "Failed";
  return s;
}

// A form field from a form-encoded or JSON body.
std::string bodyField(const Request& req, const std::string& key) {
  std::string type = req.header("Content-Type");
  if (type.find("application/json") != std::string::npos) {
    try {
      auto o = Poco::JSON::Parser().parse(req.body).extract<Poco::JSON::Object::Ptr>();
      return o->optValue<std::string>(key, "");
    } catch (...) {
      return "";
    }
  }
  auto form = parseFormUrlEncoded(req.body);
  auto it = form.find(key);
  return it == form.end() ? "" : it->second;
}

std::string slug(const std::string& name) {
  std::string out;
  for (unsigned char c : name) {
    if (std::isalnum(c)) {
      out += static_cast<char>(std::tolower(c));
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
    if (out.size() >= 40) break;
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "cv" : "cv-" + out;
}

Response jsonError(int status, const std::string& message) {
  Poco::JSON::Object o;
  o.set("success", false);
  o.set("error", message);
  return Response::json(status, o);
}

CvRequest rowTo(const Rows& r) {
  CvRequest c;
  c.id = r.str(0, "id");
  c.cvId = r.str(0, "cv_id");
  c.userId = r.str(0, "user_id");
  c.templateId = r.str(0, "template_id");
  c.cvJson = r.str(0, "cv_json");
  c.status = r.str(0, "status");
  c.paymentId = r.str(0, "payment_id");
  c.paymentReference = r.str(0, "payment_reference");
  c.error = r.str(0, "error");
  c.pdfPath = r.str(0, "pdf_path");
  c.etag = r.str(0, "etag");
  c.downloadCount = r.i64(0, "download_count");
  c.verifyAttempts = r.i64(0, "verify_attempts");
  c.createdAt = r.i64(0, "created_at");
  c.updatedAt = r.i64(0, "updated_at");
  c.completedAt = r.i64(0, "completed_at");
  c.version = r.i64(0, "version");
  return c;
}

}  // namespace

CvPdfProduct::CvPdfProduct(Host& host) : host_(host), s_(host.settings()) {
  Settings price = s_.child("price");
  currency_ = price.getString("currency");
  auto minor = parseMajor(price.getString("amount"), currency_);
  if (!validCurrency(currency_) || !minor || *minor <= 0)
    throw std::runtime_error("settings.price: '" + price.getString("amount") + " " + currency_ + "' is not a valid price");
  priceMinor_ = *minor;
  providers_ = s_.getStringList("providers");
  storageDir_ = s_.getString("storage_dir");
  Poco::File(storageDir_).createDirectories();
  RenderOptions ro;
  ro.maxPages = static_cast<int>(s_.getInt("max_pages"));
  ro.fontDir = s_.getString("font_dir");
  renderer_ = std::make_unique<PdfRenderer>(ro);
  if (!renderer_->fontWarnings().empty()) host_.logger().warning("cvpdf", "fonts: " + renderer_->fontWarnings());
}

std::vector<Migration> CvPdfProduct::migrations() const {
  Migration m;
  m.version = 1;
  m.description = "CV requests";
  m.sqlite =
      "CREATE TABLE cv_requests (id TEXT PRIMARY KEY, cv_id TEXT, user_id TEXT, template_id TEXT NOT NULL, cv_json TEXT NOT NULL, "
      "status TEXT NOT NULL, payment_id TEXT, payment_reference TEXT, pending_message TEXT, error TEXT NOT NULL DEFAULT '', "
      "pdf_path TEXT, etag TEXT, download_count BIGINT NOT NULL DEFAULT 0, verify_attempts BIGINT NOT NULL DEFAULT 0, "
      "created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, completed_at BIGINT NOT NULL DEFAULT 0, version BIGINT NOT NULL DEFAULT 1);"
      "CREATE UNIQUE INDEX cv_requests_reference ON cv_requests (payment_reference);"
      "CREATE INDEX cv_requests_payment ON cv_requests (payment_id)";
  return {m};
}

std::string CvPdfProduct::url(const std::string& id, const std::string& leaf) const {
  return "/api/cv-pdf/" + id + "/" + leaf;
}

std::optional<CvRequest> CvPdfProduct::load(const std::string& id) {
  if (!isUuid(id)) return std::nullopt;
  Rows r = host_.db().query(std::string("SELECT ") + kCols + " FROM cv_requests WHERE id = ?", {id});
  if (r.empty()) return std::nullopt;
  return rowTo(r);
}

std::int64_t CvPdfProduct::updateRequest(const std::string& id, const std::string& sql, const Params& params) {
  std::int64_t n = host_.db().exec(sql, params);
  std::lock_guard<std::mutex> lock(statusCacheMutex_);
  statusCache_.erase(id);
  return n;
}

bool CvPdfProduct::moveTo(const CvRequest& r, const std::string& status, const std::string& error) {
  return updateRequest(r.id, "UPDATE cv_requests SET status = ?, error = ?, updated_at = ?, version = version + 1 WHERE id = ? AND version = ?",
                         {status, error, host_.clock().nowMs(), r.id, r.version}) == 1;
}

std::string CvPdfProduct::normalisePhone(const std::string& raw) const {
  using i18n::phonenumbers::PhoneNumberUtil;
  PhoneNumberUtil* util = PhoneNumberUtil::GetInstance();
  i18n::phonenumbers::PhoneNumber number;
  if (util->Parse(raw, s_.getString("phone_region"), &number) != PhoneNumberUtil::NO_PARSING_ERROR) return "";
  if (!util->IsValidNumber(number)) return "";
  std::string e164;
  util->Format(number, PhoneNumberUtil::E164, &e164);
  return e164.substr(1);  // 2557XXXXXXXX, as mobile-money APIs want it
}

Result<Payment> CvPdfProduct::newPayment(const CvRequest& r, const std::string& phone, bool push) {
  CvData cv = cvFromJson(r.cvJson);
  CreatePayment cp;
  cp.product = "cvpdf";
  cp.orderRef = r.id;
  cp.amountMinor = priceMinor_;
  cp.currency = currency_;
  cp.providers = providers_;
  cp.customer.accountId = r.userId.empty() ? "" : "user:" + r.userId;
  cp.customer.name = cv.name;
  cp.customer.email = cv.email;
  cp.customer.phone = phone;
  cp.push = push && !phone.empty();
  cp.description = "CV PDF (" + r.templateId + ")";
  return host_.payments().create(cp);
}

Response CvPdfProduct::page(int status, const std::string& title, const std::string& tmpl, const Poco::JSON::Object& data,
                            bool refresh) {
  Response r = Response::html(status, host_.pages().render(title, tmpl, data, refresh ? "<meta http-equiv=\"refresh\" content=\"5\">" : ""));
  r.header("Cache-Control", "no-store");
  return r;
}

Response CvPdfProduct::errorPage(int status, const std::string& title, const std::string& message, const std::string& backUrl) {
  Poco::JSON::Object d;
  d.set("title", title);
  d.set("message", message);
  if (!backUrl.empty()) d.set("back_url", backUrl);
  return page(status, title, pages::kError, d);
}

bool CvPdfProduct::clientAllowed(const std::string& ip) {
  const std::int64_t window = 3600000;
  std::int64_t now = host_.clock().nowMs();
  std::lock_guard<std::mutex> lock(clientMutex_);
  if (clientWindow_.size() > 50000) clientWindow_.clear();
  auto& [start, count] = clientWindow_[ip];
  if (now - start > window) {
    start = now;
    count = 0;
  }
  return ++count <= s_.getInt("verify_per_client_per_hour");
}

void CvPdfProduct::start() {
  auto& r = host_.router();
  std::size_t maxBody = static_cast<std::size_t>(s_.getInt("max_body_bytes"));
  r.add("POST", "/api/cv-pdf/{cv_id}/initiate-ussd", [this](const Request& q) { return initiate(q); },
        {Auth::optional, "", maxBody, "", true});
  r.add("GET", "/api/cv-pdf/{request_id}/payment-page", [this](const Request& q) { return paymentPage(q); });
  r.add("GET", "/api/cv-pdf/{request_id}/verify", [this](const Request& q) { return verifyForm(q); });
  r.add("POST", "/api/cv-pdf/{request_id}/verify", [this](const Request& q) { return verifySubmit(q); }, {Auth::none, "", 16384, ""});
  r.add("GET", "/api/cv-pdf/{request_id}/status-page", [this](const Request& q) { return statusPage(q); });
  r.add("GET", "/api/cv-pdf/{request_id}/status", [this](const Request& q) { return statusJson(q); }, {Auth::optional, "", 0, ""});
  r.add("GET", "/api/cv-pdf/{request_id}/download", [this](const Request& q) { return download(q); }, {Auth::optional, "", 0, ""});
  r.add("POST", "/api/cv-pdf/{request_id}/push", [this](const Request& q) { return push(q); }, {Auth::none, "", 4096, ""});
  r.add("POST", "/api/cv-pdf/{request_id}/restart", [this](const Request& q) { return restart(q); }, {Auth::none, "", 4096, ""});
  if (!providers_.empty())
    r.add("POST", "/api/cv-pdf/ussd-callback", host_.payments().webhookInbox(providers_.front()), {Auth::none, "webhooks", 0, ""});
  JobKindOptions verify;
  verify.maxAttempts = 1 + static_cast<int>(s_.getInt("verify_retries"));
  verify.backoffBaseMs = s_.getInt("verify_backoff_ms");
  verify.leaseMs = 120000;
  host_.jobs().handle("cvpdf.verify", [this](const Job& j) { return runVerify(j); }, verify);
}

Response CvPdfProduct::initiate(const Request& req) {
  std::string cvId = req.param("cv_id");
  if (!isCvId(cvId)) return jsonError(404, "CV not found");
  Poco::JSON::Object::Ptr body;
  try {
    body = Poco::JSON::Parser().parse(req.body).extract<Poco::JSON::Object::Ptr>();
  } catch (...) {
    return jsonError(400, "The request body must be a JSON object with template_id and cv_data.");
  }
  if (!body) return jsonError(400, "The request body must be a JSON object with template_id and cv_data.");
  std::string templateId = body->optValue<std::string>("template_id", "");
  const auto& ids = PdfRenderer::templateIds();
  if (std::find(ids.begin(), ids.end(), templateId) == ids.end()) {
    std::string list;
    for (const auto& t : ids) list += (list.empty() ? "" : ", ") + t;
    return jsonError(400, "Unknown template_id '" + templateId + "'. Valid templates: " + list + ".");
  }
  Poco::JSON::Object::Ptr cvData;
  if (body->has("cv_data") && body->get("cv_data").type() == typeid(Poco::JSON::Object::Ptr)) cvData = body->getObject("cv_data");
  CvValidation v = validateCv(cvData, limits_);
  if (!v.ok) return jsonError(400, v.message);
  std::string phone;
  std::string rawPhone = body->optValue<std::string>("msisdn", "");
  if (!rawPhone.empty()) {
    phone = normalisePhone(rawPhone);
    if (phone.empty()) return jsonError(400, "msisdn is not a valid mobile number.");
  }

  CvRequest r;
  r.id = Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
  r.cvId = cvId == "anonymous" ? "" : cvId;
  r.userId = req.userId.value_or("");
  r.templateId = templateId;
  r.cvJson = cvToJson(v.cv);
  std::int64_t now = host_.clock().nowMs();
  host_.db().write([&](Tx& tx) {
    tx.exec("INSERT INTO cv_requests (id, cv_id, user_id, template_id, cv_json, status, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, 'pending_payment', ?, ?)",
            {r.id, r.cvId.empty() ? Value(Null{}) : Value(r.cvId), r.userId.empty() ? Value(Null{}) : Value(r.userId),
             r.templateId, r.cvJson, now, now});
  });
  auto pay = newPayment(r, phone, !phone.empty());
  if (!pay.ok()) {
    updateRequest(r.id, "UPDATE cv_requests SET status = 'failed', error = ?, updated_at = ? WHERE id = ?",
                    {pay.error().external, host_.clock().nowMs(), r.id});
    host_.logger().warning("cvpdf", "request " + r.id + ": payment not created: " + pay.error().internal);
    return jsonError(httpStatus(pay.error().code) >= 500 ? 502 : httpStatus(pay.error().code), pay.error().external);
  }
  updateRequest(r.id, "UPDATE cv_requests SET payment_id = ? WHERE id = ?", {pay.value().id, r.id});
  host_.logger().info("cvpdf", "request " + r.id + " created, payment " + pay.value().id);
  Poco::JSON::Object out;
  out.set("success", true);
  out.set("request_id", r.id);
  out.set("payment_page_url", host_.publicUrl() + url(r.id, "payment-page"));
  // Characters no PDF font can draw, named before anyone pays (issue 19).
  if (auto missing = renderer_->unrenderable(cvFromJson(r.cvJson)); !missing.empty()) {
    Poco::JSON::Array chars;
    for (const auto& ch : missing) chars.add(ch);
    out.set("unrenderable_characters", chars);
    out.set("warning", PdfRenderer::unrenderableWarning(missing));
  }
  return Response::json(200, out);
}

Response CvPdfProduct::paymentPage(const Request& req) {
  auto r = load(req.param("request_id"));
  if (!r) return errorPage(404, "Not found", "This CV request does not exist.");
  if (r->status == "completed" || r->status == "generating_pdf" || r->status == "verifying_payment")
    return Response::redirect(303, url(r->id, "status-page"));
  auto pay = host_.payments().get(r->paymentId);
  if (!pay.ok()) return errorPage(502, "Payment unavailable", pay.error().external);
  const Payment& p = pay.value();
  Poco::JSON::Object d;
  d.set("amount", formatMajor(p.amountMinor, p.currency, true));
  d.set("currency", p.currency);
  d.set("has_ussd", !p.action.ussdCode.empty());
  d.set("ussd_code", p.action.ussdCode);
  Poco::JSON::Array steps;
  for (const auto& s : p.action.steps) steps.add(s);
  d.set("steps", steps);
  d.set("vendor", p.action.vendor);
  d.set("reference", p.action.reference);
  d.set("push_sent", p.action.type == "push_sent" || req.queryParam("push") == "sent");
  d.set("can_push", p.status == PaymentStatus::pending);
  d.set("phone", cvFromJson(r->cvJson).phone);
  d.set("push_url", url(r->id, "push"));
  // In sandbox mode the provider's next action links to its simulator's "customer pays" page.
  if (host_.sandbox() && !p.action.url.empty()) d.set("sandbox_pay_url", p.action.url);
  d.set("verify_url", url(r->id, "verify"));
  d.set("status_url", url(r->id, "status-page"));
  d.set("render_warning", PdfRenderer::unrenderableWarning(
                              renderer_->unrenderable(cvFromJson(r->cvJson))));  // issue 19
  return page(200, "Pay for your CV", pages::kPayment, d);
}

Response CvPdfProduct::verifyForm(const Request& req) {
  auto r = load(req.param("request_id"));
  if (!r) return errorPage(404, "Not found", "This CV request does not exist.");
  if (r->status != "pending_payment" && r->status != "failed") return Response::redirect(303, url(r->id, "status-page"));
  Poco::JSON::Object d;
  d.set("verify_url", url(r->id, "verify"));
  d.set("payment_url", url(r->id, "payment-page"));
  d.set("amount", formatMajor(priceMinor_, currency_, true));
  d.set("currency", currency_);
  return page(200, "Verify your payment", pages::kVerify, d);
}

Response CvPdfProduct::verifySubmit(const Request& req) {
  auto r = load(req.param("request_id"));
  if (!r) return errorPage(404, "Not found", "This CV request does not exist.");
  if (r->status == "completed" || r->status == "generating_pdf" || r->status == "verifying_payment")
    return Response::redirect(303, url(r->id, "status-page"));
  std::string message = Poco::trim(bodyField(req, "payment_message"));
  auto again = [&](int status, const std::string& error) {
    Poco::JSON::Object d;
    d.set("verify_url", url(r->id, "verify"));
    d.set("payment_url", url(r->id, "payment-page"));
    d.set("amount", formatMajor(priceMinor_, currency_, true));
    d.set("currency", currency_);
    d.set("error", error);
    d.set("message", message.substr(0, 2000));
    Response resp = page(status, "Verify your payment", pages::kVerify, d);
    if (status == 429) resp.header("Retry-After", "600");
    return resp;
  };
  if (message.empty()) return again(400, "Paste the confirmation SMS you received after paying.");
  if (message.size() > 2000) return again(400, "That message is too long to be a confirmation SMS.");
  if (r->verifyAttempts >= s_.getInt("verify_max_attempts"))
    return again(429, "Too many verification attempts for this request. If you paid, contact support with your SMS; otherwise start a new request.");
  if (!clientAllowed(req.clientIp))
    return again(429, "Too many verification attempts from your network. Please wait a while and try again.");
  bool moved = updateRequest(r->id, 
                   "UPDATE cv_requests SET status = 'verifying_payment', error = '', pending_message = ?, "
                   "verify_attempts = verify_attempts + 1, updated_at = ?, version = version + 1 WHERE id = ? AND version = ?",
                   {message, host_.clock().nowMs(), r->id, r->version}) == 1;
  if (moved) {
    host_.jobs().enqueue(JobSpec{"cvpdf.verify", r->id, "", 0, 0});
  }
  return Response::redirect(303, url(r->id, "status-page"));
}

JobOutcome CvPdfProduct::runVerify(const Job& job) {
  auto r = load(job.payload);
  if (!r) return JobOutcome::fail("no request " + job.payload);
  if (r->status != "verifying_payment") return JobOutcome::ok();
  Rows m = host_.db().query("SELECT pending_message FROM cv_requests WHERE id = ?", {r->id});
  std::string message = m.empty() ? "" : m.str(0, "pending_message");
  auto fail = [&](const std::string& why) {
    // The pasted SMS is personal data: keep it no longer than the verification needs.
    updateRequest(r->id, "UPDATE cv_requests SET status = 'failed', error = ?, pending_message = NULL, updated_at = ?, "
                    "version = version + 1 WHERE id = ? AND status = 'verifying_payment'",
                    {why, host_.clock().nowMs(), r->id});
    return JobOutcome::ok();
  };
  bool lastTry = job.attempt >= job.maxAttempts;
  auto res = host_.payments().submitProof(r->paymentId, message);
  if (!res.ok()) {
    const Error& e = res.error();
    host_.logger().info("cvpdf", "request " + r->id + ": proof refused: " + e.internal);
    if (e.code == ErrorCode::providerTimeout || e.code == ErrorCode::providerError || e.code == ErrorCode::unavailable) {
      if (!lastTry) return JobOutcome::retry(e.internal);
      return fail("We could not reach the payment service to check your payment. Please try again in a few minutes.");
    }
    return fail(e.external);
  }
  const ProofOutcome& out = res.value();
  if (out.settled) {
    updateRequest(r->id, "UPDATE cv_requests SET status = 'generating_pdf', pending_message = NULL, updated_at = ?, version = version + 1 "
                    "WHERE id = ? AND status = 'verifying_payment'",
                    {host_.clock().nowMs(), r->id});
    return JobOutcome::ok();
  }
  if (out.payment.status == PaymentStatus::pending || out.payment.status == PaymentStatus::unknown) {
    if (!lastTry) return JobOutcome::retry("not paid yet");
    return fail("Your payment has not been confirmed yet. If you have paid, wait a few minutes and tap Try again; "
                "otherwise pay first using the instructions.");
  }
  return fail(out.message);
}

JobOutcome CvPdfProduct::onPaymentSettled(const Payment& p) {
  auto r = load(p.orderRef);
  if (!r) return JobOutcome::fail("payment " + p.id + " names no CV request");
  if (r->status == "completed") {
    if (r->paymentId != p.id)
      host_.logger().warning("cvpdf", "request " + r->id + " was already completed; payment " + p.id + " needs a refund");
    return JobOutcome::ok();
  }
  // generating_pdf, whatever came first: proof or webhook.
  updateRequest(r->id, "UPDATE cv_requests SET status = 'generating_pdf', error = '', pending_message = NULL, updated_at = ?, "
                  "version = version + 1 WHERE id = ? AND status <> 'completed'",
                  {host_.clock().nowMs(), r->id});
  CvData cv = cvFromJson(r->cvJson);
  RenderResult pdf = renderer_->render(cv, r->templateId);
  if (!pdf.ok) return JobOutcome::retry("PDF rendering failed: " + pdf.error);
  if (pdf.usedFallback) host_.logger().warning("cvpdf", "request " + r->id + ": fallback layout: " + pdf.error);
  Poco::SHA2Engine sha;
  sha.update(pdf.pdf);
  std::string etag = "\"" + Poco::DigestEngine::digestToHex(sha.digest()).substr(0, 32) + "\"";
  Poco::Path dir(storageDir_);
  dir.makeDirectory();  // storage_dir names a folder even without a trailing slash
  dir.pushDirectory(r->id.substr(0, 2));
  Poco::File(dir).createDirectories();
  std::string path = Poco::Path(dir, r->id + ".pdf").toString();
  {
    std::ofstream out(path + ".tmp", std::ios::binary | std::ios::trunc);
    out.write(pdf.pdf.data(), static_cast<std::streamsize>(pdf.pdf.size()));
    if (!out) return JobOutcome::retry("cannot write " + path);
  }
  Poco::File(path + ".tmp").renameTo(path);
  std::int64_t now = host_.clock().nowMs();
  try {
    updateRequest(r->id, "UPDATE cv_requests SET status = 'completed', pdf_path = ?, etag = ?, payment_id = ?, payment_reference = ?, "
                    "completed_at = ?, updated_at = ?, version = version + 1 WHERE id = ? AND status <> 'completed'",
                    {path, etag, p.id, p.providerTxnId.empty() ? Value(Null{}) : Value(p.providerTxnId), now, now, r->id});
  } catch (const DbError& e) {
    return JobOutcome::fail(std::string("cannot complete request (transaction id already used?): ") + e.what());
  }
  host_.logger().info("cvpdf", "request " + r->id + " completed (" + std::to_string(pdf.pages) + " pages)");
  return JobOutcome::ok();
}

JobOutcome CvPdfProduct::onPaymentFailed(const Payment& p) {
  auto r = load(p.orderRef);
  if (!r || r->paymentId != p.id) return JobOutcome::ok();
  std::string why = p.status == PaymentStatus::expired ? "The payment time ran out. Start a new payment to continue."
                                                       : (p.failureReason.empty() ? "The payment failed." : p.failureReason);
  updateRequest(r->id, "UPDATE cv_requests SET status = 'failed', error = ?, updated_at = ?, version = version + 1 "
                  "WHERE id = ? AND status IN ('pending_payment', 'verifying_payment')",
                  {why, host_.clock().nowMs(), r->id});
  return JobOutcome::ok();
}

Response CvPdfProduct::statusPage(const Request& req) {
  auto r = load(req.param("request_id"));
  if (!r) return errorPage(404, "Not found", "This CV request does not exist.");
  if (r->status == "pending_payment" || r->status == "verifying_payment") host_.payments().get(r->paymentId);  // sync on read
  Poco::JSON::Object d;
  d.set("status", r->status);
  d.set("status_label", statusLabel(r->status));
  bool inProgress = r->status == "verifying_payment" || r->status == "generating_pdf";
  d.set("in_progress", inProgress);
  if (!r->error.empty()) d.set("error", r->error);
  d.set("completed", r->status == "completed");
  d.set("failed", r->status == "failed");
  d.set("pending_payment", r->status == "pending_payment");
  d.set("download_url", url(r->id, "download"));
  d.set("verify_url", url(r->id, "verify"));
  d.set("payment_url", url(r->id, "payment-page"));
  d.set("restart_url", url(r->id, "restart"));
  bool restartable = false;
  if (r->status == "failed") {
    auto p = host_.payments().get(r->paymentId);
    restartable = !p.ok() || (isFinal(p.value().status) && p.value().status != PaymentStatus::succeeded);
  }
  d.set("restart", restartable);
  return page(200, "Your CV", pages::kStatus, d, inProgress || r->status == "pending_payment");
}

Response CvPdfProduct::statusJson(const Request& req) {
  std::string id = req.param("request_id");
  std::int64_t now = host_.clock().nowMs();
  // Front ends poll this every few seconds: a short-lived cache answers the repeats without
  // the database. This process drops an entry whenever it changes the request; other
  // processes' changes show within status_cache_ms.
  {
    std::lock_guard<std::mutex> lock(statusCacheMutex_);
    auto it = statusCache_.find(id);
    if (it != statusCache_.end() && it->second.first > now) {
      Response cached = Response::text(200, it->second.second, "application/json");
      cached.header("Cache-Control", "no-store");
      return cached;
    }
  }
  auto r = load(id);
  if (!r) return jsonError(404, "Request not found");
  if (r->status == "pending_payment") host_.payments().get(r->paymentId);  // a stale payment is re-checked
  Poco::JSON::Object o;
  o.set("status", r->status);
  o.set("request_id", r->id);
  o.set("created_at", isoTime(r->createdAt));
  o.set("completed_at", r->completedAt ? Poco::Dynamic::Var(isoTime(r->completedAt)) : Poco::Dynamic::Var());
  o.set("download_url", r->status == "completed" ? Poco::Dynamic::Var(url(r->id, "download")) : Poco::Dynamic::Var());
  if (r->status == "failed") o.set("error", r->error);
  Response resp = Response::json(200, o);
  resp.header("Cache-Control", "no-store");
  std::int64_t ttl = s_.getInt("status_cache_ms");
  if (ttl > 0) {
    std::lock_guard<std::mutex> lock(statusCacheMutex_);
    if (statusCache_.size() > 100000) statusCache_.clear();
    statusCache_[r->id] = {now + ttl, resp.body};
  }
  return resp;
}

Response CvPdfProduct::download(const Request& req) {
  auto r = load(req.param("request_id"));
  if (!r) return jsonError(404, "Request not found");
  if (!r->userId.empty() && req.userId.value_or("") != r->userId)
    return jsonError(403, "This CV belongs to another account. Sign in as its owner to download it.");
  if (r->status != "completed") return jsonError(409, "The PDF is not ready yet (status: " + r->status + ").");
  if (req.header("If-None-Match") == r->etag) {
    Response nm = Response::text(304, "", "");
    nm.header("ETag", r->etag).header("Cache-Control", "private, max-age=86400");
    return nm;
  }
  std::ifstream in(r->pdfPath, std::ios::binary);
  if (!in) {
    host_.logger().error("cvpdf", "request " + r->id + ": stored PDF is missing");
    return jsonError(500, "The PDF file is missing; please contact support.");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  host_.db().exec("UPDATE cv_requests SET download_count = download_count + 1 WHERE id = ?", {r->id});
  Response resp = Response::text(200, ss.str(), "application/pdf");
  // An ASCII name for old clients, the person's own spelling (RFC 6266/5987) for the rest.
  std::string name = cvFromJson(r->cvJson).name, encoded;
  Poco::URI::encode("cv-" + name + ".pdf", "", encoded);
  for (std::size_t i = 0; i < encoded.size(); ++i)
    if (encoded[i] == ' ') encoded.replace(i, 1, "%20");
  resp.header("Content-Disposition", "attachment; filename=\"" + slug(name) + ".pdf\"; filename*=UTF-8''" + encoded);
  resp.header("Cache-Control", "private, max-age=86400");
  resp.header("ETag", r->etag);
  return resp;
}

Response CvPdfProduct::push(const Request& req) {
  auto r = load(req.param("request_id"));
  if (!r) return errorPage(404, "Not found", "This CV request does not exist.");
  std::string phone = normalisePhone(bodyField(req, "phone"));
  if (phone.empty()) return errorPage(400, "Invalid number", "Enter a valid mobile money number, e.g. 0754 123 456.", url(r->id, "payment-page"));
  auto res = host_.payments().requestPush(r->paymentId, phone);
  if (!res.ok()) return errorPage(httpStatus(res.error().code), "Prompt not sent", res.error().external, url(r->id, "payment-page"));
  return Response::redirect(303, url(r->id, "payment-page") + "?push=sent");
}

Response CvPdfProduct::restart(const Request& req) {
  auto r = load(req.param("request_id"));
  if (!r) return errorPage(404, "Not found", "This CV request does not exist.");
  if (r->status != "failed") return Response::redirect(303, url(r->id, "status-page"));
  auto old = host_.payments().get(r->paymentId);
  if (old.ok() && !isFinal(old.value().status))
    return Response::redirect(303, url(r->id, "verify"));  // the payment can still be paid: verify again
  auto pay = newPayment(*r, "", false);
  if (!pay.ok()) return errorPage(502, "Payment unavailable", pay.error().external, url(r->id, "status-page"));
  updateRequest(r->id, "UPDATE cv_requests SET status = 'pending_payment', error = '', payment_id = ?, verify_attempts = 0, updated_at = ?, "
                  "version = version + 1 WHERE id = ? AND version = ?",
                  {pay.value().id, host_.clock().nowMs(), r->id, r->version});
  return Response::redirect(303, url(r->id, "payment-page"));
}

}  // namespace malipo::cvpdf
