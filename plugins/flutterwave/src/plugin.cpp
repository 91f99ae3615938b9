// The plugin's entry: its settings schema and registration. README.md documents each key.
#include "flutterwave_provider.hpp"
#include "malipo/plugin.hpp"

namespace {

malipo::SchemaNode flutterwaveSchema() {
  using namespace malipo::schema;
  Poco::JSON::Array::Ptr currencies = new Poco::JSON::Array;
  for (const char* c : {"NGN", "GHS", "KES", "TZS", "UGX", "RWF", "ZAR", "USD"}) currencies->add(c);
  return object("Flutterwave v3: hosted checkout (redirect channel)")
      .field("base_url", str("Flutterwave API base including /v3. Empty: the built-in simulator when sandbox is on "
                             "(<public_url>/sandbox/flutterwave/v3), otherwise https://api.flutterwave.com/v3")
                             .def(""))
      .field("secret_key", str("secret key (FLWSECK_…) sent as the bearer token. Required outside sandbox; empty in "
                               "sandbox: a built-in key the simulator accepts")
                               .def("")
                               .isSecret())
      .field("secret_hash", str("the dashboard's webhook Secret Hash: checked against verif-hash and used as the "
                                "flutterwave-signature HMAC key. Required outside sandbox")
                                .def("")
                                .isSecret())
      .field("timeout_ms", integer("timeout of each call to Flutterwave").def(15000).range(500, 120000))
      .field("checkout", object("what the hosted checkout page shows")
                             .field("title", str("title (e.g. the shop's name); empty: Flutterwave's default").def(""))
                             .field("description", str("line under the title; empty: the payment's description").def(""))
                             .field("logo", str("absolute https URL of a square logo").def("")))
      .field("payment_options", str("comma-separated methods offered, e.g. \"card, banktransfer, ussd\"; empty: the "
                                    "dashboard's defaults")
                                    .def(""))
      .field("currencies", list("currencies routed to Flutterwave (ISO 4217)", str("currency code")).def(currencies))
      .field("placeholder_email_domain", str("Flutterwave requires an email: customers without one get "
                                             "<account-id>@<this domain>")
                                             .def("example.com"))
      .field("post_message_origin", str("target origin of the return page's window.parent.postMessage; set it to "
                                        "your front end's origin so no other site that frames the page learns "
                                        "the result ('*': any)")
                                        .def("*"))
      .field("simulator", object("sandbox only: how the built-in simulator behaves")
                              .field("webhook_mode", str("how its webhooks are authenticated and shaped")
                                                         .def("verif-hash")
                                                         .oneOf({"verif-hash", "signature", "legacy"}))
                              .field("webhook_url", str("where it sends webhooks; empty: <public_url>/webhooks/flutterwave")
                                                        .def("")));
}

void flutterwaveRegister(malipo::Registrar& r) {
  r.addProvider(std::make_shared<malipo::flutterwave::FlutterwaveProvider>(r.host()));
}

}  // namespace

MALIPO_PLUGIN("flutterwave", "1.0.0", flutterwaveSchema, flutterwaveRegister)
