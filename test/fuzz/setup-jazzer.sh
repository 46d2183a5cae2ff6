#!/usr/bin/env bash
# Installs Jazzer.js 4 (coverage-guided, libFuzzer-based fuzzing for JavaScript) into .devtools/jazzer. It
# is not a package.json dependency: fuzzing is a campaign run by hand (test/fuzz/run.sh), while CI only
# replays the kept corpus (test/fuzz.test.ts), which needs nothing but jest.
#
# Jazzer.js 4.0.0's prebuilt fuzzer addon needs glibc >= 2.38. On older systems (Debian 12 has 2.36) it is
# rebuilt here from the Jazzer.js sources against the system's libFuzzer (apt-get install clang
# libclang-rt-14-dev); set JAZZER_SRC to a checkout of github.com/CodeIntelligenceTesting/jazzer.js.
# Two small adaptations to upstream libFuzzer (Jazzer.js links a patched fork): the death callback is
# looked up as __sanitizer_set_death_callback, and the *_with_pc trace hooks map to the plain ones.
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=.devtools/jazzer
mkdir -p "$dest"
npm install --prefix "$dest" --no-audit --no-fund @jazzer.js/core@4.0.0 >/dev/null
fuzzer="$dest/node_modules/@jazzer.js/fuzzer"
if node -e "require('./$fuzzer/dist/addon.js')" 2>/dev/null; then
  echo "jazzer.js: the prebuilt fuzzer addon loads"
  exit 0
fi
echo "jazzer.js: the prebuilt fuzzer addon does not load here; building it against the system libFuzzer"
: "${JAZZER_SRC:?set JAZZER_SRC to a checkout of github.com/CodeIntelligenceTesting/jazzer.js (tag v4.0.0)}"
rt=$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a 2>/dev/null | tail -1)
[ -n "$rt" ] || { echo "libclang_rt.fuzzer_no_main not found: apt-get install -y clang libclang-rt-14-dev" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$JAZZER_SRC/packages/fuzzer/." "$work/"
cd "$work"
sed -i 's/__sanitizer_cov_trace_const_cmp8_with_pc(uintptr_t called_pc,/__sanitizer_cov_trace_const_cmp8(/;
        s/__sanitizer_cov_trace_pc_indir_with_pc(void \*caller_pc, uintptr_t callee);/__sanitizer_cov_trace_pc_indir(uintptr_t callee);/;
        s/__sanitizer_cov_trace_const_cmp8_with_pc(id, arg1, arg2);/(void)id; __sanitizer_cov_trace_const_cmp8(arg1, arg2);/;
        s/__sanitizer_cov_trace_pc_indir_with_pc((void \*)id, state);/(void)id; __sanitizer_cov_trace_pc_indir(state);/' shared/tracing.cpp
cat >> shared/sanitizer_symbols.cpp <<'CPP'

// Upstream libFuzzer (not the Jazzer fork) looks its death callback up under this name.
extern "C" [[maybe_unused]] void __sanitizer_set_death_callback(void (*callback)()) {
  libfuzzer::PrintCrashingInput = callback;
}
CPP
mkdir -p inc/fuzzer
cat > inc/fuzzer/FuzzerDefs.h <<'CPP'
// The two names Jazzer.js uses from compiler-rt's lib/fuzzer/FuzzerDefs.h.
#pragma once
#include <cstddef>
#include <cstdint>
namespace fuzzer {
typedef int (*UserCallback)(const uint8_t *Data, size_t Size);
int FuzzerDriver(int *argc, char ***argv, UserCallback Callback);
}
CPP
node_inc=$(dirname "$(dirname "$(command -v node)")")/include/node
[ -f "$node_inc/node_api.h" ] || node_inc=/usr/include/node
addon_api=$(node -p "require('node-addon-api').include_dir" 2>/dev/null || echo "$OLDPWD/node_modules/node-addon-api")
g++ -shared -fPIC -O2 -std=c++17 -DNAPI_VERSION=4 -DNAPI_CPP_EXCEPTIONS -Iinc -I"$node_inc" -I"$addon_api" \
  ./*.cpp shared/*.cpp -Wl,--whole-archive "$rt" -Wl,--no-whole-archive -lpthread -o fuzzer-linux-x64.node 2>/dev/null
cd - >/dev/null
cp "$work/fuzzer-linux-x64.node" "$fuzzer/prebuilds/fuzzer-linux-x64.node"
node -e "require('./$fuzzer/dist/addon.js')" && echo "jazzer.js: fuzzer addon built against $rt"
