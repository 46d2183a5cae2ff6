/**
 * Issue 15, item 7: transferring (detaching) the buffers of a Promise call's arrays while the call runs, then
 * collecting the new owners, must not free the memory under the call. The child process would die of SIGSEGV
 * without the buffer pins (native/addon/buffer_pin.h); it ran 3 of 3 times into a segfault before them.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { backendInfo } from '../src';

const fixture = path.join(__dirname, 'fixtures', 'detach-in-flight.js');
const pinned = backendInfo().bufferPinning;

(pinned ? test : test.skip)('buffers transferred during Promise calls: no use after free, the calls settle', () => {
  const r = spawnSync(process.execPath, ['--expose-gc', fixture, path.join(__dirname, '..', 'dist'), '8'], { encoding: 'utf8', timeout: 120_000 });
  expect(r.signal).toBeNull();
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(r.stdout.trim()).toBe('survived 8');
});

test('a build on a Node that ships V8\'s header (beside its binary) pins', () => {
  // CMakeLists.txt looks for v8.h there; if the detection broke, the pins would silently be no-ops.
  const header = path.resolve(process.execPath, '..', '..', 'include', 'node', 'v8.h');
  if (fs.existsSync(header)) expect(pinned).toBe(true);
  else expect(pinned).toBe(false);
});
