// `npm start`: the API on the configured stores (embedded SQLite + Azurite when none are configured).
import { loadConfigOrExit, serve } from './serve.ts';

await serve(loadConfigOrExit());
