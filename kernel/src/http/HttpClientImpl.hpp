// Outbound HTTP over Poco (see malipo/http_client.hpp): TLS verified, timeouts, retries for
// idempotent calls, a log line without secrets.
#pragma once

#include "malipo/http_client.hpp"
#include "malipo/log.hpp"

namespace malipo {

class HttpClientImpl final : public HttpClient {
 public:
  explicit HttpClientImpl(Logger& log) : log_(log) {}
  Result<OutboundResponse> send(const OutboundRequest& request) override;

 private:
  Result<OutboundResponse> once(const OutboundRequest& request);
  Logger& log_;
};

}  // namespace malipo
