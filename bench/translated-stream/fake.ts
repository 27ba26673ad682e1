/**
 * A provider's contract fake (test/fakes/) as a process for the bench: `fake.ts gemini|bedrock` prints
 * its port and runs until killed. The fakes verify what the real services verify (Gemini's API key,
 * Bedrock's SigV4 signature or API key), on both the direct and the gateway path.
 */
import { startBedrockFake } from '../../test/fakes/bedrock.js';
import { startGeminiFake } from '../../test/fakes/gemini.js';

const starters = { gemini: startGeminiFake, bedrock: startBedrockFake } as const;
const name = process.argv[2] ?? 'gemini';
if (!(name in starters))
  throw new Error(`fake.ts: unknown fake ${name} (${Object.keys(starters).join(', ')})`);
const fake = await starters[name as keyof typeof starters]();
// The fake keeps every request for the tests' assertions; a bench run would grow it without bound.
setInterval(() => {
  fake.requests.length = 0;
}, 1000).unref();
process.stdout.write(`${fake.port}\n`);
process.on('SIGTERM', () => process.exit(0));
