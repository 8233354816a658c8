// A webhook receiver for tests: a real HTTP server (Bun.serve) on a loopback port that keeps
// every POST, checks its signature independently of Gavel's code (node:crypto, as a receiver's
// docs/webhooks.md sample does), fails the deliveries a test asks it to, and can go down and
// come back on the same port.

import { createHmac, timingSafeEqual } from "node:crypto";
import type { Server } from "bun";

export interface ReceivedEvent {
  id: string;
  type: string;
  auction: number;
  seq: number;
  body: Record<string, unknown>;
  signatureValid: boolean;
  /** The Gavel-Event-Id header equals the body's id. */
  idHeaderMatches: boolean;
}

/** The header's `t` and `v1`, and whether v1 is HMAC-SHA256(secret, `${t}.${body}`). */
export function verifySignature(secret: string, header: string | null, body: string): boolean {
  if (header === null) return false;
  const parts = new Map(header.split(",").map((part) => part.split("=", 2) as [string, string]));
  const t = parts.get("t");
  const v1 = parts.get("v1");
  if (t === undefined || v1 === undefined || !/^\d+$/.test(t)) return false;
  const expected = createHmac("sha256", secret).update(`${t}.${body}`).digest();
  const given = Buffer.from(v1, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export class WebhookReceiver {
  /** Every POST answered 2xx, in arrival order (duplicates included). */
  readonly delivered: ReceivedEvent[] = [];
  /** POSTs answered 500 on purpose. */
  refused = 0;
  /** Answer 500 to the n-th POST when this says so (counting every POST from 1). */
  failWhen: (n: number) => boolean = () => false;
  private posts = 0;
  private server: Server<undefined> | null = null;
  port = 0;

  constructor(readonly secret: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  /** Starts (again) on the same port as before, or a free one the first time. */
  start(): void {
    this.server = Bun.serve({
      hostname: "127.0.0.1",
      port: this.port,
      fetch: async (request) => {
        const text = await request.text();
        this.posts++;
        if (this.failWhen(this.posts)) {
          this.refused++;
          return new Response("try later", { status: 500 });
        }
        const body = JSON.parse(text) as Record<string, unknown>;
        this.delivered.push({
          id: String(body.id),
          type: String(body.type),
          auction: Number(body.auction),
          seq: Number(body.seq),
          body,
          signatureValid: verifySignature(this.secret, request.headers.get("gavel-signature"), text),
          idHeaderMatches: request.headers.get("gavel-event-id") === body.id,
        });
        return new Response(null, { status: 204 });
      },
    });
    this.port = this.server.port!;
  }

  /** Down: the port refuses connections until start() again. */
  stop(): void {
    this.server?.stop(true);
    this.server = null;
  }

  /** Distinct event ids received. */
  distinctIds(): Set<string> {
    return new Set(this.delivered.map((e) => e.id));
  }
}
