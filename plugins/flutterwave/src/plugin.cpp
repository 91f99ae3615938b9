// The plugin's entry: its settings schema and registration. README.md documents each key.
#include "malipo/plugin.hpp"

#include "flutterwave_provider.hpp"

namespace {

malipo::SchemaNode flutterwaveSchema() {
  return malipo::flutterwave::ProviderConfig::decl().schema();
}

void flutterwaveRegister(malipo::Registrar& r) {
  r.addProvider(std::make_shared<malipo::flutterwave::FlutterwaveProvider>(r.host()));
}

}  // namespace

MALIPO_PLUGIN("flutterwave", "1.0.0", flutterwaveSchema, flutterwaveRegister)
