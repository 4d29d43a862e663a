/**
 * Re-renders a results chart from its JSON, e.g. after a change of the chart's look:
 *
 *     node dist/bench/chart.js [bench/results/results.json] [bench/results/chart.svg]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESULTS_DIR } from './paths.js';
import { chartSpec, describeMachine, renderSvg, type Machine } from './report.js';
import type { Entry } from './measure.js';

const input = process.argv[2] ?? join(RESULTS_DIR, 'results.json');
const output = process.argv[3] ?? join(RESULTS_DIR, 'chart.svg');
const results = JSON.parse(readFileSync(input, 'utf8')) as { machine: Machine; startedAt: string; entries: Entry[] };
const title = `${describeMachine(results.machine)}; ${results.startedAt.slice(0, 10)}`;
writeFileSync(output, await renderSvg(chartSpec(results.entries, title)));
process.stderr.write(`wrote ${output}\n`);
