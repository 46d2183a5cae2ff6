/**
 * Crash safety (DESIGN.md, "File formats": checkpoints are atomic and resume exactly): a child process training with
 * checkpointEvery: 1 is killed with SIGKILL at random moments, ~20 times, resuming each time. Every
 * checkpoint left on disk must load, be the last reported one or the next, and equal byte for byte the
 * uninterrupted run's checkpoint at that step (parameters, optimiser state, step, RNG position). The full
 * run (hundreds of kills) is `node test/crash/harness.js 300`; its figures are in docs/RELIABILITY.md.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { crashTrials } = require('./crash/harness.js');

test('SIGKILL at random moments: every checkpoint on disk loads, is the previous or the next, and resumes exactly', async () => {
  const stats = await crashTrials({ kills: 20, steps: 400, seed: 7 });
  expect(stats.kills).toBe(20);
  expect(stats.checkpointsVerified + stats.noCheckpointYet).toBe(20);
  expect(stats.stepsResumed).toBeGreaterThan(5);
  expect(stats.staleTempMax).toBeLessThanOrEqual(1);
}, 120000);
