/**
 * Datadog downtime scopes opsbot writes: `*`, or `key:value` tags joined with ` AND `. Nothing
 * Datadog's search syntax could read as more than a tag gets in: no bare word (`OR`, `NOT`, `TO`,
 * `AND`), no wildcard, parenthesis, quote, space, negation (`-key:value`, `!key:value`) or range.
 */

/** Longest tag Datadog keeps (characters). */
const MAX_TAG = 200;

/**
 * A tag's key starts with a letter and holds letters, digits, `_ - . /`; its value (after the first
 * `:`) holds letters, digits and `_ - . / :` (Datadog's tag characters, without the wildcard).
 */
const SCOPE_TAG = /^[A-Za-z][A-Za-z0-9_./-]*:[A-Za-z0-9_./:-]+$/;

/** Whether `tag` is one `key:value` tag a downtime scope may name. */
export function isScopeTag(tag: string): boolean {
  return tag.length <= MAX_TAG && SCOPE_TAG.test(tag);
}

/** Tags (each checked with {@link isScopeTag}) as a scope: `host:web-1 AND env:prod`. */
export function scopeOfTags(tags: readonly string[]): string {
  return tags.join(' AND ');
}

/** Whether `scope` is a scope opsbot writes: `*`, or `key:value` tags joined with ` AND `. */
export function isDowntimeScope(scope: string): boolean {
  return scope === '*' || scope.split(' AND ').every(isScopeTag);
}
