#pragma once

#include <string>

#include "app/config.h"

namespace depositbot {

struct NotifyTestFlags {
  std::string amount;  // empty: 10000 in a zero-exponent currency, else 10.00
  std::string name = "KIM MINJI";
  std::string reference;  // empty: "TEST-<unix seconds>"
  std::string currency;   // empty: CURRENCY
  std::string url;        // empty: http://HTTP_LISTEN/deposits/notify
};

// `depositbot notify-test`: builds a sample bank notification, signs it with BANK_NOTIFY_SECRET
// (docs/bank-notifications.md), POSTs it and prints the status and the answer. Exit 0 only on
// 200; 1 on another status; 2 without a secret or when the server cannot be reached.
int RunNotifyTest(const Config& config, const NotifyTestFlags& flags);

}  // namespace depositbot
