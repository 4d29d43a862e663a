/**
 * The `mr` command lines the deploy files run (the CronJobs' and Jobs' `mr` containers, the
 * Compose services of the `mr` image), checked against the built CLI's own help: the command
 * exists, every flag (long or short) is one of its options, an option that takes a value has
 * one and a flag that takes none is given none, a value of an option with choices is one of
 * them, and no flag is one that billing-period sets where it runs mr. Not judged: how flags
 * combine and what a value means beyond its choices (`--workers` with `--engine spark`,
 * `--max-rejects ten`), which mr checks when it runs. A renamed flag would otherwise pass every schema
 * and make each scheduled run exit 2. Variables (`$(LOG_SOURCE_PATH_AWS)`, `${BILLING_OUTPUT:-…}`)
 * stand for values and are not judged.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Obj } from './policy.js';

/** One command line: where it is (for messages) and mr's arguments, the command first. */
export interface CommandLine {
  readonly where: string;
  readonly args: readonly string[];
  /** What runs mr with these arguments when not mr itself (billing-period), and the flags it adds, which the arguments must not give. */
  readonly wrapper?: { readonly name: string; readonly sets: readonly string[] };
}

/** docker/billing-period.sh: mr with the billing period's --from, --to and --out added (it refuses them in its arguments). */
const BILLING_PERIOD = { name: 'billing-period', sets: ['--from', '--to', '--out'] } as const;

interface OptionHelp {
  /** Its long name (`--engine`). */
  readonly name: string;
  /** Takes a value (`--out <file>`). */
  readonly value: boolean;
  /** The values it accepts, when the help lists them. */
  readonly choices: readonly string[] | undefined;
}

/** The built CLI (dist/cli/main.js), from this module compiled into dist/ or run from its source. */
export function builtCli(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  return [join(here, '../../cli/main.js'), join(here, '../../dist/cli/main.js')].find((f) => existsSync(f));
}

/** What a command's `--help` says it takes: its options, and whether it takes arguments besides them (`<paths...>`). */
interface CommandHelp {
  readonly options: Map<string, OptionHelp>;
  readonly takesArguments: boolean;
}

/** A command's help: its options as its `--help` lists them, by long name and by short name (`-e`) where one is given, and whether it takes arguments; undefined when mr has no such command. */
function helpOf(cli: string, command: string): CommandHelp | undefined {
  const r = spawnSync(process.execPath, [cli, command, '--help'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '1000' } });
  if (r.status !== 0 || !r.stdout.startsWith(`Usage: mr ${command} `)) return undefined;
  // `Usage: mr aggregate [options] <paths...>`: anything after [options] is an argument.
  const takesArguments = /^Usage: mr \S+ \[options\] \S/.test(r.stdout);
  const options = new Map<string, OptionHelp>();
  const block = r.stdout.slice(r.stdout.indexOf('\nOptions:\n'));
  // An option's entry starts at a line `  --name <value>` or `  -x, --name`; its description may wrap onto lines below.
  for (const entry of block.split(/\n(?= {2}-)/).slice(1)) {
    const m = /^ {2}(?:(-\w), )?(--[a-z][a-z0-9-]*)( <[^>]+>| \[[^\]]+\])?/.exec(entry);
    if (m === null) continue;
    const choices = /\(choices: ((?:"[^"]*"(?:, )?)+)/.exec(entry.replace(/\s+/g, ' '));
    const option = { name: m[2]!, value: m[3] !== undefined, choices: choices === null ? undefined : [...choices[1]!.matchAll(/"([^"]*)"/g)].map((c) => c[1]!) };
    options.set(m[2]!, option);
    if (m[1] !== undefined) options.set(m[1], option);
  }
  return { options, takesArguments };
}

const isVariable = (arg: string) => /\$[({]/.test(arg);

/** One line per problem in `lines`, judged by the help of `cli`. */
export function commandErrors(lines: readonly CommandLine[], cli: string): string[] {
  const errors: string[] = [];
  const helps = new Map<string, CommandHelp | undefined>();
  for (const { where, args, wrapper } of lines) {
    const command = args[0] ?? '';
    if (!helps.has(command)) helps.set(command, helpOf(cli, command));
    const help = helps.get(command);
    if (help === undefined) {
      errors.push(`${where}: \`mr ${command}\` is not a command of mr`);
      continue;
    }
    const { options, takesArguments } = help;
    const argument = (arg: string) => {
      if (!takesArguments) errors.push(`${where}: \`mr ${command}\` takes no argument, and is given ${arg}`);
    };
    for (let i = 1; i < args.length; i++) {
      const arg = args[i]!;
      // `--` ends the options: what follows are arguments (paths), as mr reads them.
      if (arg === '--') {
        args.slice(i + 1).forEach(argument);
        break;
      }
      // `-` is standard input, a path; `-x` a short flag; `--name` or `--name=value` a long one.
      if (!arg.startsWith('-') || arg === '-') {
        argument(arg);
        continue;
      }
      const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
      const option = options.get(flag);
      if (option === undefined) {
        errors.push(`${where}: \`mr ${command}\` has no option ${flag}`);
        continue;
      }
      if (wrapper?.sets.includes(option.name) === true) errors.push(`${where}: ${option.name} is set by ${wrapper.name}, which refuses it in its arguments`);
      if (!option.value) {
        if (inline !== undefined) errors.push(`${where}: ${flag} takes no value`);
        continue;
      }
      const value = inline ?? args[++i];
      if (value === undefined) errors.push(`${where}: ${flag} needs a value`);
      else if (option.choices !== undefined && !isVariable(value) && !option.choices.includes(value)) {
        errors.push(`${where}: ${flag} ${value} is not one of ${option.choices.join(', ')}`);
      }
    }
  }
  return errors;
}

/** The command lines of the `mr` containers of rendered Kubernetes objects (CronJobs, Jobs). */
export function kubernetesCommandLines(objs: readonly Obj[], where: string): CommandLine[] {
  const lines: CommandLine[] = [];
  for (const o of objs) {
    const pod: Obj | undefined = o['kind'] === 'CronJob' ? o['spec']?.['jobTemplate']?.['spec']?.['template']?.['spec'] : o['kind'] === 'Job' ? o['spec']?.['template']?.['spec'] : undefined;
    for (const c of (pod?.['containers'] ?? []) as Obj[]) {
      if (c['name'] !== 'mr' || !Array.isArray(c['args'])) continue;
      const through = Array.isArray(c['command']) && c['command'].some((part: unknown) => String(part).endsWith('/billing-period'));
      lines.push({ where: `${where}: ${o['kind']}/${o['metadata']?.['name']}`, args: c['args'].map(String), ...(through ? { wrapper: BILLING_PERIOD } : {}) });
    }
  }
  return lines;
}

/** The command lines of the Compose services that run the `mr` image. */
export function composeCommandLines(compose: Obj, where: string): CommandLine[] {
  return Object.entries((compose['services'] ?? {}) as Obj)
    .filter(([, svc]) => /^mr(:|$)/.test(String(svc['image'] ?? '')) && Array.isArray(svc['command']))
    .map(([name, svc]) => ({ where: `${where}: services.${name}`, args: (svc['command'] as unknown[]).map(String) }));
}
