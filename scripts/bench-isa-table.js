#!/usr/bin/env node
// The per-ISA benchmark table of bench/RESULTS.md, from one `npm run bench -- --isa NAME --out DIR` run per
// instruction set (each with its own PyTorch peer and its own peak probe):
//   node scripts/bench-isa-table.js DIR_AVX512 DIR_AVX2 DIR_SCALAR ...
// (each argument a --out folder or a latest-run.json; bench/results/by-isa/ keeps the recorded runs).
// Prints, per case, each run's median, its fraction of that ISA's peak and its ratio against PyTorch, and the
// scalar path's time over the AVX2 path's (or the fastest other path's when there is no AVX2 run).
'use strict';
const fs = require('fs');
const path = require('path');

const dirs = process.argv.slice(2);
if (dirs.length === 0) {
  process.stderr.write('usage: node scripts/bench-isa-table.js DIR [DIR ...]\n');
  process.exit(2);
}
const runFile = (d) => (fs.statSync(d).isDirectory() ? path.join(d, 'latest-run.json') : d);
const runs = dirs.map((d) => JSON.parse(fs.readFileSync(runFile(d), 'utf8')));
const isa = (run) => run.peak.isa || run.machine.isa;
for (const run of runs) {
  const p = run.peak;
  process.stdout.write(`- ${isa(run)}: ${run.date}, \`${run.command}\` (${run.seconds.toFixed(0)} s); peak ${p.perCore.toFixed(1)} GFLOP/s per core float32 (${p.total.toFixed(1)} for ${p.threads} threads), float64 ${p.perCoreF64.toFixed(1)} (${p.totalF64.toFixed(1)})\n`);
}
process.stdout.write('\n');
const ms = (x) => (x < 0.1 ? x.toPrecision(2) : x.toFixed(x < 10 ? 3 : 1));
const head = ['case', ...runs.flatMap((r) => [`${isa(r)} ms`, '% peak', 'vs torch'])];
const scalar = runs.findIndex((r) => isa(r) === 'scalar');
const avx2 = runs.findIndex((r) => isa(r) === 'avx2');
if (scalar >= 0) head.push(avx2 >= 0 ? 'scalar / avx2' : 'scalar / fastest');
const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
for (const name of runs[0].results.filter((r) => r.scale !== 'scaling').map((r) => r.name)) {
  const rows = runs.map((run) => run.results.find((x) => x.name === name));
  const cells = rows.flatMap((x) =>
    x ? [ms(x.medianMs), x.peakFraction === null ? '-' : `${(100 * x.peakFraction).toFixed(1)}%`, x.ratioVsPeer === null ? '-' : `${x.ratioVsPeer.toFixed(2)}×`] : ['-', '-', '-'],
  );
  if (scalar >= 0) {
    const vector = rows.filter((x, i) => x && i !== scalar && (avx2 < 0 || i === avx2)).map((x) => x.medianMs);
    cells.push(rows[scalar] && vector.length ? `${(rows[scalar].medianMs / Math.min(...vector)).toFixed(1)}×` : '-');
  }
  lines.push(`| ${name} | ${cells.join(' | ')} |`);
}
process.stdout.write(lines.join('\n') + '\n');
