/**
 * The settings a run starts from: the environment over an env file (loadEnv), and the env
 * file's variables: dotenv's grammar, with nothing in the file left out unsaid.
 *
 * dotenv reads `KEY=value` lines (quotes, `export`, comments, values over several lines) but
 * leaves out, without a word, a line it cannot read: one whose key has a character other than
 * a letter, digit, `_`, `.` or `-` (`RATE_café=2`: a task name a log may carry), or one with no
 * `=` (`RATE_login 0.005`). Left out, a rate bills its task's records as unknown tasks, under
 * the reject limit a smaller bill (README decision 49). So every line is accounted for here:
 *
 * - a line dotenv reads is read as dotenv reads it;
 * - `KEY=value` with a key dotenv does not take: the key as written (trimmed), its value read
 *   as dotenv reads values, as the same variable set in the environment would be;
 * - a key alone on its line (Docker Compose's "take it from the environment") sets nothing;
 * - another key set again: the last line wins, as in dotenv;
 * - a rate (`RATE_…`) set on two lines (which price was meant?), or any other line that is not
 *   blank, a comment, or inside a quoted value over several lines: a ConfigError (exit 2)
 *   naming the file and the line.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { readConfigText } from './config-text.js';
import { ConfigError, systemReason } from '../errors.js';

/** `[export ]KEY=value`: the key up to the first `=`. */
const ASSIGNMENT = /^(?:export\s+)?([^=]*?)\s*=(.*)$/s;
/** dotenv's other form, `KEY: value`. */
const COLON_ASSIGNMENT = /^(?:export\s+)?([\w.-]+):\s(.*)$/s;
/** A key and nothing else. */
const BARE_KEY = /^(?:export\s+)?[\w.-]+$/;
const QUOTES = new Set(['"', "'", '`']);
/** A key dotenv parses a value under, for values of keys it does not take. */
const VALUE_KEY = 'MR_ENV_FILE_VALUE';

/** The line (0-based) at or after `from` where a value opened with quote `q` closes, or -1 (dotenv then reads only its first line). */
function closingLine(lines: readonly string[], from: number, q: string, openedAt: number): number {
  for (let i = from; i < lines.length; i++) {
    const s = i === from ? lines[i]!.slice(openedAt + 1) : lines[i]!;
    // dotenv's quoted values: (\\q | [^q])* q, so a quote after a backslash does not close.
    for (let j = s.indexOf(q); j >= 0; j = s.indexOf(q, j + 1)) if (j === 0 || s[j - 1] !== '\\') return i;
  }
  return -1;
}


/** The variables of an env file's text (`path` names it in errors). */
export function parseEnvFile(text: string, path: string): Record<string, string> {
  // Required when a file is read, not imported: see README.md, "Build and start-up".
  const { parse } = createRequire(import.meta.url)('dotenv') as typeof import('dotenv');
  const read = parse(text);
  const vars: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(read)) vars[k] = v;
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const lineOf = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    // A key alone (Docker Compose's "from the environment"): sets nothing here, where the environment wins anyway.
    if (BARE_KEY.test(line)) continue;
    // dotenv's `KEY: value` first when it read the line so (its value may hold a `=`).
    const colon = COLON_ASSIGNMENT.exec(line);
    const m = colon !== null && Object.hasOwn(read, colon[1]!) ? colon : (ASSIGNMENT.exec(line) ?? colon);
    if (m === null || m[1]!.trim() === '') {
      // The line itself is not shown: it may be a secret's value (one broken onto a line of its own).
      throw new ConfigError(`${path} line ${i + 1}: not KEY=value (the line is not shown: it may hold a secret)`);
    }
    const key = m[1]!.trim();
    const value = m[2]!.trimStart();
    // A quoted value may go on over the next lines (as dotenv reads it): they are its own.
    let last = i;
    if (QUOTES.has(value[0]!)) {
      // The value is the end of the trimmed line: its quote's place in the line as written.
      const raw = lines[i]!;
      const at = raw.length - raw.trimStart().length + line.length - value.length;
      const end = closingLine(lines, i, value[0]!, at);
      if (end > i) last = end;
    }
    // A rate set twice: which price was meant? (Another key: the last line wins, as dotenv has it.)
    const before = lineOf.get(key);
    if (before !== undefined && key.startsWith('RATE_')) {
      throw new ConfigError(`${path}: ${key} is set on line ${before} and again on line ${i + 1}: keep one`);
    }
    lineOf.set(key, i + 1);
    // A key dotenv does not take (or `__proto__`, which its plain object drops): the value as dotenv reads values.
    if (!Object.hasOwn(read, key)) {
      const valueText = [value, ...lines.slice(i + 1, last + 1)].join('\n');
      vars[key] = parse(`${VALUE_KEY}=${valueText}`)[VALUE_KEY] ?? '';
    }
    i = last;
  }
  return vars;
}

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Merges a `.env` file under the process environment (a variable set in the environment
 * wins, unless it is empty and the file sets it). `envFile` names the file; when it is
 * undefined `.env` in the working directory is read if it exists. A named file that is missing,
 * or a line of the file that sets nothing or a rate twice (parseEnvFile), is a ConfigError.
 * Kept apart from config.ts, which the parallel engine's workers load: they never read dotenv.
 */
export async function loadEnv(processEnv: Env, envFile: string | undefined, cwd: string = process.cwd()): Promise<Record<string, string>> {
  const merged: Record<string, string> = Object.create(null);
  const path = envFile ?? `${cwd}/.env`;
  if (envFile !== undefined || existsSync(path)) {
    let text: string;
    try {
      text = await readConfigText(path);
    } catch (err) {
      throw new ConfigError(`cannot read env file ${path}: ${systemReason(err)}`);
    }
    Object.assign(merged, parseEnvFile(text, path));
  }
  // An empty variable (as `KEY=${KEY}` in a compose file passes on when KEY is unset) does not hide the file's value.
  for (const [k, v] of Object.entries(processEnv)) if (v !== undefined && (v !== '' || !(k in merged))) merged[k] = v;
  return merged;
}
