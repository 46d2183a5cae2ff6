import { analyticProblem, runAnalytic, runAnalyticReno } from '../src/analytic';
import { bestOfN, generators, rewards, sampleNoise, SequentialModel, TestTimeOptimizer } from '../src';
import { lcg, randn } from './reference';

describe('the analytic case (linear generator, Gaussian reward): tilted noise is Gaussian in closed form', () => {
  test("kl 'exact' matches the closed-form mean and covariance within 0.05 on 20,000 samples", async () => {
    const r = await runAnalytic({ kl: 'exact', steps: 3000 });
    expect(r.samples).toBe(20000);
    expect(r.meanError).toBeLessThan(0.05);
    expect(r.covError).toBeLessThan(0.05);
  });

  test("kl 'l2' gets the mean but lands visibly off in covariance (Precision^-2 instead of Precision^-1)", async () => {
    const r = await runAnalytic({ kl: 'l2', steps: 3000 });
    expect(r.meanError).toBeLessThan(0.05);
    expect(r.covError).toBeGreaterThan(0.1);
  });

  test('ReNO raises the mean reward over the base noise', async () => {
    const { base, reno } = await runAnalyticReno(analyticProblem());
    expect(reno).toBeGreaterThan(base + 1);
  });
});

describe('ReNO and best-of-N', () => {
  function problem() {
    const gen = SequentialModel.fromLayers([{ type: 'linear', in: 6, out: 20 }, { type: 'tanh' }, { type: 'linear', in: 20, out: 12 }, { type: 'sigmoid' }], { seed: 3, backend: 'cpu' });
    gen.setParams(randn(lcg(2), gen.paramCount, 1));
    const clf = SequentialModel.fromLayers([{ type: 'linear', in: 12, out: 3 }], { seed: 4, backend: 'cpu' });
    clf.setParams(randn(lcg(3), clf.paramCount, 2));
    return { gen, reward: rewards.classifierLogProb(clf, 1) };
  }

  test('the native ReNO loop and the JavaScript one agree, and return the best iterate', async () => {
    const { gen, reward } = problem();
    const opts = { iterations: 12, lr: 0.5, gradClip: 0.5 };
    const nat = await new TestTimeOptimizer({ generator: gen, reward, ...opts }).optimize({ n: 5, seed: 1 });
    const jsGen = generators.fromFunctions({ inputDim: 6, outputDim: 12, forward: (e) => gen.forwardSync(e), vjp: (e, d) => gen.vjpSync(e, d) });
    const jsReward = rewards.fromFunction((x, n) => reward.evaluate(x, 12, null, 0, true));
    const js = await new TestTimeOptimizer({ generator: jsGen, reward: jsReward, ...opts }).optimize({ n: 5, seed: 1 });
    expect(nat.history.length).toBe(12);
    for (let i = 0; i < 12; i++) expect(nat.history[i]).toBeCloseTo(js.history[i], 4);
    for (let i = 0; i < 5; i++) expect(nat.reward[i]).toBeCloseTo(js.reward[i], 4);
    expect(nat.history[11]).toBeGreaterThan(nat.history[0]);
    // the returned reward is that of the returned noise
    const check = await reward.evaluate(await gen.forward(nat.noise), 12, null, 0, false);
    for (let i = 0; i < 5; i++) expect(check.value[i]).toBeCloseTo(nat.reward[i], 5);
    expect(Math.min(...Array.from(nat.reward))).toBeGreaterThanOrEqual(Math.min(...Array.from(check.value)) - 1e-6);
  });

  test('best-of-N keeps the best of its candidates, independently of the batch size', async () => {
    const { gen, reward } = problem();
    const a = await bestOfN({ generator: gen, reward, n: 4, candidates: 10, seed: 5, batchSize: 7 });
    const b = await bestOfN({ generator: gen, reward, n: 4, candidates: 10, seed: 5, batchSize: 1000 });
    expect(Array.from(a.reward)).toEqual(Array.from(b.reward));
    // brute force: candidate j of sample i is stream sample i*N + j
    const eps = sampleNoise({ n: 40, dim: 6, seed: 5, stream: 0x424f });
    const r = await reward.evaluate(await gen.forward(eps), 12, null, 0, false);
    for (let i = 0; i < 4; i++) expect(a.reward[i]).toBeCloseTo(Math.max(...Array.from(r.value.subarray(i * 10, i * 10 + 10))), 6);
  });
});
