#include "tools/bank_feed.h"

#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "common/log.h"
#include "db/deposit_store.h"
#include "db/user_store.h"

namespace depositbot {
namespace {

using nlohmann::json;

constexpr size_t kMaxReferenceLength = 100;
constexpr size_t kMaxNameBytes = 200;
constexpr int kMaxCandidates = 100;
// Candidates offered with buttons: a Telegram message holds a handful readably (and at most 100
// buttons); past it the admins use /pending.
constexpr size_t kMaxOffered = 10;

// Decodes one UTF-8 sequence at s[i]; an invalid byte is returned as itself (and compared so).
char32_t NextCodePoint(std::string_view s, size_t& i) {
  const auto b = static_cast<unsigned char>(s[i]);
  int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > s.size()) {
    ++i;
    return b;
  }
  char32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
  for (int k = 1; k < len; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) {
      ++i;
      return b;
    }
    cp = (cp << 6) | (c & 0x3F);
  }
  i += len;
  return cp;
}

void AppendUtf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool IsSpace(char32_t cp) {
  return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200B) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

bool IsDroppedPunctuation(char32_t cp) {
  switch (cp) {
    case '.':
    case ',':
    case '-':
    case '_':
    case '\'':
    case '"':
    case '(':
    case ')':
    case '/':
    case '&':
    case 0xB7:    // middle dot
    case 0x30FB:  // katakana middle dot
    case 0x2018:
    case 0x2019:
    case 0x201C:
    case 0x201D:
      return true;
    default:
      return cp >= 0x2010 && cp <= 0x2015;  // hyphens and dashes
  }
}

char32_t FoldCase(char32_t cp) {
  if (cp >= 'A' && cp <= 'Z') return cp + 0x20;
  if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 0x20;  // Latin-1 capitals
  // Latin Extended-A: capitals are the even code points, except the runs where they are odd.
  if ((cp >= 0x100 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177)) {
    return cp % 2 == 0 ? cp + 1 : cp;
  }
  if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) {
    return cp % 2 == 1 ? cp + 1 : cp;
  }
  if (cp == 0x178) return 0xFF;
  return cp;
}

std::string Capitalised(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

DecisionOutcome Refused(ExecutedCall call, const Error& error) {
  DecisionOutcome out;
  out.code = error.code;
  out.reply = "Sorry, that did not work: " + Capitalised(error.message) + ".";
  call.result = ToolResult::FromError(error);
  out.call = std::move(call);
  Log(LogLevel::kInfo, "bank_feed.decision_refused",
      {{"code", std::string(ErrorCodeName(error.code))}, {"reason", error.message}});
  return out;
}

ExecutedCall NoticeCall(std::string_view action, int64_t notification_id,
                        std::optional<int64_t> transaction_id) {
  ExecutedCall call;
  call.name = "bank_notification";
  json args = {{"action", action}, {"notification_id", notification_id}};
  if (transaction_id) args["transaction_id"] = *transaction_id;
  call.arguments = args.dump();
  return call;
}

}  // namespace

std::string NormalizeDepositorName(std::string_view name) {
  std::string out;
  size_t i = 0;
  while (i < name.size()) {
    char32_t cp = NextCodePoint(name, i);
    if (cp >= 0xFF01 && cp <= 0xFF5E) cp -= 0xFEE0;  // full-width ASCII
    if (IsSpace(cp) || IsDroppedPunctuation(cp)) continue;
    AppendUtf8(out, FoldCase(cp));
  }
  return out;
}

Result<BankNotice> ParseBankNotice(std::string_view body, int64_t max_amount_major) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Error::Invalid("the body is not valid JSON");
  if (!j.is_object()) return Error::Invalid("the body is not a JSON object");
  static const std::set<std::string> kKeys = {"amount", "currency", "depositor_name", "reference",
                                              "received_at"};
  for (const auto& [key, value] : j.items()) {
    if (!kKeys.count(key)) return Error::Invalid("unknown field \"" + key + "\"");
  }
  for (const char* key : {"amount", "currency", "depositor_name", "reference"}) {
    if (!j.contains(key)) return Error::Invalid(std::string("\"") + key + "\" is missing");
    if (!j[key].is_string()) return Error::Invalid(std::string("\"") + key + "\" must be a string");
  }
  BankNotice n;
  n.body = std::string(body);
  auto currency = Currency::FromCode(j["currency"].get<std::string>());
  if (!currency) return Error::Invalid("\"currency\": " + currency.error().message);
  n.currency = *currency;
  // Plain digits with an optional fraction: no sign, exponent, separator or space. The bank's
  // systems write amounts one way; anything else is a mistake to refuse, not to guess.
  const std::string amount = j["amount"].get<std::string>();
  static const std::regex kAmount("(0|[1-9][0-9]{0,17})(\\.([0-9]+))?");
  std::smatch m;
  if (!std::regex_match(amount, m, kAmount)) {
    return Error::Invalid("\"amount\" must be a positive decimal such as \"30000\" or \"12.50\"");
  }
  if (m[3].length() > n.currency.exponent) {
    return Error::Invalid("\"amount\" has more decimals than " + n.currency.code + " has (" +
                          std::to_string(n.currency.exponent) + ")");
  }
  auto minor = ParseDecimal(amount, n.currency.exponent);
  if (!minor) return Error::Invalid("\"amount\": " + minor.error().message);
  if (*minor <= 0) return Error::Invalid("\"amount\" must be greater than zero");
  int64_t max_minor = max_amount_major;
  for (int i = 0; i < n.currency.exponent; ++i) max_minor *= 10;
  if (*minor > max_minor) {
    return Error::Invalid("\"amount\" is above " + FormatAmount(max_minor, n.currency) +
                          ", more than one deposit can be");
  }
  n.amount = *minor;
  n.depositor_name = j["depositor_name"].get<std::string>();
  if (NormalizeDepositorName(n.depositor_name).empty()) {
    return Error::Invalid("\"depositor_name\" is empty");
  }
  if (n.depositor_name.size() > kMaxNameBytes) {
    return Error::Invalid("\"depositor_name\" is longer than " + std::to_string(kMaxNameBytes) +
                          " bytes");
  }
  n.reference = j["reference"].get<std::string>();
  static const std::regex kReference("[A-Za-z0-9._:/-]+");
  if (n.reference.empty() || n.reference.size() > kMaxReferenceLength ||
      !std::regex_match(n.reference, kReference)) {
    return Error::Invalid("\"reference\" must be 1 to " + std::to_string(kMaxReferenceLength) +
                          " of A-Z a-z 0-9 . _ : / -");
  }
  if (j.contains("received_at")) {
    const json& at = j["received_at"];
    if (!at.is_number_integer() || at.get<int64_t>() < 0) {
      return Error::Invalid("\"received_at\" must be unix seconds (a whole number)");
    }
    n.received_at = at.get<int64_t>();
  }
  return n;
}

json BankFeedResult::ToJson() const {
  static constexpr const char* kOutcomes[] = {"matched", "needs_admin", "duplicate"};
  json j = {{"outcome", kOutcomes[static_cast<int>(outcome)]},
            {"notification_id", notification_id},
            {"state", state}};
  if (transaction_id) j["transaction_id"] = *transaction_id;
  if (!reason.empty()) j["reason"] = reason;
  return j;
}

BankFeed::BankFeed(DepositStore& deposits, BankNotificationStore& notices, UserStore& users,
                   const Clock& clock, Options options)
    : deposits_(deposits),
      notices_(notices),
      users_(users),
      clock_(clock),
      options_(std::move(options)) {}

std::string BankFeed::Format(int64_t amount, const std::string& currency_code) const {
  auto c = Currency::FromCode(currency_code);
  return FormatAmount(amount, c ? *c : options_.currency);
}

DepositDecidedUi BankFeed::DecidedUi(const DepositTransaction& t, const std::string& reference,
                                     int64_t admin_telegram_id,
                                     const std::string& admin_name) const {
  DepositDecidedUi ui;
  ui.transaction_id = t.id;
  ui.confirmed = true;
  ui.amount_formatted = FormatAmount(t.amount, options_.currency);
  ui.admin_telegram_id = admin_telegram_id;
  ui.admin_name = admin_name;
  ui.decided_via = "bank-feed";
  ui.bank_reference = reference;
  if (auto u = users_.FindById(t.user_id)) {
    ui.user_telegram_id = u->telegram_id;
    ui.user_name = u->display_name;
  }
  if (auto a = deposits_.GetAccount(t.user_id)) {
    ui.user_balance_formatted = FormatAmount(a->balance, options_.currency);
  }
  return ui;
}

BankNoticeUi BankFeed::NoticeUi(const BankNotification& n, std::string reason,
                                const std::vector<DepositTransaction>& candidates) const {
  BankNoticeUi ui;
  ui.notification_id = n.id;
  ui.reference = n.reference;
  ui.amount_formatted = Format(n.amount, n.currency);
  ui.depositor_name = n.depositor_name;
  ui.reason = std::move(reason);
  if (candidates.size() > kMaxOffered) {
    ui.reason += " (the oldest " + std::to_string(kMaxOffered) + " of " +
                 std::to_string(candidates.size()) + " are shown; /pending lists all)";
  }
  for (const auto& t : candidates) {
    if (ui.candidates.size() == kMaxOffered) break;
    BankCandidateUi c;
    c.transaction_id = t.id;
    c.depositor_name = t.depositor_name.value_or("");
    if (auto u = users_.FindById(t.user_id)) {
      c.user_telegram_id = u->telegram_id;
      c.user_name = u->display_name;
    }
    ui.candidates.push_back(std::move(c));
  }
  return ui;
}

Result<BankFeedResult> BankFeed::Receive(const BankNotice& notice) {
  BankNotification n;
  n.reference = notice.reference;
  n.amount = notice.amount;
  n.currency = notice.currency.code;
  n.depositor_name = notice.depositor_name;
  n.depositor_key = NormalizeDepositorName(notice.depositor_name);
  n.received_at = notice.received_at.value_or(clock_.NowSeconds());
  n.body = notice.body;
  auto recorded = notices_.Record(n);
  if (!recorded) return recorded.error();
  const BankNotification& stored = recorded->first;
  BankFeedResult out;
  out.notification_id = stored.id;
  out.state = std::string(ToString(stored.state));
  out.transaction_id = stored.transaction_id;
  if (!recorded->second) {
    out.outcome = BankFeedResult::Outcome::kDuplicate;
    if (stored.amount != n.amount || stored.currency != n.currency ||
        stored.depositor_key != n.depositor_key) {
      // The bank (or someone with the secret) reused a reference for another transfer: nothing
      // changes, but a person should look at it.
      out.reason = "reference " + n.reference + " was already used for " +
                   Format(stored.amount, stored.currency) + " from " + stored.depositor_name +
                   "; this notice (" + Format(n.amount, n.currency) + " from " + n.depositor_name +
                   ") was not recorded";
      Log(LogLevel::kWarn, "bank_feed.reference_reused",
          {{"reference", n.reference},
           {"notification_id", std::to_string(stored.id)},
           {"amount", std::to_string(n.amount)},
           {"recorded_amount", std::to_string(stored.amount)}});
      BankNoticeUi ui = NoticeUi(
          stored, "the same bank reference came again with other details: " + out.reason, {});
      ui.decidable = false;
      out.ui.push_back(std::move(ui));
    } else {
      Log(LogLevel::kInfo, "bank_feed.duplicate",
          {{"reference", n.reference}, {"notification_id", std::to_string(stored.id)}});
    }
    return out;
  }
  Log(LogLevel::kInfo, "bank_feed.recorded",
      {{"reference", n.reference},
       {"notification_id", std::to_string(stored.id)},
       {"amount", std::to_string(n.amount)},
       {"currency", n.currency}});
  if (stored.currency != options_.currency.code) {
    out.outcome = BankFeedResult::Outcome::kNeedsAdmin;
    out.reason = "no match: currency differs (the notice is in " + stored.currency +
                 ", deposits are in " + options_.currency.code + ")";
    out.ui.push_back(NoticeUi(stored, out.reason, {}));
    return out;
  }
  auto lock = notices_.LockMatching();
  if (!lock) return lock.error();
  return MatchLocked(stored, /*fresh=*/true, /*may_mark_ambiguous=*/true);
}

Result<BankFeedResult> BankFeed::MatchLocked(const BankNotification& n, bool fresh,
                                             bool may_mark_ambiguous) {
  BankFeedResult out;
  out.notification_id = n.id;
  out.outcome = BankFeedResult::Outcome::kNeedsAdmin;
  out.state = std::string(ToString(n.state));
  auto pending = deposits_.PendingOfAmount(n.amount, kMaxCandidates);
  if (!pending) return pending.error();
  std::vector<DepositTransaction> same, others;
  for (const auto& t : *pending) {
    (NormalizeDepositorName(t.depositor_name.value_or("")) == n.depositor_key ? same : others)
        .push_back(t);
  }
  if (same.size() == 1) {
    const int64_t tx = same[0].id;
    auto confirmed = deposits_.ConfirmFromBank(
        tx, n.reference, std::nullopt,
        [&](StoreTransaction& in) { return notices_.MarkMatchedIn(in, n.id, tx, std::nullopt); });
    if (confirmed) {
      Log(LogLevel::kInfo, "bank_feed.matched",
          {{"reference", n.reference},
           {"notification_id", std::to_string(n.id)},
           {"transaction_id", std::to_string(tx)}});
      out.outcome = BankFeedResult::Outcome::kMatched;
      out.state = "matched";
      out.transaction_id = tx;
      DepositDecidedUi decided = DecidedUi(*confirmed, n.reference, 0, "");
      if (fresh) {
        out.ui.push_back(std::move(decided));
      } else {
        BankNoticeDecidedUi ui;
        ui.notification_id = n.id;
        ui.reference = n.reference;
        ui.state = "matched";
        ui.deposit = std::move(decided);
        out.ui.push_back(std::move(ui));
      }
      return out;
    }
    if (confirmed.code() != ErrorCode::kFailedPrecondition) return confirmed.error();
    // Decided meanwhile by a person, or this notice by another process: what is now true?
    Log(LogLevel::kInfo, "bank_feed.match_lost",
        {{"reference", n.reference}, {"reason", confirmed.error().message}});
    auto now = notices_.Get(n.id);
    if (!now) return now.error();
    out.state = std::string(ToString(now->state));
    if (now->state == BankNotification::State::kMatched) {
      out.outcome = BankFeedResult::Outcome::kMatched;
      out.transaction_id = now->transaction_id;
      return out;
    }
    if (!fresh) return out;
    out.reason = "no match: the one matching deposit #" + std::to_string(tx) +
                 " was decided at the same moment (" + confirmed.error().message + ")";
    out.ui.push_back(NoticeUi(*now, out.reason, {}));
    return out;
  }
  if (same.size() > 1) {
    if (!may_mark_ambiguous) return out;
    if (auto st = notices_.MarkAmbiguous(n.id); !st) {
      if (st.code() != ErrorCode::kFailedPrecondition) return st.error();
      return out;  // decided meanwhile: the admins were told by whoever decided it
    }
    out.state = "ambiguous";
    out.reason = "several pending deposits match (" + std::to_string(same.size()) + ")";
    Log(LogLevel::kInfo, "bank_feed.ambiguous",
        {{"reference", n.reference}, {"candidates", std::to_string(same.size())}});
    out.ui.push_back(NoticeUi(n, out.reason, same));
    return out;
  }
  if (fresh) {
    out.reason = others.empty() ? "no pending deposit matches yet; it is matched when the "
                                  "user's request comes"
                                : "no pending deposit has this name; these have the amount";
    Log(LogLevel::kInfo, "bank_feed.unmatched",
        {{"reference", n.reference}, {"same_amount", std::to_string(others.size())}});
    out.ui.push_back(NoticeUi(n, out.reason, others));
  }
  return out;
}

Result<std::optional<std::pair<DepositTransaction, UiEvent>>> BankFeed::MatchRequested(
    const DepositTransaction& deposit) {
  using Found = std::optional<std::pair<DepositTransaction, UiEvent>>;
  if (deposit.type != TransactionType::kDeposit || deposit.status != TransactionStatus::kPending) {
    return Found();
  }
  auto lock = notices_.LockMatching();
  if (!lock) return lock.error();
  auto open = notices_.Unmatched(options_.currency.code, deposit.amount, kMaxCandidates);
  if (!open) return open.error();
  const std::string key = NormalizeDepositorName(deposit.depositor_name.value_or(""));
  std::vector<BankNotification> mine;
  for (const auto& n : *open) {
    if (n.depositor_key == key) mine.push_back(n);
  }
  // Several notices of this amount and name: which transfer this request is, is for a person.
  if (mine.size() != 1) return Found();
  // Another pending deposit with this name and amount leaves it to the sweep, which marks the
  // notice ambiguous and offers the admins both (this answer can carry only one event).
  auto r = MatchLocked(mine[0], /*fresh=*/false, /*may_mark_ambiguous=*/false);
  if (!r) return r.error();
  if (r->outcome != BankFeedResult::Outcome::kMatched || r->transaction_id != deposit.id ||
      r->ui.empty()) {
    return Found();
  }
  auto* decided = std::get_if<BankNoticeDecidedUi>(&r->ui.front());
  if (decided) decided->tell_user = false;
  auto confirmed = deposits_.GetTransaction(deposit.id);
  if (!confirmed) return confirmed.error();
  return Found(std::make_pair(*confirmed, r->ui.front()));
}

Result<std::vector<UiEvent>> BankFeed::Sweep() {
  std::vector<UiEvent> out;
  auto lock = notices_.LockMatching();
  if (!lock) return lock.error();
  auto open = notices_.Unmatched(options_.currency.code, std::nullopt, kMaxCandidates);
  if (!open) return open.error();
  for (const auto& n : *open) {
    auto r = MatchLocked(n, /*fresh=*/false, /*may_mark_ambiguous=*/true);
    if (!r) return r.error();
    for (auto& ui : r->ui) out.push_back(std::move(ui));
  }
  return out;
}

DecisionOutcome BankFeed::Pick(const ToolContext& who, int64_t notification_id,
                               int64_t transaction_id) const {
  ExecutedCall call = NoticeCall("pick", notification_id, transaction_id);
  if (!who.is_admin) {
    return Refused(std::move(call), Error::Forbidden("only admins can decide bank notifications"));
  }
  auto n = notices_.Get(notification_id);
  if (!n) return Refused(std::move(call), n.error());
  if (!n->open()) {
    std::string what = "bank notification #" + std::to_string(notification_id) + " is already " +
                       std::string(ToString(n->state));
    if (n->transaction_id) what += " with deposit #" + std::to_string(*n->transaction_id);
    return Refused(std::move(call), Error::FailedPrecondition(what + "; nothing was changed"));
  }
  if (n->currency != options_.currency.code) {
    return Refused(std::move(call), Error::FailedPrecondition(
                                        "bank notification #" + std::to_string(notification_id) +
                                        " is in " + n->currency + ", deposits are in " +
                                        options_.currency.code + "; nothing was changed"));
  }
  // From here on the notice is still open: a refusal leaves its buttons for another candidate.
  auto still_open = [](DecisionOutcome out) {
    out.buttons_stay = true;
    return out;
  };
  auto t = deposits_.GetTransaction(transaction_id);
  if (!t) return still_open(Refused(std::move(call), t.error()));
  if (t->type != TransactionType::kDeposit || t->amount != n->amount) {
    return still_open(
        Refused(std::move(call),
                Error::FailedPrecondition("transaction #" + std::to_string(transaction_id) +
                                          " is not a deposit of " + Format(n->amount, n->currency) +
                                          "; nothing was changed")));
  }
  auto lock = notices_.LockMatching();
  if (!lock) return still_open(Refused(std::move(call), lock.error()));
  auto confirmed = deposits_.ConfirmFromBank(
      transaction_id, n->reference, who.telegram_id, [&](StoreTransaction& in) {
        return notices_.MarkMatchedIn(in, notification_id, transaction_id, who.telegram_id);
      });
  if (!confirmed) {
    DecisionOutcome out = Refused(std::move(call), confirmed.error());
    auto now = notices_.Get(notification_id);
    out.buttons_stay = now && now->open();
    return out;
  }
  Log(LogLevel::kInfo, "bank_feed.picked",
      {{"reference", n->reference},
       {"transaction_id", std::to_string(transaction_id)},
       {"admin", std::to_string(who.telegram_id)}});
  BankNoticeDecidedUi ui;
  ui.notification_id = notification_id;
  ui.reference = n->reference;
  ui.state = "matched";
  ui.admin_telegram_id = who.telegram_id;
  ui.admin_name = who.display_name;
  ui.deposit = DecidedUi(*confirmed, n->reference, who.telegram_id, who.display_name);
  DecisionOutcome out;
  out.ok = true;
  out.reply = "Deposit #" + std::to_string(transaction_id) + " of " + ui.deposit->amount_formatted +
              " confirmed for bank transfer " + n->reference +
              (ui.deposit->user_name.empty() ? std::string() : " from " + ui.deposit->user_name) +
              ".";
  call.result = ToolResult::Success({{"action", "pick"},
                                     {"notification_id", notification_id},
                                     {"transaction_id", transaction_id},
                                     {"state", "matched"}});
  out.call = std::move(call);
  out.ui = std::move(ui);
  return out;
}

DecisionOutcome BankFeed::Ignore(const ToolContext& who, int64_t notification_id) const {
  ExecutedCall call = NoticeCall("ignore", notification_id, std::nullopt);
  if (!who.is_admin) {
    return Refused(std::move(call), Error::Forbidden("only admins can decide bank notifications"));
  }
  auto n = notices_.Ignore(notification_id, who.telegram_id);
  if (!n) return Refused(std::move(call), n.error());
  Log(LogLevel::kInfo, "bank_feed.ignored",
      {{"reference", n->reference}, {"admin", std::to_string(who.telegram_id)}});
  BankNoticeDecidedUi ui;
  ui.notification_id = notification_id;
  ui.reference = n->reference;
  ui.state = "ignored";
  ui.admin_telegram_id = who.telegram_id;
  ui.admin_name = who.display_name;
  DecisionOutcome out;
  out.ok = true;
  out.reply = "Bank transfer " + n->reference + " ignored; no deposit was confirmed for it.";
  call.result = ToolResult::Success(
      {{"action", "ignore"}, {"notification_id", notification_id}, {"state", "ignored"}});
  out.call = std::move(call);
  out.ui = std::move(ui);
  return out;
}

}  // namespace depositbot
