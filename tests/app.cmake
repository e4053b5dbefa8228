# agent loop, offline model and terminal chat suites (they need the whole stack).
if(TARGET depositbot_agent AND TARGET ledger_builder)
  depositbot_test(NAME agent_loop_test POSTGRES SOURCES agent_loop_test.cpp
                  LIBS depositbot_agent ledger_builder)
  depositbot_test(NAME rule_based_model_test SOURCES rule_based_model_test.cpp
                  LIBS depositbot_agent ledger_builder)
  depositbot_test(NAME deposit_amount_test POSTGRES SOURCES deposit_amount_test.cpp
                  LIBS depositbot_agent ledger_builder)
  depositbot_test(NAME model_usage_test SOURCES model_usage_test.cpp
                  LIBS depositbot_agent ledger_builder)
  # The offline model's phrase corpus; the binary prints every phrasing with its outcome.
  depositbot_test(NAME offline_corpus_test SOURCES offline_corpus_test.cpp
                  LIBS depositbot_agent nlohmann_json::nlohmann_json)
  target_compile_definitions(offline_corpus_test PRIVATE
    DEPOSITBOT_CORPUS_PATH="${PROJECT_SOURCE_DIR}/tests/data/offline_corpus.json")
endif()

if(TARGET depositbot_tools AND TARGET ledger_builder)
  depositbot_test(NAME purchase_test POSTGRES SOURCES purchase_test.cpp
                  LIBS depositbot_tools ledger_builder Threads::Threads)
endif()
depositbot_test(NAME price_test SOURCES price_test.cpp LIBS depositbot_common)

if(TARGET depositbot_agent AND TARGET fake_llm_server AND TARGET ledger_builder)
  depositbot_test(NAME agent_llm_test SOURCES agent_llm_test.cpp
                  LIBS depositbot_agent fake_llm_server ledger_builder)
endif()

# depositbot chat / recover as real processes.
add_library(process_runner STATIC ${CMAKE_CURRENT_LIST_DIR}/fakes/process_runner.cpp)
target_include_directories(process_runner PUBLIC ${PROJECT_SOURCE_DIR})
# reconciler_test (db.cmake) also runs `depositbot reconcile` against the fake Namecheap.
if(TARGET reconciler_test AND TARGET depositbot AND TARGET fake_namecheap)
  target_link_libraries(reconciler_test PRIVATE process_runner fake_namecheap)
  target_compile_definitions(reconciler_test PRIVATE DEPOSITBOT_RECONCILE_E2E=1)
  add_dependencies(reconciler_test depositbot)
endif()
if(TARGET depositbot AND TARGET fake_llm_server AND TARGET fake_namecheap)
  depositbot_test(NAME cli_chat_test SOURCES cli_chat_test.cpp
                  LIBS process_runner ledger_builder fake_llm_server fake_namecheap)
  add_dependencies(cli_chat_test depositbot)
  depositbot_test(NAME llm_settings_test SOURCES llm_settings_test.cpp
                  LIBS depositbot_app process_runner ledger_builder fake_llm_server)
  add_dependencies(llm_settings_test depositbot)
endif()

depositbot_test(NAME dispatcher_test SOURCES dispatcher_test.cpp
                LIBS depositbot_chat Threads::Threads)

if(TARGET depositbot AND TARGET fake_telegram AND TARGET fake_llm_server)
  depositbot_test(NAME serve_test POSTGRES SOURCES serve_test.cpp
                  LIBS process_runner ledger_builder fake_telegram fake_llm_server
                       PkgConfig::HTTPLIB)
  add_dependencies(serve_test depositbot)
  depositbot_test(NAME throughput_test POSTGRES SOURCES throughput_test.cpp
                  LIBS process_runner ledger_builder fake_telegram fake_llm_server
                       PkgConfig::HTTPLIB)
  add_dependencies(throughput_test depositbot)
endif()

# The per-user rate limit and daily model budget with serve as a real process.
if(TARGET depositbot AND TARGET fake_telegram AND TARGET fake_llm_server)
  depositbot_test(NAME fair_use_serve_test POSTGRES SOURCES fair_use_serve_test.cpp
                  LIBS process_runner ledger_builder fake_telegram fake_llm_server
                       PkgConfig::HTTPLIB)
  add_dependencies(fair_use_serve_test depositbot)
endif()

# Start-up configuration: the ranges and refusals, and `depositbot config` as a real process.
if(TARGET depositbot AND TARGET depositbot_app AND TARGET ledger_builder)
  depositbot_test(NAME config_test SOURCES config_test.cpp
                  LIBS depositbot_app process_runner ledger_builder)
  add_dependencies(config_test depositbot)
endif()

# The model provider's limits: settings, and `depositbot serve` slowed as a whole by a 429.
if(TARGET depositbot AND TARGET depositbot_app AND TARGET fake_telegram AND TARGET fake_llm_server)
  depositbot_test(NAME model_limits_test POSTGRES SOURCES model_limits_test.cpp
                  LIBS depositbot_app process_runner ledger_builder fake_telegram fake_llm_server
                       PkgConfig::HTTPLIB)
  add_dependencies(model_limits_test depositbot)
endif()

# `depositbot copy-db` between SQLite and PostgreSQL: one run that needs the test cluster whatever
# the backend (TestDb::kPostgres), so it takes ctest's postgres fixture without being a _pg twin.
if(TARGET depositbot AND TARGET ledger_builder)
  depositbot_test(NAME copy_db_test SOURCES copy_db_test.cpp LIBS process_runner ledger_builder)
  add_dependencies(copy_db_test depositbot)
  set_tests_properties(copy_db_test PROPERTIES FIXTURES_REQUIRED postgres ENVIRONMENT
    "DEPOSITBOT_BIN=$<TARGET_FILE:depositbot>;DEPOSITBOT_SOURCE_DIR=${PROJECT_SOURCE_DIR};DEPOSITBOT_TEST_POSTGRES_FILE=${DEPOSITBOT_PG_DIR}.uri")
endif()

# Two serve processes on one database (issue 14): SQLite, and PostgreSQL as _pg.
if(TARGET depositbot AND TARGET fake_telegram AND TARGET fake_llm_server)
  depositbot_test(NAME multi_instance_test POSTGRES SOURCES multi_instance_test.cpp
                  LIBS process_runner ledger_builder fake_telegram fake_llm_server
                       PkgConfig::HTTPLIB)
  add_dependencies(multi_instance_test depositbot)
  set_tests_properties(multi_instance_test multi_instance_test_pg PROPERTIES TIMEOUT 300)
endif()

# deploy/: the systemd unit passes `systemd-analyze verify`, and the env example lists every
# setting the binary knows (scripts/check-deploy.sh).
if(TARGET depositbot)
  add_test(NAME deploy_test
           COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/check-deploy.sh $<TARGET_FILE:depositbot>)
endif()

# The admins' chat commands with serve as a real process (sendDocument, adjustment buttons).
if(TARGET depositbot AND TARGET fake_telegram AND TARGET fake_llm_server)
  depositbot_test(NAME admin_serve_test POSTGRES SOURCES admin_serve_test.cpp
                  LIBS process_runner ledger_builder fake_telegram fake_llm_server
                       PkgConfig::HTTPLIB)
  add_dependencies(admin_serve_test depositbot)
endif()

# The bank feed with serve as a real process (issue 15).
if(TARGET depositbot AND TARGET fake_telegram AND TARGET fake_llm_server)
  depositbot_test(NAME bank_feed_serve_test POSTGRES SOURCES bank_feed_serve_test.cpp
                  LIBS process_runner ledger_builder fake_telegram fake_llm_server
                       depositbot_chat PkgConfig::HTTPLIB)
  add_dependencies(bank_feed_serve_test depositbot)
endif()
