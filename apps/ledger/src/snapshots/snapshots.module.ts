import { Module, type OnModuleInit } from '@nestjs/common';
import { EntitlementsModule } from '../entitlements/entitlements.module.js';
import { HealthRegistry } from '../health/health.registry.js';
import { KeyService } from './key.service.js';
import { SnapshotPublisher } from './snapshot.publisher.js';
import { SnapshotStore } from './snapshot.store.js';
import { SnapshotsController } from './snapshots.controller.js';

/** Signed snapshots, capability tokens and signing keys (the class A read path). */
@Module({
  imports: [EntitlementsModule],
  controllers: [SnapshotsController],
  providers: [KeyService, SnapshotStore, SnapshotPublisher],
  exports: [SnapshotStore, KeyService],
})
export class SnapshotsModule implements OnModuleInit {
  constructor(
    private readonly health: HealthRegistry,
    private readonly store: SnapshotStore,
    private readonly publisher: SnapshotPublisher,
  ) {}

  onModuleInit(): void {
    this.health.register({
      name: 'snapshots',
      class: 'A',
      check: () => {
        const held = this.store.latest;
        const role = this.publisher.isLeader ? 'publisher' : 'serving';
        if (!held) return Promise.resolve({ status: 'down', detail: `${role}; no manifest held yet` });
        const age = Math.round(Date.now() / 1000 - held.claims.iat);
        const expired = Date.now() / 1000 >= held.claims.exp;
        return Promise.resolve({
          status: expired ? 'degraded' : 'ok',
          detail: `${role}; seq ${held.seq}, ver ${held.ver}, ${age} s old${expired ? ', past exp (verifiers use their grace)' : ''}`,
        });
      },
    });
  }
}
