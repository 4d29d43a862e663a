#!/usr/bin/env node
/** `npm run spark:install`: provisions the pinned Spark distribution and mr's executor functions' jar, and prints its SPARK_HOME. */
import { ensureSpark } from './install.js';
import { buildFunctionsJar } from '../functions/functions.js';

try {
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const home = await ensureSpark({ log });
  await buildFunctionsJar(home, process.env, log);
  process.stdout.write(`${home}\n`);
} catch (err) {
  process.stderr.write(`spark:install: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
