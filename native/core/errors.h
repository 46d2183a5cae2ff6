// Errors raised by the native core. Each carries one of the codes of DESIGN.md, "Errors", so that the addon can turn
// it into a HypernoiseError without parsing messages.
#pragma once

#include <stdexcept>
#include <string>

namespace hn {

enum class ErrorCode {
  Shape,            // ERR_SHAPE: sizes that do not match
  Argument,         // ERR_ARGUMENT: an option out of range
  NonFinite,        // ERR_NON_FINITE: NaN/Inf where finiteness is required
  Memory,           // ERR_MEMORY: allocation failed
  CudaUnavailable,  // ERR_CUDA_UNAVAILABLE
  Cuda,             // ERR_CUDA: a CUDA call failed
  Internal,         // ERR_INTERNAL
};

const char* error_code_name(ErrorCode code) noexcept;

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

[[noreturn]] inline void fail(ErrorCode code, const std::string& message) { throw Error(code, message); }

inline void require(bool ok, ErrorCode code, const std::string& message) {
  if (!ok) fail(code, message);
}

}  // namespace hn
