/**
 * The `mr` command lines the deploy files run (the CronJobs' and Jobs' `mr` containers, the
 * Compose services of the `mr` image), checked against the built CLI's own help: the command
 * exists, every flag is one of its options, an option that takes a value has one, and a value
 * of an option with choices is one of them. A renamed flag would otherwise pass every schema
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
}

interface OptionHelp {
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

/** A command's options as its `--help` lists them; undefined when mr has no such command. */
function optionsOf(cli: string, command: string): Map<string, OptionHelp> | undefined {
  const r = spawnSync(process.execPath, [cli, command, '--help'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '1000' } });
  if (r.status !== 0 || !r.stdout.startsWith(`Usage: mr ${command} `)) return undefined;
  const options = new Map<string, OptionHelp>();
  const block = r.stdout.slice(r.stdout.indexOf('\nOptions:\n'));
  // An option's entry starts at a line `  --name <value>` or `  -x, --name`; its description may wrap onto lines below.
  for (const entry of block.split(/\n(?= {2}-)/).slice(1)) {
    const m = /^ {2}(?:-\w, )?(--[a-z][a-z0-9-]*)( <[^>]+>| \[[^\]]+\])?/.exec(entry);
    if (m === null) continue;
    const choices = /\(choices: ((?:"[^"]*"(?:, )?)+)/.exec(entry.replace(/\s+/g, ' '));
    options.set(m[1]!, { value: m[2] !== undefined, choices: choices === null ? undefined : [...choices[1]!.matchAll(/"([^"]*)"/g)].map((c) => c[1]!) });
  }
  return options;
}

const isVariable = (arg: string) => /\$[({]/.test(arg);

/** One line per problem in `lines`, judged by the help of `cli`. */
export function commandErrors(lines: readonly CommandLine[], cli: string): string[] {
  const errors: string[] = [];
  const helps = new Map<string, Map<string, OptionHelp> | undefined>();
  for (const { where, args } of lines) {
    const command = args[0] ?? '';
    if (!helps.has(command)) helps.set(command, optionsOf(cli, command));
    const options = helps.get(command);
    if (options === undefined) {
      errors.push(`${where}: \`mr ${command}\` is not a command of mr`);
      continue;
    }
    for (let i = 1; i < args.length; i++) {
      const arg = args[i]!;
      if (!arg.startsWith('--')) continue;
      const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
      const option = options.get(flag);
      if (option === undefined) {
        errors.push(`${where}: \`mr ${command}\` has no option ${flag}`);
        continue;
      }
      if (!option.value) continue;
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
      if (c['name'] === 'mr' && Array.isArray(c['args'])) lines.push({ where: `${where}: ${o['kind']}/${o['metadata']?.['name']}`, args: c['args'].map(String) });
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
