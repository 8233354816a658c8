// What the hot path counts: plain numbers in typed arrays, bumped in place (no allocation, no
// label lookup per bid), and read by the Prometheus registry only when /metrics is scraped.

import { statusName } from "../protocol/names.ts";
import { LatencyHistogram } from "./latency-histogram.ts";

/** One slot per RESULT status code (0..10 today; room for the closed set to grow). */
const STATUS_SLOTS = 16;

/** How a closed auction ended, for gavel_auctions_closed_total{result}. */
export const CloseResult = { SOLD: 0, UNSOLD: 1, CANCELLED: 2 } as const;
export type CloseResult = (typeof CloseResult)[keyof typeof CloseResult];
export const CLOSE_RESULT_NAMES = ["sold", "unsold", "cancelled"] as const;

/** Seconds: from a tenth of a millisecond to ten seconds, roughly x2.5 apart. */
export const BID_LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds a store call takes for one drain batch. */
export const STORE_BATCH_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Bids in one drain batch. */
export const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536];

export class ServerCounters {
  /** RESULTs sent, by status code. */
  readonly bidsByStatus = new Float64Array(STATUS_SLOTS);
  /** Auctions closed, by CloseResult. */
  readonly auctionsClosed = new Float64Array(CLOSE_RESULT_NAMES.length);
  /** UPDATE frames queued to subscribers. */
  updatesSent = 0;
  /** UPDATEs folded into a slow subscriber's latest-per-auction instead of being queued. */
  conflated = 0;
  /** Subscribers cut off for staying over their buffer too long. */
  slowSubscriberDisconnects = 0;
  /** Frame read to reply queued for writing, per bid answered by the store. */
  readonly bidLatency = new LatencyHistogram(BID_LATENCY_BUCKETS);
  readonly storeBatchSeconds = new LatencyHistogram(STORE_BATCH_BUCKETS);
  readonly storeBatchSize = new LatencyHistogram(BATCH_SIZE_BUCKETS);

  countBid(status: number): void {
    this.bidsByStatus[status < STATUS_SLOTS ? status : STATUS_SLOTS - 1]!++;
  }

  countClosed(result: CloseResult): void {
    this.auctionsClosed[result]!++;
  }

  updateSent(): void {
    this.updatesSent++;
  }

  conflatedUpdate(): void {
    this.conflated++;
  }

  slowSubscriberDisconnected(): void {
    this.slowSubscriberDisconnects++;
  }
}

/** Lower-case status names by code, for the `status` label. */
export const STATUS_LABELS: readonly (string | undefined)[] = Array.from({ length: STATUS_SLOTS }, (_, code) => statusName(code)?.toLowerCase());
