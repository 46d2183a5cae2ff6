// Jazzer.js target: Hypernetwork.load, SequentialModel.load, Trainer.fromCheckpoint and
// trainer.loadCheckpoint on arbitrary bytes written to a file. See test/fuzz/README.md.
const oracle = require('../oracle');
module.exports.fuzz = async function (data) {
  await oracle.checkpoint(data);
};
