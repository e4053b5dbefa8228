# agent/ suites and the fake OpenAI-compatible server.
add_library(fake_llm_server STATIC ${CMAKE_CURRENT_LIST_DIR}/fakes/fake_llm_server.cpp)
target_include_directories(fake_llm_server PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(fake_llm_server
  PUBLIC depositbot_common nlohmann_json::nlohmann_json
  PRIVATE PkgConfig::HTTPLIB Threads::Threads)

add_executable(fake_llm_server_main ${CMAKE_CURRENT_LIST_DIR}/fakes/fake_llm_server_main.cpp)
target_link_libraries(fake_llm_server_main PRIVATE fake_llm_server)

depositbot_test(NAME openai_chat_model_test SOURCES openai_chat_model_test.cpp
                LIBS depositbot_agent fake_llm_server)
depositbot_test(NAME model_gate_test SOURCES model_gate_test.cpp LIBS depositbot_agent)
depositbot_test(NAME scripted_chat_model_test SOURCES scripted_chat_model_test.cpp
                LIBS depositbot_agent)
# Links the agent without depositbot_db: agent/ must build and run on any ConversationStore.
depositbot_test(NAME agent_store_test SOURCES agent_store_test.cpp LIBS depositbot_agent)
# The per-user rate limit and daily model budget, on memory stores (no SQLite either).
depositbot_test(NAME fair_use_test SOURCES fair_use_test.cpp LIBS depositbot_agent)
