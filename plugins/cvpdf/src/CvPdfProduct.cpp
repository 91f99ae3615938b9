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

#include <ctime>
#include <fstream>
#include <sstream>

#include "malipo/money.hpp"
#include "pages.hpp"

namespace malipo::cvpdf {

namespace {

const char* kCols =
    "id, cv_id, user_id, template_id, cv_json, status, payment_id, payment_reference, error, "
    "pdf_path, etag, download_count, "
    "verify_attempts, created_at, updated_at, completed_at, version";

const char* kUnderReview = "payment_under_review";
// A request whose payment was refunded in full: its download is revoked (410).
const char* kRefunded = "refunded";

// The catalog key of a request status's label.
std::string statusLabel(const std::string& s) {
  if (s == "pending_payment" || s == kUnderReview || s == "verifying_payment" ||
      s == "generating_pdf" || s == "completed" || s == "failed")
    return "status_" + s;
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

// The last digits of a phone number, for a page that must not show the whole of it.
std::string phoneEnding(const std::string& phone) {
  std::string digits;
  for (char c : phone)
    if (std::isdigit(static_cast<unsigned char>(c))) digits += c;
  return digits.size() < 6 ? std::string() : digits.substr(digits.size() - 3);
}

// What the customer quotes to support about a payment: the reference they paid with.
std::string referenceOf(const Payment& p) {
  if (!p.action.reference.empty()) return p.action.reference;
  return p.providerRef.empty() ? p.id : p.providerRef;
}

bool finalUnpaid(const Payment& p) {
  return isFinal(p.status) && p.status != PaymentStatus::succeeded &&
         p.status != PaymentStatus::held;
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

const Decl<CvPdfSettings>& CvPdfSettings::decl() {
  using C = CvPdfSettings;
  static const auto d =
      Decl<C>("CV PDF product")
          .list("providers", &C::providers, "payment providers in order of preference",
                schema::str("provider plugin name"))
          .section("price", "price of one CV PDF",
                   [](Decl<C>& p) {
                     p.str("amount", &C::priceAmount, "amount in major units, e.g. \"1000\"")
                         .str("currency", &C::priceCurrency, "ISO 4217 currency");
                   })
          .str("storage_dir", &C::storageDir,
               "where generated PDFs are stored (relative: to the config's folder)")
          .path()
          .str("font_dir", &C::fontDir,
               "directory with DejaVuSans.ttf and DejaVuSans-Bold.ttf (empty: Debian's "
               "fonts-dejavu-core)")
          .path()
          .integer("max_pages", &C::maxPages, "page cap of a generated CV")
          .range(1, 50)
          .integer("max_body_bytes", &C::maxBodyBytes, "largest initiate-ussd body")
          .range(1024, 1048576)
          .str("phone_region", &C::phoneRegion, "region for phone numbers without a country code")
          .integer("utc_offset_minutes", &C::utcOffsetMinutes,
                   "the customers' time zone as minutes east of UTC (180: East Africa Time), for "
                   "the payment deadline on the payment page")
          .range(-720, 840)
          .integer("status_cache_ms", &C::statusCacheMs,
                   "how long GET …/status may answer from memory (0: never)")
          .range(0, 10000)
          .integer("verify_retries", &C::verifyRetries,
                   "re-checks with backoff while the provider says not paid yet")
          .range(0, 10)
          .integer("verify_backoff_ms", &C::verifyBackoffMs,
                   "delay before the first re-check (doubles each time)")
          .range(1, 3600000)
          .integer("verify_max_attempts", &C::verifyMaxAttempts,
                   "SMS submissions allowed per request and client")
          .range(1, 1000)
          .integer("verify_per_client_per_hour", &C::verifyPerClientPerHour,
                   "SMS submissions allowed per client per hour")
          .range(1, 100000)
          .integer("push_max_per_request", &C::pushMaxPerRequest,
                   "payment prompts (USSD push) allowed per request and client")
          .range(1, 100)
          .integer("push_per_client_per_hour", &C::pushPerClientPerHour,
                   "payment prompts allowed per client per hour")
          .range(1, 100000)
          .str("link_secret", &C::linkSecret,
               "key that signs the owner's page and download links (empty: a random key kept in "
               "the database)")
          .strongSecret(true)
          .integer("page_link_ttl_minutes", &C::pageLinkTtlSeconds,
                   "how long a signed-in owner's page link stays valid")
          .unit(60)
          .range(5, 10080)
          .integer("download_link_ttl_seconds", &C::downloadLinkTtlSeconds,
                   "how long a signed download link stays valid")
          .range(30, 86400)
          .integer("callback_max_body_bytes", &C::callbackMaxBodyBytes,
                   "largest body on /api/cv-pdf/ussd-callback")
          .range(1024, 262144);
  return d;
}

CvPdfProduct::CvPdfProduct(Host& host)
    : host_(host), s_(CvPdfSettings::decl().load(host.settings())) {
  currency_ = s_.priceCurrency;
  auto minor = parseMajor(s_.priceAmount, currency_);
  if (!validCurrency(currency_) || !minor || *minor <= 0)
    throw std::runtime_error("settings.price: '" + s_.priceAmount + " " + currency_ +
                             "' is not a valid price");
  priceMinor_ = *minor;
  providers_ = s_.providers;
  storageDir_ = s_.storageDir;
  Poco::File(storageDir_).createDirectories();
  RenderOptions ro;
  ro.maxPages = s_.maxPages;
  ro.fontDir = s_.fontDir;
  // The brand behind the document, under every page's footer (kernel config `brand:`).
  const Brand& b = host_.brand();
  for (const std::string* part : {&b.name, &b.supportPhone, &b.supportEmail})
    if (!part->empty()) ro.footerNote += (ro.footerNote.empty() ? "" : " \u00B7 ") + *part;
  renderer_ = std::make_unique<PdfRenderer>(ro);
  if (!renderer_->fontWarnings().empty())
    host_.logger().warning("cvpdf", "fonts: " + renderer_->fontWarnings());
}

std::vector<Migration> CvPdfProduct::migrations() const {
  Migration m;
  m.version = 1;
  m.description = "CV requests";
  m.sqlite =
      "CREATE TABLE cv_requests (id TEXT PRIMARY KEY, cv_id TEXT, user_id TEXT, template_id TEXT "
      "NOT NULL, cv_json TEXT NOT NULL, "
      "status TEXT NOT NULL, payment_id TEXT, payment_reference TEXT, pending_message TEXT, error "
      "TEXT NOT NULL DEFAULT '', "
      "pdf_path TEXT, etag TEXT, download_count BIGINT NOT NULL DEFAULT 0, verify_attempts BIGINT "
      "NOT NULL DEFAULT 0, "
      "created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, completed_at BIGINT NOT NULL "
      "DEFAULT 0, version BIGINT NOT NULL DEFAULT 1);"
      "CREATE UNIQUE INDEX cv_requests_reference ON cv_requests (payment_reference);"
      "CREATE INDEX cv_requests_payment ON cv_requests (payment_id)";
  Migration limits;
  limits.version = 2;
  limits.description = "CV request attempts per client, link signing key";
  limits.sqlite =
      "CREATE TABLE cv_request_limits (request_id TEXT NOT NULL, client TEXT NOT NULL, "
      "action TEXT NOT NULL, n BIGINT NOT NULL, updated_at BIGINT NOT NULL, "
      "PRIMARY KEY (request_id, client, action));"
      "CREATE TABLE cvpdf_keys (name TEXT PRIMARY KEY, value TEXT NOT NULL, "
      "created_at BIGINT NOT NULL)";
  Migration refunds;
  refunds.version = 3;
  refunds.description = "refunds heard of per request";
  refunds.sqlite =
      "CREATE TABLE cv_refunds (refund_id TEXT PRIMARY KEY, request_id TEXT NOT NULL, "
      "payment_id TEXT NOT NULL, amount_minor BIGINT NOT NULL, created_at BIGINT NOT NULL);"
      "CREATE INDEX cv_refunds_request ON cv_refunds (request_id)";
  return {m, limits, refunds};
}

std::string CvPdfProduct::url(const std::string& id, const std::string& leaf) const {
  return "/api/cv-pdf/" + id + "/" + leaf;
}

Access CvPdfProduct::ownerAccess(const CvRequest& r) const {
  Access a;
  a.allowed = true;
  a.owner = !r.userId.empty();
  a.client = r.userId.empty() ? "" : "user:" + r.userId;
  if (a.owner)
    a.token = signLink(linkKey_, "page", r.id, r.userId,
                       host_.clock().nowMs() / 1000 + s_.pageLinkTtlSeconds);
  return a;
}

Access CvPdfProduct::access(const Request& req, const CvRequest& r) const {
  const std::string caller = req.userId.value_or("");
  const std::string lang = host_.pages().language(req);
  if (r.userId.empty()) {
    // Anonymous: whoever holds the unguessable id. Personal data stays masked on its pages.
    Access a;
    a.allowed = true;
    a.client = caller.empty() ? "ip:" + req.clientIp : "user:" + caller;
    a.lang = lang;
    return a;
  }
  if (caller == r.userId) {
    Access a = ownerAccess(r);
    a.lang = lang;
    return a;
  }
  Access a;
  a.lang = lang;
  a.client = "user:" + r.userId;
  a.denial = tr(lang, "err_other_account");
  const std::string token = req.queryParam("access");
  if (token.empty()) return a;
  switch (checkLink(linkKey_, "page", r.id, r.userId, token, host_.clock().nowMs() / 1000)) {
    case LinkCheck::valid:
      a.allowed = a.owner = true;
      a.token = token;
      a.denial.clear();
      break;
    case LinkCheck::expired:
      a.denial = tr(lang, "err_link_expired");
      break;
    case LinkCheck::invalid:
      break;
  }
  return a;
}

std::string CvPdfProduct::link(const CvRequest& r, const std::string& leaf, const Access& a,
                               const std::string& query) const {
  std::string q =
      a.token.empty() ? query : "access=" + a.token + (query.empty() ? "" : "&" + query);
  return url(r.id, leaf) + (q.empty() ? "" : "?" + q);
}

std::string CvPdfProduct::downloadLink(const CvRequest& r, std::int64_t* expiresAtMs) const {
  if (r.userId.empty()) return url(r.id, "download");
  std::int64_t expires = host_.clock().nowMs() / 1000 + s_.downloadLinkTtlSeconds;
  if (expiresAtMs) *expiresAtMs = expires * 1000;
  return url(r.id, "download") +
         "?access=" + signLink(linkKey_, "download", r.id, r.userId, expires);
}

Result<Payment> CvPdfProduct::currentPayment(CvRequest& r) {
  auto p = host_.payments().get(r.paymentId);
  if (!p.ok()) return p;
  if (p.value().status == PaymentStatus::held &&
      (r.status == "pending_payment" || r.status == "verifying_payment" || r.status == "failed")) {
    // Money arrived but the kernel holds it for an operator (e.g. 500 of 1000 paid): the
    // customer has paid something and must never be told to pay again.
    std::int64_t moved =
        updateRequest(r.id,
                      "UPDATE cv_requests SET status = ?, error = '', pending_message = NULL, "
                      "updated_at = ?, version = version + 1 "
                      "WHERE id = ? AND payment_id = ? AND status IN ('pending_payment', "
                      "'verifying_payment', 'failed')",
                      {std::string(kUnderReview), host_.clock().nowMs(), r.id, r.paymentId});
    if (moved == 1)
      host_.logger().info("cvpdf",
                          "request " + r.id + ": payment " + r.paymentId + " held for review");
    if (auto fresh = load(r.id)) r = *fresh;
  }
  return p;
}

void CvPdfProduct::reviewData(Poco::JSON::Object& d, const Result<Payment>& p) const {
  if (p.ok()) d.set("reference", referenceOf(p.value()));
  const Brand& b = host_.brand();
  d.set("support_name", b.name);
  if (!b.supportPhone.empty()) d.set("support_phone", b.supportPhone);
  if (!b.supportEmail.empty()) d.set("support_email", b.supportEmail);
}

std::int64_t CvPdfProduct::attempts(const std::string& requestId, const std::string& client,
                                    const std::string& action) {
  Rows r = host_.db().query(
      "SELECT n FROM cv_request_limits WHERE request_id = ? AND client = ? AND action = ?",
      {requestId, client, action});
  return r.empty() ? 0 : r.i64(0, "n");
}

void CvPdfProduct::countAttempt(const std::string& requestId, const std::string& client,
                                const std::string& action) {
  host_.db().exec(
      "INSERT INTO cv_request_limits (request_id, client, action, n, updated_at) "
      "VALUES (?, ?, ?, 1, ?) ON CONFLICT (request_id, client, action) "
      "DO UPDATE SET n = cv_request_limits.n + 1, updated_at = excluded.updated_at",
      {requestId, client, action, host_.clock().nowMs()});
}

std::optional<CvRequest> CvPdfProduct::load(const std::string& id) {
  if (!isUuid(id)) return std::nullopt;
  Rows r =
      host_.db().query(std::string("SELECT ") + kCols + " FROM cv_requests WHERE id = ?", {id});
  if (r.empty()) return std::nullopt;
  return rowTo(r);
}

std::int64_t CvPdfProduct::updateRequest(const std::string& id, const std::string& sql,
                                         const Params& params) {
  std::int64_t n = host_.db().exec(sql, params);
  std::lock_guard<std::mutex> lock(statusCacheMutex_);
  statusCache_.erase(id);
  return n;
}

bool CvPdfProduct::moveTo(const CvRequest& r, const std::string& status, const std::string& error) {
  return updateRequest(r.id,
                       "UPDATE cv_requests SET status = ?, error = ?, updated_at = ?, version = "
                       "version + 1 WHERE id = ? AND version = ?",
                       {status, error, host_.clock().nowMs(), r.id, r.version}) == 1;
}

std::string CvPdfProduct::normalisePhone(const std::string& raw) const {
  using i18n::phonenumbers::PhoneNumberUtil;
  PhoneNumberUtil* util = PhoneNumberUtil::GetInstance();
  i18n::phonenumbers::PhoneNumber number;
  if (util->Parse(raw, s_.phoneRegion, &number) != PhoneNumberUtil::NO_PARSING_ERROR) return "";
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

void CvPdfProduct::paymentGuide(Poco::JSON::Object& d, const Payment& p,
                                const std::string& lang) const {
  Poco::JSON::Object params;
  params.set("vendor", p.action.vendor);
  params.set("reference", p.action.reference.empty() ? p.id : p.action.reference);
  params.set("amount", host_.pages().money(lang, p.amountMinor, p.currency));
  params.set("ussd_code", p.action.ussdCode);
  if (p.expiresAtMs > 0) {
    std::time_t t = static_cast<std::time_t>(p.expiresAtMs / 1000 + s_.utcOffsetMinutes * 60);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char time[16], date[16];
    std::strftime(time, sizeof time, "%H:%M", &tm);
    std::strftime(date, sizeof date, "%d/%m/%Y", &tm);
    params.set("time", std::string(time));
    params.set("date", std::string(date));
    d.set("deadline", host_.pages().text(lang, "deadline", params));
  }
  // Selcom takes every Tanzanian network: the steps of each (messages: net_<id>_steps, one
  // step a line), the first open.
  if (p.provider != "selcom") return;
  Poco::JSON::Array networks;
  static const char* ids[][2] = {{"mpesa", "M-Pesa"},
                                 {"tigopesa", "Tigo Pesa"},
                                 {"airtel", "Airtel Money"},
                                 {"halopesa", "HaloPesa"}};
  for (const auto& [id, name] : ids) {
    Poco::JSON::Object::Ptr n = new Poco::JSON::Object;
    n->set("id", std::string(id));
    n->set("name", std::string(name));
    n->set("open", networks.size() == 0);
    Poco::JSON::Array steps;
    std::string all = host_.pages().text(lang, std::string("net_") + id + "_steps", params);
    std::size_t start = 0;
    while (start <= all.size()) {
      std::size_t end = all.find('\n', start);
      if (end == std::string::npos) end = all.size();
      if (end > start) steps.add(all.substr(start, end - start));
      start = end + 1;
    }
    n->set("steps", steps);
    networks.add(n);
  }
  d.set("networks", networks);
  d.set("has_networks", true);
}

std::string CvPdfProduct::tr(const std::string& lang, const std::string& key) const {
  return host_.pages().text(lang, key);
}

Response CvPdfProduct::page(const std::string& lang, int status, const std::string& titleKey,
                            const std::string& tmpl, const Poco::JSON::Object& data, bool refresh) {
  Response r = Response::html(
      status, host_.pages().renderIn(lang, tr(lang, titleKey), tmpl, data,
                                     refresh ? "<meta http-equiv=\"refresh\" content=\"5\">" : ""));
  r.header("Cache-Control", "no-store");
  // Page URLs may carry a signed link (?access=…): never hand them to another site.
  r.header("Referrer-Policy", "same-origin");
  return r;
}

Response CvPdfProduct::errorPage(const std::string& lang, int status, const std::string& titleKey,
                                 const std::string& message, const std::string& backUrl) {
  Poco::JSON::Object d;
  d.set("title", tr(lang, titleKey));
  d.set("message", message);
  if (!backUrl.empty()) d.set("back_url", backUrl);
  return page(lang, status, titleKey, pages::kError, d);
}

bool CvPdfProduct::clientAllowed(const std::string& action, const std::string& client,
                                 std::int64_t perHour) {
  const std::int64_t window = 3600000;
  std::int64_t now = host_.clock().nowMs();
  std::lock_guard<std::mutex> lock(clientMutex_);
  if (clientWindow_.size() > 50000) clientWindow_.clear();
  auto& [start, count] = clientWindow_[action + "|" + client];
  if (now - start > window) {
    start = now;
    count = 0;
  }
  return ++count <= perHour;
}

void CvPdfProduct::start() {
  linkKey_ = s_.linkSecret;
  if (linkKey_.empty()) {
    // None configured: one random key, kept in the database so every process signs alike.
    host_.db().exec(
        "INSERT INTO cvpdf_keys (name, value, created_at) VALUES ('links', ?, ?) "
        "ON CONFLICT DO NOTHING",
        {randomLinkKey(), host_.clock().nowMs()});
    linkKey_ =
        host_.db().query("SELECT value FROM cvpdf_keys WHERE name = 'links'").str(0, "value");
  }
  auto& r = host_.router();
  std::size_t maxBody = s_.maxBodyBytes;
  r.add("POST", "/api/cv-pdf/{cv_id}/initiate-ussd",
        [this](const Request& q) { return initiate(q); }, {Auth::optional, "", maxBody, "", true});
  // Every route looks at a JWT when one is sent: a signed-in user's request answers only them.
  r.add("GET", "/api/cv-pdf/{request_id}/payment-page",
        [this](const Request& q) { return paymentPage(q); }, {Auth::optional, "", 0, ""});
  r.add("GET", "/api/cv-pdf/{request_id}/verify",
        [this](const Request& q) { return verifyForm(q); }, {Auth::optional, "", 0, ""});
  r.add("POST", "/api/cv-pdf/{request_id}/verify",
        [this](const Request& q) { return verifySubmit(q); }, {Auth::optional, "", 16384, ""});
  r.add("GET", "/api/cv-pdf/{request_id}/status-page",
        [this](const Request& q) { return statusPage(q); }, {Auth::optional, "", 0, ""});
  r.add("GET", "/api/cv-pdf/{request_id}/status",
        [this](const Request& q) { return statusJson(q); }, {Auth::optional, "", 0, ""});
  r.add("GET", "/api/cv-pdf/{request_id}/download",
        [this](const Request& q) { return download(q); }, {Auth::optional, "", 0, ""});
  r.add("POST", "/api/cv-pdf/{request_id}/push", [this](const Request& q) { return push(q); },
        {Auth::optional, "", 4096, ""});
  r.add("POST", "/api/cv-pdf/{request_id}/restart", [this](const Request& q) { return restart(q); },
        {Auth::optional, "", 4096, ""});
  // Selcom's callbacks are a few hundred bytes: a cap far below the server's 1 MiB.
  if (!providers_.empty())
    r.add("POST", "/api/cv-pdf/ussd-callback", host_.payments().webhookInbox(providers_.front()),
          {Auth::none, "webhooks", s_.callbackMaxBodyBytes, ""});
  JobKindOptions verify;
  verify.maxAttempts = 1 + s_.verifyRetries;
  verify.backoffBaseMs = s_.verifyBackoffMs;
  verify.leaseMs = 120000;
  host_.jobs().handle(
      "cvpdf.verify", [this](const Job& j) { return runVerify(j); }, verify);
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
  if (!body)
    return jsonError(400, "The request body must be a JSON object with template_id and cv_data.");
  std::string templateId = body->optValue<std::string>("template_id", "");
  const auto& ids = PdfRenderer::templateIds();
  if (std::find(ids.begin(), ids.end(), templateId) == ids.end()) {
    std::string list;
    for (const auto& t : ids) list += (list.empty() ? "" : ", ") + t;
    return jsonError(400,
                     "Unknown template_id '" + templateId + "'. Valid templates: " + list + ".");
  }
  Poco::JSON::Object::Ptr cvData;
  if (body->has("cv_data") && body->get("cv_data").type() == typeid(Poco::JSON::Object::Ptr))
    cvData = body->getObject("cv_data");
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
    tx.exec(
        "INSERT INTO cv_requests (id, cv_id, user_id, template_id, cv_json, status, created_at, "
        "updated_at) "
        "VALUES (?, ?, ?, ?, ?, 'pending_payment', ?, ?)",
        {r.id, r.cvId.empty() ? Value(Null{}) : Value(r.cvId),
         r.userId.empty() ? Value(Null{}) : Value(r.userId), r.templateId, r.cvJson, now, now});
  });
  auto pay = newPayment(r, phone, !phone.empty());
  if (!pay.ok()) {
    updateRequest(
        r.id, "UPDATE cv_requests SET status = 'failed', error = ?, updated_at = ? WHERE id = ?",
        {pay.error().external, host_.clock().nowMs(), r.id});
    host_.logger().warning("cvpdf",
                           "request " + r.id + ": payment not created: " + pay.error().internal);
    return jsonError(httpStatus(pay.error().code) >= 500 ? 502 : httpStatus(pay.error().code),
                     pay.error().external);
  }
  updateRequest(r.id, "UPDATE cv_requests SET payment_id = ? WHERE id = ?", {pay.value().id, r.id});
  host_.logger().info("cvpdf", "request " + r.id + " created, payment " + pay.value().id);
  Poco::JSON::Object out;
  out.set("success", true);
  out.set("request_id", r.id);
  // A signed-in user's browser follows this link without their JWT: it carries a page link
  // signed for them.
  out.set("payment_page_url", host_.publicUrl() + link(r, "payment-page", ownerAccess(r)));
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
  if (!r)
    return errorPage(host_.pages().language(req), 404, "err_not_found_title",
                     tr(host_.pages().language(req), "err_not_found"));
  Access a = access(req, *r);
  if (!a.allowed) return errorPage(a.lang, 403, "err_not_yours_title", a.denial);
  auto pay = currentPayment(*r);
  if (r->status == "completed" || r->status == "generating_pdf" ||
      r->status == "verifying_payment" || r->status == kUnderReview)
    return Response::redirect(303, link(*r, "status-page", a));
  if (!pay.ok())
    return errorPage(a.lang, 502, "err_unavailable_title", tr(a.lang, "err_unavailable"));
  const Payment& p = pay.value();
  // A payment that can no longer be paid: the status page offers a new one.
  if (finalUnpaid(p)) return Response::redirect(303, link(*r, "status-page", a));
  Poco::JSON::Object d;
  d.set("amount", host_.pages().money(a.lang, p.amountMinor, p.currency));
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
  // The CV's number only for its signed-in owner; anyone else holding the id sees its end.
  const std::string phone = cvFromJson(r->cvJson).phone;
  if (a.owner) {
    d.set("phone", phone);
  } else if (!phoneEnding(phone).empty()) {
    d.set("phone_ending", phoneEnding(phone));
  }
  d.set("push_url", link(*r, "push", a));
  // In sandbox mode the provider's next action links to its simulator's "customer pays" page.
  if (host_.sandbox() && !p.action.url.empty()) d.set("sandbox_pay_url", p.action.url);
  d.set("verify_url", link(*r, "verify", a));
  d.set("status_url", link(*r, "status-page", a));
  d.set("render_warning", PdfRenderer::unrenderableWarning(
                              renderer_->unrenderable(cvFromJson(r->cvJson))));  // issue 19
  paymentGuide(d, p, a.lang);
  return page(a.lang, 200, "pay_title", pages::kPayment, d);
}

// Who may verify, and whether this request still takes an SMS: a refusal, or nothing.
std::optional<Response> CvPdfProduct::verifyRefusal(const Request& req, std::optional<CvRequest>& r,
                                                    Access& a) {
  r = load(req.param("request_id"));
  if (!r)
    return errorPage(host_.pages().language(req), 404, "err_not_found_title",
                     tr(host_.pages().language(req), "err_not_found"));
  a = access(req, *r);
  if (!a.allowed) return errorPage(a.lang, 403, "err_not_yours_title", a.denial);
  if (r->status != "pending_payment" && r->status != "failed")
    return Response::redirect(303, link(*r, "status-page", a));
  // No SMS can confirm a payment that failed or expired: the status page starts a new one.
  auto pay = currentPayment(*r);
  if (pay.ok() && finalUnpaid(pay.value()))
    return Response::redirect(303, link(*r, "status-page", a));
  return std::nullopt;
}

Response CvPdfProduct::verifyPage(int status, const CvRequest& r, const Access& a,
                                  const std::string& error, const std::string& message) {
  Poco::JSON::Object d;
  d.set("verify_url", link(r, "verify", a));
  d.set("payment_url", link(r, "payment-page", a));
  d.set("amount", host_.pages().money(a.lang, priceMinor_, currency_));
  d.set("currency", currency_);
  if (!error.empty()) d.set("error", error);
  if (!message.empty()) d.set("message", message.substr(0, 2000));
  Response resp = page(a.lang, status, "verify_title", pages::kVerify, d);
  if (status == 429) resp.header("Retry-After", "600");
  return resp;
}

Response CvPdfProduct::verifyForm(const Request& req) {
  std::optional<CvRequest> r;
  Access a;
  if (auto refused = verifyRefusal(req, r, a)) return *refused;
  return verifyPage(200, *r, a, "", "");
}

Response CvPdfProduct::verifySubmit(const Request& req) {
  std::optional<CvRequest> r;
  Access a;
  if (auto refused = verifyRefusal(req, r, a)) return *refused;
  std::string message = Poco::trim(bodyField(req, "payment_message"));
  auto again = [&](int status, const std::string& error) {
    return verifyPage(status, *r, a, error, message);
  };
  if (message.empty()) return again(400, tr(a.lang, "err_sms_empty"));
  if (message.size() > 2000) return again(400, tr(a.lang, "err_sms_too_long"));
  // Counted per request and client, so that someone else holding the id cannot use up the
  // owner's attempts; and per client across requests.
  if (attempts(r->id, a.client, "verify") >= s_.verifyMaxAttempts)
    return again(429, tr(a.lang, "err_too_many_verify"));
  if (!clientAllowed("verify", a.client, s_.verifyPerClientPerHour))
    return again(429, tr(a.lang, "err_too_many_verify_network"));
  bool moved =
      updateRequest(
          r->id,
          "UPDATE cv_requests SET status = 'verifying_payment', error = '', pending_message = ?, "
          "verify_attempts = verify_attempts + 1, updated_at = ?, version = version + 1 "
          "WHERE id = ? AND version = ?",
          {message, host_.clock().nowMs(), r->id, r->version}) == 1;
  if (moved) {
    countAttempt(r->id, a.client, "verify");
    host_.jobs().enqueue(JobSpec{"cvpdf.verify", r->id, "", 0, 0});
  }
  return Response::redirect(303, link(*r, "status-page", a));
}

JobOutcome CvPdfProduct::runVerify(const Job& job) {
  auto r = load(job.payload);
  if (!r) return JobOutcome::fail("no request " + job.payload);
  if (r->status != "verifying_payment") return JobOutcome::ok();
  Rows m = host_.db().query("SELECT pending_message FROM cv_requests WHERE id = ?", {r->id});
  std::string message = m.empty() ? "" : m.str(0, "pending_message");
  auto fail = [&](const std::string& why) {
    // The pasted SMS is personal data: keep it no longer than the verification needs.
    updateRequest(r->id,
                  "UPDATE cv_requests SET status = 'failed', error = ?, pending_message = NULL, "
                  "updated_at = ?, "
                  "version = version + 1 WHERE id = ? AND status = 'verifying_payment'",
                  {why, host_.clock().nowMs(), r->id});
    return JobOutcome::ok();
  };
  bool lastTry = job.attempt >= job.maxAttempts;
  auto res = host_.payments().submitProof(r->paymentId, message);
  // A payment held for review (by this proof or before it) is money received: never "failed".
  auto heldNow = [&] {
    CvRequest now = *r;
    currentPayment(now);
    return now.status == kUnderReview;
  };
  if (!res.ok()) {
    const Error& e = res.error();
    host_.logger().info("cvpdf", "request " + r->id + ": proof refused: " + e.internal);
    if (e.code == ErrorCode::conflict && heldNow()) return JobOutcome::ok();
    if (e.code == ErrorCode::providerTimeout || e.code == ErrorCode::providerError ||
        e.code == ErrorCode::unavailable) {
      if (!lastTry) return JobOutcome::retry(e.internal);
      return fail(tr("en", "err_check_unreachable"));
    }
    if (e.code == ErrorCode::conflict) {
      auto p = host_.payments().get(r->paymentId);
      if (p.ok() && finalUnpaid(p.value())) return fail(tr("en", "err_cannot_confirm"));
    }
    return fail(e.external);
  }
  const ProofOutcome& out = res.value();
  if (out.settled) {
    updateRequest(r->id,
                  "UPDATE cv_requests SET status = 'generating_pdf', pending_message = NULL, "
                  "updated_at = ?, version = version + 1 "
                  "WHERE id = ? AND status = 'verifying_payment'",
                  {host_.clock().nowMs(), r->id});
    return JobOutcome::ok();
  }
  if (out.payment.status == PaymentStatus::held && heldNow()) return JobOutcome::ok();
  if (finalUnpaid(out.payment)) return fail(tr("en", "err_cannot_confirm"));
  if (out.payment.status == PaymentStatus::pending ||
      out.payment.status == PaymentStatus::unknown) {
    if (!lastTry) return JobOutcome::retry("not paid yet");
    return fail(tr("en", "err_not_confirmed_yet"));
  }
  return fail(out.message);
}

JobOutcome CvPdfProduct::onPaymentSettled(const Payment& p) {
  auto r = load(p.orderRef);
  if (!r) return JobOutcome::fail("payment " + p.id + " names no CV request");
  if (r->status == kRefunded) return JobOutcome::ok();  // refunded: never made again
  if (r->status == "completed") {
    if (r->paymentId != p.id)
      host_.logger().warning("cvpdf", "request " + r->id + " was already completed; payment " +
                                          p.id + " needs a refund");
    return JobOutcome::ok();
  }
  // generating_pdf, whatever came first: proof or webhook.
  updateRequest(r->id,
                "UPDATE cv_requests SET status = 'generating_pdf', error = '', pending_message = "
                "NULL, updated_at = ?, "
                "version = version + 1 WHERE id = ? AND status <> 'completed'",
                {host_.clock().nowMs(), r->id});
  CvData cv = cvFromJson(r->cvJson);
  RenderResult pdf = renderer_->render(cv, r->templateId);
  if (!pdf.ok) return JobOutcome::retry("PDF rendering failed: " + pdf.error);
  if (pdf.usedFallback)
    host_.logger().warning("cvpdf", "request " + r->id + ": fallback layout: " + pdf.error);
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
    updateRequest(
        r->id,
        "UPDATE cv_requests SET status = 'completed', pdf_path = ?, etag = ?, payment_id = ?, "
        "payment_reference = ?, "
        "completed_at = ?, updated_at = ?, version = version + 1 WHERE id = ? AND status <> "
        "'completed'",
        {path, etag, p.id, p.providerTxnId.empty() ? Value(Null{}) : Value(p.providerTxnId), now,
         now, r->id});
  } catch (const DbError& e) {
    return JobOutcome::fail(
        std::string("cannot complete request (transaction id already used?): ") + e.what());
  }
  host_.logger().info("cvpdf",
                      "request " + r->id + " completed (" + std::to_string(pdf.pages) + " pages)");
  return JobOutcome::ok();
}

JobOutcome CvPdfProduct::onPaymentFailed(const Payment& p) {
  auto r = load(p.orderRef);
  if (!r || r->paymentId != p.id) return JobOutcome::ok();
  // Stored in English (the status JSON's integrators read it); pages show it translated.
  std::string why = p.status == PaymentStatus::expired ? tr("en", "err_payment_expired")
                    : p.failureReason.empty()          ? tr("en", "kernel_reason_failed")
                                                       : p.failureReason;
  updateRequest(
      r->id,
      "UPDATE cv_requests SET status = 'failed', error = ?, updated_at = ?, version = version + 1 "
      "WHERE id = ? AND status IN ('pending_payment', 'verifying_payment', 'payment_under_review')",
      {why, host_.clock().nowMs(), r->id});
  return JobOutcome::ok();
}

JobOutcome CvPdfProduct::onPaymentRefunded(const Payment& p, const Refund& refund) {
  auto r = load(p.orderRef);
  if (!r) return JobOutcome::ok();  // nothing of ours was bought with it
  if (!r->paymentId.empty() && r->paymentId != p.id) {
    // Another payment made this CV (e.g. a duplicate payment being refunded): keep it.
    host_.logger().info("cvpdf", "refund " + refund.id + " of payment " + p.id + ": request " +
                                     r->id + " was paid by another payment");
    return JobOutcome::ok();
  }
  std::int64_t refunded = 0;
  host_.db().write([&](Tx& tx) {
    tx.exec(
        "INSERT INTO cv_refunds (refund_id, request_id, payment_id, amount_minor, created_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        {refund.id, r->id, p.id, refund.amountMinor, host_.clock().nowMs()});
    refunded = tx.query(
                     "SELECT COALESCE(SUM(amount_minor), 0) AS n FROM cv_refunds WHERE "
                     "payment_id = ?",
                     {p.id})
                   .i64(0, "n");
  });
  if (refunded < p.amountMinor) {
    host_.logger().info("cvpdf", "request " + r->id + ": partial refund " + refund.id +
                                     " recorded; the download stays");
    return JobOutcome::ok();
  }
  // Re-run safe: the update matches once, the file is gone after the first run.
  updateRequest(r->id,
                "UPDATE cv_requests SET status = ?, error = ?, updated_at = ?, version = version "
                "+ 1 WHERE id = ? AND status <> ?",
                {kRefunded, tr("en", "err_refunded"), host_.clock().nowMs(), r->id, kRefunded});
  if (!r->pdfPath.empty()) {
    try {
      Poco::File f(r->pdfPath);
      if (f.exists()) f.remove();
    } catch (const Poco::Exception& e) {
      host_.logger().warning("cvpdf",
                             "request " + r->id + ": could not delete the PDF: " + e.displayText());
    }
  }
  host_.logger().info("cvpdf",
                      "request " + r->id + " refunded (" + refund.id + "): download revoked");
  return JobOutcome::ok();
}

Response CvPdfProduct::statusPage(const Request& req) {
  auto r = load(req.param("request_id"));
  if (!r)
    return errorPage(host_.pages().language(req), 404, "err_not_found_title",
                     tr(host_.pages().language(req), "err_not_found"));
  Access a = access(req, *r);
  if (!a.allowed) return errorPage(a.lang, 403, "err_not_yours_title", a.denial);
  Result<Payment> p = Error::make(ErrorCode::notFound, "not looked up");
  if (r->status != "completed" && r->status != "generating_pdf")
    p = currentPayment(*r);  // sync on read
  Poco::JSON::Object d;
  d.set("status", r->status);
  d.set("status_label", tr(a.lang, statusLabel(r->status)));
  bool inProgress = r->status == "verifying_payment" || r->status == "generating_pdf";
  d.set("in_progress", inProgress);
  // Stored in English (ours, the kernel's or the provider's words): in the customer's language
  // where a catalog knows the text.
  if (!r->error.empty()) d.set("error", host_.pages().translate(a.lang, r->error));
  d.set("completed", r->status == "completed");
  d.set("failed", r->status == "failed");
  d.set("pending_payment", r->status == "pending_payment");
  d.set("under_review", r->status == kUnderReview);
  if (r->status == kUnderReview) reviewData(d, p);
  if (r->status == "completed") d.set("download_url", downloadLink(*r));
  d.set("verify_url", link(*r, "verify", a));
  d.set("payment_url", link(*r, "payment-page", a));
  d.set("restart_url", link(*r, "restart", a));
  // Try again: a new payment when this one can no longer be paid, else another SMS.
  d.set("restart", r->status == "failed" && (!p.ok() || finalUnpaid(p.value())));
  return page(a.lang, 200, "status_title", pages::kStatus, d,
              inProgress || r->status == "pending_payment");
}

Response CvPdfProduct::statusJson(const Request& req) {
  std::string id = req.param("request_id");
  std::int64_t now = host_.clock().nowMs();
  // Front ends poll this every few seconds: a short-lived cache answers the repeats without
  // the database. This process drops an entry whenever it changes the request; other
  // processes' changes show within status_cache_ms. Who may see it is checked every time.
  std::optional<CvRequest> r;
  std::string reference;
  {
    std::lock_guard<std::mutex> lock(statusCacheMutex_);
    auto it = statusCache_.find(id);
    if (it != statusCache_.end() && it->second.expiresAtMs > now) {
      r = it->second.request;
      reference = it->second.reference;
    }
  }
  if (!r) {
    r = load(id);
    if (!r) return jsonError(404, "Request not found");
    Access first = access(req, *r);  // someone else's poll never makes us ask the provider
    if (!first.allowed) return jsonError(403, first.denial);
    if (r->status == "pending_payment" || r->status == "verifying_payment" ||
        r->status == "failed" || r->status == kUnderReview) {
      // A stale payment is re-checked; a held one shows as under review.
      auto p = currentPayment(*r);
      if (p.ok() && r->status == kUnderReview) reference = referenceOf(p.value());
    }
    std::int64_t ttl = s_.statusCacheMs;
    if (ttl > 0) {
      std::lock_guard<std::mutex> lock(statusCacheMutex_);
      if (statusCache_.size() > 100000) statusCache_.clear();
      statusCache_[r->id] = CachedStatus{now + ttl, *r, reference};
    }
  }
  Access a = access(req, *r);
  if (!a.allowed) return jsonError(403, a.denial);
  Poco::JSON::Object o;
  o.set("status", r->status);
  o.set("request_id", r->id);
  o.set("created_at", isoTime(r->createdAt));
  o.set("completed_at",
        r->completedAt ? Poco::Dynamic::Var(isoTime(r->completedAt)) : Poco::Dynamic::Var());
  const bool completed = r->status == "completed";
  o.set("download_url",
        completed ? Poco::Dynamic::Var(url(r->id, "download")) : Poco::Dynamic::Var());
  if (completed && !r->userId.empty()) {
    // For the owner's browser, which sends no JWT: minutes valid, this request and user only.
    std::int64_t expires = 0;
    o.set("signed_download_url", downloadLink(*r, &expires));
    o.set("signed_download_expires_at", isoTime(expires));
  }
  o.set("status_page_url", link(*r, "status-page", a));
  // What the front end shows the customer: in their language (?lang=, the cookie,
  // Accept-Language).
  if (r->status == "failed") o.set("error", host_.pages().translate(a.lang, r->error));
  if (r->status == kUnderReview) {
    o.set("message", tr(a.lang, "review_text"));
    if (!reference.empty()) o.set("reference", reference);
    const Brand& b = host_.brand();
    Poco::JSON::Object support;
    support.set("name", b.name);
    if (!b.supportPhone.empty()) support.set("phone", b.supportPhone);
    if (!b.supportEmail.empty()) support.set("email", b.supportEmail);
    o.set("support", support);
  }
  Response resp = Response::json(200, o);
  resp.header("Cache-Control", "no-store");
  return resp;
}

Response CvPdfProduct::download(const Request& req) {
  auto r = load(req.param("request_id"));
  if (!r) return jsonError(404, "Request not found");
  // A browser follows the download link: what it may show is in the customer's language.
  const std::string lang = host_.pages().language(req);
  if (!r->userId.empty() && req.userId.value_or("") != r->userId) {
    // API clients send the owner's JWT; the owner's browser follows a signed download link.
    const std::string token = req.queryParam("access");
    LinkCheck check = token.empty() ? LinkCheck::invalid
                                    : checkLink(linkKey_, "download", r->id, r->userId, token,
                                                host_.clock().nowMs() / 1000);
    if (check == LinkCheck::expired) return jsonError(403, tr(lang, "err_download_expired"));
    if (check != LinkCheck::valid) return jsonError(403, tr(lang, "err_download_other_account"));
  }
  if (r->status == kRefunded) return jsonError(410, tr(lang, "err_refunded"));
  if (r->status != "completed") {
    Poco::JSON::Object status;
    status.set("status", r->status);
    return jsonError(409, host_.pages().text(lang, "err_pdf_not_ready", status));
  }
  if (req.header("If-None-Match") == r->etag) {
    Response nm = Response::text(304, "", "");
    nm.header("ETag", r->etag).header("Cache-Control", "private, max-age=86400");
    return nm;
  }
  std::ifstream in(r->pdfPath, std::ios::binary);
  if (!in) {
    host_.logger().error("cvpdf", "request " + r->id + ": stored PDF is missing");
    return jsonError(500, tr(lang, "err_pdf_missing"));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  host_.db().exec("UPDATE cv_requests SET download_count = download_count + 1 WHERE id = ?",
                  {r->id});
  Response resp = Response::text(200, ss.str(), "application/pdf");
  // An ASCII name for old clients, the person's own spelling (RFC 6266/5987) for the rest.
  std::string name = cvFromJson(r->cvJson).name, encoded;
  Poco::URI::encode("cv-" + name + ".pdf", "", encoded);
  for (std::size_t i = 0; i < encoded.size(); ++i)
    if (encoded[i] == ' ') encoded.replace(i, 1, "%20");
  resp.header("Content-Disposition",
              "attachment; filename=\"" + slug(name) + ".pdf\"; filename*=UTF-8''" + encoded);
  resp.header("Cache-Control", "private, max-age=86400");
  resp.header("ETag", r->etag);
  return resp;
}

Response CvPdfProduct::push(const Request& req) {
  auto r = load(req.param("request_id"));
  if (!r)
    return errorPage(host_.pages().language(req), 404, "err_not_found_title",
                     tr(host_.pages().language(req), "err_not_found"));
  Access a = access(req, *r);
  if (!a.allowed) return errorPage(a.lang, 403, "err_not_yours_title", a.denial);
  const std::string back = link(*r, "payment-page", a);
  std::string phone = normalisePhone(bodyField(req, "phone"));
  if (phone.empty())
    return errorPage(a.lang, 400, "err_invalid_number_title", tr(a.lang, "err_invalid_number"),
                     back);
  // Per request and client, and per client across requests: prompts go to someone's phone.
  auto tooMany = [&](const std::string& message) {
    Response resp = errorPage(a.lang, 429, "err_too_many_prompts_title", message, back);
    resp.header("Retry-After", "600");
    return resp;
  };
  if (attempts(r->id, a.client, "push") >= s_.pushMaxPerRequest)
    return tooMany(tr(a.lang, "err_too_many_prompts"));
  if (!clientAllowed("push", a.client, s_.pushPerClientPerHour))
    return tooMany(tr(a.lang, "err_too_many_prompts_network"));
  countAttempt(r->id, a.client, "push");
  auto res = host_.payments().requestPush(r->paymentId, phone);
  if (!res.ok()) {
    Response resp = errorPage(a.lang, httpStatus(res.error().code), "err_prompt_not_sent_title",
                              host_.pages().translate(a.lang, res.error().external), back);
    if (res.error().retryAfterSeconds > 0)
      resp.header("Retry-After", std::to_string(res.error().retryAfterSeconds));
    return resp;
  }
  return Response::redirect(303, link(*r, "payment-page", a, "push=sent"));
}

Response CvPdfProduct::restart(const Request& req) {
  auto r = load(req.param("request_id"));
  if (!r)
    return errorPage(host_.pages().language(req), 404, "err_not_found_title",
                     tr(host_.pages().language(req), "err_not_found"));
  Access a = access(req, *r);
  if (!a.allowed) return errorPage(a.lang, 403, "err_not_yours_title", a.denial);
  if (r->status != "failed") return Response::redirect(303, link(*r, "status-page", a));
  auto old = host_.payments().get(r->paymentId);
  if (old.ok() && !isFinal(old.value().status))
    return Response::redirect(303, link(*r, "verify", a));  // it can still be paid: verify again
  if (old.ok() && old.value().status == PaymentStatus::held)
    return Response::redirect(303, link(*r, "status-page", a));
  auto pay = newPayment(*r, "", false);
  if (!pay.ok())
    return errorPage(a.lang, 502, "err_unavailable_title", tr(a.lang, "err_unavailable"),
                     link(*r, "status-page", a));
  std::int64_t moved = updateRequest(r->id,
                                     "UPDATE cv_requests SET status = 'pending_payment', "
                                     "error = '', payment_id = ?, verify_attempts = 0, "
                                     "updated_at = ?, version = version + 1 "
                                     "WHERE id = ? AND version = ?",
                                     {pay.value().id, host_.clock().nowMs(), r->id, r->version});
  // A new payment: a fresh allowance of SMS and prompts for it.
  if (moved == 1) host_.db().exec("DELETE FROM cv_request_limits WHERE request_id = ?", {r->id});
  return Response::redirect(303, link(*r, "payment-page", a));
}

}  // namespace malipo::cvpdf
