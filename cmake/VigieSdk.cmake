# The probe plugin SDK: two headers and a CMake package, so that an out-of-tree plugin needs only
# find_package(vigie) (the RPM's -devel subpackage ships the "devel" install component).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

add_library(vigie_plugin_sdk INTERFACE)
add_library(vigie::plugin_sdk ALIAS vigie_plugin_sdk)
set_target_properties(vigie_plugin_sdk PROPERTIES EXPORT_NAME plugin_sdk)
target_include_directories(vigie_plugin_sdk INTERFACE
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/agent/include>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_compile_features(vigie_plugin_sdk INTERFACE cxx_std_17)
include(${CMAKE_CURRENT_LIST_DIR}/VigiePlugin.cmake)

set(VIGIE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/vigie)
install(FILES agent/include/vigie/plugin_abi.h agent/include/vigie/plugin_sdk.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/vigie COMPONENT devel)
install(TARGETS vigie_plugin_sdk EXPORT vigieTargets COMPONENT devel)
install(EXPORT vigieTargets NAMESPACE vigie:: DESTINATION ${VIGIE_CMAKE_DIR} COMPONENT devel)
configure_package_config_file(cmake/vigieConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/vigieConfig.cmake INSTALL_DESTINATION ${VIGIE_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/vigieConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/vigieConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/vigieConfigVersion.cmake
              ${CMAKE_CURRENT_LIST_DIR}/VigiePlugin.cmake
        DESTINATION ${VIGIE_CMAKE_DIR} COMPONENT devel)
