// The JavaScript classes the addon exports, one wrapper per core object (one file each).
#pragma once

#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "core/hypernetwork.h"
#include "core/model_optimizer.h"
#include "core/optimizer.h"
#include "core/reward.h"
#include "core/sequential.h"
#include "core/trainer.h"
#include "core/tto.h"
#include "addon_util.h"

namespace hn {
namespace addon {

// Inside a wrapper class X: Bound<&X::Method, true> is Method(info, async = true) as an N-API method, so one
// implementation serves the Promise form and its Sync twin.
#define HN_BOUND_METHODS(X)                                          \
  template <Napi::Value (X::*M)(const Napi::CallbackInfo&, bool), bool A> \
  Napi::Value Bound(const Napi::CallbackInfo& info) {                 \
    return (this->*M)(info, A);                                       \
  }

// Holds a core object for a wrapper: ERR_DISPOSED after dispose(), native memory reported to V8.
template <typename Core>
class Holder {
 public:
  std::shared_ptr<Core> get(Napi::Env env, const char* what) const {
    if (!core_) throw_error(env, "ERR_DISPOSED", std::string(what) + " has been disposed");
    return core_;
  }
  void set(Napi::Env env, std::shared_ptr<Core> core, int64_t bytes) {
    core_ = std::move(core);
    report(env, bytes);
  }
  void report(Napi::Env env, int64_t bytes) {
    if (bytes != reported_) Napi::MemoryManagement::AdjustExternalMemory(env, bytes - reported_);
    reported_ = bytes;
  }
  void dispose(Napi::Env env) {
    core_.reset();
    report(env, 0);
  }
  bool disposed() const noexcept { return !core_; }

 private:
  std::shared_ptr<Core> core_;
  int64_t reported_ = 0;
};

// The lifecycle every wrapper shares: its core object in a Holder, `dispose()` and the `disposed` accessor,
// and release when the JavaScript object is finalised. Derived::kName names the class in messages.
template <class Derived, class Core>
class CoreWrap : public Napi::ObjectWrap<Derived> {
 public:
  explicit CoreWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Derived>(info) {}
  ~CoreWrap() override { holder_.dispose(this->Env()); }
  std::shared_ptr<Core> core(Napi::Env env) const { return holder_.get(env, Derived::kName); }

 protected:
  // The class with `props` plus dispose() and disposed.
  static Napi::Function define(Napi::Env env, std::vector<Napi::ClassPropertyDescriptor<Derived>> props) {
    props.push_back(Napi::ObjectWrap<Derived>::InstanceMethod("dispose", &CoreWrap::Dispose));
    props.push_back(Napi::ObjectWrap<Derived>::InstanceAccessor("disposed", &CoreWrap::Disposed, nullptr));
    return Napi::ObjectWrap<Derived>::DefineClass(env, Derived::kName, props);
  }
  // Makes the core object (any exception becomes a coded JavaScript error), holds it and reports its memory.
  template <class Make>
  void adopt(Napi::Env env, Make make) {
    try {
      std::shared_ptr<Core> core = make();
      holder_.set(env, core, static_cast<int64_t>(core->memory_bytes()));
    } catch (...) {
      rethrow_as_js(env);
    }
  }
  // Reports the core object's memory again (after a call that may have grown its buffers).
  void report_memory(Napi::Env env) {
    if (!holder_.disposed()) holder_.report(env, static_cast<int64_t>(core(env)->memory_bytes()));
  }
  // Called by dispose() after the core object is released (for references a wrapper keeps).
  void on_dispose() {}

  Holder<Core> holder_;

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    holder_.dispose(info.Env());
    static_cast<Derived*>(this)->on_dispose();
    return info.Env().Undefined();
  }
  Napi::Value Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), holder_.disposed()); }
};

class HypernetworkWrap final : public CoreWrap<HypernetworkWrap, Hypernetwork> {
 public:
  HN_BOUND_METHODS(HypernetworkWrap)
  static constexpr const char* kName = "Hypernetwork";
  static Napi::Function Init(Napi::Env env);
  explicit HypernetworkWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Init_(const Napi::CallbackInfo& info);
  Napi::Value SetParams(const Napi::CallbackInfo& info);
  Napi::Value GetParams(const Napi::CallbackInfo& info);
  Napi::Value GetGradient(const Napi::CallbackInfo& info);
  Napi::Value Forward(const Napi::CallbackInfo& info, bool async);
  Napi::Value Kl(const Napi::CallbackInfo& info, bool async);
  // forward and kl: (eps, cond | null, n, out) with out_per_sample x n floats written by `method`.
  using InferMethod = void (Hypernetwork::*)(const float*, const float*, int64_t, float*) const;
  Napi::Value Infer(const Napi::CallbackInfo& info, bool async, const char* out_name, int64_t out_per_sample,
                    InferMethod method);
  Napi::Value ForwardTrain(const Napi::CallbackInfo& info, bool async);
  Napi::Value Backward(const Napi::CallbackInfo& info, bool async);
};

class ModelWrap final : public CoreWrap<ModelWrap, SequentialModel> {
 public:
  HN_BOUND_METHODS(ModelWrap)
  static constexpr const char* kName = "SequentialModel";
  static Napi::Function Init(Napi::Env env);
  explicit ModelWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Init_(const Napi::CallbackInfo& info);
  Napi::Value SetParams(const Napi::CallbackInfo& info);
  Napi::Value GetParams(const Napi::CallbackInfo& info);
  Napi::Value Forward(const Napi::CallbackInfo& info, bool async);
  Napi::Value Vjp(const Napi::CallbackInfo& info, bool async);
  Napi::Value Gradients(const Napi::CallbackInfo& info, bool async);
};

class RewardWrap final : public CoreWrap<RewardWrap, Reward> {
 public:
  HN_BOUND_METHODS(RewardWrap)
  static constexpr const char* kName = "Reward";
  static Napi::Function Init(Napi::Env env);
  explicit RewardWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Evaluate(const Napi::CallbackInfo& info, bool async);
  Napi::Value NeedsClasses(const Napi::CallbackInfo& info);
};

class TrainerWrap final : public CoreWrap<TrainerWrap, Trainer> {
 public:
  HN_BOUND_METHODS(TrainerWrap)
  static constexpr const char* kName = "Trainer";
  static Napi::Function Init(Napi::Env env);
  explicit TrainerWrap(const Napi::CallbackInfo& info);
  void on_dispose() { hn_ref_.Reset(); }

 private:
  Napi::Value Step(const Napi::CallbackInfo& info, bool async);
  Napi::Value Noise(const Napi::CallbackInfo& info);
  Napi::Value ApplyGradient(const Napi::CallbackInfo& info, bool async);
  Napi::Value RecordSkip(const Napi::CallbackInfo& info);
  Napi::Value GetOptimizerState(const Napi::CallbackInfo& info);
  Napi::Value SetOptimizerState(const Napi::CallbackInfo& info);
  Napi::ObjectReference hn_ref_;  // keeps the hypernetwork wrapper alive with the trainer
};

// An optimiser over a SequentialModel's parameters (training the shipped models).
class ModelOptimizerWrap final : public CoreWrap<ModelOptimizerWrap, ModelOptimizer> {
 public:
  static constexpr const char* kName = "ModelOptimizer";
  static Napi::Function Init(Napi::Env env);
  explicit ModelOptimizerWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Step(const Napi::CallbackInfo& info);
};

class RenoWrap final : public CoreWrap<RenoWrap, RenoRun> {
 public:
  HN_BOUND_METHODS(RenoWrap)
  static constexpr const char* kName = "RenoRun";
  static Napi::Function Init(Napi::Env env);
  explicit RenoWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Iterate(const Napi::CallbackInfo& info, bool async);
  Napi::Value Best(const Napi::CallbackInfo& info);
  Napi::Value History(const Napi::CallbackInfo& info);
  Napi::Value Done(const Napi::CallbackInfo& info);
};

// Unwraps `v` as T after checking that it was made by T's constructor in this environment.
template <typename T>
T* unwrap_as(Napi::Env env, const Napi::Value& v, const Napi::FunctionReference& ctor, const char* what) {
  if (!v.IsObject() || ctor.IsEmpty() || !v.As<Napi::Object>().InstanceOf(ctor.Value())) {
    throw_error(env, "ERR_ARGUMENT", std::string("Expected a native ") + what + " but received " + describe(v));
  }
  return T::Unwrap(v.As<Napi::Object>());
}

// { gradNorm, skipped, lr } of an optimiser step.
inline Napi::Object step_result(Napi::Env env, const OptimizerStepResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("gradNorm", r.grad_norm);
  o.Set("skipped", r.skipped);
  o.Set("lr", r.lr);
  return o;
}

}  // namespace addon
}  // namespace hn
