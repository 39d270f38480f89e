import { setTimeout as sleep } from 'node:timers/promises';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { CliError } from '../cli.errors.js';
import type { CliContext } from '../cli.context.js';
import type { Job } from '../ledger-api.types.js';
import { duration, formatJob } from '../output.format.js';

type Run = (command: Command, fn: (ctx: CliContext) => Promise<void>) => Promise<void>;

export const POLL_MS = 500;
const DONE = new Set(['succeeded', 'failed']);

export function registerRebuildCommand(program: Command, run: Run): void {
  program
    .command('rebuild')
    .description('rebuild a projection from the log beside the live one, then swap (admin)')
    .argument('[projection]', 'the projection', 'entitlements')
    .requiredOption('--reason <reason>', 'why (recorded)')
    .option('--no-wait', 'return the job id at once instead of following it')
    .action((projection: string, opts: { reason: string; wait: boolean }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const started = await ctx.client.json<{ job: string }>(`/v1/admin/projections/${encodeURIComponent(projection)}/rebuild`, {
          body: { reason: opts.reason },
        });
        if (!opts.wait) {
          ctx.result(started, () => `rebuild of ${projection} started: job ${started.job}\nfollow it with: ledger rebuild-status ${started.job}`);
          return;
        }
        const job = await follow(ctx, started.job);
        ctx.result(job, (p) => formatJob(job, p));
        if (job.state === 'failed') throw CliError.local('job-failed', `rebuild of ${projection} failed`, job.error ?? `job ${job.id}`);
      }),
    );

  program
    .command('rebuild-status')
    .description('the state of a rebuild job (admin)')
    .argument('<job>')
    .action((id: string, _opts: unknown, cmd: Command) =>
      run(cmd, async (ctx) => {
        const job = await ctx.client.json<Job>(`/v1/admin/jobs/${encodeURIComponent(id)}`);
        ctx.result(job, (p) => formatJob(job, p));
      }),
    );
}

/** Polls the job every {@link POLL_MS} until it ends; a progress bar on a terminal's stderr meanwhile. */
async function follow(ctx: CliContext, id: string): Promise<Job> {
  const showBar = !ctx.json && ctx.io.stderr.isTTY === true;
  const bar = showBar
    ? new cliProgress.SingleBar(
        {
          format: 'rebuild {bar} {percentage}% | {value}/{total} events | {rate}/s | eta {eta_h}',
          stream: ctx.io.stderr as NodeJS.WritableStream,
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : null;
  let started = false;
  try {
    for (;;) {
      const job = await ctx.client.json<Job>(`/v1/admin/jobs/${encodeURIComponent(id)}`);
      if (bar) {
        const total = job.total ?? Math.max(job.processed, 1);
        const payload = { rate: Math.round(job.rate ?? 0), eta_h: job.eta_s === null || job.eta_s === undefined ? '?' : duration(job.eta_s) };
        if (!started) {
          bar.start(total, job.processed, payload);
          started = true;
        }
        bar.setTotal(total);
        bar.update(job.processed, payload);
      }
      if (DONE.has(job.state)) return job;
      await sleep(POLL_MS);
    }
  } finally {
    if (started) bar?.stop();
  }
}
