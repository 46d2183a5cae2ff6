/** A small command-line parser: `--name value`, `--name=value`, `--flag`, positionals. */
import { HypernoiseError } from '../errors';

export interface ParsedArgs {
  command: string | undefined;
  positionals: string[];
  options: Map<string, string | true>;
}

export function parseArgs(argv: string[]): ParsedArgs {
  const options = new Map<string, string | true>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) options.set(a.slice(2, eq), a.slice(eq + 1));
      else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) options.set(a.slice(2), argv[++i]);
      else options.set(a.slice(2), true);
    } else {
      positionals.push(a);
    }
  }
  return { command: positionals.shift(), positionals, options };
}

export class Options {
  private readonly used = new Set<string>();
  constructor(private readonly map: Map<string, string | true>) {}

  flag(name: string): boolean {
    this.used.add(name);
    const v = this.map.get(name);
    if (v === undefined) return false;
    if (v === true || v === 'true') return true;
    if (v === 'false') return false;
    throw new HypernoiseError(`--${name} is a flag (no value) but received '${v}'`, 'ERR_ARGUMENT');
  }

  string(name: string, dflt: string): string;
  string(name: string): string | undefined;
  string(name: string, dflt?: string): string | undefined {
    this.used.add(name);
    const v = this.map.get(name);
    if (v === true) throw new HypernoiseError(`--${name} needs a value`, 'ERR_ARGUMENT');
    return v ?? dflt;
  }

  number(name: string, dflt: number): number {
    const v = this.string(name);
    if (v === undefined) return dflt;
    const x = Number(v);
    if (!Number.isFinite(x)) throw new HypernoiseError(`--${name} expects a number but received '${v}'`, 'ERR_ARGUMENT');
    return x;
  }

  int(name: string, dflt: number): number {
    const x = this.number(name, dflt);
    if (!Number.isInteger(x)) throw new HypernoiseError(`--${name} expects an integer but received ${x}`, 'ERR_ARGUMENT');
    return x;
  }

  /** Throws for options the command does not know (typos should not be silent). */
  finish(): void {
    const unknown = [...this.map.keys()].filter((k) => !this.used.has(k));
    if (unknown.length > 0) throw new HypernoiseError(`Unknown option${unknown.length > 1 ? 's' : ''}: ${unknown.map((k) => '--' + k).join(', ')}`, 'ERR_ARGUMENT');
  }
}
