/**
 * A record's own value for a key someone else chose (a Slack user id, a form's option, a value
 * from Jira or GitHub): `record[key]` would also find `constructor`, `toString` or `__proto__` on
 * the prototype, so a form answering `__proto__` would pass a check that only asked "is it there?".
 *
 * @example
 * ownValue({ task: 'Task' }, 'constructor'); // undefined
 * ownValue(file.jira.users, userId);          // the Jira account id, or undefined
 */
export function ownValue<V>(record: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
