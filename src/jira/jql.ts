/**
 * JQL built from user input. Every value a user typed is a JQL string literal: wrapped in double
 * quotes with `\` and `"` escaped and control characters turned into spaces, so nothing typed can
 * end the string and add a clause (JQL injection). Text search goes one step further: characters
 * that mean something to Jira's text search (`+ - & | ! ( ) { } [ ] ^ ~ * ? \ : "`) become spaces and
 * the words are searched as a phrase, so `login (timeout)` finds exactly those words.
 */

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it replaces
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const TEXT_SEARCH_SPECIAL = /[+\-&|!(){}[\]^~*?\\:"/]/g;

/** A JQL string literal: `"…"` with `\` and `"` escaped. */
export function jqlString(value: string): string {
  const clean = value.replace(CONTROL, ' ');
  return `"${clean.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A phrase for `text ~`: special characters dropped, the rest searched as one phrase. */
export function jqlPhrase(text: string): string {
  const words = text.replace(CONTROL, ' ').replace(TEXT_SEARCH_SPECIAL, ' ').replace(/\s+/g, ' ').trim();
  return jqlString(`"${words}"`);
}

/** `project = "OPS" AND text ~ "\"login timeout\"" ORDER BY updated DESC`. */
export function searchJql(text: string, project?: string): string {
  const clauses = [...(project ? [`project = ${jqlString(project)}`] : []), `text ~ ${jqlPhrase(text)}`];
  return `${clauses.join(' AND ')} ORDER BY updated DESC`;
}
