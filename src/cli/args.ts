/**
 * The command line of each command, declared once (CommandSpec): its options, their kinds, defaults and help.
 * Parsing is Node's util.parseArgs (tokens); every check is ours, so that each mistake gets a message that
 * names it: an unknown option (with the nearest known one), a stray positional argument, a missing or
 * malformed value. All of them are ERR_ARGUMENT, which the CLI reports as a usage error (exit 2).
 */
import { parseArgs as nodeParseArgs } from 'util';
import { HypernoiseError } from '../errors';

export type OptionKind = 'flag' | 'string' | 'number' | 'int';

export interface OptionSpec {
  kind: OptionKind;
  /** the value's placeholder in the help: FILE, N, SPEC */
  value?: string;
  help: string;
  /** used when the option is absent, and shown in the help */
  default?: string | number;
  choices?: readonly string[];
  /** the smallest value a number or int option accepts */
  min?: number;
  required?: boolean;
}

export interface CommandSpec<K extends string = string> {
  name: string;
  summary: string;
  /** lines after the option list: examples, what is written, notes */
  notes?: string;
  options: Readonly<Record<K, OptionSpec>>;
}

/** Exit codes of the `hypernoise` command. */
export const EXIT = { ok: 0, error: 1, usage: 2, diverged: 3, interrupted: 130, terminated: 143 } as const;

export const EXIT_CODES_HELP = 'Exit codes: 0 done, 1 error, 2 bad command line, 3 training diverged, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM; train saves first).';

export function usageError(message: string): HypernoiseError {
  return new HypernoiseError(message, 'ERR_ARGUMENT');
}

/** The option closest to a mistyped one (prefix, containment or edit distance <= 2), for "did you mean". */
export function nearest(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const distance = (a: string, b: string): number => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    return d[a.length][b.length];
  };
  let best: string | undefined;
  let bestD = 3;
  for (const k of known) {
    const d = k.startsWith(lower) || lower.startsWith(k) ? 1 : distance(lower, k);
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  return best;
}

/** The parsed options of one command: values checked against its spec, defaults filled in by the getters. */
export class ParsedOptions<K extends string> {
  constructor(
    private readonly spec: CommandSpec<K>,
    private readonly values: ReadonlyMap<string, string | true>,
  ) {}

  /** Whether the option was given on the command line (not defaulted). */
  has(name: K): boolean {
    return this.values.has(name);
  }

  /** The option names given on the command line. */
  given(): string[] {
    return Object.keys(this.spec.options).filter((k) => this.values.has(k));
  }

  flag(name: K): boolean {
    return this.values.get(name) === true;
  }

  string(name: K): string | undefined {
    const v = this.values.get(name);
    if (v === true) throw new HypernoiseError(`--${name} is a flag, read as a string`, 'ERR_INTERNAL');
    if (v !== undefined) return v;
    const d = this.spec.options[name].default;
    return d === undefined ? undefined : String(d);
  }

  /** The value of an option that has a default or is required. */
  value(name: K): string {
    const v = this.string(name);
    if (v === undefined) throw usageError(`${this.spec.name} needs --${name} ${this.spec.options[name].value ?? 'VALUE'} (see hypernoise ${this.spec.name} --help)`);
    return v;
  }

  number(name: K): number;
  number(name: K, optional: 'optional'): number | undefined;
  number(name: K, optional?: 'optional'): number | undefined {
    const v = optional ? this.string(name) : this.value(name);
    return v === undefined ? undefined : Number(v);
  }
}

function checkValue(name: string, spec: OptionSpec, raw: string): string {
  const value = raw.trim();
  if (spec.kind === 'number' || spec.kind === 'int') {
    const x = value === '' ? NaN : Number(value);
    if (!Number.isFinite(x)) throw usageError(`--${name} expects a number but received '${raw}'`);
    if (spec.kind === 'int' && Number.isInteger(x) && !Number.isSafeInteger(x)) {
      throw usageError(`--${name} expects an integer of at most ${Number.MAX_SAFE_INTEGER} but received '${raw}'`);
    }
    if (spec.kind === 'int' && !Number.isSafeInteger(x)) throw usageError(`--${name} expects an integer but received '${raw}'`);
    if (spec.min !== undefined && x < spec.min) throw usageError(`--${name} expects ${spec.kind === 'int' ? 'an integer' : 'a number'} >= ${spec.min} but received '${raw}'`);
  }
  if (spec.kind === 'string' && value === '') throw usageError(`--${name} expects ${spec.value ?? 'a value'} but received an empty string`);
  if (spec.choices && !spec.choices.includes(value)) {
    // (no guess for very short values: 'gpu' is one letter from 'cpu' but means 'cuda')
    const near = value.length > 3 ? nearest(value, spec.choices) : undefined;
    throw usageError(`--${name} must be one of ${spec.choices.join(', ')} but received '${raw}'${near ? ` (did you mean '${near}'?)` : ''}`);
  }
  return spec.kind === 'string' ? raw : value;
}

/** Parses a command's arguments (those after the command's name); ERR_ARGUMENT for any mistake. */
export function parseCommand<K extends string>(spec: CommandSpec<K>, argv: readonly string[]): ParsedOptions<K> {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, o] of Object.entries<OptionSpec>(spec.options)) options[name] = { type: o.kind === 'flag' ? 'boolean' : 'string' };
  const { tokens } = nodeParseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  const values = new Map<string, string | true>();
  const known = Object.keys(spec.options);
  const stray: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'positional') stray.push(t.value);
    if (t.kind !== 'option') continue;
    if (t.name === 'help') continue;
    const o = (spec.options as Record<string, OptionSpec | undefined>)[t.name];
    if (o === undefined) {
      const near = nearest(t.name, known);
      throw usageError(`unknown option ${t.rawName} for '${spec.name}'${near ? ` (did you mean --${near}?)` : ''}; see hypernoise ${spec.name} --help`);
    }
    if (values.has(t.name)) throw usageError(`--${t.name} is given twice`);
    if (o.kind === 'flag') {
      if (t.inlineValue) throw usageError(`--${t.name} is a flag and takes no value (received '${t.value}')`);
      values.set(t.name, true);
      continue;
    }
    // Non-strict parseArgs takes the next argument as the value even when it is another option.
    if (t.value === undefined || (!t.inlineValue && t.value.startsWith('--'))) {
      throw usageError(`--${t.name} needs a value (${o.value ?? 'VALUE'})${t.value === undefined ? '' : ` but is followed by the option ${t.value}`}`);
    }
    values.set(t.name, checkValue(t.name, o, t.value));
  }
  if (stray.length > 0) {
    throw usageError(`unexpected argument${stray.length > 1 ? 's' : ''} ${stray.map((p) => `'${p}'`).join(' ')} for '${spec.name}' (it takes only --options; see hypernoise ${spec.name} --help)`);
  }
  const missing = known.filter((k) => (spec.options as Record<string, OptionSpec>)[k].required && !values.has(k));
  if (missing.length > 0) {
    throw usageError(`${spec.name} needs ${missing.map((k) => `--${k} ${(spec.options as Record<string, OptionSpec>)[k].value ?? 'VALUE'}`).join(', ')} (see hypernoise ${spec.name} --help)`);
  }
  return new ParsedOptions(spec, values);
}

/** Whether the arguments ask for help (-h or --help anywhere before a '--'). */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

/** The help text of one command, generated from its spec. */
export function commandHelp(spec: CommandSpec): string {
  const entries = Object.entries<OptionSpec>(spec.options);
  const required = entries.filter(([, o]) => o.required).map(([k, o]) => `--${k} ${o.value ?? 'VALUE'}`);
  const lines = [`hypernoise ${spec.name}: ${spec.summary}`, '', `Usage: npx hypernoise ${spec.name} ${[...required, '[options]'].join(' ')}`, '', 'Options:'];
  const rows = entries.map(([k, o]) => {
    const left = `--${k}${o.kind === 'flag' ? '' : ` ${o.value ?? 'VALUE'}`}`;
    const extra = [o.choices && !o.help.includes(o.choices.join('|')) ? o.choices.join('|') : '', o.required ? 'required' : o.default !== undefined ? `default ${o.default}` : '']
      .filter(Boolean)
      .join('; ');
    // One parenthesis: 'more steps (with --resume)' + 'default 1000' reads 'more steps (with --resume; default 1000)'.
    const text = !extra ? o.help : o.help.endsWith(')') ? `${o.help.slice(0, -1)}; ${extra})` : `${o.help} (${extra})`;
    return [left, text];
  });
  rows.push(['-h, --help', 'this help']);
  const width = Math.min(30, Math.max(...rows.map(([l]) => l.length)) + 2);
  for (const [l, r] of rows) lines.push(`  ${l.padEnd(width)}${l.length >= width ? '\n' + ' '.repeat(width + 2) : ''}${r}`);
  if (spec.notes) lines.push('', spec.notes);
  lines.push('', EXIT_CODES_HELP);
  return lines.join('\n') + '\n';
}
