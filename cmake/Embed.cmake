# depositbot_embed(TARGET name NAMESPACE ns FUNCTION fn FILES a b ...)
# Generates a .cpp that holds each file's bytes and a function
#   const std::vector<EmbeddedFile>& ns::fn();
# sorted by file name, so the binary works from any directory.
function(depositbot_embed)
  cmake_parse_arguments(E "" "TARGET;NAMESPACE;FUNCTION" "FILES" ${ARGN})
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${E_TARGET}_embedded.cpp")
  set(script "${PROJECT_SOURCE_DIR}/cmake/EmbedScript.cmake")
  string(REPLACE ";" "|" joined "${E_FILES}")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DNS=${E_NAMESPACE} -DFN=${E_FUNCTION}
            "-DFILES=${joined}" -P ${script}
    DEPENDS ${E_FILES} ${script}
    VERBATIM
    COMMENT "Embedding ${E_TARGET}")
  add_library(${E_TARGET} STATIC "${out}")
  target_link_libraries(${E_TARGET} PUBLIC depositbot_common)
endfunction()
