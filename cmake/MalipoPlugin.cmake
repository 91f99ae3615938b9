# malipo_add_plugin(NAME SOURCES ... [LIBS ...])
# Builds build/plugins/libmalipo_<NAME>.so against the plugin SDK only (MalipoSDK::sdk), with
# hidden visibility so the one symbol MALIPO_PLUGIN exports is the only one the loader sees.
set(MALIPO_PLUGIN_OUTPUT_DIR ${CMAKE_BINARY_DIR}/plugins)

function(malipo_add_plugin NAME)
  cmake_parse_arguments(P "" "OUTPUT_DIR" "SOURCES;LIBS;DEFINITIONS" ${ARGN})
  set(target malipo_${NAME})
  add_library(${target} MODULE ${P_SOURCES})
  if(NOT P_OUTPUT_DIR)
    # A shipped plugin (not a test plugin): part of `make run`'s server target.
    set_property(GLOBAL APPEND PROPERTY MALIPO_SHIPPED_PLUGINS ${target})
    set(P_OUTPUT_DIR ${MALIPO_PLUGIN_OUTPUT_DIR})
  endif()
  set_target_properties(${target} PROPERTIES
    PREFIX "lib"
    LIBRARY_OUTPUT_DIRECTORY ${P_OUTPUT_DIR}
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_link_libraries(${target} PRIVATE MalipoSDK::sdk ${P_LIBS})
  target_link_options(${target} PRIVATE -Wl,--no-undefined)
  if(P_DEFINITIONS)
    target_compile_definitions(${target} PRIVATE ${P_DEFINITIONS})
  endif()
endfunction()
