#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>

#include "registrar/demo_registrar.h"

namespace depositbot::testing {

// A registrar for purchase tests: the demo registrar's behaviour, with the
// outcome of the next Create calls and of GetInfo under the test's control.
class ScriptedRegistrar final : public Registrar {
 public:
  enum class CreateOutcome {
    kSucceed,                  // registered, answered
    kRefuse,                   // definite failure: domain not available
    kTimeoutAfterRegistering,  // registered, but the answer was lost
    kTimeoutNotRegistered,     // nothing registered, the answer was lost
    kSucceedOtherDomain,       // "registered" another name (c00lname.com for coolname.com)
    kSucceedOvercharged,       // registered, but charged 2,500 USD
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
  // From now on Create waits, once it was called, until ReleaseCreates(): a
  // registrar call in flight that the test can act beside.
  void HoldCreates() {
    std::lock_guard<std::mutex> l(mu_);
    hold_ = true;
  }
  // Blocks until a Create is waiting on the hold.
  void AwaitHeldCreate() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return held_ > 0; });
  }
  void ReleaseCreates() {
    {
      std::lock_guard<std::mutex> l(mu_);
      hold_ = false;
    }
    cv_.notify_all();
  }

  RegistrarResult<std::vector<DomainAvailability>> Check(
      const std::vector<std::string>& d) override {
    return demo_.Check(d);
  }
  RegistrarResult<std::vector<TldOffer>> OfferedTlds() override { return demo_.OfferedTlds(); }
  RegistrarResult<PriceQuote> Price(std::string_view tld, int years) override {
    return demo_.Price(tld, years);
  }
  RegistrarResult<CreateResult> Create(const CreateRequest& r) override {
    CreateOutcome o;
    {
      std::unique_lock<std::mutex> l(mu_);
      ++creates_;
      ++held_;
      cv_.notify_all();
      cv_.wait(l, [&] { return !hold_; });
      --held_;
      o = outcome_;
    }
    switch (o) {
      case CreateOutcome::kSucceed:
        return demo_.Create(r);
      case CreateOutcome::kSucceedOtherDomain: {
        // Reports a success for another name; the ordered one is not registered.
        CreateRequest other = r;
        other.domain = "c00lname.com";
        return demo_.Create(other);
      }
      case CreateOutcome::kSucceedOvercharged: {
        auto created = demo_.Create(r);
        if (created) created->charged_usd_micros = 2'500'000'000;
        return created;
      }
      case CreateOutcome::kRefuse:
        return RegistrarFailure::Make(RegistrarFailure::Kind::kDomainNotAvailable,
                                      "Domain not available", 3019166);
      case CreateOutcome::kTimeoutAfterRegistering: {
        (void)demo_.Create(r);
        RegistrarFailure f =
            RegistrarFailure::Make(RegistrarFailure::Kind::kTransport, "read timed out");
        f.code = ErrorCode::kUnknownOutcome;
        return f;
      }
      case CreateOutcome::kTimeoutNotRegistered: {
        RegistrarFailure f =
            RegistrarFailure::Make(RegistrarFailure::Kind::kTransport, "read timed out");
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
  std::condition_variable cv_;
  bool hold_ = false;
  int held_ = 0;
  CreateOutcome outcome_ = CreateOutcome::kSucceed;
  bool info_unavailable_ = false;
  int creates_ = 0;
};

}  // namespace depositbot::testing
