// The plugin's entry: its settings schema and registration. README.md documents each key.
#include "flutterwave_provider.hpp"
#include "malipo/plugin.hpp"

namespace {

malipo::SchemaNode flutterwaveSchema() {
  using namespace malipo::schema;
  Poco::JSON::Array::Ptr currencies = new Poco::JSON::Array;
  for (const char* c : {"NGN", "GHS", "KES", "TZS", "UGX", "RWF", "ZAR", "USD"}) currencies->add(c);
  return object("Flutterwave v3: hosted checkout (redirect channel)")
      .field("base_url",
             str("Flutterwave API base including /v3. Empty: the built-in simulator when sandbox "
                 "is on "
                 "(<public_url>/sandbox/flutterwave/v3), otherwise https://api.flutterwave.com/v3")
                 .def(""))
      .field(
          "secret_key",
          str("secret key (FLWSECK_…) sent as the bearer token. Required outside sandbox; empty in "
              "sandbox: a built-in key the simulator accepts")
              .def("")
              .isSecret())
      .field("secret_hash",
             str("the webhook Secret Hash you choose and enter in the dashboard: checked against "
                 "verif-hash and flutterwave-signature (HMAC key or plain). Outside sandbox: "
                 "required, at "
                 "least 32 bytes, no placeholder")
                 .def("")
                 .strongSecret())
      .field("timeout_ms",
             integer("timeout of each call to Flutterwave").def(15000).range(500, 120000))
      .field("checkout",
             object("what the hosted checkout page shows")
                 .field("title",
                        str("title (e.g. the shop's name); empty: Flutterwave's default").def(""))
                 .field("description",
                        str("line under the title; empty: the payment's description").def(""))
                 .field("logo", str("absolute https URL of a square logo").def("")))
      .field("payment_options",
             str("comma-separated methods offered, e.g. \"card, banktransfer, ussd\"; empty: the "
                 "dashboard's defaults")
                 .def(""))
      .field(
          "currencies",
          list("currencies routed to Flutterwave (ISO 4217)", str("currency code")).def(currencies))
      .field("placeholder_email_domain",
             str("Flutterwave requires an email: customers without one get "
                 "<account-id>@<this domain>")
                 .def("example.com"))
      .field("post_message_origin",
             str("target origin of the return page's window.parent.postMessage; set it to "
                 "your front end's origin so no other site that frames the page learns "
                 "the result ('*': any)")
                 .def("*"))
      .field(
          "return_page",
          object("the page customers come back to from checkout (/payments/flutterwave/return)")
              .field("default_url",
                     str("where its Back button leads when the payment names no return URL "
                         "(the product's returnUrl); empty: a Close button")
                         .def(""))
              .field("check_interval_seconds",
                     integer("at most one check with Flutterwave per payment "
                             "this often, however often the page is loaded")
                         .def(10)
                         .range(1, 3600))
              .field(
                  "refresh_seconds",
                  integer("while pending, the page reloads after this long").def(5).range(1, 600))
              .field("max_refreshes",
                     integer("then stops after this many reloads, saying the payment is not "
                             "confirmed yet")
                         .def(24)
                         .range(0, 10000)))
      .field("simulator",
             object("sandbox only: how the built-in simulator behaves")
                 .field("webhook_mode", str("how its webhooks are authenticated and shaped")
                                            .def("verif-hash")
                                            .oneOf({"verif-hash", "signature", "legacy"}))
                 .field("webhook_url",
                        str("where it sends webhooks; empty: <public_url>/webhooks/flutterwave")
                            .def("")));
}

void flutterwaveRegister(malipo::Registrar& r) {
  r.addProvider(std::make_shared<malipo::flutterwave::FlutterwaveProvider>(r.host()));
}

}  // namespace

MALIPO_PLUGIN("flutterwave", "1.0.0", flutterwaveSchema, flutterwaveRegister)
