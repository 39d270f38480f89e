import { Inject, Injectable } from '@nestjs/common';
import { verifyPaddleSignature, verifyStripeScheme } from '@app/billing';
import { LEDGER_CONFIG, type LedgerConfig } from '../config/ledger.config.js';
import type { SignatureSchemeName } from './auth.decorators.js';

export const SIGNATURE_HEADERS: Record<SignatureSchemeName, string> = {
  ledger: 'ledger-signature',
  stripe: 'stripe-signature',
  paddle: 'paddle-signature',
};

/** Checks webhook signatures over the raw body with the configured secrets; throws a coded error. */
@Injectable()
export class SignatureVerifier {
  constructor(@Inject(LEDGER_CONFIG) private readonly config: LedgerConfig) {}

  verify(scheme: SignatureSchemeName, rawBody: Buffer, header: string | string[] | undefined): void {
    const now = new Date();
    switch (scheme) {
      case 'ledger':
        verifyStripeScheme(rawBody, header, {
          secrets: this.config.ingestSecrets,
          toleranceSeconds: this.config.signatureToleranceS,
          now,
          headerName: 'Ledger-Signature',
        });
        return;
      case 'stripe':
        verifyStripeScheme(rawBody, header, {
          secrets: this.config.stripeSecrets,
          toleranceSeconds: this.config.stripeToleranceS,
          now,
        });
        return;
      case 'paddle':
        verifyPaddleSignature(rawBody, header, {
          secrets: this.config.paddleSecrets,
          toleranceSeconds: this.config.paddleToleranceS,
          now,
        });
        return;
      default: {
        const unknown: never = scheme;
        throw new Error(`unknown signature scheme ${String(unknown)}`);
      }
    }
  }
}
