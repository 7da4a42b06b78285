#!/usr/bin/env node
// Machine-authentication conformance runner: evaluates Clerk's own
// @clerk/backend (pinned in package.json) `authenticateRequest` with
// `acceptsToken` on a list of requests, with a frozen clock, against a fake
// Backend API on loopback (started by the Go test), and prints each request
// state and its toAuth() as JSON.
//
//   node conformance/machine_authenticate.mjs < input.json > output.json
//
// input:  {"now": <ms>, "cases": [{"name", "options": {acceptsToken, secretKey,
//          machineSecretKey, publishableKey, jwtKey, audience, apiUrl, ...},
//          "method", "url", "headers": [[name, value], ...]}]}
// output: {"results": [{"name", "status", "reason", "message", "tokenType",
//          "isAuthenticated", "auth": {toAuth() fields} | null,
//          "toAuthError": string | null, "error": string | null}]}
//
// `error` is set when authenticateRequest threw (status "error"); `toAuthError`
// when the state was built but its toAuth() threw (Clerk reads `subject` of
// whatever a 2xx answered, src/tokens/authObjects.ts authenticatedMachineObject).
// The options go to authenticateRequest as they are, and the build-time ones
// (apiUrl above all: createAuthenticateRequest, src/tokens/factory.ts, lets
// the client's apiUrl win) to createClerkClient too. Only http://127.0.0.1
// and http://localhost are reachable; stdout carries exactly one JSON
// document, diagnostics go to stderr. Exit status 2 on unreadable input.

import { readFileSync } from 'node:fs';
import { Console } from 'node:console';
import { blockedFetches } from './sandbox.mjs';

// Console: everything Clerk (or anything else) logs goes to stderr.
const errConsole = new Console({ stdout: process.stderr, stderr: process.stderr });
for (const m of ['log', 'info', 'debug', 'warn', 'error', 'trace', 'dir', 'table']) {
  if (typeof errConsole[m] === 'function') console[m] = errConsole[m].bind(errConsole);
}
const diag = (...a) => process.stderr.write(`[machine-conformance] ${a.join(' ')}\n`);
let currentCase = '';
process.on('unhandledRejection', err => diag(`unhandled rejection (case ${JSON.stringify(currentCase)}): ${err?.stack || err}`));

// Environment: nothing from the host may change Clerk's decisions.
for (const k of Object.keys(process.env)) {
  if (k.startsWith('CLERK_') || k.startsWith('VERCEL_')) delete process.env[k];
}
process.env.CLERK_TELEMETRY_DISABLED = '1';
process.env.CLERK_DISABLE_AUTO_PROXY = '1';

let input;
try {
  input = JSON.parse(readFileSync(0, 'utf8'));
  if (!input || typeof input !== 'object' || !Array.isArray(input.cases)) throw new Error('input must be an object with a "cases" array');
  if (input.now !== undefined && !Number.isFinite(input.now)) throw new Error('"now" must be a number (ms since epoch)');
} catch (err) {
  diag(`unreadable input: ${err.message}`);
  process.exit(2);
}

// Frozen clock, installed before @clerk/backend is loaded: Date.now() and
// `new Date()` return NOW (verifyJwt's exp/nbf/iat checks read them).
const RealDate = globalThis.Date;
const NOW = Number.isFinite(input.now) ? input.now : RealDate.now();
globalThis.Date = new Proxy(RealDate, {
  construct(target, args, newTarget) {
    return Reflect.construct(target, args.length === 0 ? [NOW] : args, newTarget);
  },
  apply() {
    return new RealDate(NOW).toString();
  },
  get(target, prop, receiver) {
    if (prop === 'now') return () => NOW;
    return Reflect.get(target, prop, receiver);
  },
});

// Network only to loopback, and immediate retries: sandbox.mjs, imported
// above (before @clerk/backend).

const { createClerkClient } = await import('@clerk/backend');

const BUILD_TIME_KEYS = ['secretKey', 'publishableKey', 'jwtKey', 'apiUrl', 'apiVersion', 'proxyUrl', 'domain', 'isSatellite', 'audience', 'machineSecretKey'];

// The toAuth() fields a machine auth object has (authenticatedMachineObject
// and unauthenticatedMachineObject, src/tokens/authObjects.ts), and the few
// of a session auth object (signedInAuthObject) the comparison reads. An
// absent field is left out, so that null and undefined stay apart.
const AUTH_FIELDS = ['tokenType', 'isAuthenticated', 'id', 'subject', 'scopes', 'userId', 'orgId', 'machineId', 'clientId', 'name', 'claims', 'sessionId'];

function authFields(auth) {
  if (auth === null || auth === undefined) return null;
  if (typeof auth !== 'object') return { nonObject: String(auth) };
  const out = {};
  for (const k of AUTH_FIELDS) if (auth[k] !== undefined) out[k] = auth[k];
  return out;
}

async function runCase(c) {
  const out = { name: c?.name ?? null, status: null, reason: null, message: null, tokenType: null, isAuthenticated: null, auth: null, toAuthError: null, error: null };
  try {
    const options = c.options && typeof c.options === 'object' ? { ...c.options } : {};
    const buildOptions = { telemetry: { disabled: true } };
    for (const k of BUILD_TIME_KEYS) if (k in options) buildOptions[k] = options[k];
    const clerk = createClerkClient(buildOptions);
    const headers = new Headers();
    for (const [k, v] of c.headers ?? []) headers.append(String(k), String(v));
    const request = new Request(c.url, { method: c.method || 'GET', headers });

    const state = await clerk.authenticateRequest(request, options);
    out.status = state.status;
    out.reason = state.reason ?? null;
    out.message = state.message ?? null;
    out.tokenType = state.tokenType ?? null;
    out.isAuthenticated = state.isAuthenticated ?? null;
    try {
      out.auth = authFields(state.toAuth());
    } catch (err) {
      out.toAuthError = err?.message || String(err);
    }
  } catch (err) {
    out.status = 'error';
    out.error = err?.message || String(err);
    diag(`case ${JSON.stringify(out.name)}: authenticateRequest threw: ${err?.message || err}`);
  }
  return out;
}

const results = [];
for (const c of input.cases) {
  currentCase = c?.name ?? '';
  blockedFetches.length = 0;
  results.push(await runCase(c));
  if (blockedFetches.length) diag(`case ${JSON.stringify(currentCase)}: blocked ${blockedFetches.length} fetch(es) to ${[...new Set(blockedFetches)].join(', ')}`);
}

// Exit once stdout is flushed: keep-alive sockets to the fake Backend API
// must not keep the process alive.
process.stdout.write(JSON.stringify({ results }) + '\n', () => process.exit(0));
