// CPU-vs-CUDA parity and CUDA kernel timings, runnable without Node.
//
// Parity: every Backend op runs on the CPU and the CUDA backend with the same fresh random inputs
// (outputs poisoned with NaN first) and the results are compared: float32 ops by normwise relative error
// ||out - ref|| / ||ref|| (threshold 1e-4), noise bit for bit. Then the objects above the backend
// (Hypernetwork, Trainer) on both backends with the same seeds.
// Timings (CUDA events, warm-up, median of many repetitions) at the SD-Turbo latent scale D = 16384,
// r = 128, n = 64 and 32: hypernetwork forward, forward + backward, the exact-KL extra, a Trainer step with
// a 16384 -> 256 -> 256 generator stand-in; as ceilings a device copy and (with cuBLAS) SGEMMs of the
// projection shapes; FLOPs, bytes, achieved rates and the floor (DESIGN.md, "Performance model, as measured"). A compact table ends the run.
//
// Usage: hn_cuda_parity [--quick] [--no-bench] [--no-parity] [--only GROUP[,GROUP...]] [--require-gpu] [--model]
//   --model: the performance model's table (FLOPs, bytes, H200 roofline floors) without running anything
//   --only: parity groups memory, noise, gemm, hypernet, sequential, rewards, optim, tto, objects (for reruns)
// Without a CUDA device it prints "SKIP: ..." and exits 0 (CI without a GPU runs every build/hn_* binary);
// with --require-gpu (scripts/device-check.sh) it prints "FAIL: ..." and exits 3 instead, so that a build
// without CUDA or a machine without a usable GPU cannot pass as a check.
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/backend.h"
#include "core/buffer.h"
#include "core/errors.h"
#include "core/hypernetwork.h"
#include "core/optimizer.h"
#include "core/reward.h"
#include "core/sequential.h"
#include "core/trainer.h"
#include "cuda/gemm_plan.h"
#include "registry/backends.h"

#if defined(HN_WITH_CUDA)
#include <cuda_runtime.h>

#include "cuda/cuda_backend.h"
#if defined(HN_HAVE_CUBLAS)
#include <cublas_v2.h>
#endif
#endif

namespace {

using hn::Activation;
using hn::Backend;
using hn::DeviceBuffer;
using Vec = std::vector<float>;

constexpr double kTol = 1e-4;
const float kNaN = std::numeric_limits<float>::quiet_NaN();

bool g_quick = false;
int g_checks = 0, g_failures = 0;
double g_worst = 0.0;
std::string g_worst_name;

std::mt19937_64 g_rng(20250811);

Vec randn(size_t count, double scale = 1.0, double mean = 0.0) {
  std::normal_distribution<double> nd(mean, scale);
  Vec v(count);
  for (float& x : v) x = static_cast<float>(nd(g_rng));
  return v;
}
Vec uniform(size_t count, double lo, double hi) {
  std::uniform_real_distribution<double> ud(lo, hi);
  Vec v(count);
  for (float& x : v) x = static_cast<float>(ud(g_rng));
  return v;
}

// A backend buffer initialised from host data (or poisoned with NaN), readable back.
class Dev {
 public:
  Dev(Backend& b, const Vec& host) : b_(&b), count_(host.size()), buf_(b, std::max<size_t>(1, host.size()) * 4) {
    if (!host.empty()) b.to_device(buf_.data(), host.data(), host.size() * 4);
  }
  Dev(Backend& b, size_t count) : Dev(b, Vec(count, kNaN)) {}
  float* p() const { return buf_.f32(); }
  Vec host() const {
    Vec v(count_);
    if (count_) b_->to_host(v.data(), buf_.data(), count_ * 4);
    return v;
  }

 private:
  Backend* b_;
  size_t count_;
  DeviceBuffer buf_;
};

using Outputs = std::vector<std::pair<std::string, Vec>>;

// Normwise relative error; `scale` is a floor for ||ref|| (for outputs that are differences of larger
// terms). NaN where the reference is finite counts as a failure.
bool check(const std::string& name, const Vec& got, const Vec& ref, double tol = kTol, double scale = 0.0) {
  ++g_checks;
  double num = 0.0, den = 0.0, maxdiff = 0.0, maxref = 0.0;
  bool bad = got.size() != ref.size();
  for (size_t i = 0; i < ref.size() && !bad; ++i) {
    const double g = got[i], r = ref[i];
    if (std::isfinite(r) != std::isfinite(g)) {
      bad = true;
      break;
    }
    if (!std::isfinite(r)) continue;
    num += (g - r) * (g - r);
    den += r * r;
    maxdiff = std::max(maxdiff, std::fabs(g - r));
    maxref = std::max(maxref, std::fabs(r));
  }
  const double denom = std::max(std::sqrt(den), scale);
  const double rel = bad ? INFINITY : (denom > 0.0 ? std::sqrt(num) / denom : std::sqrt(num));
  const bool ok = rel <= tol;
  if (!ok) ++g_failures;
  if (rel > g_worst || !std::isfinite(rel)) {
    g_worst = rel;
    g_worst_name = name;
  }
  if (!ok || !g_quick) {
    std::printf("  %-4s %-58s rel %.2e  max|d| %.2e  max|ref| %.2e\n", ok ? "ok" : "FAIL", name.c_str(), rel, maxdiff,
                maxref);
  }
  return ok;
}

bool check_exact(const std::string& name, const void* got, const void* ref, size_t bytes) {
  ++g_checks;
  const bool ok = std::memcmp(got, ref, bytes) == 0;
  if (!ok) ++g_failures;
  if (!ok || !g_quick) {
    std::printf("  %-4s %-58s %s\n", ok ? "ok" : "FAIL", name.c_str(), ok ? "bit-identical" : "DIFFERS");
  }
  return ok;
}

void check_outputs(const std::string& prefix, const Outputs& got, const Outputs& ref, double tol = kTol) {
  for (size_t i = 0; i < ref.size(); ++i) check(prefix + " " + ref[i].first, got[i].second, ref[i].second, tol);
}

// Runs f on both backends and compares every named output.
void parity(const std::string& name, Backend& cpu, Backend& gpu, const std::function<Outputs(Backend&)>& f,
            double tol = kTol) {
  try {
    const Outputs ref = f(cpu);
    const Outputs got = f(gpu);
    check_outputs(name, got, ref, tol);
  } catch (const std::exception& e) {
    ++g_checks;
    ++g_failures;
    std::printf("  FAIL %s: exception: %s\n", name.c_str(), e.what());
  }
}

// ---- op-level parity --------------------------------------------------------------------------------

void test_memory(Backend& cpu, Backend& gpu) {
  std::printf("memory\n");
  const Vec x = randn(1003);
  Dev d(gpu, x);
  check_exact("to_device/to_host round trip", d.host().data(), x.data(), x.size() * 4);
  parity("fill", cpu, gpu, [&](Backend& b) {
    Dev o(b, 777);
    b.fill(o.p() + 1, 2.5f, 775);
    return Outputs{{"out", o.host()}};
  });
  parity("copy (disjoint, overlapping)", cpu, gpu, [&](Backend& b) {
    Dev a(b, x), o(b, 1003);
    b.copy(o.p(), a.p(), 1003 * 4);
    b.copy(a.p() + 10, a.p(), 500 * 4);  // overlapping forward
    b.copy(a.p(), a.p() + 3, 600 * 4);   // overlapping backward
    return Outputs{{"disjoint", o.host()}, {"overlap", a.host()}};
  });
  const Vec y = randn(1003);
  parity("axpby", cpu, gpu, [&](Backend& b) {
    Dev xd(b, x), y1(b, y), y0(b, 1003);
    b.axpby(0.3f, xd.p(), 1.7f, y1.p(), 1003);
    b.axpby(-2.0f, xd.p(), 0.0f, y0.p(), 1003);  // beta 0 ignores the NaN poison
    return Outputs{{"beta!=0", y1.host()}, {"beta=0", y0.host()}};
  });
}

void test_noise(Backend& cpu, Backend& gpu) {
  std::printf("noise (bit-identical)\n");
  struct Case {
    int64_t n, dim;
    uint64_t seed, first;
    uint32_t stream;
  };
  const Case cases[] = {{3, 37, 0x1234567890abcdefull, 5, 7},
                        {64, 16384, 42, 0, 0x5452},
                        {1, 1, 0, 0, 0},
                        {5, 6, 0xffffffffffffffffull, (1ull << 33) + 3, 0xffffffffu},
                        {17, 1001, 7, 1000003, 0x48494e49}};
  for (const Case& c : cases) {
    const size_t count = static_cast<size_t>(c.n * c.dim);
    Vec ref(count), got(count);
    {
      Dev o(cpu, count);
      cpu.sample_noise(o.p(), c.n, c.dim, c.seed, c.first, c.stream);
      ref = o.host();
    }
    {
      Dev o(gpu, count + 1);  // +1: an odd offset below exercises the unaligned path
      gpu.sample_noise(o.p(), c.n, c.dim, c.seed, c.first, c.stream);
      got = o.host();
      got.resize(count);
      Dev o2(gpu, count + 1);
      gpu.sample_noise(o2.p() + 1, c.n, c.dim, c.seed, c.first, c.stream);
      Vec got2 = o2.host();
      got2.erase(got2.begin());
      check_exact("sample_noise n=" + std::to_string(c.n) + " dim=" + std::to_string(c.dim) + " (unaligned)",
                  got2.data(), ref.data(), count * 4);
    }
    check_exact("sample_noise n=" + std::to_string(c.n) + " dim=" + std::to_string(c.dim), got.data(), ref.data(),
                count * 4);
  }
}

void test_gemm(Backend& cpu, Backend& gpu) {
  std::printf("gemm\n");
  struct Shape {
    int64_t m, n, k;
  };
  std::vector<Shape> shapes = {{1, 1, 1},      {7, 13, 5},   {65, 63, 17}, {200, 70, 33},
                               {64, 128, 4096}, {3, 5, 3000}, {128, 96, 0}, {68, 44, 52}};
  if (!g_quick) {
    shapes.push_back({64, 128, 16384});  // the first projection (split over K)
    shapes.push_back({64, 16384, 128});  // the output projection
    shapes.push_back({16384, 128, 64});  // dB
    shapes.push_back({64, 256, 16384});  // the generator stand-in's first layer
  }
  for (const Shape& s : shapes) {
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      // 0: packed, beta = 0 over NaN; 1: every leading dimension + 3 (no row 16-byte aligned), alpha, beta;
      // 2 (where a dimension is not a multiple of 4): leading dimensions rounded up to a multiple of 4 (rows
      // aligned, the last 16-byte chunk of a row partly outside the matrix) and A one float off alignment.
      const bool ragged = s.m % 4 || s.n % 4 || s.k % 4;
      for (int variant = 0; variant < (ragged ? 3 : 2); ++variant) {
        const int64_t pad = variant == 1 ? 3 : 0;
        auto ld_of = [&](int64_t dim) { return variant == 2 ? (dim + 3) / 4 * 4 + 4 : dim + pad; };
        const float alpha = variant == 1 ? -0.7f : variant == 2 ? 1.5f : 1.0f, beta = variant == 1 ? 1.3f : 0.0f;
        const int64_t lda = ld_of(ta ? s.m : s.k), ldb = ld_of(tb ? s.k : s.n), ldc = ld_of(s.n);
        const int64_t arows = ta ? s.k : s.m, brows = tb ? s.n : s.k;
        const int64_t a_off = variant == 2 ? 1 : 0;
        const Vec a = randn(static_cast<size_t>(std::max<int64_t>(1, arows * lda) + a_off));
        const Vec b = randn(static_cast<size_t>(std::max<int64_t>(1, brows * ldb)));
        const Vec c0 = variant ? randn(static_cast<size_t>(s.m * ldc)) : Vec(static_cast<size_t>(s.m * ldc), kNaN);
        char name[160];
        std::snprintf(name, sizeof(name), "gemm %c%c m=%" PRId64 " n=%" PRId64 " k=%" PRId64 " %s", ta ? 'T' : 'N',
                      tb ? 'T' : 'N', s.m, s.n, s.k,
                      variant == 1 ? "alpha,beta,pad" : variant == 2 ? "rows aligned, A not" : "beta=0 over NaN");
        parity(name, cpu, gpu, [&](Backend& bk) {
          Dev ad(bk, a), bd(bk, b), cd(bk, c0);
          bk.gemm(ta, tb, s.m, s.n, s.k, alpha, ad.p() + a_off, lda, bd.p(), ldb, beta, cd.p(), ldc);
          Vec c = cd.host();
          if (ldc != s.n) {  // the padding columns must be untouched: compare only the matrix, check pads separately
            Vec inner;
            for (int64_t i = 0; i < s.m; ++i) inner.insert(inner.end(), c.begin() + i * ldc, c.begin() + i * ldc + s.n);
            return Outputs{{"C", inner}, {"C (with padding)", c}};
          }
          return Outputs{{"C", c}};
        });
      }
    }
  }
}

// ---- hypernetwork ---------------------------------------------------------------------------------

struct HnCase {
  int64_t D, C, r;
  int L;
  Activation act;
  float s;
  int64_t n;
  double b_scale;  // B ~ N(0, (b_scale / sqrt(r))^2): G = I + MK stays near the identity for small values
  bool quick;      // also run with --quick
};

std::string describe(const HnCase& c) {
  char buf[160];
  std::snprintf(buf, sizeof(buf), "D=%" PRId64 " C=%" PRId64 " r=%" PRId64 " L=%d %s s=%g n=%" PRId64 " b=%g", c.D, c.C,
                c.r, c.L, hn::activation_name(c.act), c.s, c.n, c.b_scale);
  return buf;
}

hn::HypernetDesc desc_of(const HnCase& c) {
  hn::HypernetDesc d;
  d.noise_dim = c.D;
  d.cond_dim = c.C;
  d.rank = c.r;
  d.depth = c.L;
  d.activation = c.act;
  d.scale = c.s;
  return d;
}

Vec random_params(const hn::HypernetDesc& d, double b_scale) {
  const hn::HypernetLayout lay = hn::hypernet_layout(d);
  Vec p(static_cast<size_t>(lay.total));
  auto put = [&](int64_t off, int64_t count, double scale, double mean = 0.0) {
    const Vec v = randn(static_cast<size_t>(count), scale, mean);
    std::copy(v.begin(), v.end(), p.begin() + off);
  };
  const double r = static_cast<double>(d.rank);
  put(lay.A, d.rank * d.noise_dim, 1.0 / std::sqrt(static_cast<double>(d.noise_dim)));
  if (d.cond_dim > 0) put(lay.U, d.rank * d.cond_dim, 1.0 / std::sqrt(static_cast<double>(d.cond_dim)));
  put(lay.b1, d.rank, 0.3);
  for (int k = 2; k <= d.depth; ++k) {
    put(lay.W[static_cast<size_t>(k - 2)], d.rank * d.rank, 1.0 / std::sqrt(r));
    put(lay.b[static_cast<size_t>(k - 2)], d.rank, 0.3);
  }
  put(lay.B, d.noise_dim * d.rank, b_scale / std::sqrt(r));
  put(lay.bo, d.noise_dim, 0.1);
  return p;
}

Outputs split_grad(const hn::HypernetDesc& d, const Vec& g) {
  const hn::HypernetLayout lay = hn::hypernet_layout(d);
  auto seg = [&](int64_t off, int64_t count) { return Vec(g.begin() + off, g.begin() + off + count); };
  Outputs o;
  o.push_back({"dA", seg(lay.A, d.rank * d.noise_dim)});
  if (d.cond_dim > 0) o.push_back({"dU", seg(lay.U, d.rank * d.cond_dim)});
  o.push_back({"db1", seg(lay.b1, d.rank)});
  for (int k = 2; k <= d.depth; ++k) {
    o.push_back({"dW" + std::to_string(k), seg(lay.W[static_cast<size_t>(k - 2)], d.rank * d.rank)});
    o.push_back({"db" + std::to_string(k), seg(lay.b[static_cast<size_t>(k - 2)], d.rank)});
  }
  o.push_back({"dB", seg(lay.B, d.noise_dim * d.rank)});
  o.push_back({"dbo", seg(lay.bo, d.noise_dim)});
  return o;
}

const char* kStatNames[hn::kHypernetStatRows] = {"l2", "chi", "exact", "trace", "logdet", "noninvertible", "sqnorm"};

void compare_stats(const std::string& prefix, const Vec& got, const Vec& ref, int64_t n, bool exact) {
  auto row = [&](const Vec& v, int k) { return Vec(v.begin() + k * n, v.begin() + (k + 1) * n); };
  // exact = l2 + trace - logdet and trace - logdet can cancel: measure against the size of the terms.
  double terms = 0.0;
  for (int k : {0, 3, 4}) {
    for (float x : row(ref, k)) terms += static_cast<double>(x) * x;
  }
  for (int k = 0; k < hn::kHypernetStatRows; ++k) {
    if (!exact && (k >= 2 && k <= 5)) {
      check(prefix + " stats." + kStatNames[k] + " (zero)", row(got, k), row(ref, k), 0.0, 1.0);
      continue;
    }
    const double scale = (k == 2) ? std::sqrt(terms) : 0.0;
    check(prefix + " stats." + kStatNames[k], row(got, k), row(ref, k), kTol, scale);
  }
}

void test_graphs(Backend& gpu);

void test_hypernet(Backend& cpu, Backend& gpu) {
  std::printf("hypernetwork ops\n");
  const std::vector<HnCase> cases = {
      {1000, 0, 16, 1, Activation::Silu, 1.0f, 5, 0.3, true},
      {4096, 10, 64, 1, Activation::Gelu, 0.5f, 33, 0.3, true},
      {2050, 7, 48, 2, Activation::Tanh, 1.0f, 17, 0.3, true},
      {1536, 0, 128, 1, Activation::Silu, 1.0f, 64, 0.3, true},
      {1024, 3, 130, 2, Activation::Softplus, 1.0f, 6, 0.3, false},
      {16384, 0, 128, 1, Activation::Silu, 1.0f, 8, 0.3, false},
      {512, 5, 32, 3, Activation::Sigmoid, 2.0f, 9, 0.3, true},
      {300, 0, 8, 1, Activation::Identity, 1.0f, 4, 0.3, true},
      {333, 4, 20, 1, Activation::Relu, 1.0f, 7, 0.3, true},
      {800, 0, 24, 1, Activation::Tanh, 1.0f, 16, 4.0, false},  // far from the identity: some det <= 0
  };
  for (const HnCase& c : cases) {
    if (g_quick && !c.quick) continue;
    const hn::HypernetDesc d = desc_of(c);
    const std::string name = describe(c);
    const Vec params = random_params(d, c.b_scale);
    const Vec eps = randn(static_cast<size_t>(c.n * c.D));
    const Vec cond = randn(static_cast<size_t>(std::max<int64_t>(1, c.n * c.C)));
    const Vec deh = randn(static_cast<size_t>(c.n * c.D), 0.05);
    const int64_t rr = c.r * c.r;

    parity(name + " hypernet_k", cpu, gpu, [&](Backend& b) {
      Dev p(b, params), K(b, static_cast<size_t>(rr));
      b.hypernet_k(d, p.p(), K.p());
      return Outputs{{"K", K.host()}};
    });

    Vec gpu_stats[4];  // per mode: the GPU's statistics rows
    for (int mode = 0; mode < 4; ++mode) {
      const bool exact = mode & 1, keep = mode & 2;
      const std::string fname = name + (exact ? " exact" : " plain") + (keep ? "+keep" : "");
      try {
        auto run = [&](Backend& b) {
          Dev p(b, params), e(b, eps), cd(b, cond), out(b, static_cast<size_t>(c.n * c.D));
          Dev cache(b, static_cast<size_t>(hn::hypernet_cache_floats(d, c.n, hn::KlKind::Exact)));
          hn::HypernetCacheView v = hn::hypernet_cache_view(d, c.n, hn::KlKind::Exact, cache.p());
          if (exact) b.hypernet_k(d, p.p(), v.K);
          hn::HypernetCacheView call = v;
          if (!keep) {
            call = hn::HypernetCacheView();
            call.stats = v.stats;
            call.K = v.K;
          }
          b.hypernet_forward(d, p.p(), e.p(), c.C ? cd.p() : nullptr, c.n, out.p(), exact ? hn::KlKind::Exact : hn::KlKind::L2, keep, call);
          const Vec all = cache.host();
          auto part = [&](const float* ptr, int64_t count) {
            const int64_t off = ptr - cache.p();
            return Vec(all.begin() + off, all.begin() + off + count);
          };
          Outputs o{{"eps_hat", out.host()}, {"stats", part(v.stats, hn::kHypernetStatRows * c.n)}};
          if (keep) {
            o.push_back({"z", part(v.z, c.L * c.n * c.r)});
            o.push_back({"h", part(v.h, c.L * c.n * c.r)});
            o.push_back({"f", part(v.f, c.n * c.D)});
            if (exact) o.push_back({"P", part(v.P, c.n * rr)});
            if (exact && c.L > 1) o.push_back({"M", part(v.M, c.n * rr)});
          }
          return o;
        };
        const Outputs ref = run(cpu), got = run(gpu);
        gpu_stats[mode] = got[1].second;
        for (size_t i = 0; i < ref.size(); ++i) {
          if (ref[i].first == "stats") {
            compare_stats(fname, got[i].second, ref[i].second, c.n, exact);
          } else {
            check(fname + " " + ref[i].first, got[i].second, ref[i].second);
          }
        }
        if (exact && !keep) {
          const Vec& st = ref[1].second;
          int64_t ni = 0;
          for (int64_t i = 0; i < c.n; ++i) ni += st[static_cast<size_t>(5 * c.n + i)] != 0.0f;
          if (ni) std::printf("       (%" PRId64 " of %" PRId64 " samples non-invertible on the CPU)\n", ni, c.n);
        }
      } catch (const std::exception& ex) {
        ++g_checks;
        ++g_failures;
        std::printf("  FAIL %s: exception: %s\n", fname.c_str(), ex.what());
      }
    }
    // The log-determinant-only elimination (inference, no P kept) performs the kept one's operations on every
    // element it still reads: its statistics are the same bits.
    if (!gpu_stats[1].empty() && !gpu_stats[3].empty()) {
      ++g_checks;
      const bool same = gpu_stats[1].size() == gpu_stats[3].size() &&
                        std::memcmp(gpu_stats[1].data(), gpu_stats[3].data(), gpu_stats[1].size() * sizeof(float)) == 0;
      if (!same) ++g_failures;
      std::printf("  %s %s exact: log det without keep == with keep, bit for bit\n", same ? "ok  " : "FAIL", name.c_str());
    }

    for (hn::KlKind kl : {hn::KlKind::L2, hn::KlKind::Exact, hn::KlKind::Chi}) {
      const bool exact = kl == hn::KlKind::Exact;
      parity(name + " backward kl=" + hn::kl_name(kl), cpu, gpu, [&](Backend& b) {
        Dev p(b, params), e(b, eps), cd(b, cond), out(b, static_cast<size_t>(c.n * c.D)), g(b, deh);
        Dev cache(b, static_cast<size_t>(hn::hypernet_cache_floats(d, c.n, kl)));
        Dev grad(b, static_cast<size_t>(hn::hypernet_layout(d).total));
        hn::HypernetCacheView v = hn::hypernet_cache_view(d, c.n, kl, cache.p());
        if (exact) b.hypernet_k(d, p.p(), v.K);
        b.hypernet_forward(d, p.p(), e.p(), c.C ? cd.p() : nullptr, c.n, out.p(), kl, true, v);
        b.hypernet_backward(d, p.p(), e.p(), c.C ? cd.p() : nullptr, out.p(), c.n, g.p(), kl, 0.7f, v, grad.p());
        return split_grad(d, grad.host());
      });
    }
  }
  test_graphs(gpu);
}

// The forward and backward replayed as CUDA Graphs (graphs.h) give the bits of the direct launches, read the
// device memory of each launch (new data in the same buffers gives new results), and are captured once per key.
void test_graphs(Backend& gpu_base) {
#if defined(HN_WITH_CUDA)
  auto& gpu = dynamic_cast<hn::cuda::CudaBackend&>(gpu_base);
  hn::cuda::GraphCache& graphs = gpu.graphs();
  const bool was_on = graphs.enabled();
  const HnCase c{1536, 6, 64, 2, Activation::Silu, 0.7f, 12, 0.3, true};
  const hn::HypernetDesc d = desc_of(c);
  const Vec params = random_params(d, c.b_scale);
  const Vec eps1 = randn(static_cast<size_t>(c.n * c.D)), eps2 = randn(static_cast<size_t>(c.n * c.D));
  const Vec cond = randn(static_cast<size_t>(c.n * c.C));
  const Vec deh = randn(static_cast<size_t>(c.n * c.D), 0.05);
  Dev p(gpu, params), e(gpu, eps1), cd(gpu, cond), out(gpu, static_cast<size_t>(c.n * c.D)), g(gpu, deh);
  Dev cache(gpu, static_cast<size_t>(hn::hypernet_cache_floats(d, c.n, hn::KlKind::Exact)));
  Dev grad(gpu, static_cast<size_t>(hn::hypernet_layout(d).total));
  const hn::HypernetCacheView v = hn::hypernet_cache_view(d, c.n, hn::KlKind::Exact, cache.p());
  gpu.hypernet_k(d, p.p(), v.K);
  // One training pass: eps_hat, the whole cache and the gradient.
  auto pass = [&] {
    gpu.hypernet_forward(d, p.p(), e.p(), cd.p(), c.n, out.p(), hn::KlKind::Exact, true, v);
    gpu.hypernet_backward(d, p.p(), e.p(), cd.p(), out.p(), c.n, g.p(), hn::KlKind::Exact, 0.7f, v, grad.p());
    Vec all = out.host();
    const Vec cc = cache.host(), gg = grad.host();
    all.insert(all.end(), cc.begin(), cc.end());
    all.insert(all.end(), gg.begin(), gg.end());
    return all;
  };
  graphs.set_enabled(false);
  const Vec direct1 = pass();
  graphs.set_enabled(true);
  const uint64_t cap0 = graphs.captures(), launch0 = graphs.launches();
  std::vector<Vec> runs;
  for (int i = 0; i < 4; ++i) runs.push_back(pass());  // direct, captured + launched, replayed, replayed
  for (int i = 0; i < 4; ++i) {
    check_exact("graphs: pass " + std::to_string(i + 1) + " == direct launches", runs[i].data(), direct1.data(),
                direct1.size() * 4);
  }
  const uint64_t caps = graphs.captures() - cap0, launches = graphs.launches() - launch0;
  const bool counted = caps == 2 && launches == 6;
  std::printf("  %s graphs: %" PRIu64 " captures (want 2: forward, backward), %" PRIu64 " launches (want 6)\n",
              counted ? "ok  " : "FAIL", caps, launches);
  ++g_checks;
  if (!counted) ++g_failures;
  // New noise in the same buffer: the replay computes on it.
  gpu.to_device(e.p(), eps2.data(), eps2.size() * 4);
  const Vec replay2 = pass();
  graphs.set_enabled(false);
  const Vec direct2 = pass();
  graphs.set_enabled(was_on);
  check_exact("graphs: replay on new data == direct launches", replay2.data(), direct2.data(), direct2.size() * 4);
  bool differs = false;
  for (size_t i = 0; i < static_cast<size_t>(c.n * c.D); ++i) differs = differs || replay2[i] != direct1[i];
  std::printf("  %s graphs: the replay on new data differs from the first data's result\n", differs ? "ok  " : "FAIL");
  ++g_checks;
  if (!differs) ++g_failures;

  // More keys than the cache holds: graphs are evicted (least recently used first), never more than the cap,
  // and a key whose graph was evicted still computes the same bits (captured again).
  {
    graphs.set_enabled(true);
    const HnCase t{64, 0, 8, 1, Activation::Tanh, 1.0f, 2, 0.3, true};
    const hn::HypernetDesc td = desc_of(t);
    Dev tp(gpu, random_params(td, t.b_scale)), te(gpu, randn(static_cast<size_t>(t.n * t.D)));
    Dev tstats(gpu, static_cast<size_t>(hn::kHypernetStatRows * t.n));
    hn::HypernetCacheView tv;
    tv.stats = tstats.p();
    const size_t keys = hn::cuda::GraphCache::kMaxGraphs + 8;
    std::vector<std::unique_ptr<Dev>> outs;
    for (size_t i = 0; i < keys; ++i) outs.push_back(std::make_unique<Dev>(gpu, static_cast<size_t>(t.n * t.D)));
    auto fwd = [&](size_t i) {
      gpu.hypernet_forward(td, tp.p(), te.p(), nullptr, t.n, outs[i]->p(), hn::KlKind::L2, false, tv);
      return outs[i]->host();
    };
    graphs.set_enabled(false);
    const Vec want = fwd(0);
    graphs.set_enabled(true);
    size_t most = 0;
    for (int round = 0; round < 3; ++round) {
      for (size_t i = 0; i < keys; ++i) {
        fwd(i);
        most = std::max(most, graphs.graphs_held());
      }
    }
    const bool capped = most == hn::cuda::GraphCache::kMaxGraphs;
    std::printf("  %s graphs: %zu keys, at most %zu graphs held (cap %zu)\n", capped ? "ok  " : "FAIL", keys, most,
                hn::cuda::GraphCache::kMaxGraphs);
    ++g_checks;
    if (!capped) ++g_failures;
    const Vec again = fwd(0);
    check_exact("graphs: an evicted key's result", again.data(), want.data(), want.size() * 4);

#if !defined(HN_CUDA_EMULATION)  // the emulator runs one host thread at a time
    // Two host threads sharing the backend, each cycling through more keys than the cache holds (captures,
    // launches and evictions interleaved): every result still equals the direct launches' bits.
    std::vector<Vec> got(keys);
    auto worker = [&](size_t first) {
      for (int round = 0; round < 4; ++round) {
        for (size_t i = first; i < keys; i += 2) {
          gpu.hypernet_forward(td, tp.p(), te.p(), nullptr, t.n, outs[i]->p(), hn::KlKind::L2, false, tv);
        }
      }
      gpu.synchronize();
      for (size_t i = first; i < keys; i += 2) got[i] = outs[i]->host();
    };
    // The statistics rows are shared by the two threads' calls (same values): only eps_hat is compared.
    std::thread other(worker, size_t{1});
    worker(0);
    other.join();
    bool same = true;
    for (size_t i = 0; i < keys; ++i) same = same && std::memcmp(got[i].data(), want.data(), want.size() * 4) == 0;
    std::printf("  %s graphs: two host threads, %zu keys, every result the direct launches' bits\n",
                same ? "ok  " : "FAIL", keys);
    ++g_checks;
    if (!same) ++g_failures;
#endif
    graphs.set_enabled(was_on);
  }
#else
  (void)gpu_base;
#endif
}

// ---- sequential, rewards, optimiser, ReNO --------------------------------------------------------------

void test_sequential(Backend& cpu, Backend& gpu) {
  std::printf("sequential stages\n");
  struct Case {
    bool linear;
    int64_t in, out, n;
    Activation act;
    bool quick;
  };
  const Case cases[] = {{true, 300, 70, 9, Activation::Silu, true},
                        {true, 33, 5, 1, Activation::Identity, true},
                        {true, 128, 256, 64, Activation::Gelu, true},
                        {false, 50, 50, 7, Activation::Tanh, true},
                        {false, 40, 40, 3, Activation::Sigmoid, true},
                        {true, 16384, 256, 64, Activation::Silu, false}};
  for (const Case& c : cases) {
    if (g_quick && !c.quick) continue;
    hn::SeqStage s;
    s.has_linear = c.linear;
    s.in = c.in;
    s.out = c.out;
    s.activation = c.act;
    s.w_offset = 0;
    s.b_offset = c.linear ? c.in * c.out : 0;
    const int64_t pcount = c.linear ? c.in * c.out + c.out : 1;
    const Vec params = randn(static_cast<size_t>(pcount), 1.0 / std::sqrt(static_cast<double>(c.in)));
    const Vec x = randn(static_cast<size_t>(c.n * c.in));
    const Vec dy = randn(static_cast<size_t>(c.n * c.out));
    const Vec grad0 = randn(static_cast<size_t>(pcount), 0.1);
    char name[128];
    std::snprintf(name, sizeof(name), "seq %s %" PRId64 "->%" PRId64 " %s n=%" PRId64, c.linear ? "linear" : "act",
                  c.in, c.out, hn::activation_name(c.act), c.n);
    parity(std::string(name) + " forward", cpu, gpu, [&](Backend& b) {
      Dev p(b, params), xd(b, x), z(b, static_cast<size_t>(c.n * c.out)), y(b, static_cast<size_t>(c.n * c.out)),
          y2(b, static_cast<size_t>(c.n * c.out));
      b.seq_stage_forward(s, p.p(), xd.p(), c.n, c.linear ? z.p() : nullptr, y.p());
      b.seq_stage_forward(s, p.p(), xd.p(), c.n, nullptr, y2.p());
      Outputs o{{"y", y.host()}, {"y (no z)", y2.host()}};
      if (c.linear) o.push_back({"z", z.host()});
      return o;
    });
    parity(std::string(name) + " backward", cpu, gpu, [&](Backend& b) {
      Dev p(b, params), xd(b, x), z(b, static_cast<size_t>(c.n * c.out)), y(b, static_cast<size_t>(c.n * c.out));
      b.seq_stage_forward(s, p.p(), xd.p(), c.n, c.linear ? z.p() : nullptr, y.p());
      const float* zz = c.linear ? z.p() : xd.p();
      Dev g1(b, dy), dx(b, static_cast<size_t>(c.n * c.in)), grad(b, grad0);
      b.seq_stage_backward(s, p.p(), xd.p(), zz, g1.p(), c.n, dx.p(), c.linear ? grad.p() : nullptr);
      Dev g2(b, dy), grad2(b, grad0);
      b.seq_stage_backward(s, p.p(), xd.p(), zz, g2.p(), c.n, nullptr, c.linear ? grad2.p() : nullptr);
      Outputs o{{"dz (in dy)", g1.host()}, {"dx", dx.host()}};
      if (c.linear) {
        o.push_back({"grad (+=)", grad.host()});
        o.push_back({"grad (dx null)", grad2.host()});
      }
      return o;
    });
  }
}

void test_rewards(Backend& cpu, Backend& gpu) {
  std::printf("rewards\n");
  const int64_t n = 5, p = 3 * 17 * 13;
  const Vec x = randn(static_cast<size_t>(n * p));
  const Vec v0 = randn(static_cast<size_t>(n));
  const Vec g0 = randn(static_cast<size_t>(n * p), 0.1);
  for (hn::PixelReward kind : {hn::PixelReward::Redness, hn::PixelReward::Brightness}) {
    parity(kind == hn::PixelReward::Redness ? "pixel_reward redness" : "pixel_reward brightness", cpu, gpu,
           [&](Backend& b) {
             Dev xd(b, x), v(b, v0), g(b, g0), v2(b, v0);
             b.pixel_reward(kind, xd.p(), n, p, 0.8f, v.p(), g.p());
             b.pixel_reward(kind, xd.p(), n, p, -1.5f, v2.p(), nullptr);
             return Outputs{{"value (+=)", v.host()}, {"grad (+=)", g.host()}, {"value (no grad)", v2.host()}};
           });
  }
  const int64_t m = 37, k = 10;
  const Vec logits = randn(static_cast<size_t>(m * k), 3.0);
  std::vector<int32_t> classes(static_cast<size_t>(m));
  for (auto& cl : classes) cl = static_cast<int32_t>(g_rng() % k);
  const Vec lv0 = randn(static_cast<size_t>(m));
  parity("log_softmax_pick", cpu, gpu, [&](Backend& b) {
    Dev l(b, logits), v(b, lv0), dl(b, static_cast<size_t>(m * k)), v2(b, lv0);
    DeviceBuffer cls(b, classes.size() * 4);
    b.to_device(cls.data(), classes.data(), classes.size() * 4);
    b.log_softmax_pick(l.p(), m, k, static_cast<const int32_t*>(cls.data()), 0.9f, v.p(), dl.p());
    b.log_softmax_pick(l.p(), m, k, static_cast<const int32_t*>(cls.data()), 0.9f, v2.p(), nullptr);
    return Outputs{{"value", v.host()}, {"dlogits", dl.host()}, {"value (no grad)", v2.host()}};
  });
  const int64_t cn = 20, cdim = 15, off = 3;
  const Vec cond = randn(static_cast<size_t>(cn * cdim));
  std::vector<int32_t> ref(static_cast<size_t>(cn)), got(static_cast<size_t>(cn));
  for (int which = 0; which < 2; ++which) {
    Backend& b = which ? gpu : cpu;
    Dev c(b, cond);
    DeviceBuffer out(b, ref.size() * 4);
    b.argmax_classes(c.p(), cn, cdim, off, k, static_cast<int32_t*>(out.data()));
    b.to_host(which ? got.data() : ref.data(), out.data(), ref.size() * 4);
  }
  check_exact("argmax_classes", got.data(), ref.data(), ref.size() * 4);
}

void test_optim(Backend& cpu, Backend& gpu) {
  std::printf("optimiser, reductions\n");
  for (int64_t count : {int64_t{1}, int64_t{1000}, int64_t{1000003}, int64_t{8 * 1024 * 1024 + 7}}) {
    if (g_quick && count > 2000000) continue;
    const Vec x = randn(static_cast<size_t>(count));
    double r[2];
    for (int which = 0; which < 2; ++which) {
      Backend& b = which ? gpu : cpu;
      Dev d(b, x);
      r[which] = b.sum_squares(d.p(), count);
    }
    check("sum_squares count=" + std::to_string(count), Vec{static_cast<float>(r[1])}, Vec{static_cast<float>(r[0])},
          1e-6);
    if (count == 1000) {
      Vec y = x;
      y[517] = kNaN;
      Dev d(gpu, y);
      ++g_checks;
      const double s = gpu.sum_squares(d.p(), count);
      const bool ok = !std::isfinite(s);
      if (!ok) ++g_failures;
      std::printf("  %-4s sum_squares with a NaN is non-finite (%g)\n", ok ? "ok" : "FAIL", s);
    }
  }
  {
    Dev d(gpu, Vec());
    ++g_checks;
    const double s = gpu.sum_squares(d.p(), 0);
    if (s != 0.0) ++g_failures;
    std::printf("  %-4s sum_squares count=0 -> %g\n", s == 0.0 ? "ok" : "FAIL", s);
  }
  const int64_t count = 100003;
  const Vec p0 = randn(static_cast<size_t>(count)), g0 = randn(static_cast<size_t>(count)),
            m0 = randn(static_cast<size_t>(count), 0.1), v0 = uniform(static_cast<size_t>(count), 0.0, 0.5);
  struct Opt {
    const char* name;
    hn::OptimizerStep h;
  };
  std::vector<Opt> opts(4);
  opts[0].name = "adam";
  opts[0].h.rule.kind = hn::OptimizerKind::Adam;
  opts[0].h.lr = 1e-2f;
  opts[0].h.step = 3;
  opts[0].h.grad_scale = 0.5f;
  opts[1].name = "adam+l2";
  opts[1].h = opts[0].h;
  opts[1].h.rule.weight_decay = 0.01f;
  opts[2].name = "adamw";
  opts[2].h = opts[1].h;
  opts[2].h.rule.kind = hn::OptimizerKind::AdamW;
  opts[3].name = "sgd nesterov";
  opts[3].h.rule.kind = hn::OptimizerKind::Sgd;
  opts[3].h.lr = 0.1f;
  opts[3].h.rule.momentum = 0.9f;
  opts[3].h.rule.nesterov = true;
  opts[3].h.rule.weight_decay = 0.001f;
  for (const Opt& o : opts) {
    parity(std::string("optimizer_step ") + o.name, cpu, gpu, [&](Backend& b) {
      Dev p(b, p0), g(b, g0), m(b, m0), v(b, v0);
      b.optimizer_step(o.h, p.p(), g.p(), m.p(), v.p(), count);
      return Outputs{{"params", p.host()}, {"m", m.host()}, {"v", v.host()}};
    });
  }
}

void test_tto(Backend& cpu, Backend& gpu) {
  std::printf("ReNO kernels\n");
  const int64_t n = 4, dim = 1000;
  const Vec e0 = randn(static_cast<size_t>(n * dim)), g0 = randn(static_cast<size_t>(n * dim), 0.01),
            v0 = randn(static_cast<size_t>(n * dim), 0.01);
  struct Cfg {
    const char* name;
    float lr, momentum;
    bool nesterov;
    float clip, lambda;
  };
  const Cfg cfgs[] = {{"nesterov clip chi", 5.0f, 0.9f, true, 0.1f, 0.01f},
                      {"momentum, no clip", 0.5f, 0.9f, false, 0.0f, 0.01f},
                      {"plain, no chi", 1.0f, 0.0f, false, 100.0f, 0.0f}};
  for (const Cfg& c : cfgs) {
    parity(std::string("noise_sgd_step ") + c.name, cpu, gpu, [&](Backend& b) {
      Dev e(b, e0), g(b, g0), v(b, v0);
      b.noise_sgd_step(e.p(), g.p(), v.p(), n, dim, c.lr, c.momentum, c.nesterov, c.clip, c.lambda);
      return Outputs{{"eps", e.host()}, {"velocity", v.host()}};
    });
  }
  const int64_t m = 9, da = 37, db = 5;
  const Vec value = randn(static_cast<size_t>(m)), best0 = randn(static_cast<size_t>(m));
  const Vec a = randn(static_cast<size_t>(m * da)), ba0 = randn(static_cast<size_t>(m * da));
  const Vec b = randn(static_cast<size_t>(m * db)), bb0 = randn(static_cast<size_t>(m * db));
  parity("keep_best", cpu, gpu, [&](Backend& bk) {
    Dev v(bk, value), bv(bk, best0), ad(bk, a), bad(bk, ba0), bd(bk, b), bbd(bk, bb0), bv2(bk, best0), bad2(bk, ba0);
    bk.keep_best(v.p(), m, bv.p(), ad.p(), da, bad.p(), bd.p(), db, bbd.p());
    bk.keep_best(v.p(), m, bv2.p(), ad.p(), da, bad2.p(), nullptr, 0, nullptr);
    return Outputs{{"best_value", bv.host()}, {"best_a", bad.host()}, {"best_b", bbd.host()},
                   {"best_a (no b)", bad2.host()}};
  });
}

// ---- objects above the backend -------------------------------------------------------------------------

void test_objects(Backend& cpu, Backend& gpu) {
  std::printf("Hypernetwork and Trainer on both backends\n");
  hn::HypernetDesc d;
  d.noise_dim = 2048;
  d.cond_dim = 10;
  d.rank = 32;
  d.depth = 1;
  d.activation = Activation::Silu;
  const int64_t n = 12;
  const Vec eps = randn(static_cast<size_t>(n * d.noise_dim));
  const Vec cond = randn(static_cast<size_t>(n * d.cond_dim));
  const Vec deh = randn(static_cast<size_t>(n * d.noise_dim), 0.05);
  try {
    hn::Hypernetwork hc(cpu, d), hg(gpu, d);
    hc.init(3);
    hg.init(3);
    const int64_t P = hc.param_count();
    Vec pc(static_cast<size_t>(P)), pg(static_cast<size_t>(P));
    hc.get_params(pc.data(), P);
    hg.get_params(pg.data(), P);
    check_exact("Hypernetwork::init(3) parameters", pg.data(), pc.data(), pc.size() * 4);
    // Make f non-zero: random B and bo.
    const hn::HypernetLayout lay = hn::hypernet_layout(d);
    const Vec Bv = randn(static_cast<size_t>(d.noise_dim * d.rank + d.noise_dim), 0.05);
    std::copy(Bv.begin(), Bv.end(), pc.begin() + lay.B);
    hc.set_params(pc.data(), P);
    hg.set_params(pc.data(), P);
    Vec oc(eps.size()), og(eps.size());
    hc.forward(eps.data(), cond.data(), n, oc.data());
    hg.forward(eps.data(), cond.data(), n, og.data());
    check("Hypernetwork::forward", og, oc);
    Vec sc(static_cast<size_t>(hn::kHypernetStatRows * n)), sg(sc.size());
    hc.kl(eps.data(), cond.data(), n, sc.data());
    hg.kl(eps.data(), cond.data(), n, sg.data());
    compare_stats("Hypernetwork::kl", sg, sc, n, true);
    hc.forward_train(eps.data(), cond.data(), n, hn::KlKind::Exact, oc.data(), sc.data());
    hg.forward_train(eps.data(), cond.data(), n, hn::KlKind::Exact, og.data(), sg.data());
    check("Hypernetwork::forward_train eps_hat", og, oc);
    hc.backward(deh.data(), n, hn::KlKind::Exact, 0.5f, -0.25f);
    hg.backward(deh.data(), n, hn::KlKind::Exact, 0.5f, -0.25f);
    Vec gc(static_cast<size_t>(P)), gg(gc.size());
    hc.get_gradient(gc.data(), P);
    hg.get_gradient(gg.data(), P);
    check_outputs("Hypernetwork::backward exact", split_grad(d, gg), split_grad(d, gc));
  } catch (const std::exception& e) {
    ++g_checks;
    ++g_failures;
    std::printf("  FAIL Hypernetwork: exception: %s\n", e.what());
  }

  // Trainer: generator 256 -> 128 -> 3x8x8, reward = redness + classifier log-prob (class from the
  // one-hot condition) + brightness; exact KL, depth 2, Adam with clipping; 3 steps.
  try {
    hn::HypernetDesc td;
    td.noise_dim = 256;
    td.cond_dim = 10;
    td.rank = 16;
    td.depth = 2;
    td.activation = Activation::Silu;
    const int64_t batch = 16, steps = 3;
    std::vector<float> onehot(static_cast<size_t>(batch * td.cond_dim), 0.0f);
    for (int64_t i = 0; i < batch; ++i) onehot[static_cast<size_t>(i * td.cond_dim + (i * 7) % 10)] = 1.0f;
    std::vector<Vec> final_params(2);
    std::vector<std::vector<hn::TrainStepStats>> stats(2);
    std::vector<Vec> noise(2);
    for (int which = 0; which < 2; ++which) {
      Backend& b = which ? gpu : cpu;
      auto hnet = std::make_shared<hn::Hypernetwork>(b, td);
      hnet->init(11);
      using L = hn::LayerSpec;
      auto gen = std::make_shared<hn::SequentialModel>(
          b, std::vector<L>{L::dense(256, 128), L::act(Activation::Silu), L::dense(128, 192)});
      gen->init(5);
      auto clf = std::make_shared<hn::SequentialModel>(b, std::vector<L>{L::dense(192, 10), L::act(Activation::Identity)});
      clf->init(6);
      std::vector<hn::RewardTerm> terms(3);
      terms[0].kind = hn::RewardTerm::Kind::Redness;
      terms[0].weight = 0.5f;
      terms[1].kind = hn::RewardTerm::Kind::ClassifierLogProb;
      terms[1].model = clf;
      terms[2].kind = hn::RewardTerm::Kind::Brightness;
      terms[2].weight = -0.2f;
      auto reward = std::make_shared<hn::Reward>(terms);
      hn::TrainerConfig cfg;
      cfg.kl = hn::KlKind::Exact;
      cfg.batch = batch;
      cfg.seed = 9;
      cfg.optimizer.lr = 1e-2f;
      cfg.optimizer.grad_clip = 1.0f;
      hn::Trainer tr(hnet, gen, reward, cfg);
      noise[which].resize(static_cast<size_t>(batch * td.noise_dim));
      tr.noise(2, noise[which].data());
      for (int64_t s = 0; s < steps; ++s) stats[which].push_back(tr.step(s, onehot.data(), nullptr));
      final_params[which].resize(static_cast<size_t>(hnet->param_count()));
      hnet->get_params(final_params[which].data(), hnet->param_count());
    }
    check_exact("Trainer::noise(2)", noise[1].data(), noise[0].data(), noise[0].size() * 4);
    for (int64_t s = 0; s < steps; ++s) {
      const hn::TrainStepStats& a = stats[0][static_cast<size_t>(s)];
      const hn::TrainStepStats& g = stats[1][static_cast<size_t>(s)];
      const std::string p = "Trainer step " + std::to_string(s);
      check(p + " loss", Vec{static_cast<float>(g.loss)}, Vec{static_cast<float>(a.loss)}, 1e-4);
      check(p + " reward", Vec{static_cast<float>(g.reward)}, Vec{static_cast<float>(a.reward)}, 1e-4);
      check(p + " kl", Vec{static_cast<float>(g.kl)}, Vec{static_cast<float>(a.kl)}, 1e-4, 1e-3);
      check(p + " grad_norm", Vec{static_cast<float>(g.grad_norm)}, Vec{static_cast<float>(a.grad_norm)}, 1e-4);
    }
    // Adam normalises each coordinate, so a tiny gradient can round to a different update: looser.
    check("Trainer 3 steps: parameters", final_params[1], final_params[0], 1e-3);
  } catch (const std::exception& e) {
    ++g_checks;
    ++g_failures;
    std::printf("  FAIL Trainer: exception: %s\n", e.what());
  }
}

// ---- timings -----------------------------------------------------------------------------------------

// ---- performance model ---------------------------------------------------------------------------
// What each timed kernel costs (FLOPs in fp32 and fp64, bytes that must cross HBM at least once) and its
// roofline floor on an H200, printed without a GPU by --model (bench/RESULTS.md lists it as the expectation)
// and beside every measured time when a GPU is present. The formulas are the ones the timings report with.

struct Roof {
  const char* name;
  double fp32_tflops, fp64_tflops, hbm_tbps;
};
// H200 SXM: 132 SMs at 1.98 GHz boost, 128 fp32 FMA / clock / SM (SIMT), 64 fp64; HBM3e 4.8 TB/s.
constexpr Roof kH200{"H200 SXM", 66.9, 33.5, 4.8};

struct Cost {
  std::string name;
  double flops32 = 0, flops64 = 0, bytes = 0;
};

// Roofline time in microseconds: the FLOPs at their precision's peak, or the bytes at HBM bandwidth.
double roofline_us(const Cost& c, const Roof& h = kH200) {
  const double t_flop = c.flops32 / (h.fp32_tflops * 1e6) + c.flops64 / (h.fp64_tflops * 1e6);
  return std::max(t_flop, c.bytes / (h.hbm_tbps * 1e6));
}

// The hypernetwork's kernels at noise dimension D, rank r, batch n (depth 1), and a Trainer step with a
// D -> hidden -> hidden generator stand-in. Projections: eps A^T and h B^T, 2 n D r FLOPs each.
std::vector<Cost> hypernet_costs(int64_t D_, int64_t r_, int64_t n_, int64_t hidden_) {
  const double D = static_cast<double>(D_), r = static_cast<double>(r_), n = static_cast<double>(n_),
               hid = static_cast<double>(hidden_);
  const double nd = n * D, dr = D * r;
  std::vector<Cost> c;
  c.push_back({"hypernet forward (inference)", 4 * n * D * r, 0, 4 * (2 * nd + 2 * dr)});
  c.push_back({"hypernet forward (train, keeps f)", 4 * n * D * r, 0, 4 * (3 * nd + 2 * dr)});
  // fwd + bwd: 2 projections forward, 3 backward (dB, dh, dA); bytes: eps, eps_hat, f, d_eps_hat, f, eps
  // (6 n D) and A, B twice plus dA, dB (6 D r).
  const Cost l2{"hypernet fwd+bwd, kl=l2", 10 * n * D * r, 0, 4 * (6 * nd + 6 * dr)};
  c.push_back(l2);
  // Exact extra: K = B^T A-type products and the dA/dB terms (6 D r^2, fp32), per sample G, its LU and
  // inverse (2 r^3) and the r x r side products (4 r^2), in fp64; A and B read once more, K written.
  const Cost extra{"  exact-KL extra (difference)", 6 * D * r * r, n * (2 * r * r * r + 4 * r * r), 4 * 3 * dr};
  c.push_back({"hypernet fwd+bwd, kl=exact", l2.flops32 + extra.flops32, extra.flops64, l2.bytes + extra.bytes});
  c.push_back(extra);
  // Generator forward (2 n D hidden + 2 n hidden^2) and its input VJP (the same), Adam over the parameters
  // (4 arrays read and written).
  const double params = 2 * dr + r + D;
  const double gen_flops = 4 * n * D * hid + 4 * n * hid * hid;
  const double gen_bytes = 4 * (2 * D * hid + 2 * nd) + 4 * 4 * params;
  c.push_back({"Trainer step kl=l2", l2.flops32 + gen_flops, 0, l2.bytes + gen_bytes});
  c.push_back({"Trainer step kl=exact", l2.flops32 + extra.flops32 + gen_flops, extra.flops64,
               l2.bytes + extra.bytes + gen_bytes});
  return c;
}

const Cost& cost_named(const std::vector<Cost>& costs, const std::string& name) {
  for (const Cost& c : costs)
    if (c.name == name) return c;
  throw std::logic_error("no cost model for " + name);
}

// ---- the design estimate ------------------------------------------------------------------------
// What the kernels as written should take on an H200, kernel by kernel, from their launch shapes (the GEMMs
// planned by the kernels' own plan_splits) and a few stated assumptions about how well a kernel of that shape
// runs. The floor says what no implementation can beat; this says what ours should reach if the design works.
// The device check measures the truth; where the two disagree, the assumption named here is what was wrong.
struct Design {
  double sms = 132, ghz = 1.98, fma32_per_clk = 128, dfma_per_clk = 64, hbm = 4.8e12, l2 = 5.5e12;
  double main_loop_eff = 0.75;    // tile engine, steady state: 3 shared loads per 32 FMAs, 4-5 blocks per SM
  double kernel_fixed_us = 1.5;   // each kernel in a graph: launch, the first loads' latency, the tail
  double pivot_clk = 200;         // exact KL, per step: a warp's pivot scan (4 load pairs, 3 warp reductions, a vote)
  double barrier_clk = 40;        // per __syncthreads of a 512-thread block
};
constexpr Design kDesign{};

struct Estimate {
  std::vector<std::pair<std::string, double>> parts;  // kernel, us
  double total() const {
    double t = 0;
    for (const auto& p : parts) t += p.second;
    return t;
  }
  void add(const Estimate& o) { parts.insert(parts.end(), o.parts.begin(), o.parts.end()); }
};

// One tile-engine GEMM (M x N x K, batch), moving `hbm_bytes` through HBM at least once; its split-K reduction
// as a second kernel when the plan splits K.
void estimate_gemm(Estimate& e, const std::string& name, int64_t M, int64_t N, int64_t K, int64_t batch,
                   double hbm_bytes, const Design& h = kDesign) {
  using namespace hn::cuda::detail;
  const SplitPlan plan = plan_splits(static_cast<int64_t>(h.sms), M, N, K, batch);
  const double tiles = static_cast<double>(((M + kBM - 1) / kBM) * ((N + kBN - 1) / kBN) * batch);
  const double blocks = tiles * plan.splits, steps = std::ceil(static_cast<double>(plan.k_chunk) / kBK);
  const double per_sm = std::ceil(blocks / h.sms);
  const double fma_us = per_sm * steps * kBM * kBN * kBK / (h.fma32_per_clk * h.main_loop_eff) / (h.ghz * 1e3);
  e.parts.push_back({name, std::max(fma_us, hbm_bytes / h.hbm * 1e6) + h.kernel_fixed_us});
  if (plan.splits > 1) {
    const double partial = 4.0 * plan.splits * batch * M * N;  // written by the tiles, read back (from L2)
    e.parts.push_back({name + ": split-K reduction", 2 * partial / h.l2 * 1e6 + h.kernel_fixed_us});
  }
}
void estimate_stream(Estimate& e, const std::string& name, double hbm_bytes, const Design& h = kDesign) {
  e.parts.push_back({name, hbm_bytes / h.hbm * 1e6 + h.kernel_fixed_us});
}

// The hypernetwork (depth 1, no condition) at D, r, n: forward (keep: training), backward, the exact KL.
Estimate estimate_forward(double D, double r, double n, bool keep) {
  Estimate e;
  const auto i = [](double v) { return static_cast<int64_t>(v); };
  estimate_gemm(e, "first projection", i(n), i(r), i(D), 1, 4 * (n * D + D * r));
  estimate_gemm(e, "output projection + epilogue", i(n), i(D), i(r), 1, 4 * (r * D + (keep ? 3 : 2) * n * D));
  estimate_stream(e, "statistics", 0);
  return e;
}
Estimate estimate_backward(double D, double r, double n) {
  Estimate e;
  const auto i = [](double v) { return static_cast<int64_t>(v); };
  estimate_stream(e, "df coefficients", 0);
  estimate_gemm(e, "dB = s df^T h", i(D), i(r), i(n), 1, 4 * (2 * n * D + n * r + D * r));
  estimate_stream(e, "dbo (column sums of df)", 4 * 2 * n * D);
  estimate_gemm(e, "dh = s df B", i(n), i(r), i(D), 1, 4 * (2 * n * D + D * r));
  estimate_gemm(e, "dA = dz^T eps", i(r), i(D), i(n), 1, 4 * (n * r + n * D + D * r));
  estimate_stream(e, "db1", 0);
  return e;
}
Estimate estimate_exact_extra(double D, double r, double n, bool keep, const Design& h = kDesign) {
  Estimate e;
  const auto i = [](double v) { return static_cast<int64_t>(v); };
  estimate_gemm(e, "K = s A B", i(r), i(r), i(D), 1, 4 * 2 * D * r);
  // Gauss-Jordan, one block per sample (at r = 128 one per SM): per step the pivot scan, two barriers and the
  // r^2-element update at the fp64 rate (half of it without keep).
  const double R = r <= 32 ? 32 : r <= 64 ? 64 : 128;
  const double per_step = h.pivot_clk + 2 * h.barrier_clk + R * R / h.dfma_per_clk * (keep ? 1.0 : 0.5);
  const double blocks_per_sm = R == 128 ? 1 : R == 64 ? 4 : 16;
  const double waves = std::ceil(n / (h.sms * blocks_per_sm));
  e.parts.push_back({"exact KL elimination", waves * r * per_step / (h.ghz * 1e3) + h.kernel_fixed_us});
  if (keep) {  // the backward's side products at depth 1 and K's two gradient GEMMs
    estimate_stream(e, "exact dz, S (reads P)", 4 * n * r * r);
    estimate_stream(e, "exact S", 0);
    estimate_gemm(e, "dA += s S B^T", i(r), i(D), i(r), 1, 4 * 2 * D * r);
    estimate_gemm(e, "dB += s A^T S", i(D), i(r), i(r), 1, 4 * 2 * D * r);
  }
  return e;
}

// The estimates for the timed hypernetwork operations, under the names the timings and the cost model use.
std::vector<std::pair<std::string, Estimate>> design_estimates(int64_t D_, int64_t r_, int64_t n_) {
  const double D = static_cast<double>(D_), r = static_cast<double>(r_), n = static_cast<double>(n_);
  const Estimate inf = estimate_forward(D, r, n, false), train = estimate_forward(D, r, n, true);
  Estimate l2 = train;
  l2.add(estimate_backward(D, r, n));
  const Estimate extra = estimate_exact_extra(D, r, n, true);
  Estimate exact = l2;
  exact.add(extra);
  return {{"hypernet forward (inference)", inf},
          {"hypernet forward (train, keeps f)", train},
          {"hypernet fwd+bwd, kl=l2", l2},
          {"hypernet fwd+bwd, kl=exact", exact},
          {"  exact-KL extra (difference)", extra}};
}

[[maybe_unused]] double design_us(const std::vector<std::pair<std::string, Estimate>>& est, const std::string& name) {
  for (const auto& e : est)
    if (e.first == name) return e.second.total();
  return 0.0;
}

// --model, second table: the design estimate beside the floor for each hypernetwork operation.
void print_design_estimate() {
  std::printf("\ndesign estimate on an H200: the kernels as launched (GEMM plans from plan_splits), assuming a %.0f %%\n"
              "efficient tile main loop, %.1f us fixed per kernel in a graph, L2 at %.1f TB/s for split-K partials, and\n"
              "%.0f + 2 x %.0f cycles of pivot scan and barriers per exact-KL step (to be checked by measurement)\n",
              100 * kDesign.main_loop_eff, kDesign.kernel_fixed_us, kDesign.l2 * 1e-12, kDesign.pivot_clk,
              kDesign.barrier_clk);
  struct Shape {
    const char* what;
    int64_t D, r, n;
  };
  const Shape shapes[] = {{"SD-Turbo latent", 16384, 128, 64}, {"SD-Turbo latent", 16384, 128, 32},
                          {"MNIST flow", 784, 64, 128}};
  for (const Shape& sh : shapes) {
    std::printf("%s D=%" PRId64 " r=%" PRId64 " n=%" PRId64 "\n", sh.what, sh.D, sh.r, sh.n);
    const std::vector<Cost> costs = hypernet_costs(sh.D, sh.r, sh.n, 256);
    const auto rows = design_estimates(sh.D, sh.r, sh.n);
    for (const auto& row : rows) {
      const double floor = roofline_us(cost_named(costs, row.first)), t = row.second.total();
      std::printf("  %-36s estimate %7.1f us   floor %6.1f us   %4.1fx floor\n", row.first.c_str(), t, floor,
                  t / floor);
    }
    if (sh.n == 64) {
      std::printf("    its kernels (forward for training, backward, exact-KL extra):\n");
      for (const auto& p : rows[3].second.parts) {  // fwd+bwd, kl=exact: every kernel of a training pass
        std::printf("      %-44s %7.1f us\n", p.first.c_str(), p.second);
      }
    }
  }
}

// --model: the table for the SD-Turbo latent shape and the MNIST shapes, no GPU needed.
void print_model() {
  std::printf("performance model: roofline floors on an %s (fp32 %.1f TFLOP/s, fp64 %.1f TFLOP/s, HBM %.1f TB/s);\n"
              "the issue-13 goal is a measured time within 3x of the floor\n",
              kH200.name, kH200.fp32_tflops, kH200.fp64_tflops, kH200.hbm_tbps);
  struct Shape {
    const char* what;
    int64_t D, r, n, hidden;
  };
  const Shape shapes[] = {{"SD-Turbo latent", 16384, 128, 64, 256}, {"SD-Turbo latent", 16384, 128, 32, 256},
                          {"MNIST flow", 784, 64, 128, 1024},      {"MNIST VAE", 32, 64, 256, 256}};
  std::printf("%-18s %-36s %10s %10s %9s %9s %9s\n", "shape", "kernel", "GFLOP32", "GFLOP64", "MB", "floor us",
              "3x us");
  for (const Shape& sh : shapes) {
    char tag[96];
    std::snprintf(tag, sizeof(tag), "%s D=%" PRId64 " r=%" PRId64 " n=%" PRId64, sh.what, sh.D, sh.r, sh.n);
    std::printf("%s\n", tag);
    for (const Cost& c : hypernet_costs(sh.D, sh.r, sh.n, sh.hidden)) {
      const double f = roofline_us(c);
      std::printf("%-18s %-36s %10.4f %10.4f %9.2f %9.2f %9.2f\n", "", c.name.c_str(), c.flops32 * 1e-9,
                  c.flops64 * 1e-9, c.bytes * 1e-6, f, 3 * f);
    }
  }
  std::printf("(a launch costs 2-4 us on the host side: at the MNIST shapes, where every floor is a few us, the\n"
              " sequence of launches, not the roofline, bounds a step; hence CUDA Graphs for fixed sequences)\n");
  print_design_estimate();
}

#if defined(HN_WITH_CUDA)

struct Row {
  std::string name;
  double us = 0, flops = 0, bytes = 0, floor_us = 0, model_us = 0, design_us = 0;
};
std::vector<Row> g_rows;

double g_peak_gflops = 0.0;  // fp32 FMA peak of the device
double g_copy_gbps = 0.0;    // measured device copy bandwidth

#define CK(call)                                                                          \
  do {                                                                                    \
    const cudaError_t e_ = (call);                                                        \
    if (e_ != cudaSuccess) hn::fail(hn::ErrorCode::Cuda, std::string(#call) + ": " + cudaGetErrorString(e_)); \
  } while (0)

// Median of `reps` timings (CUDA events on the backend's stream), after `warm` untimed runs.
double time_us(cudaStream_t s, const std::function<void()>& f, int warm, int reps) {
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  for (int i = 0; i < warm; ++i) f();
  CK(cudaStreamSynchronize(s));
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    CK(cudaEventRecord(a, s));
    f();
    CK(cudaEventRecord(b, s));
    CK(cudaEventSynchronize(b));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms * 1000.0);
  }
  CK(cudaEventDestroy(a));
  CK(cudaEventDestroy(b));
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// A timing beside its floors: on this device (its FMA peak and measured copy bandwidth) and on the H200 model.
void report(const std::string& name, double us, const Cost& c, double design = 0.0) {
  Row r;
  r.name = name;
  r.us = us;
  r.flops = c.flops32 + c.flops64;
  r.bytes = c.bytes;
  const double t_flop = g_peak_gflops > 0 ? r.flops / (g_peak_gflops * 1e3) : 0.0;  // us
  const double t_byte = g_copy_gbps > 0 ? r.bytes / (g_copy_gbps * 1e3) : 0.0;
  r.floor_us = std::max(t_flop, t_byte);
  r.model_us = roofline_us(c);
  r.design_us = design;
  g_rows.push_back(r);
  std::printf("  %-44s %9.1f us  %8.3f GFLOP %8.2f MB  %8.0f GFLOP/s %7.0f GB/s  floor %7.1f us (H200 model %.1f)\n",
              name.c_str(), us, r.flops * 1e-9, r.bytes * 1e-6, r.flops / (us * 1e3), r.bytes / (us * 1e3), r.floor_us,
              r.model_us);
}
[[maybe_unused]] void report(const std::string& name, double us, double flops, double bytes) {
  report(name, us, Cost{name, flops, 0, bytes});
}

void bench(Backend& gpu_base) {
  auto& gpu = dynamic_cast<hn::cuda::CudaBackend&>(gpu_base);
  cudaStream_t st = gpu.stream();
  const int warm = g_quick ? 3 : 10, reps = g_quick ? 15 : 100;
  cudaDeviceProp prop{};
  CK(cudaGetDeviceProperties(&prop, gpu.device()));
  int clock_khz = 0;
  CK(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, gpu.device()));
  const int fma_per_sm = (prop.major == 8 && prop.minor == 0) || prop.major < 8 ? 64 : 128;
  g_peak_gflops = 2.0 * fma_per_sm * prop.multiProcessorCount * (clock_khz * 1e-6);
  std::printf("\ntimings on %s: %d SMs, %.2f GHz, fp32 FMA peak %.1f TFLOP/s (%d FMA/clk/SM); warm-up %d, "
              "median of %d\n",
              prop.name, prop.multiProcessorCount, clock_khz * 1e-6, g_peak_gflops * 1e-3, fma_per_sm, warm, reps);

  {  // device copy bandwidth (read + write)
    const size_t bytes = size_t{256} << 20;
    DeviceBuffer a(gpu, bytes), b(gpu, bytes);
    CK(cudaMemsetAsync(a.data(), 0, bytes, st));
    const double us = time_us(st, [&] { gpu.copy(b.data(), a.data(), bytes); }, warm, g_quick ? 10 : 30);
    g_copy_gbps = 2.0 * bytes / (us * 1e3);
    std::printf("  device copy 256 MiB: %.1f us -> %.0f GB/s (read + write)\n", us, g_copy_gbps);
  }

  const int64_t D = 16384, r = 128;
  for (int64_t n : {int64_t{64}, int64_t{32}}) {
    std::printf(" n = %" PRId64 ", D = %" PRId64 ", r = %" PRId64 ", depth 1, silu\n", n, D, r);
    hn::HypernetDesc d;
    d.noise_dim = D;
    d.rank = r;
    d.depth = 1;
    d.activation = Activation::Silu;
    const hn::HypernetLayout lay = hn::hypernet_layout(d);
    Dev params(gpu, random_params(d, 0.3)), eps(gpu, randn(static_cast<size_t>(n * D))),
        out(gpu, static_cast<size_t>(n * D)), deh(gpu, randn(static_cast<size_t>(n * D), 0.01)),
        grad(gpu, static_cast<size_t>(lay.total));
    Dev cache(gpu, static_cast<size_t>(hn::hypernet_cache_floats(d, n, hn::KlKind::Exact)));
    hn::HypernetCacheView v = hn::hypernet_cache_view(d, n, hn::KlKind::Exact, cache.p());
    hn::HypernetCacheView inf;
    Dev stats(gpu, static_cast<size_t>(hn::kHypernetStatRows * n));
    inf.stats = stats.p();
    const std::string tag = " n=" + std::to_string(n);
    [[maybe_unused]] const double nd = static_cast<double>(n) * D, dr = static_cast<double>(D) * r;  // cuBLAS rows

    const std::vector<Cost> costs = hypernet_costs(D, r, n, 256);
    const auto cost = [&](const char* key) { return cost_named(costs, key); };
    const auto estimates = design_estimates(D, r, n);
    const auto design = [&](const char* key) { return design_us(estimates, key); };
    const double t_fwd = time_us(
        st, [&] { gpu.hypernet_forward(d, params.p(), eps.p(), nullptr, n, out.p(), hn::KlKind::L2, false, inf); }, warm, reps);
    const char* const k_inf = "hypernet forward (inference)";
    report(k_inf + tag, t_fwd, cost(k_inf), design(k_inf));
    {  // the same launches without CUDA Graphs: what the graph saves
      gpu.graphs().set_enabled(false);
      const double t = time_us(
          st, [&] { gpu.hypernet_forward(d, params.p(), eps.p(), nullptr, n, out.p(), hn::KlKind::L2, false, inf); }, warm, reps);
      gpu.graphs().set_enabled(true);
      report("hypernet forward (inference, no graphs)" + tag, t, cost(k_inf), design(k_inf));
    }
    const double t_fwdk = time_us(
        st, [&] { gpu.hypernet_forward(d, params.p(), eps.p(), nullptr, n, out.p(), hn::KlKind::L2, true, v); }, warm, reps);
    report(std::string("hypernet forward (train, keeps f)") + tag, t_fwdk, cost("hypernet forward (train, keeps f)"),
           design("hypernet forward (train, keeps f)"));
    auto fb = [&](hn::KlKind kl) {
      const bool exact = kl == hn::KlKind::Exact;
      if (exact) gpu.hypernet_k(d, params.p(), v.K);
      gpu.hypernet_forward(d, params.p(), eps.p(), nullptr, n, out.p(), kl, true, v);
      gpu.hypernet_backward(d, params.p(), eps.p(), nullptr, out.p(), n, deh.p(), kl, 0.01f, v, grad.p());
    };
    const double t_fb = time_us(st, [&] { fb(hn::KlKind::L2); }, warm, reps);
    report(std::string("hypernet fwd+bwd, kl=l2") + tag, t_fb, cost("hypernet fwd+bwd, kl=l2"),
           design("hypernet fwd+bwd, kl=l2"));
    const double t_fbe = time_us(st, [&] { fb(hn::KlKind::Exact); }, warm, reps);
    report(std::string("hypernet fwd+bwd, kl=exact") + tag, t_fbe, cost("hypernet fwd+bwd, kl=exact"),
           design("hypernet fwd+bwd, kl=exact"));
    report(std::string("  exact-KL extra (difference)") + tag, t_fbe - t_fb, cost("  exact-KL extra (difference)"),
           design("  exact-KL extra (difference)"));

#if defined(HN_HAVE_CUBLAS)
    {
      cublasHandle_t h;
      if (cublasCreate(&h) == CUBLAS_STATUS_SUCCESS) {
        cublasSetStream(h, st);
        cublasSetMathMode(h, CUBLAS_DEFAULT_MATH);
        // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T.
        auto rm = [&](bool ta, bool tb, int64_t m, int64_t nn, int64_t k, const float* a, int64_t lda, const float* b,
                      int64_t ldb, float* c, int64_t ldc) {
          const float one = 1.0f, zero = 0.0f;
          cublasSgemm(h, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(nn),
                      static_cast<int>(m), static_cast<int>(k), &one, b, static_cast<int>(ldb), a,
                      static_cast<int>(lda), &zero, c, static_cast<int>(ldc));
        };
        Dev zbuf(gpu, static_cast<size_t>(n * r)), hbuf(gpu, randn(static_cast<size_t>(n * r)));
        const float* A = params.p() + lay.A;
        const float* B = params.p() + lay.B;
        const double pf = 2.0 * n * D * r;
        double t;
        t = time_us(st, [&] { rm(false, true, n, r, D, eps.p(), D, A, D, zbuf.p(), r); }, warm, reps);
        report("cuBLAS eps A^T (n x D x r)" + tag, t, pf, 4.0 * (nd + dr));
        t = time_us(st, [&] { gpu.gemm(false, true, n, r, D, 1.0f, eps.p(), D, A, D, 0.0f, zbuf.p(), r); }, warm, reps);
        report("ours   eps A^T (n x D x r)" + tag, t, pf, 4.0 * (nd + dr));
        t = time_us(st, [&] { rm(false, true, n, D, r, hbuf.p(), r, B, r, out.p(), D); }, warm, reps);
        report("cuBLAS h B^T (n x r x D)" + tag, t, pf, 4.0 * (nd + dr));
        t = time_us(st, [&] { gpu.gemm(false, true, n, D, r, 1.0f, hbuf.p(), r, B, r, 0.0f, out.p(), D); }, warm, reps);
        report("ours   h B^T (n x r x D)" + tag, t, pf, 4.0 * (nd + dr));
        t = time_us(st, [&] { rm(true, false, D, r, n, deh.p(), D, hbuf.p(), r, grad.p() + lay.B, r); }, warm, reps);
        report("cuBLAS df^T h (D x n x r)" + tag, t, pf, 4.0 * (nd + 2 * dr));
        t = time_us(
            st, [&] { gpu.gemm(true, false, D, r, n, 1.0f, deh.p(), D, hbuf.p(), r, 0.0f, grad.p() + lay.B, r); }, warm,
            reps);
        report("ours   df^T h (D x n x r)" + tag, t, pf, 4.0 * (nd + 2 * dr));
        cublasDestroy(h);
      } else {
        std::printf("  (cublasCreate failed: no cuBLAS ceiling)\n");
      }
    }
#endif

    // A full Trainer step: generator stand-in 16384 -> 256 -> silu -> 256, brightness reward, Adam.
    try {
      auto hnet = std::make_shared<hn::Hypernetwork>(gpu, d);
      hnet->init(1);
      using L = hn::LayerSpec;
      auto gen = std::make_shared<hn::SequentialModel>(
          gpu, std::vector<L>{L::dense(D, 256), L::act(Activation::Silu), L::dense(256, 256)});
      gen->init(2);
      std::vector<hn::RewardTerm> terms(1);
      terms[0].kind = hn::RewardTerm::Kind::Brightness;
      auto reward = std::make_shared<hn::Reward>(terms);
      for (hn::KlKind kl : {hn::KlKind::L2, hn::KlKind::Exact}) {
        hn::TrainerConfig cfg;
        cfg.kl = kl;
        cfg.batch = n;
        cfg.optimizer.lr = 1e-3f;
        cfg.optimizer.grad_clip = 1.0f;
        hn::Trainer tr(hnet, gen, reward, cfg);
        int64_t step = 0;
        const double t = time_us(st, [&] { tr.step(step++, nullptr, nullptr); }, warm, g_quick ? 10 : 50);
        report(std::string("Trainer step (gen 16384-256-256) kl=") + hn::kl_name(kl) + tag, t,
               cost(kl == hn::KlKind::Exact ? "Trainer step kl=exact" : "Trainer step kl=l2"));
      }
    } catch (const std::exception& e) {
      std::printf("  Trainer step timing failed: %s\n", e.what());
    }
  }
}
#endif  // HN_WITH_CUDA


const char* const kParityGroups[] = {"memory", "noise", "gemm", "hypernet", "sequential", "rewards", "optim", "tto", "objects"};

// The groups named in a comma-separated list; an unknown name is an error (returned as false).
bool parse_groups(const std::string& list, std::vector<std::string>* out) {
  size_t pos = 0;
  while (pos <= list.size()) {
    const size_t end = std::min(list.find(',', pos), list.size());
    const std::string g = list.substr(pos, end - pos);
    if (std::find(std::begin(kParityGroups), std::end(kParityGroups), g) == std::end(kParityGroups)) {
      std::printf("unknown parity group '%s'; groups:", g.c_str());
      for (const char* k : kParityGroups) std::printf(" %s", k);
      std::printf("\n");
      return false;
    }
    out->push_back(g);
    pos = end + 1;
  }
  return !out->empty();
}

}  // namespace

int main(int argc, char** argv) {
  bool bench_on = true, parity_on = true, require_gpu = false;
  std::vector<std::string> only;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") g_quick = true;
    else if (a == "--no-bench") bench_on = false;
    else if (a == "--no-parity") parity_on = false;
    else if (a == "--require-gpu") require_gpu = true;
    else if (a == "--model") {
      print_model();
      return 0;
    }
    else if (a == "--only" && i + 1 < argc) {
      if (!parse_groups(argv[++i], &only)) return 2;
    } else {
      std::printf("usage: %s [--quick] [--no-bench] [--no-parity] [--only GROUP[,GROUP...]] [--require-gpu] [--model]\n", argv[0]);
      return 2;
    }
  }
  const hn::BackendInfo info = hn::backend_info();
  std::printf("hn_cuda_parity: cpu isa %s, %d threads; cuda compiled %s; %s\n", info.isa.c_str(), info.threads,
              info.cuda_compiled ? "yes" : "no", info.cuda_reason.c_str());
  if (!info.cuda_available) {
    const std::string why = info.cuda_compiled ? "no usable CUDA device (" + info.cuda_reason + ")"
                                               : "this build has no CUDA backend (configure with HYPERNOISE_CUDA=1)";
    if (require_gpu) {
      std::printf("FAIL: --require-gpu: %s\n", why.c_str());
      return 3;
    }
    std::printf("SKIP: %s\n", why.c_str());
    return 0;
  }
  const auto wanted = [&](const char* group) {
    return only.empty() || std::find(only.begin(), only.end(), group) != only.end();
  };
  try {
    Backend& cpu = hn::get_backend(hn::BackendKind::Cpu);
    Backend& gpu = hn::get_backend(hn::BackendKind::Cuda);
    const auto t0 = std::chrono::steady_clock::now();
    if (parity_on) {
      const std::pair<const char*, void (*)(Backend&, Backend&)> groups[] = {
          {"memory", test_memory}, {"noise", test_noise},     {"gemm", test_gemm},
          {"hypernet", test_hypernet}, {"sequential", test_sequential}, {"rewards", test_rewards},
          {"optim", test_optim},   {"tto", test_tto},         {"objects", test_objects}};
      for (const auto& g : groups) {
        if (!wanted(g.first)) continue;
        // Each group draws from its own seed, so --only reruns a group on the inputs the full run gave it.
        g_rng.seed(20250811 + std::hash<std::string>{}(g.first));
        g.second(cpu, gpu);
      }
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("\nparity: %d checks, %d failed, worst rel %.2e (%s), %.1f s\n", g_checks, g_failures, g_worst,
                  g_worst_name.c_str(), secs);
    }
#if defined(HN_WITH_CUDA)
    if (bench_on) bench(gpu);
    if (!g_rows.empty()) {
      std::printf("\n%-46s %10s %10s %10s %10s %8s %10s %8s %10s %8s\n", "kernel", "us", "GFLOP/s", "GB/s",
                  "floor us", "x floor", "H200 us", "x H200", "design us", "x design");
      for (const Row& r : g_rows) {
        std::printf("%-46s %10.1f %10.0f %10.0f %10.1f %8.1f %10.1f %8.1f", r.name.c_str(), r.us,
                    r.flops / (r.us * 1e3), r.bytes / (r.us * 1e3), r.floor_us, r.floor_us > 0 ? r.us / r.floor_us : 0.0,
                    r.model_us, r.model_us > 0 ? r.us / r.model_us : 0.0);
        if (r.design_us > 0) std::printf(" %10.1f %8.2f", r.design_us, r.us / r.design_us);
        std::printf("\n");
      }
      std::printf("(floor: max(FLOPs / fp32 peak %.1f TFLOP/s, bytes / copy bandwidth %.0f GB/s))\n",
                  g_peak_gflops * 1e-3, g_copy_gbps);
    }
#else
    (void)bench_on;
#endif
    if (parity_on) {
      std::printf("PARITY %s: %d/%d checks passed\n", g_failures ? "FAILED" : "OK", g_checks - g_failures, g_checks);
    }
  } catch (const std::exception& e) {
    std::printf("FAIL: exception: %s\n", e.what());
    return 1;
  }
  return g_failures ? 1 : 0;
}
