#!/usr/bin/env node
/**
 * The package's install step: builds the native addon with cmake-js (CMakeLists.txt decides CPU-only or CUDA)
 * and shows its progress. npm runs install scripts with their output captured (shown only if they fail, or with
 * --foreground-scripts), so a minute-long compile would otherwise look like a hang: one status line goes to the
 * terminal itself (/dev/tty) when there is one, updated from the build's [k/N] steps. The build's own output
 * still goes to npm (stdout/stderr), which prints it when the install fails.
 *   usage: node scripts/install.js [cmake-js arguments]    (default: compile --out build)
 */
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const args = process.argv.length > 2 ? process.argv.slice(2) : ['compile', '--out', 'build'];

/** The controlling terminal, or null (CI, a service, Windows): then nothing extra is printed. */
function openTerminal() {
  if (process.env.HYPERNOISE_INSTALL_QUIET === '1') return null;
  try {
    return fs.openSync('/dev/tty', 'w');
  } catch {
    return null;
  }
}

const tty = openTerminal();
const start = Date.now();
let lastLine = '';
function status(text, done = false) {
  if (tty === null) return;
  const line = `hypernoise: ${text} (${Math.round((Date.now() - start) / 1000)} s)`;
  if (line === lastLine && !done) return;
  lastLine = line;
  try {
    fs.writeSync(tty, `\r\x1b[K${line}${done ? '\n' : ''}`);
  } catch {
    // the terminal went away: keep building silently
  }
}

const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
const child = spawn(process.execPath, [cmakeJs, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
let what = 'configuring the native addon build';
status(what);
const timer = setInterval(() => status(what), 1000);

function watch(stream, sink) {
  let pending = '';
  stream.on('data', (chunk) => {
    sink.write(chunk);
    pending += chunk.toString();
    const lines = pending.split(/\r?\n/);
    pending = lines.pop() ?? '';
    for (const l of lines) {
      const cuda = /CUDA object/.test(l) ? ' (CUDA kernels)' : '';
      const step = /^\[(\d+)\/(\d+)\]/.exec(l); // Ninja
      const percent = /^\[\s*(\d+)%\]/.exec(l); // Unix Makefiles (cmake-js without ninja)
      if (step) what = `building the native addon: step ${step[1]} of ${step[2]}${cuda}`;
      else if (percent) what = `building the native addon: ${percent[1]} %${cuda}`;
      else if (/hypernoise: .*CUDA|building the CPU backend only/.test(l)) what = l.replace(/^-- /, '').trim();
    }
  });
}
watch(child.stdout, process.stdout);
watch(child.stderr, process.stderr);

// npm stopping the install stops the build too (else cmake-js and the compilers would run on, orphaned).
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));

// exitCode, not exit(): the build log still queued on a pipe is flushed before the process ends.
child.on('exit', (code, signal) => {
  clearInterval(timer);
  if (code === 0) {
    status('native addon built', true);
    process.exitCode = 0;
    return;
  }
  status(`native addon build failed (${signal ?? `exit ${code}`}); npm prints the build log`, true);
  process.exitCode = code === null ? 1 : code;
});
