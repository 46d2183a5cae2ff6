// Memory owned on a backend (host memory for the CPU backend, device memory for CUDA), released when the
// owner goes away.
#pragma once

#include <cstddef>
#include <utility>

namespace hn {

class Backend;

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(Backend& backend, size_t bytes);
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(DeviceBuffer&& o) noexcept : backend_(o.backend_), data_(o.data_), bytes_(o.bytes_) {
    o.data_ = nullptr;
    o.bytes_ = 0;
  }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      backend_ = o.backend_;
      data_ = std::exchange(o.data_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void reset() noexcept;
  // Grows (never shrinks) to at least `bytes`; contents are not preserved when it grows.
  void ensure(Backend& backend, size_t bytes);

  void* data() const noexcept { return data_; }
  float* f32() const noexcept { return static_cast<float*>(data_); }
  size_t bytes() const noexcept { return bytes_; }
  size_t floats() const noexcept { return bytes_ / sizeof(float); }

 private:
  Backend* backend_ = nullptr;
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace hn
