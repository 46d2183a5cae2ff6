#include "errors.h"

namespace hn {

const char* error_code_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::Shape: return "ERR_SHAPE";
    case ErrorCode::Argument: return "ERR_ARGUMENT";
    case ErrorCode::NonFinite: return "ERR_NON_FINITE";
    case ErrorCode::Memory: return "ERR_MEMORY";
    case ErrorCode::CudaUnavailable: return "ERR_CUDA_UNAVAILABLE";
    case ErrorCode::Cuda: return "ERR_CUDA";
    case ErrorCode::Internal: return "ERR_INTERNAL";
  }
  return "ERR_INTERNAL";
}

}  // namespace hn
