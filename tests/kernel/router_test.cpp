#include <gtest/gtest.h>

#include "http/RouterImpl.hpp"

using namespace malipo;

namespace {
Handler named(const std::string& n) {
  return [n](const Request&) { return Response::text(200, n); };
}
}  // namespace

TEST(Router, PathParametersAndMethods) {
  RouterImpl r;
  r.add("GET", "/api/cv-pdf/{request_id}/status", named("status"));
  r.add("POST", "/api/cv-pdf/{cv_id}/initiate-ussd", named("init"));
  r.add("POST", "/api/cv-pdf/ussd-callback", named("callback"));
  auto m = r.match("GET", "/api/cv-pdf/abc-123/status");
  ASSERT_TRUE(m.route);
  EXPECT_EQ(m.params.at("request_id"), "abc-123");
  auto lit = r.match("POST", "/api/cv-pdf/ussd-callback");
  ASSERT_TRUE(lit.route);
  EXPECT_EQ(lit.route->pattern, "/api/cv-pdf/ussd-callback");  // literal beats {param}
  auto wrongMethod = r.match("DELETE", "/api/cv-pdf/x/status");
  EXPECT_FALSE(wrongMethod.route);
  ASSERT_EQ(wrongMethod.allowed.size(), 1u);
  EXPECT_EQ(wrongMethod.allowed[0], "GET");
  auto none = r.match("GET", "/api/other");
  EXPECT_FALSE(none.route);
  EXPECT_TRUE(none.allowed.empty());
}

TEST(Router, TrailingSlashAndHead) {
  RouterImpl r;
  r.add("POST", "/api/v1/verification-credits/topup", named("topup"));
  r.add("GET", "/healthz", named("h"));
  EXPECT_TRUE(r.match("POST", "/api/v1/verification-credits/topup/").route);
  EXPECT_TRUE(r.match("HEAD", "/healthz").route);
  EXPECT_FALSE(r.match("GET", "/healthz/extra").route);
}

TEST(Router, DuplicateRouteIsRefused) {
  RouterImpl r;
  r.add("GET", "/a/{x}", named("1"));
  EXPECT_THROW(r.add("GET", "/a/{y}", named("2")), std::logic_error);
  EXPECT_NO_THROW(r.add("POST", "/a/{y}", named("3")));
}
