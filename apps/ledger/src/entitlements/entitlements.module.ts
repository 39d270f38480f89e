import { Module } from '@nestjs/common';
import type pg from 'pg';
import type { EntitlementPolicy } from '@app/domain';
import { EntitlementReader } from '@app/projections';
import { LEDGER_CONFIG, type LedgerConfig } from '../config/ledger.config.js';
import { PG_POOL } from '../database/database.module.js';
import { CatalogService } from './catalog.service.js';
import { ApiKeysController } from './api-keys.controller.js';
import { GrantsController } from './grants.controller.js';
import { ENTITLEMENT_POLICY, ProjectorService } from './projector.service.js';
import { SubjectsController } from './subjects.controller.js';

/** The entitlement projection, its reads, the plan catalog and admin grants. */
@Module({
  controllers: [SubjectsController, GrantsController, ApiKeysController],
  providers: [
    {
      provide: ENTITLEMENT_POLICY,
      inject: [LEDGER_CONFIG],
      useFactory: (c: LedgerConfig): EntitlementPolicy => ({ renewalLeewayS: c.renewalLeewayS, pastDueGraceS: c.pastDueGraceS }),
    },
    {
      provide: EntitlementReader,
      inject: [PG_POOL, ENTITLEMENT_POLICY],
      useFactory: (pool: pg.Pool, policy: EntitlementPolicy) => new EntitlementReader(pool, policy),
    },
    CatalogService,
    ProjectorService,
  ],
  exports: [ENTITLEMENT_POLICY, EntitlementReader, ProjectorService, CatalogService],
})
export class EntitlementsModule {}
