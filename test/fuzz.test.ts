/**
 * Replays the kept fuzzing corpus (test/fuzz/corpus/<target>: the seeds, every input the coverage-guided
 * campaign found to reach new code, and every past finding, named finding-*) through the same oracle as the
 * fuzz targets: each input must end in a result or an ERR_FILE HypernoiseError (DESIGN.md, "Errors"). The campaign
 * itself: test/fuzz/README.md.
 */
import * as fs from 'fs';
import * as path from 'path';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const oracle = require('./fuzz/oracle.js');

const root = path.join(__dirname, 'fuzz', 'corpus');
afterAll(() => oracle.cleanup());

describe.each(['safetensors', 'idx', 'checkpoint'])('fuzz corpus: %s', (target) => {
  const files = fs.readdirSync(path.join(root, target)).sort();
  test(`every kept input (${files.length}) ends in a result or ERR_FILE`, async () => {
    expect(files.length).toBeGreaterThan(3);
    const outcomes: Record<string, number> = {};
    for (const f of files) {
      let r: string;
      try {
        r = await oracle[target](fs.readFileSync(path.join(root, target, f)));
      } catch (err) {
        throw new Error(`${target}/${f}: ${(err as Error).message}`);
      }
      outcomes[r] = (outcomes[r] ?? 0) + 1;
    }
    // Both kinds of outcome are represented (the corpus is not all rejects).
    if (target !== 'checkpoint') expect(Object.keys(outcomes).sort()).toEqual(['error', 'ok']);
  }, 60000);
});
