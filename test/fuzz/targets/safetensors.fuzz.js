// Jazzer.js target: parseSafetensors (src/safetensors.ts) on arbitrary bytes. See test/fuzz/README.md.
const oracle = require('../oracle');
module.exports.fuzz = function (data) {
  oracle.safetensors(data);
};
