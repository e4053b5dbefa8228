# Registrar layer: the fake Namecheap server (shared with later suites) and the unit tests.
add_library(fake_namecheap STATIC ${CMAKE_CURRENT_LIST_DIR}/fakes/fake_namecheap_server.cpp)
target_include_directories(fake_namecheap PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(fake_namecheap
  PUBLIC depositbot_registrar depositbot_common PkgConfig::HTTPLIB
  PRIVATE pugixml::pugixml)

depositbot_test(NAME namecheap_client_test SOURCES namecheap_client_test.cpp
                LIBS depositbot_registrar fake_namecheap)
depositbot_test(NAME demo_registrar_test SOURCES demo_registrar_test.cpp
                LIBS depositbot_registrar)
depositbot_test(NAME domain_name_test SOURCES domain_name_test.cpp
                LIBS depositbot_registrar)

# Names as people type them, quoted and bought end to end (demo registrar and fake Namecheap).
if(TARGET depositbot_tools AND TARGET ledger_builder)
  depositbot_test(NAME domain_purchase_test POSTGRES SOURCES domain_purchase_test.cpp
                  LIBS depositbot_tools ledger_builder fake_namecheap Threads::Threads)
endif()
