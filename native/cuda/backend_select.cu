// The CUDA backend object, created on first use when a device answers.
#include <new>
#include <utility>

#include "core/errors.h"
#include "cuda_api.h"
#include "cuda_backend.h"

namespace hn {
namespace cuda {

namespace {

// Constructs T in static storage and never destroys it. The backend must outlive every object that may
// free device memory through it, including other static objects destroyed at exit in unknown order, and
// destroying its stream during teardown could race the CUDA runtime's own shutdown.
template <class T>
class NoDestructor {
 public:
  template <class... Args>
  explicit NoDestructor(Args&&... args) {
    ::new (static_cast<void*>(storage_)) T(std::forward<Args>(args)...);
  }
  T& get() noexcept { return *std::launder(reinterpret_cast<T*>(storage_)); }

 private:
  alignas(T) unsigned char storage_[sizeof(T)];
};

}  // namespace

Backend& backend() {
  const Probe& p = probe();
  if (!p.available) fail(ErrorCode::CudaUnavailable, "CUDA backend requested but " + p.reason);
  // Thread-safe one-time construction (C++11 static initialisation); a throwing constructor leaves it
  // uninitialised, so a later call tries again.
  static NoDestructor<CudaBackend> instance;
  return instance.get();
}

}  // namespace cuda
}  // namespace hn
