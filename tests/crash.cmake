# The crash sweep (issue 7, part 2): the real depositbot killed at every failpoint, restarted,
# and checked. Needs the failpoints compiled in (-DDEPOSITBOT_FAILPOINTS=ON, as scripts/test.sh
# builds); crash_sweep_test is the short CTest form, crash_sweep_main the long one (--seeds N).
# crash_sweep_test_pg: every target (chat, serve, the races) with the books on PostgreSQL.
if(DEPOSITBOT_FAILPOINTS AND TARGET depositbot AND TARGET fake_namecheap AND TARGET fake_telegram
   AND TARGET process_runner AND TARGET ledger_builder)
  add_library(crash_sweep STATIC ${CMAKE_CURRENT_LIST_DIR}/crash_sweep.cpp)
  target_include_directories(crash_sweep PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(crash_sweep
    PUBLIC process_runner ledger_builder fake_namecheap fake_telegram Threads::Threads)

  depositbot_test(NAME crash_sweep_test POSTGRES SOURCES crash_sweep_test.cpp LIBS crash_sweep)
  add_dependencies(crash_sweep_test depositbot)
  set_tests_properties(crash_sweep_test crash_sweep_test_pg PROPERTIES TIMEOUT 300)

  add_executable(crash_sweep_main ${CMAKE_CURRENT_LIST_DIR}/crash_sweep_main.cpp)
  target_link_libraries(crash_sweep_main PRIVATE crash_sweep)
  target_compile_definitions(crash_sweep_main PRIVATE
    DEPOSITBOT_BIN_DEFAULT="$<TARGET_FILE:depositbot>")
  add_dependencies(crash_sweep_main depositbot)
endif()
