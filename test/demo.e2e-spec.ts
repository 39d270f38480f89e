import { spawn } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../libs/event-store/src/index.js';

/** `npm run demo` end to end (built): its own embedded PostgreSQL, ledger and edge verifier. */
describe('npm run demo', () => {
  it('shows checks answering through a ledger outage, then class C, B and A parting at their limits', async () => {
    const child = spawn(process.execPath, [path.join(projectRoot(), 'dist/demo/demo.js')], {
      env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const section = (title: string): string => stdout.split('▸ ').find((s) => s.startsWith(title)) ?? '';
    const line = (text: string, feature: string): string => text.split('\n').find((l) => l.trim().startsWith(`${feature} `)) ?? '';
    const up = section('Checks at the edge');
    expect(line(up, 'api')).toMatch(/allowed .* source fresh granted/);
    expect(line(up, 'exports')).toMatch(/allowed .* source fresh granted/);
    expect(line(up, 'sso')).toMatch(/denied .* not_granted/);
    const restarted = section('Restarting the edge verifier');
    // From its disk cache at once: fresh, or stale where stopping the ledger and restarting the
    // edge outlasted the manifest's 10 s (a loaded machine); either way it still decides.
    expect(line(restarted, 'api')).toMatch(/allowed .* source (fresh|stale)/);
    const expired = section("Past the manifest's expiry");
    expect(line(expired, 'api')).toMatch(/allowed .* source stale stale_within_grace/);
    expect(line(expired, 'seats')).toMatch(/allowed .* source stale stale_within_grace/);
    expect(line(expired, 'exports')).toMatch(/denied .* source none\s+past_grace/);
    const pastB = section("Past class B's grace");
    expect(line(pastB, 'api')).toMatch(/allowed .* source stale/);
    expect(line(pastB, 'seats')).toMatch(/denied .* source none\s+past_grace/);
  }, 120_000);
});
