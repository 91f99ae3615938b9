/* The C ABI header alone, compiled as C99 and C11 with warnings as errors (tests/CMakeLists.txt):
   a plugin in C includes nothing else. */
#include "malipo/abi.h"

int malipo_abi_header_compiles(void) {
  return MALIPO_SDK_MAJOR * 100 + MALIPO_SDK_MINOR;
}
