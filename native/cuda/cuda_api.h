// The CUDA backend as seen from plain C++ (no CUDA headers): how the core asks whether a device answers
// and gets the backend. Implemented in native/cuda/*.cu when the addon is built with CUDA.
#pragma once

#include <string>

namespace hn {

class Backend;

namespace cuda {

struct Probe {
  bool available = false;
  std::string reason;  // why not, or which device is used
  std::string device;
  int runtime_version = 0;
  int driver_version = 0;
};

// Asks the CUDA runtime once (cached): device count, the first device's name, versions.
const Probe& probe();
// The CUDA backend on device 0; throws Error(CudaUnavailable) when probe() says no.
Backend& backend();

}  // namespace cuda
}  // namespace hn
