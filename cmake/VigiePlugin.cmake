# vigie_add_plugin(NAME SOURCES...): a probe plugin, NAME.so, built the way the agent expects:
# only the entry symbol exported, every symbol resolved at link time (dlopen uses RTLD_NOW).
function(vigie_add_plugin name)
  add_library(${name} MODULE ${ARGN})
  target_link_libraries(${name} PRIVATE vigie::plugin_sdk)
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_link_options(${name} PRIVATE -Wl,--no-undefined)
endfunction()
