// Every header of the plugin SDK in one translation unit, compiled as C++17 and C++20 with
// warnings as errors (tests/CMakeLists.txt): a third party may build its plugin with either.
#include "malipo/clock.hpp"
#include "malipo/component.hpp"
#include "malipo/db.hpp"
#include "malipo/host.hpp"
#include "malipo/http.hpp"
#include "malipo/http_client.hpp"
#include "malipo/jobs.hpp"
#include "malipo/log.hpp"
#include "malipo/metrics.hpp"
#include "malipo/money.hpp"
#include "malipo/pages.hpp"
#include "malipo/payments.hpp"
#include "malipo/plugin.hpp"
#include "malipo/product.hpp"
#include "malipo/provider.hpp"
#include "malipo/result.hpp"
#include "malipo/sdk/bridge.hpp"
#include "malipo/sdk/records.hpp"
#include "malipo/settings.hpp"
#include "malipo/settings_decl.hpp"

int malipoSdkHeadersCompile() {
  return MALIPO_SDK_MAJOR * 100 + MALIPO_SDK_MINOR;
}
