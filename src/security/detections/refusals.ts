import type { RefusalSource } from './signature-failures.js';

export type { RefusalSource } from './signature-failures.js';

/**
 * Requests refused for a bad signature or secret, as they happen: the Slack receiver and the
 * webhooks call `refused(source)` (nothing of the request is passed), the detections listen. One per
 * process, made by the app; a listener that throws is dropped from the call, never the caller's.
 */
export class RequestRefusals {
  readonly #listeners = new Set<(source: RefusalSource) => void>();

  /** Tells every listener that a request to `source` was refused. Never throws. */
  readonly refused = (source: RefusalSource): void => {
    for (const listener of this.#listeners) {
      try {
        listener(source);
      } catch {
        // A listener's failure is its own (detections log theirs); the receiver must not notice.
      }
    }
  };

  /** Listens; returns the function that stops listening. */
  listen(listener: (source: RefusalSource) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
