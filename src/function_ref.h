// SPDX-License-Identifier: MIT
// FunctionRef<R(Args...)>: a non-owning reference to a callable, for the
// engine's per-call pack/unpack hooks. Unlike std::function it never
// allocates (a lambda capturing five references would), which matters on
// calls of a few bytes. The callable must outlive the reference: pass
// lambdas and std::function objects down the stack, never store them.
#pragma once

#include <type_traits>
#include <utility>

namespace sv {

template <typename Sig>
class FunctionRef;

template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  template <typename F, typename = std::enable_if_t<!std::is_same<std::decay_t<F>, FunctionRef>::value>>
  FunctionRef(F&& f)  // NOLINT: implicit, as std::function's
      : obj_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* o, Args... a) -> R { return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<Args>(a)...); }) {}
  R operator()(Args... a) const { return call_(obj_, std::forward<Args>(a)...); }

 private:
  void* obj_;
  R (*call_)(void*, Args...);
};

}  // namespace sv
