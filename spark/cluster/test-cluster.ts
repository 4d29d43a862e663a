/**
 * For the integration tests: a Spark Connect server to run against. SPARK_REMOTE when it
 * is set (and answers); else the local cluster, provisioned and started when it is not
 * running. `release()` stops the local cluster only if this call started it (set
 * MR_SPARK_KEEP=1 to leave it running for the next test run).
 */
import { sparkDown, sparkStatus, sparkUp } from './cluster.js';
import { RunFailure } from '../../engine/core/errors.js';
import { connectAnswers } from './cluster.js';

export interface TestCluster {
  readonly remote: string;
  readonly startedHere: boolean;
  release(): Promise<void>;
}

export async function acquireTestCluster(log: (m: string) => void = (m) => process.stderr.write(`[spark] ${m}\n`)): Promise<TestCluster> {
  const remote = process.env['SPARK_REMOTE'];
  if (remote !== undefined && remote !== '') {
    if (!(await connectAnswers(remote, 30_000))) throw new RunFailure(`SPARK_REMOTE=${remote} does not answer`);
    return { remote, startedHere: false, release: async () => undefined };
  }
  const status = await sparkStatus({ log });
  if (status.ready) return { remote: status.remote, startedHere: false, release: async () => undefined };
  const anyRunning = status.components.some((c) => c.running);
  const t0 = Date.now();
  const up = await sparkUp({ log });
  log(`local cluster up in ${((Date.now() - t0) / 1000).toFixed(1)} s at ${up.remote}`);
  const startedHere = !anyRunning;
  return {
    remote: up.remote,
    startedHere,
    release: async () => {
      if (startedHere && process.env['MR_SPARK_KEEP'] !== '1') await sparkDown({ log });
    },
  };
}
