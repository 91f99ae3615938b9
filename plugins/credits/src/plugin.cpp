// Entry point of the credits plugin: settings schema and registration.
#include "CreditsProduct.hpp"
#include "malipo/plugin.hpp"

namespace {

Poco::JSON::Array::Ptr packageList(const char* currency, std::initializer_list<std::pair<int, const char*>> items) {
  Poco::JSON::Array::Ptr a = new Poco::JSON::Array;
  for (const auto& [credits, price] : items) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("id", "pkg_" + std::to_string(credits) + "_credits");
    o->set("credits", credits);
    o->set("price", std::string(price));
    o->set("currency", std::string(currency));
    a->add(o);
  }
  return a;
}

malipo::SchemaNode creditsSchema() {
  using namespace malipo::schema;
  auto package = object("a package of credits")
                     .field("id", str("package id clients send as packageId").req())
                     .field("credits", integer("credits granted").req().range(1, 1000000))
                     .field("price", str("price in major units, e.g. \"5000\" or \"10.50\"").req())
                     .field("currency", str("ISO 4217 currency").req())
                     .field("name", str("label in menus (default: \"<credits> credits\")").def(""));
  Poco::JSON::Array::Ptr providers = new Poco::JSON::Array;
  providers->add("flutterwave");
  return object("verification credits")
      .field("providers",
             list("payment providers for API top-ups, in order", str("provider plugin name"))
                 .def(providers))
      .field("packages",
             list("packages sold through the API (the seed's three by default)", package)
                 .def(packageList("NGN", {{10, "5000"}, {25, "12500"}, {50, "25000"}})))
      .field("ussd_packages",
             list("packages sold through USSD channels (priced for that market)", package)
                 .def(packageList("GHS", {{10, "10.00"}, {25, "25.00"}, {50, "50.00"}})))
      .field("webhook_alias_provider",
             str("provider whose webhooks also arrive at /api/v1/webhooks/<name> (the seed's path)")
                 .def("flutterwave"))
      .field("return_url",
             str("your app's page the payment result page leads back to, when the top-up names "
                 "none (returnUrl); its origin is allowed for returnUrl")
                 .def(""))
      .field("return_url_origins",
             list("other origins (https://app.example.com) a top-up's returnUrl may point "
                  "to; in sandbox any http(s) URL is accepted",
                  str("origin"))
                 .def(Poco::JSON::Array::Ptr(new Poco::JSON::Array)))
      .field("topups_per_user_per_hour",
             integer("top-up attempts allowed per user per hour").def(20).range(1, 100000));
}

void creditsRegister(malipo::Registrar& r) { r.addProduct(std::make_shared<malipo::credits::CreditsProduct>(r.host())); }

}  // namespace

MALIPO_PLUGIN("credits", "0.1.0", creditsSchema, creditsRegister)
