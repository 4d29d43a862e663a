/**
 * Guarantees of the spark engine under faults, against a real local cluster of its own
 * (its own run directory and ports, so killing its Connect server cannot disturb another
 * test's cluster):
 * - every socket the Spark processes listen on (master, worker, Connect server and the
 *   executors they start) is bound to 127.0.0.1 (from /proc/net/tcp and tcp6);
 * - a truncated gzip and a file that vanishes after planning: exit 1, a message naming the
 *   file, no bill;
 * - SIGTERM at random moments of a run: exit 143 (or 0 once done), no staging file, and no
 *   Spark job left running on the Connect server (its REST API);
 * - the Connect server killed (SIGKILL) mid-job: exit 1 with a clear message, no bill, no
 *   temporary file. That test runs last; afterAll stops the rest of the cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { cleanupTempDirs, reportedErrors, tempDir } from '../../fixtures/harness.js';
import { RATES_ENV, runMr, startCli } from '../../fixtures/guarantees.js';
import { sparkDown, sparkUp, type ClusterOptions } from '../cluster/cluster.js';
import { prng } from '../../engine/generate/generator.js';

const PORTS = { masterPort: 17177, masterWebUiPort: 18180, workerWebUiPort: 18181, connectPort: 15202, driverUiPort: 14240 };
let cluster: ClusterOptions;
let remote: string;
let dir: string;

beforeAll(async () => {
  dir = tempDir('mr-spark-faults-');
  cluster = { ...PORTS, runDir: join(dir, 'spark-run'), workerCores: 2, workerMemory: '2g', log: (m) => process.stderr.write(`[spark-faults] ${m}\n`) };
  const up = await sparkUp(cluster);
  remote = up.remote;
  writeFileSync(join(dir, '.env'), RATES_ENV);
  const gen = await runMr(['generate', '--out', 'big/big.log', '--size', '192MiB', '--bad', '0.001'], { cwd: dir });
  expect(gen.code, gen.stderr).toBe(0);
}, 600_000);

afterAll(async () => {
  if (cluster !== undefined) await sparkDown(cluster);
  cleanupTempDirs();
}, 120_000);

function aggregateArgs(inputs: string[], out: string): string[] {
  return ['aggregate', ...inputs, '--engine', 'spark', '--remote', remote, '--out', `${out}/billing.txt`, '--no-progress'];
}

/** The jobs the Connect server's application is running now (the driver's REST API). */
async function runningJobs(): Promise<unknown[]> {
  const apps = (await (await fetch(`http://127.0.0.1:${PORTS.driverUiPort}/api/v1/applications`)).json()) as Array<{ id: string }>;
  const running: unknown[] = [];
  for (const app of apps) {
    running.push(...((await (await fetch(`http://127.0.0.1:${PORTS.driverUiPort}/api/v1/applications/${app.id}/jobs?status=running`)).json()) as unknown[]));
  }
  return running;
}

function expectFailure(r: { code: number | string; stderr: string }, out: string, message: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  const errors = reportedErrors(r.stderr);
  expect(errors, r.stderr).toHaveLength(1);
  const line = errors[0];
  process.stderr.write(`[spark-faults] ${out}: ${line}\n`);
  expect(line, r.stderr).toMatch(message);
  expect(line!.length, 'one readable line').toBeLessThan(2000);
  expect(existsSync(join(dir, out)) ? readdirSync(join(dir, out)) : [], 'nothing left in the output dir').toEqual([]);
}

/** pid → parent pid, for every process. */
function parents(): Map<number, number> {
  const m = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      m.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  return m;
}

/** The cluster's processes: the pids of its pid files and all their descendants (executors). */
function clusterPids(): number[] {
  const roots = ['master', 'worker', 'connect'].map((n) => Number(readFileSync(join(cluster.runDir!, `${n}.pid`), 'utf8').trim()));
  const pp = parents();
  const all = new Set(roots);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of pp) if (all.has(ppid) && !all.has(pid)) grew = all.add(pid) !== undefined;
  }
  return [...all];
}

/** Listening TCP sockets (v4 and v6) by inode: the local address as hex. */
function listeningSockets(): Map<string, { family: string; address: string; port: number }> {
  const out = new Map<string, { family: string; address: string; port: number }>();
  for (const family of ['tcp', 'tcp6']) {
    const lines = readFileSync(`/proc/net/${family}`, 'utf8').trim().split('\n').slice(1);
    for (const l of lines) {
      const f = l.trim().split(/\s+/);
      if (f[3] !== '0A') continue; // LISTEN
      const [addr, port] = f[1]!.split(':');
      out.set(f[9]!, { family, address: addr!, port: parseInt(port!, 16) });
    }
  }
  return out;
}

const LOOPBACK_V4 = '0100007F'; // 127.0.0.1, little-endian
const LOOPBACK_V4_MAPPED = '0000000000000000FFFF00000100007F'; // ::ffff:127.0.0.1

describe('spark engine under faults (a cluster of its own)', () => {
  it('a run works, and every listening socket of every Spark process is on 127.0.0.1', async () => {
    mkdirSync(join(dir, 'ok'));
    writeFileSync(join(dir, 'ok', 'a.log'), '2025-05-02T10:00:00Z user1 login 200 100ms\n');
    const r = await runMr(aggregateArgs(['ok'], 'ok-out'), { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(dir, 'ok-out', 'billing.txt'), 'utf8')).toBe('user1: total_duration=100ms, total_cost=0.50\n');

    const sockets = listeningSockets();
    const seen: string[] = [];
    const pids = clusterPids();
    for (const pid of pids) {
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        let link: string;
        try {
          link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          continue;
        }
        const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
        const s = inode === undefined ? undefined : sockets.get(inode);
        if (s === undefined) continue;
        seen.push(`${pid} ${s.family} ${s.address}:${s.port}`);
        expect([LOOPBACK_V4, LOOPBACK_V4_MAPPED], `pid ${pid} listens on ${s.family} ${s.address}:${s.port}`).toContain(s.address);
      }
    }
    process.stderr.write(`[spark-faults] listening sockets of ${pids.length} Spark processes:\n  ${seen.join('\n  ')}\n`);
    const ports = new Set(seen.map((s) => Number(s.split(':').pop())));
    // At least the master, the worker's UI and the Connect server were found listening.
    for (const p of [PORTS.masterPort, PORTS.workerWebUiPort, PORTS.connectPort]) expect(ports, `port ${p}`).toContain(p);
  }, 180_000);

  it('a truncated gzip → exit 1 naming the file, no bill', async () => {
    mkdirSync(join(dir, 'gz'));
    writeFileSync(join(dir, 'gz', 'cut.log.gz'), gzipSync(Buffer.from('2025-05-02T10:00:00Z user1 login 200 100ms\n'.repeat(50_000))).subarray(0, 3000));
    const r = await runMr(aggregateArgs(['gz'], 'gz-out'), { cwd: dir });
    // The decompressor's own reason, from the failure's cause chain on the cluster.
    expectFailure(r, 'gz-out', /cut\.log\.gz: Unexpected end of input stream \(a corrupt or truncated gzip stream\?\)/);
  }, 180_000);

  it('bytes after a gzip file\'s last member (a NUL, then another member) → exit 1 naming the file, no bill (README decision 44)', async () => {
    const member = gzipSync(Buffer.from('2025-05-02T10:00:00Z user1 login 200 100ms\n'));
    for (const [name, bytes] of [
      ['nul.log.gz', Buffer.concat([member, Buffer.alloc(1)])],
      ['nul-member.log.gz', Buffer.concat([member, Buffer.from('\0x'), member])],
    ] as const) {
      const sub = `gz-${name.split('.')[0]}`;
      mkdirSync(join(dir, sub));
      writeFileSync(join(dir, sub, name), bytes);
      const r = await runMr(aggregateArgs([sub], `${sub}-out`), { cwd: dir });
      expectFailure(r, `${sub}-out`, new RegExp(name.replace(/\./g, '\\.')));
    }
  }, 180_000);

  it('a file that vanishes after planning → exit 1 naming the file, no bill', async () => {
    mkdirSync(join(dir, 'gone'));
    writeFileSync(join(dir, 'gone', 'b.log'), '2025-05-02T10:00:00Z user1 login 200 100ms\n');
    const run = startCli(aggregateArgs(['gone'], 'gone-out'), { cwd: dir });
    await run.waitFor('inputs found');
    rmSync(join(dir, 'gone', 'b.log'));
    const r = await run.done;
    expectFailure(r, 'gone-out', /gone\/b\.log/);
  }, 180_000);

  it('SIGTERM at random moments → exit 143 (or 0 once done), no bill or staging left, no Spark job left running', async () => {
    const seed = Number(process.env['MR_SIGNAL_SEED'] ?? Date.now() % 100000);
    const next = prng(seed);
    process.stderr.write(`[spark-faults] SIGTERM rounds: seed ${seed} (MR_SIGNAL_SEED to repeat)\n`);
    const t0 = Date.now();
    const whole = await runMr(aggregateArgs(['big'], 'sig-ref'), { cwd: dir });
    expect(whole.code, whole.stderr).toBe(0);
    const span = Date.now() - t0;
    const outcomes: string[] = [];
    for (let round = 0; round < 6; round++) {
      const out = `sig-${round}`;
      // Drawn over the first three quarters of a run's length: later runs are warmer and shorter
      // than the measured one, and a moment past their end interrupts nothing.
      const delay = Math.floor(next() * span * 0.75);
      const run = startCli(aggregateArgs(['big'], out), { cwd: dir });
      await new Promise((r) => setTimeout(r, delay));
      run.child.kill('SIGTERM');
      const r = await run.done;
      const where = `round ${round}, SIGTERM after ${delay} ms of a ${span} ms run: ${r.stderr}`;
      outcomes.push(String(r.code));
      if (r.code === 'SIGTERM') expect(r.stderr === '' || /bill written/.test(r.stderr), where).toBe(true);
      else expect([0, 143], where).toContain(r.code);
      const left = existsSync(join(dir, out)) ? readdirSync(join(dir, out)) : [];
      if (r.code === 0) expect(left.sort(), where).toEqual(['billing.detail.csv', 'billing.rejects.csv', 'billing.summary.json', 'billing.txt']);
      else expect(left.filter((n) => n.startsWith('.mr-')), where).toEqual([]);
      // The interrupted query does not run on in the cluster: the Connect server's application has no running job.
      const deadline = Date.now() + 20_000;
      let running: unknown[] = [];
      do {
        running = await runningJobs();
        if (running.length === 0) break;
        await new Promise((r) => setTimeout(r, 500));
      } while (Date.now() < deadline);
      expect(running, where).toEqual([]);
    }
    process.stderr.write(`[spark-faults] SIGTERM outcomes: ${outcomes.join(' ')}\n`);
    expect(outcomes.filter((c) => c === '143').length, 'most rounds interrupt a run under way').toBeGreaterThan(2);
  }, 600_000);

  // Last: the Connect server is gone afterwards.
  it('the Connect server killed mid-job → exit 1 with a clear message, no bill', async () => {
    const run = startCli(aggregateArgs(['big'], 'kill-out'), { cwd: dir });
    await run.waitFor('inputs found');
    // Killed while the cluster runs one of the bill's jobs (not after a fixed wait: a warm cluster bills this file in under 3 s).
    const deadline = Date.now() + 60_000;
    while ((await runningJobs()).length === 0 && run.child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(run.child.exitCode, run.stderr()).toBe(null); // still running
    const connectPid = Number(readFileSync(join(cluster.runDir!, 'connect.pid'), 'utf8').trim());
    const killedAt = Date.now();
    process.kill(connectPid, 'SIGKILL');
    const timer = setTimeout(() => run.child.kill('SIGKILL'), 60_000);
    const r = await run.done;
    clearTimeout(timer);
    expect(r.at - killedAt, 'seconds from the kill to exit').toBeLessThan(30_000);
    expectFailure(r, 'kill-out', /Spark Connect/i);
  }, 180_000);
});
