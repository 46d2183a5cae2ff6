#!/usr/bin/env node
/**
 * Resource budgets of the CUDA kernels, checked without a GPU (issue 13): compiles native/cuda/*.cu for one
 * architecture with `-Xptxas -v`, reads every kernel's registers, shared memory, stack and spills from ptxas,
 * and compares them with native/cuda/budgets.json. Fails (exit 1, the reasons last) when a kernel spills,
 * uses more registers or shared memory than its row allows, exceeds the 48 KB of static shared memory, or is
 * not in the table at all (a new kernel declares its budget when it is added).
 *
 *   usage: node scripts/cuda-budgets.js [--print] [--jobs N]     env: NVCC (default: nvcc on PATH)
 *   --print: the table of what ptxas reports, budgets beside it (no failure on a missing row)
 */
'use strict';
const { execFile, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.join(__dirname, '..');
const table = JSON.parse(fs.readFileSync(path.join(root, 'native', 'cuda', 'budgets.json'), 'utf8'));
const args = process.argv.slice(2);
const print = args.includes('--print');
const jobsAt = args.indexOf('--jobs');
const jobs = jobsAt >= 0 ? Number(args[jobsAt + 1]) : Math.max(1, os.cpus().length);
const nvcc = process.env.NVCC || 'nvcc';
const STATIC_SMEM_LIMIT = 48 * 1024;

/** One kernel's resources as ptxas reports them. */
function parsePtxas(text, file) {
  const kernels = [];
  let cur = null;
  for (const line of text.split('\n')) {
    let m = /Compiling entry function '([^']+)' for '(sm_\d+a?)'/.exec(line);
    if (m) {
      cur = { file, mangled: m[1], arch: m[2], registers: 0, smem: 0, stack: 0, spillStores: 0, spillLoads: 0 };
      kernels.push(cur);
      continue;
    }
    if (!cur) continue;
    m = /(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads/.exec(line);
    if (m) [cur.stack, cur.spillStores, cur.spillLoads] = m.slice(1).map(Number);
    m = /Used (\d+) registers/.exec(line);
    if (m) cur.registers = Number(m[1]);
    m = /(\d+) bytes smem/.exec(line);
    if (m) cur.smem = Number(m[1]);
  }
  return kernels;
}

/** "hn::cuda::detail::(anonymous namespace)::gemm_kernel<64, true>(int, ...)" -> "gemm_kernel<64, true>" */
function shortName(demangled) {
  let depth = 0;
  let end = demangled.length;
  for (let i = 0; i < demangled.length; i++) {
    const c = demangled[i];
    if (c === '<') depth++;
    else if (c === '>') depth--;
    else if (c === '(' && depth === 0 && !demangled.startsWith('(anonymous namespace)', i)) {
      end = i;
      break;
    }
  }
  const head = demangled.slice(0, end).replace(/^void /, '');
  // The last '::' outside template arguments.
  depth = 0;
  let start = 0;
  for (let i = 0; i < head.length - 1; i++) {
    const c = head[i];
    if (c === '<') depth++;
    else if (c === '>') depth--;
    else if (c === ':' && head[i + 1] === ':' && depth === 0) start = i + 2;
  }
  return head.slice(start).replace(/hn::cuda::(detail::|\(anonymous namespace\)::)/g, '');
}

/** A budget row's name with * as a wildcard, matched against the whole kernel name. */
function matches(pattern, name) {
  const re = new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
  return re.test(name);
}

function compile(file) {
  const cmd = [`-arch=${table.arch}`, '-std=c++17', '--expt-relaxed-constexpr', '-Xptxas', '-v', '-Inative', '-c', file, '-o', os.devNull];
  return new Promise((resolve, reject) => {
    execFile(nvcc, cmd, { cwd: root, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${nvcc} ${cmd.join(' ')} failed:\n${stderr}`));
      else resolve(parsePtxas(stdout + stderr, file));
    });
  });
}

async function main() {
  const sources = fs
    .readdirSync(path.join(root, 'native', 'cuda'))
    .filter((f) => f.endsWith('.cu'))
    .map((f) => path.join('native', 'cuda', f));
  const queue = [...sources];
  const found = [];
  await Promise.all(
    Array.from({ length: jobs }, async () => {
      for (let f = queue.shift(); f !== undefined; f = queue.shift()) found.push(...(await compile(f)));
    }),
  );
  const demangled = execFileSync('c++filt', { input: found.map((k) => k.mangled).join('\n') + '\n' })
    .toString()
    .split('\n');
  found.forEach((k, i) => (k.name = shortName(demangled[i])));
  found.sort((a, b) => a.name.localeCompare(b.name));

  const failures = [];
  const rows = [];
  for (const k of found) {
    const budget = table.kernels.find((b) => matches(b.name, k.name));
    if (budget) budget.used = true;
    const spills = k.spillStores + k.spillLoads;
    if (spills > 0) failures.push(`${k.name} (${k.file}): spills (${k.spillStores} bytes stored, ${k.spillLoads} loaded)`);
    if (k.smem > STATIC_SMEM_LIMIT) failures.push(`${k.name}: ${k.smem} bytes of static shared memory (limit ${STATIC_SMEM_LIMIT})`);
    if (!budget) {
      if (!print) failures.push(`${k.name} (${k.file}): no row in native/cuda/budgets.json (add its register and shared-memory budget)`);
    } else {
      if (k.registers > budget.registers) failures.push(`${k.name}: ${k.registers} registers, budget ${budget.registers} (${budget.why})`);
      if (k.smem > budget.smem) failures.push(`${k.name}: ${k.smem} bytes of shared memory, budget ${budget.smem}`);
    }
    rows.push([k.name.length > 90 ? k.name.slice(0, 87) + '...' : k.name, k.file.replace('native/cuda/', ''), k.registers, budget ? budget.registers : '-', k.smem, budget ? budget.smem : '-', k.stack, spills]);
  }
  const unused = table.kernels.filter((b) => !b.used);
  for (const b of unused) failures.push(`budget row ${b.name}: no such kernel was compiled (remove or rename the row)`);

  const head = ['kernel', 'file', 'regs', 'budget', 'smem B', 'budget', 'stack B', 'spill B'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => String(c).padEnd(widths[i])).join('  ');
  console.log(`ptxas resources, ${table.arch}, ${found.length} kernels in ${sources.length} files:`);
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  if (failures.length) {
    console.log(`\nCUDA resource budgets: ${failures.length} failure(s):`);
    for (const f of failures) console.log(`  ${f}`);
    process.exit(1);
  }
  console.log('\nCUDA resource budgets: OK (no spills, every kernel within its row)');
}

main().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
