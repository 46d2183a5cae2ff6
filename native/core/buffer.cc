#include "buffer.h"

#include "backend.h"

namespace hn {

DeviceBuffer::DeviceBuffer(Backend& backend, size_t bytes) : backend_(&backend) {
  if (bytes > 0) data_ = backend.allocate(bytes);
  bytes_ = bytes;
}

void DeviceBuffer::reset() noexcept {
  if (data_ != nullptr && backend_ != nullptr) backend_->deallocate(data_);
  data_ = nullptr;
  bytes_ = 0;
}

void DeviceBuffer::ensure(Backend& backend, size_t bytes) {
  if (backend_ == &backend && bytes <= bytes_) return;
  reset();
  backend_ = &backend;
  if (bytes > 0) data_ = backend.allocate(bytes);
  bytes_ = bytes;
}

}  // namespace hn
