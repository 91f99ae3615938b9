# The Debian package (`make package` → build/malipo_<version>_<arch>.deb): the install
# layout with prefix /usr and the config in /etc/malipo, the systemd unit and the
# maintainer scripts of packaging/. Runtime library dependencies come from dpkg-shlibdeps.
# The systemd unit names /usr/bin/malipo and /etc/malipo: installed with prefix /usr only.
install(CODE "
  if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
    file(INSTALL \"${CMAKE_SOURCE_DIR}/packaging/malipo.service\" DESTINATION /usr/lib/systemd/system)
  endif()
")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME malipo)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Malipo payment orchestration server (plugin-based)")
set(CPACK_PACKAGE_DESCRIPTION "Malipo runs payment flows through provider plugins (Selcom, Flutterwave, Hubtel) for product plugins (CV Chap Chap, verification credits), with a durable job queue, SQLite or PostgreSQL. Includes the plugin SDK (headers, CMake package, pkg-config).")
set(CPACK_PACKAGE_CONTACT "Malipo maintainers <malipo@example.com>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
# Install with DESTDIR, so the install step sees CMAKE_INSTALL_PREFIX=/usr and puts the
# config in /etc/malipo (cmake/MalipoInstall.cmake).
set(CPACK_SET_DESTDIR ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The CV PDFs' fonts; passwd for useradd in postinst.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd, fonts-dejavu-core")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "fonts-noto-core, fonts-symbola")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "postgresql, nginx")
configure_file(${CMAKE_SOURCE_DIR}/packaging/conffiles ${CMAKE_BINARY_DIR}/packaging/conffiles COPYONLY)
foreach(_s postinst prerm postrm)
  configure_file(${CMAKE_SOURCE_DIR}/packaging/${_s} ${CMAKE_BINARY_DIR}/packaging/${_s} COPYONLY)
  file(CHMOD ${CMAKE_BINARY_DIR}/packaging/${_s} PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
       GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_BINARY_DIR}/packaging/conffiles ${CMAKE_BINARY_DIR}/packaging/postinst
  ${CMAKE_BINARY_DIR}/packaging/prerm ${CMAKE_BINARY_DIR}/packaging/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
