// The plugin's entry point: the settings schema and one provider, registered under the
// plugin's configured name (so /webhooks/<name> and /sandbox/<name>/ follow the config).
#include "malipo/plugin.hpp"
#include "selcom_provider.hpp"

namespace {

malipo::SchemaNode schema() {
  return malipo::selcom::selcomSchema();
}

void registerSelcom(malipo::Registrar& r) {
  r.addProvider(std::make_shared<malipo::selcom::SelcomProvider>(r.host()));
}

}  // namespace

MALIPO_PLUGIN("selcom", "1.0.0", schema, registerSelcom)
