#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "common/lease_owner.h"
#include "db/alert_outbox.h"
#include "db/order_repository.h"
#include "tests/fakes/ledger_builder.h"
#include "tests/fakes/scripted_registrar.h"
#include "tools/purchase_service.h"

using namespace depositbot;
using namespace depositbot::testing;
using Outcome = ScriptedRegistrar::CreateOutcome;
using State = DomainOrder::State;

namespace {

// The lease owner of a purchase whose process has died on this host (a crash).
std::string DeadOwner() {
  pid_t child = fork();
  if (child == 0) _exit(0);
  int status = 0;
  waitpid(child, &status, 0);  // reaped: the pid names no process now
  std::string owner = NewLeaseOwner();
  auto first = owner.find(':');
  auto second = owner.find(':', first + 1);
  return owner.substr(0, first + 1) + std::to_string(child) + owner.substr(second);
}

PurchaseOptions WithAlerts(AlertOutbox& alerts) {
  PurchaseOptions o;
  o.alerts = &alerts;
  return o;
}

struct Shop {
  TestDb t{TestDb::kFile};
  DepositRepository deposits{t.db(), t.clock()};
  OrderRepository orders{t.db(), t.clock()};
  ScriptedRegistrar registrar{t.clock()};
  AlertOutbox alerts{t.db(), t.clock()};
  PurchaseService purchases{deposits,          orders,           registrar,
                            t.clock(),         PricingOptions{}, DomainNameRules{},
                            WithAlerts(alerts)};
  LedgerBuilder builder{t.db(), t.clock()};

  int64_t UserWith(int64_t tg, int64_t balance) {
    return builder.User(tg, "user" + std::to_string(tg)).Balance(balance).Build().id;
  }
  int64_t Balance(int64_t user) { return deposits.GetAccount(user)->balance; }
  State StateOf(int64_t order) { return orders.Get(order)->state; }
  void ExpectBooksClean() {
    auto books = CheckBooks(t.db());
    CAPTURE(books.Describe());
    CHECK(books.ok());
  }
  // The state a crash after the debit leaves: debit and quoted->charged committed
  // under `owner`'s lease; `create_sent` when the registrar create had been sent.
  void ChargeAsCrashed(int64_t user, const DomainOrder& q, const std::string& owner,
                       bool create_sent) {
    int64_t expires = t.clock().NowSeconds() + PurchaseOptions{}.lease_seconds;
    REQUIRE(deposits.Purchase(
        user, q.price, OrderReference(q.id), q.domain,
        [&](StoreTransaction& tx) { return orders.MarkChargedIn(tx, q.id, owner, expires); }));
    if (create_sent) REQUIRE(orders.MarkCreateSent(q.id, owner, expires));
  }
  int Alerts(const std::string& key) {
    auto lock = t.db().Lock();  // statements run in a Session (PostgreSQL has no other)
    auto q = t.db().Prepare("SELECT COUNT(*) FROM admin_alerts WHERE alert_key = ?");
    q->Bind(1, std::string_view(key));
    REQUIRE(*q->Step());
    return static_cast<int>(q->ColumnInt(0));
  }
  int CountRows(const std::string& type, int64_t user) {
    int n = 0;
    auto history = deposits.History(user, 100);
    REQUIRE(history);
    for (const auto& tx : *history) n += ToString(tx.type) == type;
    return n;
  }
};

// Another process on the same file: its own connection, repositories and service.
struct OtherProcess {
  explicit OtherProcess(Shop& s)
      : db(s.t.OpenAnother()),
        deposits(*db, s.t.clock()),
        orders(*db, s.t.clock()),
        purchases(deposits, orders, s.registrar, s.t.clock(), PricingOptions{}) {}
  std::unique_ptr<Database> db;
  DepositRepository deposits;
  OrderRepository orders;
  PurchaseService purchases;
};

}  // namespace

TEST_CASE("a quote prices a free name and charges nothing") {
  Shop s;
  int64_t u = s.UserWith(1, 5000);
  auto q = s.purchases.Quote(u, "CoolName.com", 1);
  REQUIRE(q);
  CHECK(q->domain == "coolname.com");
  CHECK(q->price == 1028);  // demo .com 10.28 USD at rate 1, no markup
  CHECK(q->state == State::kQuoted);
  CHECK(s.Balance(u) == 5000);
  CHECK(s.registrar.creates() == 0);
}

TEST_CASE("quotes for taken, invalid or unsupported names are refused before any create") {
  Shop s;
  int64_t u = s.UserWith(1, 5000);
  CHECK(s.purchases.Quote(u, "example.com", 1).code() == ErrorCode::kFailedPrecondition);
  CHECK(s.purchases.Quote(u, "bad_name.com", 1).code() == ErrorCode::kInvalid);
  CHECK(s.purchases.Quote(u, "name.notatld", 1).code() == ErrorCode::kInvalid);
  CHECK(s.purchases.Quote(u, "раypal.com", 1).code() == ErrorCode::kInvalid);  // mixed scripts
  CHECK(s.purchases.Quote(u, "www.coolname.com", 1).code() == ErrorCode::kInvalid);
  CHECK(s.purchases.Quote(u, std::string(250, 'a') + ".com", 1).code() == ErrorCode::kInvalid);
  CHECK(s.purchases.Quote(u, "coolname.com", 0).code() == ErrorCode::kInvalid);
  CHECK(s.registrar.creates() == 0);
}

TEST_CASE("confirming a quote with enough balance debits once and registers") {
  Shop s;
  int64_t u = s.UserWith(1, 5000);
  auto q = s.purchases.Quote(u, "coolname.com", 1);
  auto r = s.purchases.Confirm(u, q->id);
  REQUIRE(r);
  CHECK(r->order.state == State::kRegistered);
  CHECK(s.Balance(u) == 5000 - 1028);
  CHECK(s.CountRows("purchase", u) == 1);
  CHECK(r->message.find("registered") != std::string::npos);
  s.ExpectBooksClean();
}

TEST_CASE("too little balance refuses the purchase and leaves the quote open") {
  Shop s;
  int64_t u = s.UserWith(1, 1000);
  auto q = s.purchases.Quote(u, "coolname.com", 1);
  auto r = s.purchases.Confirm(u, q->id);
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kInsufficientFunds);
  CHECK(r.error().message.find("10.28 USD") != std::string::npos);
  CHECK(r.error().message.find("10.00 USD") != std::string::npos);
  CHECK(s.StateOf(q->id) == State::kQuoted);
  CHECK(s.Balance(u) == 1000);
  CHECK(s.registrar.creates() == 0);
}

TEST_CASE("confirming the same quote twice charges once") {
  Shop s;
  int64_t u = s.UserWith(1, 5000);
  auto q = s.purchases.Quote(u, "coolname.com", 1);
  REQUIRE(s.purchases.Confirm(u, q->id));
  auto again = s.purchases.Confirm(u, q->id);
  REQUIRE_FALSE(again);
  CHECK(again.code() == ErrorCode::kFailedPrecondition);
  CHECK(again.error().message.find("already registered") != std::string::npos);
  CHECK(s.Balance(u) == 5000 - 1028);
  CHECK(s.registrar.creates() == 1);
}

TEST_CASE("someone else's quote cannot be confirmed or cancelled") {
  Shop s;
  int64_t alice = s.UserWith(1, 5000);
  int64_t bob = s.UserWith(2, 5000);
  auto q = s.purchases.Quote(alice, "coolname.com", 1);
  CHECK(s.purchases.Confirm(bob, q->id).code() == ErrorCode::kForbidden);
  CHECK(s.purchases.Cancel(bob, q->id).code() == ErrorCode::kForbidden);
  CHECK(s.Balance(bob) == 5000);
  CHECK(s.StateOf(q->id) == State::kQuoted);
}

TEST_CASE("an expired quote is refused and marked expired") {
  Shop s;
  int64_t u = s.UserWith(1, 5000);
  auto q = s.purchases.Quote(u, "coolname.com", 1);
  s.t.clock().Advance((PricingOptions{}.quote_ttl_seconds + 1) * 1000);
  auto r = s.purchases.Confirm(u, q->id);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("expired") != std::string::npos);
  CHECK(s.StateOf(q->id) == State::kExpired);
  CHECK(s.Balance(u) == 5000);
}

TEST_CASE("a cancelled quote cannot be confirmed") {
  Shop s;
  int64_t u = s.UserWith(1, 5000);
  auto q = s.purchases.Quote(u, "coolname.com", 1);
  REQUIRE(s.purchases.Cancel(u, q->id));
  CHECK(s.purchases.Confirm(u, q->id).code() == ErrorCode::kFailedPrecondition);
  CHECK(s.Balance(u) == 5000);
}

TEST_CASE("a definite registrar failure refunds once and marks the order refunded") {
  Shop s;
  int64_t u = s.UserWith(1, 5000);
  s.registrar.SetCreateOutcome(Outcome::kRefuse);
  auto q = s.purchases.Quote(u, "coolname.com", 1);
  auto r = s.purchases.Confirm(u, q->id);
  REQUIRE(r);
  CHECK(r->order.state == State::kRefunded);
  CHECK(r->order.refund_transaction_id.has_value());
  CHECK(r->message.find("back to your balance") != std::string::npos);
  CHECK(s.Balance(u) == 5000);
  CHECK(s.CountRows("purchase", u) == 1);
  CHECK(s.CountRows("refund", u) == 1);
  // Recovery finds nothing to do, and a second refund is impossible.
  auto rep = s.purchases.Recover(0);
  CHECK(rep->checked == 0);
  CHECK(s.deposits.Refund(*r->order.purchase_transaction_id, "again").code() ==
        ErrorCode::kFailedPrecondition);
  s.ExpectBooksClean();
}

TEST_CASE("a timeout leaves the order unknown; recovery completes it when it was registered") {
  Shop s;
  int64_t u = s.UserWith(1, 5000);
  s.registrar.SetCreateOutcome(Outcome::kTimeoutAfterRegistering);
  auto q = s.purchases.Quote(u, "coolname.com", 1);
  auto r = s.purchases.Confirm(u, q->id);
  REQUIRE(r);
  CHECK(r->order.state == State::kUnknown);
  CHECK(s.Balance(u) == 5000 - 1028);
  auto rep = s.purchases.Recover(0);
  REQUIRE(rep);
  CHECK(rep->registered == 1);
  CHECK(rep->refunded == 0);
  CHECK(s.StateOf(q->id) == State::kRegistered);
  CHECK(s.Balance(u) == 5000 - 1028);
  s.ExpectBooksClean();
}

TEST_CASE("a timeout leaves the order unknown; recovery refunds when nothing was registered") {
  Shop s;
  int64_t u = s.UserWith(1, 5000);
  s.registrar.SetCreateOutcome(Outcome::kTimeoutNotRegistered);
  auto q = s.purchases.Quote(u, "coolname.com", 1);
  REQUIRE(s.purchases.Confirm(u, q->id));
  // Right after the create, "not found" may only mean the registrar is slow to list it.
  auto early = s.purchases.Recover(0);
  CHECK(early->still_unknown == 1);
  CHECK(early->refunded == 0);
  CHECK(s.Balance(u) == 5000 - 1028);
  s.t.clock().Advance((PurchaseOptions{}.not_found_grace_seconds + 1) * 1000);
  auto rep = s.purchases.Recover(0);
  CHECK(rep->refunded == 1);
  CHECK(s.StateOf(q->id) == State::kRefunded);
  CHECK(s.Balance(u) == 5000);
  // Running recovery again changes nothing.
  auto again = s.purchases.Recover(0);
  CHECK(again->checked == 0);
  CHECK(s.CountRows("refund", u) == 1);
  s.ExpectBooksClean();
}

TEST_CASE("recovery leaves an order alone while the registrar cannot be asked") {
  Shop s;
  int64_t u = s.UserWith(1, 5000);
  s.registrar.SetCreateOutcome(Outcome::kTimeoutNotRegistered);
  auto q = s.purchases.Quote(u, "coolname.com", 1);
  REQUIRE(s.purchases.Confirm(u, q->id));
  s.registrar.SetInfoUnavailable(true);
  auto rep = s.purchases.Recover(0);
  CHECK(rep->still_unknown == 1);
  CHECK(s.StateOf(q->id) == State::kUnknown);
  CHECK(s.Balance(u) == 5000 - 1028);
  s.registrar.SetInfoUnavailable(false);
  s.t.clock().Advance((PurchaseOptions{}.not_found_grace_seconds + 1) * 1000);
  CHECK(s.purchases.Recover(0)->refunded == 1);
  CHECK(s.Balance(u) == 5000);
}

TEST_CASE("a crash right after the debit leaves a charged order that recovery refunds") {
  Shop s;
  int64_t u = s.UserWith(1, 5000);
  auto q = s.purchases.Quote(u, "coolname.com", 1);
  // Charged by a process on another host that went silent: only its lease's expiry tells.
  s.ChargeAsCrashed(u, *q, "elsewhere:4242:feed", /*create_sent=*/false);
  CHECK(s.StateOf(q->id) == State::kCharged);
  // A fresh charged order is not touched by the periodic run (it may be in flight)...
  CHECK(s.purchases.Recover(300)->checked == 0);
  // ...nor by any run while its lease is live...
  auto live = s.purchases.Recover(0);
  CHECK(live->checked == 0);
  CHECK(live->leased == 1);
  // ...but is once it is old enough and the lease has expired. The create was never
  // sent, so the registrar is not even asked.
  s.t.clock().Advance(301'000);
  auto rep = s.purchases.Recover(300);
  CHECK(rep->refunded == 1);
  CHECK(s.registrar.creates() == 0);
  CHECK(s.Balance(u) == 5000);
  s.ExpectBooksClean();
}

TEST_CASE("a crash after create but before the order update is completed by recovery") {
  Shop s;
  int64_t u = s.UserWith(1, 5000);
  auto q = s.purchases.Quote(u, "coolname.com", 1);
  s.ChargeAsCrashed(u, *q, DeadOwner(), /*create_sent=*/true);
  REQUIRE(s.registrar.Create({"coolname.com", 1, 0}));  // registered, then the crash
  auto rep = s.purchases.Recover(0);
  CHECK(rep->registered == 1);
  CHECK(s.StateOf(q->id) == State::kRegistered);
  CHECK(s.Balance(u) == 5000 - 1028);
}

TEST_CASE("if the debit's transaction fails, the order stays quoted and nothing is charged") {
  Shop s;
  int64_t u = s.UserWith(1, 5000);
  auto q = s.purchases.Quote(u, "coolname.com", 1);
  auto r = s.deposits.Purchase(u, q->price, OrderReference(q->id), "x", [](StoreTransaction&) {
    return Status(Error::Internal("injected"));
  });
  CHECK_FALSE(r);
  CHECK(s.StateOf(q->id) == State::kQuoted);
  CHECK(s.Balance(u) == 5000);
  CHECK(s.CountRows("purchase", u) == 0);
}

TEST_CASE("two users cannot both be charged for the same name") {
  Shop s;
  int64_t alice = s.UserWith(1, 5000);
  int64_t bob = s.UserWith(2, 5000);
  s.registrar.SetCreateOutcome(Outcome::kTimeoutNotRegistered);  // keeps alice's order live
  auto qa = s.purchases.Quote(alice, "coolname.com", 1);
  auto qb = s.purchases.Quote(bob, "coolname.com", 1);
  REQUIRE(s.purchases.Confirm(alice, qa->id));
  auto rb = s.purchases.Confirm(bob, qb->id);
  REQUIRE_FALSE(rb);
  CHECK(rb.error().message.find("another order") != std::string::npos);
  CHECK(s.Balance(bob) == 5000);
  CHECK(s.StateOf(qb->id) == State::kQuoted);
}

TEST_CASE("two quotes the balance pays only one of, confirmed at once: exactly one succeeds") {
  for (int round = 0; round < 5; ++round) {
    Shop s;
    int64_t u = s.UserWith(1, 1500);  // covers one .com (10.28), not two
    auto q1 = s.purchases.Quote(u, "firstname.com", 1);
    auto q2 = s.purchases.Quote(u, "secondname.com", 1);
    // Each thread has its own connection, as two bot processes would.
    OtherProcess second(s);  // a second process
    PurchaseService& purchases2 = second.purchases;
    std::atomic<int> go{0};
    Result<PurchaseOutcome> r1 = Error::Internal("not run"), r2 = Error::Internal("not run");
    std::thread a([&] {
      ++go;
      while (go < 2) {
      }
      r1 = s.purchases.Confirm(u, q1->id);
    });
    std::thread b([&] {
      ++go;
      while (go < 2) {
      }
      r2 = purchases2.Confirm(u, q2->id);
    });
    a.join();
    b.join();
    CHECK(int(r1.ok()) + int(r2.ok()) == 1);
    CHECK(s.Balance(u) == 1500 - 1028);
    CHECK(s.CountRows("purchase", u) == 1);
    s.ExpectBooksClean();
  }
}

TEST_CASE("check_domain offers list availability and prices, and mark invalid names") {
  Shop s;
  auto offers = s.purchases.Check({"example.com", "coolname.net", "bad..name.com", "shop.com"});
  REQUIRE(offers);
  REQUIRE(offers->size() == 4);
  CHECK_FALSE((*offers)[0].available);
  CHECK((*offers)[1].available);
  CHECK((*offers)[1].price == 1248);
  CHECK_FALSE((*offers)[2].valid);
  CHECK((*offers)[3].premium);
  CHECK((*offers)[3].price == 250000);  // 2,500.00 USD premium
}

TEST_CASE("recovery in another process never touches an order whose purchase holds a live lease") {
  // The race found on 791c793: serve's start-up Recover(0) refunded an order while the
  // chat's registrar create was in flight, and the create then registered the name.
  Shop s;
  int64_t u = s.UserWith(1, 5000);
  auto q = s.purchases.Quote(u, "coolname.com", 1);
  s.registrar.HoldCreates();
  Result<PurchaseOutcome> bought = Error::Internal("not run");
  std::thread buyer([&] { bought = s.purchases.Confirm(u, q->id); });
  s.registrar.AwaitHeldCreate();  // charged, create sent, no answer yet

  OtherProcess second(s);  // a second process
  PurchaseService& recoverer = second.purchases;
  auto rep = recoverer.Recover(0);
  REQUIRE(rep);
  CHECK(rep->checked == 0);
  CHECK(rep->leased == 1);
  CHECK(s.StateOf(q->id) == State::kCharged);
  CHECK(s.CountRows("refund", u) == 0);

  s.registrar.ReleaseCreates();
  buyer.join();
  REQUIRE(bought);
  CHECK(bought->order.state == State::kRegistered);
  CHECK(s.Balance(u) == 5000 - 1028);
  CHECK(s.CountRows("refund", u) == 0);
  s.ExpectBooksClean();
}

TEST_CASE("a crashed purchase's lease does not hold recovery up once its process is gone") {
  Shop s;
  int64_t u = s.UserWith(1, 5000);
  auto q = s.purchases.Quote(u, "coolname.com", 1);
  s.ChargeAsCrashed(u, *q, DeadOwner(), /*create_sent=*/false);
  auto rep = s.purchases.Recover(0);
  REQUIRE(rep);
  CHECK(rep->refunded == 1);
  CHECK(rep->leased == 0);
  CHECK(s.registrar.creates() == 0);
  CHECK(s.Balance(u) == 5000);
  s.ExpectBooksClean();
}

TEST_CASE("two recoveries racing for one abandoned order decide it once") {
  for (int round = 0; round < 5; ++round) {
    Shop s;
    int64_t u = s.UserWith(1, 5000);
    auto q = s.purchases.Quote(u, "coolname.com", 1);
    s.ChargeAsCrashed(u, *q, DeadOwner(), /*create_sent=*/true);
    REQUIRE(s.registrar.Create({"coolname.com", 1, 0}));
    OtherProcess second(s);  // a second process
    PurchaseService& other = second.purchases;
    std::atomic<int> go{0};
    Result<RecoveryReport> r1 = Error::Internal("not run"), r2 = Error::Internal("not run");
    std::thread a([&] {
      ++go;
      while (go < 2) {
      }
      r1 = s.purchases.Recover(0);
    });
    std::thread b([&] {
      ++go;
      while (go < 2) {
      }
      r2 = other.Recover(0);
    });
    a.join();
    b.join();
    REQUIRE(r1);
    REQUIRE(r2);
    CHECK(r1->registered + r2->registered == 1);
    CHECK(r1->refunded + r2->refunded == 0);
    CHECK(s.StateOf(q->id) == State::kRegistered);
    s.ExpectBooksClean();
  }
}

TEST_CASE("a registrar that does not list a just-created name yet is asked again, not refunded") {
  Shop s;
  int64_t u = s.UserWith(1, 5000);
  auto q = s.purchases.Quote(u, "coolname.com", 1);
  // Created, then the crash: the registrar's GetInfo does not know the name yet.
  s.ChargeAsCrashed(u, *q, DeadOwner(), /*create_sent=*/true);
  auto first = s.purchases.Recover(0);
  CHECK(first->still_unknown == 1);
  CHECK(first->refunded == 0);
  CHECK(s.Balance(u) == 5000 - 1028);
  // Now the registrar lists it: completed, never refunded.
  REQUIRE(s.registrar.Create({"coolname.com", 1, 0}));
  auto second = s.purchases.Recover(0);
  CHECK(second->registered == 1);
  CHECK(s.StateOf(q->id) == State::kRegistered);
  CHECK(s.CountRows("refund", u) == 0);
  s.ExpectBooksClean();
}

TEST_CASE(
    "a create answer naming another domain is not believed: unknown, and the admins are told") {
  Shop s;
  int64_t u = s.UserWith(1, 5000);
  s.registrar.SetCreateOutcome(Outcome::kSucceedOtherDomain);
  auto q = s.purchases.Quote(u, "coolname.com", 1);
  auto r = s.purchases.Confirm(u, q->id);
  REQUIRE(r);
  CHECK(r->order.state == State::kUnknown);
  CHECK(r->message.find("is registered to you") == std::string::npos);
  CHECK(r->message.find("did not match") != std::string::npos);
  CHECK(s.Alerts("order:" + std::to_string(q->id) + ":create_answer_mismatch") == 1);
  CHECK(r->order.failure->find("c00lname.com") != std::string::npos);
  // Recovery asks about the ordered name itself: not registered, so refunded after the grace.
  s.t.clock().Advance((PurchaseOptions{}.not_found_grace_seconds + 1) * 1000);
  CHECK(s.purchases.Recover(0)->refunded == 1);
  CHECK(s.Balance(u) == 5000);
  s.ExpectBooksClean();
}

TEST_CASE(
    "a create answer charging more than the quote is not believed: unknown, and the admins are "
    "told") {
  Shop s;
  int64_t u = s.UserWith(1, 5000);
  s.registrar.SetCreateOutcome(Outcome::kSucceedOvercharged);
  auto q = s.purchases.Quote(u, "coolname.com", 1);
  auto r = s.purchases.Confirm(u, q->id);
  REQUIRE(r);
  CHECK(r->order.state == State::kUnknown);
  CHECK(r->order.failure->find("charged 2,500.00 USD on a quote of 10.28 USD") !=
        std::string::npos);
  CHECK(s.Alerts("order:" + std::to_string(q->id) + ":create_answer_mismatch") == 1);
  // The registrar does hold the name: recovery completes the order at the quoted price.
  CHECK(s.purchases.Recover(0)->registered == 1);
  CHECK(s.Balance(u) == 5000 - 1028);
  s.ExpectBooksClean();
}

TEST_CASE(
    "a create that succeeds on an order already refunded is recorded and alerted, never dropped") {
  Shop s;
  int64_t u = s.UserWith(1, 5000);
  auto q = s.purchases.Quote(u, "coolname.com", 1);
  s.registrar.HoldCreates();
  Result<PurchaseOutcome> bought = Error::Internal("not run");
  std::thread buyer([&] { bought = s.purchases.Confirm(u, q->id); });
  s.registrar.AwaitHeldCreate();
  // The buyer's process stalls past its lease and the grace period; a recovery elsewhere
  // takes the order over and, the registrar not knowing the name, refunds it.
  s.t.clock().Advance((PurchaseOptions{}.not_found_grace_seconds + 1) * 1000);
  OtherProcess second(s);  // a second process
  PurchaseService& recoverer = second.purchases;
  CHECK(recoverer.Recover(0)->refunded == 1);
  // Then the stalled create lands.
  s.registrar.ReleaseCreates();
  buyer.join();
  REQUIRE(bought);
  CHECK(bought->order.state == State::kRefunded);
  CHECK(bought->order.registrar_order_id.has_value());
  CHECK(bought->order.failure->find("after the refund") != std::string::npos);
  CHECK(bought->message.find("admins") != std::string::npos);
  CHECK(s.Alerts("order:" + std::to_string(q->id) + ":registered_after_refund") == 1);
  CHECK(s.Balance(u) == 5000);
  s.ExpectBooksClean();
}

TEST_CASE("a purchase whose lease was taken over before the create sends no create") {
  Shop s;
  int64_t u = s.UserWith(1, 5000);
  auto q = s.purchases.Quote(u, "coolname.com", 1);
  std::string owner = NewLeaseOwner();
  s.ChargeAsCrashed(u, *q, owner, /*create_sent=*/false);
  // Another execution takes the expired lease; the first may no longer send the create.
  s.t.clock().Advance((PurchaseOptions{}.lease_seconds + 1) * 1000);
  REQUIRE(*s.orders.TakeLease(q->id, NewLeaseOwner(), s.t.clock().NowSeconds() + 60, std::nullopt));
  CHECK(s.orders.MarkCreateSent(q->id, owner, s.t.clock().NowSeconds() + 60).code() ==
        ErrorCode::kFailedPrecondition);
  CHECK(s.orders.MarkRegistered(q->id, owner, "1", "2").code() == ErrorCode::kFailedPrecondition);
  CHECK(s.StateOf(q->id) == State::kCharged);
}

namespace {

// The demo registrar, except that `eap_domain` is in its TLD's early-access phase: free, at the
// regular price, plus an EAP fee (as Namecheap's domains.check reports it).
class EarlyAccessRegistrar final : public Registrar {
 public:
  EarlyAccessRegistrar(const Clock& clock, std::string eap_domain)
      : demo_(clock), eap_domain_(std::move(eap_domain)) {}
  RegistrarResult<std::vector<DomainAvailability>> Check(
      const std::vector<std::string>& d) override {
    auto r = demo_.Check(d);
    if (r) {
      for (auto& a : *r) {
        if (a.domain == eap_domain_) a.eap_fee_usd_micros = 120'000'000;
      }
    }
    return r;
  }
  RegistrarResult<std::vector<TldOffer>> OfferedTlds() override { return demo_.OfferedTlds(); }
  RegistrarResult<PriceQuote> Price(std::string_view tld, int years) override {
    return demo_.Price(tld, years);
  }
  RegistrarResult<CreateResult> Create(const CreateRequest& r) override {
    ++creates;
    return demo_.Create(r);
  }
  RegistrarResult<DomainInfo> GetInfo(std::string_view d) override { return demo_.GetInfo(d); }
  RegistrarResult<std::vector<DomainInfo>> List() override { return demo_.List(); }
  RegistrarResult<AccountBalance> Balance() override { return demo_.Balance(); }
  bool IsDemo() const override { return false; }
  std::string Name() const override { return "early-access"; }

  int creates = 0;

 private:
  DemoRegistrar demo_;
  std::string eap_domain_;
};

}  // namespace

TEST_CASE("a name in its early-access phase is not offered and not quoted, with the reason") {
  TestDb t;
  DepositRepository deposits{t.db(), t.clock()};
  OrderRepository orders{t.db(), t.clock()};
  EarlyAccessRegistrar registrar{t.clock(), "fresh-launch.xyz"};
  PurchaseService purchases{deposits, orders, registrar, t.clock(), PricingOptions{}};
  LedgerBuilder builder{t.db(), t.clock()};
  int64_t u = builder.User(1, "early").Balance(100'000).Build().id;

  auto offers = purchases.Check({"fresh-launch.xyz", "regular-name.xyz"});
  REQUIRE(offers);
  CHECK_FALSE((*offers)[0].available);
  CHECK((*offers)[0].price == 0);
  CHECK((*offers)[0].note.find("early-access phase") != std::string::npos);
  CHECK((*offers)[1].available);
  CHECK((*offers)[1].price == 198);

  auto quote = purchases.Quote(u, "fresh-launch.xyz", 1);
  REQUIRE_FALSE(quote);
  CHECK(quote.code() == ErrorCode::kFailedPrecondition);
  CHECK(quote.error().message.find("early-access phase") != std::string::npos);
  CHECK(QueryInt(t.db(), "SELECT COUNT(*) FROM domain_orders") == 0);
  CHECK(deposits.GetAccount(u)->balance == 100'000);
  CHECK(registrar.creates == 0);
}
