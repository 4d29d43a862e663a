/**
 * The layering of mr, checked by `npm run lint:arch` (part of `npm test`):
 * CLI → engines → core, the Spark Connect client on its own, no cycles.
 * Type-only imports count (tsPreCompilationDeps): a type is a dependency too.
 */

/**
 * Known violations present when these rules were written, allowed by name so that the rule
 * still fails on any new one. Remove an entry when its import is gone (the spark/ tree is
 * owned by the Spark work; see the README's Code shape paragraph).
 */
const KNOWN = {
  // The Spark Connect client throws engine's RunFailure (spark/connect/errors.ts): it should
  // define its own error class and let spark/job map it to engine's.
  connectImportsEngine: ['^spark/connect/errors\\.ts$'],
};

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-is-the-bottom',
      comment: 'engine/core is the contract shared by every engine: it imports no engine, CLI, Spark or bench code.',
      severity: 'error',
      from: { path: '^engine/core/' },
      to: { path: ['^engine/(naive|parallel)/', '^cli/', '^spark/', '^bench/'] },
    },
    {
      name: 'engines-below-cli',
      comment: 'The engines (naive, parallel, spark/job) are used by the CLI and the benchmarks, never the other way round.',
      severity: 'error',
      from: { path: ['^engine/naive/', '^engine/parallel/', '^spark/job/'] },
      to: { path: ['^cli/', '^bench/'] },
    },
    {
      name: 'connect-client-stands-alone',
      comment: 'spark/connect is a Spark Connect client: it imports nothing from engine/ (exceptions: KNOWN.connectImportsEngine).',
      severity: 'error',
      from: { path: '^spark/connect/', pathNot: KNOWN.connectImportsEngine },
      to: { path: '^engine/' },
    },
    {
      name: 'no-circular',
      comment: 'No module depends on itself through others.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'Every import resolves (a typo in a path is caught here too).',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['^dist/', '^node_modules/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.json'],
    },
  },
};
