import { Option, type Command } from 'commander';
import { parseGrantValue, parseInstant, parseScopes } from '../args.parse.js';
import type { CliContext } from '../cli.context.js';
import type { GrantAnswer, KeyRotation, MintedApiKey, MintedToken, RevokeAnswer } from '../ledger-api.types.js';
import { formatGrant, formatRevoke, formatRotation, table } from '../output.format.js';

type Run = (command: Command, fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

const enc = encodeURIComponent;
const idempotency = (key: string | undefined): Record<string, string> => (key ? { 'idempotency-key': key } : {});
const idempotencyOption = (): Option =>
  new Option('--idempotency-key <key>', 'a retry with the same key records it once (1-128 of A-Z a-z 0-9 . _ : -)');

export function registerAdminCommands(program: Command, run: Run): void {
  program
    .command('grant')
    .description('grant a feature to a subject, beside its plan (admin; an event in the log)')
    .argument('<subject>')
    .argument('<feature>')
    .argument('<value>', 'true, false or a number', parseGrantValue)
    .requiredOption('--reason <reason>', 'why (kept in the history)')
    .addOption(new Option('--expires-at <time>', 'ISO-8601 end of the grant (default: until revoked)').argParser(parseInstant))
    .addOption(idempotencyOption())
    .action(
      (subject: string, feature: string, value: unknown, opts: { reason: string; expiresAt?: string; idempotencyKey?: string }, cmd: Command) =>
        run(cmd, async (ctx) => {
          const answer = await ctx.client.json<GrantAnswer>(`/v1/admin/subjects/${enc(subject)}/grants`, {
            body: { feature, value, reason: opts.reason, ...(opts.expiresAt !== undefined ? { expires_at: opts.expiresAt } : {}) },
            headers: idempotency(opts.idempotencyKey),
          });
          ctx.result(answer, (p) => formatGrant(answer, p));
        }),
    );

  program
    .command('revoke')
    .description("revoke a subject's admin grant of a feature (admin; an event in the log)")
    .argument('<subject>')
    .argument('<feature>')
    .requiredOption('--reason <reason>', 'why (kept in the history)')
    .addOption(idempotencyOption())
    .action((subject: string, feature: string, opts: { reason: string; idempotencyKey?: string }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const answer = await ctx.client.json<RevokeAnswer>(`/v1/admin/subjects/${enc(subject)}/grants/${enc(feature)}`, {
          method: 'DELETE',
          body: { reason: opts.reason },
          headers: idempotency(opts.idempotencyKey),
        });
        ctx.result(answer, (p) => formatRevoke(answer, p));
      }),
    );

  const keys = program.command('keys').description('signing keys (admin)');
  keys
    .command('rotate')
    .description('announce the next signing key; run again to promote it')
    .action((_opts: unknown, cmd: Command) =>
      run(cmd, async (ctx) => {
        const answer = await ctx.client.json<KeyRotation>('/v1/admin/keys/rotate', { method: 'POST' });
        ctx.result(answer, (p) => formatRotation(answer, p));
      }),
    );

  const tokens = program.command('tokens').description('scoped bearer tokens (admin)');
  tokens
    .command('create')
    .description('mint a token; its secret is shown once')
    .requiredOption('--name <name>', 'what it is for')
    .requiredOption('--scopes <scopes>', 'comma-separated: admin, events:write, entitlements:read, snapshots:read', parseScopes)
    .action((opts: { name: string; scopes: string[] }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const answer = await ctx.client.json<MintedToken>('/v1/admin/tokens', { body: { name: opts.name, scopes: opts.scopes } });
        ctx.result(answer, (p) =>
          [
            table(['ID', 'SCOPES'], [[answer.id, answer.scopes.join(',')]], p),
            `token: ${p('bold', answer.token)}`,
            p('yellow', 'store it now: it is not shown again (only its hash is kept)'),
          ].join('\n'),
        );
      }),
    );
  tokens
    .command('revoke')
    .description('revoke a token (at once on the instance that answers, within 5 s on the others)')
    .argument('<id>')
    .action((id: string, _opts: unknown, cmd: Command) =>
      run(cmd, async (ctx) => {
        await ctx.client.request(`/v1/admin/tokens/${enc(id)}`, { method: 'DELETE' });
        ctx.result({ id, revoked: true }, () => `revoked token ${id}`);
      }),
    );

  const apiKeys = program.command('api-keys').description("a subject's API keys (admin; their hashes travel in the snapshot)");
  apiKeys
    .command('create')
    .description('create an API key for a subject; the key is shown once')
    .argument('<subject>')
    .requiredOption('--name <name>', 'what it is for')
    .action((subject: string, opts: { name: string }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const answer = await ctx.client.json<MintedApiKey>(`/v1/admin/subjects/${enc(subject)}/api-keys`, { body: { name: opts.name } });
        ctx.result(answer, (p) =>
          [`api key ${answer.id} for ${subject}`, `key: ${p('bold', answer.key)}`, p('yellow', 'store it now: it is not shown again')].join('\n'),
        );
      }),
    );
  apiKeys
    .command('revoke')
    .description("revoke a subject's API key")
    .argument('<subject>')
    .argument('<id>')
    .action((subject: string, id: string, _opts: unknown, cmd: Command) =>
      run(cmd, async (ctx) => {
        const res = await ctx.client.request(`/v1/admin/subjects/${enc(subject)}/api-keys/${enc(id)}`, { method: 'DELETE' });
        const text = await res.text();
        const answer: unknown = text ? JSON.parse(text) : { subject, id, revoked: true };
        ctx.result(answer, () => `revoked api key ${id} of ${subject}`);
      }),
    );
}
