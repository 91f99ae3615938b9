#include "http/Idempotency.hpp"

#include <Poco/DigestEngine.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/SHA2Engine.h>

#include <sstream>

namespace malipo {

namespace {
// An in-flight key older than this belongs to a request that will never finish.
constexpr std::int64_t kAbandonedMs = 120000;

// The handler's own response headers (Location, Retry-After, …) as [[name, value], …].
std::string headersJson(const Response& r) {
  Poco::JSON::Array arr;
  for (const auto& [name, value] : r.headers) {
    Poco::JSON::Array pair;
    pair.add(name);
    pair.add(value);
    arr.add(pair);
  }
  std::ostringstream os;
  arr.stringify(os);
  return os.str();
}

void replayHeaders(const std::string& json, Response& r) {
  if (json.empty()) return;
  try {
    auto arr = Poco::JSON::Parser().parse(json).extract<Poco::JSON::Array::Ptr>();
    for (std::size_t i = 0; i < arr->size(); ++i) {
      auto pair = arr->getArray(static_cast<unsigned>(i));
      if (pair && pair->size() == 2)
        r.header(pair->getElement<std::string>(0), pair->getElement<std::string>(1));
    }
  } catch (const Poco::Exception&) {
    // A row written before headers were kept: replay without them.
  }
}
}  // namespace

std::vector<Migration> Idempotency::migrations() {
  Migration m;
  m.version = 1;
  m.description = "idempotency keys";
  m.sqlite =
      "CREATE TABLE idempotency_keys (scope TEXT NOT NULL, idem_key TEXT NOT NULL, request_hash "
      "TEXT NOT NULL, "
      "state TEXT NOT NULL, status BIGINT, content_type TEXT, headers TEXT, body TEXT, created_at "
      "BIGINT NOT NULL, "
      "PRIMARY KEY (scope, idem_key));"
      "CREATE INDEX idempotency_created ON idempotency_keys (created_at)";
  return {m};
}

Response Idempotency::run(const Request& req, const std::string& scope, const Handler& handler) {
  std::string key = req.header("Idempotency-Key");
  if (key.empty()) return handler(req);
  if (key.size() > 255)
    return Response::error(
        Error::make(ErrorCode::invalidInput, "Idempotency-Key is longer than 255 characters"),
        req.requestId);
  // The caller identity is part of the scope: one user's key never replays another's answer,
  // and no user id (not even "anon") can name the anonymous callers' scope.
  std::string fullScope = scope + (req.userId ? "|user:" + *req.userId : std::string("|anonymous"));
  Poco::SHA2Engine sha;
  sha.update(req.method + " " + req.path + "\n" + req.body);
  std::string hash = Poco::DigestEngine::digestToHex(sha.digest());
  std::int64_t now = clock_.nowMs();

  std::optional<Response> early;
  store_.write([&](Tx& tx) {
    Rows r = tx.query(
        "SELECT request_hash, state, status, content_type, headers, body, created_at FROM "
        "idempotency_keys WHERE scope = ? AND idem_key = ?",
        {fullScope, key});
    if (r.empty()) {
      // ON CONFLICT: a simultaneous first request with the same key won the insert.
      if (tx.exec("INSERT INTO idempotency_keys (scope, idem_key, request_hash, state, created_at) "
                  "VALUES (?, ?, ?, 'in_flight', ?) "
                  "ON CONFLICT DO NOTHING",
                  {fullScope, key, hash, now}) == 0)
        early =
            Response::error(Error::make(ErrorCode::conflict,
                                        "a request with this Idempotency-Key is still in progress"),
                            req.requestId);
      return;
    }
    if (r.str(0, "state") != "done" && r.str(0, "request_hash") == hash &&
        r.i64(0, "created_at") < now - kAbandonedMs) {
      // The first attempt died mid-request (the process crashed): let this one take over.
      tx.exec("UPDATE idempotency_keys SET created_at = ? WHERE scope = ? AND idem_key = ?",
              {now, fullScope, key});
      return;
    }
    if (r.str(0, "request_hash") != hash) {
      early = Response::error(Error::make(ErrorCode::unprocessable,
                                          "this Idempotency-Key was used with a different request"),
                              req.requestId);
    } else if (r.str(0, "state") != "done") {
      early =
          Response::error(Error::make(ErrorCode::conflict,
                                      "a request with this Idempotency-Key is still in progress"),
                          req.requestId);
    } else {
      Response replay;
      replay.status = static_cast<int>(r.i64(0, "status"));
      replay.contentType = r.str(0, "content_type");
      replay.body = r.str(0, "body");
      if (!r.isNull(0, "headers")) replayHeaders(r.str(0, "headers"), replay);
      replay.header("Idempotent-Replayed", "true");
      early = replay;
    }
  });
  if (early) return *early;

  Response resp;
  try {
    resp = handler(req);
  } catch (...) {
    store_.exec("DELETE FROM idempotency_keys WHERE scope = ? AND idem_key = ?", {fullScope, key});
    throw;
  }
  if (resp.status >= 500) {
    // A server-side failure is not an answer worth replaying: the client may retry.
    store_.exec("DELETE FROM idempotency_keys WHERE scope = ? AND idem_key = ?", {fullScope, key});
  } else {
    store_.exec(
        "UPDATE idempotency_keys SET state = 'done', status = ?, content_type = ?, headers = ?, "
        "body = ? "
        "WHERE scope = ? AND idem_key = ?",
        {static_cast<std::int64_t>(resp.status), resp.contentType, headersJson(resp), resp.body,
         fullScope, key});
  }
  return resp;
}

int Idempotency::purge(std::int64_t olderThanMs) {
  return static_cast<int>(store_.exec("DELETE FROM idempotency_keys WHERE created_at < ?",
                                      {clock_.nowMs() - olderThanMs}));
}

}  // namespace malipo
