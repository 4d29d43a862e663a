/** `mr spark up|down|status`: the local Spark cluster (master, worker, Connect server) on 127.0.0.1. */
import { Command } from './commander.js';
import { loadEnv } from '../engine/core/config/env-file.js';
import { intInRange } from './options.js';

interface PortOptions {
  masterPort?: number;
  masterUiPort?: number;
  workerUiPort?: number;
  connectPort?: number;
  runDir?: string;
  envFile?: string;
}

function withPorts(cmd: Command): Command {
  return cmd
    .option('--connect-port <port>', 'Spark Connect port (default $SPARK_CONNECT_PORT, then 15002)', intInRange('--connect-port', 65535))
    .option('--master-port <port>', 'master port (default $SPARK_MASTER_PORT, then 7077)', intInRange('--master-port', 65535))
    .option('--master-ui-port <port>', 'master web UI port (default $SPARK_MASTER_WEBUI_PORT, then 8080)', intInRange('--master-ui-port', 65535))
    .option('--worker-ui-port <port>', 'worker web UI port (default $SPARK_WORKER_WEBUI_PORT, then 8081)', intInRange('--worker-ui-port', 65535))
    .option('--run-dir <dir>', 'logs and pid files (default $MR_SPARK_RUN_DIR, then ~/.cache/mr/spark-run)')
    .option('--env-file <file>', 'SPARK_* settings from this file (default: .env when it exists)');
}

async function clusterOptions(o: PortOptions) {
  const env = await loadEnv(process.env, o.envFile);
  return {
    env,
    connectPort: o.connectPort,
    masterPort: o.masterPort,
    masterWebUiPort: o.masterUiPort,
    workerWebUiPort: o.workerUiPort,
    runDir: o.runDir,
    log: (m: string) => process.stderr.write(`${m}\n`),
  };
}

export function registerSpark(program: Command): void {
  const spark = program.command('spark').description('A local Spark cluster (master, worker, Connect server) bound to 127.0.0.1');
  withPorts(spark.command('up').description('Start what is not running and wait until Spark Connect answers')).action(async (o: PortOptions) => {
    const { sparkUp, formatStatus } = await import('../spark/cluster/cluster.js');
    process.stdout.write(`${formatStatus(await sparkUp(await clusterOptions(o)))}\n`);
  });
  withPorts(spark.command('down').description('Stop exactly what `mr spark up` started')).action(async (o: PortOptions) => {
    const { sparkDown } = await import('../spark/cluster/cluster.js');
    const { stopped } = await sparkDown(await clusterOptions(o));
    process.stdout.write(stopped.length > 0 ? `stopped: ${stopped.join(', ')}\n` : 'nothing was running\n');
  });
  withPorts(spark.command('status').description('Say what runs and whether Spark Connect answers')).action(async (o: PortOptions) => {
    const { sparkStatus, formatStatus } = await import('../spark/cluster/cluster.js');
    process.stdout.write(`${formatStatus(await sparkStatus(await clusterOptions(o), { probe: true }))}\n`);
  });
}
