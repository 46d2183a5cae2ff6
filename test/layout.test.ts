/**
 * The tree's architecture as tests: the core knows no backend, the node-gyp build compiles exactly the
 * directories the CMake build globs (CPU part), and the two backends pair their op-family files by name.
 */
import * as fs from 'fs';
import * as path from 'path';

const root = path.join(__dirname, '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { DIRS, gypSources } = require('../scripts/gyp-sources.js') as { DIRS: string[]; gypSources: (root: string) => string[] };

function read(rel: string): string {
  return fs.readFileSync(path.join(root, rel), 'utf8');
}

function sourcesOf(dir: string): string[] {
  return fs.readdirSync(path.join(root, dir)).filter((f) => /\.(cc|h|cu|cuh)$/.test(f));
}

describe('source layout', () => {
  test('native/core includes no backend header and its CMake target links no backend', () => {
    for (const f of sourcesOf('native/core')) {
      const includes = [...read(`native/core/${f}`).matchAll(/#include\s+[<"]([^>"]+)[>"]/g)].map((m) => m[1]);
      for (const inc of includes) {
        expect({ file: f, include: inc, backend: /^(cpu|cuda|registry|addon)\/|cuda/i.test(inc) }).toEqual({ file: f, include: inc, backend: false });
      }
    }
    const cmake = read('CMakeLists.txt');
    const coreLinks = [...cmake.matchAll(/target_link_libraries\(hn_core\s+([^)]*)\)/g)].map((m) => m[1]);
    expect(coreLinks.join(' ')).not.toMatch(/hn_cpu|hn_cuda|hn_backends/);
  });

  test('binding.gyp builds exactly the directories CMakeLists.txt globs for the CPU build', () => {
    const cmake = read('CMakeLists.txt');
    const globbed = ['CORE', 'CPU', 'REGISTRY', 'ADDON'].map((lib) => {
      const m = cmake.match(new RegExp(`file\\(GLOB HN_${lib}_SOURCES CONFIGURE_DEPENDS (native/[a-z]+)/\\*\\.cc\\)`));
      expect(m).not.toBeNull();
      return (m as RegExpMatchArray)[1];
    });
    expect(globbed).toEqual(DIRS);
    expect(JSON.parse(read('binding.gyp')).targets[0].sources).toEqual(['<!@(node scripts/gyp-sources.js)']);
    const listed = gypSources(root);
    const onDisk = DIRS.flatMap((d) => sourcesOf(d).filter((f) => f.endsWith('.cc')).map((f) => `${d}/${f}`));
    expect([...listed].sort()).toEqual([...onDisk].sort());
  });

  test('the noise streams the TypeScript layer names are the native core\'s', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { NoiseStream } = require('../src/noise') as typeof import('../src/noise');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { native } = require('../src/native') as typeof import('../src/native');
    expect({ ...NoiseStream }).toEqual(native().noiseStreams);
  });

  test('every section of docs/DESIGN.md that code or docs cite exists', () => {
    const headings = new Set([...read('docs/DESIGN.md').matchAll(/^## (.+)$/gm)].map((m) => m[1].trim()));
    const files = ['README.md', 'models/README.md', 'docs/RELIABILITY.md', 'test/fuzz/README.md'];
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
        const rel = `${dir}/${e.name}`;
        if (e.isDirectory()) {
          if (!['corpus', 'node_modules'].includes(e.name)) walk(rel);
        } else if (/\.(ts|js|cc|h|cu|cuh|md)$/.test(e.name)) files.push(rel);
      }
    };
    ['src', 'native', 'test', 'scripts'].forEach(walk);
    const cited: string[] = [];
    for (const f of files) {
      const text = read(f);
      expect({ file: f, numbered: /DESIGN(\.md)? §/.test(text) }).toEqual({ file: f, numbered: false });
      for (const m of text.matchAll(/DESIGN\.md, "([^"]+)"/g)) cited.push(m[1]);
    }
    expect(cited.length).toBeGreaterThan(5);
    expect(cited.filter((c) => !headings.has(c))).toEqual([]);
  });

  test('the CPU and CUDA backends name their op-family files alike', () => {
    const families = ['noise', 'gemm', 'hypernetwork', 'kl', 'sequential', 'reward', 'optimizer', 'tto'];
    const cpu = new Set(sourcesOf('native/cpu').map((f) => f.replace(/\.cc$/, '')));
    const cuda = new Set(sourcesOf('native/cuda').map((f) => f.replace(/\.cu$/, '')));
    expect(families.filter((f) => !cpu.has(f) || !cuda.has(f))).toEqual([]);
  });
});
