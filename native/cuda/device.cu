// Device discovery: does a CUDA device answer here, and if not, why. The runtime is linked statically, so
// this code loads on machines without a driver; cudaGetDeviceCount then reports the reason.
#include <string>

#include "cuda_api.h"
#include "cuda_check.h"

namespace hn {
namespace cuda {

namespace {

Probe run_probe() {
  Probe p;
  cudaRuntimeGetVersion(&p.runtime_version);
  cudaDriverGetVersion(&p.driver_version);
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error state
    if (err == cudaErrorInsufficientDriver || err == cudaErrorNoDevice) {
      p.reason = std::string("no usable CUDA driver or device (") + cudaGetErrorName(err) + ": " +
                 cudaGetErrorString(err) + "); using the CPU";
    } else {
      p.reason = std::string("the CUDA runtime could not be initialised (") + cudaGetErrorName(err) + ": " +
                 cudaGetErrorString(err) + "); using the CPU";
    }
    return p;
  }
  if (count == 0) {
    p.reason = "no CUDA device found; using the CPU";
    return p;
  }
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
    cudaGetLastError();
    p.reason = "CUDA device 0 did not answer a properties query; using the CPU";
    return p;
  }
  p.device = std::string(prop.name) + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ", " +
             std::to_string(prop.totalGlobalMem >> 20) + " MiB)";
  p.available = true;
  p.reason = "using CUDA device 0: " + p.device;
  return p;
}

}  // namespace

const Probe& probe() {
  static const Probe p = run_probe();
  return p;
}

}  // namespace cuda
}  // namespace hn
