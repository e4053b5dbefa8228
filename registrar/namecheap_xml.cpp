#include "registrar/namecheap_xml.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <pugixml.hpp>
#include <set>

#include "common/money.h"
#include "common/text.h"

namespace depositbot {
namespace {

using Kind = RegistrarFailure::Kind;

// Elements are matched by local name: some replies carry the default namespace, some do not,
// and a prefixed one ("nc:ApiResponse") must not break us either.
std::string_view LocalName(const pugi::xml_node& node) {
  std::string_view name = node.name();
  size_t colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

pugi::xml_node Child(const pugi::xml_node& node, std::string_view name) {
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element && EqualsIgnoringAsciiCase(LocalName(c), name)) return c;
  }
  return {};
}

std::vector<pugi::xml_node> Children(const pugi::xml_node& node, std::string_view name) {
  std::vector<pugi::xml_node> out;
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element && EqualsIgnoringAsciiCase(LocalName(c), name))
      out.push_back(c);
  }
  return out;
}

// Depth-first search below `node` (single results are not always where the docs put them).
pugi::xml_node Descendant(const pugi::xml_node& node, std::string_view name) {
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element) continue;
    if (EqualsIgnoringAsciiCase(LocalName(c), name)) return c;
    if (pugi::xml_node d = Descendant(c, name)) return d;
  }
  return {};
}

void Descendants(const pugi::xml_node& node, std::string_view name,
                 std::vector<pugi::xml_node>& out) {
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element) continue;
    if (EqualsIgnoringAsciiCase(LocalName(c), name)) {
      out.push_back(c);
    } else {
      Descendants(c, name, out);
    }
  }
}

std::optional<std::string> Attr(const pugi::xml_node& node, std::string_view name) {
  for (pugi::xml_attribute a = node.first_attribute(); a; a = a.next_attribute()) {
    if (EqualsIgnoringAsciiCase(a.name(), name)) return std::string(a.value());
  }
  return std::nullopt;
}

std::string Text(const pugi::xml_node& node) {
  std::string s = node.text().get();
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// Booleans arrive as true/false, True/False, yes/no; anything else is "not a boolean".
std::optional<bool> ParseBool(std::string_view s) {
  if (EqualsIgnoringAsciiCase(s, "true") || EqualsIgnoringAsciiCase(s, "yes")) return true;
  if (EqualsIgnoringAsciiCase(s, "false") || EqualsIgnoringAsciiCase(s, "no")) return false;
  return std::nullopt;
}

std::optional<int64_t> ParseInt(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// "07/30/2024" -> "2024-07-30"; other text is returned as given.
std::string IsoDate(const std::string& us) {
  if (us.size() == 10 && us[2] == '/' && us[5] == '/') {
    std::string mm = us.substr(0, 2), dd = us.substr(3, 2), yyyy = us.substr(6, 4);
    if (ParseInt(mm) && ParseInt(dd) && ParseInt(yyyy)) return yyyy + "-" + mm + "-" + dd;
  }
  return us;
}

// A short, printable prefix of a body for error messages.
std::string Snippet(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, 60)) {
    out += std::isprint(static_cast<unsigned char>(c)) ? c : ' ';
  }
  if (body.size() > 60) out += "...";
  return out;
}

struct Reply {
  pugi::xml_document doc;
  pugi::xml_node command_response;
};

RegistrarFailure Failure(Kind kind, std::string message, int64_t number = 0) {
  return RegistrarFailure::Make(kind, std::move(message), number);
}

// The envelope check of CheckNamecheapEnvelope, keeping the parsed document on success.
RegistrarResult<std::shared_ptr<Reply>> ParseEnvelope(std::string_view command, int http_status,
                                                      std::string_view body) {
  auto reply = std::make_shared<Reply>();
  pugi::xml_parse_result parsed = reply->doc.load_buffer(body.data(), body.size());
  pugi::xml_node root = reply->doc.document_element();
  if (!parsed || !root || LocalName(root) != "ApiResponse") {
    // Not Namecheap's answer (a proxy's or firewall's page, an empty body): nothing says the
    // command was refused before it ran, so a create's outcome is unknown (reads downgrade).
    if (http_status != 200) {
      RegistrarFailure f = Failure(
          Kind::kTransport, std::string(command) + " answered HTTP " + std::to_string(http_status) +
                                " without an API response: \"" + Snippet(body) + "\"");
      f.code = ErrorCode::kUnknownOutcome;
      return f;
    }
    RegistrarFailure f = Failure(Kind::kMalformedResponse,
                                 std::string(command) + " answered with a body that is not an " +
                                     "XML ApiResponse: \"" + Snippet(body) + "\"");
    f.code = ErrorCode::kUnknownOutcome;
    return f;
  }

  std::vector<pugi::xml_node> errors;
  if (pugi::xml_node list = Child(root, "Errors")) errors = Children(list, "Error");
  const std::string api_status = Attr(root, "Status").value_or("");
  if (EqualsIgnoringAsciiCase(api_status, "ERROR") || !errors.empty()) {
    std::string message = std::string(command) + " failed:";
    int64_t number = 0;
    Kind kind = Kind::kOther;
    // A refusal is definite only when every error in it is one we know stops the command
    // before it acts; one unclassified error beside a known one leaves the outcome open.
    bool every_error_known = !errors.empty();
    for (const auto& e : errors) {
      int64_t n = ParseInt(Attr(e, "Number").value_or("")).value_or(0);
      std::string text = Text(e);
      Kind k = ClassifyNamecheapError(n, text);
      if (k == Kind::kOther) every_error_known = false;
      if (number == 0 || (kind == Kind::kOther && k != Kind::kOther)) {
        number = n;
        kind = k;
      }
      message += " [" + std::to_string(n) + "] " + text;
    }
    if (errors.empty()) message += " Status=ERROR without an Error element";
    const bool says_error = EqualsIgnoringAsciiCase(api_status, "ERROR");
    if (!says_error) message += " (although Status=\"" + api_status + "\")";
    RegistrarFailure f = Failure(kind, message, number);
    // Status="OK" with errors contradicts itself: not a refusal we can rely on either.
    if (!every_error_known || !says_error) f.code = ErrorCode::kUnknownOutcome;
    return f;
  }
  if (!EqualsIgnoringAsciiCase(api_status, "OK")) {
    RegistrarFailure f =
        Failure(Kind::kMalformedResponse,
                std::string(command) + " answered with Status=\"" + api_status + "\"");
    f.code = ErrorCode::kUnknownOutcome;
    return f;
  }
  reply->command_response = Child(root, "CommandResponse");
  if (!reply->command_response) {
    RegistrarFailure f = Failure(Kind::kMalformedResponse,
                                 std::string(command) + " answered OK without a CommandResponse");
    f.code = ErrorCode::kUnknownOutcome;
    return f;
  }
  return reply;
}

}  // namespace

std::optional<RegistrarFailure> CheckNamecheapEnvelope(std::string_view command, int http_status,
                                                       std::string_view body) {
  auto reply = ParseEnvelope(command, http_status, body);
  if (!reply) return reply.error();
  return std::nullopt;
}

RegistrarResult<std::vector<DomainAvailability>> ParseCheckResponse(
    std::string_view body, const std::vector<std::string>& requested) {
  auto reply = ParseEnvelope("namecheap.domains.check", 200, body);
  if (!reply) return reply.error();

  std::vector<pugi::xml_node> nodes;
  Descendants((*reply)->command_response, "DomainCheckResult", nodes);
  std::map<std::string, DomainAvailability> by_name;
  for (const auto& node : nodes) {
    auto name = Attr(node, "Domain");
    auto available = Attr(node, "Available");
    if (!name || !available) {
      return Failure(Kind::kMalformedResponse, "namecheap domains.check result lacks the " +
                                                   std::string(!name ? "Domain" : "Available") +
                                                   " attribute");
    }
    DomainAvailability a;
    // Keyed by the canonical spelling: an IDN may come back in Unicode or in another case.
    a.domain = CanonicalDomainSpelling(*name);
    std::optional<bool> avail = ParseBool(*available);
    std::string error_no = Attr(node, "ErrorNo").value_or("0");
    if (!avail || (error_no != "0" && !error_no.empty())) {
      a.unknown = true;
      a.available = false;
      a.note = Attr(node, "Description").value_or("");
      if (a.note.empty()) a.note = "the registry gave no clear answer";
    } else {
      a.available = *avail;
    }
    a.premium = ParseBool(Attr(node, "IsPremiumName").value_or("false")).value_or(false);
    auto money = [&](const char* attr, bool required, int64_t& field) -> bool {
      auto text = Attr(node, attr);
      if (!text || text->empty()) return !required;
      auto v = ParseDecimal(*text, 6);
      if (!v) return false;
      field = *v;
      return true;
    };
    if (!money("PremiumRegistrationPrice", a.premium, a.premium_price_usd_micros) ||
        !money("PremiumRenewalPrice", false, a.premium_renewal_usd_micros) ||
        !money("IcannFee", false, a.icann_fee_usd_micros) ||
        !money("EapFee", false, a.eap_fee_usd_micros)) {
      return Failure(Kind::kMalformedResponse, "namecheap domains.check result for " + a.domain +
                                                   " has a missing or unreadable price");
    }
    if (!a.premium) {
      a.premium_price_usd_micros = 0;
      a.premium_renewal_usd_micros = 0;
    }
    by_name[a.domain] = std::move(a);
  }
  std::vector<DomainAvailability> out;
  out.reserve(requested.size());
  for (const std::string& domain : requested) {
    auto it = by_name.find(CanonicalDomainSpelling(domain));
    if (it == by_name.end()) {
      return Failure(Kind::kMalformedResponse,
                     "namecheap domains.check answered without a result for " + domain);
    }
    out.push_back(it->second);
  }
  return out;
}

RegistrarResult<NamecheapPriceTable> ParsePricingResponse(std::string_view body,
                                                          const std::string& tld) {
  auto reply = ParseEnvelope("namecheap.users.getPricing", 200, body);
  if (!reply) return reply.error();
  pugi::xml_node result = Descendant((*reply)->command_response, "UserGetPricingResult");
  if (!result) {
    return Failure(Kind::kMalformedResponse,
                   "namecheap users.getPricing answered without UserGetPricingResult");
  }
  NamecheapPriceTable prices;
  // ProductType / ProductCategory (the action) / Product (the TLD) / Price (one per duration).
  // Names arrive in either case; the ProductType name is not relied on.
  std::vector<pugi::xml_node> categories;
  Descendants(result, "ProductCategory", categories);
  for (const auto& category : categories) {
    if (!EqualsIgnoringAsciiCase(Attr(category, "Name").value_or(""), "register")) continue;
    for (const auto& product : Children(category, "Product")) {
      if (!EqualsIgnoringAsciiCase(Attr(product, "Name").value_or(""), tld)) continue;
      for (const auto& price : Children(product, "Price")) {
        auto duration = ParseInt(Attr(price, "Duration").value_or(""));
        if (!duration) {
          return Failure(Kind::kMalformedResponse,
                         "namecheap price for ." + tld + " lacks a readable Duration");
        }
        std::string type = Attr(price, "DurationType").value_or("YEAR");
        if (!EqualsIgnoringAsciiCase(type, "YEAR")) continue;
        // Price is the final price; empty or zero falls back to YourPrice, then RegularPrice.
        std::optional<int64_t> amount;
        bool any_attribute = false;
        for (const char* name : {"Price", "YourPrice", "RegularPrice"}) {
          auto text = Attr(price, name);
          if (!text) continue;
          any_attribute = true;
          if (text->empty()) continue;
          auto v = ParseDecimal(*text, 6);
          if (!v) {
            return Failure(Kind::kMalformedResponse, "namecheap price for ." + tld + " has an " +
                                                         "unreadable " + name + " \"" + *text +
                                                         "\"");
          }
          if (*v > 0) {
            amount = *v;
            break;
          }
        }
        if (!amount) {
          return Failure(Kind::kMalformedResponse,
                         "namecheap price for ." + tld + " (" + std::to_string(*duration) +
                             " years) has " + (any_attribute ? "no non-zero" : "no") + " price");
        }
        int64_t fee = 0;
        // "YourAdditonalCost" is Namecheap's live spelling; accept the fixed one too.
        for (const char* name : {"YourAdditonalCost", "YourAdditionalCost", "AdditionalCost"}) {
          auto text = Attr(price, name);
          if (!text || text->empty()) continue;
          auto v = ParseDecimal(*text, 6);
          if (!v) {
            return Failure(Kind::kMalformedResponse,
                           "namecheap price for ." + tld + " has an unreadable " + name);
          }
          fee = *v;
          break;
        }
        prices[static_cast<int>(*duration)] = {*amount, fee};
      }
    }
  }
  if (prices.empty()) {
    return Failure(Kind::kInvalidRequest, "namecheap has no registration price for ." + tld);
  }
  return prices;
}

RegistrarResult<CreateResult> ParseCreateResponse(std::string_view body,
                                                  const std::string& domain) {
  auto reply = ParseEnvelope("namecheap.domains.create", 200, body);
  if (!reply) return reply.error();
  auto malformed = [&](const std::string& what) {
    RegistrarFailure f =
        Failure(Kind::kMalformedResponse, "namecheap domains.create for " + domain + " " + what +
                                              "; whether it was registered is unknown");
    f.code = ErrorCode::kUnknownOutcome;
    return f;
  };
  std::vector<pugi::xml_node> results;
  Descendants((*reply)->command_response, "DomainCreateResult", results);
  if (results.empty()) return malformed("answered without DomainCreateResult");
  if (results.size() > 1) return malformed("answered with several DomainCreateResult elements");
  pugi::xml_node node = results.front();
  auto registered_text = Attr(node, "Registered");
  auto charged_text = Attr(node, "ChargedAmount");
  if (!registered_text) return malformed("answered without the Registered attribute");
  std::optional<bool> registered = ParseBool(*registered_text);
  if (!registered) return malformed("answered Registered=\"" + *registered_text + "\"");
  if (!*registered) {
    // Accepted but not (yet) registered, e.g. NonRealTimeDomain="true": only the registrar can
    // later say how it ended.
    RegistrarFailure f = Failure(Kind::kOther, "namecheap accepted the order for " + domain +
                                                   " but has not confirmed the registration yet");
    f.code = ErrorCode::kUnknownOutcome;
    return f;
  }
  if (!charged_text) return malformed("answered without the ChargedAmount attribute");
  auto charged = ParseDecimal(*charged_text, 6);
  if (!charged) return malformed("answered an unreadable ChargedAmount");

  // The domain and charge are the registrar's own words, never filled in from the request:
  // the caller checks them against the order (a success that lacks them proves nothing).
  auto answered_domain = Attr(node, "Domain");
  if (!answered_domain || answered_domain->empty()) {
    return malformed("answered without the Domain attribute");
  }

  CreateResult out;
  out.domain = AsciiLower(*answered_domain);
  out.registered = true;
  out.charged_usd_micros = *charged;
  out.domain_id = Attr(node, "DomainID").value_or("");
  out.order_id = Attr(node, "OrderID").value_or("");
  out.transaction_id = Attr(node, "TransactionID").value_or("");
  return out;
}

RegistrarFailure InfoFailure(RegistrarFailure failure) {
  if (failure.kind == Kind::kNotFound && failure.code == ErrorCode::kNotFound) return failure;
  if (failure.kind == Kind::kNotFound) {
    failure.kind = Kind::kOther;
    failure.message += " (not taken as \"not found\": the reply was not a plain refusal)";
  }
  failure.code = ErrorCode::kUnavailable;
  return failure;
}

RegistrarResult<DomainInfo> ParseInfoResponse(std::string_view body) {
  auto reply = ParseEnvelope("namecheap.domains.getInfo", 200, body);
  if (!reply) return reply.error();
  pugi::xml_node node = Descendant((*reply)->command_response, "DomainGetInfoResult");
  if (!node) {
    return Failure(Kind::kMalformedResponse,
                   "namecheap domains.getInfo answered without DomainGetInfoResult");
  }
  auto name = Attr(node, "DomainName");
  auto is_owner = Attr(node, "IsOwner");
  if (!name || !is_owner || !ParseBool(*is_owner)) {
    return Failure(Kind::kMalformedResponse, "namecheap domains.getInfo result lacks a readable " +
                                                 std::string(!name ? "DomainName" : "IsOwner") +
                                                 " attribute");
  }
  DomainInfo info;
  info.domain = AsciiLower(*name);
  info.status = Attr(node, "Status").value_or("");
  info.is_ours = *ParseBool(*is_owner);
  info.is_premium = ParseBool(Attr(node, "IsPremium").value_or("false")).value_or(false);
  info.domain_id = Attr(node, "ID").value_or("");
  if (pugi::xml_node details = Child(node, "DomainDetails")) {
    info.created_date = IsoDate(Text(Child(details, "CreatedDate")));
    info.expires_date = IsoDate(Text(Child(details, "ExpiredDate")));
  }
  return info;
}

RegistrarResult<NamecheapListPage> ParseListResponse(std::string_view body) {
  auto reply = ParseEnvelope("namecheap.domains.getList", 200, body);
  if (!reply) return reply.error();
  pugi::xml_node result = Descendant((*reply)->command_response, "DomainGetListResult");
  if (!result) {
    return Failure(Kind::kMalformedResponse,
                   "namecheap domains.getList answered without DomainGetListResult");
  }
  NamecheapListPage page;
  std::vector<pugi::xml_node> domains = Children(result, "Domain");
  for (const auto& d : domains) {
    auto name = Attr(d, "Name");
    if (!name) {
      return Failure(Kind::kMalformedResponse,
                     "namecheap domains.getList has a Domain without a Name attribute");
    }
    DomainInfo info;
    info.domain = AsciiLower(*name);
    info.is_ours = true;  // getList only lists this account's domains
    info.domain_id = Attr(d, "ID").value_or("");
    info.created_date = IsoDate(Attr(d, "Created").value_or(""));
    info.expires_date = IsoDate(Attr(d, "Expires").value_or(""));
    info.is_premium = ParseBool(Attr(d, "IsPremium").value_or("false")).value_or(false);
    if (ParseBool(Attr(d, "IsExpired").value_or("false")).value_or(false)) {
      info.status = "Expired";
    } else if (ParseBool(Attr(d, "IsLocked").value_or("false")).value_or(false)) {
      info.status = "Locked";
    } else {
      info.status = "Ok";
    }
    page.domains.push_back(std::move(info));
  }
  pugi::xml_node paging = Descendant((*reply)->command_response, "Paging");
  auto total = ParseInt(Text(Child(paging, "TotalItems")));
  auto current = ParseInt(Text(Child(paging, "CurrentPage")));
  auto size = ParseInt(Text(Child(paging, "PageSize")));
  // CurrentPage * PageSize >= TotalItems, without the product: each may be 18 digits.
  page.last = domains.empty() || !total || !current || !size || *size == 0 ||
              *current >= *total / *size + (*total % *size != 0 ? 1 : 0);
  return page;
}

RegistrarResult<std::vector<TldOffer>> ParseTldListResponse(std::string_view body) {
  const std::string command = "namecheap.domains.getTldList";
  if (body.size() > kMaxTldListBody) {
    return Failure(Kind::kMalformedResponse, "namecheap domains.getTldList answered " +
                                                 std::to_string(body.size()) +
                                                 " bytes, more than a list of extensions takes");
  }
  auto reply = ParseEnvelope(command, 200, body);
  if (!reply) return reply.error();
  // An answer to another command (a proxy's cache, a mixed-up connection) is not our list.
  std::string type = Attr((*reply)->command_response, "Type").value_or("");
  std::string requested = Text(Child((*reply)->doc.document_element(), "RequestedCommand"));
  if (!EqualsIgnoringAsciiCase(type, command) ||
      (!requested.empty() && !EqualsIgnoringAsciiCase(requested, command))) {
    return Failure(Kind::kMalformedResponse,
                   "namecheap answered domains.getTldList with a reply to \"" +
                       (type.empty() ? requested : type) + "\"");
  }
  pugi::xml_node tlds = Descendant((*reply)->command_response, "Tlds");
  if (!tlds) {
    return Failure(Kind::kMalformedResponse,
                   "namecheap domains.getTldList answered without a Tlds element");
  }
  std::vector<pugi::xml_node> nodes = Children(tlds, "Tld");
  if (nodes.size() > kMaxTldListEntries) {
    return Failure(Kind::kMalformedResponse, "namecheap domains.getTldList answered " +
                                                 std::to_string(nodes.size()) +
                                                 " extensions, more than any registrar sells");
  }
  auto valid_name = [](const std::string& name) {
    if (name.empty() || name.size() > 253) return false;
    size_t label = 0;
    for (char c : name) {
      if (c == '.') {
        if (label == 0) return false;
        label = 0;
        continue;
      }
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') || ++label > 63) {
        return false;
      }
    }
    return label > 0 && name.front() != '-' && name.back() != '-';
  };
  auto years = [](const pugi::xml_node& node, const char* attr, int fallback) {
    auto v = ParseInt(Attr(node, attr).value_or(""));
    return v && *v >= 1 && *v <= 10 ? static_cast<int>(*v) : fallback;
  };
  std::vector<TldOffer> out;
  std::set<std::string> seen;
  for (const auto& node : nodes) {
    std::string name = AsciiLower(Attr(node, "Name").value_or(""));
    if (!name.empty() && name.front() == '.') name.erase(0, 1);
    if (!valid_name(name)) continue;
    if (!ParseBool(Attr(node, "IsApiRegisterable").value_or("true")).value_or(false)) continue;
    if (!seen.insert(name).second) continue;
    TldOffer offer;
    offer.name = name;
    offer.supports_idn = ParseBool(Attr(node, "IsSupportsIDN").value_or("false")).value_or(false);
    offer.min_years = years(node, "MinRegisterYears", 1);
    offer.max_years = std::max(offer.min_years, years(node, "MaxRegisterYears", 10));
    out.push_back(std::move(offer));
  }
  if (out.empty()) {
    return Failure(Kind::kMalformedResponse,
                   "namecheap domains.getTldList answered no extension it registers by API");
  }
  return out;
}

RegistrarResult<AccountBalance> ParseBalancesResponse(std::string_view body) {
  auto reply = ParseEnvelope("namecheap.users.getBalances", 200, body);
  if (!reply) return reply.error();
  pugi::xml_node node = Descendant((*reply)->command_response, "UserGetBalancesResult");
  if (!node) {
    return Failure(Kind::kMalformedResponse,
                   "namecheap users.getBalances answered without UserGetBalancesResult");
  }
  AccountBalance b;
  b.currency = Attr(node, "Currency").value_or("USD");
  const std::pair<const char*, int64_t*> fields[] = {
      {"AvailableBalance", &b.available_usd_micros},
      {"AccountBalance", &b.account_balance_usd_micros},
      {"FundsRequiredForAutoRenew", &b.funds_required_for_auto_renew_usd_micros}};
  for (const auto& [name, field] : fields) {
    auto text = Attr(node, name);
    bool required = std::string_view(name) != "FundsRequiredForAutoRenew";
    if (!text || text->empty()) {
      if (required) {
        return Failure(Kind::kMalformedResponse,
                       std::string("namecheap users.getBalances lacks the ") + name + " attribute");
      }
      continue;
    }
    auto v = ParseDecimal(*text, 6);
    if (!v) {
      return Failure(Kind::kMalformedResponse,
                     std::string("namecheap users.getBalances has an unreadable ") + name);
    }
    *field = *v;
  }
  return b;
}

}  // namespace depositbot
