// Outbound HTTP lent to plugins (provider APIs, callbacks).
// TLS certificates are verified; every call has a connect and a total timeout; idempotent
// calls (GET, DELETE, or `idempotent = true`) are retried on connection errors and 5xx.
// Connections are kept alive and reused; a non-idempotent request is never sent twice.
// The kernel logs method, host, path, status and duration only: never headers, query
// strings or bodies, which carry keys and customer data.
// Thread-safety: safe from any thread; calls block the calling thread.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "malipo/http.hpp"
#include "malipo/result.hpp"

namespace malipo {

struct OutboundRequest {
  std::string method = "GET";
  std::string url;  // absolute http:// or https:// URL, query included
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string contentType = "application/json";
  int timeoutMs = 10000;
  bool idempotent = false;  // retry POST too (only when the remote dedups, e.g. by our id)
  int maxRetries = 2;
};

struct OutboundResponse {
  int status = 0;
  HeaderMap headers;
  std::string body;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Failures: ErrorCode::providerTimeout when the outcome is unknown (timed out, or lost after
  // a non-idempotent request went out); providerError: refused, DNS, TLS. A status is a value.
  virtual Result<OutboundResponse> send(const OutboundRequest& request) = 0;
};

}  // namespace malipo
