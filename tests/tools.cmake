depositbot_test(NAME arg_schema_test SOURCES arg_schema_test.cpp LIBS depositbot_tools)
depositbot_test(NAME tool_registry_test SOURCES tool_registry_test.cpp LIBS depositbot_tools)
# The admins' chat commands on the real repositories, through the agent and DecisionHandler.
if(TARGET depositbot_agent AND TARGET ledger_builder)
  depositbot_test(NAME admin_commands_test POSTGRES SOURCES admin_commands_test.cpp
                  LIBS depositbot_agent ledger_builder)
endif()

# Bank feed (issue 15): the signature, name normalisation and body parsing; the matching service
# on both backends.
depositbot_test(NAME bank_notify_test SOURCES bank_notify_test.cpp
                LIBS depositbot_tools depositbot_chat)
if(TARGET ledger_builder)
  depositbot_test(NAME bank_feed_test POSTGRES SOURCES bank_feed_test.cpp
                  LIBS depositbot_tools ledger_builder Threads::Threads)
endif()
