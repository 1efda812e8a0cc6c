/** Exit codes of opsbot's server: 0 clean stop, 1 runtime failure, 2 configuration (or environment) error. */
export const EXIT = { ok: 0, failure: 1, config: 2 } as const;
