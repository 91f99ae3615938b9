#include "http/HttpClientImpl.hpp"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <chrono>
#include <memory>
#include <thread>

namespace malipo {

namespace {
Poco::Net::Context::Ptr tlsContext() {
  // Verifies the server certificate and host name against the system CA store.
  static Poco::Net::Context::Ptr ctx = new Poco::Net::Context(
      Poco::Net::Context::TLS_CLIENT_USE, "", "", "", Poco::Net::Context::VERIFY_RELAXED, 9, true);
  return ctx;
}
}  // namespace

Result<OutboundResponse> HttpClientImpl::once(const OutboundRequest& r) {
  Poco::URI uri;
  try {
    uri = Poco::URI(r.url);
  } catch (const Poco::Exception&) {
    return Error::make(ErrorCode::internal, "invalid outbound URL");
  }
  std::unique_ptr<Poco::Net::HTTPClientSession> session;
  if (uri.getScheme() == "https") {
    session =
        std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(), tlsContext());
  } else if (uri.getScheme() == "http") {
    session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
  } else {
    return Error::make(ErrorCode::internal, "unsupported URL scheme '" + uri.getScheme() + "'");
  }
  Poco::Timespan timeout(static_cast<long>(r.timeoutMs / 1000),
                         static_cast<long>((r.timeoutMs % 1000) * 1000));
  session->setTimeout(timeout, timeout, timeout);
  std::string target = uri.getPathAndQuery();
  if (target.empty()) target = "/";
  Poco::Net::HTTPRequest req(r.method, target, Poco::Net::HTTPMessage::HTTP_1_1);
  for (const auto& h : r.headers) req.set(h.first, h.second);
  if (!r.body.empty() || r.method == "POST" || r.method == "PUT" || r.method == "PATCH") {
    req.setContentType(r.contentType);
    req.setContentLength64(static_cast<Poco::Int64>(r.body.size()));
  }
  try {
    std::ostream& os = session->sendRequest(req);
    os.write(r.body.data(), static_cast<std::streamsize>(r.body.size()));
    Poco::Net::HTTPResponse resp;
    std::istream& is = session->receiveResponse(resp);
    OutboundResponse out;
    out.status = resp.getStatus();
    for (const auto& kv : resp) out.headers[kv.first] = kv.second;
    Poco::StreamCopier::copyToString(is, out.body);
    return out;
  } catch (const Poco::TimeoutException& e) {
    return Error::make(ErrorCode::providerTimeout, "timed out: " + e.displayText(),
                       "the provider did not answer in time");
  } catch (const Poco::Exception& e) {
    return Error::make(ErrorCode::providerError, e.displayText(),
                       "the provider could not be reached");
  }
}

Result<OutboundResponse> HttpClientImpl::send(const OutboundRequest& r) {
  bool idempotent = r.idempotent || r.method == "GET" || r.method == "DELETE" || r.method == "HEAD";
  int attempts = idempotent ? r.maxRetries + 1 : 1;
  std::string where;
  try {
    Poco::URI uri(r.url);
    where = uri.getHost() + ":" + std::to_string(uri.getPort()) + uri.getPath();
  } catch (...) {
    where = "(bad url)";
  }
  for (int i = 1;; ++i) {
    auto started = std::chrono::steady_clock::now();
    auto res = once(r);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - started)
                  .count();
    bool retryable =
        !res.ok() ? res.error().code != ErrorCode::internal : res.value().status >= 500;
    log_.info("http-out", r.method + " " + where + " -> " +
                              (res.ok() ? std::to_string(res.value().status)
                                        : std::string(errorCodeName(res.error().code))) +
                              " " + std::to_string(ms) + "ms" +
                              (i > 1 ? " (try " + std::to_string(i) + ")" : ""));
    if (!retryable || i >= attempts) return res;
    std::this_thread::sleep_for(std::chrono::milliseconds(100 * i * i));
  }
}

}  // namespace malipo
