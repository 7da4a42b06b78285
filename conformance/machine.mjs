#!/usr/bin/env node
// Machine-token kind conformance: runs Clerk's own @clerk/backend (pinned in
// package.json) on a list of tokens, networkless, and prints what it decides
// about each, for internal/machine's conformance test.
//
//   node conformance/machine.mjs < input.json > output.json
//
// input:  {"tokens": ["..."], "accepts": ["any", ["api_key", "m2m_token"], ...]}
// output: {"tokens": [{"isMachineToken", "byPrefix",
//                      "arrayMismatch": {"session_token": bool, ...},
//                      "singleMismatch": {"api_key": bool, ...}}],
//          "accepted": [[isTokenTypeAccepted(t, accepts) for t of TYPES] per accepts]}
//
// isMachineToken, isMachineTokenByPrefix and isTokenTypeAccepted are exported
// by @clerk/backend/internal. getMachineTokenType is not exported, so it is
// observed through authenticateRequest: with acceptsToken [X] the request is
// refused up front (token-type-mismatch, tokenType null) unless the header
// token's type is X (isTokenTypeInAcceptedArray, src/tokens/request.ts); with
// the single machine type X it is refused with token-type-mismatch and
// tokenType X unless the token is a machine token of type X
// (authenticateMachineRequestWithTokenInHeader). Nothing reaches the network:
// fetch is replaced by one that fails at once, and a throwaway RSA jwtKey
// keeps JWT verification local. Diagnostics go to stderr only.
import { readFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { Console } from 'node:console';

const errConsole = new Console({ stdout: process.stderr, stderr: process.stderr });
for (const m of ['log', 'info', 'debug', 'warn', 'error']) console[m] = errConsole[m].bind(errConsole);
globalThis.fetch = async () => { throw new TypeError('network disabled'); };

const { isMachineToken, isMachineTokenByPrefix, isTokenTypeAccepted } = await import('@clerk/backend/internal');
const { createClerkClient } = await import('@clerk/backend');

const TYPES = [null, 'session_token', 'api_key', 'm2m_token', 'oauth_token'];
const MACHINE = ['api_key', 'm2m_token', 'oauth_token'];
const input = JSON.parse(readFileSync(0, 'utf8'));

const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwtKey = publicKey.export({ type: 'spki', format: 'pem' });
const publishableKey = 'pk_test_' + Buffer.from('example.clerk.accounts.dev$').toString('base64');
const clerk = createClerkClient({ secretKey: 'sk_test_conformance', publishableKey, jwtKey, telemetry: { disabled: true } });

// A throw (Clerk reads properties of a null JWT payload in
// verifyMachineAuthToken) happens after the type checks: no mismatch.
async function state(token, acceptsToken) {
  const req = new Request('https://example.com/api', { headers: { authorization: 'Bearer ' + token, accept: 'application/json' } });
  try {
    return await clerk.authenticateRequest(req, { acceptsToken });
  } catch (err) {
    return { reason: 'threw', tokenType: undefined };
  }
}

const tokens = [];
for (const t of input.tokens) {
  const arrayMismatch = {};
  for (const x of ['session_token', ...MACHINE]) {
    const s = await state(t, [x]);
    arrayMismatch[x] = s.reason === 'token-type-mismatch' && s.tokenType === null;
  }
  const singleMismatch = {};
  for (const x of MACHINE) {
    const s = await state(t, x);
    singleMismatch[x] = s.reason === 'token-type-mismatch' && s.tokenType === x;
  }
  tokens.push({ isMachineToken: isMachineToken(t), byPrefix: isMachineTokenByPrefix(t), arrayMismatch, singleMismatch });
}
const accepted = input.accepts.map(a => TYPES.map(t => isTokenTypeAccepted(t, a)));
process.stdout.write(JSON.stringify({ tokens, accepted }));
