// Entry point of the credits plugin: settings schema and registration.
#include "malipo/plugin.hpp"

#include "CreditsProduct.hpp"

namespace {

malipo::SchemaNode creditsSchema() {
  return malipo::credits::CreditsSettings::decl().schema();
}

void creditsRegister(malipo::Registrar& r) {
  r.addProduct(std::make_shared<malipo::credits::CreditsProduct>(r.host()));
}

}  // namespace

MALIPO_PLUGIN("credits", "0.1.0", creditsSchema, creditsRegister)
