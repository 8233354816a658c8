// Waiting for frames to arrive, shared by the raw TCP and WebSocket test clients.

const POLL_MS = 50;

/** Lets a test wait until `frames` holds enough; the client calls `notify` as frames arrive. */
export class FrameWait {
  private wake: (() => void) | null = null;

  notify(): void {
    this.wake?.();
  }

  /** Resolves once `frames.length >= count`; rejects on close or after `timeoutMs`. */
  async until(frames: readonly unknown[], count: number, timeoutMs: number, isClosed: () => boolean): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (frames.length < count) {
      if (isClosed()) throw new Error(`connection closed after ${frames.length} of ${count} frames`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out with ${frames.length} of ${count} frames`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, Math.min(left, POLL_MS));
      });
      this.wake = null;
    }
  }
}
