// `npm run config:docs`: prints the README's configuration table from the settings schema.
import { settingsTable } from '../config/settings-table.ts';

console.log(settingsTable());
