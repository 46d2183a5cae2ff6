#!/usr/bin/env node
// The C++ sources of the CPU-only node-gyp build, for binding.gyp (`<!@(node scripts/gyp-sources.js)`):
// every .cc file of the directories CMakeLists.txt globs for the core, the CPU backend, the registry and
// the addon, so the two builds cannot drift apart. CUDA and the test programs are CMake-only.
'use strict';
const fs = require('fs');
const path = require('path');

const DIRS = ['native/core', 'native/cpu', 'native/registry', 'native/addon'];

function gypSources(root) {
  return DIRS.flatMap((dir) =>
    fs
      .readdirSync(path.join(root, dir))
      .filter((f) => f.endsWith('.cc'))
      .sort()
      .map((f) => `${dir}/${f}`),
  );
}

module.exports = { DIRS, gypSources };

if (require.main === module) process.stdout.write(gypSources(path.join(__dirname, '..')).join(' ') + '\n');
