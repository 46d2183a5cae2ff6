// Keeps the memory of a JavaScript array alive while a Promise call reads or writes it off the main thread.
// Node-API has no way to pin an ArrayBuffer: transferring it (structuredClone / postMessage with a transfer
// list) detaches it and hands its memory to a new owner, which may be collected and unmapped while a libuv
// thread still uses the memory (a use after free: issue 15, item 7). V8 shares that memory through a
// reference-counted BackingStore; a BufferPin holds one reference, so the memory outlives every owner until
// the call settles. Results written after a transfer land in the transferred buffer (the same memory).
#pragma once

#include <napi.h>

#include <memory>

namespace hn {
namespace addon {

class BufferPin {
 public:
  // Pins the backing store of a TypedArray, DataView or ArrayBuffer; anything else pins nothing.
  explicit BufferPin(const Napi::Value& v);
  BufferPin(BufferPin&&) noexcept;
  BufferPin& operator=(BufferPin&&) noexcept;
  ~BufferPin();
  bool pinned() const noexcept;

 private:
  struct Store;  // std::shared_ptr<v8::BackingStore>, kept out of this header
  std::unique_ptr<Store> store_;
};

// Whether this build pins (it needs V8's header at build time; backendInfo().bufferPinning).
bool buffer_pinning() noexcept;

}  // namespace addon
}  // namespace hn
