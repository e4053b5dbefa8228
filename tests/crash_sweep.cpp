#include "tests/crash_sweep.h"

#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "db/database.h"
#include "tests/fakes/fake_namecheap_server.h"
#include "tests/fakes/fake_telegram_server.h"
#include "tests/fakes/ledger_builder.h"
#include "tests/fakes/process_runner.h"
#include "tests/test_helpers.h"

namespace depositbot::testing {
namespace {

using Rng = std::mt19937_64;
using Env = std::map<std::string, std::string>;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr int kFailpointExit = 86;  // kFailpointExitCode, without linking the product
constexpr int64_t kAdmin = 900;
constexpr int kUsers = 3;
constexpr int kRounds = 2;
// The longest a harness wait may take before the run is declared stuck.
constexpr auto kStuck = std::chrono::seconds(60);
// PurchaseOptions::not_found_grace_seconds: a registrar's "not found" within this long after
// the create was sent leaves the order unknown (DESIGN.md money rule 5).
constexpr int64_t kNotFoundGraceSeconds = 900;

const char* const kPoints[] = {"ledger.before_commit", "purchase.after_debit",
                               "purchase.after_create", "turn.before_reply",
                               "update.before_record"};

int Pick(Rng& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
bool Chance(Rng& rng, int percent) { return Pick(rng, 1, 100) <= percent; }

// The run's random source depends on the target too, so every target explores its own plans.
uint64_t MixSeed(uint64_t seed, const std::string& name) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  return h ^ (seed * 0x9E3779B97F4A7C15ull);
}

std::string Tail(const std::string& s, size_t n = 600) {
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

int64_t UserId(int u) { return 1001 + u; }
FakeTelegramUser TelegramUser(int64_t id) {
  if (id == kAdmin) return {kAdmin, "Admin", "", "admin", "en", false};
  return {id, "User" + std::to_string(id), "", "user" + std::to_string(id), "en", false};
}

// What the registrar does with a domains.create (queued on the fake, FIFO: the first
// creates of a session take its faults in order).
enum class CreateFault { kNone, kDefinite, kUnknownNotApplied, kUnknownApplied, kNotRegistered };

const char* FaultName(CreateFault f) {
  switch (f) {
    case CreateFault::kNone:
      return "none";
    case CreateFault::kDefinite:
      return "definite-failure";
    case CreateFault::kUnknownNotApplied:
      return "http-503";
    case CreateFault::kUnknownApplied:
      return "applied-malformed";
    case CreateFault::kNotRegistered:
      return "applied-not-confirmed";
  }
  return "?";
}

FakeNamecheapServer::Fault ToFault(CreateFault f, int variant) {
  using F = FakeNamecheapServer::Fault;
  switch (f) {
    case CreateFault::kDefinite:
      return variant % 2 ? F::ApiError(3019166, "Domain not available")
                         : F::ApiError(2528166, "Order creation failed: insufficient funds");
    case CreateFault::kUnknownNotApplied:
      return F::HttpStatus(503);
    case CreateFault::kUnknownApplied:
      return F::MissingAttribute("ChargedAmount");
    case CreateFault::kNotRegistered:
      return F::NotRegistered();
    case CreateFault::kNone:
      break;
  }
  return F::HttpStatus(503);
}

// The workload, drawn from the seed before anything runs. Ids (deposits, orders) are not
// known in advance: decisions and presses are applied, in id order, to what is pending.
struct Buy {
  std::string domain;
  bool yes = true;  // confirm the quote (else decline / cancel it)
};
struct Decision {
  int what = 1;         // 0 leave pending, 1 confirm, 2 reject
  bool button = false;  // serve: press the admin's button instead of typing the command
};
struct UserRound {
  std::vector<std::string> deposits;  // "/deposit ..." lines
  std::vector<Buy> buys;
  std::vector<CreateFault> faults;  // for this user's creates, in order
  bool cancel_pending = false;      // chat: withdraw one pending deposit
};
struct Round {
  std::vector<UserRound> users;
  std::vector<Decision> decisions;
  bool repeat_confirm = false;  // chat: confirm an already confirmed deposit again
};

std::vector<Round> DrawPlan(Rng& rng, uint64_t seed) {
  std::vector<Round> plan(kRounds);
  std::string tag = std::to_string(seed % 100000);
  static const char* const kLetters[] = {"A", "B", "C", "D", "E", "F", "G", "H"};
  for (int r = 0; r < kRounds; ++r) {
    Round& round = plan[r];
    round.users.resize(kUsers);
    int deposits = 0;
    for (int u = 0; u < kUsers; ++u) {
      UserRound& ur = round.users[u];
      int n = Pick(rng, 1, 2);
      for (int k = 0; k < n; ++k) {
        // A unique depositor name per request: a request handled twice shows as two rows.
        std::string name =
            std::string("SWEEP ") + kLetters[u] + kLetters[r] + kLetters[k] + " " + tag;
        ur.deposits.push_back("/deposit " + std::to_string(Pick(rng, 3, 40)) + "." +
                              std::to_string(Pick(rng, 10, 99)) + " " + name);
      }
      deposits += n;
      int buys = Pick(rng, 1, 3);
      for (int k = 0; k < buys; ++k) {
        Buy b;
        b.domain = "sw" + tag + "r" + std::to_string(r) + "u" + std::to_string(u) + "n" +
                   std::to_string(k) + (Chance(rng, 75) ? ".xyz" : ".com");
        b.yes = Chance(rng, 85);
        ur.buys.push_back(b);
        if (!b.yes) continue;
        int f = Pick(rng, 1, 100);
        CreateFault fault = f <= 45   ? CreateFault::kNone
                            : f <= 65 ? CreateFault::kDefinite
                            : f <= 77 ? CreateFault::kUnknownNotApplied
                            : f <= 89 ? CreateFault::kUnknownApplied
                                      : CreateFault::kNotRegistered;
        if (fault != CreateFault::kNone) ur.faults.push_back(fault);
      }
      ur.cancel_pending = Chance(rng, 30);
    }
    for (int k = 0; k < deposits; ++k) {
      Decision d;
      int w = Pick(rng, 1, 100);
      d.what = w <= 75 ? 1 : w <= 90 ? 2 : 0;
      d.button = Chance(rng, 50);
      round.decisions.push_back(d);
    }
    round.repeat_confirm = Chance(rng, 25);
  }
  return plan;
}

// A lower-bound-ish count of how often `point` fires in one piece of work.
struct HitEstimate {
  int messages = 0;  // turns (chat lines / Telegram messages)
  int updates = 0;   // Telegram updates (messages and button presses)
  int confirms = 0;  // deposit confirmations (a ledger commit each)
  int debits = 0;    // confirmed quotes (a ledger commit, a debit)
  int creates = 0;   // debits the registrar answers cleanly
  int refunds = 0;   // definite failures (a second ledger commit)
  int For(const std::string& point) const {
    if (point == "ledger.before_commit") return confirms + debits + refunds;
    if (point == "purchase.after_debit") return debits;
    if (point == "purchase.after_create") return creates;
    if (point == "turn.before_reply") return messages;
    if (point == "update.before_record") return updates;
    return 0;
  }
};

HitEstimate EstimateBuys(const UserRound& ur) {
  HitEstimate e;
  int yes = 0;
  for (const auto& b : ur.buys) yes += b.yes;
  e.messages = static_cast<int>(ur.buys.size());
  e.updates = 2 * static_cast<int>(ur.buys.size());
  e.debits = yes;
  int faults = static_cast<int>(ur.faults.size());
  e.creates = std::max(0, yes - faults);
  for (auto f : ur.faults) e.refunds += f == CreateFault::kDefinite;
  return e;
}

struct Row {
  std::vector<std::string> cols;
  int64_t Int(size_t i) const {
    const std::string& text = cols.at(i);
    char* end = nullptr;
    long long value = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0') {
      throw std::runtime_error("column " + std::to_string(i) + " is not an integer: " + text);
    }
    return value;
  }
};

class Harness {
 public:
  Harness(SweepTarget target, uint64_t seed) : rng_(MixSeed(seed, target.Name())) {
    run_.target = std::move(target);
    run_.seed = seed;
    // The books come from TestDb: a file in its directory, or (the `_pg` run,
    // DEPOSITBOT_TEST_BACKEND=postgresql) a fresh PostgreSQL database. Left without tables and
    // closed: the first depositbot process migrates it, as in production.
    books_.Close();
    dir_ = books_.dir();
    db_path_ = books_.path();
    namecheap_.SetBalance("100000.00");
    env_ = namecheap_.ProcessEnv();
    env_["ADMIN_IDS"] = std::to_string(kAdmin);
    env_["DEPOSITBOT_DB"] = db_path_;
    env_["RECONCILE_INTERVAL_SECONDS"] = "0";
    plan_ = DrawPlan(rng_, seed);
    crash_recovery_ = Chance(rng_, 50);
  }
  virtual ~Harness() {
    if (const char* keep = std::getenv("DEPOSITBOT_SWEEP_KEEP"); keep && *keep == '1') {
      books_.Keep();
    }
  }

  SweepRun Take() { return std::move(run_); }

 protected:
  const std::string& point() const { return run_.target.point; }

  void Violation(const std::string& kind, const std::string& detail) {
    run_.violations.push_back({kind, detail});
    Trace("VIOLATION " + kind + ": " + detail);
  }
  void Trace(const std::string& line) {
    auto ms = std::chrono::duration_cast<milliseconds>(steady_clock::now() - started_).count();
    run_.trace.push_back("[" + std::to_string(ms) + " ms] " + line);
  }

  // Picks the hit (counted over the whole workload's estimate) at which the process dies.
  void ChooseKill(int estimated_hits) {
    estimated_hits_ = std::max(1, estimated_hits);
    kill_at_ = Pick(rng_, 1, estimated_hits_);
    Trace("directory " + dir_ + ", database " + db_path_ + " (kept with DEPOSITBOT_SWEEP_KEEP=1)");
    Trace("kill planned at estimated hit " + std::to_string(kill_at_) + " of " +
          std::to_string(estimated_hits_) + " of " + point());
  }

  // The DEPOSITBOT_FAILPOINT value for the next piece of work that hits the point `est`
  // times; "" when it is not to be armed. When the chosen piece fired fewer times than
  // estimated, the next ones are armed at their first hit until one dies.
  std::string ArmFor(int est) {
    std::string spec;
    if (!killed_ && est > 0) {
      if (arm_next_) {
        spec = point() + "=exit@1";
      } else if (hits_before_ < kill_at_ && kill_at_ <= hits_before_ + est) {
        int n = kill_at_ - hits_before_;
        spec = point() + "=exit@" + std::to_string(n);
        if (run_.hit == 0) run_.hit = n;
        arm_next_ = true;
      }
    }
    hits_before_ += est;
    return spec;
  }

  void NoteKill() {
    killed_ = true;
    arm_next_ = false;
    ++run_.kills;
  }

  ProcessResult Depositbot(const std::vector<std::string>& args, const Env& extra = {},
                           const std::string& input = "") {
    Env env = env_;
    for (const auto& [k, v] : extra) env[k] = v;
    ++run_.processes;
    return RunProcess(DepositbotBinary(), args, env, dir_, input);
  }

  std::unique_ptr<Database> Open() {
    auto db = Database::Open(db_path_);
    if (!db) throw std::runtime_error("cannot open " + db_path_ + ": " + db.error().message);
    return std::move(*db);
  }

  std::vector<Row> Rows(const std::string& sql, int columns) {
    auto db = Open();
    auto lock = db->Lock();
    auto q = db->Prepare(sql);
    if (!q) throw std::runtime_error(sql + ": " + q.error().message);
    std::vector<Row> out;
    while (true) {
      auto row = q->Step();
      if (!row) throw std::runtime_error(sql + ": " + row.error().message);
      if (!*row) break;
      Row r;
      for (int i = 0; i < columns; ++i) r.cols.push_back(q->ColumnText(i));
      out.push_back(std::move(r));
    }
    return out;
  }

  int64_t Count(const std::string& sql) {
    auto db = Open();
    return QueryInt(*db, sql);
  }

  void Exec(const std::string& sql) {
    auto db = Open();
    auto lock = db->Lock();
    auto q = db->Prepare(sql);
    if (!q) throw std::runtime_error(sql + ": " + q.error().message);
    if (auto st = q->Run(); !st) throw std::runtime_error(sql + ": " + st.error().message);
  }

  std::set<std::string> Owned() const {
    std::set<std::string> owned;
    for (const auto& d : namecheap_.OwnedDomains()) owned.insert(d);
    return owned;
  }

  // Whether an order still charged or unknown may be so now: its create was sent less than
  // the not-found grace ago and the registrar does not hold the name (recovery must wait:
  // the registrar may not list a name it has just created). Anything else is decided.
  bool WithinNotFoundGrace(const std::string& order_id) {
    auto rows = Rows(
        "SELECT domain, CASE WHEN create_sent_at IS NULL THEN 0 ELSE 1 END, "
        "COALESCE(create_sent_at, 0) "
        "FROM domain_orders WHERE id = " +
            order_id,
        3);
    if (rows.empty() || rows.front().Int(1) == 0) return false;
    if (Owned().count(rows.front().cols[0])) return false;
    return std::time(nullptr) - rows.front().Int(2) < kNotFoundGraceSeconds;
  }

  // The end of a workload: `depositbot recover` decides every order. The sweep runs in real
  // time, so an order whose create the registrar never carried out is still within the
  // not-found grace and stays unknown: acceptable (WithinNotFoundGrace). Its create is then
  // dated back past the grace, as waiting 15 minutes would, and a second recovery must
  // refund it (CheckFinal counts whatever is left as order_unresolved).
  void RecoverAll(const std::string& why) {
    RunRecover(why);
    std::string waiting;
    int n = 0;
    for (const auto& r : Rows("SELECT id FROM domain_orders WHERE state IN ('charged', "
                              "'unknown') ORDER BY id",
                              1)) {
      if (!WithinNotFoundGrace(r.cols[0])) continue;
      waiting += (waiting.empty() ? "" : ", ") + r.cols[0];
      ++n;
    }
    if (n == 0) return;
    run_.work["orders left unknown within the not-found grace"] += n;
    Exec("UPDATE domain_orders SET create_sent_at = create_sent_at - " +
         std::to_string(kNotFoundGraceSeconds + 1) + " WHERE id IN (" + waiting + ")");
    Trace("orders " + waiting + " not found at the registrar within the grace: their create " +
          "dated back past it");
    RunRecover(why + ", after the not-found grace");
  }

  // Balances equal the signed ledger sums and none is negative (also right after a kill).
  void CheckBooksNow(const std::string& kind_if_wrong) {
    auto db = Open();
    auto books = CheckBooks(*db);
    if (books.ok()) return;
    Violation(kind_if_wrong, books.Describe());
  }

  // Runs `depositbot recover` (armed with `spec` when given); returns its exit code.
  int RunRecover(const std::string& why, const std::string& spec = "") {
    Env extra;
    if (!spec.empty()) extra["DEPOSITBOT_FAILPOINT"] = spec;
    // The serve under test is stopped: every order is recovered, however young.
    auto r = Depositbot({"recover", "--min-age", "0"}, extra);
    // "recovery: 3 orders checked, 1 registered, 2 refunded, 0 still unknown"
    if (auto at = r.out.find("recovery: "); at != std::string::npos) {
      run_.work["orders recovered"] += std::atoi(r.out.c_str() + at + 10);
    }
    std::string out = r.out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    Trace("recover (" + why + "): exit " + std::to_string(r.exit_code) + " " + Tail(out, 200));
    bool expected =
        r.exit_code == 0 || r.exit_code == 1 || (!spec.empty() && r.exit_code == kFailpointExit);
    if (!expected) {
      Violation("unexpected_exit",
                "recover exited " + std::to_string(r.exit_code) + ": " + Tail(r.err));
    }
    return r.exit_code;
  }

  // The money rules of DESIGN.md after recovery, straight from SQL and the registrar.
  void CheckFinal() {
    {
      auto db = Open();
      auto books = CheckBooks(*db);
      for (const auto& u : books.users) {
        if (!u.balanced()) {
          Violation("balance_ne_ledger", "user " + std::to_string(u.user_id) + " balance " +
                                             std::to_string(u.balance) + " ledger sum " +
                                             std::to_string(u.ledger_sum) +
                                             (u.has_account ? "" : " (no account)"));
        }
        if (u.balance < 0) Violation("negative_balance", "user " + std::to_string(u.user_id));
      }
      std::string integrity = IntegrityCheck(*db);
      if (integrity != "ok") Violation("integrity", integrity);
    }
    for (const auto& r : Rows("SELECT id, state, domain FROM domain_orders WHERE state IN "
                              "('charged', 'unknown') ORDER BY id",
                              3)) {
      Violation("order_unresolved",
                "order #" + r.cols[0] + " (" + r.cols[2] + ") is " + r.cols[1] + " after recovery");
    }
    for (const auto& r : Rows("SELECT reference, COUNT(*) FROM deposit_transactions WHERE type = "
                              "'refund' GROUP BY reference HAVING COUNT(*) > 1",
                              2)) {
      Violation("refund_twice", r.cols[0] + " refunded " + r.cols[1] + " times");
    }
    for (const auto& r : Rows("SELECT reference, COUNT(*) FROM deposit_transactions WHERE type = "
                              "'purchase' GROUP BY reference HAVING COUNT(*) > 1",
                              2)) {
      Violation("charge_twice", r.cols[0] + " charged " + r.cols[1] + " times");
    }
    // Each order's state agrees with its ledger rows.
    for (const auto& r :
         Rows("SELECT o.id, o.state, o.domain, "
              "(SELECT COUNT(*) FROM deposit_transactions p WHERE p.type = 'purchase' AND "
              "p.status = 'confirmed' AND p.reference = 'order:' || o.id), "
              "(SELECT COUNT(*) FROM deposit_transactions f JOIN deposit_transactions p ON "
              "f.reference = 'purchase:' || p.id WHERE f.type = 'refund' AND f.status = "
              "'confirmed' AND p.type = 'purchase' AND p.reference = 'order:' || o.id) "
              "FROM domain_orders o ORDER BY o.id",
              5)) {
      std::string state = r.cols[1];
      int64_t charges = r.Int(3), refunds = r.Int(4);
      bool ok = true;
      if (state == "registered") ok = charges == 1 && refunds == 0;
      if (state == "refunded") ok = charges == 1 && refunds == 1;
      if (state == "quoted" || state == "cancelled" || state == "expired") {
        ok = charges == 0 && refunds == 0;
      }
      if (!ok) {
        Violation("order_ledger_mismatch", "order #" + r.cols[0] + " (" + r.cols[2] + ") is " +
                                               state + " with " + std::to_string(charges) +
                                               " charge(s) and " + std::to_string(refunds) +
                                               " refund(s)");
      }
    }
    for (const auto& r : Rows("SELECT p.id, p.reference FROM deposit_transactions p WHERE "
                              "p.type = 'purchase' AND NOT EXISTS (SELECT 1 FROM domain_orders o "
                              "WHERE 'order:' || o.id = p.reference)",
                              2)) {
      Violation("order_ledger_mismatch",
                "purchase #" + r.cols[0] + " references no order (" + r.cols[1] + ")");
    }
    // The registrar and the orders agree: a name is held exactly when its order is registered.
    std::set<std::string> owned = Owned();
    std::set<std::string> registered;
    std::map<std::string, std::string> refunded;  // domain -> order id
    for (const auto& r :
         Rows("SELECT domain, state, id, CASE WHEN registrar_order_id IS NULL THEN 0 ELSE 1 END "
              "FROM domain_orders",
              4)) {
      if (r.cols[1] == "registered") {
        registered.insert(r.cols[0]);
        if (!owned.count(r.cols[0])) {
          Violation("registrar_mismatch", "order #" + r.cols[2] + " says " + r.cols[0] +
                                              " is registered; the registrar does not hold it");
        }
      }
      if (r.cols[1] == "refunded") {
        refunded[r.cols[0]] = r.cols[2];
        // A create that succeeded after the refund is recorded on the order, never dropped;
        // the user then holds the name for nothing.
        if (r.Int(3) != 0) {
          Violation("registrar_mismatch", "order #" + r.cols[2] + " (" + r.cols[0] +
                                              ") was refunded and then registered");
        }
      }
    }
    for (const auto& d : owned) {
      if (registered.count(d)) continue;
      auto it = refunded.find(d);
      Violation("registrar_mismatch",
                d + " is held at the registrar but no order of it is registered" +
                    (it == refunded.end()
                         ? std::string(" (charged nobody)")
                         : " (order #" + it->second + " was refunded: registered and refunded)"));
    }
    // Nothing done twice: every deposit request and every quote came from one message.
    for (const auto& r : Rows("SELECT depositor_name, COUNT(*) FROM deposit_transactions WHERE "
                              "type = 'deposit' GROUP BY depositor_name HAVING COUNT(*) > 1",
                              2)) {
      Violation("update_twice",
                "deposit request \"" + r.cols[0] + "\" recorded " + r.cols[1] + " times");
    }
    for (const auto& r : Rows("SELECT domain, COUNT(*) FROM domain_orders GROUP BY domain "
                              "HAVING COUNT(*) > 1",
                              2)) {
      Violation("update_twice", "/buy " + r.cols[0] + " quoted " + r.cols[1] + " times");
    }
    auto count = [&](const std::string& what, const std::string& sql) {
      run_.work[what] = static_cast<int>(Count(sql));
    };
    count("deposits confirmed",
          "SELECT COUNT(*) FROM deposit_transactions WHERE type = "
          "'deposit' AND status = 'confirmed'");
    count("deposits rejected or cancelled",
          "SELECT COUNT(*) FROM deposit_transactions WHERE "
          "type = 'deposit' AND status IN ('rejected', "
          "'cancelled')");
    count("purchases charged", "SELECT COUNT(*) FROM deposit_transactions WHERE type = 'purchase'");
    count("orders registered", "SELECT COUNT(*) FROM domain_orders WHERE state = 'registered'");
    count("orders refunded", "SELECT COUNT(*) FROM domain_orders WHERE state = 'refunded'");
    count("orders left quoted or cancelled",
          "SELECT COUNT(*) FROM domain_orders WHERE state IN ('quoted', 'cancelled', 'expired')");
    std::string work;
    for (const auto& [k, v] : run_.work) work += k + " " + std::to_string(v) + "; ";
    Trace("final: " + work);
    auto rec = Depositbot({"reconcile"});
    if (rec.exit_code != 0) {
      Violation("reconcile", "depositbot reconcile exited " + std::to_string(rec.exit_code) + ": " +
                                 Tail(rec.out));
    }
  }

  steady_clock::time_point started_ = steady_clock::now();
  SweepRun run_;
  Rng rng_;
  TestDb books_{TestDb::kFile, /*migrate=*/false};
  std::string dir_;
  std::string db_path_;
  Env env_;
  FakeNamecheapServer namecheap_;
  std::vector<Round> plan_;
  int estimated_hits_ = 1;
  int kill_at_ = 1;
  int hits_before_ = 0;
  bool arm_next_ = false;
  bool killed_ = false;
  bool crash_recovery_ = false;  // re-arm the point for the restart: a crash while recovering
  int fault_variant_ = 0;
};

// One `depositbot chat --as ID` process per session; a kill ends that session, then
// `depositbot recover` runs and the workload goes on with the next session.
class ChatSweep : public Harness {
 public:
  using Harness::Harness;

  void Run() {
    int total = 0;
    for (const auto& round : plan_) {
      for (const auto& ur : round.users) {
        HitEstimate d;
        d.messages = static_cast<int>(ur.deposits.size());
        total += d.For(point());
        HitEstimate b = EstimateBuys(ur);
        b.messages += ur.cancel_pending;
        total += b.For(point());
      }
      HitEstimate a;
      for (const auto& dec : round.decisions) {
        a.messages += 1;
        a.confirms += dec.what == 1;
      }
      total += a.For(point());
    }
    ChooseKill(total);
    for (size_t r = 0; r < plan_.size(); ++r) {
      const Round& round = plan_[r];
      for (int u = 0; u < kUsers; ++u) {
        const UserRound& ur = round.users[u];
        HitEstimate e;
        e.messages = static_cast<int>(ur.deposits.size());
        std::string input;
        for (const auto& line : ur.deposits) input += line + "\n";
        Session(UserId(u), input, e.For(point()), "deposits");
      }
      Decide(round);
      for (int u = 0; u < kUsers; ++u) Buy(u, round.users[u]);
    }
    RecoverAll("end of workload");
    CheckFinal();
  }

 private:
  void Session(int64_t as, const std::string& input, int est, const std::string& what) {
    std::string spec = ArmFor(est);
    Env extra;
    if (!spec.empty()) extra["DEPOSITBOT_FAILPOINT"] = spec;
    std::string name = as == kAdmin ? "Admin" : "User" + std::to_string(as);
    auto r = Depositbot({"chat", "--as", std::to_string(as), "--name", name}, extra, input);
    std::string line = "chat --as " + std::to_string(as) + " (" + what + ")" +
                       (spec.empty() ? "" : " armed " + spec) + ": exit " +
                       std::to_string(r.exit_code);
    Trace(line);
    if (r.exit_code == kFailpointExit && !spec.empty()) {
      NoteKill();
      // Every commit is whole: the books balance even before any recovery ran.
      CheckBooksNow("books_after_crash");
      if (crash_recovery_) {
        // A crash during recovery (its refunds commit through the same ledger): then again.
        auto again =
            RunRecover("after the kill, armed " + point() + "=exit@1", point() + "=exit@1");
        if (again == kFailpointExit) {
          NoteKill();
          CheckBooksNow("books_after_crash");
        }
      }
      RunRecover("after the kill");
      return;
    }
    if (r.exit_code != 0) {
      Violation("unexpected_exit", line + ": " + Tail(r.err));
    }
  }

  void Decide(const Round& round) {
    auto pending = Rows(
        "SELECT id FROM deposit_transactions WHERE type = 'deposit' AND "
        "status = 'pending' ORDER BY id",
        1);
    std::string input;
    HitEstimate e;
    int64_t first_confirmed = 0;
    for (size_t k = 0; k < pending.size() && k < round.decisions.size(); ++k) {
      const std::string& id = pending[k].cols[0];
      const Decision& d = round.decisions[k];
      if (d.what == 1) {
        input += "/confirm " + id + "\n";
        ++e.confirms;
        if (!first_confirmed) first_confirmed = pending[k].Int(0);
      } else if (d.what == 2) {
        input += "/reject " + id + " no such transfer arrived\n";
      } else {
        continue;
      }
      ++e.messages;
    }
    if (round.repeat_confirm && first_confirmed) {
      input += "/confirm " + std::to_string(first_confirmed) + "\n";  // refused: not pending
      ++e.messages;
    }
    if (input.empty()) return;
    Session(kAdmin, input, e.For(point()), "admin decisions");
  }

  void Buy(int u, const UserRound& ur) {
    HitEstimate e = EstimateBuys(ur);
    std::string input;
    if (ur.cancel_pending) {
      auto mine = Rows(
          "SELECT t.id FROM deposit_transactions t JOIN users x ON x.id = t.user_id "
          "WHERE x.telegram_id = " +
              std::to_string(UserId(u)) +
              " AND t.type = 'deposit' AND t.status = 'pending' ORDER BY t.id",
          1);
      if (!mine.empty()) {
        input += "/cancel " + mine.front().cols[0] + "\n";
        ++e.messages;
      }
    }
    for (const auto& b : ur.buys) input += "/buy " + b.domain + "\n" + (b.yes ? "y" : "n") + "\n";
    std::string faults;
    for (auto f : ur.faults) {
      namecheap_.InjectFault("namecheap.domains.create", ToFault(f, fault_variant_++));
      faults += std::string(faults.empty() ? "" : ",") + FaultName(f);
    }
    Session(UserId(u), input, e.For(point()),
            "purchases" + (faults.empty() ? std::string() : ", registrar faults " + faults));
  }
};

// One `depositbot serve` fed through the fake Telegram server in phases; a kill is followed by
// a new serve (which recovers its inbox and purchases at start-up) and the remaining phases.
class ServeSweep : public Harness {
 public:
  ServeSweep(SweepTarget target, uint64_t seed) : Harness(std::move(target), seed) {
    env_["TELEGRAM_BOT_TOKEN"] = telegram_.token();
    env_["TELEGRAM_API_BASE"] = telegram_.url();
    env_["HTTP_LISTEN"] = "127.0.0.1:0";
    // The fake has no flood limits; without the 1 message/s/chat pacing a run takes seconds,
    // not minutes (the admin chat gets a message per deposit and per decision).
    env_["DEPOSITBOT_TELEGRAM_PACING"] = "off";
  }
  ~ServeSweep() override {
    if (proc_) {
      proc_->Signal(SIGKILL);
      telegram_.ReleaseHangs();
      if (watcher_.joinable()) watcher_.join();
      proc_->Wait();
    }
  }

  void Run() {
    int total = 0;
    for (const auto& round : plan_) {
      HitEstimate e;
      for (const auto& ur : round.users) {
        e.messages += static_cast<int>(ur.deposits.size());
        e.updates += static_cast<int>(ur.deposits.size());
        HitEstimate b = EstimateBuys(ur);
        e.messages += b.messages;
        e.updates += b.updates;
        e.debits += b.debits;
        e.creates += b.creates;
        e.refunds += b.refunds;
      }
      for (const auto& d : round.decisions) {
        if (d.what == 0) continue;
        e.updates += 1;
        e.messages += !d.button;
        e.confirms += d.what == 1;
      }
      total += e.For(point());
    }
    ChooseKill(total);
    std::string spec = point() + "=exit@" + std::to_string(kill_at_);
    run_.hit = kill_at_;
    if (!Start(spec)) return;
    for (const auto& round : plan_) {
      if (!Phase([&] { PushDeposits(round); })) return;
      if (!Phase([&] { PushDecisions(round); })) return;
      if (!Phase([&] { PushBuys(round); })) return;
      if (!Phase([&] { PushPresses(round); })) return;
    }
    if (!Stop()) return;
    RecoverAll("end of workload");
    CheckUpdates();
    CheckFinal();
  }

 private:
  // One update the test sent, and how to recognise the bot's answer to it.
  struct Pushed {
    int64_t update_id = 0;
    std::string what;
    std::string callback_id;  // a button press: answered with answerCallbackQuery
    std::function<bool(const FakeSentMessage&)> reply;  // a message: its reply
  };

  bool Start(const std::string& spec) {
    armed_ = !spec.empty();
    Env env = env_;
    if (!spec.empty()) env["DEPOSITBOT_FAILPOINT"] = spec;
    ++run_.processes;
    proc_ = std::make_unique<ChildProcess>(
        DepositbotBinary(), std::vector<std::string>{"serve", "--poll-timeout", "1"}, env, dir_);
    std::string ready = proc_->ReadUntil("depositbot serving");
    Trace("serve" + (spec.empty() ? std::string() : " armed " + spec) +
          (ready.empty() ? ": did not start" : ": ready"));
    if (ready.empty()) {
      auto r = proc_->Wait();
      proc_.reset();
      if (r.exit_code == kFailpointExit && armed_ && run_.kills > 0) {
        // Died in the start-up recovery it was re-armed for: start once more, unarmed.
        NoteKill();
        CheckBooksNow("books_after_crash");
        return Start("");
      }
      Violation("unexpected_exit",
                "serve did not start (exit " + std::to_string(r.exit_code) + "): " + Tail(r.err));
      return false;
    }
    exited_ = false;
    // stdout reaches EOF when the process is gone: the one event a kill gives.
    watcher_ = std::thread([this] {
      proc_->ReadUntil("\x01no such line\x01");
      exited_ = true;
    });
    return true;
  }

  ProcessResult Reap() {
    if (watcher_.joinable()) watcher_.join();
    auto r = proc_->Wait();
    proc_.reset();
    return r;
  }

  bool Stop() {
    proc_->Signal(SIGTERM);
    telegram_.ReleaseHangs();  // end the parked long poll now
    auto r = Reap();
    Trace("serve stopped: exit " + std::to_string(r.exit_code));
    if (r.exit_code == kFailpointExit && armed_) {
      NoteKill();  // died at the point while stopping
      return true;
    }
    if (r.exit_code != 0) {
      Violation("unexpected_exit",
                "serve exited " + std::to_string(r.exit_code) + " at SIGTERM: " + Tail(r.err));
      return false;
    }
    return true;
  }

  // Waits until `done` or the process exited. The fake's condition variable wakes this on
  // every message the bot sends; a 25 ms bound re-reads the database (an update is marked
  // done just after its reply) and notices an exit.
  bool WaitFor(const std::function<bool()>& done) {
    auto deadline = steady_clock::now() + kStuck;
    while (!exited_ && !done()) {
      if (steady_clock::now() > deadline) return false;
      size_t seen = telegram_.SentMessages().size();
      (void)telegram_.WaitForSentMessages(seen + 1, milliseconds(25));
    }
    return true;
  }

  bool AllFinished() {
    if (pushed_.empty()) return true;
    std::string ids;
    for (const auto& p : pushed_) ids += (ids.empty() ? "" : ",") + std::to_string(p.update_id);
    return Count("SELECT COUNT(*) FROM telegram_updates WHERE update_id IN (" + ids +
                 ") AND state IN ('done', 'abandoned')") == static_cast<int64_t>(pushed_.size());
  }

  // Pushes one phase and waits until every update so far is handled or abandoned,
  // restarting serve after a kill.
  bool Phase(const std::function<void()>& push) {
    push();
    Trace("phase pushed (" + std::to_string(pushed_.size()) + " updates so far)");
    while (true) {
      if (!WaitFor([&] { return AllFinished(); })) {
        Violation("harness", "updates not finished after " + std::to_string(kStuck.count()) +
                                 " s: " + UpdateStates());
        return false;
      }
      if (!exited_) return true;
      auto r = Reap();
      Trace("serve exited " + std::to_string(r.exit_code));
      if (r.exit_code != kFailpointExit || !armed_) {
        Violation("unexpected_exit",
                  "serve exited " + std::to_string(r.exit_code) + ": " + Tail(r.err));
        return false;
      }
      NoteKill();
      CheckBooksNow("books_after_crash");
      std::string spec;
      if (crash_recovery_ && run_.kills == 1) {
        // The restart recovers the inbox and the purchases, then handles what was left: die
        // again early in that.
        spec = point() + "=exit@" + std::to_string(Pick(rng_, 1, 3));
      }
      if (!Start(spec)) return false;
    }
  }

  std::string UpdateStates() {
    std::string out;
    for (const auto& r :
         Rows("SELECT update_id, state FROM telegram_updates ORDER BY update_id", 2)) {
      out += r.cols[0] + ":" + r.cols[1] + " ";
    }
    return out + "(pushed " + std::to_string(pushed_.size()) + ")";
  }

  void PushMessage(int64_t from, const std::string& text,
                   std::function<bool(const FakeSentMessage&)> reply) {
    Pushed p;
    p.update_id = telegram_.PushMessage(TelegramUser(from), from, text);
    p.what = std::to_string(from) + ": " + text;
    p.reply = std::move(reply);
    pushed_.push_back(std::move(p));
  }

  void PushPress(int64_t from, int64_t message_id, const std::string& data) {
    auto cb = telegram_.PushCallback(TelegramUser(from), message_id, data);
    Pushed p;
    p.update_id = cb.update_id;
    p.what = std::to_string(from) + " presses " + data;
    p.callback_id = cb.callback_query_id;
    pushed_.push_back(std::move(p));
  }

  // The id of the first message to `chat` containing `part` (0: none; the fake then uses the
  // private chat of whoever presses).
  int64_t MessageWith(int64_t chat, const std::string& part) {
    for (const auto& m : telegram_.SentMessages()) {
      if (m.chat_id == chat && Contains(m.text, part)) return m.message_id;
    }
    return 0;
  }

  void PushDeposits(const Round& round) {
    for (int u = 0; u < kUsers; ++u) {
      for (const auto& line : round.users[u].deposits) {
        std::string name = line.substr(line.find(' ', 9) + 1);
        int64_t chat = UserId(u);
        PushMessage(chat, line, [chat, name](const FakeSentMessage& m) {
          return m.chat_id == chat && Contains(m.text, "from " + name + " is recorded");
        });
      }
    }
  }

  void PushDecisions(const Round& round) {
    auto pending = Rows(
        "SELECT id FROM deposit_transactions WHERE type = 'deposit' AND "
        "status = 'pending' ORDER BY id",
        1);
    for (size_t k = 0; k < pending.size() && k < round.decisions.size(); ++k) {
      const std::string& id = pending[k].cols[0];
      const Decision& d = round.decisions[k];
      if (d.what == 0) continue;
      if (d.button) {
        PushPress(kAdmin, MessageWith(kAdmin, "New deposit request <b>#" + id + "</b>"),
                  std::string(d.what == 1 ? "dep:c:" : "dep:r:") + id);
      } else {
        std::string text = d.what == 1 ? "/confirm " + id : "/reject " + id + " no such transfer";
        std::string head = "Deposit #" + id + " of ";
        PushMessage(kAdmin, text, [head](const FakeSentMessage& m) {
          return m.chat_id == kAdmin && m.text.rfind(head, 0) == 0;
        });
      }
    }
  }

  void PushBuys(const Round& round) {
    for (int u = 0; u < kUsers; ++u) {
      for (const auto& b : round.users[u].buys) {
        int64_t chat = UserId(u);
        std::string needle = " " + b.domain + " for ";
        PushMessage(chat, "/buy " + b.domain, [chat, needle](const FakeSentMessage& m) {
          return m.chat_id == chat && Contains(m.text, "Quote #") && Contains(m.text, needle);
        });
      }
    }
  }

  void PushPresses(const Round& round) {
    for (int u = 0; u < kUsers; ++u) {
      const UserRound& ur = round.users[u];
      for (auto f : ur.faults) {
        namecheap_.InjectFault("namecheap.domains.create", ToFault(f, fault_variant_++));
      }
      for (const auto& b : ur.buys) {
        auto order = Rows(
            "SELECT id FROM domain_orders WHERE state = 'quoted' AND domain = '" + b.domain + "'",
            1);
        if (order.empty()) continue;  // its /buy was the update that died
        int64_t chat = UserId(u);
        PushPress(chat, MessageWith(chat, "Buy <b>" + b.domain + "</b>"),
                  std::string(b.yes ? "buy:c:" : "buy:x:") + order.front().cols[0]);
      }
    }
  }

  // Every update the test sent was recorded and finished (done, or abandoned by a restart),
  // and none was answered twice.
  void CheckUpdates() {
    std::map<int64_t, std::string> state;
    for (const auto& r : Rows("SELECT update_id, state FROM telegram_updates", 2)) {
      state[r.Int(0)] = r.cols[1];
    }
    auto sent = telegram_.SentMessages();
    auto answers = telegram_.CallbackAnswers();
    int abandoned = 0;
    for (const auto& p : pushed_) {
      auto it = state.find(p.update_id);
      std::string st = it == state.end() ? "missing" : it->second;
      abandoned += st == "abandoned";
      if (st != "done" && st != "abandoned") {
        Violation("update_unfinished",
                  "update " + std::to_string(p.update_id) + " (" + p.what + ") is " + st);
      }
      int replies = 0;
      if (!p.callback_id.empty()) {
        for (const auto& a : answers) replies += a.callback_query_id == p.callback_id;
      } else {
        for (const auto& m : sent) replies += p.reply(m);
      }
      if (replies > 1) {
        Violation("update_twice", "update " + std::to_string(p.update_id) + " (" + p.what +
                                      ") answered " + std::to_string(replies) + " times");
      }
      if (replies == 0 && st == "done") {
        Violation("reply_lost", "update " + std::to_string(p.update_id) + " (" + p.what +
                                    ") is done but was never answered");
      }
    }
    // A decision announced twice, or a purchase outcome told twice, is a repeated handling too.
    std::map<std::string, int> told;
    for (const auto& m : sent) {
      if (m.text.rfind("Your deposit #", 0) == 0) {
        ++told[std::to_string(m.chat_id) + " " + m.text.substr(0, m.text.find(" of "))];
      }
      for (const char* outcome :
           {" is registered to you", "did not register ", "did not confirm ", "refused "}) {
        if (Contains(m.text, outcome))
          ++told[std::to_string(m.chat_id) + " outcome " + m.text.substr(0, 80)];
      }
    }
    for (const auto& [key, n] : told) {
      if (n > 1) Violation("update_twice", key + " told " + std::to_string(n) + " times");
    }
    run_.work["updates sent"] = static_cast<int>(pushed_.size());
    run_.work["updates abandoned at a restart"] = abandoned;
  }

  FakeTelegramServer telegram_;
  std::unique_ptr<ChildProcess> proc_;
  std::thread watcher_;
  std::atomic<bool> exited_{false};
  bool armed_ = false;  // the running serve has the failpoint armed
  std::vector<Pushed> pushed_;
};

// Two processes on one database while a purchase is in flight (issue 11, item 1). The
// purchaser (a `depositbot chat`, or a `depositbot serve` pressed through the fake Telegram
// server) is held at the fake registrar's create (HangThenApply: until the release getInfo
// does not know the name, as a slow registrar) while a second `depositbot serve` starts on the
// same database; the harness waits for its "depositbot serving" line, printed after its
// start-up recovery. Then the registrar answers (registers the name, or refuses it: the name
// was taken meanwhile) and the purchaser finishes, dies at a failpoint (purchase.after_create,
// or ledger.before_commit in the refund) or is SIGKILLed while still held. A dead purchaser's
// order must be decided by a serve's start-up recovery (the serve is restarted), not by
// `recover`. The chat race also has a variant where the chat dies at purchase.after_debit or
// purchase.after_create before the serve starts. A recovery that takes a live purchase shows
// as live_lease_taken, and a refund beside a registration as registrar_mismatch.
//
// The second serve polls the fake Telegram server like the first (a restart where the old
// process has not exited yet): the fake ends the older parked getUpdates with 409 Conflict, as
// Telegram does, and each serve backs off and polls again.
class RaceSweep : public Harness {
 public:
  RaceSweep(SweepTarget target, uint64_t seed) : Harness(std::move(target), seed) {
    env_["TELEGRAM_BOT_TOKEN"] = telegram_.token();
    env_["TELEGRAM_API_BASE"] = telegram_.url();
    env_["HTTP_LISTEN"] = "127.0.0.1:0";
    env_["DEPOSITBOT_TELEGRAM_PACING"] = "off";
    tag_ = std::to_string(seed % 100000);
    domain_ = "rc" + tag_ + "a.xyz";
    follow_up_domain_ = "rc" + tag_ + "b.xyz";
    two_serves_ = point() == kRaceTwoServes;
    int f = Pick(rng_, 1, 100);
    if (two_serves_) {
      fate_ = f <= 40 ? Fate::kFinishes : f <= 75 ? Fate::kFailpoint : Fate::kSigkill;
    } else {
      fate_ = f <= 30   ? Fate::kFinishes
              : f <= 55 ? Fate::kFailpoint
              : f <= 75 ? Fate::kSigkill
                        : Fate::kDiesBeforeServe;
    }
    registers_ = Chance(rng_, 70);
    follow_up_ = Chance(rng_, 50);
  }
  ~RaceSweep() override {
    for (auto* p : {&purchaser_, &second_}) {
      if (*p) (*p)->child->Signal(SIGKILL);
    }
    namecheap_.ReleaseHangs();
    telegram_.ReleaseHangs();
    for (auto* p : {&purchaser_, &second_}) {
      if (*p && (*p)->waiter.joinable()) (*p)->waiter.join();
    }
  }

  void Run() {
    Trace("directory " + dir_ + ", database " + db_path_ + " (kept with DEPOSITBOT_SWEEP_KEEP=1)");
    Trace(std::string("plan: ") + point() + ", the registrar " +
          (registers_ ? "registers" : "refuses") + " " + domain_ + ", the purchaser " + FateName() +
          (two_serves_ && follow_up_ ? ", then a purchase through the survivor" : ""));
    if (!Fund()) return;
    bool ok = two_serves_ ? TwoServes() : ChatPurchaseServeStart();
    if (!ok) return;
    RecoverAll("end of the race");
    CheckTold();
    CheckFinal();
  }

 private:
  enum class Fate { kFinishes, kFailpoint, kSigkill, kDiesBeforeServe };

  // A depositbot process the harness waits on from a thread (Wait() reads its stdout to EOF).
  struct Proc {
    std::string name;
    std::unique_ptr<ChildProcess> child;
    std::thread waiter;
    std::atomic<bool> done{false};
    ProcessResult result;  // read after waiter.join()
  };

  const char* FateName() const {
    switch (fate_) {
      case Fate::kFinishes:
        return "finishes";
      case Fate::kFailpoint:
        return "dies at a failpoint after the answer";
      case Fate::kSigkill:
        return "is SIGKILLed while held";
      case Fate::kDiesBeforeServe:
        return "dies at a failpoint before the serve starts";
    }
    return "?";
  }

  // The purchaser's failpoint: after the registrar's answer (the registration, or the refund's
  // commit, the process's second ledger commit after the debit), or for kDiesBeforeServe right
  // after the debit (refused) or after the create (registered).
  std::string PurchaserSpec() const {
    if (fate_ == Fate::kDiesBeforeServe) {
      return registers_ ? "purchase.after_create=exit@1" : "purchase.after_debit=exit@1";
    }
    if (fate_ == Fate::kFailpoint) {
      return registers_ ? "purchase.after_create=exit@1" : "ledger.before_commit=exit@2";
    }
    return "";
  }

  int64_t User() const { return UserId(0); }
  std::vector<std::string> ChatArgs(int64_t as) const {
    return {"chat", "--as", std::to_string(as), "--name",
            as == kAdmin ? std::string("Admin") : "User" + std::to_string(as)};
  }

  // The buyer's deposit, recorded and confirmed through `depositbot chat` sessions.
  bool Fund() {
    auto r = Depositbot(ChatArgs(User()), {}, "/deposit 30.00 RACE BUYER " + tag_ + "\n");
    auto pending = Rows(
        "SELECT id FROM deposit_transactions WHERE type = 'deposit' AND status = 'pending'", 1);
    if (r.exit_code != 0 || pending.size() != 1) {
      Violation("harness", "the deposit was not recorded (exit " + std::to_string(r.exit_code) +
                               "): " + Tail(r.out + r.err));
      return false;
    }
    auto c = Depositbot(ChatArgs(kAdmin), {}, "/confirm " + pending.front().cols[0] + "\n");
    if (c.exit_code != 0 || Count("SELECT COUNT(*) FROM deposit_transactions WHERE type = "
                                  "'deposit' AND status = 'confirmed'") != 1) {
      Violation("harness", "the deposit was not confirmed (exit " + std::to_string(c.exit_code) +
                               "): " + Tail(c.out + c.err));
      return false;
    }
    Trace("funded: deposit #" + pending.front().cols[0] + " confirmed");
    return true;
  }

  std::unique_ptr<Proc> Spawn(const std::string& name, const std::vector<std::string>& args,
                              const std::string& spec, const std::string& input) {
    Env env = env_;
    if (!spec.empty()) env["DEPOSITBOT_FAILPOINT"] = spec;
    ++run_.processes;
    auto p = std::make_unique<Proc>();
    p->name = name;
    p->child = std::make_unique<ChildProcess>(DepositbotBinary(), args, env, dir_, input);
    return p;
  }

  void StartWaiter(Proc& p) {
    Proc* raw = &p;
    p.waiter = std::thread([raw] {
      raw->result = raw->child->Wait();
      raw->done = true;
    });
  }

  // A serve, once its start-up (purchase recovery, inbox recovery) is over.
  std::unique_ptr<Proc> StartServe(const std::string& name, const std::string& spec = "") {
    auto p = Spawn(name, {"serve", "--poll-timeout", "1"}, spec, "");
    // A serve that neither starts nor exits is killed after kStuck (its ReadUntil then ends).
    std::mutex mu;
    std::condition_variable cv;
    bool started = false;
    std::thread watchdog([&] {
      std::unique_lock<std::mutex> lock(mu);
      if (!cv.wait_for(lock, kStuck, [&] { return started; })) p->child->Signal(SIGKILL);
    });
    std::string ready = p->child->ReadUntil("depositbot serving");
    {
      std::lock_guard<std::mutex> lock(mu);
      started = true;
    }
    cv.notify_all();
    watchdog.join();
    StartWaiter(*p);
    if (ready.empty()) {
      p->waiter.join();
      Violation("unexpected_exit", name + " did not start (exit " +
                                       std::to_string(p->result.exit_code) +
                                       "): " + Tail(p->result.err));
      return nullptr;
    }
    Trace(name + (spec.empty() ? std::string() : " armed " + spec) +
          ": serving (its start-up recovery has run)");
    return p;
  }

  // Joins `p` and says how it ended: "exit N" or "signal N".
  std::string Reap(Proc& p) {
    if (p.waiter.joinable()) p.waiter.join();
    return p.result.signal ? "signal " + std::to_string(p.result.signal)
                           : "exit " + std::to_string(p.result.exit_code);
  }

  bool StopServe(std::unique_ptr<Proc>& p) {
    p->child->Signal(SIGTERM);
    telegram_.ReleaseHangs();  // ends its parked long poll now
    std::string how = Reap(*p);
    Trace(p->name + " stopped: " + how);
    bool ok = p->result.exit_code == 0 && p->result.signal == 0;
    if (!ok)
      Violation("unexpected_exit", p->name + " at SIGTERM: " + how + ": " + Tail(p->result.err));
    p.reset();
    return ok;
  }

  struct OrderRow {
    std::string id, state, lease_owner;
  };
  std::optional<OrderRow> Order(const std::string& domain) {
    auto rows = Rows(
        "SELECT id, state, COALESCE(lease_owner, '') FROM domain_orders WHERE "
        "domain = '" +
            domain + "'",
        3);
    if (rows.empty()) return std::nullopt;
    return OrderRow{rows.front().cols[0], rows.front().cols[1], rows.front().cols[2]};
  }

  // Waits (events, bounded) until the purchaser's create reaches the fake registrar and is held.
  bool AwaitHeldCreate() {
    auto deadline = steady_clock::now() + kStuck;
    while (!namecheap_.AwaitRequestCount("namecheap.domains.create", 1)) {
      if (purchaser_->done || steady_clock::now() > deadline) {
        std::string how = purchaser_->done ? Reap(*purchaser_) : "still running";
        Violation("harness", "the purchase never reached the registrar's create (" +
                                 purchaser_->name + ": " + how +
                                 "): " + Tail(purchaser_->result.out + purchaser_->result.err));
        return false;
      }
    }
    auto order = Order(domain_);
    held_ = order ? *order : OrderRow{};
    Trace("held at the registrar's create: order #" + held_.id + " " + held_.state +
          ", leased to " + held_.lease_owner);
    return true;
  }

  // The second process has started beside the held purchase: its start-up recovery must have
  // left the order to the purchaser (still charged, the same lease owner).
  void CheckLeaseKept() {
    ++run_.overlaps;
    auto now = Order(domain_);
    if (!now || now->state != "charged" || now->lease_owner != held_.lease_owner) {
      Violation("live_lease_taken", "order #" + held_.id + " (" + domain_ +
                                        ") was charged and leased to " + held_.lease_owner +
                                        " (its create in flight); after " + second_->name +
                                        " started it is " + (now ? now->state : "missing") +
                                        ", leased to '" + (now ? now->lease_owner : "") + "'");
    }
  }

  // The registrar answers, or the purchaser is killed first. Returns false when the purchaser
  // ended in a way its fate does not allow.
  bool AnswerAndEnd() {
    if (!registers_) namecheap_.SetTaken(domain_);  // the create will be refused
    if (fate_ == Fate::kSigkill) {
      purchaser_->child->Signal(SIGKILL);
      Trace(purchaser_->name + " SIGKILLed while its create is held: " + Reap(*purchaser_));
      ++run_.work["purchasers SIGKILLed mid-create"];
    }
    namecheap_.ReleaseHangs();
    if (!namecheap_.AwaitNoHungRequests()) {
      Violation("harness", "the held create did not finish after its release");
      return false;
    }
    Trace(std::string("registrar answered the create: ") +
          (registers_ ? "registered" : "3019166 Domain not available"));
    // The purchaser acts on the answer. A chat exits by itself (its input ends); a serve does
    // not: once its order is decided (or it died at its failpoint) it is stopped, as the old
    // process of a restart exits while the new one stays. Bounded: a purchaser that does
    // neither is killed and reported.
    auto deadline = steady_clock::now() + kStuck;
    while (!purchaser_->done) {
      if (two_serves_) {
        auto o = Order(domain_);
        if (o && o->state != "charged") break;
      }
      if (steady_clock::now() > deadline) {
        purchaser_->child->Signal(SIGKILL);
        Violation("harness", purchaser_->name + " neither ended nor decided the order of " +
                                 domain_ + " " + std::to_string(kStuck.count()) +
                                 " s after the answer: " + Reap(*purchaser_));
        return false;
      }
      size_t seen = telegram_.SentMessages().size();
      (void)telegram_.WaitForSentMessages(seen + 1, milliseconds(25));
    }
    if (!purchaser_->done) {
      purchaser_->child->Signal(SIGTERM);
      telegram_.ReleaseHangs();  // ends its parked long poll now
      Trace(purchaser_->name + " has decided the order: stopping it");
    }
    std::string how = Reap(*purchaser_);
    Trace(purchaser_->name + " ended: " + how);
    const ProcessResult& r = purchaser_->result;
    bool died = false;
    if (fate_ == Fate::kSigkill) {
      died = true;
    } else if (r.exit_code == kFailpointExit && fate_ == Fate::kFailpoint) {
      NoteKill();
      died = true;
    } else if (r.exit_code != 0 || r.signal != 0) {
      Violation("unexpected_exit", purchaser_->name + ": " + how + ": " + Tail(r.err));
      return false;
    } else if (fate_ == Fate::kFailpoint) {
      Trace("the failpoint " + PurchaserSpec() + " was not reached");
    }
    purchaser_.reset();
    if (!died) return true;
    CheckBooksNow("books_after_crash");
    // The purchaser is gone with the order possibly undecided: a restarted serve decides it.
    if (!StopServe(second_)) return false;
    second_ = StartServe("serve (restarted)");
    if (!second_) return false;
    CheckDecidedByServe(second_->name);
    return true;
  }

  // After a purchaser died, a serve's start-up recovery decides its order (registered or
  // refunded), unless the registrar does not know the name yet within the not-found grace.
  void CheckDecidedByServe(const std::string& who) {
    auto o = Order(domain_);
    if (!o) return;
    if (o->state == "registered" || o->state == "refunded") {
      ++run_.work["orders decided by a serve's start-up"];
      Trace(who + " decided order #" + o->id + ": " + o->state);
      return;
    }
    if ((o->state == "charged" || o->state == "unknown") && WithinNotFoundGrace(o->id)) {
      Trace(who + " left order #" + o->id + " " + o->state +
            ": the registrar does not know the name, within the not-found grace");
      return;
    }
    Violation("order_unresolved", who + "'s start-up recovery left order #" + o->id + " (" +
                                      domain_ + ") " + o->state + " after its purchaser died");
  }

  bool ChatPurchaseServeStart() {
    const std::string input = "/buy " + domain_ + "\ny\n";
    const std::string spec = PurchaserSpec();
    if (fate_ == Fate::kDiesBeforeServe) {
      auto r = Depositbot(ChatArgs(User()), {{"DEPOSITBOT_FAILPOINT", spec}}, input);
      Trace("chat armed " + spec + ": exit " + std::to_string(r.exit_code));
      if (r.exit_code != kFailpointExit) {
        Violation("unexpected_exit", "chat armed " + spec + " exited " +
                                         std::to_string(r.exit_code) + ": " + Tail(r.err));
        return false;
      }
      NoteKill();
      CheckBooksNow("books_after_crash");
      second_ = StartServe("serve");
      if (!second_) return false;
      CheckDecidedByServe(second_->name);
      return StopServe(second_);
    }
    namecheap_.InjectFault("namecheap.domains.create", FakeNamecheapServer::Fault::HangThenApply());
    purchaser_ = Spawn("chat", ChatArgs(User()), spec, input);
    StartWaiter(*purchaser_);
    Trace("chat" + (spec.empty() ? std::string() : " armed " + spec) + ": /buy " + domain_ + ", y");
    if (!AwaitHeldCreate()) return false;
    second_ = StartServe("serve");
    if (!second_) return false;
    CheckLeaseKept();
    if (!AnswerAndEnd()) return false;
    return StopServe(second_);
  }

  // Waits (events, bounded) for a message to `chat` containing `part`; false when none came or
  // `proc` exited.
  bool AwaitMessage(int64_t chat, const std::string& part, const Proc& proc) {
    auto deadline = steady_clock::now() + kStuck;
    while (!MessageWith(chat, part)) {
      if (proc.done || steady_clock::now() > deadline) {
        Violation("harness", "no message with \"" + part + "\" from " + proc.name);
        return false;
      }
      size_t seen = telegram_.SentMessages().size();
      (void)telegram_.WaitForSentMessages(seen + 1, milliseconds(200));
    }
    return true;
  }

  int64_t MessageWith(int64_t chat, const std::string& part) const {
    for (const auto& m : telegram_.SentMessages()) {
      if (m.chat_id == chat && Contains(m.text, part)) return m.message_id;
    }
    return 0;
  }

  // /buy `domain` through the fake Telegram server to `proc`, then the press on its quote.
  bool BuyThroughTelegram(const std::string& domain, const Proc& proc) {
    telegram_.PushMessage(TelegramUser(User()), User(), "/buy " + domain);
    if (!AwaitMessage(User(), "Buy <b>" + domain + "</b>", proc)) return false;
    auto order = Order(domain);
    if (!order || order->state != "quoted") {
      Violation("harness", "no quoted order for " + domain);
      return false;
    }
    auto cb = telegram_.PushCallback(TelegramUser(User()),
                                     MessageWith(User(), "Buy <b>" + domain + "</b>"),
                                     "buy:c:" + order->id);
    presses_.push_back(cb.callback_query_id);
    Trace("pressed buy:c:" + order->id + " (" + domain + ") to " + proc.name);
    return true;
  }

  bool TwoServes() {
    purchaser_ = StartServe("serve A", PurchaserSpec());
    if (!purchaser_) return false;
    if (!BuyThroughTelegram(domain_, *purchaser_)) return false;
    namecheap_.InjectFault("namecheap.domains.create", FakeNamecheapServer::Fault::HangThenApply());
    if (!AwaitHeldCreate()) return false;
    // The restart: the new serve starts while the old one is mid-purchase.
    second_ = StartServe("serve B");
    if (!second_) return false;
    CheckLeaseKept();
    if (!AnswerAndEnd()) return false;
    if (Count("SELECT COUNT(*) FROM telegram_updates WHERE state = 'abandoned'") > 0 &&
        fate_ == Fate::kFinishes) {
      // The new serve's inbox recovery abandoned the press its predecessor was still handling
      // (and told the user it was interrupted); the predecessor then finished it.
      ++run_.work["live updates abandoned by the new serve"];
    }
    if (follow_up_) {
      if (!BuyThroughTelegram(follow_up_domain_, *second_)) return false;
      auto deadline = steady_clock::now() + kStuck;
      while (true) {
        auto o = Order(follow_up_domain_);
        if (o && o->state != "quoted" && o->state != "charged") break;
        if (second_->done || steady_clock::now() > deadline) {
          Violation("harness", "the purchase of " + follow_up_domain_ + " through " +
                                   second_->name + " did not finish");
          return false;
        }
        size_t seen = telegram_.SentMessages().size();
        (void)telegram_.WaitForSentMessages(seen + 1, milliseconds(25));
      }
      Trace(second_->name + " bought " + follow_up_domain_);
    }
    return StopServe(second_);
  }

  // Each press answered at most once, each purchase outcome told at most once.
  void CheckTold() {
    std::map<std::string, int> answers;
    for (const auto& a : telegram_.CallbackAnswers()) ++answers[a.callback_query_id];
    for (const auto& id : presses_) {
      if (answers[id] > 1) {
        Violation("update_twice",
                  "press " + id + " answered " + std::to_string(answers[id]) + " times");
      }
    }
    std::map<std::string, int> told;
    for (const auto& m : telegram_.SentMessages()) {
      for (const char* outcome :
           {" is registered to you", "did not register ", "did not confirm ", "refused "}) {
        if (Contains(m.text, outcome))
          ++told[std::to_string(m.chat_id) + " " + m.text.substr(0, 80)];
      }
    }
    for (const auto& [key, n] : told) {
      if (n > 1) Violation("update_twice", key + " told " + std::to_string(n) + " times");
    }
  }

  FakeTelegramServer telegram_;
  std::string tag_;
  std::string domain_;
  std::string follow_up_domain_;
  bool two_serves_ = false;
  Fate fate_ = Fate::kFinishes;
  bool registers_ = true;
  bool follow_up_ = false;
  std::unique_ptr<Proc> purchaser_;  // the chat, or serve A
  std::unique_ptr<Proc> second_;     // the serve started beside it (and its restarts)
  OrderRow held_;                    // the order while its create was held
  std::vector<std::string> presses_;
};

}  // namespace

std::string SweepTarget::Name() const {
  switch (transport) {
    case SweepTransport::kChat:
      return "chat:" + point;
    case SweepTransport::kServe:
      return "serve:" + point;
    case SweepTransport::kRace:
      return "race:" + point;
  }
  return point;
}

std::vector<SweepTarget> SweepTargets() {
  std::vector<SweepTarget> out;
  for (const char* p : kPoints) {
    // The terminal has no Telegram updates to record.
    if (std::string(p) != "update.before_record") out.push_back({SweepTransport::kChat, p});
  }
  for (const char* p : kPoints) out.push_back({SweepTransport::kServe, p});
  for (const char* race : {kRaceChatPurchaseServeStart, kRaceTwoServes}) {
    out.push_back({SweepTransport::kRace, race});
  }
  return out;
}

std::vector<SweepTarget> SweepTargets(const std::string& filter) {
  std::vector<SweepTarget> out;
  for (auto& t : SweepTargets()) {
    if (filter.empty() || Contains(t.Name(), filter)) out.push_back(std::move(t));
  }
  return out;
}

const std::vector<std::string>& SweepViolationKinds() {
  static const std::vector<std::string> kinds = {"balance_ne_ledger",
                                                 "negative_balance",
                                                 "books_after_crash",
                                                 "order_unresolved",
                                                 "order_ledger_mismatch",
                                                 "registrar_mismatch",
                                                 "live_lease_taken",
                                                 "refund_twice",
                                                 "charge_twice",
                                                 "update_twice",
                                                 "update_unfinished",
                                                 "reply_lost",
                                                 "integrity",
                                                 "reconcile",
                                                 "unexpected_exit",
                                                 "harness"};
  return kinds;
}

SweepRun RunCrashSweep(const SweepTarget& target, uint64_t seed) {
  try {
    if (target.transport == SweepTransport::kChat) {
      ChatSweep sweep(target, seed);
      sweep.Run();
      return sweep.Take();
    }
    if (target.transport == SweepTransport::kRace) {
      RaceSweep sweep(target, seed);
      sweep.Run();
      return sweep.Take();
    }
    ServeSweep sweep(target, seed);
    sweep.Run();
    return sweep.Take();
  } catch (const std::exception& e) {
    SweepRun run;
    run.target = target;
    run.seed = seed;
    run.violations.push_back({"harness", e.what()});
    return run;
  }
}

std::string ReplayHint(const SweepRun& run) {
  return "DEPOSITBOT_SWEEP_SEED=" + std::to_string(run.seed) +
         " DEPOSITBOT_SWEEP_TARGET=" + run.target.Name();
}

SweepTotals::SweepTotals() {
  for (const auto& k : SweepViolationKinds()) violations[k] = 0;
}

void SweepTotals::Add(const SweepRun& run) {
  ++runs;
  kills += run.kills;
  processes += run.processes;
  auto& t = per_target[run.target.Name()];
  ++t.first;
  t.second += run.kills;
  if (run.target.transport == SweepTransport::kRace) overlaps[run.target.Name()] += run.overlaps;
  for (const auto& v : run.violations) ++violations[v.kind];
  for (const auto& [k, v] : run.work) work[k] += v;
  if (!run.ok()) {
    std::string line = run.target.Name() + " seed " + std::to_string(run.seed) + ": " +
                       std::to_string(run.violations.size()) + " violation(s), first " +
                       run.violations.front().kind + ": " + run.violations.front().detail +
                       "\n    replay: " + ReplayHint(run) + " crash_sweep_main";
    failing.push_back(line);
  }
}

int SweepTotals::TotalViolations() const {
  int n = 0;
  for (const auto& [k, v] : violations) n += v;
  return n;
}

std::string SweepTotals::Report() const {
  std::ostringstream out;
  out << "crash sweep: " << runs << " runs, " << kills << " kills (exit 86), " << processes
      << " depositbot processes\n";
  for (const auto& [name, rk] : per_target) {
    out << "  " << name << ": " << rk.first << " runs, " << rk.second << " kills";
    if (auto it = overlaps.find(name); it != overlaps.end()) {
      out << ", " << it->second << " overlaps";
    }
    out << "\n";
  }
  out << "workload:";
  for (const auto& [k, v] : work) out << " " << k << " " << v << ";";
  out << "\nviolations (all must be 0):\n";
  for (const auto& k : SweepViolationKinds()) {
    out << "  " << k << " " << violations.at(k) << "\n";
  }
  out << "total violations: " << TotalViolations() << "\n";
  for (const auto& f : failing) out << "FAILED " << f << "\n";
  // One line a script can read (scripts/reliability.sh adds up violations=).
  for (const auto& [name, rk] : per_target) {
    out << "crash[" << name << "] runs=" << rk.first << " kills=" << rk.second;
    if (auto it = overlaps.find(name); it != overlaps.end()) out << " overlaps=" << it->second;
    out << "\n";
  }
  out << "crash[total] runs=" << runs << " kills=" << kills;
  for (const auto& k : SweepViolationKinds()) out << " " << k << "=" << violations.at(k);
  out << " violations=" << TotalViolations() << "\n";
  return out.str();
}

}  // namespace depositbot::testing
