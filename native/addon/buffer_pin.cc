// The one place the addon reaches below Node-API, to V8's BackingStore (buffer_pin.h says why). A napi_value
// is a v8::Local<v8::Value> by construction in Node (its own v8impl::V8LocalValueFromJsValue converts them
// the same way), and the addon is compiled against the headers of the Node that loads it (cmake-js and
// node-gyp build at install), so the V8 types match.
#include "buffer_pin.h"

#if defined(HN_V8_PIN)
#include <v8.h>
#endif

#include <cstring>

namespace hn {
namespace addon {

#if defined(HN_V8_PIN)

struct BufferPin::Store {
  std::shared_ptr<v8::BackingStore> backing;
};

namespace {

v8::Local<v8::Value> to_v8(napi_value v) {
  static_assert(sizeof(v8::Local<v8::Value>) == sizeof(napi_value), "napi_value is a v8::Local");
  v8::Local<v8::Value> local;
  std::memcpy(static_cast<void*>(&local), &v, sizeof(v));
  return local;
}

}  // namespace

BufferPin::BufferPin(const Napi::Value& value) {
  if (value.IsEmpty()) return;
  const v8::Local<v8::Value> v = to_v8(value);
  std::shared_ptr<v8::BackingStore> store;
  if (v->IsArrayBufferView()) {
    const v8::Local<v8::ArrayBufferView> view = v.As<v8::ArrayBufferView>();
    // Buffer() of a view on a SharedArrayBuffer is that buffer: a shared store cannot be detached, but
    // pinning it costs the same and keeps one rule.
    store = view->Buffer()->GetBackingStore();
  } else if (v->IsArrayBuffer()) {
    store = v.As<v8::ArrayBuffer>()->GetBackingStore();
  } else if (v->IsSharedArrayBuffer()) {
    store = v.As<v8::SharedArrayBuffer>()->GetBackingStore();
  }
  if (store) store_ = std::make_unique<Store>(Store{std::move(store)});
}

bool buffer_pinning() noexcept { return true; }

#else  // built without V8's header (see CMakeLists.txt): nothing is pinned

struct BufferPin::Store {};
BufferPin::BufferPin(const Napi::Value&) {}
bool buffer_pinning() noexcept { return false; }

#endif

BufferPin::BufferPin(BufferPin&&) noexcept = default;
BufferPin& BufferPin::operator=(BufferPin&&) noexcept = default;
BufferPin::~BufferPin() = default;

bool BufferPin::pinned() const noexcept { return store_ != nullptr; }

}  // namespace addon
}  // namespace hn
