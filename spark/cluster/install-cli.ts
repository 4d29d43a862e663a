#!/usr/bin/env node
/** `npm run spark:install`: provisions the pinned Spark distribution and prints its SPARK_HOME. */
import { ensureSpark } from './install.js';

try {
  const home = await ensureSpark({ log: (m) => process.stderr.write(`${m}\n`) });
  process.stdout.write(`${home}\n`);
} catch (err) {
  process.stderr.write(`spark:install: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
