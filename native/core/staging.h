// Host arrays (the library's boundary: Float32Array) seen as backend memory: used in place on the CPU
// backend, copied to and from the device on CUDA.
#pragma once

#include "backend.h"
#include "buffer.h"

namespace hn {

class StagedIn {
 public:
  StagedIn(Backend& b, const void* host, size_t bytes) : host_(host) {
    if (!b.host_memory() && host != nullptr && bytes > 0) {
      buf_ = DeviceBuffer(b, bytes);
      b.to_device(buf_.data(), host, bytes);
    }
  }
  const float* f32() const { return buf_.data() ? buf_.f32() : static_cast<const float*>(host_); }
  const int32_t* i32() const {
    return buf_.data() ? static_cast<const int32_t*>(buf_.data()) : static_cast<const int32_t*>(host_);
  }

 private:
  const void* host_;
  DeviceBuffer buf_;
};

class StagedOut {
 public:
  StagedOut(Backend& b, void* host, size_t bytes) : backend_(b), host_(host), bytes_(bytes) {
    if (!b.host_memory() && host != nullptr && bytes > 0) buf_ = DeviceBuffer(b, bytes);
  }
  float* f32() const { return buf_.data() ? buf_.f32() : static_cast<float*>(host_); }
  // Copies the result back to the host array.
  void finish() {
    if (buf_.data()) backend_.to_host(host_, buf_.data(), bytes_);
  }

 private:
  Backend& backend_;
  void* host_;
  size_t bytes_;
  DeviceBuffer buf_;
};

}  // namespace hn
