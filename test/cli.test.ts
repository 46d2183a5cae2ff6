import { spawnSync } from 'child_process';
import * as path from 'path';

const cli = path.join(__dirname, '..', 'dist', 'cli.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

describe('the CLI', () => {
  test('--help and help succeed; a bare call and an unknown command are usage errors', () => {
    expect(run('--help').status).toBe(0);
    expect(run('help').stdout).toContain('Usage: npx hypernoise');
    expect(run().status).toBe(1);
    expect(run('nonsense').status).toBe(2);
  });

  test('stray positional arguments and unknown options are refused, not ignored', () => {
    const stray = run('info', 'extra');
    expect(stray.status).toBe(1);
    expect(stray.stderr).toContain("unexpected argument 'extra'");
    const unknown = run('info', '--nope');
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('--nope');
  });
});
