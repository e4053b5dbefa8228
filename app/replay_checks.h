#pragma once

#include <string>
#include <vector>

#include "app/fixture.h"
#include "app/replay_steps.h"

namespace depositbot {

struct ReplayStack;

// Compares what a replayed turn did, and the books after it, with the fixture's expectations.
// Each difference is one line for the report: where, expected, got. The stack must outlive it.
class ExpectationChecker {
 public:
  ExpectationChecker(ReplayStack& stack, const FixtureSettings& settings)
      : stack_(stack), settings_(settings) {}

  // A turn's expectations (reply, calls, ui, model calls, offers, recovery) and its books.
  void CheckTurn(const TurnExpectation& e, const StepResult& a, std::vector<std::string>& diffs);
  // Balances, ledger counts, orders, reconciliation and the registrar's record.
  void CheckBooks(const BooksExpectation& b, std::vector<std::string>& diffs,
                  const std::string& prefix);

 private:
  void CheckCalls(const std::vector<CallExpectation>& expected,
                  const std::vector<ExecutedCall>& actual, std::vector<std::string>& diffs);
  std::string Money(int64_t minor) const;

  ReplayStack& stack_;
  const FixtureSettings& settings_;
};

}  // namespace depositbot
