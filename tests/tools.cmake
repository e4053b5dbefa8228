depositbot_test(NAME arg_schema_test SOURCES arg_schema_test.cpp LIBS depositbot_tools)
depositbot_test(NAME tool_registry_test SOURCES tool_registry_test.cpp LIBS depositbot_tools)
# The admins' chat commands on the real repositories, through the agent and DecisionHandler.
if(TARGET depositbot_agent AND TARGET ledger_builder)
  depositbot_test(NAME admin_commands_test POSTGRES SOURCES admin_commands_test.cpp
                  LIBS depositbot_agent ledger_builder)
endif()
