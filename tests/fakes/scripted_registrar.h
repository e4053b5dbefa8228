#pragma once

#include <mutex>
#include <optional>

#include "registrar/demo_registrar.h"

namespace depositbot::testing {

// A registrar for purchase tests: the demo registrar's behaviour, with the
// outcome of the next Create calls and of GetInfo under the test's control.
class ScriptedRegistrar final : public Registrar {
 public:
  enum class CreateOutcome {
    kSucceed,                 // registered, answered
    kRefuse,                  // definite failure: domain not available
    kTimeoutAfterRegistering, // registered, but the answer was lost
    kTimeoutNotRegistered,    // nothing registered, the answer was lost
  };

  explicit ScriptedRegistrar(const Clock& clock) : demo_(clock) {}

  void SetCreateOutcome(CreateOutcome o) {
    std::lock_guard<std::mutex> l(mu_);
    outcome_ = o;
  }
  void SetInfoUnavailable(bool v) {
    std::lock_guard<std::mutex> l(mu_);
    info_unavailable_ = v;
  }
  int creates() const {
    std::lock_guard<std::mutex> l(mu_);
    return creates_;
  }

  RegistrarResult<std::vector<DomainAvailability>> Check(
      const std::vector<std::string>& d) override {
    return demo_.Check(d);
  }
  RegistrarResult<PriceQuote> Price(std::string_view tld, int years) override {
    return demo_.Price(tld, years);
  }
  RegistrarResult<CreateResult> Create(const CreateRequest& r) override {
    CreateOutcome o;
    {
      std::lock_guard<std::mutex> l(mu_);
      ++creates_;
      o = outcome_;
    }
    switch (o) {
      case CreateOutcome::kSucceed:
        return demo_.Create(r);
      case CreateOutcome::kRefuse:
        return RegistrarFailure::Make(RegistrarFailure::Kind::kDomainNotAvailable,
                                      "Domain not available", 3019166);
      case CreateOutcome::kTimeoutAfterRegistering: {
        (void)demo_.Create(r);
        RegistrarFailure f = RegistrarFailure::Make(RegistrarFailure::Kind::kTransport,
                                                    "read timed out");
        f.code = ErrorCode::kUnknownOutcome;
        return f;
      }
      case CreateOutcome::kTimeoutNotRegistered: {
        RegistrarFailure f = RegistrarFailure::Make(RegistrarFailure::Kind::kTransport,
                                                    "read timed out");
        f.code = ErrorCode::kUnknownOutcome;
        return f;
      }
    }
    return demo_.Create(r);
  }
  RegistrarResult<DomainInfo> GetInfo(std::string_view d) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (info_unavailable_) {
        return RegistrarFailure::Make(RegistrarFailure::Kind::kTransport, "connection refused");
      }
    }
    return demo_.GetInfo(d);
  }
  RegistrarResult<std::vector<DomainInfo>> List() override { return demo_.List(); }
  RegistrarResult<AccountBalance> Balance() override { return demo_.Balance(); }
  bool IsDemo() const override { return false; }
  std::string Name() const override { return "scripted"; }

 private:
  DemoRegistrar demo_;
  mutable std::mutex mu_;
  CreateOutcome outcome_ = CreateOutcome::kSucceed;
  bool info_unavailable_ = false;
  int creates_ = 0;
};

}  // namespace depositbot::testing
