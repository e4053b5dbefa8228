#pragma once

namespace depositbot {

// The open transaction of one store operation, handed to work that must commit or roll back
// with it (an order's state transition inside the debit that pays for it, see
// DepositStore::Purchase). Opaque: only stores of the backend that opened it can use it, and
// only while the callback that received it runs. Passing it to a store of another backend is a
// bug (std::logic_error).
class StoreTransaction {
 public:
  StoreTransaction(const StoreTransaction&) = delete;
  StoreTransaction& operator=(const StoreTransaction&) = delete;
  virtual ~StoreTransaction() = default;

 protected:
  StoreTransaction() = default;
};

}  // namespace depositbot
