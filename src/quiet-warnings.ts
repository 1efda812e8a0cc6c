/**
 * Node 22 flags its built-in SQLite as experimental on every start. opsbot relies on it knowingly;
 * every other warning is still printed.
 */
export function quietSqliteWarning(): void {
  const printers = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name === 'ExperimentalWarning' && /SQLite/.test(warning.message)) return;
    for (const print of printers) print(warning);
  });
}
