/**
 * The layering of mr, checked by `npm run lint:arch` (part of `npm test`):
 * CLI → engines → core, the Spark Connect client package (spark/connect) on its own, no cycles.
 * Type-only imports count (tsPreCompilationDeps): a type is a dependency too.
 */

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
      from: { path: ['^engine/naive/', '^engine/parallel/', '^spark/job/', '^spark/functions/', '^spark/cluster/'] },
      to: { path: ['^cli/', '^bench/'] },
    },
    {
      name: 'connect-client-stands-alone',
      comment: 'spark/connect is a Spark Connect client package of its own: it imports nothing of the product, only itself, Node and its npm dependencies.',
      severity: 'error',
      from: { path: '^spark/connect/' },
      to: { pathNot: ['^spark/connect/', '(^|/)node_modules/'], dependencyTypesNot: ['core'] },
    },
    {
      name: 'connect-client-by-package-name',
      comment: 'The product uses the Spark Connect client like any library: by its package name (@mr/spark-connect), never by a path into its sources.',
      severity: 'error',
      from: { pathNot: '^spark/connect/' },
      to: { path: '^spark/connect/(src|test|proto)/' },
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
    // The client package is followed up to its published entry point, like any library.
    doNotFollow: { path: ['node_modules', '^spark/connect/dist/'] },
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
