# Project-wide warnings and hardening, applied to every target made by the helpers below.
add_library(edge_flags INTERFACE)
target_compile_options(edge_flags INTERFACE
  -Wall -Wextra -Wshadow -Wconversion -Wno-sign-conversion -Wformat=2
  -DEDGE_VERSION="${PROJECT_VERSION}"
  -fstack-protector-strong $<$<NOT:$<CONFIG:Debug>>:-D_FORTIFY_SOURCE=2>)
target_link_options(edge_flags INTERFACE -Wl,-z,relro,-z,now -Wl,--as-needed)
if(SANITIZE)
  target_compile_options(edge_flags INTERFACE -fsanitize=${SANITIZE} -fno-omit-frame-pointer)
  target_link_options(edge_flags INTERFACE -fsanitize=${SANITIZE})
endif()

# edge_component(NAME <lib> SOURCES ... [DEPS ...]): a static library of a component's logic.
function(edge_component)
  cmake_parse_arguments(C "" "NAME" "SOURCES;DEPS" ${ARGN})
  add_library(${C_NAME} STATIC ${C_SOURCES})
  target_include_directories(${C_NAME} PUBLIC ${CMAKE_SOURCE_DIR})
  target_link_libraries(${C_NAME} PUBLIC edge_flags ${C_DEPS})
endfunction()

# edge_program(NAME <exe> SOURCES ... [DEPS ...]): an installed executable in build/bin.
function(edge_program)
  cmake_parse_arguments(C "" "NAME" "SOURCES;DEPS" ${ARGN})
  add_executable(${C_NAME} ${C_SOURCES})
  target_link_libraries(${C_NAME} PRIVATE edge_flags ${C_DEPS})
  install(TARGETS ${C_NAME} RUNTIME DESTINATION bin)
  set_property(GLOBAL APPEND PROPERTY EDGE_PROGRAMS ${C_NAME})
endfunction()

# edge_tests(NAME <component> [DEPS ...]): one Catch2 executable from tests/<component>/*.cpp,
# registered with CTest test by test. Tests find built programs through EDGE_BIN_DIR.
function(edge_tests)
  cmake_parse_arguments(C "" "NAME" "DEPS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/${C_NAME}/*.cpp)
  add_executable(test_${C_NAME} ${sources})
  set_target_properties(test_${C_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(test_${C_NAME} PRIVATE edge_flags test_support ${C_DEPS})
  # Tests start the built programs: building a test builds them too.
  get_property(programs GLOBAL PROPERTY EDGE_PROGRAMS)
  if(programs)
    add_dependencies(test_${C_NAME} ${programs})
  endif()
  target_compile_definitions(test_${C_NAME} PRIVATE
    EDGE_BIN_DIR="${CMAKE_BINARY_DIR}/bin" EDGE_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  catch_discover_tests(test_${C_NAME} TEST_PREFIX "${C_NAME}: " PROPERTIES LABELS ${C_NAME}
    DISCOVERY_TIMEOUT 30)
endfunction()
