#include "reward.h"

#include <mutex>
#include <string>

#include "buffer.h"
#include "errors.h"
#include "staging.h"

namespace hn {

Reward::Reward(std::vector<RewardTerm> terms) : terms_(std::move(terms)) {
  require(!terms_.empty(), ErrorCode::Argument, "Expected a reward with at least one term");
  for (const RewardTerm& t : terms_) {
    require(std::isfinite(t.weight), ErrorCode::Argument, "Expected finite reward weights");
    if (t.kind == RewardTerm::Kind::ClassifierLogProb) {
      require(t.model != nullptr, ErrorCode::Argument, "classifierLogProb needs a model");
      require(backend() == &t.model->backend(), ErrorCode::Argument, "All classifiers of a reward must be on the same backend");
    }
  }
}

Backend* Reward::backend() const noexcept {
  for (const RewardTerm& t : terms_) {
    if (t.model) return &t.model->backend();
  }
  return nullptr;
}

bool Reward::needs_classes() const noexcept {
  for (const RewardTerm& t : terms_) {
    if (t.kind == RewardTerm::Kind::ClassifierLogProb && t.fixed_class < 0) return true;
  }
  return false;
}

void Reward::check(int64_t p, int64_t cond_dim, bool classes_given) const {
  for (const RewardTerm& t : terms_) {
    switch (t.kind) {
      case RewardTerm::Kind::Redness:
        require(p % 3 == 0, ErrorCode::Shape,
                "redness expects RGB outputs laid out [3, H, W] (a multiple of 3 values) but the generator produces " +
                    std::to_string(p));
        break;
      case RewardTerm::Kind::Brightness: break;
      case RewardTerm::Kind::ClassifierLogProb: {
        require(t.model->input_dim() == p, ErrorCode::Shape,
                "classifierLogProb: the classifier expects " + std::to_string(t.model->input_dim()) +
                    " inputs but the generator produces " + std::to_string(p));
        const int64_t k = t.model->output_dim();
        require(t.fixed_class < k, ErrorCode::Argument,
                "classifierLogProb: class " + std::to_string(t.fixed_class) + " but the classifier has " +
                    std::to_string(k) + " classes");
        if (t.fixed_class < 0 && !classes_given) {
          require(cond_dim >= t.class_offset + k, ErrorCode::Shape,
                  "classifierLogProb takes each sample's class from the condition (one-hot, " + std::to_string(k) +
                      " entries from offset " + std::to_string(t.class_offset) + ") but the condition has " +
                      std::to_string(cond_dim) + " entries");
        }
        break;
      }
    }
  }
}

void Reward::check_classes(const int32_t* classes, int64_t n) const {
  for (int64_t i = 0; i < n; ++i) {
    require(classes[i] >= 0, ErrorCode::Argument,
            "Expected classes >= 0 but classes[" + std::to_string(i) + "] is " + std::to_string(classes[i]));
    for (const RewardTerm& t : terms_) {
      require(!t.model || classes[i] < t.model->output_dim(), ErrorCode::Argument,
              "classes[" + std::to_string(i) + "] is " + std::to_string(classes[i]) + " but the classifier has " +
                  (t.model ? std::to_string(t.model->output_dim()) : std::string("0")) + " classes");
    }
  }
}

void Reward::evaluate_device(Backend& b, const float* x, int64_t n, int64_t p, const float* cond, int64_t cond_dim,
                             const int32_t* classes, float* value, float* grad) const {
  b.fill(value, 0.0f, n);
  if (grad) b.fill(grad, 0.0f, n * p);
  for (const RewardTerm& t : terms_) {
    if (t.kind == RewardTerm::Kind::Redness) {
      b.pixel_reward(PixelReward::Redness, x, n, p, t.weight, value, grad);
    } else if (t.kind == RewardTerm::Kind::Brightness) {
      b.pixel_reward(PixelReward::Brightness, x, n, p, t.weight, value, grad);
    } else {
      const SequentialModel& m = *t.model;
      std::shared_lock<std::shared_mutex> lock(m.mutex());
      const int64_t k = m.output_dim();
      DeviceBuffer cls;
      const int32_t* c = classes;
      if (t.fixed_class >= 0 || classes == nullptr) {
        cls = DeviceBuffer(b, static_cast<size_t>(n) * sizeof(int32_t));
        if (t.fixed_class >= 0) {
          std::vector<int32_t> host(static_cast<size_t>(n), t.fixed_class);
          b.to_device(cls.data(), host.data(), host.size() * sizeof(int32_t));
        } else {
          b.argmax_classes(cond, n, cond_dim, t.class_offset, k, static_cast<int32_t*>(cls.data()));
        }
        c = static_cast<const int32_t*>(cls.data());
      }
      SeqCache cache;
      DeviceBuffer logits(b, static_cast<size_t>(n * k) * sizeof(float));
      m.forward_device(x, n, logits.f32(), grad ? &cache : nullptr);
      DeviceBuffer dlogits;
      if (grad) dlogits = DeviceBuffer(b, static_cast<size_t>(n * k) * sizeof(float));
      b.log_softmax_pick(logits.f32(), n, k, c, t.weight, value, grad ? dlogits.f32() : nullptr);
      if (grad) {
        DeviceBuffer dx(b, static_cast<size_t>(n * p) * sizeof(float));
        m.backward_device(x, dlogits.f32(), n, cache, dx.f32(), nullptr);
        b.axpby(1.0f, dx.f32(), 1.0f, grad, n * p);
      }
    }
  }
}

void Reward::evaluate(Backend& b, const float* x, int64_t n, int64_t p, const float* cond, int64_t cond_dim,
                      const int32_t* classes, float* value, float* grad) const {
  if (n == 0) return;
  require(backend() == nullptr || backend() == &b, ErrorCode::Argument,
          "The reward's classifier lives on another backend than the one asked for");
  if (classes) check_classes(classes, n);
  StagedIn xs(b, x, static_cast<size_t>(n * p) * sizeof(float));
  StagedIn cs(b, cond, static_cast<size_t>(n * cond_dim) * sizeof(float));
  StagedIn ks(b, classes, classes ? static_cast<size_t>(n) * sizeof(int32_t) : 0);
  StagedOut vs(b, value, static_cast<size_t>(n) * sizeof(float));
  StagedOut gs(b, grad, grad ? static_cast<size_t>(n * p) * sizeof(float) : 0);
  evaluate_device(b, xs.f32(), n, p, cond ? cs.f32() : nullptr, cond_dim, classes ? ks.i32() : nullptr, vs.f32(),
                  grad ? gs.f32() : nullptr);
  vs.finish();
  if (grad) gs.finish();
}

}  // namespace hn
