// Every CUDA runtime call goes through HN_CUDA_CHECK: a failure becomes hn::Error(Cuda) naming the call.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "core/errors.h"

#define HN_CUDA_CHECK(call)                                                                              \
  do {                                                                                                   \
    const cudaError_t hn_err_ = (call);                                                                  \
    if (hn_err_ != cudaSuccess) {                                                                        \
      ::hn::fail(hn_err_ == cudaErrorMemoryAllocation ? ::hn::ErrorCode::Memory : ::hn::ErrorCode::Cuda, \
                 std::string(#call) + " failed: " + cudaGetErrorString(hn_err_));                        \
    }                                                                                                    \
  } while (0)

// After a kernel launch: launch-configuration errors surface here.
#define HN_CUDA_LAUNCH_CHECK() HN_CUDA_CHECK(cudaGetLastError())
