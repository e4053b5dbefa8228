# db/ suites: the money core (database, migrations, repositories, reconciler),
# its concurrency tests and the CLI commands that touch the books.
add_library(ledger_builder STATIC ${CMAKE_CURRENT_LIST_DIR}/fakes/ledger_builder.cpp)
target_include_directories(ledger_builder PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(ledger_builder PUBLIC depositbot_db)

# Re-executed by ledger_concurrency_test: one process of the multi-process run.
add_executable(ledger_worker ${CMAKE_CURRENT_LIST_DIR}/fakes/ledger_worker_main.cpp)
target_link_libraries(ledger_worker PRIVATE ledger_builder)

depositbot_test(NAME database_test SOURCES database_test.cpp LIBS ledger_builder)
depositbot_test(NAME migrator_test SOURCES migrator_test.cpp LIBS ledger_builder Threads::Threads)
depositbot_test(NAME deposit_repository_test POSTGRES SOURCES deposit_repository_test.cpp
                LIBS ledger_builder)
depositbot_test(NAME reconciler_test POSTGRES SOURCES reconciler_test.cpp
                LIBS ledger_builder nlohmann_json::nlohmann_json)
depositbot_test(NAME update_inbox_test POSTGRES SOURCES update_inbox_test.cpp LIBS ledger_builder)
depositbot_test(NAME ledger_concurrency_test POSTGRES SOURCES ledger_concurrency_test.cpp
                LIBS ledger_builder Threads::Threads)
add_dependencies(ledger_concurrency_test ledger_worker)
target_compile_definitions(ledger_concurrency_test PRIVATE
  LEDGER_WORKER_PATH="$<TARGET_FILE:ledger_worker>")

if(TARGET depositbot)
  depositbot_test(NAME cli_db_test POSTGRES SOURCES cli_db_test.cpp
                  LIBS ledger_builder nlohmann_json::nlohmann_json)
  add_dependencies(cli_db_test depositbot)
endif()
if(TARGET depositbot)
  depositbot_test(NAME backup_test SOURCES backup_test.cpp LIBS ledger_builder process_runner SQLite::SQLite3)
  add_dependencies(backup_test depositbot ledger_worker)
  target_compile_definitions(backup_test PRIVATE LEDGER_WORKER_PATH="$<TARGET_FILE:ledger_worker>")
endif()
depositbot_test(NAME alert_outbox_test POSTGRES SOURCES alert_outbox_test.cpp LIBS ledger_builder)
