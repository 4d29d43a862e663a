/**
 * Spark in the benchmark: included when a Spark Connect endpoint answers ($SPARK_REMOTE, else
 * sc://127.0.0.1:15002), or with --spark, which starts a local cluster with `mr spark up` first
 * (its start-up time is reported apart) and stops it again at the end.
 */
import { parseRemote, resolveRemote } from '@mr/spark-connect';
import { tcpAnswers } from '../spark/cluster/cluster.js';
import { MR_MAIN } from './paths.js';
import { runChild } from './child.js';
import { childEnv } from './engines.js';

export interface SparkSetup {
  readonly remote: string | null;
  readonly clusterStartSeconds: number | null;
  readonly note: string | null;
  readonly stop?: () => Promise<void>;
}

/** sc://host:port[/;params] → host and port (default 15002); null when it is not a Spark Connect address. */
export function hostPort(remote: string): { host: string; port: number } | null {
  try {
    const { host, port } = parseRemote(remote);
    return { host: host.replace(/^\[|\]$/g, ''), port };
  } catch {
    return null;
  }
}

/** A Spark Connect endpoint accepts a TCP connection. */
function answers(remote: string, timeoutMs = 1000): Promise<boolean> {
  const hp = hostPort(remote);
  return hp === null ? Promise.resolve(false) : tcpAnswers(hp.host, hp.port, timeoutMs);
}

export async function prepareSpark(start: boolean, log: (line: string) => void): Promise<SparkSetup> {
  const remote = resolveRemote(undefined);
  if (await answers(remote)) {
    log(`spark: ${remote} answers; included`);
    return { remote, clusterStartSeconds: null, note: null };
  }
  if (!start) return { remote: null, clusterStartSeconds: null, note: null };
  log('spark: no endpoint answers; starting one with `mr spark up` ...');
  const up = await runChild(process.execPath, [MR_MAIN, 'spark', 'up'], { env: childEnv() });
  if (up.code !== 0) {
    const why = /unknown command/i.test(up.stderr) ? '`mr spark up` is not available in this build' : `\`mr spark up\` exited with ${up.code}: ${up.stderr.trim().split('\n').slice(-3).join(' ')}`;
    log(`spark: left out: ${why}`);
    return { remote: null, clusterStartSeconds: null, note: `spark left out: ${why}` };
  }
  const local = 'sc://127.0.0.1:15002';
  log(`spark: cluster up in ${up.seconds.toFixed(1)} s`);
  return {
    remote: local,
    clusterStartSeconds: up.seconds,
    note: `spark: local cluster started by \`mr spark up\` in ${up.seconds.toFixed(1)} s (not part of any entry's time)`,
    stop: async () => {
      log('spark: stopping the cluster this run started (`mr spark down`)');
      await runChild(process.execPath, [MR_MAIN, 'spark', 'down'], { env: childEnv() });
    },
  };
}
