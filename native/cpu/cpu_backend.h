// The CPU backend: plain C++17 kernels over the hand-written GEMM (gemm.h) and the thread pool.
// One file per op family, named as in native/cuda: noise, gemm, hypernetwork, kl, sequential, reward,
// optimizer, tto.
#pragma once

#include "core/backend.h"

namespace hn {
namespace cpu {

class CpuBackend final : public Backend {
 public:
  BackendKind kind() const noexcept override { return BackendKind::Cpu; }
  std::string name() const override { return "cpu"; }
  bool host_memory() const noexcept override { return true; }
  void synchronize() override {}
  HN_BACKEND_OVERRIDES
  std::unique_ptr<PreparedWeights> seq_prepare(const SeqStage& s, const float* params) override;
  uintptr_t seq_layout_key() const override;
};

CpuBackend& cpu_backend();

}  // namespace cpu
}  // namespace hn
