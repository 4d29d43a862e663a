#!/usr/bin/env node
/** Entry point of the `mr` binary. */
import { main } from './program.js';

process.exitCode = await main(process.argv);
