// What the webhook dispatcher counts, read by the registry when /metrics is scraped.

export class WebhookCounters {
  /** Events delivered (a 2xx answer). */
  delivered = 0;
  /** Tries that failed (no answer in time, refused, or not a 2xx); each is retried. */
  failed = 0;
}
