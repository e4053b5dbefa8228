// libFuzzer target: what a Namecheap endpoint (or whatever answers at its URL) sends back. The
// body goes through the envelope check and every command's parser (registrar/namecheap_xml.h).
// Properties: a broken envelope fails every command alike, and a body that is not Namecheap's
// ApiResponse is never a definite refusal; past a good envelope a read fails only as a
// malformed reply (or, for pricing, an unsold TLD) and a create only with an unknown outcome;
// a parsed result has lower-case names, no negative money and one check result per requested
// name, in order; a created one names its domain.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "registrar/namecheap_xml.h"

#ifndef DEPOSITBOT_FUZZ_ENTRY
#define DEPOSITBOT_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

using namespace depositbot;
using Kind = RegistrarFailure::Kind;

namespace {

void Require(bool ok) {
  if (!ok) std::abort();
}

bool IsLower(const std::string& s) {
  for (char c : s) {
    if (std::isupper(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// A failure of a command parser against what the envelope alone said.
template <typename T>
void CheckFailure(const RegistrarResult<T>& r, const std::optional<RegistrarFailure>& envelope,
                  bool create) {
  if (r) {
    Require(!envelope);
    return;
  }
  const RegistrarFailure& f = r.error();
  Require(!f.message.empty());
  if (envelope) {
    Require(f.kind == envelope->kind && f.code == envelope->code && f.number == envelope->number);
    return;
  }
  if (create) {
    Require(f.OutcomeUnknown() && (f.kind == Kind::kMalformedResponse || f.kind == Kind::kOther));
  } else {
    Require(f.Definite() &&
            (f.kind == Kind::kMalformedResponse || f.kind == Kind::kInvalidRequest));
  }
}

}  // namespace

extern "C" int DEPOSITBOT_FUZZ_ENTRY(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);

  // Non-200 statuses take another path when the body is not an ApiResponse.
  for (int status : {200, 404, 502}) {
    auto f = CheckNamecheapEnvelope("namecheap.domains.check", status, body);
    if (f) Require(!f->message.empty());
    // Whatever is not Namecheap's own answer never reads as a definite refusal.
    if (f && (f->kind == Kind::kTransport || f->kind == Kind::kMalformedResponse)) {
      Require(f->OutcomeUnknown());
    }
  }
  const std::optional<RegistrarFailure> envelope =
      CheckNamecheapEnvelope("namecheap.domains.check", 200, body);

  for (const std::vector<std::string>& requested :
       {std::vector<std::string>{}, std::vector<std::string>{"example-shop.com", "SHOP.xyz"}}) {
    auto check = ParseCheckResponse(body, requested);
    CheckFailure(check, envelope, false);
    if (!check) continue;
    Require(check->size() == requested.size());
    for (size_t i = 0; i < requested.size(); ++i) {
      const DomainAvailability& a = (*check)[i];
      Require(IsLower(a.domain));
      Require(a.premium_price_usd_micros >= 0 && a.premium_renewal_usd_micros >= 0 &&
              a.icann_fee_usd_micros >= 0 && a.eap_fee_usd_micros >= 0);
      Require(a.premium || (a.premium_price_usd_micros == 0 && a.premium_renewal_usd_micros == 0));
      Require(!a.unknown || (!a.available && !a.note.empty()));
    }
  }

  auto pricing = ParsePricingResponse(body, "com");
  CheckFailure(pricing, envelope, false);
  if (pricing) {
    Require(!pricing->empty());
    for (const auto& [years, price] : *pricing) {
      Require(years >= 0 && price.first > 0 && price.second >= 0);
    }
  }

  auto create = ParseCreateResponse(body, "example-shop.com");
  CheckFailure(create, envelope, true);
  if (create) {
    Require(create->registered && !create->domain.empty() && IsLower(create->domain) &&
            create->charged_usd_micros >= 0);
  }

  auto info = ParseInfoResponse(body);
  CheckFailure(info, envelope, false);
  if (info) Require(IsLower(info->domain));

  auto list = ParseListResponse(body);
  CheckFailure(list, envelope, false);
  if (list) {
    for (const DomainInfo& d : list->domains) {
      Require(IsLower(d.domain) && d.is_ours);
    }
    Require(!list->domains.empty() || list->last);
  }

  auto tlds = ParseTldListResponse(body);
  CheckFailure(tlds, envelope, false);
  if (tlds) {
    Require(!tlds->empty() && tlds->size() <= kMaxTldListEntries);
    for (const TldOffer& t : *tlds) {
      Require(!t.name.empty() && IsLower(t.name) && t.name.front() != '.');
      Require(t.min_years >= 1 && t.min_years <= t.max_years && t.max_years <= 10);
    }
  }

  auto balances = ParseBalancesResponse(body);
  CheckFailure(balances, envelope, false);
  if (balances) {
    Require(balances->available_usd_micros >= 0 && balances->account_balance_usd_micros >= 0 &&
            balances->funds_required_for_auto_renew_usd_micros >= 0);
  }
  return 0;
}
