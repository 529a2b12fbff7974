# What `cmake --install` lays out besides binaries, plugins, headers and views (installed by
# their own directories): man pages, bash completion, docs, the SDK's CMake package.
include(CMakePackageConfigHelpers)

# Man pages are installed gzipped (-n: no name or time stamp, so builds are reproducible), as
# Debian ships them.
set(_man_gz)
foreach(page umview.1 umctl.1 umview-views.5 umview-plugins.7)
  string(REGEX MATCH "[0-9]$" section ${page})
  set(gz ${CMAKE_CURRENT_BINARY_DIR}/man/${page}.gz)
  add_custom_command(OUTPUT ${gz}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/man
    COMMAND gzip -9nc ${CMAKE_CURRENT_SOURCE_DIR}/man/${page} > ${gz}
    DEPENDS man/${page} VERBATIM)
  list(APPEND _man_gz ${gz})
  install(FILES ${gz} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
add_custom_target(umview_man_pages ALL DEPENDS ${_man_gz})

# bash-completion loads completions/NAME on demand when NAME is first completed.
install(FILES completion/umview completion/umctl
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)

install(FILES README.md docs/WRITING_PLUGINS.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples
        PATTERN "build" EXCLUDE)

set(UMVIEW_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/umview)
install(EXPORT umviewTargets NAMESPACE umview:: DESTINATION ${UMVIEW_CMAKE_INSTALL_DIR})
configure_package_config_file(cmake/umviewConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/umviewConfig.cmake
  INSTALL_DESTINATION ${UMVIEW_CMAKE_INSTALL_DIR}
  PATH_VARS UMVIEW_PLUGIN_INSTALL_DIR)
# The headers are the ABI: a plugin built against 0.1 is loaded by any umview of the same ABI,
# which the loader checks; within a major version the API only grows.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/umviewConfigVersion.cmake
  COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/umviewConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/umviewConfigVersion.cmake
        DESTINATION ${UMVIEW_CMAKE_INSTALL_DIR})
