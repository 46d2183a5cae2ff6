import { sampleNoise } from '../src';

// An independent float64 JavaScript implementation of the documented noise: Philox4x32-10 keyed by the
// seed, counter (element / 4, sample lo, sample hi, stream), and the Box–Muller transform written with
// correctly rounded operations only (JS numbers are IEEE doubles), so it must agree bit for bit.

function mulhilo(a: number, b: number): [number, number] {
  const p = BigInt(a) * BigInt(b);
  return [Number(p & 0xffffffffn), Number(p >> 32n)];
}

function philox(ctr: number[], k0: number, k1: number): number[] {
  let c = ctr.slice();
  for (let round = 0; round < 10; round++) {
    const [lo0, hi0] = mulhilo(0xd2511f53, c[0]);
    const [lo1, hi1] = mulhilo(0xcd9e8d57, c[2]);
    c = [(hi1 ^ c[1] ^ k0) >>> 0, lo1, (hi0 ^ c[3] ^ k1) >>> 0, lo0];
    k0 = (k0 + 0x9e3779b9) >>> 0;
    k1 = (k1 + 0xbb67ae85) >>> 0;
  }
  return c;
}

function logRef(x: number): number {
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  const hi = buf.getUint32(0);
  let e = ((hi >>> 20) & 0x7ff) - 1023;
  buf.setUint32(0, (hi & 0x000fffff) | 0x3ff00000);
  let m = buf.getFloat64(0);
  if (m >= 1.4142135623730951) {
    m *= 0.5;
    e += 1;
  }
  const s = (m - 1) / (m + 1);
  const s2 = s * s;
  let poly = 1 / 23;
  for (const d of [21, 19, 17, 15, 13, 11, 9, 7, 5, 3]) poly = poly * s2 + 1 / d;
  poly = poly * s2 + 1;
  return e * 0.6931471805599453 + 2 * s * poly;
}

function sincosRef(u: number): [number, number] {
  const t = u * 4;
  const q = Math.trunc(t);
  const x = (t - q) * 1.5707963267948966;
  const x2 = x * x;
  let sp = -1 / 51090942171709440000;
  for (const f of [121645100408832000, -355687428096000, 1307674368000, -6227020800, 39916800, -362880, 5040, -120, 6]) sp = sp * x2 + 1 / f;
  const sinx = x - x * x2 * sp;
  let cp = 1 / 2432902008176640000;
  for (const f of [-6402373705728000, 20922789888000, -87178291200, 479001600, -3628800, 40320, -720, 24, -2]) cp = cp * x2 + 1 / f;
  const cosx = 1 + x2 * cp;
  const odd = (q & 1) !== 0;
  const s0 = odd ? cosx : sinx;
  const c0 = odd ? sinx : cosx;
  return [q & 2 ? -s0 : s0, (q + 1) & 2 ? -c0 : c0];
}

function normalRef(seed: bigint, sample: number, element: number, stream: number): number {
  const r = philox([element >>> 2, sample >>> 0, Math.floor(sample / 2 ** 32), stream], Number(seed & 0xffffffffn), Number(seed >> 32n));
  const pair = (element & 3) >> 1;
  const u1 = (r[2 * pair] + 1) * 2.3283064365386963e-10;
  const u2 = r[2 * pair + 1] * 2.3283064365386963e-10;
  const radius = Math.sqrt(-2 * logRef(u1));
  const [s, c] = sincosRef(u2);
  return Math.fround(element & 1 ? radius * s : radius * c);
}

describe('Philox4x32-10 noise', () => {
  test('the Philox rounds match the Random123 known-answer vectors', () => {
    expect(philox([0, 0, 0, 0], 0, 0)).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    expect(philox([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], 0xffffffff, 0xffffffff)).toEqual([0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
    expect(philox([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], 0xa4093822, 0x299f31d0)).toEqual([0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]);
  });

  test.each([
    [0n, 3, 7, 0],
    [42n, 5, 1001, 0],
    [(1n << 63n) + 12345n, 2, 37, 0x5452],
  ])('native noise equals the float64 reference bit for bit (seed %s, %i x %i, stream %i)', (seed, n, dim, stream) => {
    const got = sampleNoise({ n, dim, seed, stream, offset: 2 ** 33 - 1 });
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < dim; j++) expect(got[i * dim + j]).toBe(normalRef(seed, 2 ** 33 - 1 + i, j, stream));
    }
  });
});
