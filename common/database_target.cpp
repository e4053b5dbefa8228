#include "common/database_target.h"

namespace depositbot {

bool IsPostgresUri(std::string_view target) {
  return target.rfind("postgresql://", 0) == 0 || target.rfind("postgres://", 0) == 0;
}

std::string RedactedDatabaseTarget(std::string_view target) {
  if (!IsPostgresUri(target)) return std::string(target);
  // postgresql://user:password@host/...: the password sits between the first ':' after the
  // scheme and the last '@' of the authority.
  size_t start = target.find("://") + 3;
  size_t end = target.find_first_of("/?", start);
  std::string_view authority =
      target.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
  size_t at = authority.rfind('@');
  std::string out(target);
  if (at != std::string_view::npos) {
    size_t colon = authority.find(':');
    if (colon != std::string_view::npos && colon < at) {
      out.replace(start + colon + 1, at - colon - 1, "***");
    }
  }
  // A password may also come as a query parameter.
  size_t p = out.find("password=");
  if (p != std::string::npos && (out[p - 1] == '?' || out[p - 1] == '&')) {
    size_t stop = out.find('&', p);
    out.replace(p + 9, stop == std::string::npos ? std::string::npos : stop - p - 9, "***");
  }
  return out;
}

}  // namespace depositbot
