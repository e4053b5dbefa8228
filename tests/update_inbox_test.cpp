// UpdateInbox: the record that makes Telegram updates handled at most once.
#include "db/update_inbox.h"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/lease_owner.h"
#include "db/leader_lock.h"
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
  // Each in a chat of its own: the order within one chat is another test's subject.
  for (int64_t id : {1, 2, 3, 4, 6}) REQUIRE(inbox.Receive(id, 1000 + id, "{}").value());
  REQUIRE(inbox.Start(2).value());
  REQUIRE(inbox.Start(3).value());
  REQUIRE(inbox.Finish(3));
  REQUIRE(inbox.Start(4).value());
  // 1 and 6 received, 2 and 4 started, 3 done.
  t.clock().Advance(kDayMillis);    // day 1: a restart
  REQUIRE(inbox.Recover());         // 2 and 4 -> abandoned; 1 and 6 handed back (still received)
  REQUIRE(inbox.Start(1).value());  // the worker takes 1: started
  t.clock().Advance(kDayMillis);    // day 2: 5 is handled
  REQUIRE(inbox.Receive(5, 1005, "{}").value());
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

TEST_CASE("a restart leaves a started update to a handler that still runs and abandons the rest") {
  // Two serves overlapping during a restart: the new one must not tell a user "interrupted"
  // about an update the old one is finishing (the user would send a deposit request twice).
  TestDb t;
  UpdateInbox running(t.db(), t.clock());  // the serve still running: this very process
  for (int64_t id : {1, 2, 3}) REQUIRE(running.Receive(id, 1001, "{}").value());
  REQUIRE(running.Start(1).value());
  REQUIRE(running.Start(2).value());
  REQUIRE(running.Start(3).value());
  // 2 was started by a serve that has since died on this host; 3 by an older binary.
  pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  std::string live = NewLeaseOwner();
  std::string dead = live.substr(0, live.find(':') + 1) + std::to_string(child) + ":gone";
  REQUIRE(t.db().Exec("UPDATE telegram_updates SET handler = '" + dead + "' WHERE update_id = 2"));
  REQUIRE(t.db().Exec("UPDATE telegram_updates SET handler = NULL WHERE update_id = 3"));

  UpdateInbox restarted(t.db(), t.clock());
  auto rec = restarted.Recover();
  REQUIRE(rec);
  REQUIRE(rec->abandoned.size() == 2);
  CHECK(rec->abandoned[0].update_id == 2);
  CHECK(rec->abandoned[1].update_id == 3);
  CHECK(rec->left_to_live_handler == 1);
  CHECK(Count(t.db(), "update_id = 1 AND state = 'started'") == 1);
  // The live handler finishes it; nothing was told twice.
  REQUIRE(running.Finish(1));
  CHECK(Count(t.db(), "update_id = 1 AND state = 'done'") == 1);

  // A handler that stays silent past the limit (another host that died) is given up on.
  REQUIRE(running.Receive(4, 1001, "{}").value());
  REQUIRE(running.Start(4).value());
  t.clock().Advance((UpdateInbox::kHandlerSilentSeconds + 1) * 1000);
  auto later = restarted.Recover();
  REQUIRE(later);
  REQUIRE(later->abandoned.size() == 1);
  CHECK(later->abandoned[0].update_id == 4);
}

TEST_CASE("a getUpdates batch is recorded in one commit and its repeats are told apart") {
  TestDb t;
  UpdateInbox inbox(t.db(), t.clock());
  REQUIRE(inbox.Receive(2, 1001, "{}").value());
  const int64_t before = Database::CommitsInProcess();
  auto fresh = inbox.ReceiveBatch({{1, 1001, "{}"}, {2, 1001, "{}"}, {3, 1002, "{}"}});
  REQUIRE(fresh);
  CHECK(Database::CommitsInProcess() - before == 1);
  CHECK(*fresh == std::vector<bool>{true, false, true});  // 2 was delivered before
  CHECK(Count(t.db(), "state = 'received'") == 3);
  // The same batch delivered again (the offset was not confirmed): nothing new.
  auto again = inbox.ReceiveBatch({{1, 1001, "{}"}, {2, 1001, "{}"}, {3, 1002, "{}"}});
  REQUIRE(again);
  CHECK(*again == std::vector<bool>{false, false, false});
}

TEST_CASE("a refused update is done and never handled; one already started is left alone") {
  TestDb t;
  UpdateInbox inbox(t.db(), t.clock());
  REQUIRE(inbox.ReceiveBatch({{1, 1001, "{}"}, {2, 1002, "{}"}, {3, 1003, "{}"}}));
  REQUIRE(inbox.Start(2).value());  // another handler took 2 first
  auto marked = inbox.Refuse({1, 2, 3});
  REQUIRE(marked);
  CHECK(*marked == std::vector<int64_t>{1, 3});
  CHECK_FALSE(inbox.Start(1).value());  // refused: no worker may run it now
  auto rec = inbox.Recover();
  REQUIRE(rec);
  CHECK(rec->to_handle.empty());  // and no restart runs it later
  CHECK(Count(t.db(), "state = 'done'") == 2);
}

TEST_CASE("a batch of updates is claimed in one commit; one another handler started is left out") {
  TestDb t;
  UpdateInbox inbox(t.db(), t.clock());
  UpdateInbox other(t.db(), t.clock());  // a second serve on the same database
  REQUIRE(inbox.ReceiveBatch({{1, 1001, "{}"}, {2, 1002, "{}"}, {3, 1003, "{}"}}));
  REQUIRE(other.Start(2).value());
  const int64_t before = Database::CommitsInProcess();
  auto claimed = inbox.StartBatch({1, 2, 3});
  REQUIRE(claimed);
  CHECK(Database::CommitsInProcess() - before == 1);
  CHECK(*claimed == std::vector<int64_t>{1, 3});
  CHECK_FALSE(inbox.Start(1).value());  // claimed once: no second handler may run it
  CHECK(Count(t.db(), "state = 'started'") == 3);
}

TEST_CASE(
    "a chat's update waits while an earlier one is in another handler's hands, then is "
    "handed on once") {
  // Two serve instances behind a load balancer: update 1 of chat 1001 reached `a`, update 2 `b`.
  TestDb t;
  UpdateInbox a(t.db(), t.clock());
  UpdateInbox b(t.db(), t.clock());
  REQUIRE(a.Receive(1, 1001, R"({"n":1})").value());
  REQUIRE(b.Receive(2, 1001, R"({"n":2})").value());
  REQUIRE(b.Receive(3, 1002, R"({"n":3})").value());  // another chat: not held up
  REQUIRE(a.Start(1).value());
  auto claimed = b.StartBatch({2, 3});
  REQUIRE(claimed);
  CHECK(*claimed == std::vector<int64_t>{3});
  CHECK_FALSE(b.Start(2).value());         // still not its turn
  CHECK_FALSE(b.ClaimNext(1001).value());  // nor for b's hand-on
  CHECK(Count(t.db(), "update_id = 2 AND state = 'received'") == 1);
  // An update whose earlier one is started by the same handler is its turn (that handler's
  // dispatcher runs the chat's updates in order).
  REQUIRE(a.Receive(4, 1003, "{}").value());
  REQUIRE(a.Receive(5, 1003, "{}").value());
  CHECK(a.StartBatch({4, 5}).value() == std::vector<int64_t>{4, 5});

  REQUIRE(a.Finish(1));
  auto next = a.ClaimNext(1001);
  REQUIRE(next);
  REQUIRE(next->has_value());
  CHECK((*next)->update_id == 2);
  CHECK((*next)->payload == R"({"n":2})");
  CHECK_FALSE(b.Start(2).value());         // claimed once
  CHECK_FALSE(a.ClaimNext(1001).value());  // nothing more waits in that chat
}

TEST_CASE(
    "an update whose receiver died before claiming it is claimed by the jobs once it is "
    "its turn and old enough") {
  TestDb t;
  UpdateInbox jobs(t.db(), t.clock());
  UpdateInbox dead(t.db(), t.clock());  // received, then its process died before claiming
  REQUIRE(dead.Receive(10, 2001, "{}").value());
  REQUIRE(dead.Receive(11, 2001, "{}").value());
  REQUIRE(dead.Receive(12, 2002, "{}").value());
  REQUIRE(jobs.Receive(13, 2003, "{}").value());
  REQUIRE(jobs.Start(13).value());  // started by a live handler: not stranded
  auto young = jobs.ClaimStranded(5, 10);
  REQUIRE(young);
  CHECK(young->empty());  // its receiver may still claim it: left alone for the grace period
  t.clock().Advance(6000);
  auto taken = jobs.ClaimStranded(5, 10);
  REQUIRE(taken);
  std::vector<int64_t> ids;
  for (const auto& u : *taken) ids.push_back(u.update_id);
  CHECK(ids == std::vector<int64_t>{10, 12});  // 11 waits for 10, in its chat's order
  UpdateInbox third(t.db(), t.clock());
  CHECK(third.ClaimStranded(5, 10).value().empty());  // 10 is in jobs' hands: 11 waits
  REQUIRE(jobs.Finish(10));
  auto next = jobs.ClaimNext(2001);
  REQUIRE(next);
  REQUIRE(next->has_value());
  CHECK((*next)->update_id == 11);
  CHECK(third.ClaimStranded(5, 10).value().empty());  // each claimed once
}

TEST_CASE("a leader lock has one holder at a time and passes on when the holder lets go") {
  TestDb t(TestDb::kFile);
  auto other = t.OpenAnother();  // another instance's connection to the same database
  auto mine = t.db().NewLeaderLock("jobs");
  auto theirs = other->NewLeaderLock("jobs");
  auto poller = other->NewLeaderLock("poller");  // another name: independent
  CHECK(mine->Hold());
  CHECK(mine->Hold());  // still held
  CHECK_FALSE(theirs->Hold());
  CHECK(poller->Hold());
  mine->Release();
  CHECK(theirs->Hold());
  CHECK_FALSE(mine->Hold());
  theirs.reset();  // the holder's process ends: its lock goes with it
  CHECK(mine->Hold());
}
