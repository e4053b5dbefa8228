#include "chat/bank_notify_signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <optional>
#include <vector>

namespace depositbot {
namespace {

constexpr size_t kDigestSize = 32;
constexpr size_t kMaxHeaderLength = 2048;

std::array<unsigned char, kDigestSize> Hmac(std::string_view secret, int64_t timestamp,
                                            std::string_view body) {
  const std::string signed_text = std::to_string(timestamp) + "." + std::string(body);
  std::array<unsigned char, kDigestSize> out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), out.data(),
       &len);
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::array<unsigned char, kDigestSize>> FromHex(std::string_view hex) {
  if (hex.size() != 2 * kDigestSize) return std::nullopt;
  std::array<unsigned char, kDigestSize> out{};
  for (size_t i = 0; i < kDigestSize; ++i) {
    int hi = HexValue(hex[2 * i]), lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return out;
}

}  // namespace

std::string SignBankNotification(std::string_view secret, int64_t timestamp,
                                 std::string_view body) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char b : Hmac(secret, timestamp, body)) {
    hex += kHex[b >> 4];
    hex += kHex[b & 0xF];
  }
  return "t=" + std::to_string(timestamp) + ",v1=" + hex;
}

Status VerifyBankSignature(std::string_view header, std::string_view body, std::string_view secret,
                           int64_t now, int64_t tolerance_seconds) {
  if (secret.empty()) return Error::Forbidden("no secret is configured");
  if (header.empty()) return Error::Forbidden("the signature header is missing");
  if (header.size() > kMaxHeaderLength) return Error::Forbidden("the signature header is too long");
  std::optional<int64_t> timestamp;
  std::vector<std::string_view> signatures;
  while (!header.empty()) {
    const size_t comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) return Error::Forbidden("the signature header is malformed");
    std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "t") {
      if (timestamp) return Error::Forbidden("the signature header has two timestamps");
      if (value.empty() || value.size() > 12) return Error::Forbidden("the timestamp is malformed");
      int64_t t = 0;
      for (char c : value) {
        if (c < '0' || c > '9') return Error::Forbidden("the timestamp is malformed");
        t = t * 10 + (c - '0');
      }
      timestamp = t;
    } else if (key == "v1") {
      signatures.push_back(value);
    }  // other schemes (v0, ...) are not ours: ignored, as Stripe does
  }
  if (!timestamp) return Error::Forbidden("the signature header has no timestamp");
  if (signatures.empty()) return Error::Forbidden("the signature header has no v1 signature");
  const int64_t skew = now > *timestamp ? now - *timestamp : *timestamp - now;
  if (skew > tolerance_seconds) {
    return Error::Forbidden("the timestamp is " + std::to_string(skew) +
                            " seconds away from now, more than the tolerance");
  }
  const auto expected = Hmac(secret, *timestamp, body);
  bool match = false;
  for (std::string_view hex : signatures) {
    auto given = FromHex(hex);
    // Every candidate is compared, so the time taken does not say which one matched.
    if (given && CRYPTO_memcmp(given->data(), expected.data(), kDigestSize) == 0) match = true;
  }
  if (!match) return Error::Forbidden("no v1 signature matches");
  return Status::Ok();
}

}  // namespace depositbot
