import { SUBSCRIPTION_STATUSES, subscriptionStateSchema, type SubscriptionStatus } from '@app/domain';

/** The domain's rule for ids and subjects (printable ASCII without spaces, 1–255). Internal. */
export const idSchema = subscriptionStateSchema.shape.id;

export function isLedgerId(value: string): boolean {
  return idSchema.safeParse(value).success;
}

export function asStatus(value: string | null | undefined): SubscriptionStatus | null {
  return (SUBSCRIPTION_STATUSES as readonly string[]).includes(value ?? '') ? (value as SubscriptionStatus) : null;
}

/** Statuses after which a subscription grants nothing whatever its plan. */
export function isTerminal(status: SubscriptionStatus): boolean {
  return status === 'canceled' || status === 'incomplete_expired';
}

/** Unix seconds (already range-checked by the schema) as ISO-8601 UTC. */
export function unixToIso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

export function isoOrNull(seconds: number | null | undefined): string | null {
  return seconds === null || seconds === undefined ? null : unixToIso(seconds);
}

/** Chooses the subject: an explicit ledger subject wins, else the provider's customer id. */
export function pickSubject(
  explicit: unknown,
  explicitName: string,
  customer: string | null | undefined,
  customerName: string,
): { subject: string } | { reason: string } {
  if (explicit !== undefined && explicit !== null && explicit !== '') {
    // Falling back to the customer here would grant to the wrong subject.
    if (typeof explicit !== 'string' || !isLedgerId(explicit)) {
      return { reason: `${explicitName} is not a valid subject (printable ASCII without spaces, 1–255 characters)` };
    }
    return { subject: explicit };
  }
  if (customer === null || customer === undefined || customer === '') {
    return { reason: `the subscription has neither ${explicitName} nor ${customerName}` };
  }
  if (!isLedgerId(customer)) return { reason: `${customerName} is not a valid subject` };
  return { subject: customer };
}
