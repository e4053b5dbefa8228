#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/money.h"
#include "common/result.h"
#include "registrar/fixture_registrar.h"

namespace depositbot {

// One conversation fixture (docs/fixtures.md): the starting state, the turns with the model's
// scripted replies, and what must hold after each turn and at the end. Amounts are already
// parsed into minor units of `settings.currency`; users are referred to by Telegram id.

struct FixtureSettings {
  Currency currency{"USD", 2};
  Decimal usd_exchange_rate{1, 0};
  Decimal markup_percent{0, 0};
  int64_t start_unix_seconds = 1767225600;  // 2026-01-01T00:00:00Z
  int max_model_calls = 6;
  int64_t quote_ttl_seconds = 600;
  int64_t max_deposit_minor = 0;  // 0: a million major units, as `serve` uses
  // "fair_use": the per-user limits (agent/fair_use.h). Off unless a fixture sets them: the
  // fixed clock would turn any long fixture into one burst.
  int64_t user_messages_per_minute = 0;
  int64_t user_message_burst = 10;
  int64_t user_daily_model_tokens = 0;
  bool admins_exempt_from_limits = true;
  // "model": "offline": every message goes to the rule-based model, as `depositbot chat` on the
  // embedded defaults does; turns then carry no scripted replies. Default: the scripted model.
  bool offline_model = false;
};

// A starting ledger row, written through DepositRepository so the books start reconciled.
struct FixtureLedgerRow {
  enum class Kind { kDeposit, kAdjustment };
  Kind kind = Kind::kDeposit;
  int64_t amount = 0;                // minor units; signed for an adjustment
  std::string status = "confirmed";  // deposits: confirmed | pending | rejected | cancelled
  std::string depositor_name;
  std::string reason;
};

struct FixtureUser {
  int64_t telegram_id = 0;
  std::string name;
  bool admin = false;
  std::string username;                  // the Telegram @username (lower case, no '@'); empty: none
  std::vector<FixtureLedgerRow> ledger;  // in creation order (ids count from 1 overall)
  std::optional<int64_t> tampered_balance;  // written past the repository: books disagree
};

// Expected figures of one tool call (every field optional; objects match as subsets).
struct CallExpectation {
  std::optional<std::string> name;
  std::optional<nlohmann::json> arguments;  // subset of the parsed arguments, or the raw text
  std::optional<bool> ok;
  std::optional<std::string> error;      // the result's error code
  std::optional<nlohmann::json> result;  // subset of the result payload
};

// Expected state of the books: after a turn or at the end.
struct BooksExpectation {
  std::map<int64_t, int64_t> balances;                // Telegram id -> minor units
  std::map<std::string, int64_t> ledger;              // "type/status" -> rows (all users)
  std::optional<std::vector<nlohmann::json>> orders;  // every order by id, each a subset
  std::map<std::string, int64_t> order_states;        // state -> how many orders
  std::optional<nlohmann::json> reconciliation;       // "clean" or [{kind, user, ...}, ...]
  std::optional<int> registrar_creates;
  std::optional<std::vector<std::string>> registered;  // names the registrar holds, sorted
  bool empty() const;
};

struct TurnExpectation {
  std::optional<std::string> reply;  // exact
  std::vector<std::string> reply_contains;
  std::vector<std::string> reply_not_contains;
  std::vector<std::string> reply_matches;             // ECMAScript regular expressions, searched
  std::optional<bool> ok;                             // false: the user got the agent's apology
  std::optional<bool> refused;                        // some call in the turn failed
  std::optional<std::vector<CallExpectation>> calls;  // in order, exactly this many
  std::optional<std::vector<nlohmann::json>> ui;      // in order, each a subset
  std::optional<int> model_calls;
  std::optional<std::vector<std::string>> tools_offered;    // first model request of the turn
  std::optional<std::vector<std::string>> actions_offered;  // manage_deposit's action enum
  std::optional<nlohmann::json> recovery;  // subset of {checked, registered, refunded, ...}
  // Admin tools in chat: the turn sent a document (DocumentUi) whose content holds each string
  // (does not hold each string).
  std::vector<std::string> document_contains;
  std::vector<std::string> document_not_contains;
  BooksExpectation books;
};

struct FixtureTurn {
  // kBankNotification: a signed bank notice reaches the bank feed (its signature is the
  // transport's, not replayed).
  enum class Kind { kMessage, kPress, kRecovery, kAdvance, kBankNotification };
  enum class Button {
    kConfirmPurchase,
    kCancelPurchase,
    kConfirmDeposit,
    kRejectDeposit,
    // Admin tools in chat: the buttons of an /adjust.
    kConfirmAdjustment,
    kCancelAdjustment,
    // Bank feed: the buttons of an admin's bank notice.
    kPickBankMatch,
    kIgnoreBankNotice,
  };
  Kind kind = Kind::kMessage;
  std::string path;             // "$.turns[3]", for messages
  int64_t advance_seconds = 0;  // the fixed clock moves first
  int64_t from = 0;             // Telegram id of the speaker / presser
  std::string text;             // kMessage
  Button button = Button::kConfirmPurchase;
  std::optional<int64_t> target;  // order / transaction id; empty: the last one offered
  std::string reason;             // kRejectDeposit
  // Bank feed: the notice of a kBankNotification turn (the body as the bank sends it), and the
  // notification a kPickBankMatch / kIgnoreBankNotice press decides (empty: the last one).
  nlohmann::json bank_notification;
  std::optional<int64_t> notification;
  int64_t recovery_min_age_seconds = 0;
  nlohmann::json model = nlohmann::json::array();  // scripted replies, validated
  TurnExpectation expect;
};

struct Fixture {
  std::string name;
  std::string file;  // where it was read from; empty for an in-memory fixture
  std::string description;
  FixtureSettings settings;
  std::vector<FixtureUser> users;
  FixtureRegistrar::Script registrar;
  std::vector<FixtureTurn> turns;
  BooksExpectation end;

  const FixtureUser* FindUser(int64_t telegram_id) const;
};

// Parses and validates a fixture. Unknown keys, wrong types, unparsable amounts, turns from
// users the fixture does not list and model replies the scripted model would refuse are all
// kInvalid with a message that starts with the JSON path ("$.turns[2].expect.calls[0]: ...").
// `default_name` is used when the fixture has no "name".
Result<Fixture> ParseFixture(const nlohmann::json& j, const std::string& default_name = "fixture");

// Reads and parses a file; failures name the file (and the path inside it).
Result<Fixture> LoadFixture(const std::string& path);

}  // namespace depositbot
