import * as path from 'path';
import { Worker } from 'worker_threads';
import { Hypernetwork, rewards, SequentialModel, Trainer } from '../src';

function runWorker(seed: number): Promise<{ first: number; last: number; params: number[]; error?: string }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(path.join(__dirname, 'fixtures', 'worker.js'), { workerData: { seed } });
    w.once('message', (m) => {
      resolve(m);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

describe('worker_threads', () => {
  test('the addon loads and trains in several workers at once, with results identical to the main thread', async () => {
    const results = await Promise.all([runWorker(1), runWorker(2), runWorker(1)]);
    for (const r of results) expect(r.error).toBeUndefined();
    expect(results[0].params).toEqual(results[2].params);
    expect(results[0].params).not.toEqual(results[1].params);
    expect(results[0].last).toBeGreaterThan(results[0].first);
    // the same run on the main thread
    const gen = SequentialModel.fromLayers([{ type: 'linear', in: 8, out: 27 }, { type: 'sigmoid' }], { seed: 1, backend: 'cpu' });
    const hn = new Hypernetwork({ noiseDim: 8, rank: 8, seed: 1, backend: 'cpu' });
    await new Trainer({ hypernetwork: hn, generator: gen, reward: rewards.redness(), kl: 'exact', batchSize: 32, seed: 1 }).train({ steps: 20 });
    expect(Array.from(hn.getParams())).toEqual(results[0].params);
  });
});
