// Backend selection: which backends exist in this build, which can run here, and why.
#include "backends.h"

#include "core/errors.h"
#include "cpu/block_cache.h"
#include "cpu/cpu_backend.h"
#include "cpu/gemm.h"
#include "cpu/isa.h"
#include "cpu/threadpool.h"

#if defined(HN_WITH_CUDA)
#include "cuda/cuda_api.h"
#endif

namespace hn {

BackendInfo backend_info() {
  BackendInfo info;
  info.isa = cpu::isa_name(cpu::active_isa());
  info.detected_isa = cpu::isa_name(cpu::detected_isa());
  info.threads = cpu::global_pool().size();
  for (std::string w : {cpu::isa_env_problem(), cpu::threads_env_problem()}) {
    if (!w.empty()) info.warnings.push_back(std::move(w));
  }
#if defined(HN_WITH_CUDA)
  info.cuda_compiled = true;
  const cuda::Probe& p = cuda::probe();
  info.cuda_available = p.available;
  info.cuda_reason = p.reason;
  info.cuda_device = p.device;
  info.cuda_runtime_version = p.runtime_version;
  info.cuda_driver_version = p.driver_version;
#else
  info.cuda_compiled = false;
  info.cuda_available = false;
  info.cuda_reason =
      "the addon was built without the CUDA backend (the cmake-js build adds it when nvcc is found at build "
      "time: install the CUDA toolkit and run `npm rebuild hypernoise`; node-gyp builds are CPU-only)";
#endif
  return info;
}

Backend& get_backend(BackendKind kind) {
  if (kind == BackendKind::Cpu) return cpu::cpu_backend();
#if defined(HN_WITH_CUDA)
  return cuda::backend();
#else
  fail(ErrorCode::CudaUnavailable, "CUDA backend requested but " + backend_info().cuda_reason);
#endif
}

Backend& auto_backend() {
#if defined(HN_WITH_CUDA)
  if (cuda::probe().available) return cuda::backend();
#endif
  return cpu::cpu_backend();
}

Backend& backend_named(const std::string& name) {
  if (name == "auto") return auto_backend();
  if (name == "cpu") return get_backend(BackendKind::Cpu);
  if (name == "cuda") return get_backend(BackendKind::Cuda);
  fail(ErrorCode::Argument, "Expected one of 'auto', 'cpu', 'cuda' for backend but received '" + name + "'");
}

HostMemory cpu_host_memory() {
  HostMemory m;
  m.live_bytes = cpu::host_block_cache().live_bytes();
  m.cached_bytes = cpu::host_block_cache().cached_bytes();
  return m;
}

double cpu_peak_gflops_per_core(double seconds, bool float64) {
  return cpu::measure_peak_gflops_per_core(seconds, float64);
}

std::string cpu_cap_isa(const std::string& name) {
  if (name.empty()) {
    cpu::set_isa_override(-1);
  } else {
    bool known = false;
    for (cpu::Isa isa : {cpu::Isa::Scalar, cpu::Isa::Avx2, cpu::Isa::Avx512, cpu::Isa::Neon}) {
      if (name == cpu::isa_name(isa)) {
        cpu::set_isa_override(static_cast<int>(isa));
        known = true;
      }
    }
    require(known, ErrorCode::Argument,
            "Expected one of 'scalar', 'avx2', 'avx512', 'neon' for isa but received '" + name + "'");
  }
  return cpu::isa_name(cpu::active_isa());
}

}  // namespace hn
