// Every CPU instruction-set path against every other, on one machine: Philox against the Random123
// known-answer vectors; the noise of every path bit-identical to the scalar Philox reference; the vector
// paths (AVX2 and AVX-512 on x86) bit-identical to each other on every op the library runs (hypernetwork
// forward, KL statistics and gradients, training steps, models, activations), and each within float
// tolerance of the scalar path (which multiplies and adds in two roundings). Ends with a digest per path,
// so that runs on different machines (x86 and AArch64 under qemu in CI) can be compared line by line.
//   usage: hn_isa_test [--quick] [--digests]
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "core/hypernetwork.h"
#include "core/philox.h"
#include "core/reward.h"
#include "core/sequential.h"
#include "core/trainer.h"
#include "cpu/act_kernels.h"
#include "cpu/isa.h"
#include "registry/backends.h"

using namespace hn;
using cpu::Isa;

namespace {

bool g_quick = false;

Backend& cpu_backend() { return get_backend(BackendKind::Cpu); }

// Named float outputs of one run of the workload.
struct Outputs {
  std::vector<std::string> names;
  std::vector<std::vector<float>> values;
  void add(const std::string& name, std::vector<float> v) {
    names.push_back(name);
    values.push_back(std::move(v));
  }
};

std::vector<float> randn(std::mt19937& rng, size_t n, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

void test_philox_known_answers() {
  struct Kat {
    uint32_t ctr[4], key[2], out[4];
  };
  // Random123's kat_vectors for philox4x32-10.
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}, {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}, {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) {
    philox::U4 c;
    std::memcpy(c.v, k.ctr, sizeof(c.v));
    const philox::U4 r = philox::philox4x32_10(c, k.key[0], k.key[1]);
    EXPECT(std::memcmp(r.v, k.out, sizeof(r.v)) == 0, "philox4x32-10 known answer %08x %08x %08x %08x", r.v[0], r.v[1],
           r.v[2], r.v[3]);
  }
}

// The noise of the active path against philox::normal4 evaluated element by element.
void check_noise_against_reference(const char* isa) {
  const int64_t n = 37, dim = 101;
  const uint64_t seed = (1ull << 63) + 12345, first = 5;
  std::vector<float> got(static_cast<size_t>(n * dim));
  cpu_backend().sample_noise(got.data(), n, dim, seed, first, philox::kTrainStream);
  int bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < dim; ++j) {
      float v[4];
      philox::normal4(seed, first + static_cast<uint64_t>(i), static_cast<uint32_t>(j / 4), philox::kTrainStream, v);
      uint32_t a, b;
      std::memcpy(&a, &got[static_cast<size_t>(i * dim + j)], 4);
      std::memcpy(&b, &v[j % 4], 4);
      bad += a != b;
    }
  }
  EXPECT(bad == 0, "%s: %d noise values differ from the Philox reference", isa, bad);
}

std::shared_ptr<SequentialModel> mlp(std::vector<LayerSpec> layers, uint64_t seed) {
  auto m = std::make_shared<SequentialModel>(cpu_backend(), std::move(layers));
  m->init(seed);
  return m;
}

// The workload: everything the library computes on the CPU, at shapes that exercise every edge (ranks that
// are not multiples of any vector width, several LU panels, partial GEMM tiles).
Outputs workload() {
  Outputs out;
  std::mt19937 rng(7);
  {
    std::vector<float> noise(37 * 101);
    cpu_backend().sample_noise(noise.data(), 37, 101, 99, 0, philox::kSampleStream);
    out.add("noise", noise);
  }
  for (int64_t r : {int64_t{13}, int64_t{64}}) {
    for (int depth : {1, 2}) {
      if (g_quick && r == 64 && depth == 2) continue;
      for (Activation act : {Activation::Silu, Activation::Gelu}) {
        HypernetDesc d;
        d.noise_dim = 40;
        d.cond_dim = 3;
        d.rank = r;
        d.depth = depth;
        d.activation = act;
        d.scale = 0.8f;
        Hypernetwork h(cpu_backend(), d);
        const int64_t n = 19, D = d.noise_dim, P = h.param_count();
        // Entries ~ 1/sqrt(r): G = I + MK stays well conditioned, so float rounding is not amplified.
        const std::vector<float> params = randn(rng, static_cast<size_t>(P), 1.0f / std::sqrt(static_cast<float>(r)));
        h.set_params(params.data(), P);
        const std::vector<float> eps = randn(rng, static_cast<size_t>(n * D));
        const std::vector<float> cond = randn(rng, static_cast<size_t>(n * d.cond_dim));
        const std::string tag = "r" + std::to_string(r) + " L" + std::to_string(depth) + " " + activation_name(act);
        std::vector<float> eh(static_cast<size_t>(n * D)), stats(static_cast<size_t>(kHypernetStatRows * n));
        h.forward(eps.data(), cond.data(), n, eh.data());
        out.add("forward " + tag, eh);
        h.kl(eps.data(), cond.data(), n, stats.data());
        out.add("kl " + tag, stats);
        for (KlKind kl : {KlKind::Exact, KlKind::Chi}) {
          h.forward_train(eps.data(), cond.data(), n, kl, eh.data(), nullptr);
          const std::vector<float> g = randn(rng, static_cast<size_t>(n * D));
          h.backward(g.data(), n, kl, 0.7f, -0.5f);
          std::vector<float> grad(static_cast<size_t>(P));
          h.get_gradient(grad.data(), P);
          out.add(std::string("gradient ") + kl_name(kl) + " " + tag, grad);
        }
      }
    }
  }
  {
    auto gen = mlp({LayerSpec::dense(24, 48), LayerSpec::act(Activation::Gelu), LayerSpec::dense(48, 30)}, 1);
    auto clf = mlp({LayerSpec::dense(30, 16), LayerSpec::act(Activation::Tanh), LayerSpec::dense(16, 5)}, 2);
    const int64_t n = 23;
    const std::vector<float> x = randn(rng, static_cast<size_t>(n * 24)), dy = randn(rng, static_cast<size_t>(n * 30));
    std::vector<float> y(static_cast<size_t>(n * 30)), dx(static_cast<size_t>(n * 24)),
        grad(static_cast<size_t>(gen->param_count()));
    gen->forward(x.data(), n, y.data());
    out.add("model forward", y);
    gen->gradients(x.data(), dy.data(), n, dx.data(), grad.data());
    out.add("model dx", dx);
    out.add("model gradient", grad);

    std::vector<RewardTerm> terms(2);
    terms[0].kind = RewardTerm::Kind::ClassifierLogProb;
    terms[0].model = clf;
    terms[1].kind = RewardTerm::Kind::Brightness;
    terms[1].weight = 0.3f;
    auto reward = std::make_shared<Reward>(terms);
    HypernetDesc d;
    d.noise_dim = 24;
    d.cond_dim = 5;
    d.rank = 21;
    auto h = std::make_shared<Hypernetwork>(cpu_backend(), d);
    h->init(4);
    TrainerConfig tc;
    tc.batch = 17;
    tc.optimizer.lr = 0.02f;
    tc.optimizer.grad_clip = 1.0f;
    Trainer t(h, gen, reward, tc);
    std::vector<float> cond(static_cast<size_t>(tc.batch * 5), 0.0f);
    for (int64_t i = 0; i < tc.batch; ++i) cond[static_cast<size_t>(i * 5 + i % 5)] = 1.0f;
    for (int s = 0; s < (g_quick ? 3 : 6); ++s) t.step(s, cond.data(), nullptr);
    std::vector<float> p(static_cast<size_t>(h->param_count()));
    h->get_params(p.data(), h->param_count());
    out.add("trained parameters", p);
  }
  {
    // The activations alone: no multiply-add to fuse, so every path, scalar included, agrees bit for bit.
    const std::vector<float> z = randn(rng, 1000, 3.0f);
    for (Activation a : {Activation::Silu, Activation::Gelu, Activation::Tanh, Activation::Sigmoid}) {
      std::vector<float> y(z.size()), d1(z.size(), 1.0f);
      cpu::act_array(a, z.data(), y.data(), static_cast<int64_t>(z.size()));
      cpu::act_d1_mul(a, z.data(), d1.data(), static_cast<int64_t>(z.size()));
      out.add(std::string("activation ") + activation_name(a), y);
      out.add(std::string("activation d1 ") + activation_name(a), d1);
    }
  }
  return out;
}

// FNV-1a over the bits of outputs [begin, end).
uint64_t digest(const Outputs& o, size_t begin, size_t end) {
  uint64_t h = 1469598103934665603ull;
  for (size_t k = begin; k < end; ++k) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(o.values[k].data());
    for (size_t i = 0; i < o.values[k].size() * sizeof(float); ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
  return h;
}

int64_t bit_differences(const std::vector<float>& a, const std::vector<float>& b) {
  int64_t bad = 0;
  for (size_t i = 0; i < a.size(); ++i) bad += std::memcmp(&a[i], &b[i], sizeof(float)) != 0;
  return bad;
}

// Largest |a - b| / (1 + |b|).
double max_rel(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs(static_cast<double>(a[i]) - b[i]) / (1.0 + std::fabs(static_cast<double>(b[i])));
    if (!(d <= m)) m = d;  // (not fmax: keeps NaN, and avoids an aarch64 GCC 12 vectoriser crash)
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    g_quick = g_quick || std::strcmp(argv[i], "--quick") == 0;
    verbose = verbose || std::strcmp(argv[i], "--digests") == 0;  // one digest per output and path
  }
  test_philox_known_answers();
  // The paths up to what the CPU supports and HYPERNOISE_ISA allows.
  Isa isas[4];
  int count = cpu::supported_isas(isas);
  cpu::set_isa_override(-1);
  for (int i = 0; i < count; ++i) {
    if (isas[i] == cpu::active_isa()) count = i + 1;
  }
  std::vector<Outputs> runs;
  for (int i = 0; i < count; ++i) {
    cpu::set_isa_override(static_cast<int>(isas[i]));
    check_noise_against_reference(cpu::isa_name(isas[i]));
    runs.push_back(workload());
  }
  cpu::set_isa_override(-1);

  const Outputs& scalar = runs[0];  // supported_isas starts with the scalar path
  int vector_ref = -1;              // the first vector path: the others must equal it
  for (int i = 1; i < count; ++i) {
    const Outputs& o = runs[static_cast<size_t>(i)];
    const char* name = cpu::isa_name(isas[i]);
    for (size_t k = 0; k < o.values.size(); ++k) {
      const double rel = max_rel(o.values[k], scalar.values[k]);
      // The activations and the noise have no multiply-add to fuse: identical on every path.
      const bool exact_everywhere = o.names[k].rfind("activation", 0) == 0 || o.names[k] == "noise";
      if (exact_everywhere) {
        EXPECT(bit_differences(o.values[k], scalar.values[k]) == 0, "%s vs scalar, %s: not bit-identical", name,
               o.names[k].c_str());
      } else {
        EXPECT(rel < 2e-4, "%s vs scalar, %s: relative difference %.3g", name, o.names[k].c_str(), rel);
      }
      if (vector_ref >= 0) {
        const int64_t bad = bit_differences(o.values[k], runs[static_cast<size_t>(vector_ref)].values[k]);
        EXPECT(bad == 0, "%s vs %s, %s: %lld of %zu values differ", name, cpu::isa_name(isas[vector_ref]),
               o.names[k].c_str(), static_cast<long long>(bad), o.values[k].size());
      }
    }
    if (vector_ref < 0) vector_ref = i;
  }
  std::printf("hn_isa_test: paths");
  for (int i = 0; i < count; ++i) std::printf(" %s", cpu::isa_name(isas[i]));
  std::printf("; %zu outputs each%s\n", runs[0].values.size(), g_quick ? " (quick)" : "");
  for (int i = 0; i < count; ++i) {
    const Outputs& o = runs[static_cast<size_t>(i)];
    std::printf("digest %-7s %016" PRIx64 "\n", cpu::isa_name(isas[i]), digest(o, 0, o.values.size()));
    for (size_t k = 0; verbose && k < o.values.size(); ++k) {
      std::printf("  %-7s %016" PRIx64 "  %s\n", cpu::isa_name(isas[i]), digest(o, k, k + 1), o.names[k].c_str());
    }
  }
  std::printf("%d checks, %d failures\n%s\n", g_checks, g_failures, g_failures == 0 ? "PASS" : "FAIL");
  return g_failures == 0 ? 0 : 1;
}
