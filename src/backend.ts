/** Which backends this build has, which one 'auto' picks here, and why. */
import { native } from './native';

export interface BackendInfo {
  /** the backend 'auto' resolves to on this machine */
  auto: 'cpu' | 'cuda';
  cpu: {
    /** instruction set of every CPU kernel: avx512, avx2, neon or scalar (HYPERNOISE_ISA caps it) */
    isa: string;
    /** the best instruction set this CPU supports */
    detected: string;
    /** worker threads (HYPERNOISE_NUM_THREADS, default: hardware threads) */
    threads: number;
  };
  cuda: {
    /** the addon was built with the CUDA backend */
    compiled: boolean;
    /** a device answered */
    available: boolean;
    /** why CUDA is or is not used */
    reason: string;
    device: string | null;
    runtimeVersion: number | null;
    driverVersion: number | null;
  };
  /**
   * Promise calls keep their arrays' memory alive until they settle, even if a buffer is transferred
   * meanwhile (needs V8's header at build time; false in a build without it, where transferring an array's
   * buffer before its call settles is a use after free)
   */
  bufferPinning: boolean;
  /** environment settings that were not understood and are ignored (also emitted once as process warnings) */
  warnings: string[];
}

export function backendInfo(): BackendInfo {
  const b = native().backendInfo();
  return {
    auto: b.autoBackend,
    cpu: { isa: b.isa, detected: b.detectedIsa, threads: b.threads },
    cuda: {
      compiled: b.cudaCompiled,
      available: b.cudaAvailable,
      reason: b.cudaReason,
      device: b.cudaDevice === '' ? null : b.cudaDevice,
      runtimeVersion: b.cudaCompiled ? b.cudaRuntimeVersion : null,
      driverVersion: b.cudaCompiled ? b.cudaDriverVersion : null,
    },
    bufferPinning: b.bufferPinning,
    warnings: b.warnings,
  };
}
