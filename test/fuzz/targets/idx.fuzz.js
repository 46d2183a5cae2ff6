// Jazzer.js target: parseIdx (src/idx.ts) on arbitrary bytes. See test/fuzz/README.md.
const oracle = require('../oracle');
module.exports.fuzz = function (data) {
  oracle.idx(data);
};
