/**
 * What the cluster tests run against, provided by the test runner's global setup (the root
 * vitest config starts the repository's local cluster): `sparkConnectRemote`, a Spark
 * Connect server, and `sparkHome`, the Spark distribution it runs (whose spark-connect jar
 * holds Spark's .proto files). Run on their own, they read SPARK_REMOTE and SPARK_HOME.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import { resolveRemote } from '../../src/remote.js';

declare module 'vitest' {
  export interface ProvidedContext {
    sparkConnectRemote: string;
    sparkHome: string;
  }
}

export function testRemote(): string {
  return inject('sparkConnectRemote') ?? resolveRemote(undefined);
}

/** The Spark distribution the tests run against. */
export function sparkHome(): string {
  const home = inject('sparkHome') ?? process.env['SPARK_HOME'];
  if (home === undefined || home === '') throw new Error('no Spark distribution: set SPARK_HOME');
  return home;
}

/** The spark-connect jar of the distribution the tests run against. */
export function connectJar(): string {
  const jars = join(sparkHome(), 'jars');
  const name = readdirSync(jars).find((f) => /^spark-connect_2\.\d+-.*\.jar$/.test(f));
  if (name === undefined) throw new Error(`no spark-connect jar in ${jars}`);
  return join(jars, name);
}
