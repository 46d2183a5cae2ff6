// Standalone test of the native core without Node: every public piece of the CPU backend (hypernetwork
// forward / kl / forward_train / backward for all activations, KL kinds and depths 1-3, sequential models,
// rewards, the fused trainer step, the optimiser, ReNO) and the error paths that throw hn::Error, with
// asserts. Built with -DHYPERNOISE_SANITIZE=ON it lets AddressSanitizer and UndefinedBehaviorSanitizer see
// the whole core (see docs/RELIABILITY.md); under valgrind it is the memcheck driver.
//
//   cmake -S . -B build-san -DHYPERNOISE_SANITIZE=ON -DHYPERNOISE_CUDA=OFF -DHYPERNOISE_ADDON=OFF
//   cmake --build build-san --target hn_core_test && build-san/hn_core_test
//
// `hn_core_test --quick` runs a smaller grid (for valgrind, which is ~50x slower).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/errors.h"
#include "core/hypernetwork.h"
#include "core/optimizer.h"
#include "core/reward.h"
#include "core/sequential.h"
#include "core/trainer.h"
#include "core/tto.h"
#include "cpu/block_cache.h"
#include "registry/backends.h"
#include "check.h"

using namespace hn;

namespace {

bool g_quick = false;


// Runs fn and checks that it throws hn::Error with `code`.
void expect_error(ErrorCode code, const char* what, const std::function<void()>& fn) {
  ++g_checks;
  try {
    fn();
  } catch (const Error& e) {
    if (e.code() != code) {
      ++g_failures;
      std::printf("FAIL %s: threw %s (%s), expected %s\n", what, error_code_name(e.code()), e.what(),
                  error_code_name(code));
    }
    return;
  } catch (const std::exception& e) {
    ++g_failures;
    std::printf("FAIL %s: threw a non-hn exception: %s\n", what, e.what());
    return;
  }
  ++g_failures;
  std::printf("FAIL %s: did not throw (expected %s)\n", what, error_code_name(code));
}

std::vector<float> randn(std::mt19937& rng, size_t n, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

bool all_finite(const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) return false;
  }
  return true;
}

bool no_nan(const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(x[i])) return false;
  }
  return true;
}

const Activation kActs[] = {Activation::Identity, Activation::Relu,    Activation::Silu,    Activation::Gelu,
                            Activation::Tanh,     Activation::Sigmoid, Activation::Softplus};
const KlKind kKls[] = {KlKind::L2, KlKind::Exact, KlKind::Chi};

Backend& cpu() { return get_backend(BackendKind::Cpu); }

// ---- hypernetwork ---------------------------------------------------------------------------------

// Sum over the batch of the chosen KL term at eps (forward only), in double.
double kl_sum(Hypernetwork& h, const std::vector<float>& eps, const std::vector<float>& cond, int64_t n, KlKind kl) {
  std::vector<float> stats(static_cast<size_t>(kHypernetStatRows * n));
  h.kl(eps.data(), cond.empty() ? nullptr : cond.data(), n, stats.data());
  const HypernetStats st = hypernet_stats_view(stats.data(), n);
  const float* row = kl == KlKind::L2 ? st.l2 : kl == KlKind::Chi ? st.chi : st.exact;
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += row[i];
  return s;
}

void test_hypernetwork_grid() {
  std::mt19937 rng(1);
  int combos = 0;
  for (Activation act : kActs) {
    for (int depth = 1; depth <= 3; ++depth) {
      for (int64_t C : {int64_t{0}, int64_t{3}}) {
        if (g_quick && (C == 3) != (depth == 2)) continue;
        HypernetDesc d;
        d.noise_dim = 37;
        d.cond_dim = C;
        d.rank = 9;
        d.depth = depth;
        d.activation = act;
        d.scale = 0.7f;
        Hypernetwork h(cpu(), d);
        h.init(11);
        const int64_t n = 11, D = d.noise_dim, P = h.param_count();
        const std::vector<float> eps = randn(rng, static_cast<size_t>(n * D));
        const std::vector<float> cond = C > 0 ? randn(rng, static_cast<size_t>(n * C)) : std::vector<float>();
        const float* cp = C > 0 ? cond.data() : nullptr;

        // The untrained hypernetwork is the identity and its exact KL is 0.
        std::vector<float> out(static_cast<size_t>(n * D));
        h.forward(eps.data(), cp, n, out.data());
        EXPECT(out == eps, "%s depth %d C %lld: an initialised hypernetwork is not the identity", activation_name(act),
               depth, static_cast<long long>(C));
        std::vector<float> stats(static_cast<size_t>(kHypernetStatRows * n));
        h.kl(eps.data(), cp, n, stats.data());
        HypernetStats st = hypernet_stats_view(stats.data(), n);
        for (int64_t i = 0; i < n; ++i) {
          EXPECT(st.exact[i] == 0.0f && st.l2[i] == 0.0f && st.noninvertible[i] == 0.0f, "identity KL not 0");
        }

        // Random parameters: forward, kl, forward_train, backward for every KL kind.
        std::vector<float> params = randn(rng, static_cast<size_t>(P), 0.3f);
        h.set_params(params.data(), P);
        std::vector<float> back(static_cast<size_t>(P));
        h.get_params(back.data(), P);
        EXPECT(back == params, "set_params/get_params round trip");
        h.forward(eps.data(), cp, n, out.data());
        EXPECT(all_finite(out.data(), out.size()), "forward not finite");
        h.kl(eps.data(), cp, n, stats.data());
        st = hypernet_stats_view(stats.data(), n);
        EXPECT(no_nan(stats.data(), stats.size()), "kl statistics contain NaN");
        for (bool exact : {false, true}) {
          std::vector<float> eh(static_cast<size_t>(n * D));
          std::vector<float> tstats(static_cast<size_t>(kHypernetStatRows * n));
          h.forward_train(eps.data(), cp, n, exact ? KlKind::Exact : KlKind::L2, eh.data(), tstats.data());
          EXPECT(eh == out, "forward_train and forward differ (exact %d)", exact);
          if (exact) {
            const HypernetStats ts = hypernet_stats_view(tstats.data(), n);
            for (int64_t i = 0; i < n; ++i) {
              EXPECT(std::fabs(ts.exact[i] - st.exact[i]) <= 1e-5f * (1.0f + std::fabs(st.exact[i])),
                     "forward_train exact KL %g differs from kl() %g", ts.exact[i], st.exact[i]);
            }
          }
          for (KlKind kl : kKls) {
            if (kl == KlKind::Exact && !exact) {
              expect_error(ErrorCode::Argument, "backward exact after a non-exact forward_train",
                           [&] { h.backward(eh.data(), n, kl, 1.0f); });
              continue;
            }
            const std::vector<float> g = randn(rng, static_cast<size_t>(n * D));
            h.backward(g.data(), n, kl, 0.5f, -0.25f);
            std::vector<float> grad(static_cast<size_t>(P));
            h.get_gradient(grad.data(), P);
            EXPECT(all_finite(grad.data(), grad.size()), "%s depth %d: gradient not finite (kl %s)",
                   activation_name(act), depth, kl_name(kl));
          }
        }

        // Finite-difference check of the KL-only gradient (d_eps_hat = 0) for two parameters, in float32
        // with a coarse step: catches a wrong term rather than rounding.
        if (act != Activation::Relu) {
          for (KlKind kl : kKls) {
            std::vector<float> eh(static_cast<size_t>(n * D));
            h.forward_train(eps.data(), cp, n, kl, eh.data(), nullptr);
            const std::vector<float> zero(static_cast<size_t>(n * D), 0.0f);
            h.backward(zero.data(), n, kl, 1.0f);
            std::vector<float> grad(static_cast<size_t>(P));
            h.get_gradient(grad.data(), P);
            for (int64_t idx : {h.layout().A + 1, h.layout().B + 2}) {
              const float h0 = 1e-2f;
              std::vector<float> p = params;
              p[static_cast<size_t>(idx)] = params[static_cast<size_t>(idx)] + h0;
              h.set_params(p.data(), P);
              const double up = kl_sum(h, eps, cond, n, kl);
              p[static_cast<size_t>(idx)] = params[static_cast<size_t>(idx)] - h0;
              h.set_params(p.data(), P);
              const double down = kl_sum(h, eps, cond, n, kl);
              h.set_params(params.data(), P);
              const double fd = (up - down) / (2.0 * h0);
              const double g = grad[static_cast<size_t>(idx)];
              EXPECT(std::fabs(fd - g) <= 3e-2 * (1.0 + std::fabs(fd)), "%s depth %d kl %s: dKL/dp[%lld] %g vs FD %g",
                     activation_name(act), depth, kl_name(kl), static_cast<long long>(idx), g, fd);
            }
          }
        }

        // An empty batch is a no-op; a negative one an error.
        h.forward(nullptr, nullptr, 0, nullptr);
        h.kl(nullptr, nullptr, 0, nullptr);
        expect_error(ErrorCode::Shape, "forward with n < 0", [&] { h.forward(eps.data(), cp, -1, out.data()); });
        expect_error(ErrorCode::Shape, "forward_train with n = 0",
                     [&] { h.forward_train(eps.data(), cp, 0, KlKind::L2, out.data(), nullptr); });
        expect_error(ErrorCode::Argument, "backward with another batch size",
                     [&] { h.backward(eps.data(), n - 1, KlKind::L2, 1.0f); });
        ++combos;
      }
    }
  }
  // One larger shape: several output-projection column chunks (512) and row blocks (64), odd sizes.
  {
    HypernetDesc d;
    d.noise_dim = 1100;
    d.cond_dim = 10;
    d.rank = 33;
    d.depth = 2;
    Hypernetwork h(cpu(), d);
    const int64_t n = 131, D = d.noise_dim, P = h.param_count();
    const std::vector<float> params = randn(rng, static_cast<size_t>(P), 0.05f);
    h.set_params(params.data(), P);
    const std::vector<float> eps = randn(rng, static_cast<size_t>(n * D));
    const std::vector<float> cond = randn(rng, static_cast<size_t>(n * d.cond_dim));
    std::vector<float> eh(static_cast<size_t>(n * D)), stats(static_cast<size_t>(kHypernetStatRows * n));
    h.forward_train(eps.data(), cond.data(), n, KlKind::Exact, eh.data(), stats.data());
    EXPECT(all_finite(eh.data(), eh.size()) && all_finite(stats.data(), stats.size()), "large forward not finite");
    for (KlKind kl : kKls) {
      h.backward(eps.data(), n, kl, 0.1f, 0.5f);
      std::vector<float> grad(static_cast<size_t>(P));
      h.get_gradient(grad.data(), P);
      EXPECT(all_finite(grad.data(), grad.size()), "large backward not finite (kl %s)", kl_name(kl));
    }
    ++combos;
  }
  std::printf("hypernetwork: %d configurations (activation x depth x condition)\n", combos);
}

// The exact KL never returns NaN: degenerate, huge and non-invertible parameters give finite or infinite
// values and a count of non-invertible samples.
void test_exact_kl_degenerate() {
  std::mt19937 rng(2);
  const float scales[] = {0.0f, 1e-30f, 1.0f, 10.0f, 1e4f, 1e18f, 3e38f};
  int tried = 0;
  for (Activation act : kActs) {
    for (int depth = 1; depth <= 3; ++depth) {
      for (float sc : scales) {
        HypernetDesc d;
        d.noise_dim = 6;
        d.rank = 3;
        d.depth = depth;
        d.activation = act;
        d.scale = sc == 0.0f ? 1.0f : -2.0f;
        Hypernetwork h(cpu(), d);
        const int64_t n = 4, P = h.param_count();
        std::vector<float> params = randn(rng, static_cast<size_t>(P), sc);
        h.set_params(params.data(), P);
        const std::vector<float> eps = randn(rng, static_cast<size_t>(n * d.noise_dim), sc > 1e4f ? 1e6f : 1.0f);
        std::vector<float> stats(static_cast<size_t>(kHypernetStatRows * n));
        h.kl(eps.data(), nullptr, n, stats.data());
        const HypernetStats st = hypernet_stats_view(stats.data(), n);
        for (int64_t i = 0; i < n; ++i) {
          EXPECT(!std::isnan(st.exact[i]), "exact KL is NaN (%s depth %d scale %g)", activation_name(act), depth, sc);
          EXPECT(st.noninvertible[i] == 0.0f || st.noninvertible[i] == 1.0f, "nonInvertible not 0/1");
          if (st.noninvertible[i] != 0.0f) EXPECT(st.logdet[i] == 0.0f, "log-det kept for a non-invertible sample");
        }
        // The training path too: forward_train + backward with the exact KL does not crash and reports
        // NaN only through the gradient (which the optimiser then skips).
        std::vector<float> eh(static_cast<size_t>(n * d.noise_dim));
        h.forward_train(eps.data(), nullptr, n, KlKind::Exact, eh.data(), stats.data());
        h.backward(eps.data(), n, KlKind::Exact, 1.0f);
        ++tried;
      }
    }
  }
  // A map that collapses the space: T(eps) = eps + B A eps with B A = -I (identity activation) is singular.
  HypernetDesc d;
  d.noise_dim = 3;
  d.rank = 3;
  d.activation = Activation::Identity;
  Hypernetwork h(cpu(), d);
  std::vector<float> p(static_cast<size_t>(h.param_count()), 0.0f);
  for (int a = 0; a < 3; ++a) {
    p[static_cast<size_t>(h.layout().A + a * 3 + a)] = 1.0f;
    p[static_cast<size_t>(h.layout().B + a * 3 + a)] = -1.0f;  // I + J = 0: singular
  }
  h.set_params(p.data(), h.param_count());
  const std::vector<float> eps = {1, 2, 3, -1, 0.5f, 2};
  std::vector<float> stats(static_cast<size_t>(kHypernetStatRows * 2));
  h.kl(eps.data(), nullptr, 2, stats.data());
  const HypernetStats st = hypernet_stats_view(stats.data(), 2);
  EXPECT(st.noninvertible[0] == 1.0f && st.noninvertible[1] == 1.0f, "a singular map is not counted as non-invertible");
  EXPECT(!std::isnan(st.exact[0]) && !std::isnan(st.exact[1]), "exact KL NaN at a singular map");
  std::printf("exact KL degenerate parameters: %d configurations\n", tried);
}

// ---- sequential models and rewards ----------------------------------------------------------------

void test_sequential() {
  std::mt19937 rng(3);
  for (Activation act : kActs) {
    std::vector<LayerSpec> layers(4);
    layers[0].linear = true;
    layers[0].in = 5;
    layers[0].out = 9;
    layers[1].activation = act;
    layers[2].linear = true;
    layers[2].in = 9;
    layers[2].out = 6;
    layers[3].activation = Activation::Sigmoid;
    SequentialModel m(cpu(), layers);
    m.init(4);
    EXPECT(m.input_dim() == 5 && m.output_dim() == 6, "sequential dims");
    const int64_t n = 3, P = m.param_count();
    const std::vector<float> x = randn(rng, static_cast<size_t>(n * 5));
    const std::vector<float> dy = randn(rng, static_cast<size_t>(n * 6));
    std::vector<float> y(static_cast<size_t>(n * 6)), dx(static_cast<size_t>(n * 5)), dx2(dx.size()),
        grad(static_cast<size_t>(P));
    m.forward(x.data(), n, y.data());
    m.vjp(x.data(), dy.data(), n, dx.data());
    m.gradients(x.data(), dy.data(), n, dx2.data(), grad.data());
    EXPECT(all_finite(y.data(), y.size()) && all_finite(grad.data(), grad.size()), "sequential not finite");
    EXPECT(dx == dx2, "vjp and gradients() disagree on dx");
    // Finite differences of <dy, model(x)> w.r.t. x[1].
    if (act != Activation::Relu) {
      std::vector<float> xp = x, ya(y.size()), yb(y.size());
      const float h0 = 1e-2f;
      xp[1] = x[1] + h0;
      m.forward(xp.data(), n, ya.data());
      xp[1] = x[1] - h0;
      m.forward(xp.data(), n, yb.data());
      double fd = 0.0;
      for (size_t i = 0; i < y.size(); ++i) fd += dy[i] * (static_cast<double>(ya[i]) - yb[i]) / (2.0 * h0);
      EXPECT(std::fabs(fd - dx[1]) <= 2e-2 * (1.0 + std::fabs(fd)), "%s: vjp %g vs FD %g", activation_name(act), dx[1], fd);
    }
    m.forward(nullptr, 0, nullptr);
    m.vjp(nullptr, nullptr, 0, nullptr);
    expect_error(ErrorCode::Shape, "gradients with n = 0", [&] { m.gradients(x.data(), dy.data(), 0, nullptr, grad.data()); });
    expect_error(ErrorCode::Shape, "set_params wrong count", [&] { m.set_params(grad.data(), P - 1); });
  }
  // Error paths of the layer list.
  std::vector<LayerSpec> bad(2);
  bad[0].linear = true;
  bad[0].in = 2;
  bad[0].out = 3;
  bad[1].linear = true;
  bad[1].in = 4;
  bad[1].out = 1;
  expect_error(ErrorCode::Argument, "layers that do not chain", [&] { SequentialModel m(cpu(), bad); });
  expect_error(ErrorCode::Argument, "no layers", [&] { SequentialModel m(cpu(), {}); });
  std::vector<LayerSpec> act_first(1);
  act_first[0].activation = Activation::Relu;
  expect_error(ErrorCode::Argument, "an activation first", [&] { SequentialModel m(cpu(), act_first); });
  // A parameter count that overflows int64 (15 layers of 2^30 x 2^30 and one more) must be refused,
  // not wrapped to a small allocation that init() then overruns.
  std::vector<LayerSpec> huge;
  for (int i = 0; i < 16; ++i) {
    LayerSpec l;
    l.linear = true;
    l.in = int64_t{1} << 30;
    l.out = i == 15 ? 1073741809 : int64_t{1} << 30;
    huge.push_back(l);
  }
  expect_error(ErrorCode::Argument, "a parameter count that overflows", [&] { SequentialModel m(cpu(), huge); });
}

std::shared_ptr<SequentialModel> make_model(std::vector<std::pair<int64_t, int64_t>> linears, Activation act,
                                            uint64_t seed) {
  std::vector<LayerSpec> layers;
  for (size_t i = 0; i < linears.size(); ++i) {
    LayerSpec l;
    l.linear = true;
    l.in = linears[i].first;
    l.out = linears[i].second;
    layers.push_back(l);
    LayerSpec a;
    a.activation = i + 1 == linears.size() ? Activation::Sigmoid : act;
    layers.push_back(a);
  }
  auto m = std::make_shared<SequentialModel>(cpu(), layers);
  m->init(seed);
  return m;
}

void test_rewards() {
  std::mt19937 rng(4);
  auto clf = make_model({{12, 8}, {8, 4}}, Activation::Relu, 5);
  const int64_t n = 6, p = 12, C = 5;
  const std::vector<float> x = randn(rng, static_cast<size_t>(n * p));
  std::vector<float> cond(static_cast<size_t>(n * C), 0.0f);
  for (int64_t i = 0; i < n; ++i) cond[static_cast<size_t>(i * C + 1 + i % 4)] = 1.0f;
  const std::vector<int32_t> classes = {0, 1, 2, 3, 0, 1};
  for (int variant = 0; variant < 4; ++variant) {
    std::vector<RewardTerm> terms(2);
    terms[0].kind = RewardTerm::Kind::Redness;
    terms[0].weight = 0.5f;
    terms[1].kind = variant == 3 ? RewardTerm::Kind::Brightness : RewardTerm::Kind::ClassifierLogProb;
    terms[1].model = variant == 3 ? nullptr : clf;
    terms[1].fixed_class = variant == 0 ? 2 : -1;
    terms[1].class_offset = 1;
    Reward r(terms);
    std::vector<float> value(static_cast<size_t>(n)), grad(static_cast<size_t>(n * p));
    const int32_t* k = variant == 2 ? classes.data() : nullptr;
    r.check(p, C, k != nullptr);
    r.evaluate(cpu(), x.data(), n, p, cond.data(), C, k, value.data(), grad.data());
    EXPECT(all_finite(value.data(), value.size()) && all_finite(grad.data(), grad.size()), "reward not finite");
    r.evaluate(cpu(), x.data(), n, p, cond.data(), C, k, value.data(), nullptr);
    r.evaluate(cpu(), x.data(), 0, p, cond.data(), C, k, value.data(), nullptr);
  }
  std::vector<RewardTerm> one(1);
  one[0].kind = RewardTerm::Kind::ClassifierLogProb;
  one[0].model = clf;
  Reward r(one);
  EXPECT(r.needs_classes(), "needs_classes");
  expect_error(ErrorCode::Shape, "classifier of the wrong width", [&] { r.check(11, 4, false); });
  expect_error(ErrorCode::Shape, "condition too narrow for the classes", [&] { r.check(12, 3, false); });
  const std::vector<int32_t> bad = {0, 4};
  expect_error(ErrorCode::Argument, "class out of range", [&] { r.check_classes(bad.data(), 2); });
  const std::vector<int32_t> neg = {-1};
  expect_error(ErrorCode::Argument, "negative class", [&] { r.check_classes(neg.data(), 1); });
  std::vector<RewardTerm> red(1);
  red[0].kind = RewardTerm::Kind::Redness;
  expect_error(ErrorCode::Shape, "redness of a non-RGB output", [&] { Reward(red).check(10, 0, false); });
  expect_error(ErrorCode::Argument, "no terms", [&] { Reward(std::vector<RewardTerm>{}); });
  std::vector<RewardTerm> nan(1);
  nan[0].weight = NAN;
  expect_error(ErrorCode::Argument, "NaN weight", [&] { Reward{nan}; });
  std::vector<RewardTerm> nomodel(1);
  nomodel[0].kind = RewardTerm::Kind::ClassifierLogProb;
  expect_error(ErrorCode::Argument, "classifier without a model", [&] { Reward{nomodel}; });
}

// ---- optimiser ------------------------------------------------------------------------------------

void test_optimizer() {
  std::mt19937 rng(6);
  const int64_t count = 37;
  for (int kind = 0; kind < 3; ++kind) {
    for (int variant = 0; variant < 3; ++variant) {
      OptimizerConfig c;
      c.rule.kind = static_cast<OptimizerKind>(kind);
      c.lr = 0.05f;
      c.rule.momentum = kind == 2 ? 0.9f : 0.0f;
      c.rule.nesterov = variant == 1;
      c.grad_clip = variant == 2 ? 0.5f : 0.0f;
      c.warmup_steps = variant;
      c.decay_steps = variant == 2 ? 10 : 0;
      c.rule.weight_decay = kind == 1 ? 0.01f : 0.0f;
      Optimizer opt(cpu(), c, count);
      std::vector<float> params = randn(rng, static_cast<size_t>(count));
      // Minimise 0.5 ||p||^2: the gradient is p.
      double before = 0.0;
      for (float v : params) before += v * v;
      for (int s = 0; s < 40; ++s) {
        const std::vector<float> g = params;
        const OptimizerStepResult r = opt.step(params.data(), g.data());
        EXPECT(!r.skipped && std::isfinite(r.grad_norm), "a finite gradient was skipped");
      }
      double after = 0.0;
      for (float v : params) after += v * v;
      EXPECT(after < before, "optimiser %d/%d does not descend: %g -> %g", kind, variant, before, after);
      // A non-finite gradient is skipped and counted; nothing changes.
      std::vector<float> g(static_cast<size_t>(count), 1.0f);
      g[3] = NAN;
      const std::vector<float> keep = params;
      const OptimizerStepResult r = opt.step(params.data(), g.data());
      EXPECT(r.skipped && opt.skipped() == 1 && params == keep, "a NaN gradient was applied");
      g[3] = INFINITY;
      EXPECT(opt.step(params.data(), g.data()).skipped, "an Inf gradient was applied");
      opt.record_skip();
      EXPECT(opt.steps() == 43 && opt.applied() == 40 && opt.skipped() == 3, "optimiser counters");
      // State round trip.
      std::vector<float> m(static_cast<size_t>(count)), v(static_cast<size_t>(count));
      opt.get_state(m.data(), v.data());
      Optimizer other(cpu(), c, count);
      other.set_state(m.data(), v.data(), opt.steps(), opt.applied(), opt.skipped());
      std::vector<float> p1 = params, p2 = params;
      const std::vector<float> gg = randn(rng, static_cast<size_t>(count));
      opt.step(p1.data(), gg.data());
      other.step(p2.data(), gg.data());
      EXPECT(p1 == p2, "a restored optimiser does not continue exactly");
      expect_error(ErrorCode::Argument, "inconsistent counters",
                   [&] { other.set_state(m.data(), v.data(), 1, 1, 1); });
    }
  }
  OptimizerConfig bad;
  bad.lr = -1.0f;
  expect_error(ErrorCode::Argument, "negative lr", [&] { validate_optimizer_config(bad); });
  bad = OptimizerConfig();
  bad.rule.beta1 = 1.0f;
  expect_error(ErrorCode::Argument, "beta1 = 1", [&] { validate_optimizer_config(bad); });
  bad = OptimizerConfig();
  bad.rule.eps = 0.0f;
  expect_error(ErrorCode::Argument, "eps = 0", [&] { validate_optimizer_config(bad); });
  bad = OptimizerConfig();
  bad.rule.momentum = 1.0f;
  expect_error(ErrorCode::Argument, "momentum = 1", [&] { validate_optimizer_config(bad); });
  bad = OptimizerConfig();
  bad.grad_clip = NAN;
  expect_error(ErrorCode::Argument, "NaN clip", [&] { Optimizer o(cpu(), bad, 3); });
}

// ---- trainer --------------------------------------------------------------------------------------

TrainerConfig trainer_config(KlKind kl, NoiseMode noise, int64_t batch) {
  TrainerConfig c;
  c.kl = kl;
  c.lambda = 0.5f;
  c.alpha = 0.8f;
  c.batch = batch;
  c.noise = noise;
  c.seed = 9;
  c.optimizer.lr = 0.01f;
  c.optimizer.grad_clip = 1.0f;
  c.optimizer.warmup_steps = 2;
  return c;
}

void test_trainer() {
  const int64_t D = 6, P = 12, C = 3, batch = 8;
  auto gen = make_model({{D, 16}, {16, P}}, Activation::Tanh, 1);
  auto clf = make_model({{P, 8}, {8, C}}, Activation::Relu, 2);
  std::vector<RewardTerm> terms(2);
  terms[0].kind = RewardTerm::Kind::ClassifierLogProb;
  terms[0].model = clf;
  terms[1].kind = RewardTerm::Kind::Brightness;
  terms[1].weight = 0.5f;
  auto reward = std::make_shared<Reward>(terms);
  std::vector<float> cond(static_cast<size_t>(batch * C), 0.0f);
  for (int64_t i = 0; i < batch; ++i) cond[static_cast<size_t>(i * C + i % C)] = 1.0f;
  int runs = 0;
  for (KlKind kl : kKls) {
    for (int depth = 1; depth <= 3; ++depth) {
      for (NoiseMode noise : {NoiseMode::Inf, NoiseMode::Batch, NoiseMode::One}) {
        if (g_quick && noise != NoiseMode::Inf) continue;
        HypernetDesc d;
        d.noise_dim = D;
        d.cond_dim = C;
        d.rank = 4;
        d.depth = depth;
        auto h = std::make_shared<Hypernetwork>(cpu(), d);
        h->init(3);
        Trainer t(h, gen, reward, trainer_config(kl, noise, batch));
        EXPECT(t.fused(), "trainer not fused");
        for (int s = 0; s < 4; ++s) {
          const TrainStepStats st = t.step(s, cond.data(), nullptr);
          EXPECT(std::isfinite(st.loss) && !st.skipped, "training step %d not finite (kl %s depth %d)", s, kl_name(kl),
                 depth);
        }
        std::vector<float> e0(static_cast<size_t>(batch * D)), e1(e0.size());
        t.noise(0, e0.data());
        t.noise(1, e1.data());
        EXPECT((e0 == e1) == (noise != NoiseMode::Inf), "noise mode");
        ++runs;
      }
    }
  }

  // Resuming from the optimiser state and step count continues bit for bit.
  HypernetDesc d;
  d.noise_dim = D;
  d.cond_dim = C;
  d.rank = 4;
  d.depth = 2;
  auto straight = std::make_shared<Hypernetwork>(cpu(), d);
  straight->init(3);
  Trainer ts(straight, gen, reward, trainer_config(KlKind::Exact, NoiseMode::Inf, batch));
  for (int s = 0; s < 6; ++s) ts.step(s, cond.data(), nullptr);
  auto first = std::make_shared<Hypernetwork>(cpu(), d);
  first->init(3);
  Trainer tf(first, gen, reward, trainer_config(KlKind::Exact, NoiseMode::Inf, batch));
  for (int s = 0; s < 3; ++s) tf.step(s, cond.data(), nullptr);
  const int64_t np = first->param_count();
  std::vector<float> params(static_cast<size_t>(np)), m(static_cast<size_t>(np)), v(static_cast<size_t>(np));
  first->get_params(params.data(), np);
  tf.optimizer().get_state(m.data(), v.data());
  auto resumed = std::make_shared<Hypernetwork>(cpu(), d);
  resumed->set_params(params.data(), np);
  Trainer tr(resumed, gen, reward, trainer_config(KlKind::Exact, NoiseMode::Inf, batch));
  tr.optimizer().set_state(m.data(), v.data(), tf.optimizer().steps(), tf.optimizer().applied(),
                           tf.optimizer().skipped());
  for (int s = 3; s < 6; ++s) tr.step(s, cond.data(), nullptr);
  std::vector<float> a(static_cast<size_t>(np)), b(static_cast<size_t>(np));
  straight->get_params(a.data(), np);
  resumed->get_params(b.data(), np);
  EXPECT(a == b, "a resumed run differs from the uninterrupted one");

  // The decomposed path: forward_train + backward + apply_gradient, and record_skip.
  Trainer td(resumed, nullptr, nullptr, trainer_config(KlKind::L2, NoiseMode::Inf, batch));
  EXPECT(!td.fused(), "a trainer without generator is fused");
  expect_error(ErrorCode::Internal, "step() without a generator", [&] { td.step(0, cond.data(), nullptr); });
  std::vector<float> eps(static_cast<size_t>(batch * D)), eh(eps.size());
  td.noise(0, eps.data());
  resumed->forward_train(eps.data(), cond.data(), batch, KlKind::L2, eh.data(), nullptr);
  resumed->backward(eh.data(), batch, KlKind::L2, 1.0f / batch, 0.1f);
  const OptimizerStepResult r = td.apply_gradient();
  EXPECT(!r.skipped && r.grad_norm > 0.0, "apply_gradient");
  td.optimizer().record_skip();
  EXPECT(td.optimizer().skipped() == 1, "record_skip");

  // Errors: bad configuration, wrong backend or widths, bad step index, bad classes.
  auto h = std::make_shared<Hypernetwork>(cpu(), d);
  TrainerConfig bad = trainer_config(KlKind::L2, NoiseMode::Inf, 0);
  expect_error(ErrorCode::Argument, "batch 0", [&] { Trainer t(h, gen, reward, bad); });
  bad = trainer_config(KlKind::L2, NoiseMode::Inf, 4);
  bad.alpha = 0.0f;
  expect_error(ErrorCode::Argument, "alpha 0", [&] { Trainer t(h, gen, reward, bad); });
  bad = trainer_config(KlKind::L2, NoiseMode::Inf, 4);
  bad.lambda = NAN;
  expect_error(ErrorCode::Argument, "lambda NaN", [&] { Trainer t(h, gen, reward, bad); });
  auto wide = make_model({{D + 1, P}}, Activation::Identity, 1);
  expect_error(ErrorCode::Shape, "generator of another width",
               [&] { Trainer t(h, wide, reward, trainer_config(KlKind::L2, NoiseMode::Inf, 4)); });
  Trainer tk(h, gen, reward, trainer_config(KlKind::L2, NoiseMode::Inf, 2));
  expect_error(ErrorCode::Argument, "negative step", [&] { tk.step(-1, cond.data(), nullptr); });
  expect_error(ErrorCode::Shape, "no condition", [&] { tk.step(0, nullptr, nullptr); });
  const std::vector<int32_t> classes = {0, 7};
  expect_error(ErrorCode::Argument, "class out of range", [&] { tk.step(0, cond.data(), classes.data()); });
  expect_error(ErrorCode::Argument, "negative noise step", [&] { tk.noise(-1, eps.data()); });
  std::printf("trainer: %d configurations (kl x depth x noise mode) + resume, decomposed path, errors\n", runs);
}

// ---- ReNO -----------------------------------------------------------------------------------------

void test_reno() {
  std::mt19937 rng(7);
  auto gen = make_model({{5, 9}}, Activation::Identity, 3);
  std::vector<RewardTerm> terms(1);
  terms[0].kind = RewardTerm::Kind::Redness;
  auto reward = std::make_shared<Reward>(terms);
  const int64_t n = 4;
  const std::vector<float> eps = randn(rng, static_cast<size_t>(n * 5));
  for (bool nesterov : {false, true}) {
    RenoConfig c;
    c.iterations = 7;
    c.nesterov = nesterov;
    c.lr = 0.5f;
    RenoRun run(gen, reward, c, eps.data(), n, nullptr, 0, nullptr);
    int remaining = run.iterate(3);
    EXPECT(remaining == 4 && run.done() == 3, "iterate slices");
    remaining = run.iterate(100);
    EXPECT(remaining == 0 && run.done() == 7 && run.history().size() == 7, "iterate to the end");
    EXPECT(run.iterate(5) == 0, "iterate past the end");
    std::vector<float> be(static_cast<size_t>(n * 5)), bx(static_cast<size_t>(n * 9)), br(static_cast<size_t>(n));
    run.check_best_shapes(static_cast<int64_t>(be.size()), static_cast<int64_t>(bx.size()));
    run.best(be.data(), bx.data(), br.data());
    EXPECT(all_finite(br.data(), br.size()), "best rewards not finite");
    EXPECT(run.history().back() <= 1.0 && br[0] >= -1.0f, "rewards in range");
    expect_error(ErrorCode::Shape, "best() shapes", [&] { run.check_best_shapes(3, -1); });
  }
  RenoConfig bad;
  bad.iterations = 0;
  expect_error(ErrorCode::Argument, "iterations 0", [&] { validate_reno_config(bad); });
  bad = RenoConfig();
  bad.momentum = 1.0f;
  expect_error(ErrorCode::Argument, "momentum 1", [&] { validate_reno_config(bad); });
  expect_error(ErrorCode::Shape, "n = 0", [&] { RenoRun r(gen, reward, RenoConfig(), eps.data(), 0, nullptr, 0, nullptr); });
}

// ---- construction and allocation errors -----------------------------------------------------------

void test_errors() {
  HypernetDesc d;
  d.noise_dim = 0;
  d.rank = 4;
  expect_error(ErrorCode::Argument, "noiseDim 0", [&] { Hypernetwork h(cpu(), d); });
  d.noise_dim = 4;
  d.rank = 0;
  expect_error(ErrorCode::Argument, "rank 0", [&] { Hypernetwork h(cpu(), d); });
  d.rank = 4;
  d.depth = 65;
  expect_error(ErrorCode::Argument, "depth 65", [&] { Hypernetwork h(cpu(), d); });
  d.depth = 1;
  d.cond_dim = -1;
  expect_error(ErrorCode::Argument, "condDim -1", [&] { Hypernetwork h(cpu(), d); });
  d.cond_dim = 0;
  d.scale = INFINITY;
  expect_error(ErrorCode::Argument, "scale Inf", [&] { Hypernetwork h(cpu(), d); });
  d.scale = 1.0f;
  d.noise_dim = int64_t{1} << 30;
  d.rank = 4096;
  expect_error(ErrorCode::Argument, "an enormous hypernetwork", [&] { Hypernetwork h(cpu(), d); });
  // An allocation the machine cannot satisfy is Error(Memory), not a crash.
  expect_error(ErrorCode::Memory, "a 2^62-byte allocation", [&] { DeviceBuffer b(cpu(), size_t{1} << 62); });
  expect_error(ErrorCode::Memory, "a 2^50-byte allocation", [&] { DeviceBuffer b(cpu(), size_t{1} << 50); });
  expect_error(ErrorCode::Argument, "parse_kl", [&] { parse_kl("kl"); });
  expect_error(ErrorCode::Argument, "parse_activation", [&] { parse_activation("swish"); });
#if !defined(HN_WITH_CUDA)
  expect_error(ErrorCode::CudaUnavailable, "the CUDA backend in a CPU-only build",
               [&] { get_backend(BackendKind::Cuda); });
#endif
  HypernetDesc ok;
  ok.noise_dim = 3;
  ok.rank = 2;
  Hypernetwork h(cpu(), ok);
  std::vector<float> p(static_cast<size_t>(h.param_count() + 1));
  expect_error(ErrorCode::Shape, "set_params wrong count", [&] { h.set_params(p.data(), h.param_count() + 1); });
  expect_error(ErrorCode::Shape, "get_params wrong count", [&] { h.get_params(p.data(), 1); });
  expect_error(ErrorCode::Argument, "backward before forward_train", [&] { h.backward(p.data(), 1, KlKind::L2, 1.0f); });
}

// The host block cache: a freed block of the same size (or at most 1/8 larger) comes back, nothing is
// held beyond the budget, small blocks bypass it, trim empties it.
void test_block_cache() {
  cpu::BlockCache cache(size_t{1} << 20);  // 1 MiB: blocks up to 512 KiB are cached
  const size_t big = size_t{256} << 10;
  void* a = cache.allocate(big);
  EXPECT(a != nullptr && reinterpret_cast<uintptr_t>(a) % 64 == 0, "block cache: aligned block");
  std::memset(a, 1, big);
  cache.release(a);
  EXPECT(cache.cached_bytes() == big, "block cache: the freed block is kept (%zu)", cache.cached_bytes());
  void* b = cache.allocate(big - 4096);
  EXPECT(b == a, "block cache: a slightly smaller request reuses the block");
  EXPECT(cache.cached_bytes() == 0, "block cache: a reused block leaves the cache");
  void* c = cache.allocate(big / 2);
  EXPECT(c != a, "block cache: a request far smaller than a live block gets its own");
  cache.release(b);
  void* d = cache.allocate(big / 2);
  EXPECT(d != a, "block cache: a block more than 1/8 larger than asked is not reused");
  cache.release(c);
  cache.release(d);
  EXPECT(cache.cached_bytes() == big + big, "block cache: three blocks held (%zu)", cache.cached_bytes());
  void* e = cache.allocate(size_t{512} << 10);
  cache.release(e);
  EXPECT(cache.cached_bytes() <= cache.budget(), "block cache: held %zu over the budget %zu", cache.cached_bytes(),
         cache.budget());
  void* huge = cache.allocate(size_t{2} << 20);
  cache.release(huge);
  EXPECT(cache.cached_bytes() <= cache.budget(), "block cache: a block over half the budget is freed, not held");
  void* small = cache.allocate(4096);
  cache.release(small);
  const size_t before = cache.cached_bytes();
  EXPECT(before > 0, "block cache: something is held before trim");
  cache.trim();
  EXPECT(cache.cached_bytes() == 0, "block cache: trim frees every unused block");
  cpu::BlockCache off(0);
  void* f = off.allocate(big);
  off.release(f);
  EXPECT(off.cached_bytes() == 0, "block cache: budget 0 holds nothing");
}

}  // namespace

// Under AddressSanitizer a failed huge allocation must return null (and become Error(Memory)) rather than
// abort the run: the test asks for 2^50 and 2^62 bytes on purpose.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) g_quick = true;
  }
  const BackendInfo info = backend_info();
  std::printf("hn_core_test: CPU backend, %s, %d threads%s\n", info.isa.c_str(), info.threads, g_quick ? " (quick)" : "");
  test_errors();
  test_block_cache();
  test_hypernetwork_grid();
  test_exact_kl_degenerate();
  test_sequential();
  test_rewards();
  test_optimizer();
  test_trainer();
  test_reno();
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  std::printf(g_failures == 0 ? "PASS\n" : "FAIL\n");
  return g_failures == 0 ? 0 : 1;
}
