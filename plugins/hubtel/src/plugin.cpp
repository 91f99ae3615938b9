// The plugin's entry: its settings schema and registration. README.md documents each key.
#include "malipo/plugin.hpp"

#include "hubtel_provider.hpp"

namespace {

malipo::SchemaNode hubtelSchema() {
  return malipo::hubtel::Config::decl().schema();
}

void hubtelRegister(malipo::Registrar& r) {
  r.addProvider(std::make_shared<malipo::hubtel::HubtelProvider>(r.host()));
}

}  // namespace

MALIPO_PLUGIN("hubtel", "1.0.0", hubtelSchema, hubtelRegister)
