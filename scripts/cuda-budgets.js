#!/usr/bin/env node
/**
 * Resource budgets of the CUDA kernels, checked without a GPU (issue 13): compiles native/cuda/*.cu for one
 * architecture with `-Xptxas -v`, reads every kernel's registers, shared memory, stack and spills from ptxas,
 * and its __launch_bounds__ from the PTX (.maxntid), and compares them with native/cuda/budgets.json. Fails
 * (exit 1, the reasons last) when a kernel spills, uses more registers or shared memory than its row allows,
 * exceeds the 48 KB of static shared memory, declares no launch bounds or others than its row's threads, fits
 * fewer blocks per SM than its row needs (occupancy from registers, shared memory and warps, sm_90 limits), or
 * is not in the table at all (a new kernel declares its budget when it is added).
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

/** mangled entry name -> threads of its __launch_bounds__ (the PTX .maxntid product), from PTX text. */
function parseMaxntid(ptx) {
  const bounds = new Map();
  const re = /\.entry\s+([A-Za-z0-9_$]+)\s*\(([\s\S]*?)\{/g;
  for (let m = re.exec(ptx); m; m = re.exec(ptx)) {
    const d = /\.maxntid\s+(\d+),\s*(\d+),\s*(\d+)/.exec(m[2]);
    bounds.set(m[1], d ? Number(d[1]) * Number(d[2]) * Number(d[3]) : 0);
  }
  return bounds;
}

function run(cmd) {
  return new Promise((resolve, reject) => {
    execFile(nvcc, cmd, { cwd: root, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${nvcc} ${cmd.join(' ')} failed:\n${stderr}`));
      else resolve(stdout + stderr);
    });
  });
}

async function compile(file) {
  const common = [`-arch=${table.arch}`, '-std=c++17', '--expt-relaxed-constexpr', '-Inative'];
  const kernels = parsePtxas(await run([...common, '-Xptxas', '-v', '-c', file, '-o', os.devNull]), file);
  const ptxFile = path.join(os.tmpdir(), `hn-budgets-${process.pid}-${path.basename(file)}.ptx`);
  try {
    await run([...common, '-ptx', file, '-o', ptxFile]);
    const bounds = parseMaxntid(fs.readFileSync(ptxFile, 'utf8'));
    for (const k of kernels) k.threads = bounds.get(k.mangled) || 0;
  } finally {
    fs.rmSync(ptxFile, { force: true });
  }
  return kernels;
}

// sm_90 per SM: 65,536 registers in 4 sub-partitions of 16,384, each warp's allocated in units of 256 within
// one sub-partition; 228 KB of shared memory in units of 128 bytes with 1 KB reserved per block; 64 warps and 32
// blocks.
function blocksPerSm(k) {
  if (!k.threads) return 0;
  const warps = Math.ceil(k.threads / 32);
  const regsPerWarp = Math.ceil((Math.max(1, k.registers) * 32) / 256) * 256;
  const byRegs = Math.floor((4 * Math.floor(16384 / regsPerWarp)) / warps);
  const bySmem = Math.floor((228 * 1024) / (Math.ceil(k.smem / 128) * 128 + 1024));
  const byWarps = Math.floor(64 / warps);
  return Math.min(byRegs, bySmem, byWarps, 32);
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
      if (k.threads !== budget.threads) {
        failures.push(
          k.threads
            ? `${k.name}: __launch_bounds__(${k.threads}), its row says ${budget.threads} threads`
            : `${k.name}: no __launch_bounds__ (declare the block size it is launched with, ${budget.threads})`,
        );
      }
      if (blocksPerSm(k) < budget.min_blocks) {
        failures.push(`${k.name}: ${blocksPerSm(k)} blocks per SM, the design needs ${budget.min_blocks} (${budget.why})`);
      }
    }
    rows.push([k.name.length > 90 ? k.name.slice(0, 87) + '...' : k.name, k.file.replace('native/cuda/', ''), k.threads || '-', k.registers, budget ? budget.registers : '-', k.smem, budget ? budget.smem : '-', k.stack, spills, blocksPerSm(k), budget ? budget.min_blocks : '-']);
  }
  const unused = table.kernels.filter((b) => !b.used);
  for (const b of unused) failures.push(`budget row ${b.name}: no such kernel was compiled (remove or rename the row)`);

  const head = ['kernel', 'file', 'threads', 'regs', 'budget', 'smem B', 'budget', 'stack B', 'spill B', 'blocks/SM', 'needed'];
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
