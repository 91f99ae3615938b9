// Entry point of the cvpdf plugin: its settings schema and registration.
#include "malipo/plugin.hpp"

#include "CvPdfProduct.hpp"

namespace {

malipo::SchemaNode cvpdfSchema() {
  return malipo::cvpdf::CvPdfSettings::decl().schema();
}

void cvpdfRegister(malipo::Registrar& r) {
  r.addProduct(std::make_shared<malipo::cvpdf::CvPdfProduct>(r.host()));
}

}  // namespace

MALIPO_PLUGIN("cvpdf", "0.1.0", cvpdfSchema, cvpdfRegister)
