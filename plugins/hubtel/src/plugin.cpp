// The plugin's entry: its settings schema and registration. README.md documents each key.
#include "hubtel_provider.hpp"
#include "malipo/plugin.hpp"

namespace {

Poco::JSON::Array::Ptr strings(std::initializer_list<const char*> items) {
  Poco::JSON::Array::Ptr a = new Poco::JSON::Array;
  for (const char* s : items) a->add(std::string(s));
  return a;
}

malipo::SchemaNode hubtelSchema() {
  using namespace malipo::schema;
  malipo::hubtel::Texts t;  // the defaults live in one place
  return object("Hubtel programmable services: USSD menus (ussd_menu channel), GHS")
      .field("interaction_path", str("our route for Hubtel's service interaction and fulfilment URLs").def("/ussd"))
      .field("callback_url", str("Hubtel's fulfilment callback endpoint. Empty: " + std::string(malipo::hubtel::kProductionCallbackUrl) +
                                 ", or the simulator's in sandbox")
                                 .def(""))
      .field("status_base_url", str("base of the transaction status check API. Empty: " +
                                    std::string(malipo::hubtel::kProductionStatusBaseUrl) + ", or the simulator's in sandbox")
                                    .def(""))
      .field("pos_sales_id", str("POS Sales ID from the Hubtel merchant dashboard (required outside sandbox)").def(""))
      .field("api_id", str("API id for the status check's Basic authentication").def(""))
      .field("api_key", str("API key for the status check's Basic authentication").def("").isSecret())
      .field("allowed_ips", list("addresses fulfilments are accepted from (Hubtel's)", str("IPv4 or IPv6 address"))
                                .def(strings({"52.50.116.54", "18.202.122.131", "52.31.15.68"})))
      .field("ip_check", str("check fulfilments against allowed_ips: auto (on unless sandbox), on, off").def("auto").oneOf({"auto", "on", "off"}))
      .field("interaction_allowed_ips", list("addresses USSD steps (interaction requests) are accepted from. Empty: allowed_ips",
                                            str("IPv4 or IPv6 address"))
                                           .def(Poco::JSON::Array::Ptr(new Poco::JSON::Array)))
      .field("interaction_ip_check", str("check USSD steps against interaction_allowed_ips: auto (on unless sandbox), on, off. "
                                         "Off outside sandbox hides balance entries (the Mobile is unproven)")
                                         .def("auto")
                                         .oneOf({"auto", "on", "off"}))
      .field("client_state_secret", str("HMAC key that tamper-proofs ClientState; the same on every process. Outside sandbox "
                                        "required: at least 32 random bytes. Empty in sandbox: random per process")
                                        .def("")
                                        .strongSecret())
      .field("max_quantity", integer("largest quantity a customer may buy at once (1: no quantity step)").def(1000).range(1, 1000))
      .field("quantity_fields", list("integer fields of a product's sale metadata multiplied by the quantity; items whose "
                                     "metadata has none are sold one at a time",
                                     str("metadata key"))
                                    .def(strings({"credits"})))
      .field("menu_page_size", integer("entries per main-menu page (\"99. More\" shows the next)").def(6).range(1, 20))
      .field("balance_entries", boolean("offer \"Check my balance\" for products that answer account summaries").def(true))
      .field("status_check_after_seconds", integer("ask the status API when no fulfilment came this long after AddToCart").def(300).range(1, 86400))
      .field("status_check_interval_seconds", integer("then ask again this often while Unpaid").def(60).range(1, 86400))
      .field("payment_expiry_minutes", integer("an unpaid USSD payment expires after this long").def(60).range(1, 10080))
      .field("callback_window_seconds", integer("keep retrying the fulfilment callback this long (Hubtel: one hour)").def(3600).range(1, 86400))
      .field("callback_retry_base_ms", integer("first callback retry delay; doubles up to 5 minutes").def(2000).range(10, 600000))
      .field("session_ttl_hours", integer("sessions older than this are deleted").def(24).range(1, 8760))
      .field("timeout_ms", integer("timeout of each call to Hubtel (status check, callback)").def(10000).range(500, 120000))
      .field("rate_limit_bucket", str("server rate-limit bucket for the interaction route (Hubtel calls from few addresses)").def("webhooks"))
      .field("texts", object("what the customer reads; {placeholders}: name, price, currency, qty, total, max, product")
                          .field("title", str("first line of the main menu").def(t.title))
                          .field("main_label", str("Label of the main menu").def(t.mainLabel))
                          .field("item_format", str("one item's entry").def(t.itemFormat))
                          .field("balance_entry", str("the balance entry").def(t.balanceEntry))
                          .field("balance_entry_product", str("the balance entry when several products answer").def(t.balanceEntryProduct))
                          .field("exit_entry", str("the 0 entry").def(t.exitEntry))
                          .field("more_entry", str("the 99 entry (next page)").def(t.moreEntry))
                          .field("quantity_prompt", str("the quantity question").def(t.quantityPrompt))
                          .field("quantity_label", str("its Label").def(t.quantityLabel))
                          .field("confirm_prompt", str("the confirmation (1 confirms, 2 cancels)").def(t.confirmPrompt))
                          .field("confirm_label", str("its Label").def(t.confirmLabel))
                          .field("checkout_message", str("the AddToCart message").def(t.checkoutMessage))
                          .field("checkout_label", str("its Label").def(t.checkoutLabel))
                          .field("balance_label", str("Label of the balance answer").def(t.balanceLabel))
                          .field("goodbye", str("after 0 (Exit) or a timeout").def(t.goodbye))
                          .field("cancelled", str("after 2 at the confirmation").def(t.cancelled))
                          .field("invalid_choice", str("above a repeated menu").def(t.invalidChoice))
                          .field("invalid_quantity", str("above a repeated quantity question").def(t.invalidQuantity))
                          .field("no_items", str("main menu with nothing on sale").def(t.noItems))
                          .field("item_gone", str("the chosen item is no longer sold").def(t.itemGone))
                          .field("balance_unavailable", str("the product could not answer").def(t.balanceUnavailable))
                          .field("unsupported", str("release for a request Type other than Initiation, Response, Timeout "
                                                    "(Query, Favorite, …)")
                                                    .def(t.unsupported)))
      .field("simulator", object("sandbox only: the built-in Hubtel simulator")
                              .field("status_allowed_ips", list("callers its status API accepts (others get 403)", str("address"))
                                                               .def(strings({"127.0.0.1", "::1"})))
                              .field("operator", str("Operator its phone reports").def("mtn"))
                              .field("service_code", str("the code its phone dials").def("*713#"))
                              .field("fee_bearer", str("who pays Hubtel's fee by default: merchant (the customer pays the "
                                                       "items) or customer (the fee is added to what the customer pays)")
                                                       .def("merchant")
                                                       .oneOf({"merchant", "customer"})));
}

void hubtelRegister(malipo::Registrar& r) { r.addProvider(std::make_shared<malipo::hubtel::HubtelProvider>(r.host())); }

}  // namespace

MALIPO_PLUGIN("hubtel", "1.0.0", hubtelSchema, hubtelRegister)
