// ledger_worker DB_PATH|URI WORKER SEED OPS USER_ID,USER_ID,...
// One process of the multi-process ledger tests: opens its own connection to an
// already migrated database, waits until stdin reaches EOF (the parent's start
// gate), runs the random workload and prints one line per operation, then a
// "# stats" line. Exit 0 unless set-up failed.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>

#include "tests/fakes/ledger_builder.h"

using namespace depositbot;

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: ledger_worker DB_PATH|URI WORKER SEED OPS USER_IDS\n");
    return 2;
  }
  testing::WorkloadOptions options;
  options.worker = std::atoi(argv[2]);
  options.seed = std::strtoull(argv[3], nullptr, 10);
  options.ops = std::atoi(argv[4]);
  std::stringstream ids(argv[5]);
  for (std::string id; std::getline(ids, id, ',');) options.user_ids.push_back(std::stoll(id));

  auto db = Database::Open(argv[1]);
  if (!db) {
    std::fprintf(stderr, "ledger_worker: %s\n", db.error().message.c_str());
    return 2;
  }
  SystemClock clock;
  DepositRepository repo(**db, clock);
  char buf[64];
  while (std::fread(buf, 1, sizeof buf, stdin) > 0) {
  }
  for (const auto& op : testing::RunWorkload(repo, options)) std::cout << op.ToLine() << "\n";
  auto s = repo.stats();
  std::cout << "# stats " << s.applied << " " << s.conflicts << " " << s.retries << " "
            << s.conflict_failures << "\n";
  return 0;
}
