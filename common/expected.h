#pragma once

#include <cassert>
#include <utility>
#include <variant>

namespace depositbot {

// Either a value or a failure of type E. The common Result<T> is
// Expected<T, Error>; layers with richer failures use their own E
// (RegistrarFailure, TelegramError, ValidationError) and reduce it to a
// common Error with ToResult(). Converts to bool like cpp-httplib's results:
//   if (auto r = registrar.Create(req)) use(*r); else handle(r.error());
template <typename T, typename E>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : value_or_error_(std::move(value)) {}  // NOLINT: implicit by design
  Expected(E error) : value_or_error_(std::move(error)) {}  // NOLINT

  bool ok() const { return value_or_error_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(value_or_error_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(value_or_error_);
  }
  // By value, not T&&: `for (auto& x : *repo.History(id))` then stays valid,
  // because the loop extends the life of a returned value but not of a
  // reference into a destroyed temporary.
  T value() && {
    assert(ok());
    return std::get<0>(std::move(value_or_error_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const E& error() const {
    assert(!ok());
    return std::get<1>(value_or_error_);
  }
  // The failure's common error code, for failures that carry one.
  auto code() const requires requires(const E& e) { e.code; }
  { return error().code; }
  // The same outcome with the failure reduced to a common Error (E::ToError()).
  template <typename R = T>
  auto ToResult() && {
    using Common = decltype(std::declval<const E&>().ToError());
    if (ok()) return Expected<R, Common>(std::get<0>(std::move(value_or_error_)));
    return Expected<R, Common>(error().ToError());
  }

 private:
  std::variant<T, E> value_or_error_;
};

}  // namespace depositbot
