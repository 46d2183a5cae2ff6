import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Hypernetwork, readSafetensors, SequentialModel } from '../src';
import { lcg, randn } from './reference';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-io-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('saving and loading', () => {
  test('a hypernetwork round-trips through .safetensors with PyTorch-style names', async () => {
    const hn = new Hypernetwork({ noiseDim: 9, condDim: 3, rank: 5, depth: 3, activation: 'gelu', scale: 0.5, backend: 'cpu' });
    hn.setParams(randn(lcg(1), hn.paramCount));
    const file = path.join(tmp, 'hn.safetensors');
    await hn.save(file);
    const st = await readSafetensors(file);
    expect([...st.tensors.keys()].sort()).toEqual(['A', 'B', 'U', 'W2', 'W3', 'b1', 'b2', 'b3', 'bo'].sort());
    expect(st.tensors.get('A')?.shape).toEqual([5, 9]);
    expect(st.tensors.get('B')?.shape).toEqual([9, 5]);
    expect(JSON.parse(st.metadata.hypernoise)).toMatchObject({ format: 'hypernetwork', noiseDim: 9, condDim: 3, rank: 5, depth: 3, activation: 'gelu', scale: 0.5 });
    const back = await Hypernetwork.load(file);
    expect(Array.from(back.getParams())).toEqual(Array.from(hn.getParams()));
    const eps = randn(lcg(2), 18);
    const cond = randn(lcg(3), 6);
    expect(Array.from(back.forwardSync(eps, cond))).toEqual(Array.from(hn.forwardSync(eps, cond)));
    // files are written atomically: no temporary files are left behind
    expect(fs.readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('a sequential model round-trips with nn.Sequential state_dict names', async () => {
    const m = SequentialModel.fromLayers([{ type: 'linear', in: 4, out: 3 }, { type: 'relu' }, { type: 'linear', in: 3, out: 2 }], { seed: 4 });
    const file = path.join(tmp, 'm.safetensors');
    await m.save(file);
    const st = await readSafetensors(file);
    expect([...st.tensors.keys()]).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    expect(st.tensors.get('0.weight')?.shape).toEqual([3, 4]);
    const back = await SequentialModel.load(file);
    expect(back.layers).toEqual(m.layers);
    const x = randn(lcg(5), 8);
    expect(Array.from(back.forwardSync(x))).toEqual(Array.from(m.forwardSync(x)));
  });

  test('prefix() shares the first layers (a classifier feature extractor)', () => {
    const m = SequentialModel.fromLayers([{ type: 'linear', in: 4, out: 3 }, { type: 'relu' }, { type: 'linear', in: 3, out: 2 }], { seed: 4 });
    const f = m.prefix(2);
    const x = randn(lcg(6), 4);
    const { weight, bias } = m.layerParams(0);
    const h = [0, 1, 2].map((o) => Math.max(0, bias[o] + [0, 1, 2, 3].reduce((s, j) => s + weight[o * 4 + j] * x[j], 0)));
    const got = f.forwardSync(x);
    h.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 6));
  });
});

describe('loaders read regular files only, with a bound', () => {
  test('/dev/zero, a directory and a FIFO are ERR_FILE at once, not an endless read or a hang', async () => {
    const { Hypernetwork, SequentialModel, readIdx } = await import('../src');
    const os = await import('os');
    const fsm = await import('fs');
    const pathm = await import('path');
    const { execFileSync } = await import('child_process');
    const dir = fsm.mkdtempSync(pathm.join(os.tmpdir(), 'hn-fifo-'));
    try {
      const fifo = pathm.join(dir, 'pipe');
      execFileSync('mkfifo', [fifo]);
      const t0 = Date.now();
      for (const f of ['/dev/zero', dir, fifo]) {
        await expect(Hypernetwork.load(f)).rejects.toMatchObject({ code: 'ERR_FILE' });
        await expect(SequentialModel.load(f)).rejects.toMatchObject({ code: 'ERR_FILE' });
        await expect(readIdx(f)).rejects.toMatchObject({ code: 'ERR_FILE' });
      }
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      fsm.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('hypernetwork metadata keys are required', () => {
  test.each(['noiseDim', 'condDim', 'rank', 'depth', 'activation', 'scale'])('a file without %s is ERR_FILE naming it', async (key) => {
    const { writeSafetensors } = await import('../src');
    const hn = new Hypernetwork({ noiseDim: 6, condDim: 2, rank: 3, backend: 'cpu' });
    const file = path.join(tmp, `no-${key}.safetensors`);
    await hn.save(file);
    const st = await readSafetensors(file);
    const meta = JSON.parse(st.metadata.hypernoise);
    delete meta[key];
    const tensors = Object.fromEntries([...st.tensors.entries()].map(([k, t]) => [k, { shape: t.shape, data: t.data as Float32Array }]));
    await writeSafetensors(file, tensors, { hypernoise: JSON.stringify(meta) });
    await expect(Hypernetwork.load(file)).rejects.toMatchObject({ code: 'ERR_FILE', message: expect.stringContaining(`'${key}'`) });
  });
});

(fs.existsSync('/proc/self') ? test : test.skip)('saving where a directory cannot be created (under /proc) is ERR_FILE, not a hang in mkdir -p', async () => {
  const h = new Hypernetwork({ noiseDim: 4, rank: 2, backend: 'cpu' });
  const err = await h.save('/proc/no-such-dir/hn.safetensors').then(() => null, (e: unknown) => e);
  expect(err).toMatchObject({ code: 'ERR_FILE' });
  expect((err as Error).message).toContain('cannot create the directory /proc/no-such-dir');
  h.dispose();
}, 10000);
