/**
 * Float64 reference implementations of the hypernetwork, its KL terms (the exact one by a brute-force
 * D x D log-determinant) and sequential models, used by the tests as ground truth.
 */
import { invert } from '../src/linalg';

export type Act = 'identity' | 'relu' | 'silu' | 'gelu' | 'tanh' | 'sigmoid' | 'softplus';

function erf(x: number): number {
  // High-precision erf by series/continued fraction (|error| < 1e-15 over the range used in tests).
  const ax = Math.abs(x);
  if (ax < 3) {
    let sum = ax;
    let term = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction for |x| >= 3
  let f = 0;
  for (let k = 60; k >= 1; k--) f = k / 2 / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}

export function act(a: Act, z: number): number {
  switch (a) {
    case 'identity': return z;
    case 'relu': return z > 0 ? z : 0;
    case 'silu': return z / (1 + Math.exp(-z));
    case 'gelu': return 0.5 * z * (1 + erf(z / Math.SQRT2));
    case 'tanh': return Math.tanh(z);
    case 'sigmoid': return 1 / (1 + Math.exp(-z));
    case 'softplus': return Math.log1p(Math.exp(z));
  }
}

export function dact(a: Act, z: number): number {
  switch (a) {
    case 'identity': return 1;
    case 'relu': return z > 0 ? 1 : 0;
    case 'silu': { const s = 1 / (1 + Math.exp(-z)); return s * (1 + z * (1 - s)); }
    case 'gelu': return 0.5 * (1 + erf(z / Math.SQRT2)) + (z * Math.exp(-0.5 * z * z)) / Math.sqrt(2 * Math.PI);
    case 'tanh': { const t = Math.tanh(z); return 1 - t * t; }
    case 'sigmoid': { const s = 1 / (1 + Math.exp(-z)); return s * (1 - s); }
    case 'softplus': return 1 / (1 + Math.exp(-z));
  }
}

export interface HnShape { D: number; C: number; r: number; L: number; act: Act; s: number }

/** Offsets of the flat parameter vector: A, U, b1, (W_k, b_k)..., B, bo (as the library). */
export function layout(h: HnShape) {
  const { D, C, r, L } = h;
  let at = 0;
  const A = at; at += r * D;
  const U = at; at += r * C;
  const b1 = at; at += r;
  const W: number[] = [];
  const b: number[] = [];
  for (let k = 2; k <= L; k++) { W.push(at); at += r * r; b.push(at); at += r; }
  const B = at; at += D * r;
  const bo = at; at += D;
  return { A, U, b1, W, b, B, bo, total: at };
}

export interface SampleOut { f: Float64Array; epsHat: Float64Array; z: Float64Array[]; J: Float64Array }

/** Forward of one sample, with the full D x D Jacobian J_f (brute force, for the exact KL). */
export function hnSample(h: HnShape, p: ArrayLike<number>, eps: ArrayLike<number>, c: ArrayLike<number>): SampleOut {
  const { D, C, r, L, s } = h;
  const lay = layout(h);
  const zs: Float64Array[] = [];
  // dh/deps as r x D, propagated alongside the activations
  let hPrev = new Float64Array(r);
  let dH = new Float64Array(r * D);
  const z1 = new Float64Array(r);
  for (let i = 0; i < r; i++) {
    let acc = p[lay.b1 + i];
    for (let j = 0; j < D; j++) acc += p[lay.A + i * D + j] * eps[j];
    for (let j = 0; j < C; j++) acc += p[lay.U + i * C + j] * c[j];
    z1[i] = acc;
  }
  zs.push(z1);
  for (let i = 0; i < r; i++) {
    hPrev[i] = act(h.act, z1[i]);
    const d = dact(h.act, z1[i]);
    for (let j = 0; j < D; j++) dH[i * D + j] = d * p[lay.A + i * D + j];
  }
  for (let k = 2; k <= L; k++) {
    const Wo = lay.W[k - 2], bo = lay.b[k - 2];
    const zk = new Float64Array(r);
    const hk = new Float64Array(r);
    const dHk = new Float64Array(r * D);
    for (let i = 0; i < r; i++) {
      let acc = p[bo + i];
      for (let j = 0; j < r; j++) acc += p[Wo + i * r + j] * hPrev[j];
      zk[i] = acc;
      hk[i] = act(h.act, acc);
      const d = dact(h.act, acc);
      for (let m = 0; m < D; m++) {
        let g = 0;
        for (let j = 0; j < r; j++) g += p[Wo + i * r + j] * dH[j * D + m];
        dHk[i * D + m] = d * g;
      }
    }
    zs.push(zk);
    hPrev = hk;
    dH = dHk;
  }
  const f = new Float64Array(D);
  const epsHat = new Float64Array(D);
  const J = new Float64Array(D * D);
  for (let i = 0; i < D; i++) {
    let acc = p[lay.bo + i];
    for (let j = 0; j < r; j++) acc += p[lay.B + i * r + j] * hPrev[j];
    f[i] = s * acc;
    epsHat[i] = eps[i] + f[i];
    for (let m = 0; m < D; m++) {
      let g = 0;
      for (let j = 0; j < r; j++) g += p[lay.B + i * r + j] * dH[j * D + m];
      J[i * D + m] = s * g;
    }
  }
  return { f, epsHat, z: zs, J };
}

export interface KlRef { l2: number; chi: number; exact: number; trace: number; logdet: number; nonInvertible: boolean }

export function klOf(h: HnShape, out: SampleOut): KlRef {
  const D = h.D;
  let l2 = 0, e2 = 0, trace = 0;
  for (let i = 0; i < D; i++) {
    l2 += 0.5 * out.f[i] * out.f[i];
    e2 += out.epsHat[i] * out.epsHat[i];
    trace += out.J[i * D + i];
  }
  const G = out.J.slice();
  for (let i = 0; i < D; i++) G[i * D + i] += 1;
  let logdet = 0;
  let nonInvertible = false;
  try {
    const inv = invert(G, D);
    if (inv.sign > 0) logdet = inv.logAbsDet;
    else nonInvertible = true;
  } catch {
    nonInvertible = true;
  }
  return { l2, chi: 0.5 * e2 - 0.5 * (D - 1) * Math.log(e2), exact: l2 + trace - logdet, trace, logdet, nonInvertible };
}

/** sum_i [w KL_i + <g_i, eps_hat_i>] in float64. */
export function hnLoss(h: HnShape, p: ArrayLike<number>, eps: ArrayLike<number>, cond: ArrayLike<number>, n: number, g: ArrayLike<number>, kl: 'l2' | 'exact' | 'chi', w: number): number {
  let total = 0;
  for (let i = 0; i < n; i++) {
    const e = Array.prototype.slice.call(eps, i * h.D, (i + 1) * h.D) as number[];
    const c = Array.prototype.slice.call(cond, i * h.C, (i + 1) * h.C) as number[];
    const out = hnSample(h, p, e, c);
    const k = klOf(h, out);
    total += w * k[kl];
    for (let j = 0; j < h.D; j++) total += g[i * h.D + j] * out.epsHat[j];
  }
  return total;
}

/** Central finite differences of f at p (float64), for the indices given. */
export function finiteDiff(f: (p: Float64Array) => number, p: Float64Array, indices: number[], step = 1e-5): Float64Array {
  const g = new Float64Array(indices.length);
  indices.forEach((idx, k) => {
    const q = p.slice();
    const h = step * Math.max(1, Math.abs(p[idx]));
    q[idx] = p[idx] + h;
    const up = f(q);
    q[idx] = p[idx] - h;
    const down = f(q);
    g[k] = (up - down) / (2 * h);
  });
  return g;
}

export type RefLayer = { type: 'linear'; in: number; out: number } | { type: Act };

/** Forward of a sequential model in float64 (parameters in layer order, weight then bias). */
export function seqForward(layers: RefLayer[], p: ArrayLike<number>, x: ArrayLike<number>, n: number): Float64Array {
  let width = (layers[0] as { in: number }).in;
  let cur = Float64Array.from(x as ArrayLike<number>);
  let at = 0;
  for (const l of layers) {
    if (l.type === 'linear') {
      const next = new Float64Array(n * l.out);
      for (let i = 0; i < n; i++) {
        for (let o = 0; o < l.out; o++) {
          let acc = p[at + l.in * l.out + o];
          for (let j = 0; j < l.in; j++) acc += p[at + o * l.in + j] * cur[i * l.in + j];
          next[i * l.out + o] = acc;
        }
      }
      at += l.in * l.out + l.out;
      cur = next;
      width = l.out;
    } else {
      const a = l.type;
      cur = cur.map((v) => act(a, v));
    }
  }
  void width;
  return cur;
}

/** Deterministic pseudo-random numbers for test inputs (not the library's Philox). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

export function randn(rand: () => number, n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u1 = 1 - rand();
    const u2 = rand();
    out[i] = scale * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  return out;
}

/** Max |a-b| / max(|b|) over the arrays: a scale-aware relative error. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-30);
}
