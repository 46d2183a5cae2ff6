// The CUDA backend object, created on first use when a device answers.
#include "../core/errors.h"
#include "cuda_api.h"

namespace hn {
namespace cuda {

Backend& backend() {
  const Probe& p = probe();
  if (!p.available) fail(ErrorCode::CudaUnavailable, "CUDA backend requested but " + p.reason);
  fail(ErrorCode::CudaUnavailable, "CUDA backend requested but its kernels are not part of this build yet");
}

}  // namespace cuda
}  // namespace hn
