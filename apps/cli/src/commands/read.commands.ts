import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { parseInstant, parsePosition, pointQuery } from '../args.parse.js';
import { CliError } from '../cli.errors.js';
import type { CliContext } from '../cli.context.js';
import type { EntitlementsAnswer, HistoryAnswer, ReplayAnswer, WhatIfAnswer } from '../ledger-api.types.js';
import { formatEntitlements, formatHistory, formatReplay, formatWhatIf } from '../output.format.js';

type Run = (command: Command, fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

const subjectPath = (subject: string): string => `/v1/subjects/${encodeURIComponent(subject)}`;

function pointOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--at <time>', 'as the ledger knew it at this ISO-8601 time, evaluated then').argParser(parseInstant))
    .addOption(new Option('--position <n>', 'right after this log position').argParser(parsePosition));
}

export function registerReadCommands(program: Command, run: Run): void {
  pointOptions(
    program
      .command('at')
      .description("a subject's entitlements now, at a past time or right after a log position")
      .argument('<subject>', 'customer, org or user id'),
  ).action((subject: string, opts: { at?: string; position?: number }, cmd: Command) =>
    run(cmd, async (ctx) => {
      const answer = await ctx.client.json<EntitlementsAnswer>(`${subjectPath(subject)}/entitlements${pointQuery(opts)}`);
      ctx.result(answer, (p) => formatEntitlements(answer, p));
    }),
  );

  pointOptions(program.command('replay').description('every subject\'s entitlements at a point in the log (admin)')).action(
    (opts: { at?: string; position?: number }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const answer = await ctx.client.json<ReplayAnswer>(`/v1/admin/entitlements${pointQuery(opts)}`);
        ctx.result(answer, (p) => formatReplay(answer, p));
      }),
  );

  program
    .command('history')
    .description('every event that touched a subject, with what it changed or why it changed nothing (admin)')
    .argument('<subject>')
    .action((subject: string, _opts: unknown, cmd: Command) =>
      run(cmd, async (ctx) => {
        const answer = await ctx.client.json<HistoryAnswer>(`${subjectPath(subject)}/history`);
        ctx.result(answer, (p) => formatHistory(answer, p));
      }),
    );

  program
    .command('what-if')
    .description('which subjects a new plan catalog would change, and how (admin)')
    .requiredOption('--catalog <file>', 'the catalog to try, in the format of plans.json')
    .addOption(new Option('--at <time>', 'compare as of this ISO-8601 time').argParser(parseInstant))
    .action((opts: { catalog: string; at?: string }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const catalog = await readCatalog(opts.catalog);
        const answer = await ctx.client.json<WhatIfAnswer>('/v1/admin/what-if', {
          body: { catalog, ...(opts.at !== undefined ? { at: opts.at } : {}) },
        });
        ctx.result(answer, (p) => formatWhatIf(answer, p));
      }),
    );
}

async function readCatalog(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw CliError.local('catalog-unreadable', 'cannot read the catalog', `${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw CliError.local('catalog-invalid', 'the catalog is not JSON', `${file}: ${(e as Error).message}`);
  }
}
