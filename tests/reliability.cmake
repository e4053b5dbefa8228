# Reliability suites (issue 7): the bank storm, the power-loss test and the fuzz targets'
# regression test.
# (The failpoint crash sweep has its own tests/crash.cmake.)

# --- bank storm: rapidcheck model test, threads + processes on one file, the 64-buyer hot spot.
find_package(rapidcheck CONFIG QUIET)
if(TARGET ledger_builder AND TARGET ledger_worker AND rapidcheck_FOUND)
  depositbot_test(NAME bank_storm_test POSTGRES SOURCES bank_storm_test.cpp
                  LIBS ledger_builder rapidcheck Threads::Threads)
  add_dependencies(bank_storm_test ledger_worker)
  target_compile_definitions(bank_storm_test PRIVATE
    LEDGER_WORKER_PATH="$<TARGET_FILE:ledger_worker>")
  set_tests_properties(bank_storm_test bank_storm_test_pg PROPERTIES TIMEOUT 900)
elseif(NOT rapidcheck_FOUND)
  message(WARNING "rapidcheck not found (librapidcheck-dev): bank_storm_test is not built")
endif()

# --- power loss: a forked child over a VFS that drops unsynced writes at a random cut.
if(TARGET ledger_builder)
  add_library(power_loss_vfs STATIC ${CMAKE_CURRENT_LIST_DIR}/fakes/power_loss_vfs.cpp)
  target_include_directories(power_loss_vfs PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(power_loss_vfs PUBLIC SQLite::SQLite3)
  depositbot_test(NAME power_loss_test SOURCES power_loss_test.cpp
                  LIBS ledger_builder power_loss_vfs)
  set_tests_properties(power_loss_test PROPERTIES TIMEOUT 600)
endif()

# --- fuzz regression: every file of tests/fuzz/corpus/NAME/ through fuzz target NAME's entry
# point, in the normal (and sanitizer) build. Each fuzz source is compiled once more with its
# entry renamed to DepositbotFuzz_NAME.
include(${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz.cmake)
depositbot_fuzz_available(fuzz_targets)
set(fuzz_entry_list "")
set(fuzz_entry_libs "")
foreach(name IN LISTS fuzz_targets)
  add_library(fuzz_entry_${name} STATIC ${DEPOSITBOT_FUZZ_DIR}/fuzz_${name}.cpp
                                        ${DEPOSITBOT_FUZZ_EXTRA_SOURCES_${name}})
  target_include_directories(fuzz_entry_${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(fuzz_entry_${name} PUBLIC ${DEPOSITBOT_FUZZ_LIBS_${name}})
  target_compile_definitions(fuzz_entry_${name} PRIVATE
    DEPOSITBOT_FUZZ_ENTRY=DepositbotFuzz_${name})
  string(APPEND fuzz_entry_list "DEPOSITBOT_FUZZ_TARGET(${name})\n")
  list(APPEND fuzz_entry_libs fuzz_entry_${name})
endforeach()
if(fuzz_targets)
  set(fuzz_gen_dir ${CMAKE_CURRENT_BINARY_DIR}/fuzz_regression)
  file(WRITE ${fuzz_gen_dir}/fuzz_targets.inc.tmp "${fuzz_entry_list}")
  configure_file(${fuzz_gen_dir}/fuzz_targets.inc.tmp ${fuzz_gen_dir}/fuzz_targets.inc COPYONLY)
  depositbot_test(NAME fuzz_regression_test SOURCES fuzz_regression_test.cpp
                  LIBS ${fuzz_entry_libs})
  target_include_directories(fuzz_regression_test PRIVATE ${fuzz_gen_dir})
endif()
