import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'http';
import { AGENT_SECURITY_CONFIG } from '../agent-security.constants.js';
import type { AgentSecurityConfig } from '../agent-security.config.js';
import type { AgentPrincipal } from '../auth/agent-principal.interface.js';
import { AGENT_SECURITY_USAGE_STORE } from './usage.constants.js';
import { ClientClosedRequestException } from './usage.exceptions.js';
import { UsageMeter } from './usage-meter.js';
import { UsageService } from './usage.service.js';
import type { CostRecord, UsageStore } from './usage-store.interface.js';

/**
 * What an admitted request on a `@TokenBudget()`/`@AgentStream()` route holds until its response ends: the meter its
 * handler fills, the stream slot (renewed while it streams) and the one record of its tokens when it ends, finished
 * or abandoned by the client.
 */
/** A reservation the admission took, with the budget its tokens are recorded in. */
export interface HeldReservation {
  tokensKey: string;
  windowMs: number;
  key: string;
  member: string;
  leaseMs: number;
  /** When this instance took it (ms), set by the session. */
  heldSince?: number;
}

@Injectable()
export class UsageSessions implements OnApplicationShutdown {
  private readonly logger = new Logger('AgentSecurity');
  /** Reservations of this instance's requests in flight, renewed together. */
  private readonly held = new Set<HeldReservation>();
  private renewals: NodeJS.Timeout | undefined;

  constructor(
    private readonly usage: UsageService,
    @Inject(AGENT_SECURITY_CONFIG) private readonly config: AgentSecurityConfig,
    @Inject(AGENT_SECURITY_USAGE_STORE) private readonly store: UsageStore,
  ) {}

  /** The stream slot (key and lease id) and the token reservation the admission took, if it took them. */
  open(
    request: IncomingMessage,
    response: ServerResponse,
    principal: AgentPrincipal,
    slot?: { key: string; leaseId: string },
    reservation?: HeldReservation,
  ): void {
    const release = slot === undefined ? undefined : this.holdSlot(slot.key, slot.leaseId);
    if (reservation !== undefined) this.holdReservation(reservation);
    // A client that left while the admission was awaited has already had its 'close': a listener added now would never
    // run, and the slot would be renewed for as long as the process lives.
    if (response.destroyed) {
      release?.();
      if (reservation !== undefined) this.settle(reservation, 0);
      throw new ClientClosedRequestException();
    }
    const meter = new UsageMeter(this.config.pricing);
    request.usage = meter;
    response.once('close', () => {
      release?.();
      // What it spent replaces what it reserved, in one store call (the record, for a tier's budgets).
      if (reservation !== undefined) this.settle(reservation, meter.total, principal, meter);
      else if (meter.total > 0) {
        this.usage
          .record(principal, meter)
          .catch((error: Error) => this.logger.error(`Token usage not recorded: ${error.message}`));
      }
    });
  }

  private settle(reservation: HeldReservation, tokens: number, principal?: AgentPrincipal, meter?: UsageMeter): void {
    const { tokensKey, windowMs, key, member } = reservation;
    this.held.delete(reservation);
    let cost: CostRecord | undefined;
    try {
      cost =
        principal === undefined || meter === undefined || meter.total === 0
          ? undefined
          : this.usage.cost(principal, meter);
    } catch (error) {
      // No model on a cost-budgeted tier: the tokens are still recorded and the reservation given back.
      this.logger.error(`Cost not recorded: ${(error as Error).message}`);
    }
    this.store
      .settleReservation(tokensKey, tokens, windowMs, key, member, cost)
      .catch((error: Error) => this.logger.error(`Token usage not recorded: ${error.message}`));
  }

  /**
   * A reservation lives as long as its request: renewed like a stream slot, so only a dead instance's expires. One
   * timer for all of them, not one per request: most requests end long before their first renewal would be due.
   */
  private holdReservation(reservation: HeldReservation): void {
    reservation.heldSince = Date.now();
    this.held.add(reservation);
    if (this.renewals !== undefined) return;
    const every = Math.max(100, Math.floor(this.config.streams.leaseMs / 3));
    this.renewals = setInterval(() => {
      const due = Date.now() - every;
      for (const held of this.held) {
        if (held.heldSince! <= due)
          this.store.renewReservation(held.key, held.member, held.leaseMs).catch(() => undefined);
      }
    }, every);
    this.renewals.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.renewals);
  }

  private holdSlot(key: string, leaseId: string): () => void {
    const { leaseMs } = this.config.streams;
    // The lease outlives the stream only if this instance dies: then it expires on its own.
    const renewal = setInterval(
      () => {
        this.store.renewStream(key, leaseId, leaseMs).catch(() => undefined);
      },
      Math.max(100, Math.floor(leaseMs / 3)),
    );
    renewal.unref();
    return () => {
      clearInterval(renewal);
      this.store.releaseStream(key, leaseId).catch(() => undefined);
    };
  }
}
