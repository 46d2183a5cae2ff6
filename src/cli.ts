#!/usr/bin/env node
/** The `hypernoise` command (package.json "bin"): the commands live in cli/commands.ts. */
import { main } from './cli/commands';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
