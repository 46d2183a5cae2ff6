#include "kl.h"

#include "errors.h"

namespace hn {

const char* kl_name(KlKind k) noexcept {
  switch (k) {
    case KlKind::L2: return "l2";
    case KlKind::Exact: return "exact";
    case KlKind::Chi: return "chi";
  }
  return "l2";
}

KlKind parse_kl(const std::string& name) {
  for (int i = 0; i < kKlKindCount; ++i) {
    if (name == kl_name(static_cast<KlKind>(i))) return static_cast<KlKind>(i);
  }
  fail(ErrorCode::Argument, "Expected one of 'l2', 'exact', 'chi' for kl but received '" + name + "'");
}

}  // namespace hn
