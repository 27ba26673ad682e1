/** The Gemini contract fake (test/fakes/gemini.ts) as a process for the bench: prints its port, runs until killed. */
import { startGeminiFake } from '../../test/fakes/gemini.js';

const fake = await startGeminiFake();
// The fake keeps every request for the tests' assertions; a bench run would grow it without bound.
setInterval(() => {
  fake.requests.length = 0;
}, 1000).unref();
process.stdout.write(`${fake.port}\n`);
process.on('SIGTERM', () => process.exit(0));
