/**
 * Signs one Bedrock request (SigV4) for the load generator's direct and bare-proxy lines, so they pay
 * the fake's signature check as the gateway's line does. A signature stays valid for the fake's
 * 5-minute clock skew, longer than a bench run; AWS, like the fake, does not refuse a repeated one.
 *   presign.ts ORIGIN PATH BODY_FILE ACCESS_KEY SECRET REGION  → one `name: value` per line
 */
import { readFileSync } from 'node:fs';
import { sigV4Auth } from '../../src/providers/bedrock/auth.js';

const [origin, path, bodyFile, accessKeyId, secretAccessKey, region] = process.argv.slice(2);
if (!origin || !path || !bodyFile || !accessKeyId || !secretAccessKey || !region)
  throw new Error('presign.ts ORIGIN PATH BODY_FILE ACCESS_KEY SECRET REGION');
const auth = sigV4Auth({ accessKeyId, secretAccessKey, region });
// The load generator sends content-type: application/json and the body's length: both are signed.
const headers = auth.headers({
  method: 'POST',
  origin,
  path,
  headers: { 'content-type': 'application/json' },
  body: readFileSync(bodyFile, 'utf8'),
});
for (const [k, v] of Object.entries(headers)) process.stdout.write(`${k}: ${v}\n`);
