import { quietSqliteWarning } from '../src/quiet-warnings.js';

// Node 22 warns that its built-in SQLite is experimental in every worker; opsbot uses it knowingly.
quietSqliteWarning();
