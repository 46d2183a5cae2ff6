// Which noise KL term a hypernetwork is trained with (the `kl` option): the exact KL, the paper's
// surrogate 0.5||f||^2, or ReNO's chi-norm prior on eps_hat.
#pragma once

#include <string>

namespace hn {

enum class KlKind { L2 = 0, Exact = 1, Chi = 2 };

constexpr int kKlKindCount = 3;
// Names as in the public API: "l2", "exact", "chi".
const char* kl_name(KlKind k) noexcept;
// Throws hn::Error(Argument) for an unknown name.
KlKind parse_kl(const std::string& name);

}  // namespace hn
