#include "tests/fakes/fake_namecheap_server.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>
#include <optional>
#include <pugixml.hpp>
#include <sstream>

#include "common/money.h"
#include "common/text.h"
#include "tests/fakes/loopback_server.h"

namespace depositbot::testing {
namespace {

constexpr int kCheckLimit = 50;

const std::map<std::string, std::string>& CanonicalCommands() {
  static const std::map<std::string, std::string> kNames = {
      {"namecheap.domains.check", "namecheap.domains.check"},
      {"namecheap.users.getpricing", "namecheap.users.getPricing"},
      {"namecheap.domains.create", "namecheap.domains.create"},
      {"namecheap.domains.getinfo", "namecheap.domains.getInfo"},
      {"namecheap.domains.getlist", "namecheap.domains.getList"},
      {"namecheap.users.getbalances", "namecheap.users.getBalances"},
      {"namecheap.domains.gettldlist", "namecheap.domains.getTldList"}};
  return kNames;
}

std::string Esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Micro-dollars as Namecheap prints them: "9.7600".
std::string Format4(int64_t micros) {
  std::string frac = std::to_string((micros % 1'000'000) / 100);
  frac = std::string(4 - frac.size(), '0') + frac;
  return std::to_string(micros / 1'000'000) + "." + frac;
}

int64_t Micros(const std::string& decimal) {
  auto v = ParseDecimal(decimal, 6);
  return v ? *v : 0;
}

std::string TldOf(const std::string& domain) {
  size_t dot = domain.rfind('.');
  return dot == std::string::npos ? "" : domain.substr(dot + 1);
}

bool IsPhone(const std::string& p) {
  size_t dot = p.find('.');
  if (p.size() < 4 || p[0] != '+' || dot == std::string::npos || dot < 2) return false;
  for (size_t i = 1; i < p.size(); ++i) {
    if (i != dot && !std::isdigit(static_cast<unsigned char>(p[i]))) return false;
  }
  return dot + 1 < p.size();
}

void ForEachElement(pugi::xml_node node, const std::function<void(pugi::xml_node)>& fn) {
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element) continue;
    fn(c);
    ForEachElement(c, fn);
  }
}

// Applies `mutate` to the CommandResponse of an envelope and prints it again.
std::string Rewrite(const std::string& xml, const std::function<void(pugi::xml_node)>& mutate) {
  pugi::xml_document doc;
  if (!doc.load_string(xml.c_str())) return xml;
  pugi::xml_node response = doc.document_element().child("CommandResponse");
  if (!response) return xml;
  mutate(response);
  std::ostringstream out;
  doc.save(out, "  ");
  return out.str();
}

}  // namespace

FakeNamecheapServer::Fault FakeNamecheapServer::Fault::ApiError(int64_t number, std::string text) {
  Fault f;
  f.type = Type::kApiError;
  f.number = number;
  f.text = std::move(text);
  return f;
}

FakeNamecheapServer::Fault FakeNamecheapServer::Fault::HttpStatus(int status, std::string body,
                                                                  bool applied) {
  Fault f;
  f.type = Type::kHttpStatus;
  f.http_status = status;
  f.body = std::move(body);
  f.applied = applied;
  return f;
}

FakeNamecheapServer::Fault FakeNamecheapServer::Fault::NotXml() {
  Fault f;
  f.type = Type::kNotXml;
  return f;
}

FakeNamecheapServer::Fault FakeNamecheapServer::Fault::MissingAttribute(std::string attribute) {
  Fault f;
  f.type = Type::kMissingAttribute;
  f.attribute = std::move(attribute);
  return f;
}

FakeNamecheapServer::Fault FakeNamecheapServer::Fault::Hang(bool applied) {
  Fault f;
  f.type = Type::kHang;
  f.applied = applied;
  return f;
}

FakeNamecheapServer::Fault FakeNamecheapServer::Fault::HangThenApply() {
  Fault f;
  f.type = Type::kHang;
  f.apply_on_release = true;
  return f;
}

FakeNamecheapServer::Fault FakeNamecheapServer::Fault::NotRegistered() {
  Fault f;
  f.type = Type::kNotRegistered;
  return f;
}

FakeNamecheapServer::FakeNamecheapServer() : server_(std::make_unique<httplib::Server>()) {
  balance_micros_ = Micros("1000.00");
  tld_prices_ = {{"com", {"9.58", "0.18"}}, {"net", {"12.48", "0.18"}}, {"org", {"9.98", "0.18"}},
                 {"io", {"39.98", "0"}},    {"xyz", {"1.98", "0"}},     {"dev", {"14.98", "0"}}};
  auto handler = [this](const httplib::Request& req, httplib::Response& res) { Handle(req, res); };
  server_->Get("/xml.response", handler);
  server_->Post("/xml.response", handler);
  loop_ = std::make_unique<LoopbackServer>(*server_);
}

FakeNamecheapServer::~FakeNamecheapServer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutting_down_ = true;
  }
  cv_.notify_all();
  loop_.reset();  // stops and joins; hung handlers have been released above
}

std::string FakeNamecheapServer::url() const { return loop_->url() + "/xml.response"; }

NamecheapConfig FakeNamecheapServer::ClientConfig() const {
  NamecheapConfig c;
  c.api_url = url();
  c.api_user = kApiUser;
  c.api_key = kApiKey;
  c.username = kUserName;
  c.client_ip = kClientIp;
  c.contact = {"John",
               "Smith",
               "",
               "8939 S Cross Blvd",
               "",
               "Phoenix",
               "AZ",
               "85284",
               "US",
               "+1.6613102107",
               "john@example.org"};
  c.http.connect_timeout = std::chrono::milliseconds(2000);
  c.http.read_timeout = std::chrono::milliseconds(2000);
  c.http.write_timeout = std::chrono::milliseconds(2000);
  c.create_read_timeout = std::chrono::milliseconds(2000);
  c.retry_base_delay = std::chrono::milliseconds(0);
  return c;
}

std::map<std::string, std::string> FakeNamecheapServer::ProcessEnv() const {
  NamecheapConfig c = ClientConfig();
  return {{"NAMECHEAP_API_URL", c.api_url},
          {"NAMECHEAP_API_USER", c.api_user},
          {"NAMECHEAP_API_KEY", c.api_key},
          {"NAMECHEAP_USERNAME", c.username},
          {"NAMECHEAP_CLIENT_IP", c.client_ip},
          {"NAMECHEAP_CONTACT_FIRST_NAME", c.contact.first_name},
          {"NAMECHEAP_CONTACT_LAST_NAME", c.contact.last_name},
          {"NAMECHEAP_CONTACT_ADDRESS1", c.contact.address1},
          {"NAMECHEAP_CONTACT_CITY", c.contact.city},
          {"NAMECHEAP_CONTACT_STATE_PROVINCE", c.contact.state_province},
          {"NAMECHEAP_CONTACT_POSTAL_CODE", c.contact.postal_code},
          {"NAMECHEAP_CONTACT_COUNTRY", c.contact.country},
          {"NAMECHEAP_CONTACT_PHONE", c.contact.phone},
          {"NAMECHEAP_CONTACT_EMAIL", c.contact.email}};
}

std::string FakeNamecheapServer::Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void FakeNamecheapServer::SetTaken(const std::string& domain) {
  std::lock_guard<std::mutex> lock(mu_);
  taken_.insert(Lower(domain));
}

void FakeNamecheapServer::SetRegistryError(const std::string& domain) {
  std::lock_guard<std::mutex> lock(mu_);
  registry_errors_.insert(Lower(domain));
}

void FakeNamecheapServer::SetPremium(const std::string& domain, const std::string& price) {
  std::lock_guard<std::mutex> lock(mu_);
  premium_[Lower(domain)] = price;
}

void FakeNamecheapServer::SetEapFee(const std::string& domain, const std::string& fee) {
  std::lock_guard<std::mutex> lock(mu_);
  eap_fees_[Lower(domain)] = fee;
}

void FakeNamecheapServer::ScriptCreateAnswer(const std::string& domain, CreateAnswer answer) {
  std::lock_guard<std::mutex> lock(mu_);
  create_answers_[Lower(domain)] = std::move(answer);
}

void FakeNamecheapServer::SetInfoLag(int calls) {
  std::lock_guard<std::mutex> lock(mu_);
  info_lag_calls_ = calls;
}

void FakeNamecheapServer::SetTldPrice(const std::string& tld, const std::string& price,
                                      const std::string& additional_cost) {
  std::lock_guard<std::mutex> lock(mu_);
  tld_prices_[Lower(tld)] = {price, additional_cost};
}

void FakeNamecheapServer::SetBalance(const std::string& amount) {
  std::lock_guard<std::mutex> lock(mu_);
  balance_micros_ = Micros(amount);
}

void FakeNamecheapServer::AddOwnedDomain(const std::string& domain, const std::string& created) {
  std::lock_guard<std::mutex> lock(mu_);
  Owned o;
  o.created = created;
  o.expires = created.size() == 10
                  ? created.substr(0, 6) + std::to_string(std::stoi(created.substr(6)) + 1)
                  : created;
  o.id = next_id_++;
  owned_[Lower(domain)] = o;
}

void FakeNamecheapServer::SetExtraAttributes(bool on) {
  std::lock_guard<std::mutex> lock(mu_);
  extra_attributes_ = on;
}

void FakeNamecheapServer::SetRateLimitBudget(int requests) {
  std::lock_guard<std::mutex> lock(mu_);
  rate_limit_budget_ = requests;
}

void FakeNamecheapServer::InjectFault(const std::string& command, Fault fault) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_[Lower(command)].push_back(std::move(fault));
}

void FakeNamecheapServer::ReleaseHangs() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++release_generation_;
  }
  cv_.notify_all();
}

int FakeNamecheapServer::RequestCount(const std::string& command) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counts_.find(Lower(command));
  return it == counts_.end() ? 0 : it->second;
}

int FakeNamecheapServer::TotalRequests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

std::map<std::string, std::string> FakeNamecheapServer::LastParams(
    const std::string& command) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = last_params_.find(Lower(command));
  return it == last_params_.end() ? Params{} : it->second;
}

bool FakeNamecheapServer::AwaitRequestCount(const std::string& command, int count) const {
  std::unique_lock<std::mutex> lock(mu_);
  std::string key = Lower(command);
  return cv_.wait_for(lock, std::chrono::seconds(5), [&] {
    auto it = counts_.find(key);
    return it != counts_.end() && it->second >= count;
  });
}

bool FakeNamecheapServer::AwaitNoHungRequests() const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::seconds(5), [&] { return hung_ == 0; });
}

std::vector<std::string> FakeNamecheapServer::OwnedDomains() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, o] : owned_) out.push_back(name);
  return out;
}

void FakeNamecheapServer::Handle(const httplib::Request& req, httplib::Response& res) {
  Params p;
  for (const auto& [k, v] : req.params) p[Lower(k)] = v;
  if (req.method == "POST" &&
      req.get_header_value("Content-Type").find("x-www-form-urlencoded") != std::string::npos) {
    httplib::Params form;
    httplib::detail::parse_query_text(req.body, form);
    for (const auto& [k, v] : form) p[Lower(k)] = v;
  }
  const std::string command = Lower(p.count("command") ? p["command"] : "");

  std::unique_lock<std::mutex> lock(mu_);
  ++counts_[command];
  ++total_;
  last_params_[command] = p;
  cv_.notify_all();

  if (rate_limit_budget_ == 0) {
    res.status = 405;
    res.set_content("<html><body><h1>405 Too many requests</h1></body></html>", "text/html");
    return;
  }
  if (rate_limit_budget_ > 0) --rate_limit_budget_;

  auto reply = [&res](const std::string& xml) {
    res.status = 200;
    res.set_content(xml, "text/xml; charset=utf-8");
  };
  // Global parameters, in the order Namecheap reports them.
  const std::pair<const char*, int64_t> required[] = {
      {"apiuser", 1010101}, {"apikey", 1010102}, {"command", 1010104}, {"clientip", 1010105}};
  for (const auto& [name, number] : required) {
    if (p[name].empty()) {
      return reply(ErrorXml("", number, std::string("Parameter ") + name + " is missing"));
    }
  }
  if (p["username"].empty()) return reply(ErrorXml("", 1019103, "UserName is missing"));
  if (p["apiuser"] != kApiUser || p["apikey"] != kApiKey) {
    return reply(ErrorXml("", 1011102, "API Key is invalid or API access has not been enabled"));
  }
  if (p["username"] != kUserName) {
    return reply(ErrorXml("", 1016103, "UserName is unauthorized"));
  }
  if (p["clientip"] != kClientIp) {
    return reply(ErrorXml("", 1011150, "Invalid request IP: " + p["clientip"]));
  }

  std::optional<Fault> fault;
  if (auto it = faults_.find(command); it != faults_.end() && !it->second.empty()) {
    fault = it->second.front();
    it->second.pop_front();
  }
  int status = 200;
  if (!fault) {
    std::string body = Dispatch(command, p, status);
    res.status = status;
    res.set_content(body, "text/xml; charset=utf-8");
    return;
  }
  switch (fault->type) {
    case Fault::Type::kApiError:
      return reply(ErrorXml(command, fault->number, fault->text));
    case Fault::Type::kHttpStatus:
      if (fault->applied) (void)Dispatch(command, p, status);
      res.status = fault->http_status;
      res.set_content(fault->body, "text/html");
      return;
    case Fault::Type::kNotXml:
      res.status = 200;
      res.set_content("<html><body><h1>Service Temporarily Unavailable</h1></body></html>",
                      "text/html");
      return;
    case Fault::Type::kMissingAttribute: {
      std::string attribute = fault->attribute;
      return reply(Rewrite(Dispatch(command, p, status), [&](pugi::xml_node response) {
        ForEachElement(response, [&](pugi::xml_node n) { n.remove_attribute(attribute.c_str()); });
      }));
    }
    case Fault::Type::kNotRegistered:
      return reply(Rewrite(Dispatch(command, p, status), [](pugi::xml_node response) {
        ForEachElement(response, [](pugi::xml_node n) {
          if (pugi::xml_attribute a = n.attribute("Registered")) a.set_value("false");
          if (pugi::xml_attribute a = n.attribute("NonRealTimeDomain")) a.set_value("true");
        });
      }));
    case Fault::Type::kHang: {
      // An applied hang does the work now; the client will time out before it hears.
      std::string body = fault->applied ? Dispatch(command, p, status)
                                        : ErrorXml(command, 5050900, "Unhandled exception");
      const uint64_t generation = release_generation_;
      ++hung_;
      cv_.wait(lock, [&] { return shutting_down_ || release_generation_ != generation; });
      if (fault->apply_on_release) body = Dispatch(command, p, status);
      --hung_;
      cv_.notify_all();
      res.status = status;
      res.set_content(body, "text/xml; charset=utf-8");
      return;
    }
  }
}

std::string FakeNamecheapServer::Dispatch(const std::string& command, const Params& p,
                                          int& http_status) {
  http_status = 200;
  std::string body;
  if (command == "namecheap.domains.check") {
    body = Check(p);
  } else if (command == "namecheap.users.getpricing") {
    body = Pricing(p);
  } else if (command == "namecheap.domains.create") {
    body = Create(p);
  } else if (command == "namecheap.domains.getinfo") {
    body = GetInfo(p);
  } else if (command == "namecheap.domains.getlist") {
    body = GetList(p);
  } else if (command == "namecheap.users.getbalances") {
    body = Balances();
  } else if (command == "namecheap.domains.gettldlist") {
    body = TldList();
  } else {
    return ErrorXml(command, 1010104, "Parameter Command is invalid: " + command);
  }
  if (extra_attributes_) {
    body = Rewrite(body, [](pugi::xml_node response) {
      ForEachElement(response, [](pugi::xml_node n) {
        n.append_attribute("FutureAttribute").set_value("surprise");
      });
      response.append_child("FutureElement").append_attribute("Note").set_value("ignore me");
    });
  }
  return body;
}

std::string FakeNamecheapServer::Ok(const std::string& command, const std::string& body) const {
  auto it = CanonicalCommands().find(command);
  std::string type = it == CanonicalCommands().end() ? command : it->second;
  return "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
         "<ApiResponse Status=\"OK\" xmlns=\"http://api.namecheap.com/xml.response\">\n"
         "  <Errors />\n  <Warnings />\n"
         "  <RequestedCommand>" +
         command +
         "</RequestedCommand>\n"
         "  <CommandResponse Type=\"" +
         type + "\">\n" + body +
         "  </CommandResponse>\n"
         "  <Server>PHX01SBAPIEXT06</Server>\n"
         "  <GMTTimeDifference>--4:00</GMTTimeDifference>\n"
         "  <ExecutionTime>0.031</ExecutionTime>\n"
         "</ApiResponse>\n";
}

std::string FakeNamecheapServer::ErrorXml(const std::string& requested, int64_t number,
                                          const std::string& text) {
  std::string cmd = requested.empty()
                        ? "  <RequestedCommand />\n"
                        : "  <RequestedCommand>" + Esc(requested) + "</RequestedCommand>\n";
  return "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
         "<ApiResponse Status=\"ERROR\" xmlns=\"http://api.namecheap.com/xml.response\">\n"
         "  <Errors>\n    <Error Number=\"" +
         std::to_string(number) + "\">" + Esc(text) + "</Error>\n  </Errors>\n  <Warnings />\n" +
         cmd +
         "  <Server>PHX01SBAPIEXT06</Server>\n"
         "  <GMTTimeDifference>--4:00</GMTTimeDifference>\n"
         "  <ExecutionTime>0</ExecutionTime>\n"
         "</ApiResponse>\n";
}

std::string FakeNamecheapServer::Check(const Params& p) {
  const std::string command = "namecheap.domains.check";
  auto it = p.find("domainlist");
  if (it == p.end() || it->second.empty()) {
    return ErrorXml(command, 2011166, "Parameter DomainList is missing");
  }
  std::vector<std::string> names;
  std::stringstream ss(it->second);
  for (std::string d; std::getline(ss, d, ',');) {
    if (!d.empty()) names.push_back(Lower(d));
  }
  if (static_cast<int>(names.size()) > kCheckLimit) {
    return ErrorXml(command, 2011169, "Only 50 domains are allowed in a single check command");
  }
  std::string body;
  // Answer in reverse order: the real API does not promise the request order.
  for (auto n = names.rbegin(); n != names.rend(); ++n) {
    const std::string& d = *n;
    if (!tld_prices_.count(TldOf(d))) {
      return ErrorXml(command, 2030280, "TLD for '" + d + "' is not found");
    }
    if (registry_errors_.count(d)) {
      body += "    <DomainCheckResult Domain=\"" + Esc(d) +
              "\" Available=\"error\" ErrorNo=\"750\" Description=\"No response from the "
              "registry\" IsPremiumName=\"false\" PremiumRegistrationPrice=\"0\" />\n";
      continue;
    }
    bool available = !taken_.count(d) && !owned_.count(d);
    auto eap = eap_fees_.find(d);
    std::string eap_fee = available && eap != eap_fees_.end() ? eap->second : "0.0";
    auto prem = premium_.find(d);
    bool premium = available && prem != premium_.end();
    std::string pp = premium ? prem->second : "0";
    body += "    <DomainCheckResult Domain=\"" + Esc(d) + "\" Available=\"" +
            (available ? "true" : "false") + "\" ErrorNo=\"0\" Description=\"\" IsPremiumName=\"" +
            (premium ? "true" : "false") + "\" PremiumRegistrationPrice=\"" + pp +
            "\" PremiumRenewalPrice=\"" + pp + "\" PremiumRestorePrice=\"" +
            (premium ? "65.0000" : "0") + "\" PremiumTransferPrice=\"" + pp +
            "\" IcannFee=\"0\" EapFee=\"" + eap_fee + "\" />\n";
  }
  return Ok(command, body);
}

std::string FakeNamecheapServer::Pricing(const Params& p) {
  const std::string command = "namecheap.users.getpricing";
  auto get = [&p](const char* k) {
    auto it = p.find(k);
    return it == p.end() ? std::string() : Lower(it->second);
  };
  if (get("producttype") != "domain") {
    return ErrorXml(command, 2011298, "ProductType is invalid");
  }
  std::string action = get("actionname");
  std::string only = get("productname");
  std::string products;
  if (action.empty() || action == "register") {
    for (const auto& [tld, price] : tld_prices_) {
      if (!only.empty() && tld != only) continue;
      products += "          <Product Name=\"" + tld + "\">\n";
      for (int years = 1; years <= 10; ++years) {
        const std::string& fee = price.second;
        products += "            <Price Duration=\"" + std::to_string(years) +
                    "\" DurationType=\"YEAR\" Price=\"" + price.first +
                    "\" PricingType=\"MULTIPLE\" AdditionalCost=\"" + fee + "\" RegularPrice=\"" +
                    price.first + "\" RegularPriceType=\"MULTIPLE\" RegularAdditionalCost=\"" +
                    fee + "\" RegularAdditionalCostType=\"MULTIPLE\" YourPrice=\"" + price.first +
                    "\" YourPriceType=\"MULTIPLE\" YourAdditonalCost=\"" + fee +
                    "\" YourAdditonalCostType=\"MULTIPLE\" PromotionPrice=\"0.0\" "
                    "Currency=\"USD\" />\n";
      }
      products += "          </Product>\n";
    }
  }
  return Ok(command,
            "    <UserGetPricingResult>\n      <ProductType Name=\"domains\">\n"
            "        <ProductCategory Name=\"register\">\n" +
                products +
                "        </ProductCategory>\n      </ProductType>\n    </UserGetPricingResult>\n");
}

void FakeNamecheapServer::SetTldList(std::vector<TldListEntry> list) {
  std::lock_guard<std::mutex> lock(mu_);
  tld_list_ = std::move(list);
}

std::string FakeNamecheapServer::TldList() {
  std::vector<TldListEntry> list;
  if (tld_list_) {
    list = *tld_list_;
  } else {
    for (const auto& [tld, price] : tld_prices_) list.push_back(TldListEntry{tld});
  }
  // The attributes of Namecheap's own sample, in its order; the text is a description.
  std::string body = "    <Tlds>\n";
  int sequence = 1;
  for (const auto& e : list) {
    const bool cc = e.name.size() == 2 || e.name.find('.') != std::string::npos;
    body += "      <Tld Name=\"" + Esc(e.name) + "\" NonRealTime=\"false\" MinRegisterYears=\"" +
            std::to_string(e.min_years) + "\" MaxRegisterYears=\"" + std::to_string(e.max_years) +
            "\" MinRenewYears=\"1\" MaxRenewYears=\"10\" RenewalMinDays=\"0\" "
            "RenewalMaxDays=\"4000\" ReactivateMaxDays=\"27\" MinTransferYears=\"1\" "
            "MaxTransferYears=\"1\" IsApiRegisterable=\"" +
            (e.api_registerable ? "true" : "false") +
            "\" IsApiRenewable=\"true\" IsApiTransferable=\"true\" IsEppRequired=\"true\" "
            "IsDisableModContact=\"false\" IsDisableWGAllot=\"false\" "
            "IsIncludeInExtendedSearchOnly=\"false\" SequenceNumber=\"" +
            std::to_string(sequence++) + "\" Type=\"" + (cc ? "CCTLD" : "GTLD") +
            "\" SubType=\"\" IsSupportsIDN=\"" + (e.supports_idn ? "true" : "false") +
            "\" Category=\"A\" SupportsRegistrarLock=\"true\" AddGracePeriodDays=\"5\" "
            "WhoisVerification=\"false\" ProviderApiDelete=\"true\" TldState=\"\" "
            "SearchGroup=\"\" Registry=\"\">" +
            Esc(AsciiUpper(e.name)) + " domains</Tld>\n";
  }
  body += "    </Tlds>\n";
  return Ok("namecheap.domains.gettldlist", body);
}

std::string FakeNamecheapServer::Create(const Params& p) {
  const std::string command = "namecheap.domains.create";
  auto get = [&p](const std::string& k) {
    auto it = p.find(Lower(k));
    return it == p.end() ? std::string() : it->second;
  };
  std::string domain = Lower(get("DomainName"));
  if (domain.empty()) return ErrorXml(command, 2011166, "Parameter DomainName is missing");
  std::string years_text = get("Years");
  int years = 0;
  if (years_text.size() == 1 || years_text == "10") years = std::atoi(years_text.c_str());
  if (years < 1 || years > 10) return ErrorXml(command, 2015167, "Years is invalid");
  for (const char* role : {"Registrant", "Tech", "Admin", "AuxBilling"}) {
    for (const char* field : {"FirstName", "LastName", "Address1", "City", "StateProvince",
                              "PostalCode", "Country", "Phone", "EmailAddress"}) {
      std::string name = std::string(role) + field;
      if (get(name).empty()) {
        return ErrorXml(command, 2010323, "Parameter " + name + " is missing");
      }
    }
    if (!IsPhone(get(std::string(role) + "Phone"))) {
      return ErrorXml(command, 2015182,
                      "Phone number is invalid. The phone number format is +NNN.NNNNNNNNNN");
    }
  }
  auto price = tld_prices_.find(TldOf(domain));
  if (price == tld_prices_.end()) {
    return ErrorXml(command, 2030280, "TLD is not supported in API");
  }
  if (taken_.count(domain) || owned_.count(domain)) {
    return ErrorXml(command, 3019166, "Domain not available");
  }
  if (eap_fees_.count(domain)) {
    return ErrorXml(command, 2515610,
                    "Prices do not match: " + domain + " is in its early access phase");
  }
  bool says_premium = Lower(get("IsPremiumDomain")) == "true";
  int64_t charge = 0;
  if (auto prem = premium_.find(domain); prem != premium_.end()) {
    if (!says_premium || get("PremiumPrice").empty() ||
        Micros(get("PremiumPrice")) != Micros(prem->second)) {
      return ErrorXml(command, 2515623, "Premium price does not match for " + domain);
    }
    charge = Micros(prem->second) * years;
  } else {
    if (says_premium) {
      return ErrorXml(command, 2515623, domain + " is not a premium domain");
    }
    charge = (Micros(price->second.first) + Micros(price->second.second)) * years;
  }
  if (charge > balance_micros_) {
    return ErrorXml(command, 2528166, "Order creation failed: insufficient funds");
  }
  balance_micros_ -= charge;
  Owned o;
  o.created = "07/30/2024";
  o.expires = "07/30/" + std::to_string(2024 + years);
  o.id = next_id_++;
  o.premium = premium_.count(domain) > 0;
  owned_[domain] = o;
  if (info_lag_calls_ > 0) info_lag_left_[domain] = info_lag_calls_;
  std::string answered_domain = domain;
  std::string charged = Format4(charge);
  if (auto a = create_answers_.find(domain); a != create_answers_.end()) {
    if (!a->second.domain.empty()) answered_domain = a->second.domain;
    if (!a->second.charged_amount.empty()) charged = a->second.charged_amount;
  }
  return Ok(command, "    <DomainCreateResult Domain=\"" + Esc(answered_domain) +
                         "\" Registered=\"true\" ChargedAmount=\"" + charged + "\" DomainID=\"" +
                         std::to_string(o.id) + "\" OrderID=\"" + std::to_string(o.id + 500000) +
                         "\" TransactionID=\"" + std::to_string(o.id + 900000) +
                         "\" WhoisguardEnable=\"true\" NonRealTimeDomain=\"false\" />\n");
}

std::string FakeNamecheapServer::GetInfo(const Params& p) {
  const std::string command = "namecheap.domains.getinfo";
  auto it = p.find("domainname");
  std::string domain = it == p.end() ? "" : Lower(it->second);
  if (domain.empty()) return ErrorXml(command, 2030166, "Domain name is invalid");
  if (auto lag = info_lag_left_.find(domain); lag != info_lag_left_.end()) {
    if (--lag->second <= 0) info_lag_left_.erase(lag);
    return ErrorXml(command, 2019166, "Domain name not found");
  }
  auto o = owned_.find(domain);
  if (o == owned_.end()) {
    if (taken_.count(domain)) {
      return ErrorXml(command, 2016166, "Domain is not associated with your account");
    }
    return ErrorXml(command, 2019166, "Domain not found");
  }
  const Owned& d = o->second;
  return Ok(command,
            "    <DomainGetInfoResult Status=\"Ok\" ID=\"" + std::to_string(d.id) +
                "\" DomainName=\"" + Esc(domain) + "\" OwnerName=\"" + kUserName +
                "\" IsOwner=\"true\" IsPremium=\"" + (d.premium ? "true" : "false") +
                "\">\n"
                "      <DomainDetails>\n        <CreatedDate>" +
                d.created + "</CreatedDate>\n        <ExpiredDate>" + d.expires +
                "</ExpiredDate>\n        <NumYears>0</NumYears>\n      </DomainDetails>\n"
                "      <LockDetails />\n"
                "      <Whoisguard Enabled=\"True\">\n        <ID>351736</ID>\n"
                "        <ExpiredDate>" +
                d.expires +
                "</ExpiredDate>\n"
                "        <EmailDetails WhoisGuardEmail=\"abc123.protect@withheldforprivacy.com\""
                " ForwardedTo=\"owner@example.org\" LastAutoEmailChangeDate=\"07/30/2024\""
                " AutoEmailChangeFrequencyDays=\"3\" />\n      </Whoisguard>\n"
                "      <PremiumDnsSubscription>\n        <UseAutoRenew>false</UseAutoRenew>\n"
                "        <SubscriptionId>-1</SubscriptionId>\n"
                "        <CreatedDate>0001-01-01T00:00:00</CreatedDate>\n"
                "        <ExpirationDate>0001-01-01T00:00:00</ExpirationDate>\n"
                "        <IsActive>false</IsActive>\n      </PremiumDnsSubscription>\n"
                "      <DnsDetails ProviderType=\"FREE\" IsUsingOurDNS=\"true\" HostCount=\"2\""
                " EmailType=\"FWD\" DynamicDNSStatus=\"false\" IsFailover=\"false\">\n"
                "        <Nameserver>dns1.registrar-servers.com</Nameserver>\n"
                "        <Nameserver>dns2.registrar-servers.com</Nameserver>\n"
                "      </DnsDetails>\n      <Modificationrights All=\"true\" />\n"
                "    </DomainGetInfoResult>\n");
}

std::string FakeNamecheapServer::GetList(const Params& p) {
  const std::string command = "namecheap.domains.getlist";
  auto num = [&p](const char* k, int fallback) {
    auto it = p.find(k);
    if (it == p.end() || it->second.empty()) return fallback;
    for (char c : it->second) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
    }
    return std::atoi(it->second.c_str());
  };
  int page = num("page", 1);
  int size = num("pagesize", 20);
  if (page < 1 || size < 10 || size > 100) {
    return ErrorXml(command, 2011166, "Page or PageSize is invalid");
  }
  if (owned_.empty()) {
    return Ok(command,
              "    <DomainGetListResult />\n    <Paging>\n      <TotalItems>0"
              "</TotalItems>\n      <CurrentPage>1</CurrentPage>\n      <PageSize>" +
                  std::to_string(size) + "</PageSize>\n    </Paging>\n");
  }
  std::string rows;
  int index = 0;
  for (const auto& [name, o] : owned_) {
    if (index++ / size != page - 1) continue;
    rows += "      <Domain ID=\"" + std::to_string(o.id) + "\" Name=\"" + Esc(name) + "\" User=\"" +
            kUserName + "\" Created=\"" + o.created + "\" Expires=\"" + o.expires +
            "\" IsExpired=\"false\" IsLocked=\"false\" AutoRenew=\"false\" "
            "WhoisGuard=\"ENABLED\" IsPremium=\"" +
            (o.premium ? "true" : "false") + "\" IsOurDNS=\"true\" />\n";
  }
  return Ok(command, "    <DomainGetListResult>\n" + rows +
                         "    </DomainGetListResult>\n    <Paging>\n      <TotalItems>" +
                         std::to_string(owned_.size()) + "</TotalItems>\n      <CurrentPage>" +
                         std::to_string(page) + "</CurrentPage>\n      <PageSize>" +
                         std::to_string(size) + "</PageSize>\n    </Paging>\n");
}

std::string FakeNamecheapServer::Balances() {
  std::string b = Format4(balance_micros_);
  return Ok("namecheap.users.getbalances",
            "    <UserGetBalancesResult Currency=\"USD\" AvailableBalance=\"" + b +
                "\" AccountBalance=\"" + b +
                "\" EarnedAmount=\"0.00\" WithdrawableAmount=\"0.00\" "
                "FundsRequiredForAutoRenew=\"10.98\" />\n");
}

}  // namespace depositbot::testing
