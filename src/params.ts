/**
 * @internal What Hypernetwork and SequentialModel share: a native object holding a flat parameter vector,
 * read and written whole, and released by dispose() (or when the object is collected).
 */
import { checkFloat32, newFloat32 } from './checks';

export interface NativeParameterObject {
  getParams(out: Float32Array): void;
  setParams(params: Float32Array): void;
  dispose(): void;
  readonly disposed: boolean;
}

export abstract class NativeParameters<N extends NativeParameterObject> {
  /** @internal the native object (for the other classes of this package) */
  abstract readonly native: N;
  abstract readonly paramCount: number;

  /** A copy of the flat parameter vector. */
  getParams(): Float32Array {
    const out = newFloat32(this.paramCount, 'a copy of the parameters');
    this.native.getParams(out);
    return out;
  }

  /** Replaces the flat parameter vector (paramCount finite values). */
  setParams(params: Float32Array): void {
    checkFloat32(params, 'params', this.paramCount);
    this.native.setParams(params);
  }

  get disposed(): boolean {
    return this.native.disposed;
  }

  /** Releases the native memory now (it is also released when the object is collected). */
  dispose(): void {
    this.native.dispose();
  }
}
