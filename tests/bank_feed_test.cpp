// The bank feed's matching service on its stores (both backends): notices matched to pending
// deposits, duplicates, admins' picks, notices before requests, and races between processes.
#include "tools/bank_feed.h"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "db/bank_notification_repository.h"
#include "db/deposit_repository.h"
#include "db/user_repository.h"
#include "tests/fakes/ledger_builder.h"

using namespace depositbot;
using namespace depositbot::testing;
using Outcome = BankFeedResult::Outcome;

namespace {

const Currency kKrw{"KRW", 0};
constexpr int64_t kAdminId = 900;

// One process's view of the books: its own connection and stores.
struct Feed {
  explicit Feed(Database& db, const Clock& clock)
      : deposits(db, clock),
        notices(db, clock),
        users(db, clock),
        feed(deposits, notices, users, clock, BankFeed::Options{kKrw}) {}
  DepositRepository deposits;
  BankNotificationRepository notices;
  UserRepository users;
  BankFeed feed;
};

BankNotice Notice(int64_t amount, std::string name, std::string reference,
                  Currency currency = kKrw) {
  BankNotice n;
  n.amount = amount;
  n.currency = std::move(currency);
  n.depositor_name = std::move(name);
  n.reference = std::move(reference);
  n.body = "{}";
  return n;
}

const ToolContext kAdmin{0, kAdminId, "Admin", true};

struct Books {
  TestDb t{TestDb::kFile};
  LedgerBuilder builder{t.db(), t.clock()};
  Feed f{t.db(), t.clock()};

  int64_t Balance(int64_t user) { return f.deposits.GetAccount(user)->balance; }
  DepositTransaction Tx(int64_t id) { return *f.deposits.GetTransaction(id); }
  // deposit_transactions.decided_via of `id` ("" when NULL).
  std::string DecidedVia(int64_t id) {
    return JoinedRows(t.db(),
                      "SELECT COALESCE(decided_via, '') AS x FROM deposit_transactions "
                      "WHERE id = " +
                          std::to_string(id));
  }
  std::string Ledger() {
    return JoinedRows(t.db(),
                      "SELECT id || ':' || status || ':' || COALESCE(reference, '') AS x FROM "
                      "deposit_transactions");
  }
  void ExpectBooksClean() {
    auto books = CheckBooks(t.db());
    CAPTURE(books.Describe());
    CHECK(books.ok());
  }
};

}  // namespace

TEST_CASE("a notice matching one pending deposit confirms it as the bank feed, notice matched") {
  Books b;
  auto minji = b.builder.User(1001, "Minji").Pending(30000, "KIM MINJI").Build();
  b.builder.User(1002, "Other").Pending(30000, "LEE SUA").Pending(50000, "KIM MINJI").Build();
  auto r = b.f.feed.Receive(Notice(30000, "Kim Min-Ji", "B-1"));
  REQUIRE(r);
  CHECK(r->outcome == Outcome::kMatched);
  CHECK(r->transaction_id == minji.pending[0]);
  CHECK(b.Balance(minji.id) == 30000);
  auto tx = b.Tx(minji.pending[0]);
  CHECK(tx.status == TransactionStatus::kConfirmed);
  CHECK(b.DecidedVia(minji.pending[0]) == "bank-feed");
  CHECK_FALSE(tx.decided_by.has_value());
  CHECK(tx.reference == "bank:B-1");
  auto n = b.f.notices.Get(r->notification_id);
  REQUIRE(n);
  CHECK(n->state == BankNotification::State::kMatched);
  CHECK(n->transaction_id == minji.pending[0]);
  // The user and the admins are told: a decided deposit, not decided by a person.
  REQUIRE(r->ui.size() == 1);
  auto* decided = std::get_if<DepositDecidedUi>(&r->ui[0]);
  REQUIRE(decided);
  CHECK(decided->decided_via == "bank-feed");
  CHECK(decided->admin_telegram_id == 0);
  CHECK(decided->user_telegram_id == 1001);
  b.ExpectBooksClean();
}

TEST_CASE("the same reference twice is a no-op, also with other details (which are reported)") {
  Books b;
  auto minji =
      b.builder.User(1001, "Minji").Pending(30000, "KIM MINJI").Pending(40000, "KIM MINJI").Build();
  REQUIRE(b.f.feed.Receive(Notice(30000, "KIM MINJI", "B-1"))->outcome == Outcome::kMatched);
  const std::string ledger = b.Ledger();
  auto again = b.f.feed.Receive(Notice(30000, "KIM MINJI", "B-1"));
  REQUIRE(again);
  CHECK(again->outcome == Outcome::kDuplicate);
  CHECK(again->ui.empty());
  // Reused for another transfer that would match the second deposit: still nothing.
  auto reused = b.f.feed.Receive(Notice(40000, "KIM MINJI", "B-1"));
  REQUIRE(reused);
  CHECK(reused->outcome == Outcome::kDuplicate);
  CHECK(reused->reason.find("already used") != std::string::npos);
  REQUIRE(reused->ui.size() == 1);
  CHECK_FALSE(std::get<BankNoticeUi>(reused->ui[0]).decidable);
  CHECK(b.Ledger() == ledger);
  CHECK(b.Balance(minji.id) == 30000);
  // And after a restart: a new service on a new connection.
  auto other = b.t.OpenAnother();
  Feed restarted(*other, b.t.clock());
  CHECK(restarted.feed.Receive(Notice(30000, "KIM MINJI", "B-1"))->outcome == Outcome::kDuplicate);
  CHECK(b.Ledger() == ledger);
}

TEST_CASE("two processes receiving the same notice at once confirm the deposit once") {
  Books b;
  auto minji = b.builder.User(1001, "Minji").Pending(30000, "KIM MINJI").Build();
  for (int round = 0; round < 10; ++round) {
    auto pending = b.f.deposits.RequestDeposit(minji.id, 1000 + round, "KIM MINJI");
    REQUIRE(pending);
    auto db1 = b.t.OpenAnother();
    auto db2 = b.t.OpenAnother();
    Feed one(*db1, b.t.clock()), two(*db2, b.t.clock());
    std::atomic<int> ready{0};
    Result<BankFeedResult> r1 = Error::Internal(""), r2 = Error::Internal("");
    auto run = [&](Feed& f, Result<BankFeedResult>& out) {
      ++ready;
      while (ready < 2) std::this_thread::yield();
      out = f.feed.Receive(Notice(1000 + round, "KIM MINJI", "R-" + std::to_string(round)));
    };
    std::thread a(run, std::ref(one), std::ref(r1)), c(run, std::ref(two), std::ref(r2));
    a.join();
    c.join();
    REQUIRE(r1);
    REQUIRE(r2);
    CAPTURE(round);
    // One recorded and matched it, the other found it recorded.
    CHECK(((r1->outcome == Outcome::kDuplicate) != (r2->outcome == Outcome::kDuplicate)));
    CHECK(b.Tx(pending->id).status == TransactionStatus::kConfirmed);
    CHECK(QueryInt(b.t.db(), "SELECT COUNT(*) FROM bank_notifications WHERE reference = 'R-" +
                                 std::to_string(round) + "'") == 1);
  }
  CHECK(b.Balance(minji.id) == 10 * 1000 + 45);
  b.ExpectBooksClean();
}

TEST_CASE("several matching deposits go to the admins; a pick confirms the chosen one only") {
  Books b;
  auto one = b.builder.User(1001, "Minji").Pending(30000, "KIM MINJI").Build();
  auto two = b.builder.User(1002, "Minji Two").Pending(30000, "kim minji").Build();
  auto r = b.f.feed.Receive(Notice(30000, "KIM MINJI", "B-2"));
  REQUIRE(r);
  CHECK(r->outcome == Outcome::kNeedsAdmin);
  CHECK(r->state == "ambiguous");
  REQUIRE(r->ui.size() == 1);
  const auto& offer = std::get<BankNoticeUi>(r->ui[0]);
  REQUIRE(offer.candidates.size() == 2);
  CHECK(offer.candidates[0].transaction_id == one.pending[0]);
  CHECK(offer.candidates[1].transaction_id == two.pending[0]);
  CHECK(offer.decidable);
  CHECK(b.Balance(one.id) == 0);
  CHECK(b.Balance(two.id) == 0);

  // A non-admin's press changes nothing.
  ToolContext bob{0, 1002, "Bob", false};
  auto refused = b.f.feed.Pick(bob, r->notification_id, two.pending[0]);
  CHECK_FALSE(refused.ok);
  CHECK(refused.code == ErrorCode::kForbidden);

  auto picked = b.f.feed.Pick(kAdmin, r->notification_id, two.pending[0]);
  REQUIRE(picked.ok);
  CHECK(picked.reply.find("#" + std::to_string(two.pending[0])) != std::string::npos);
  CHECK(b.Balance(two.id) == 30000);
  CHECK(b.Balance(one.id) == 0);
  auto tx = b.Tx(two.pending[0]);
  CHECK(tx.decided_by == kAdminId);
  CHECK(b.DecidedVia(two.pending[0]) == "bank-feed");
  CHECK(tx.reference == "bank:B-2");
  REQUIRE(picked.ui);
  const auto& decided = std::get<BankNoticeDecidedUi>(*picked.ui);
  CHECK(decided.state == "matched");
  REQUIRE(decided.deposit);
  CHECK(decided.deposit->user_telegram_id == 1002);

  // Another admin pressing the other candidate afterwards: nothing changes, and says why.
  const std::string ledger = b.Ledger();
  auto late =
      b.f.feed.Pick(ToolContext{0, 901, "Admin Two", true}, r->notification_id, one.pending[0]);
  CHECK_FALSE(late.ok);
  CHECK(late.code == ErrorCode::kFailedPrecondition);
  CHECK(late.reply.find("already matched") != std::string::npos);
  auto ignore_late = b.f.feed.Ignore(kAdmin, r->notification_id);
  CHECK_FALSE(ignore_late.ok);
  CHECK(b.Ledger() == ledger);
  CHECK(b.Tx(one.pending[0]).status == TransactionStatus::kPending);
  b.ExpectBooksClean();
}

TEST_CASE("a pick of a deposit no longer pending, or of another amount, changes nothing") {
  Books b;
  auto one = b.builder.User(1001, "Minji").Pending(30000, "KIM MINJI").Build();
  auto two =
      b.builder.User(1002, "Two").Pending(30000, "KIM MINJI").Pending(5000, "KIM MINJI").Build();
  auto r = b.f.feed.Receive(Notice(30000, "KIM MINJI", "B-3"));
  REQUIRE(r->state == "ambiguous");
  REQUIRE(b.f.deposits.Cancel(one.pending[0], one.id));
  auto cancelled = b.f.feed.Pick(kAdmin, r->notification_id, one.pending[0]);
  CHECK_FALSE(cancelled.ok);
  CHECK(cancelled.reply.find("cancelled") != std::string::npos);
  CHECK(cancelled.buttons_stay);  // the other candidate may still be picked
  auto wrong_amount = b.f.feed.Pick(kAdmin, r->notification_id, two.pending[1]);
  CHECK_FALSE(wrong_amount.ok);
  CHECK(b.Balance(two.id) == 0);
  CHECK(b.f.notices.Get(r->notification_id)->state == BankNotification::State::kAmbiguous);
  // Still decidable: the remaining candidate.
  CHECK(b.f.feed.Pick(kAdmin, r->notification_id, two.pending[0]).ok);
  CHECK(b.Balance(two.id) == 30000);
}

TEST_CASE("a notice before the request is kept and matched when the request comes") {
  Books b;
  auto minji = b.builder.User(1001, "Minji").Build();
  auto r = b.f.feed.Receive(Notice(30000, "김민지", "B-4"));
  REQUIRE(r);
  CHECK(r->outcome == Outcome::kNeedsAdmin);
  CHECK(r->state == "unmatched");
  REQUIRE(r->ui.size() == 1);  // the admins know it came
  auto req = b.f.deposits.RequestDeposit(minji.id, 30000, "김민지");
  REQUIRE(req);
  auto match = b.f.feed.MatchRequested(*req);
  REQUIRE(match);
  REQUIRE(match->has_value());
  CHECK((*match)->first.status == TransactionStatus::kConfirmed);
  const auto& decided = std::get<BankNoticeDecidedUi>((*match)->second);
  CHECK_FALSE(decided.tell_user);  // the user is answered in their chat
  CHECK(b.Balance(minji.id) == 30000);
  // A second request of the same amount and name finds nothing left.
  auto second = b.f.deposits.RequestDeposit(minji.id, 30000, "김민지");
  REQUIRE(second);
  auto none = b.f.feed.MatchRequested(*second);
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
  CHECK(b.Balance(minji.id) == 30000);
  b.ExpectBooksClean();
}

TEST_CASE("ignored and ambiguous notices are never matched automatically later") {
  Books b;
  auto minji = b.builder.User(1001, "Minji").Build();
  auto r = b.f.feed.Receive(Notice(30000, "KIM MINJI", "B-5"));
  REQUIRE(b.f.feed.Ignore(kAdmin, r->notification_id).ok);
  auto req = b.f.deposits.RequestDeposit(minji.id, 30000, "KIM MINJI");
  CHECK_FALSE(b.f.feed.MatchRequested(*req)->has_value());
  CHECK(b.f.feed.Sweep()->empty());
  CHECK(b.Balance(minji.id) == 0);

  auto two = b.builder.User(1002, "Two").Pending(7000, "PARK").Build();
  auto three = b.builder.User(1003, "Three").Pending(7000, "PARK").Build();
  auto amb = b.f.feed.Receive(Notice(7000, "PARK", "B-6"));
  REQUIRE(amb->state == "ambiguous");
  REQUIRE(b.f.deposits.Cancel(three.pending[0], three.id));  // one candidate left now
  CHECK(b.f.feed.Sweep()->empty());
  CHECK(b.Balance(two.id) == 0);
}

TEST_CASE("a notice in another currency is recorded, goes to the admins and never matches") {
  Books b;
  auto minji = b.builder.User(1001, "Minji").Pending(30000, "KIM MINJI").Build();
  auto r = b.f.feed.Receive(Notice(30000, "KIM MINJI", "B-7", Currency{"JPY", 0}));
  REQUIRE(r);
  CHECK(r->outcome == Outcome::kNeedsAdmin);
  CHECK(r->reason.find("currency differs") != std::string::npos);
  REQUIRE(r->ui.size() == 1);
  CHECK(std::get<BankNoticeUi>(r->ui[0]).candidates.empty());
  CHECK(b.f.feed.Sweep()->empty());
  auto pick = b.f.feed.Pick(kAdmin, r->notification_id, minji.pending[0]);
  CHECK_FALSE(pick.ok);
  CHECK(b.Balance(minji.id) == 0);
}

TEST_CASE("a notice for a deposit the user cancelled meanwhile confirms nothing") {
  Books b;
  auto minji = b.builder.User(1001, "Minji").Pending(30000, "KIM MINJI").Build();
  REQUIRE(b.f.deposits.Cancel(minji.pending[0], minji.id));
  auto r = b.f.feed.Receive(Notice(30000, "KIM MINJI", "B-8"));
  REQUIRE(r);
  CHECK(r->outcome == Outcome::kNeedsAdmin);
  CHECK(r->state == "unmatched");
  CHECK(b.Balance(minji.id) == 0);
  CHECK(b.Tx(minji.pending[0]).status == TransactionStatus::kCancelled);
}

// READ COMMITTED on PostgreSQL: a notice and its request committed at the same moment in two
// processes must not each miss the other (the matching lock, and each side's row committed
// before it looks for the other's).
TEST_CASE("a notice and its request at the same moment in two processes are matched") {
  Books b;
  auto minji = b.builder.User(1001, "Minji").Build();
  auto db1 = b.t.OpenAnother();
  auto db2 = b.t.OpenAnother();
  Feed bank(*db1, b.t.clock()), chat(*db2, b.t.clock());
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    const int64_t amount = 100 + round;
    std::atomic<int> ready{0};
    std::thread notice([&] {
      ++ready;
      while (ready < 2) std::this_thread::yield();
      CHECK(bank.feed.Receive(Notice(amount, "KIM MINJI", "RACE-" + std::to_string(round))));
    });
    std::thread request([&] {
      ++ready;
      while (ready < 2) std::this_thread::yield();
      auto req = chat.deposits.RequestDeposit(minji.id, amount, "KIM MINJI");
      CHECK(req);
      if (req) CHECK(chat.feed.MatchRequested(*req));
    });
    notice.join();
    request.join();
  }
  // Every request confirmed without the sweep's help.
  CHECK(QueryInt(b.t.db(), "SELECT COUNT(*) FROM deposit_transactions WHERE status = 'pending'") ==
        0);
  CHECK(QueryInt(b.t.db(), "SELECT COUNT(*) FROM bank_notifications WHERE state = 'matched'") ==
        kRounds);
  b.ExpectBooksClean();
}

TEST_CASE("the sweep matches a notice a request missed, and marks a doubtful one ambiguous") {
  Books b;
  // As if the notice was recorded while its request's match failed.
  auto minji = b.builder.User(1001, "Minji").Build();
  REQUIRE(b.f.feed.Receive(Notice(30000, "KIM MINJI", "B-9")));
  auto req = b.f.deposits.RequestDeposit(minji.id, 30000, "KIM MINJI");
  REQUIRE(req);
  auto swept = b.f.feed.Sweep();
  REQUIRE(swept);
  REQUIRE(swept->size() == 1);
  CHECK(std::get<BankNoticeDecidedUi>(swept->at(0)).state == "matched");
  CHECK(b.Balance(minji.id) == 30000);

  auto two = b.builder.User(1002, "Two").Build();
  REQUIRE(b.f.feed.Receive(Notice(500, "PARK", "B-10")));
  REQUIRE(b.f.deposits.RequestDeposit(two.id, 500, "PARK"));
  REQUIRE(b.f.deposits.RequestDeposit(two.id, 500, "PARK"));
  swept = b.f.feed.Sweep();
  REQUIRE(swept);
  REQUIRE(swept->size() == 1);
  CHECK(std::get<BankNoticeUi>(swept->at(0)).candidates.size() == 2);
  CHECK(b.Balance(two.id) == 0);
}

TEST_CASE("the store records a reference once and changes a notice's state only from an open one") {
  Books b;
  BankNotification n;
  n.reference = "S-1";
  n.amount = 500;
  n.currency = "KRW";
  n.depositor_name = "PARK";
  n.depositor_key = "park";
  n.received_at = 1;
  n.body = "{}";
  auto first = b.f.notices.Record(n);
  REQUIRE(first);
  CHECK(first->second);
  CHECK(first->first.state == BankNotification::State::kUnmatched);
  CHECK(first->first.recorded_at == b.t.clock().NowSeconds());
  n.amount = 999;  // the same reference with other details: the first row stands
  auto again = b.f.notices.Record(n);
  REQUIRE(again);
  CHECK_FALSE(again->second);
  CHECK(again->first.id == first->first.id);
  CHECK(again->first.amount == 500);
  const int64_t id = first->first.id;
  REQUIRE(b.f.notices.MarkAmbiguous(id));
  auto twice = b.f.notices.MarkAmbiguous(id);
  CHECK_FALSE(twice);
  CHECK(twice.code() == ErrorCode::kFailedPrecondition);
  REQUIRE(b.f.notices.SaveMessage(id, 900, 11));
  REQUIRE(b.f.notices.SaveMessage(id, 901, 12));
  REQUIRE(b.f.notices.SaveMessage(id, 900, 13));  // a later message to the same admin replaces it
  auto messages = b.f.notices.Messages(id);
  REQUIRE(messages);
  CHECK(*messages == std::vector<std::pair<int64_t, int64_t>>{{900, 13}, {901, 12}});
  auto ignored = b.f.notices.Ignore(id, kAdminId);
  REQUIRE(ignored);
  CHECK(ignored->state == BankNotification::State::kIgnored);
  CHECK(ignored->decided_by == kAdminId);
  auto late = b.f.notices.Ignore(id, kAdminId);
  REQUIRE_FALSE(late);
  CHECK(late.error().message.find("already ignored") != std::string::npos);
  auto open = b.f.notices.Unmatched("KRW", std::nullopt, 10);
  REQUIRE(open);
  CHECK(open->empty());
}

TEST_CASE("a confirm whose notice was decided meanwhile rolls back: no credit, deposit pending") {
  Books b;
  auto minji = b.builder.User(1001, "Minji").Pending(500, "PARK").Build();
  BankNotification n;
  n.reference = "S-2";
  n.amount = 500;
  n.currency = "KRW";
  n.depositor_name = "PARK";
  n.depositor_key = "park";
  n.body = "{}";
  auto rec = b.f.notices.Record(n);
  REQUIRE(rec);
  REQUIRE(b.f.notices.Ignore(rec->first.id, kAdminId));
  auto confirmed = b.f.deposits.ConfirmFromBank(
      minji.pending[0], "S-2", std::nullopt, [&](StoreTransaction& tx) {
        return b.f.notices.MarkMatchedIn(tx, rec->first.id, minji.pending[0], std::nullopt);
      });
  REQUIRE_FALSE(confirmed);
  CHECK(confirmed.error().code == ErrorCode::kFailedPrecondition);
  CHECK(b.Balance(minji.id) == 0);
  CHECK(b.Tx(minji.pending[0]).status == TransactionStatus::kPending);
  CHECK_FALSE(b.Tx(minji.pending[0]).reference.has_value());
  b.ExpectBooksClean();
}
