# malipo_add_plugin(NAME SOURCES ... [LIBS ...])
# Builds build/plugins/libmalipo_<NAME>.so against the plugin SDK only (MalipoSDK::sdk) (the build rules:
# cmake/MalipoSDKPlugin.cmake, which the installed SDK shares).
include(${CMAKE_CURRENT_LIST_DIR}/MalipoSDKPlugin.cmake)
set(MALIPO_PLUGIN_OUTPUT_DIR ${CMAKE_BINARY_DIR}/plugins)

function(malipo_add_plugin NAME)
  cmake_parse_arguments(P "" "OUTPUT_DIR" "SOURCES;LIBS;DEFINITIONS" ${ARGN})
  if(NOT P_OUTPUT_DIR)
    # A shipped plugin (not a test plugin): part of `make run`'s server target.
    set_property(GLOBAL APPEND PROPERTY MALIPO_SHIPPED_PLUGINS malipo_${NAME})
    set(P_OUTPUT_DIR ${MALIPO_PLUGIN_OUTPUT_DIR})
  endif()
  malipo_plugin_library(${NAME} MalipoSDK::sdk OUTPUT_DIR ${P_OUTPUT_DIR} SOURCES ${P_SOURCES} LIBS ${P_LIBS}
    DEFINITIONS ${P_DEFINITIONS})
endfunction()
