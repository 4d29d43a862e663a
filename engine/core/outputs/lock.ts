/**
 * One run at a time per set of outputs: a lock file beside the bill
 * (`.billing.mr-lock`), taken before the run completes an earlier commit or reads
 * anything, and removed when it ends. A second run on the same `--out` fails at once
 * (exit 1) and changes nothing, where it would otherwise roll forward the first run's
 * commit while that run is renaming, or stage a set that replaces one the first run is
 * about to commit.
 *
 * The lock holds its run's pid and host name, written whole before the lock appears (made
 * under a temporary name and hard-linked into place, which fails when a lock exists), and the
 * run touches it every HEARTBEAT_MS. A lock is stale, and the next run takes it over and says
 * so, when its process is gone on this host (kill -9), or when it has not been touched for
 * STALE_MS whatever its host: a run in a container killed for memory leaves a lock that no
 * later container can check by pid (another host name, the same pids), and the next run after
 * that lease bills as usual. A stale lock is replaced by the new run's in one rename (its name
 * is never free, so no third run can link its own in meanwhile), by one run at a time: the one
 * that holds the takeover guard (`.billing.mr-lock.takeover`) and finds the lock unchanged.
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { stemWorkPath } from './paths.js';
import { linkSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { RunFailure, systemReason } from '../errors.js';
import { processAlive } from '../process-alive.js';

export interface OutputLock {
  readonly path: string;
  /** A stale lock (its run died) that this run took over: its holder's description. */
  readonly tookOver: string | undefined;
  /** Removes the lock if it is still this run's. */
  release(): void;
}

/** How often a run touches its lock. */
export const HEARTBEAT_MS = 10_000;
/** A lock untouched this long is stale whatever its host (twelve missed heartbeats). */
export const STALE_MS = 120_000;

export interface LockTiming {
  readonly heartbeatMs: number;
  readonly staleMs: number;
}

interface Holder {
  readonly pid: number;
  readonly host: string;
  /** The bill its run writes (absolute), when the lock says. */
  readonly bill: string | undefined;
}

/**
 * The lock of the outputs named after `bill`: a dot file beside it, named after the stem the
 * companions share (`billing.txt` and `billing.csv` both write `billing.detail.csv`, so they
 * take the same lock).
 */
export function lockPath(bill: string): string {
  return stemWorkPath(bill, '.mr-lock');
}

/** The temporary names a run gives its lock (before linking it into place) and a stale lock it takes over. */
export const LOCK_TMP = /\.mr-lock\.(\d+)\.(?:tmp|stale)$/;

function readHolder(path: string): { text: string; holder: Holder | undefined; touchedMs: number } | undefined {
  let text: string;
  let touchedMs: number;
  try {
    touchedMs = statSync(path).mtimeMs;
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const v = JSON.parse(text) as { pid?: unknown; host?: unknown; bill?: unknown };
    if (typeof v.pid === 'number' && Number.isSafeInteger(v.pid) && v.pid > 0 && typeof v.host === 'string') {
      return { text, holder: { pid: v.pid, host: v.host, bill: typeof v.bill === 'string' ? v.bill : undefined }, touchedMs };
    }
  } catch {
    // not ours, or damaged: judged below
  }
  return { text, holder: undefined, touchedMs };
}

/** Tries before a lock that keeps changing under a run is a failure. */
const MAX_ATTEMPTS = 40;
/** The guard of a takeover: `<lock>.takeover`, a link to the lock its run will put in place. */
export const GUARD_SUFFIX = '.takeover';
/** How long a run waits for another's takeover (a few file operations) before it looks again. */
const GUARD_WAIT_MS = 10;
/** A guard older than this was left by a run killed in the middle of a takeover. */
const GUARD_STALE_MS = 10_000;

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * The takeover guard, made as the lock is (a link to this run's lock file, which fails when a
 * guard exists): true when this run holds it. A guard whose run is gone on this host, or older
 * than GUARD_STALE_MS, is removed (the next try may then take it).
 */
function takeGuard(guard: string, tmp: string, host: string): boolean {
  try {
    linkSync(tmp, guard);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new RunFailure(`cannot lock the outputs: ${guard}: ${systemReason(err)}`);
  }
  const other = readHolder(guard);
  if (other === undefined) return false;
  const h = other.holder;
  const dead = h !== undefined && h.host === host && h.pid !== process.pid && !processAlive(h.pid);
  if (dead || Date.now() - other.touchedMs > GUARD_STALE_MS) rmSync(guard, { force: true });
  return false;
}

/** The locks this process holds, by absolute path. */
const held = new Set<string>();

function describe(h: Holder): string {
  return `pid ${h.pid} on ${h.host}`;
}

/**
 * Takes the lock of the outputs named after `bill` (whose directory exists). Throws a
 * RunFailure naming the holder when another live run has it.
 */
export function acquireOutputLock(bill: string, timing: LockTiming = { heartbeatMs: HEARTBEAT_MS, staleMs: STALE_MS }): OutputLock {
  const path = lockPath(bill);
  const host = hostname();
  const text = `${JSON.stringify({ pid: process.pid, host, bill: resolve(bill), started: new Date().toISOString() })}\n`;
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text, { mode: 0o644 });
  } catch (err) {
    // A full disk or a quota: nothing of the lock stays behind.
    rmSync(tmp, { force: true });
    throw new RunFailure(`cannot lock the outputs ${bill}: ${systemReason(err)}`);
  }
  let tookOver: string | undefined;
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(tmp, path);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new RunFailure(`cannot lock the outputs ${bill}: ${systemReason(err)}`);
        }
      }
      const seen = readHolder(path);
      if (seen === undefined) continue; // released meanwhile: try again
      const h = seen.holder;
      const lapsed = Date.now() - seen.touchedMs > timing.staleMs;
      if (!lapsed) {
        const remove = ` (if no mr run is writing this bill, remove ${path})`;
        if (h === undefined) throw new RunFailure(`the outputs ${bill} are locked by ${path}, which mr cannot read${remove}`);
        // Another bill of the same stem (billing.csv beside billing.txt) shares the companions: named as the holder wrote it.
        const theirs = h.bill !== undefined && h.bill !== resolve(bill) ? `${h.bill}, whose companion files are this bill's` : bill;
        const busy = `another mr run (${describe(h)}) is writing ${theirs}; wait for it or choose another --out${remove}`;
        if (h.host !== host) throw new RunFailure(busy);
        // The same pid as ours is this process's own lock, or one left by an earlier process that had this pid.
        if (h.pid === process.pid ? held.has(resolve(path)) : processAlive(h.pid)) throw new RunFailure(busy);
      }
      if (attempt >= MAX_ATTEMPTS) throw new RunFailure(`cannot lock the outputs ${bill}: the lock ${path} keeps changing`);
      // Stale: replaced by this run's lock in one rename, so that the lock's name is never
      // free for a moment, and under a guard that one run at a time holds, after checking
      // that the lock is still the one judged dead (another run may have taken it over since).
      const guard = `${path}${GUARD_SUFFIX}`;
      if (!takeGuard(guard, tmp, host)) {
        pause(GUARD_WAIT_MS);
        continue;
      }
      try {
        const now = readHolder(path);
        if (now === undefined || now.text !== seen.text || now.touchedMs !== seen.touchedMs) continue; // released or changed: judged again
        renameSync(tmp, path);
      } finally {
        rmSync(guard, { force: true });
      }
      tookOver = h === undefined ? 'a lock mr cannot read, untouched for over its lease' : `${describe(h)}${lapsed ? ', untouched for over its lease' : ''}`;
      break;
    }
  } finally {
    rmSync(tmp, { force: true });
  }
  held.add(resolve(path));
  const heartbeat = setInterval(() => {
    try {
      const now = new Date();
      if (readHolder(path)?.text === text) utimesSync(path, now, now);
    } catch {
      // gone, or the directory unreachable for a moment: the run's own writes will say so
    }
  }, timing.heartbeatMs);
  heartbeat.unref();
  return {
    path,
    tookOver,
    release(): void {
      clearInterval(heartbeat);
      held.delete(resolve(path));
      try {
        if (readHolder(path)?.text === text) rmSync(path, { force: true });
      } catch {
        // Its file system made read-only, or gone, under the run: the run's own outcome is what it reports (a failure
        // to write names the output), and a lock left behind by a process that has ended is taken over by the next run.
      }
    },
  };
}
