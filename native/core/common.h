// Shared by the CPU (C++) and CUDA (.cu) backends: qualifiers that let one inline function serve both.
#pragma once

#if defined(__CUDACC__)
#define HN_HD __host__ __device__ __forceinline__
#else
#define HN_HD inline
#endif

#include <cstddef>
#include <cstdint>
