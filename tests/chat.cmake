# chat/ suites: the Telegram Bot API client, its types and text helpers, and the fake
# Telegram server (shared with later suites and the benchmarks).
add_library(fake_telegram STATIC ${CMAKE_CURRENT_LIST_DIR}/fakes/fake_telegram_server.cpp)
target_include_directories(fake_telegram PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(fake_telegram
  PUBLIC depositbot_common nlohmann_json::nlohmann_json
  PRIVATE PkgConfig::HTTPLIB Threads::Threads)

add_executable(fake_telegram_server_main ${CMAKE_CURRENT_LIST_DIR}/fakes/fake_telegram_server_main.cpp)
target_link_libraries(fake_telegram_server_main PRIVATE fake_telegram)

depositbot_test(NAME telegram_text_test SOURCES telegram_text_test.cpp LIBS depositbot_chat)
depositbot_test(NAME telegram_types_test SOURCES telegram_types_test.cpp LIBS depositbot_chat)
depositbot_test(NAME telegram_client_test SOURCES telegram_client_test.cpp
                LIBS depositbot_chat fake_telegram PkgConfig::HTTPLIB)
depositbot_test(NAME admin_alert_sender_test POSTGRES SOURCES admin_alert_sender_test.cpp
                LIBS depositbot_chat fake_telegram ledger_builder)
