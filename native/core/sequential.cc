#include "sequential.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <utility>

#include "errors.h"
#include "philox.h"
#include "staging.h"

namespace hn {

void SeqCache::prepare(Backend& backend, const std::vector<SeqStage>& stages, int64_t n) {
  int64_t floats = 0;
  for (const SeqStage& s : stages) floats += (s.has_linear ? 2 : 1) * n * s.out;
  buf_.ensure(backend, static_cast<size_t>(floats) * sizeof(float));
  z_.assign(stages.size(), nullptr);
  y_.assign(stages.size(), nullptr);
  float* at = buf_.f32();
  for (size_t i = 0; i < stages.size(); ++i) {
    if (stages[i].has_linear) {
      z_[i] = at;
      at += n * stages[i].out;
    }
    y_[i] = at;
    at += n * stages[i].out;
  }
  n_ = n;
}

SequentialModel::SequentialModel(Backend& backend, std::vector<LayerSpec> layers)
    : backend_(backend), layers_(std::move(layers)) {
  require(!layers_.empty(), ErrorCode::Argument, "Expected at least one layer");
  int64_t width = -1;
  int64_t at = 0;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const LayerSpec& l = layers_[i];
    if (l.linear) {
      require(l.in > 0 && l.out > 0, ErrorCode::Argument,
              "Layer " + std::to_string(i) + ": expected positive in and out but received in=" + std::to_string(l.in) +
                  ", out=" + std::to_string(l.out));
      require(width < 0 || width == l.in, ErrorCode::Argument,
              "Layer " + std::to_string(i) + " (linear) expects " + std::to_string(l.in) +
                  " inputs but the layers before it produce " + std::to_string(width));
      if (width < 0) input_dim_ = l.in;
      // Counted in double first: in * out summed over many wide layers can overflow int64, and a count
      // that wrapped to a small number would size the parameter buffer that init() then overruns.
      const double total = static_cast<double>(at) + static_cast<double>(l.out) * static_cast<double>(l.in + 1);
      require(total < 4e9, ErrorCode::Argument,
              "Model too large: layer " + std::to_string(i) + " brings the parameter count to " +
                  std::to_string(total) + " (at most 4e9)");
      w_offsets_.push_back(at);
      at += l.in * l.out;
      b_offsets_.push_back(at);
      at += l.out;
      SeqStage s;
      s.has_linear = true;
      s.in = l.in;
      s.out = l.out;
      s.w_offset = w_offsets_.back();
      s.b_offset = b_offsets_.back();
      stages_.push_back(s);
      width = l.out;
    } else {
      w_offsets_.push_back(-1);
      b_offsets_.push_back(-1);
      require(width > 0, ErrorCode::Argument,
              "Layer " + std::to_string(i) + ": a model must begin with a linear layer (its width is unknown)");
      if (!stages_.empty() && stages_.back().activation == Activation::Identity) {
        stages_.back().activation = l.activation;  // fuse into the stage before
      } else {
        SeqStage s;
        s.has_linear = false;
        s.in = s.out = width;
        s.activation = l.activation;
        stages_.push_back(s);
      }
    }
  }
  output_dim_ = width;
  param_count_ = at;
  params_ = DeviceBuffer(backend_, static_cast<size_t>(param_count_) * sizeof(float));
  backend_.fill(params_.f32(), 0.0f, param_count_);
}

void SequentialModel::set_params(const float* host, int64_t count) {
  require(count == param_count_, ErrorCode::Shape,
          "Expected " + std::to_string(param_count_) + " parameters but received " + std::to_string(count));
  std::unique_lock<std::shared_mutex> lock(mutex_);
  backend_.to_device(params_.data(), host, static_cast<size_t>(count) * sizeof(float));
  ++version_;
}

std::shared_ptr<const SequentialModel::PreparedStages> SequentialModel::prepared_stages() const {
  const uintptr_t key = backend_.seq_layout_key();
  std::lock_guard<std::mutex> lock(prepared_mutex_);
  if (prepared_ && prepared_->version == version_ && prepared_->key == key) return prepared_;
  auto p = std::make_shared<PreparedStages>();
  p->version = version_;
  p->key = key;
  p->stages = stages_;
  for (SeqStage& s : p->stages) {
    if (!s.has_linear) continue;
    std::unique_ptr<PreparedWeights> w = backend_.seq_prepare(s, params_.f32());
    if (!w) {  // the backend prepares nothing: the plain stages (kept, so it is not asked again)
      p->stages = stages_;
      p->owned.clear();
      break;
    }
    s.prepared = w.get();
    p->owned.push_back(std::move(w));
  }
  prepared_ = p;
  return prepared_;
}

void SequentialModel::get_params(float* host, int64_t count) const {
  require(count == param_count_, ErrorCode::Shape,
          "Expected room for " + std::to_string(param_count_) + " parameters but received " + std::to_string(count));
  std::shared_lock<std::shared_mutex> lock(mutex_);
  backend_.to_host(host, params_.data(), static_cast<size_t>(count) * sizeof(float));
}

void SequentialModel::init(uint64_t seed) {
  std::vector<float> host(static_cast<size_t>(param_count_));
  uint64_t row = 0;
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (!layers_[i].linear) continue;
    const double bound = 1.0 / std::sqrt(static_cast<double>(layers_[i].in));
    auto fill = [&](int64_t offset, int64_t count) {
      for (int64_t j = 0; j < count; j += 4) {
        double u[4];
        philox::uniform4(seed, row, static_cast<uint32_t>(j / 4), 0x494e4954u, u);
        for (int q = 0; q < 4 && j + q < count; ++q) host[static_cast<size_t>(offset + j + q)] = static_cast<float>((2.0 * u[q] - 1.0) * bound);
      }
      ++row;
    };
    fill(w_offsets_[i], layers_[i].in * layers_[i].out);
    fill(b_offsets_[i], layers_[i].out);
  }
  set_params(host.data(), param_count_);
}

void SequentialModel::forward_device(const float* x, int64_t n, float* y, SeqCache* cache) const {
  SeqCache local;
  SeqCache& c = cache ? *cache : local;
  c.prepare(backend_, stages_, n);
  const std::shared_ptr<const PreparedStages> prepared = prepared_stages();
  const std::vector<SeqStage>& stages = prepared ? prepared->stages : stages_;
  const float* in = x;
  for (size_t i = 0; i < stages.size(); ++i) {
    const bool last = i + 1 == stages.size();
    float* out = (last && !cache) ? y : c.y(i);
    backend_.seq_stage_forward(stages[i], params_.f32(), in, n, cache ? c.z(i) : nullptr, out);
    in = out;
  }
  if (cache) backend_.copy(y, c.y(stages_.size() - 1), static_cast<size_t>(n * output_dim_) * sizeof(float));
}

void SequentialModel::backward_device(const float* x, float* dy, int64_t n, const SeqCache& cache, float* dx,
                                      float* grad) const {
  require(cache.n() == n, ErrorCode::Internal, "sequential backward: cache batch mismatch");
  // Gradients flow back through two scratch buffers as wide as the widest stage input, alternately.
  int64_t widest = 0;
  for (const SeqStage& s : stages_) widest = std::max(widest, s.in);
  DeviceBuffer scratch;
  if (stages_.size() > 1) scratch = DeviceBuffer(backend_, static_cast<size_t>(2 * n * widest) * sizeof(float));
  const std::shared_ptr<const PreparedStages> prepared = prepared_stages();
  const std::vector<SeqStage>& stages = prepared ? prepared->stages : stages_;
  float* cur = dy;
  for (size_t k = stages.size(); k-- > 0;) {
    const SeqStage& s = stages[k];
    const float* in = k == 0 ? x : cache.y(k - 1);
    const float* z = s.has_linear ? cache.z(k) : in;
    float* next = k == 0 ? dx : scratch.f32() + (k % 2) * n * widest;
    backend_.seq_stage_backward(s, params_.f32(), in, z, cur, n, next, grad);
    cur = next;
  }
}

void SequentialModel::forward(const float* x, int64_t n, float* y) const {
  require(n >= 0, ErrorCode::Shape, "Expected a non-negative batch size");
  if (n == 0) return;
  std::shared_lock<std::shared_mutex> lock(mutex_);
  StagedIn in(backend_, x, static_cast<size_t>(n * input_dim_) * sizeof(float));
  StagedOut out(backend_, y, static_cast<size_t>(n * output_dim_) * sizeof(float));
  forward_device(in.f32(), n, out.f32(), nullptr);
  out.finish();
}

void SequentialModel::vjp(const float* x, const float* dy, int64_t n, float* dx) const {
  require(n >= 0, ErrorCode::Shape, "Expected a non-negative batch size");
  if (n == 0) return;
  std::shared_lock<std::shared_mutex> lock(mutex_);
  StagedIn in(backend_, x, static_cast<size_t>(n * input_dim_) * sizeof(float));
  StagedOut out(backend_, dx, static_cast<size_t>(n * input_dim_) * sizeof(float));
  SeqCache cache;
  DeviceBuffer y(backend_, static_cast<size_t>(n * output_dim_) * sizeof(float));
  forward_device(in.f32(), n, y.f32(), &cache);
  // dy is overwritten by the backward: copy it.
  DeviceBuffer g(backend_, static_cast<size_t>(n * output_dim_) * sizeof(float));
  backend_.to_device(g.data(), dy, static_cast<size_t>(n * output_dim_) * sizeof(float));
  backward_device(in.f32(), g.f32(), n, cache, out.f32(), nullptr);
  out.finish();
}

void SequentialModel::gradients(const float* x, const float* dy, int64_t n, float* dx, float* grad) const {
  require(n > 0, ErrorCode::Shape, "Expected a batch of at least one sample");
  std::shared_lock<std::shared_mutex> lock(mutex_);
  StagedIn in(backend_, x, static_cast<size_t>(n * input_dim_) * sizeof(float));
  StagedOut dxs(backend_, dx, dx ? static_cast<size_t>(n * input_dim_) * sizeof(float) : 0);
  StagedOut gs(backend_, grad, static_cast<size_t>(param_count_) * sizeof(float));
  DeviceBuffer y(backend_, static_cast<size_t>(n * output_dim_) * sizeof(float));
  DeviceBuffer g(backend_, static_cast<size_t>(n * output_dim_) * sizeof(float));
  SeqCache cache;
  forward_device(in.f32(), n, y.f32(), &cache);
  backend_.to_device(g.data(), dy, g.bytes());
  backend_.fill(gs.f32(), 0.0f, param_count_);
  backward_device(in.f32(), g.f32(), n, cache, dx ? dxs.f32() : nullptr, gs.f32());
  gs.finish();
  if (dx) dxs.finish();
}

}  // namespace hn
