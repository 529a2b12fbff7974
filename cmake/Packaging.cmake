# The Debian package: `cpack -G DEB` in the build directory gives umview_VERSION_ARCH.deb,
# installed with `apt-get install ./umview_*.deb`. One package holds the tools, plugins, views,
# man pages, completion and the SDK (headers + CMake package), like a -dev-less tool would.
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "umview")
set(CPACK_PACKAGE_VENDOR "umview")
set(CPACK_PACKAGE_CONTACT "umview maintainers <umview@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "run programs in a partial virtual view of the system")
set(CPACK_PACKAGE_DESCRIPTION "umview gives a process tree its own view of files, devices and \
network, with no root and no change to the host. System calls pass through a stack of plugins \
(viewfs, umnet, umdev, umtrace, or your own, built with the SDK shipped here); the rest runs \
natively.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# The package always installs under /usr, whatever prefix the build was configured with:
# umview finds its plugins and views relative to its own binary (core/install_dirs.h).
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "utils")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
# Depends: computed from the binaries' and plugins' shared libraries by dpkg-shlibdeps
# (package dpkg-dev), i.e. libc6, libstdc++6, libgcc-s1 (yaml-cpp and libseccomp are linked
# statically, for start-up time: core/CMakeLists.txt).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Building a plugin against the SDK needs a compiler, CMake and Boost's headers (Boost.DLL).
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "g++, cmake, libboost-dev, bash-completion")
set(CPACK_SOURCE_IGNORE_FILES "/build/;/\\\\.git/")
include(CPack)
