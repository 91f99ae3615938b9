# malipo_plugin_library(NAME SDK_TARGET [OUTPUT_DIR dir] SOURCES ... [LIBS ...] [DEFINITIONS ...])
# The one definition of how a Malipo plugin is built, shared by the in-tree build
# (cmake/MalipoPlugin.cmake, SDK_TARGET MalipoSDK::sdk) and the installed SDK
# (lib/cmake/MalipoSDK, SDK_TARGET MalipoSDK::sdk): a MODULE library libmalipo_<NAME>.so
# with hidden visibility, so the one symbol MALIPO_PLUGIN exports is the only one the
# loader sees, and -Wl,--no-undefined, so a missing symbol fails the link, not the load.
function(malipo_plugin_library NAME SDK_TARGET)
  cmake_parse_arguments(P "" "OUTPUT_DIR" "SOURCES;LIBS;DEFINITIONS" ${ARGN})
  if(NOT NAME MATCHES "^[a-z][a-z0-9_]*$")
    message(FATAL_ERROR "malipo_add_plugin: '${NAME}' is not a plugin name (lowercase letters, digits, _)")
  endif()
  set(target malipo_${NAME})
  add_library(${target} MODULE ${P_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX "lib"
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(P_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${P_OUTPUT_DIR})
  endif()
  target_link_libraries(${target} PRIVATE ${SDK_TARGET} ${P_LIBS})
  target_link_options(${target} PRIVATE -Wl,--no-undefined)
  if(P_DEFINITIONS)
    target_compile_definitions(${target} PRIVATE ${P_DEFINITIONS})
  endif()
endfunction()
