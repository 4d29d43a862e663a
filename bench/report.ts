/** Presenting results: the machine, a text and a markdown table, the JSON file and the SVG chart. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem, release, platform } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';
import { sizeLabel, usersLabel, variantLabel } from './datasets.js';
import type { Entry } from './measure.js';

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  readonly duckdb: string | null;
  readonly loadAverage1mAtStart: number | null;
  readonly commit: string | null;
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1]!.trim();
  } catch {
    // not Linux
  }
  return cpus()[0]?.model ?? 'unknown';
}

export function machineInfo(): Machine {
  let duckdb: string | null = null;
  try {
    duckdb = (JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', '@duckdb', 'node-api', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    duckdb = null;
  }
  // MR_BENCH_COMMIT names the commit when running from an exported tree (no .git).
  let commit: string | null = process.env.MR_BENCH_COMMIT ?? null;
  if (commit === null) try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    commit = null;
  }
  let load: number | null = null;
  try {
    load = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    load = null;
  }
  return {
    cpu: cpuModel(),
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    os: `${platform()} ${release()}`,
    node: process.version,
    duckdb,
    loadAverage1mAtStart: load,
    commit,
  };
}

export function describeMachine(m: Machine): string {
  return `${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB RAM, ${m.os}, Node ${m.node}, DuckDB ${m.duckdb ?? '?'} (@duckdb/node-api), commit ${m.commit ?? '?'}`;
}

const num = (x: number | null, digits: number) => (x === null || !Number.isFinite(x) ? '–' : x.toFixed(digits));
const rows = (x: number | null) => (x === null ? '–' : x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(0)} k`);

export const TABLE_HEADER = ['dataset', 'engine', 'runs', 'mean s', 'min s', 'rows/s', 'MiB/s', '× naive', '× DuckDB', '× DuckDB simplest', 'spark ÷ plain', 'peak RSS MiB', 'start-up s', 'status'];

export function tableRows(entries: readonly Entry[]): string[][] {
  return entries.map((e) => [
    `${e.format} ${sizeLabel(e.sizeMiB)} ${usersLabel(e.users)}u`,
    e.engine,
    String(e.samples),
    num(e.meanS, 2),
    num(e.minS, 2),
    rows(e.rowsPerS),
    num(e.mibPerS, 1),
    num(e.speedupVsNaive, 2),
    num(e.ratioVsDuckdb, 2),
    num(e.ratioVsDuckdbSimplest, 2),
    num(e.sparkOverPlain, 2),
    num(e.peakRssMiB, 0),
    num(e.startupS, 2),
    e.status === 'ok' ? 'ok' : `${e.status}: ${(e.note ?? '').slice(0, 80)}`,
  ]);
}

export function textTable(header: readonly string[], body: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const isNum = header.map((_, i) => body.length > 0 && body.every((r) => /^[–\d.\s kM×]+$/.test(r[i]!)));
  const line = (r: readonly string[]) => r.map((c, i) => (isNum[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function markdownTable(header: readonly string[], body: readonly (readonly string[])[]): string {
  const numeric = header.map((_, i) => body.length > 0 && body.every((r) => /^[–\d.\s kM]+$/.test(r[i]!)));
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `|${header.map((_, i) => (numeric[i] ? '---:' : '---')).join('|')}|`,
    ...body.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

/** Entries of the users sweep: the original format's sizes measured at two or more user counts. */
function sweepEntries(entries: readonly Entry[]): Entry[] {
  const ok = entries.filter((e) => e.status === 'ok' && e.mibPerS !== null && e.format === 'space');
  const usersAt = new Map<number, Set<number>>();
  for (const e of ok) usersAt.set(e.sizeMiB, (usersAt.get(e.sizeMiB) ?? new Set()).add(e.users));
  return ok.filter((e) => (usersAt.get(e.sizeMiB)?.size ?? 0) >= 2);
}

export const USERS_HEADER = ['size', 'engine', 'users', 'MiB/s', '× fewest users', 'peak RSS MiB'];

/**
 * Throughput against users: for each engine on the users sweep, MiB/s at each user count and
 * its share of the rate at the fewest users (issue 15's target: 1M users at 0.5 or more).
 */
export function usersRows(entries: readonly Entry[]): string[][] {
  const sweep = sweepEntries(entries);
  const out: string[][] = [];
  for (const size of [...new Set(sweep.map((e) => e.sizeMiB))].sort((a, b) => a - b)) {
    const here = sweep.filter((e) => e.sizeMiB === size);
    for (const engine of [...new Set(here.map((e) => e.engine))]) {
      const rows = here.filter((e) => e.engine === engine).sort((a, b) => a.users - b.users);
      const base = rows[0]!.mibPerS!;
      for (const e of rows) out.push([sizeLabel(size), engine, usersLabel(e.users), num(e.mibPerS, 1), num(e.mibPerS! / base, 2), num(e.peakRssMiB, 0)]);
    }
  }
  return out;
}

export const WORKERS_HEADER = ['dataset', 'workers', 'MiB/s', '× 1 worker', 'peak RSS MiB'];

/** Throughput against workers: the parallel engine on each dataset at each worker count, against its rate at 1 worker. */
export function workersRows(entries: readonly Entry[]): string[][] {
  const par = entries.filter((e) => e.status === 'ok' && e.kind === 'parallel' && e.workers !== null && e.mibPerS !== null);
  const out: string[][] = [];
  for (const dataset of [...new Set(par.map((e) => e.dataset))]) {
    const rows = par.filter((e) => e.dataset === dataset).sort((a, b) => a.workers! - b.workers!);
    if (rows.length < 2) continue;
    const one = rows.find((e) => e.workers === 1)?.mibPerS ?? null;
    for (const e of rows) out.push([`${e.format} ${sizeLabel(e.sizeMiB)} ${usersLabel(e.users)}u`, String(e.workers), num(e.mibPerS, 1), one === null ? '–' : num(e.mibPerS! / one, 2), num(e.peakRssMiB, 0)]);
  }
  return out;
}

const ENGINE_ORDER = ['naive', 'parallel-1w', 'parallel-2w', 'parallel-4w', 'parallel-8w', 'spark', 'spark-plain', 'duckdb', 'duckdb-simplest'];

/**
 * Vega-Lite spec, three charts one above the other: throughput (MiB/s, best run) against
 * input size (one line per engine, one panel per format and user count), against users (the
 * users sweep, one line per engine) and against workers (the parallel engine, one line per
 * dataset). Rendered to SVG by vega's headless View (no browser).
 */
export function chartSpec(entries: readonly Entry[], title: string): Record<string, unknown> {
  const values = entries
    .filter((e) => e.status === 'ok' && e.mibPerS !== null)
    .map((e) => ({ panel: variantLabel(e), sizeMiB: e.sizeMiB, mibPerS: Number(e.mibPerS!.toFixed(2)), engine: e.engine }));
  const sizes = [...new Set(values.map((v) => v.sizeMiB))].sort((a, b) => a - b);
  const bySize = {
    data: { values },
    facet: { column: { field: 'panel', type: 'nominal', title: null, sort: ['original format, 1k users', 'original format, 1M users', 'CSV, 1k users', 'CSV, 1M users'] } },
    spec: {
      width: 220,
      height: 220,
      title: 'against input size',
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'sizeMiB', type: 'quantitative', scale: { type: 'log', base: 2, domain: [sizes[0] ?? 1, sizes.at(-1) ?? 1] }, title: 'input size (MiB, log scale)', axis: { values: sizes } },
        y: { field: 'mibPerS', type: 'quantitative', scale: { type: 'log' }, title: 'throughput (MiB/s, best run, log scale)' },
        color: { field: 'engine', type: 'nominal', title: 'engine', sort: ENGINE_ORDER },
        tooltip: [{ field: 'engine' }, { field: 'sizeMiB' }, { field: 'mibPerS' }],
      },
    },
    resolve: { scale: { y: 'shared' } },
  };
  const charts: Record<string, unknown>[] = [bySize];
  const sweep = sweepEntries(entries).map((e) => ({ size: sizeLabel(e.sizeMiB), users: e.users, mibPerS: Number(e.mibPerS!.toFixed(2)), engine: e.engine }));
  if (sweep.length > 0) {
    const users = [...new Set(sweep.map((v) => v.users))].sort((a, b) => a - b);
    charts.push({
      data: { values: sweep },
      width: 420,
      height: 260,
      title: `against users (original format, ${[...new Set(sweep.map((v) => v.size))].join(', ')})`,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'users', type: 'quantitative', scale: { type: 'log', domain: [users[0]!, users.at(-1)!] }, title: 'distinct users (log scale)', axis: { values: users } },
        y: { field: 'mibPerS', type: 'quantitative', scale: { type: 'log' }, title: 'throughput (MiB/s, best run, log scale)' },
        color: { field: 'engine', type: 'nominal', title: 'engine', sort: ENGINE_ORDER },
        tooltip: [{ field: 'engine' }, { field: 'users' }, { field: 'mibPerS' }],
      },
    });
  }
  const par = entries.filter((e) => e.status === 'ok' && e.kind === 'parallel' && e.workers !== null && e.mibPerS !== null);
  const scaled = par.filter((e) => par.filter((x) => x.dataset === e.dataset).length >= 2).map((e) => ({ dataset: e.dataset, workers: e.workers!, mibPerS: Number(e.mibPerS!.toFixed(2)) }));
  if (scaled.length > 0) {
    const workers = [...new Set(scaled.map((v) => v.workers))].sort((a, b) => a - b);
    charts.push({
      data: { values: scaled },
      width: 420,
      height: 260,
      title: 'parallel engine against workers',
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'workers', type: 'quantitative', scale: { domain: [workers[0]!, workers.at(-1)!] }, title: 'worker threads', axis: { values: workers } },
        y: { field: 'mibPerS', type: 'quantitative', title: 'throughput (MiB/s, best run)' },
        color: { field: 'dataset', type: 'nominal', title: 'dataset' },
        tooltip: [{ field: 'dataset' }, { field: 'workers' }, { field: 'mibPerS' }],
      },
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'mr aggregate throughput', subtitle: title },
    vconcat: charts,
    resolve: { scale: { color: 'independent' } },
    config: { font: 'sans-serif', background: 'white' },
  };
}

export async function renderSvg(spec: Record<string, unknown>): Promise<string> {
  const vega = await import('vega');
  const { compile } = await import('vega-lite');
  const compiled = compile(spec as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
