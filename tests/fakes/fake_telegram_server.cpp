#include "tests/fakes/fake_telegram_server.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "common/http_client.h"
#include "tests/fakes/loopback_server.h"

namespace depositbot::testing {
namespace {

using nlohmann::json;

constexpr size_t kMessageLimit = 4096;
constexpr size_t kCallbackDataLimit = 64;
constexpr int64_t kFirstCallbackId = 2633112476582991000;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// UTF-16 length of UTF-8 text, written independently of the client's so that a bug there
// cannot hide behind the same bug here: every code point is one unit, four-byte ones two.
size_t Utf16Units(const std::string& s) {
  size_t units = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) == 0x80) continue;  // continuation byte
    units += (c & 0xF8) == 0xF0 ? 2 : 1;
  }
  return units;
}

void AppendUtf8(std::string& out, uint32_t v) {
  if (v < 0x80) {
    out += static_cast<char>(v);
  } else if (v < 0x800) {
    out += static_cast<char>(0xC0 | (v >> 6));
    out += static_cast<char>(0x80 | (v & 0x3F));
  } else if (v < 0x10000) {
    out += static_cast<char>(0xE0 | (v >> 12));
    out += static_cast<char>(0x80 | ((v >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (v & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (v >> 18));
    out += static_cast<char>(0x80 | ((v >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((v >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (v & 0x3F));
  }
}

// Parses parse_mode HTML the way Telegram does (reference §5): supported tags only, balanced,
// the four named entities and numeric ones. On success `visible` is the text after entity
// parsing; on failure `error` is Telegram's wording after "can't parse entities: ".
bool ParseHtml(const std::string& s, std::string& visible, std::string& error) {
  static const std::set<std::string> kTags = {
      "b",   "strong", "i", "em",   "u",   "ins",        "s",          "strike",
      "del", "span",   "a", "code", "pre", "blockquote", "tg-spoiler", "tg-emoji"};
  std::vector<std::string> open;
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    if (c == '<') {
      size_t gt = s.find('>', i);
      if (gt == std::string::npos) {
        error = "Can't find end of the tag starting at byte offset " + std::to_string(i);
        return false;
      }
      std::string inner = s.substr(i + 1, gt - i - 1);
      bool closing = !inner.empty() && inner[0] == '/';
      std::string rest = closing ? inner.substr(1) : inner;
      size_t name_end = 0;
      while (name_end < rest.size() &&
             (std::isalnum(static_cast<unsigned char>(rest[name_end])) || rest[name_end] == '-')) {
        ++name_end;
      }
      std::string name = Lower(rest.substr(0, name_end));
      if (closing) {
        if (open.empty()) {
          error = "Unexpected end tag at byte offset " + std::to_string(i);
          return false;
        }
        if (open.back() != name) {
          error = "Unmatched end tag at byte offset " + std::to_string(i) + ", expected \"</" +
                  open.back() + ">\", found \"</" + name + ">\"";
          return false;
        }
        open.pop_back();
      } else {
        if (name.empty() || !kTags.count(name)) {
          error = "Unsupported start tag \"" + name + "\" at byte offset " + std::to_string(i);
          return false;
        }
        if (name == "span" && rest.find("tg-spoiler") == std::string::npos) {
          error = "Tag \"span\" must have class \"tg-spoiler\" at byte offset " + std::to_string(i);
          return false;
        }
        open.push_back(name);
      }
      i = gt + 1;
      continue;
    }
    if (c == '>') {
      // Telegram accepts a bare '>' in text.
      visible += c;
      ++i;
      continue;
    }
    if (c == '&') {
      size_t semi = s.find(';', i);
      if (semi != std::string::npos && semi - i <= 10 && semi - i >= 2) {
        std::string name = s.substr(i + 1, semi - i - 1);
        bool word = std::all_of(name.begin(), name.end(),
                                [](unsigned char ch) { return std::isalnum(ch) || ch == '#'; });
        if (word) {
          if (name == "amp") {
            visible += '&';
          } else if (name == "lt") {
            visible += '<';
          } else if (name == "gt") {
            visible += '>';
          } else if (name == "quot") {
            visible += '"';
          } else if (name[0] == '#') {
            bool hex = name.size() > 1 && (name[1] == 'x' || name[1] == 'X');
            std::string digits = name.substr(hex ? 2 : 1);
            char* end = nullptr;
            unsigned long v = std::strtoul(digits.c_str(), &end, hex ? 16 : 10);
            if (digits.empty() || *end != '\0' || v == 0 || v > 0x10FFFF ||
                (v >= 0xD800 && v <= 0xDFFF)) {
              error =
                  "Unsupported HTML entity \"&" + name + ";\" at byte offset " + std::to_string(i);
              return false;
            }
            AppendUtf8(visible, static_cast<uint32_t>(v));
          } else {
            error =
                "Unsupported HTML entity \"&" + name + ";\" at byte offset " + std::to_string(i);
            return false;
          }
          i = semi + 1;
          continue;
        }
      }
    }
    visible += c;
    ++i;
  }
  if (!open.empty()) {
    error = "Can't find end tag corresponding to start tag \"" + open.back() + "\"";
    return false;
  }
  return true;
}

bool IsBlank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

bool ToInt(const json& v, int64_t& out) {
  if (v.is_number_integer()) {
    out = v.get<int64_t>();
    return true;
  }
  if (!v.is_string()) return false;
  const std::string s = v.get<std::string>();
  if (s.empty() || s.size() > 20) return false;
  size_t k = s[0] == '-' ? 1 : 0;
  if (k == s.size() || !std::all_of(s.begin() + static_cast<std::ptrdiff_t>(k), s.end(),
                                    [](unsigned char c) { return std::isdigit(c); })) {
    return false;
  }
  try {
    out = std::stoll(s);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

// A multipart part that came with a filename: a file upload.
struct UploadedFile {
  std::string filename;
  std::string content_type;
  std::string content;
};

// Parameters arrive as JSON values or strings (query, form); these read both.
struct Params {
  json j = json::object();
  std::map<std::string, UploadedFile> files;  // multipart uploads, by parameter name

  bool Has(const char* key) const { return j.contains(key) && !j[key].is_null(); }
  bool Int(const char* key, int64_t& out) const { return Has(key) && ToInt(j[key], out); }
  int64_t IntOr(const char* key, int64_t fallback) const {
    int64_t v = fallback;
    return Int(key, v) ? v : fallback;
  }
  std::string Str(const char* key) const {
    if (!Has(key)) return "";
    return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
  }
  bool Bool(const char* key) const {
    if (!Has(key)) return false;
    const json& v = j[key];
    if (v.is_boolean()) return v.get<bool>();
    if (v.is_number_integer()) return v.get<int64_t>() != 0;
    std::string s = Lower(Str(key));
    return s == "true" || s == "1" || s == "yes";
  }
  // A complex parameter: a JSON value, or a string holding JSON. Discarded when unreadable.
  json Json(const char* key) const {
    if (!Has(key)) return nullptr;
    if (j[key].is_string()) return json::parse(j[key].get<std::string>(), nullptr, false);
    return j[key];
  }
};

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  int retry_after = 0;
};

Reply Ok(const json& result, const std::string& description = "") {
  json body = {{"ok", true}, {"result", result}};
  if (!description.empty()) body["description"] = description;
  return Reply{200, body.dump(), "application/json", 0};
}

Reply Err(int status, const std::string& description, const json& parameters = nullptr) {
  json body = {{"ok", false}, {"error_code", status}, {"description", description}};
  if (!parameters.is_null()) body["parameters"] = parameters;
  Reply r{status, body.dump(), "application/json", 0};
  if (parameters.is_object() && parameters.contains("retry_after")) {
    r.retry_after = parameters["retry_after"].get<int>();
  }
  return r;
}

const char* kBadGatewayPage =
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad "
    "Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n";

json ChatJson(int64_t chat_id, const FakeTelegramUser* user) {
  if (chat_id > 0) {
    json c = {{"id", chat_id}, {"type", "private"}};
    if (user != nullptr) {
      c["first_name"] = user->first_name;
      if (!user->last_name.empty()) c["last_name"] = user->last_name;
      if (!user->username.empty()) c["username"] = user->username;
    } else {
      c["first_name"] = "User";
    }
    return c;
  }
  bool super = chat_id <= -1000000000000;
  return {{"id", chat_id}, {"type", super ? "supergroup" : "group"}, {"title", "Test group"}};
}

// Checks an inline keyboard as Telegram does; "" when fine, else the error description.
std::string CheckKeyboard(const json& markup) {
  if (markup.is_discarded() || !markup.is_object()) {
    return "Bad Request: can't parse reply keyboard markup JSON object";
  }
  if (!markup.contains("inline_keyboard")) return "";  // other keyboard kinds: not checked
  const json& rows = markup["inline_keyboard"];
  if (!rows.is_array()) return "Bad Request: field \"inline_keyboard\" must be of type Array";
  for (const json& row : rows) {
    if (!row.is_array()) return "Bad Request: field \"inline_keyboard\" must be of type Array";
    for (const json& b : row) {
      if (!b.is_object() || !b.contains("text") || !b["text"].is_string()) {
        return "Bad Request: can't parse inline keyboard button: Text must be non-empty";
      }
      if (b.contains("callback_data")) {
        if (!b["callback_data"].is_string()) return "Bad Request: BUTTON_DATA_INVALID";
        size_t n = b["callback_data"].get<std::string>().size();
        if (n == 0 || n > kCallbackDataLimit) return "Bad Request: BUTTON_DATA_INVALID";
      } else if (!b.contains("url")) {
        return "Bad Request: can't parse inline keyboard button: InlineKeyboardButton must "
               "have exactly one optional field";
      }
    }
  }
  return "";
}

}  // namespace

json FakeTelegramUser::ToJson() const {
  json j = {{"id", id}, {"is_bot", is_bot}, {"first_name", first_name}};
  if (!last_name.empty()) j["last_name"] = last_name;
  if (!username.empty()) j["username"] = username;
  if (!language_code.empty()) j["language_code"] = language_code;
  return j;
}

FakeTelegramServer::Fault FakeTelegramServer::Fault::TooManyRequests(int retry_after_s) {
  Fault f;
  f.type = Type::kTooManyRequests;
  f.retry_after = retry_after_s;
  return f;
}
FakeTelegramServer::Fault FakeTelegramServer::Fault::Blocked() {
  Fault f;
  f.type = Type::kBlocked;
  return f;
}
FakeTelegramServer::Fault FakeTelegramServer::Fault::EntityError() {
  Fault f;
  f.type = Type::kEntityError;
  return f;
}
FakeTelegramServer::Fault FakeTelegramServer::Fault::InternalError() {
  Fault f;
  f.type = Type::kInternalError;
  return f;
}
FakeTelegramServer::Fault FakeTelegramServer::Fault::BadGatewayHtml() {
  Fault f;
  f.type = Type::kBadGatewayHtml;
  return f;
}
FakeTelegramServer::Fault FakeTelegramServer::Fault::Error(int status, std::string description) {
  Fault f;
  f.type = Type::kError;
  f.status = status;
  f.description = std::move(description);
  return f;
}
FakeTelegramServer::Fault FakeTelegramServer::Fault::Hang() {
  Fault f;
  f.type = Type::kHang;
  return f;
}

FakeTelegramServer::Fault FakeTelegramServer::Fault::Pass() {
  Fault f;
  f.type = Type::kPass;
  return f;
}

struct FakeTelegramServer::Impl {
  struct Stored {
    int64_t chat_id = 0;
    std::string visible_text;
    json reply_markup;  // null: none
  };
  struct Queued {
    int64_t id = 0;
    json update;
  };

  Options options;
  httplib::Server server;
  BurstAccept burst;  // a throughput test opens hundreds of connections at once
  std::thread thread;
  int port = 0;

  mutable std::mutex mu;
  mutable std::condition_variable cv;
  bool shutting_down = false;
  uint64_t release_generation = 0;
  uint64_t poll_generation = 0;
  int parked_polls = 0;
  int hung_requests = 0;  // kHang faults not answered yet

  std::deque<Queued> queue;
  int64_t next_update_id = 1;
  int64_t confirmed_offset = 0;
  int64_t next_message_id = 1;
  int64_t next_callback = 1;
  std::map<int64_t, Stored> messages;
  std::set<std::string> open_callbacks;
  std::set<int64_t> blocked;
  std::string webhook_url;
  std::string webhook_secret;
  std::vector<std::string> allowed_updates;
  std::map<std::string, std::deque<Fault>> faults;

  std::vector<FakeSentMessage> sent;
  std::vector<FakeSentDocument> documents;
  std::vector<FakeMessageEdit> edits;
  std::vector<FakeCallbackAnswer> answers;
  std::vector<FakeChatAction> actions;
  std::vector<FakeTelegramCall> calls;

  void Handle(const httplib::Request& req, httplib::Response& res);
  Reply Dispatch(const std::string& method, const Params& p, std::unique_lock<std::mutex>& lock);
  Reply ApplyFault(const Fault& f, std::unique_lock<std::mutex>& lock);
  Reply GetUpdates(const Params& p, std::unique_lock<std::mutex>& lock);
  Reply SendMessage(const Params& p);
  Reply EditMessage(const std::string& method, const Params& p);
  Reply AnswerCallbackQuery(const Params& p);
  Reply SendChatAction(const Params& p);
  Reply SendDocument(const Params& p);
  Reply SetWebhook(const Params& p);
  Reply DeleteWebhook(const Params& p);
  Reply GetWebhookInfo() const;
  // Checks text + parse_mode; fills `visible` or returns the 400 to send.
  std::optional<Reply> CheckText(const Params& p, std::string& visible) const;
  json MessageJson(int64_t message_id, const Stored& m) const;

  int64_t Enqueue(json update);  // mu held
  json MessageUpdate(const char* key, const FakeTelegramUser& from, int64_t chat_id,
                     int64_t message_id, const std::string& text);  // mu held
  json CallbackUpdate(const FakeTelegramUser& from, int64_t message_id, const std::string& data,
                      std::string& callback_id);  // mu held
};

std::optional<Reply> FakeTelegramServer::Impl::CheckText(const Params& p,
                                                         std::string& visible) const {
  visible.clear();
  std::string text = p.Str("text");
  std::string mode = Lower(p.Str("parse_mode"));
  if (text.empty()) return Err(400, "Bad Request: message text is empty");
  if (mode == "html") {
    std::string error;
    if (!ParseHtml(text, visible, error)) {
      return Err(400, "Bad Request: can't parse entities: " + error);
    }
  } else if (mode.empty() || mode == "markdown" || mode == "markdownv2") {
    visible = text;  // Markdown is not checked by the fake
  } else {
    return Err(400, "Bad Request: unsupported parse_mode");
  }
  if (IsBlank(visible)) return Err(400, "Bad Request: message text is empty");
  if (Utf16Units(visible) > kMessageLimit) return Err(400, "Bad Request: message is too long");
  return std::nullopt;
}

json FakeTelegramServer::Impl::MessageJson(int64_t message_id, const Stored& m) const {
  json j = {{"message_id", message_id},
            {"from", options.bot.ToJson()},
            {"chat", ChatJson(m.chat_id, nullptr)},
            {"date", NowSeconds()},
            {"text", m.visible_text}};
  if (!m.reply_markup.is_null()) j["reply_markup"] = m.reply_markup;
  return j;
}

int64_t FakeTelegramServer::Impl::Enqueue(json update) {
  int64_t id = 0;
  if (update.is_object() && update.contains("update_id") &&
      update["update_id"].is_number_integer()) {
    id = update["update_id"].get<int64_t>();
    next_update_id = std::max(next_update_id, id + 1);
  } else {
    id = next_update_id++;
    if (update.is_object() && !update.contains("update_id")) update["update_id"] = id;
  }
  queue.push_back({id, std::move(update)});
  cv.notify_all();
  return id;
}

json FakeTelegramServer::Impl::MessageUpdate(const char* key, const FakeTelegramUser& from,
                                             int64_t chat_id, int64_t message_id,
                                             const std::string& text) {
  json m = {{"message_id", message_id},
            {"from", from.ToJson()},
            {"chat", ChatJson(chat_id, chat_id == from.id ? &from : nullptr)},
            {"date", NowSeconds()},
            {"text", text}};
  if (!text.empty() && text[0] == '/') {
    size_t len = std::min(text.find(' '), text.size());
    m["entities"] = json::array(
        {{{"offset", 0}, {"length", Utf16Units(text.substr(0, len))}, {"type", "bot_command"}}});
  }
  if (std::string(key) == "edited_message") m["edit_date"] = NowSeconds();
  return {{"update_id", next_update_id++}, {key, std::move(m)}};
}

json FakeTelegramServer::Impl::CallbackUpdate(const FakeTelegramUser& from, int64_t message_id,
                                              const std::string& data, std::string& callback_id) {
  callback_id = std::to_string(kFirstCallbackId + next_callback++);
  open_callbacks.insert(callback_id);
  Stored m{from.id, "", nullptr};
  if (auto it = messages.find(message_id); it != messages.end()) m = it->second;
  json message = MessageJson(message_id, m);
  message["chat"] = ChatJson(m.chat_id, m.chat_id == from.id ? &from : nullptr);
  json q = {{"id", callback_id},
            {"from", from.ToJson()},
            {"message", std::move(message)},
            {"chat_instance", "-7451928374659102834"},
            {"data", data}};
  return {{"update_id", next_update_id++}, {"callback_query", std::move(q)}};
}

void FakeTelegramServer::Impl::Handle(const httplib::Request& req, httplib::Response& res) {
  const std::string token = req.matches[1];
  const std::string method = Lower(req.matches[2]);
  Params p;
  for (const auto& [k, v] : req.params) p.j[k] = v;
  for (const auto& [k, f] : req.files) {
    if (f.filename.empty()) {
      p.j[k] = f.content;
      continue;
    }
    // An upload: recorded in the calls by its name and size, not its bytes.
    p.files[k] = UploadedFile{f.filename, f.content_type, f.content};
    p.j[k] = {{"file_name", f.filename}, {"mime_type", f.content_type}, {"size", f.content.size()}};
  }
  Reply reply;
  bool bad_body = false;
  if (req.get_header_value("Content-Type").find("application/json") == 0 && !req.body.empty()) {
    json body = json::parse(req.body, nullptr, false);
    if (!body.is_object()) {
      bad_body = true;
    } else {
      for (auto& [k, v] : body.items()) p.j[k] = v;
    }
  }

  std::unique_lock<std::mutex> lock(mu);
  calls.push_back({method, p.j, 0});
  size_t index = calls.size() - 1;
  if (token != options.token) {
    reply = token.find(':') == std::string::npos ? Err(404, "Not Found") : Err(401, "Unauthorized");
  } else if (bad_body) {
    reply = Err(400, "Bad Request: JSON body must be an object");
  } else if (auto it = faults.find(method); it != faults.end() && !it->second.empty()) {
    Fault f = it->second.front();
    it->second.pop_front();
    reply = f.type == Fault::Type::kPass ? Dispatch(method, p, lock) : ApplyFault(f, lock);
  } else {
    reply = Dispatch(method, p, lock);
  }
  calls[index].http_status = reply.status;
  cv.notify_all();
  lock.unlock();

  res.status = reply.status;
  if (reply.retry_after > 0) res.set_header("Retry-After", std::to_string(reply.retry_after));
  res.set_content(reply.body, reply.content_type.c_str());
}

Reply FakeTelegramServer::Impl::ApplyFault(const Fault& f, std::unique_lock<std::mutex>& lock) {
  switch (f.type) {
    case Fault::Type::kTooManyRequests:
      return Err(429, "Too Many Requests: retry after " + std::to_string(f.retry_after),
                 {{"retry_after", f.retry_after}});
    case Fault::Type::kBlocked:
      return Err(403, "Forbidden: bot was blocked by the user");
    case Fault::Type::kEntityError:
      return Err(400,
                 "Bad Request: can't parse entities: Can't find end of the entity starting at "
                 "byte offset 0");
    case Fault::Type::kInternalError:
      return Err(500, "Internal Server Error");
    case Fault::Type::kBadGatewayHtml:
      return Reply{502, kBadGatewayPage, "text/html", 0};
    case Fault::Type::kError:
      return Err(f.status, f.description);
    case Fault::Type::kHang: {
      uint64_t gen = release_generation;
      ++hung_requests;
      cv.notify_all();
      cv.wait(lock, [&] { return shutting_down || release_generation != gen; });
      --hung_requests;
      return Err(504, "Gateway Timeout");
    }
    case Fault::Type::kPass:
      break;
  }
  return Err(500, "Internal Server Error");
}

Reply FakeTelegramServer::Impl::Dispatch(const std::string& method, const Params& p,
                                         std::unique_lock<std::mutex>& lock) {
  if (method == "getme") {
    json me = options.bot.ToJson();
    me["can_join_groups"] = true;
    me["can_read_all_group_messages"] = false;
    me["supports_inline_queries"] = false;
    return Ok(me);
  }
  if (method == "getupdates") return GetUpdates(p, lock);
  if (method == "sendmessage") return SendMessage(p);
  if (method == "editmessagetext" || method == "editmessagereplymarkup") {
    return EditMessage(method, p);
  }
  if (method == "answercallbackquery") return AnswerCallbackQuery(p);
  if (method == "sendchataction") return SendChatAction(p);
  if (method == "senddocument") return SendDocument(p);
  if (method == "setwebhook") return SetWebhook(p);
  if (method == "deletewebhook") return DeleteWebhook(p);
  if (method == "getwebhookinfo") return GetWebhookInfo();
  return Err(404, "Not Found: method not found");
}

Reply FakeTelegramServer::Impl::GetUpdates(const Params& p, std::unique_lock<std::mutex>& lock) {
  if (!webhook_url.empty()) {
    return Err(409,
               "Conflict: can't use getUpdates method while webhook is active; use "
               "deleteWebhook to delete the webhook first");
  }
  int64_t offset = p.IntOr("offset", 0);
  int64_t limit = std::clamp<int64_t>(p.IntOr("limit", 100), 1, 100);
  int64_t timeout = std::clamp<int64_t>(p.IntOr("timeout", 0), 0, 50);
  json allowed = p.Json("allowed_updates");
  if (allowed.is_array()) {
    allowed_updates.clear();
    for (const json& a : allowed) {
      if (a.is_string()) allowed_updates.push_back(a.get<std::string>());
    }
  }
  if (offset > 0) {
    while (!queue.empty() && queue.front().id < offset) queue.pop_front();
    confirmed_offset = std::max(confirmed_offset, offset);
  } else if (offset < 0) {
    while (static_cast<int64_t>(queue.size()) > -offset) queue.pop_front();
  }
  // A newer poll ends an older parked one with 409, as Telegram does.
  uint64_t generation = ++poll_generation;
  uint64_t release = release_generation;
  cv.notify_all();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout);
  ++parked_polls;
  cv.notify_all();
  cv.wait_until(lock, deadline, [&] {
    return !queue.empty() || shutting_down || release_generation != release ||
           poll_generation != generation || !webhook_url.empty();
  });
  --parked_polls;
  if (poll_generation != generation) {
    return Err(409,
               "Conflict: terminated by other getUpdates request; make sure that only one bot "
               "instance is running");
  }
  if (!webhook_url.empty()) return Err(409, "Conflict: terminated by setWebhook request");
  json result = json::array();
  for (const Queued& q : queue) {
    if (static_cast<int64_t>(result.size()) >= limit) break;
    result.push_back(q.update);
  }
  return Ok(result);
}

Reply FakeTelegramServer::Impl::SendMessage(const Params& p) {
  int64_t chat_id = 0;
  if (!p.Has("chat_id")) return Err(400, "Bad Request: chat_id is empty");
  if (!p.Int("chat_id", chat_id) || chat_id == 0) return Err(400, "Bad Request: chat not found");
  if (blocked.count(chat_id)) return Err(403, "Forbidden: bot was blocked by the user");
  std::string visible;
  if (auto bad = CheckText(p, visible)) return *bad;
  json markup = p.Json("reply_markup");
  if (!markup.is_null()) {
    if (std::string bad = CheckKeyboard(markup); !bad.empty()) return Err(400, bad);
  }
  int64_t reply_to = p.IntOr("reply_to_message_id", 0);
  json reply_parameters = p.Json("reply_parameters");
  if (reply_parameters.is_object() && reply_parameters.contains("message_id")) {
    ToInt(reply_parameters["message_id"], reply_to);
  }

  int64_t id = next_message_id++;
  Stored stored{chat_id, visible, markup};
  messages[id] = stored;
  FakeSentMessage s;
  s.message_id = id;
  s.chat_id = chat_id;
  s.text = p.Str("text");
  s.parse_mode = p.Str("parse_mode");
  s.reply_markup = markup;
  s.reply_to_message_id = reply_to;
  s.received_at = std::chrono::steady_clock::now();
  s.params = p.j;
  for (const char* key : {"reply_markup", "reply_parameters", "link_preview_options"}) {
    if (p.Has(key)) s.params[key] = p.Json(key);
  }
  sent.push_back(std::move(s));
  json m = MessageJson(id, stored);
  if (reply_to != 0 && messages.count(reply_to)) {
    m["reply_to_message"] = MessageJson(reply_to, messages[reply_to]);
  }
  return Ok(m);
}

Reply FakeTelegramServer::Impl::SendDocument(const Params& p) {
  int64_t chat_id = 0;
  if (!p.Has("chat_id")) return Err(400, "Bad Request: chat_id is empty");
  if (!p.Int("chat_id", chat_id) || chat_id == 0) return Err(400, "Bad Request: chat not found");
  if (blocked.count(chat_id)) return Err(403, "Forbidden: bot was blocked by the user");
  auto file = p.files.find("document");
  if (file == p.files.end()) {
    if (p.Has("document")) return Err(400, "Bad Request: wrong file identifier/HTTP URL specified");
    return Err(400, "Bad Request: there is no document in the request");
  }
  const UploadedFile& f = file->second;
  if (f.content.empty()) return Err(400, "Bad Request: file must be non-empty");
  if (f.content.size() > 50u * 1000u * 1000u) return Err(413, "Request Entity Too Large");
  const std::string caption = p.Str("caption");
  if (Utf16Units(caption) > 1024) return Err(400, "Bad Request: message caption is too long");

  int64_t id = next_message_id++;
  FakeSentDocument d;
  d.message_id = id;
  d.chat_id = chat_id;
  d.file_name = f.filename;
  d.mime_type = f.content_type;
  d.content = f.content;
  d.caption = caption;
  d.params = p.j;
  documents.push_back(std::move(d));
  json m = {{"message_id", id},
            {"from", options.bot.ToJson()},
            {"chat", ChatJson(chat_id, nullptr)},
            {"date", NowSeconds()},
            {"document",
             {{"file_id", "BQACAgIAAxkBAAI" + std::to_string(id)},
              {"file_unique_id", "AgAD" + std::to_string(id)},
              {"file_name", f.filename},
              {"mime_type", f.content_type.empty() ? "application/octet-stream" : f.content_type},
              {"file_size", f.content.size()}}}};
  if (!caption.empty()) m["caption"] = caption;
  return Ok(m);
}

Reply FakeTelegramServer::Impl::EditMessage(const std::string& method, const Params& p) {
  int64_t chat_id = 0;
  int64_t message_id = 0;
  if (!p.Int("chat_id", chat_id)) return Err(400, "Bad Request: chat_id is empty");
  if (!p.Int("message_id", message_id)) {
    return Err(400, "Bad Request: message identifier is not specified");
  }
  if (blocked.count(chat_id)) return Err(403, "Forbidden: bot was blocked by the user");
  auto it = messages.find(message_id);
  if (it == messages.end() || it->second.chat_id != chat_id) {
    return Err(400, "Bad Request: message to edit not found");
  }
  json markup = p.Json("reply_markup");
  if (!markup.is_null()) {
    if (std::string bad = CheckKeyboard(markup); !bad.empty()) return Err(400, bad);
  }
  Stored updated = it->second;
  updated.reply_markup = markup;
  FakeMessageEdit edit;
  edit.chat_id = chat_id;
  edit.message_id = message_id;
  edit.reply_markup = markup;
  if (method == "editmessagetext") {
    edit.method = "editMessageText";
    if (auto bad = CheckText(p, updated.visible_text)) return *bad;
    edit.text = p.Str("text");
    edit.parse_mode = p.Str("parse_mode");
  } else {
    edit.method = "editMessageReplyMarkup";
  }
  if (updated.visible_text == it->second.visible_text &&
      updated.reply_markup == it->second.reply_markup) {
    return Err(400,
               "Bad Request: message is not modified: specified new message content and reply "
               "markup are exactly the same as a current content and reply markup of the "
               "message");
  }
  it->second = updated;
  edits.push_back(std::move(edit));
  return Ok(MessageJson(message_id, updated));
}

Reply FakeTelegramServer::Impl::AnswerCallbackQuery(const Params& p) {
  std::string id = p.Str("callback_query_id");
  if (id.empty() || !open_callbacks.count(id)) {
    return Err(400,
               "Bad Request: query is too old and response timeout expired or query ID is "
               "invalid");
  }
  std::string text = p.Str("text");
  if (Utf16Units(text) > 200) return Err(400, "Bad Request: MESSAGE_TOO_LONG");
  open_callbacks.erase(id);
  answers.push_back({id, text, p.Bool("show_alert")});
  return Ok(true);
}

Reply FakeTelegramServer::Impl::SendChatAction(const Params& p) {
  static const std::set<std::string> kActions = {
      "typing",        "upload_photo",      "record_video",     "upload_video",
      "record_voice",  "upload_voice",      "upload_document",  "choose_sticker",
      "find_location", "record_video_note", "upload_video_note"};
  int64_t chat_id = 0;
  if (!p.Int("chat_id", chat_id)) return Err(400, "Bad Request: chat_id is empty");
  if (blocked.count(chat_id)) return Err(403, "Forbidden: bot was blocked by the user");
  std::string action = p.Str("action");
  if (!kActions.count(action)) return Err(400, "Bad Request: wrong parameter action in request");
  actions.push_back({chat_id, action});
  return Ok(true);
}

Reply FakeTelegramServer::Impl::SetWebhook(const Params& p) {
  if (!p.Has("url")) return Err(400, "Bad Request: parameter \"url\" is required");
  std::string url = p.Str("url");
  std::string secret = p.Str("secret_token");
  if (secret.size() > 256) return Err(400, "Bad Request: secret token is too long");
  if (!std::all_of(secret.begin(), secret.end(),
                   [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '-'; })) {
    return Err(400, "Bad Request: secret token contains unallowed characters");
  }
  if (!url.empty()) {
    auto parsed = HttpUrl::Parse(url);
    if (!parsed) return Err(400, "Bad Request: bad webhook: Failed to resolve host");
    if (!options.local_mode) {
      if (parsed->scheme != "https") {
        return Err(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook");
      }
      int port_number = parsed->port;
      if (port_number != 443 && port_number != 80 && port_number != 88 && port_number != 8443) {
        return Err(400,
                   "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 "
                   "or 8443");
      }
    }
  }
  if (p.Bool("drop_pending_updates")) queue.clear();
  json allowed = p.Json("allowed_updates");
  if (allowed.is_array()) {
    allowed_updates.clear();
    for (const json& a : allowed) {
      if (a.is_string()) allowed_updates.push_back(a.get<std::string>());
    }
  }
  bool same = url == webhook_url;
  bool was_set = !webhook_url.empty();
  webhook_url = url;
  webhook_secret = url.empty() ? "" : secret;
  cv.notify_all();  // a parked getUpdates ends with 409
  if (url.empty()) {
    return Ok(true, was_set ? "Webhook was deleted" : "Webhook is already deleted");
  }
  return Ok(true, same ? "Webhook is already set" : "Webhook was set");
}

Reply FakeTelegramServer::Impl::DeleteWebhook(const Params& p) {
  if (p.Bool("drop_pending_updates")) queue.clear();
  bool was_set = !webhook_url.empty();
  webhook_url.clear();
  webhook_secret.clear();
  return Ok(true, was_set ? "Webhook was deleted" : "Webhook is already deleted");
}

Reply FakeTelegramServer::Impl::GetWebhookInfo() const {
  json info = {{"url", webhook_url},
               {"has_custom_certificate", false},
               {"pending_update_count", queue.size()}};
  if (!webhook_url.empty()) info["max_connections"] = 40;
  if (!allowed_updates.empty()) info["allowed_updates"] = allowed_updates;
  return Ok(info);
}

FakeTelegramServer::FakeTelegramServer() : FakeTelegramServer(Options{}) {}

FakeTelegramServer::FakeTelegramServer(Options options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  Impl* impl = impl_.get();
  auto api = [impl](const httplib::Request& req, httplib::Response& res) {
    impl->Handle(req, res);
  };
  impl->server.Get(R"(/bot([^/]*)/([A-Za-z_]+))", api);
  impl->server.Post(R"(/bot([^/]*)/([A-Za-z_]+))", api);
  impl->server.Post("/_fake/updates", [this](const httplib::Request& req, httplib::Response& res) {
    json body = json::parse(req.body, nullptr, false);
    if (!body.is_object()) {
      res.status = 400;
      res.set_content(R"({"ok":false,"description":"body must be a JSON object"})",
                      "application/json");
      return;
    }
    int64_t id = 0;
    if (body.contains("from") && body.contains("chat_id") && body.contains("text") &&
        !body.contains("message")) {
      FakeTelegramUser from;
      const json& f = body["from"];
      from.id = f.value("id", int64_t{0});
      from.first_name = f.value("first_name", std::string("User"));
      from.last_name = f.value("last_name", std::string());
      from.username = f.value("username", std::string());
      from.language_code = f.value("language_code", std::string("en"));
      id = PushMessage(from, body["chat_id"].get<int64_t>(), body["text"].get<std::string>());
    } else {
      id = PushRawUpdate(body);
    }
    res.set_content(json{{"ok", true}, {"result", id}}.dump(), "application/json");
  });
  impl->server.Get("/_fake/sent", [this](const httplib::Request&, httplib::Response& res) {
    json all = json::array();
    for (const FakeSentMessage& m : SentMessages()) {
      all.push_back({{"message_id", m.message_id},
                     {"chat_id", m.chat_id},
                     {"text", m.text},
                     {"parse_mode", m.parse_mode},
                     {"reply_markup", m.reply_markup}});
    }
    res.set_content(all.dump(), "application/json");
  });
  impl->burst.Prepare(impl->server);
  if (impl->options.port == 0) {
    impl->port = impl->server.bind_to_any_port("127.0.0.1");
    if (impl->port <= 0) throw std::runtime_error("fake Telegram server: cannot bind a port");
  } else {
    if (!impl->server.bind_to_port("127.0.0.1", impl->options.port)) {
      throw std::runtime_error("fake Telegram server: cannot bind port " +
                               std::to_string(impl->options.port));
    }
    impl->port = impl->options.port;
  }
  impl->burst.Raise();
  impl->thread = std::thread([impl] { impl->server.listen_after_bind(); });
  while (!impl->server.is_running()) std::this_thread::yield();
}

FakeTelegramServer::~FakeTelegramServer() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->shutting_down = true;
  }
  impl_->cv.notify_all();  // parked polls and hangs answer, so stop() can join the workers
  impl_->server.stop();
  impl_->thread.join();
}

int FakeTelegramServer::port() const { return impl_->port; }
std::string FakeTelegramServer::url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port);
}
const std::string& FakeTelegramServer::token() const { return impl_->options.token; }
const FakeTelegramUser& FakeTelegramServer::bot() const { return impl_->options.bot; }

int64_t FakeTelegramServer::PushMessage(const FakeTelegramUser& from, int64_t chat_id,
                                        const std::string& text) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  int64_t message_id = impl_->next_message_id++;
  impl_->messages[message_id] = {chat_id, text, nullptr};
  return impl_->Enqueue(impl_->MessageUpdate("message", from, chat_id, message_id, text));
}

int64_t FakeTelegramServer::PushEditedMessage(const FakeTelegramUser& from, int64_t chat_id,
                                              int64_t message_id, const std::string& text) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->Enqueue(impl_->MessageUpdate("edited_message", from, chat_id, message_id, text));
}

FakePushedCallback FakeTelegramServer::PushCallback(const FakeTelegramUser& from,
                                                    int64_t message_id, const std::string& data) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  FakePushedCallback out;
  json update = impl_->CallbackUpdate(from, message_id, data, out.callback_query_id);
  out.update_id = impl_->Enqueue(std::move(update));
  return out;
}

int64_t FakeTelegramServer::PushRawUpdate(json update) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->Enqueue(std::move(update));
}

json FakeTelegramServer::BuildMessageUpdate(const FakeTelegramUser& from, int64_t chat_id,
                                            const std::string& text) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  int64_t message_id = impl_->next_message_id++;
  impl_->messages[message_id] = {chat_id, text, nullptr};
  return impl_->MessageUpdate("message", from, chat_id, message_id, text);
}

json FakeTelegramServer::BuildCallbackUpdate(const FakeTelegramUser& from, int64_t message_id,
                                             const std::string& data) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::string callback_id;
  return impl_->CallbackUpdate(from, message_id, data, callback_id);
}

int FakeTelegramServer::DeliverViaWebhook(const std::string& url, const std::string& secret,
                                          const json& update,
                                          std::chrono::milliseconds timeout) const {
  auto parsed = HttpUrl::Parse(url);
  if (!parsed) return 0;
  httplib::Client cli(parsed->Origin());
  cli.set_connection_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
  cli.set_read_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
  httplib::Headers headers;
  if (!secret.empty()) headers.emplace("X-Telegram-Bot-Api-Secret-Token", secret);
  std::string path = parsed->base_path.empty() ? "/" : parsed->base_path;
  auto res = cli.Post(path, headers, update.dump(), "application/json");
  return res ? res->status : 0;
}

void FakeTelegramServer::InjectFault(const std::string& method, Fault fault, int times) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto& q = impl_->faults[Lower(method)];
  for (int i = 0; i < times; ++i) q.push_back(fault);
}

void FakeTelegramServer::BlockChat(int64_t chat_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->blocked.insert(chat_id);
}

void FakeTelegramServer::ReleaseHangs() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    ++impl_->release_generation;
  }
  impl_->cv.notify_all();
}

std::vector<FakeSentMessage> FakeTelegramServer::SentMessages() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->sent;
}

bool FakeTelegramServer::WaitForSentMessages(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] { return impl_->sent.size() >= n; });
}

std::vector<FakeSentDocument> FakeTelegramServer::SentDocuments() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->documents;
}

bool FakeTelegramServer::WaitForSentDocuments(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] { return impl_->documents.size() >= n; });
}

std::vector<FakeMessageEdit> FakeTelegramServer::Edits() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->edits;
}

bool FakeTelegramServer::WaitForEdits(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] { return impl_->edits.size() >= n; });
}

std::vector<FakeCallbackAnswer> FakeTelegramServer::CallbackAnswers() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->answers;
}

bool FakeTelegramServer::WaitForCallbackAnswers(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] { return impl_->answers.size() >= n; });
}

std::vector<FakeChatAction> FakeTelegramServer::ChatActions() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->actions;
}

std::vector<FakeTelegramCall> FakeTelegramServer::Calls() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->calls;
}

int FakeTelegramServer::CallCount(const std::string& method) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::string m = Lower(method);
  return static_cast<int>(std::count_if(impl_->calls.begin(), impl_->calls.end(),
                                        [&](const FakeTelegramCall& c) { return c.method == m; }));
}

namespace {

// chat_id as a JSON body (a number) or a form/query parameter (a string) carries it.
bool IsCallTo(const FakeTelegramCall& c, const std::string& method, int64_t chat_id) {
  if (c.method != method || c.http_status == 0 || !c.params.contains("chat_id")) return false;
  const json& id = c.params["chat_id"];
  if (id.is_number_integer()) return id.get<int64_t>() == chat_id;
  return id.is_string() && id.get<std::string>() == std::to_string(chat_id);
}

}  // namespace

int FakeTelegramServer::CallCountTo(const std::string& method, int64_t chat_id) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::string m = Lower(method);
  return static_cast<int>(
      std::count_if(impl_->calls.begin(), impl_->calls.end(),
                    [&](const FakeTelegramCall& c) { return IsCallTo(c, m, chat_id); }));
}

bool FakeTelegramServer::WaitForCallsTo(const std::string& method, int64_t chat_id, size_t n,
                                        std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(impl_->mu);
  std::string m = Lower(method);
  return impl_->cv.wait_for(lock, timeout, [&] {
    return static_cast<size_t>(std::count_if(
               impl_->calls.begin(), impl_->calls.end(),
               [&](const FakeTelegramCall& c) { return IsCallTo(c, m, chat_id); })) >= n;
  });
}

bool FakeTelegramServer::WaitForParkedPoll(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] { return impl_->parked_polls > 0; });
}

size_t FakeTelegramServer::HeldRequests() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return static_cast<size_t>(impl_->parked_polls + impl_->hung_requests);
}

bool FakeTelegramServer::WaitForHeldRequests(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] {
    return static_cast<size_t>(impl_->parked_polls + impl_->hung_requests) >= n;
  });
}

bool FakeTelegramServer::WaitForChatActions(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] { return impl_->actions.size() >= n; });
}

int64_t FakeTelegramServer::CurrentOffset() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->confirmed_offset;
}

size_t FakeTelegramServer::PendingUpdates() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->queue.size();
}

std::string FakeTelegramServer::WebhookUrl() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->webhook_url;
}

std::string FakeTelegramServer::WebhookSecret() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->webhook_secret;
}

std::vector<std::string> FakeTelegramServer::AllowedUpdates() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->allowed_updates;
}

}  // namespace depositbot::testing
