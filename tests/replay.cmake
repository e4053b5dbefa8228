# Conversation fixtures: the library replayed by the real binary, and the runner's own suite.
if(TARGET depositbot AND TARGET depositbot_app AND TARGET ledger_builder)
  add_test(NAME fixtures COMMAND depositbot replay ${PROJECT_SOURCE_DIR}/fixtures)
  depositbot_test(NAME replay_test SOURCES replay_test.cpp LIBS depositbot_app ledger_builder)
  add_dependencies(replay_test depositbot)
endif()
