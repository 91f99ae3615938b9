# `cmake --install build --prefix P` and the Debian package (`make package`); the layout
# and the rules are described in docs/packaging.md:
#   P/bin/malipo                         the server
#   P/lib/malipo/plugins/                the shipped plugins (never the test plugins)
#   P/etc/malipo/malipo.yaml             the installed config (/etc/malipo when P is /usr)
#   P/share/malipo/                      the shipped config, for comparison after upgrades
#   P/share/doc/malipo/                  the docs and every plugin's README
#   P/include/malipo/, P/lib/cmake/MalipoSDK/, P/lib/pkgconfig/malipo-sdk.pc   the SDK
include(CMakePackageConfigHelpers)
# `install` and cpack install what is built (`make install` / `make package` build the
# `server` target first); they do not build every test and benchmark.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

# The SDK version: MALIPO_SDK_MAJOR / MALIPO_SDK_MINOR of kernel/include/malipo/abi.h.
set(_malipo_abi ${CMAKE_SOURCE_DIR}/kernel/include/malipo/abi.h)
file(STRINGS ${_malipo_abi} _major REGEX "^#define[ \t]+MALIPO_SDK_MAJOR[ \t]+[0-9]+")
file(STRINGS ${_malipo_abi} _minor REGEX "^#define[ \t]+MALIPO_SDK_MINOR[ \t]+[0-9]+")
string(REGEX REPLACE "^#define[ \t]+MALIPO_SDK_MAJOR[ \t]+([0-9]+).*" "\\1" MALIPO_SDK_MAJOR "${_major}")
string(REGEX REPLACE "^#define[ \t]+MALIPO_SDK_MINOR[ \t]+([0-9]+).*" "\\1" MALIPO_SDK_MINOR "${_minor}")
if(NOT MALIPO_SDK_MAJOR MATCHES "^[0-9]+$" OR NOT MALIPO_SDK_MINOR MATCHES "^[0-9]+$")
  message(FATAL_ERROR "${_malipo_abi}: no '#define MALIPO_SDK_MAJOR <n>' and '#define MALIPO_SDK_MINOR <n>'")
endif()
set(MALIPO_SDK_VERSION ${MALIPO_SDK_MAJOR}.${MALIPO_SDK_MINOR})

# --- the server and the shipped plugins
install(TARGETS malipo malipo-conformance RUNTIME DESTINATION bin)
get_property(_malipo_shipped GLOBAL PROPERTY MALIPO_SHIPPED_PLUGINS)
install(TARGETS ${_malipo_shipped} LIBRARY DESTINATION lib/malipo/plugins)
# Their page texts beside them: the kernel reads <library dir>/<plugin>/messages/<lang>.json.
foreach(_t ${_malipo_shipped})
  string(REGEX REPLACE "^malipo_" "" _p ${_t})
  if(EXISTS ${CMAKE_SOURCE_DIR}/plugins/${_p}/messages)
    install(DIRECTORY ${CMAKE_SOURCE_DIR}/plugins/${_p}/messages DESTINATION lib/malipo/plugins/${_p})
  endif()
endforeach()

# --- the installed config: written at install time, when the prefix is known. Inside the
# prefix its paths are relative to the config's folder (the tree can move); a /usr install
# keeps its config in /etc/malipo and its state in /var/lib/malipo, named absolutely.
# An existing config that differs is kept; the new one is written next to it as .new.
# (file(INSTALL) adds $DESTDIR itself; the other file commands get it by hand.)
install(CODE "
  set(_prefix \"\${CMAKE_INSTALL_PREFIX}\")
  if(_prefix STREQUAL \"/usr\")
    set(_conf_dir /etc/malipo)
    set(MALIPO_CONF_STATE_DIR /var/lib/malipo)
    set(MALIPO_CONF_PLUGIN_DIR /usr/lib/malipo/plugins)
  else()
    set(_conf_dir \"\${_prefix}/etc/malipo\")
    file(RELATIVE_PATH MALIPO_CONF_STATE_DIR \"\${_conf_dir}\" \"\${_prefix}/var/lib/malipo\")
    file(RELATIVE_PATH MALIPO_CONF_PLUGIN_DIR \"\${_conf_dir}\" \"\${_prefix}/lib/malipo/plugins\")
    file(MAKE_DIRECTORY \"\$ENV{DESTDIR}\${_prefix}/var/lib/malipo\")
  endif()
  set(MALIPO_CONF_FILE \"\${_conf_dir}/malipo.yaml\")
  set(MALIPO_CONF_DOCDIR \"\${_prefix}/share/doc/malipo\")
  set(_staged \"${CMAKE_BINARY_DIR}/install-config/malipo.yaml\")
  configure_file(\"${CMAKE_SOURCE_DIR}/config/malipo.install.yaml.in\" \"\${_staged}\" @ONLY)
  set(_target \"\$ENV{DESTDIR}\${_conf_dir}/malipo.yaml\")
  file(INSTALL \"\${_staged}\" DESTINATION \"\${_prefix}/share/malipo\")
  set(_old \"\")
  if(EXISTS \"\${_target}\")
    file(READ \"\${_target}\" _old)
  endif()
  file(READ \"\${_staged}\" _new)
  if(EXISTS \"\${_target}\" AND NOT _old STREQUAL _new)
    message(STATUS \"Keeping the edited \${_target}; the new config is \${_target}.new\")
    configure_file(\"\${_staged}\" \"\${_target}.new\" COPYONLY)
  else()
    file(INSTALL \"\${_staged}\" DESTINATION \"\${_conf_dir}\")
  endif()
")

# --- docs
file(GLOB _malipo_docs ${CMAKE_SOURCE_DIR}/docs/*.md)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${_malipo_docs} DESTINATION share/doc/malipo)
foreach(_t ${_malipo_shipped})
  string(REGEX REPLACE "^malipo_" "" _p ${_t})
  if(EXISTS ${CMAKE_SOURCE_DIR}/plugins/${_p}/README.md)
    install(FILES ${CMAKE_SOURCE_DIR}/plugins/${_p}/README.md DESTINATION share/doc/malipo/plugins RENAME ${_p}.md)
  endif()
endforeach()

# --- the SDK: every header under kernel/include/malipo (recursively), the CMake package
# and the pkg-config file.
install(DIRECTORY ${CMAKE_SOURCE_DIR}/kernel/include/malipo DESTINATION include)
# The SDK's headers need Poco Foundation and JSON only (MalipoSDKConfig.cmake finds them).
set(MALIPO_SDK_EXTRA_DEPENDENCIES "")
set(MALIPO_SDK_EXTRA_LINK "")

set(CMAKE_INSTALL_INCLUDEDIR include)
set(_sdk ${CMAKE_BINARY_DIR}/sdk)
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/MalipoSDKConfig.cmake.in ${_sdk}/MalipoSDKConfig.cmake
  INSTALL_DESTINATION lib/cmake/MalipoSDK PATH_VARS CMAKE_INSTALL_INCLUDEDIR)
write_basic_package_version_file(${_sdk}/MalipoSDKConfigVersion.cmake
  VERSION ${MALIPO_SDK_VERSION} COMPATIBILITY SameMajorVersion)
configure_file(${CMAKE_SOURCE_DIR}/cmake/malipo-sdk.pc.in ${_sdk}/malipo-sdk.pc @ONLY)
install(FILES ${_sdk}/MalipoSDKConfig.cmake ${_sdk}/MalipoSDKConfigVersion.cmake
  ${CMAKE_SOURCE_DIR}/cmake/MalipoSDKPlugin.cmake DESTINATION lib/cmake/MalipoSDK)
install(FILES ${_sdk}/malipo-sdk.pc DESTINATION lib/pkgconfig)

include(${CMAKE_SOURCE_DIR}/cmake/MalipoPackage.cmake)
