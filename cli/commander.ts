/**
 * commander, the command line's parser, required rather than imported: see README.md,
 * "Build and start-up". Its classes are values and types, as an import of them would be.
 */
import { createRequire } from 'node:module';

const commander = createRequire(import.meta.url)('commander') as typeof import('commander');

export const { Command, CommanderError, InvalidArgumentError, Option } = commander;
export type Command = import('commander').Command;
export type CommanderError = import('commander').CommanderError;
export type InvalidArgumentError = import('commander').InvalidArgumentError;
export type Option = import('commander').Option;
