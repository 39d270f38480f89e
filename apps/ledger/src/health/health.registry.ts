import { Injectable } from '@nestjs/common';

export type CriticalityClass = 'A' | 'B' | 'C';
export type ComponentStatus = 'ok' | 'degraded' | 'down';

export interface ComponentReport {
  readonly name: string;
  readonly class: CriticalityClass;
  readonly status: ComponentStatus;
  readonly detail: string;
}

export interface HealthComponent {
  readonly name: string;
  readonly class: CriticalityClass;
  /** A component that serves this one's class A paths while it is down (e.g. snapshots from memory). */
  readonly fallback?: string;
  check(): Promise<{ status: ComponentStatus; detail: string }>;
}

const CHECK_TIMEOUT_MS = 1_500;

/**
 * Components report themselves here with their criticality class. The instance is ready
 * while no class A component is down, or each one that is has a working fallback.
 */
@Injectable()
export class HealthRegistry {
  private readonly components: HealthComponent[] = [];

  register(component: HealthComponent): void {
    this.components.push(component);
  }

  async report(): Promise<{ status: ComponentStatus; components: ComponentReport[] }> {
    const components = await Promise.all(
      this.components.map(async (c): Promise<ComponentReport> => {
        const result = await withTimeout(c.check(), CHECK_TIMEOUT_MS).catch((err: unknown) => ({
          status: 'down' as const,
          detail: err instanceof Error ? err.message : String(err),
        }));
        return { name: c.name, class: c.class, ...result };
      }),
    );
    const byName = new Map(components.map((c) => [c.name, c]));
    const covered = (c: ComponentReport): boolean => {
      const f = this.components.find((x) => x.name === c.name)?.fallback;
      return f !== undefined && byName.get(f)?.status !== 'down' && byName.has(f);
    };
    const status: ComponentStatus = components.some((c) => c.class === 'A' && c.status === 'down' && !covered(c))
      ? 'down'
      : components.every((c) => c.status === 'ok')
        ? 'ok'
        : 'degraded';
    return { status, components };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
