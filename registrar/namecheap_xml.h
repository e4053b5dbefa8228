#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "registrar/registrar.h"
#include "registrar/registrar_error.h"

namespace depositbot {

// The pure half of the Namecheap client: reply bodies (XML text) to typed results, with no
// HTTP, no retries and no logging (reference/namecheap-api.md §2-3). NamecheapRegistrar sends
// the command and hands the body here; the fuzz target calls these directly. None of them
// throws, whatever the body. Failure messages are not redacted: the caller removes the API key.

// The envelope of any reply: `http_status` and `body` as received for `command`
// ("namecheap.domains.check"). nullopt for an <ApiResponse Status="OK"> with a CommandResponse.
// Otherwise the failure, with the code a create needs (reads downgrade kUnknownOutcome):
// Namecheap's <Errors> classified by ClassifyNamecheapError, definite only for Status="ERROR"
// whose every error is classified (any kOther, no Error element, or errors under another
// Status is kUnknownOutcome); a body that is not an ApiResponse is kUnknownOutcome, kTransport
// for a non-200 status (a proxy's HTML page), else kMalformedResponse, as is any other Status.
std::optional<RegistrarFailure> CheckNamecheapEnvelope(std::string_view command, int http_status,
                                                       std::string_view body);

// Each command's parser checks the envelope as for HTTP 200, then reads its result.
// A result that lacks what the command must answer is kMalformedResponse (definite code; the
// registrar upgrades it where a create's outcome is at stake).

// domains.check for `requested` (in that order; a reply without one of them is malformed).
RegistrarResult<std::vector<DomainAvailability>> ParseCheckResponse(
    std::string_view body, const std::vector<std::string>& requested);

// users.getPricing: years -> (price per year, ICANN fee per year), USD micros, for the
// "register" action of `tld` (lower case, no dot). No price at all is kInvalidRequest.
using NamecheapPriceTable = std::map<int, std::pair<int64_t, int64_t>>;
RegistrarResult<NamecheapPriceTable> ParsePricingResponse(std::string_view body,
                                                          const std::string& tld);

// domains.create for `domain`. Registered="false" is kOther with kUnknownOutcome, and so is a
// reply missing what says whether it was registered or what it was (kMalformedResponse): only
// the registrar can later tell how such an order ended. A success carries the reply's own
// Domain (lower-cased) and ChargedAmount, never the request's: the caller checks them.
RegistrarResult<CreateResult> ParseCreateResponse(std::string_view body, const std::string& domain);

// domains.getInfo.
RegistrarResult<DomainInfo> ParseInfoResponse(std::string_view body);
// A failed domains.getInfo as the recovery job must read it: kNotFound (kind and code) only
// when a plain Status="ERROR" reply said the account does not hold the name (2019166, 2016166,
// 4011103 worded about the domain); everything else is kUnavailable, never kNotFound.
RegistrarFailure InfoFailure(RegistrarFailure failure);

// One page of domains.getList; `last` when no further page should be asked for.
struct NamecheapListPage {
  std::vector<DomainInfo> domains;
  bool last = true;
};
RegistrarResult<NamecheapListPage> ParseListResponse(std::string_view body);

// domains.getTldList (reference §3.7): the extensions Namecheap registers through the API
// (IsApiRegisterable not "false"), names lower-cased without a leading dot, duplicates dropped.
// A reply for another command (its CommandResponse Type or RequestedCommand), a body over
// kMaxTldListBody bytes or more than kMaxTldListEntries Tld elements is kMalformedResponse, as
// is a list with no usable entry; an entry whose Name is no extension ("", "a b") is skipped.
inline constexpr size_t kMaxTldListBody = 8 * 1024 * 1024;
inline constexpr size_t kMaxTldListEntries = 5000;
RegistrarResult<std::vector<TldOffer>> ParseTldListResponse(std::string_view body);

// users.getBalances.
RegistrarResult<AccountBalance> ParseBalancesResponse(std::string_view body);

}  // namespace depositbot
