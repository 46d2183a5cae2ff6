// Which backends this build has, which of them can run here and why, and the process-wide instance of
// each. The one place that knows both the CPU and the CUDA backend; the core knows neither.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/backend.h"

namespace hn {

// What the process can use, and why.
struct BackendInfo {
  std::string isa;             // CPU instruction set in use: avx512 / avx2 / neon / scalar
  std::string detected_isa;    // the best this CPU supports (HYPERNOISE_ISA caps isa below it)
  int threads = 1;             // CPU threads
  bool cuda_compiled = false;  // built with the CUDA backend
  bool cuda_available = false;
  std::string cuda_reason;     // why CUDA is / is not used
  std::string cuda_device;     // device name when available
  int cuda_runtime_version = 0;
  int cuda_driver_version = 0;
  std::vector<std::string> warnings;  // settings from the environment that were not understood (and ignored)
};

BackendInfo backend_info();
// The process-wide backend of that kind; throws Error(CudaUnavailable) with the reason for CUDA that
// cannot be used.
Backend& get_backend(BackendKind kind);
// 'auto': CUDA when compiled in and a device answers, else the CPU.
Backend& auto_backend();
// The backend named 'auto' | 'cpu' | 'cuda'; Error(Argument) for any other name.
Backend& backend_named(const std::string& name);

// Peak FMA rate of one CPU core under the ISA in use (GFLOP/s; float32, or float64), measured with
// independent accumulator chains: the reference for the benchmarks' fractions of peak.
double cpu_peak_gflops_per_core(double seconds, bool float64);
// Caps the CPU instruction set for the rest of the process (benchmarks and tests: any machine can run every
// path at or below its own) and returns the name of the ISA now in use; "" removes the cap. Error(Argument)
// for a name that is not an ISA.
std::string cpu_cap_isa(const std::string& name);

// The CPU backend's host memory in blocks of 64 KiB and more (cpu/block_cache.h): handed out and not yet
// released, and held freed for reuse. Tests bound the first to show that objects are freed.
struct HostMemory {
  size_t live_bytes = 0;
  size_t cached_bytes = 0;
};
HostMemory cpu_host_memory();

}  // namespace hn
