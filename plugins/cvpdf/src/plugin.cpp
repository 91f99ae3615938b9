// Entry point of the cvpdf plugin: its settings schema and registration.
#include "CvPdfProduct.hpp"
#include "malipo/plugin.hpp"

namespace {

malipo::SchemaNode cvpdfSchema() {
  using namespace malipo::schema;
  Poco::JSON::Array::Ptr providers = new Poco::JSON::Array;
  providers->add("selcom");
  return object("CV PDF product")
      .field("providers", list("payment providers in order of preference", str("provider plugin name")).def(providers))
      .field("price", object("price of one CV PDF")
                          .field("amount", str("amount in major units, e.g. \"1000\"").def("1000"))
                          .field("currency", str("ISO 4217 currency").def("TZS")))
      .field("storage_dir", str("where generated PDFs are stored").def("var/cvpdf").isPath())
      .field("font_dir", str("directory with DejaVuSans.ttf and DejaVuSans-Bold.ttf (empty: Debian's fonts-dejavu-core)").def("").isPath())
      .field("max_pages", integer("page cap of a generated CV").def(5).range(1, 50))
      .field("max_body_bytes", integer("largest initiate-ussd body").def(65536).range(1024, 1048576))
      .field("phone_region", str("region for phone numbers without a country code").def("TZ"))
      .field("status_cache_ms", integer("how long GET …/status may answer from memory (0: never)").def(1000).range(0, 10000))
      .field("verify_retries", integer("re-checks with backoff while the provider says not paid yet").def(3).range(0, 10))
      .field("verify_backoff_ms", integer("delay before the first re-check (doubles each time)").def(10000).range(1, 3600000))
      .field("verify_max_attempts", integer("SMS submissions allowed per request and client").def(10).range(1, 1000))
      .field("verify_per_client_per_hour", integer("SMS submissions allowed per client per hour").def(30).range(1, 100000))
      .field("push_max_per_request", integer("payment prompts (USSD push) allowed per request and client").def(3).range(1, 100))
      .field("push_per_client_per_hour", integer("payment prompts allowed per client per hour").def(10).range(1, 100000))
      .field("link_secret", str("key that signs the owner's page and download links (empty: a random key kept in the database)")
                                .def("")
                                .strongSecret(true))
      .field("page_link_ttl_minutes", integer("how long a signed-in owner's page link stays valid").def(1440).range(5, 10080))
      .field("download_link_ttl_seconds", integer("how long a signed download link stays valid").def(600).range(30, 86400))
      .field("callback_max_body_bytes", integer("largest body on /api/cv-pdf/ussd-callback").def(16384).range(1024, 262144));
}

void cvpdfRegister(malipo::Registrar& r) { r.addProduct(std::make_shared<malipo::cvpdf::CvPdfProduct>(r.host())); }

}  // namespace

MALIPO_PLUGIN("cvpdf", "0.1.0", cvpdfSchema, cvpdfRegister)
