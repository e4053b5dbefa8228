// UpdateInbox: the record that makes Telegram updates handled at most once.
#include "db/update_inbox.h"

#include <doctest/doctest.h>

#include "tests/fakes/ledger_builder.h"

using namespace depositbot;
using namespace depositbot::testing;

namespace {

constexpr int64_t kDayMillis = 86'400'000;

int64_t Count(Database& db, const std::string& where) {
  return QueryInt(db, "SELECT COUNT(*) FROM telegram_updates WHERE " + where);
}

}  // namespace

TEST_CASE("pruning forgets only updates handled before the cut-off, never unhandled ones") {
  TestDb t;
  UpdateInbox inbox(t.db(), t.clock());
  // Day 0.
  for (int64_t id : {1, 2, 3, 4, 6}) REQUIRE(inbox.Receive(id, 1001, "{}").value());
  REQUIRE(inbox.Start(2).value());
  REQUIRE(inbox.Start(3).value());
  REQUIRE(inbox.Finish(3));
  REQUIRE(inbox.Start(4).value());
  // 1 and 6 received, 2 and 4 started, 3 done.
  t.clock().Advance(kDayMillis);    // day 1: a restart
  REQUIRE(inbox.Recover());         // 2 and 4 -> abandoned; 1 and 6 handed back (still received)
  REQUIRE(inbox.Start(1).value());  // the worker takes 1: started
  t.clock().Advance(kDayMillis);    // day 2: 5 is handled
  REQUIRE(inbox.Receive(5, 1001, "{}").value());
  REQUIRE(inbox.Start(5).value());
  REQUIRE(inbox.Finish(5));

  // Day 8.5 with a 7-day retention: the cut-off is day 1.5.
  t.clock().Advance(6 * kDayMillis + kDayMillis / 2);
  auto pruned = inbox.Prune(t.clock().NowSeconds() - 7 * 86'400);
  REQUIRE(pruned);
  CHECK(*pruned == 3);  // 3 done on day 0, 2 and 4 abandoned on day 1
  CHECK(Count(t.db(), "update_id IN (2, 3, 4)") == 0);
  CHECK(Count(t.db(), "update_id = 1 AND state = 'started'") == 1);   // unfinished: kept
  CHECK(Count(t.db(), "update_id = 6 AND state = 'received'") == 1);  // unhandled: kept
  CHECK(Count(t.db(), "update_id = 5 AND state = 'done'") == 1);      // recent: kept
}

TEST_CASE("a prune that does not reach a handled update keeps its redelivery a repeat") {
  TestDb t;
  UpdateInbox inbox(t.db(), t.clock());
  REQUIRE(inbox.Receive(7, 1001, "{}").value());
  REQUIRE(inbox.Start(7).value());
  REQUIRE(inbox.Finish(7));
  t.clock().Advance(kDayMillis / 2);
  auto pruned = inbox.Prune(t.clock().NowSeconds() - 86'400);  // a one-day retention
  REQUIRE(pruned);
  CHECK(*pruned == 0);
  CHECK_FALSE(inbox.Receive(7, 1001, "{}").value());  // Telegram's redelivery: skipped
  CHECK_FALSE(inbox.Start(7).value());
}
