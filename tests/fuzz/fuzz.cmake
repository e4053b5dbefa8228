# The libFuzzer targets, one per parser that takes outside input (issue 7, part 4).
#
# Target NAME is tests/fuzz/fuzz_NAME.cpp, which defines DEPOSITBOT_FUZZ_ENTRY (by default
# LLVMFuzzerTestOneInput); its seed corpus is tests/fuzz/corpus/NAME/. Included by
# tests/fuzz/CMakeLists.txt (the clang -DDEPOSITBOT_FUZZ=ON build, scripts/fuzz.sh) and by
# tests/reliability.cmake (fuzz_regression_test: every corpus file through the same entry
# points in the normal build, so a crash input saved to the corpus stays a regression test).
#
# To add a target: append NAME to DEPOSITBOT_FUZZ_TARGETS, set DEPOSITBOT_FUZZ_LIBS_NAME (and
# DEPOSITBOT_FUZZ_EXTRA_SOURCES_NAME if it compiles a source that has no library of its own).
# A target whose libraries are not built (a skipped layer) is left out.
set(DEPOSITBOT_FUZZ_TARGETS
  user_amount       # ParseUserAmount: amounts people type
  decimal           # ParseDecimal, Decimal::Parse, ConvertUsdMicros: registrar prices, config
  tool_arguments    # ToolRegistry::Invoke with the real tools: arguments from the model
  chat_completion   # ParseChatCompletion, ChatMessage::FromJson: model responses
  config            # Config::FromEnvironment: the environment
  telegram_update   # ParseTelegramUpdate, TelegramUpdateToJson, ParseCallbackData: webhooks
  fixture           # ParseFixture: conversation fixtures given to replay
  namecheap_xml     # the Namecheap envelope and command parsers: registrar replies
)
set(DEPOSITBOT_FUZZ_LIBS_user_amount depositbot_common)
set(DEPOSITBOT_FUZZ_LIBS_decimal depositbot_common)
set(DEPOSITBOT_FUZZ_LIBS_tool_arguments depositbot_agent depositbot_tools depositbot_db
    depositbot_registrar)
set(DEPOSITBOT_FUZZ_LIBS_chat_completion depositbot_agent)
set(DEPOSITBOT_FUZZ_LIBS_config depositbot_registrar depositbot_common)
set(DEPOSITBOT_FUZZ_LIBS_telegram_update depositbot_chat)
set(DEPOSITBOT_FUZZ_LIBS_fixture depositbot_agent depositbot_registrar)
set(DEPOSITBOT_FUZZ_LIBS_namecheap_xml depositbot_registrar)
# app/ is one library with the whole stack, not built for fuzzing: tool_arguments compiles
# app/services.cpp (the wiring `serve` uses) over the layers below it; the config parser needs
# only common/ and registrar/ (the Namecheap contact check), the fixture parser only agent/ (the
# scripted model) and registrar/.
set(DEPOSITBOT_FUZZ_EXTRA_SOURCES_tool_arguments ${PROJECT_SOURCE_DIR}/app/services.cpp)
set(DEPOSITBOT_FUZZ_EXTRA_SOURCES_config ${PROJECT_SOURCE_DIR}/app/config.cpp)
set(DEPOSITBOT_FUZZ_EXTRA_SOURCES_fixture ${PROJECT_SOURCE_DIR}/app/fixture.cpp
                                          ${PROJECT_SOURCE_DIR}/app/strict_json.cpp)

set(DEPOSITBOT_FUZZ_DIR ${PROJECT_SOURCE_DIR}/tests/fuzz)

# Sets OUT to the targets whose libraries exist in this configuration.
function(depositbot_fuzz_available out)
  set(available)
  foreach(name IN LISTS DEPOSITBOT_FUZZ_TARGETS)
    set(ok TRUE)
    foreach(lib IN LISTS DEPOSITBOT_FUZZ_LIBS_${name})
      if(NOT TARGET ${lib})
        set(ok FALSE)
      endif()
    endforeach()
    if(ok AND EXISTS ${DEPOSITBOT_FUZZ_DIR}/fuzz_${name}.cpp)
      list(APPEND available ${name})
    endif()
  endforeach()
  set(${out} ${available} PARENT_SCOPE)
endfunction()
