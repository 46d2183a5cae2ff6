#!/usr/bin/env node
// Compares two demo reports (runs/*/report.json or `demo --json` output) on everything but timing: exits 1
// and lists the differing fields when any number differs. Timing-dependent fields are skipped: wall times,
// speed-ups, the machine, and best-of-N at ReNO's time budget (its N is set by a timing).
//   usage: node scripts/compare-reports.js A.json B.json
'use strict';
const fs = require('fs');

const SKIP = new Set(['date', 'seconds', 'machine', 'msPerSample', 'msPerStep', 'speedupVsReno', 'bestOfNEqualTime', 'fineTuneSeconds', 'secondsPerDigit']);

function differences(a, b, path, out) {
  if (typeof a !== typeof b || Array.isArray(a) !== Array.isArray(b)) {
    out.push(`${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  } else if (Array.isArray(a)) {
    if (a.length !== b.length) out.push(`${path}: length ${a.length} vs ${b.length}`);
    for (let i = 0; i < Math.min(a.length, b.length); i++) differences(a[i], b[i], `${path}[${i}]`, out);
  } else if (a !== null && typeof a === 'object') {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (!SKIP.has(k)) differences(a[k], b[k], `${path}.${k}`, out);
    }
  } else if (a !== b && !(Number.isNaN(a) && Number.isNaN(b))) {
    out.push(`${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  }
  return out;
}

const [fa, fb] = process.argv.slice(2);
if (!fa || !fb) {
  process.stderr.write('usage: node scripts/compare-reports.js A.json B.json\n');
  process.exit(2);
}
const diff = differences(JSON.parse(fs.readFileSync(fa, 'utf8')), JSON.parse(fs.readFileSync(fb, 'utf8')), '', []);
if (diff.length > 0) {
  process.stderr.write(`${fa} and ${fb} differ in ${diff.length} fields:\n${diff.slice(0, 20).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`${fa} and ${fb}: identical (timing fields aside)\n`);
