#!/usr/bin/env node
// Conformance reference runner: evaluates Clerk's own @clerk/backend (pinned in
// package.json) `authenticateRequest` on a list of requests, with a frozen clock
// and no network, and prints the request states as JSON.
//
//   node conformance/reference.mjs < input.json > output.json
//
// The input/output contract is described in README.md. Diagnostics go to stderr
// only; stdout carries exactly one JSON document.

import { readFileSync } from 'node:fs';
import { Console } from 'node:console';
import { blockedFetches } from './sandbox.mjs';

// ---------------------------------------------------------------------------
// 1. Console: everything Clerk (or anything else) logs goes to stderr.
// ---------------------------------------------------------------------------
const errConsole = new Console({ stdout: process.stderr, stderr: process.stderr });
for (const m of ['log', 'info', 'debug', 'warn', 'error', 'trace', 'dir', 'dirxml', 'table', 'group', 'groupCollapsed', 'groupEnd', 'time', 'timeEnd', 'timeLog', 'count', 'countReset', 'assert']) {
  if (typeof errConsole[m] === 'function') console[m] = errConsole[m].bind(errConsole);
}
const diag = (...a) => process.stderr.write(`[conformance] ${a.join(' ')}\n`);

let currentCase = '';
process.on('unhandledRejection', err => diag(`unhandled rejection (case ${JSON.stringify(currentCase)}): ${err?.stack || err}`));

// ---------------------------------------------------------------------------
// 2. Environment: nothing from the host may change Clerk's decisions.
// ---------------------------------------------------------------------------
for (const k of Object.keys(process.env)) {
  if (k.startsWith('CLERK_') || k.startsWith('VERCEL_')) delete process.env[k];
}
process.env.CLERK_TELEMETRY_DISABLED = '1';
process.env.CLERK_DISABLE_AUTO_PROXY = '1';

// ---------------------------------------------------------------------------
// 3. Input.
// ---------------------------------------------------------------------------
let input;
try {
  input = JSON.parse(readFileSync(0, 'utf8'));
  if (!input || typeof input !== 'object' || !Array.isArray(input.cases)) {
    throw new Error('input must be an object with a "cases" array');
  }
  if (input.now !== undefined && !Number.isFinite(input.now)) {
    throw new Error('"now" must be a number (ms since epoch)');
  }
} catch (err) {
  diag(`unreadable input: ${err.message}`);
  process.exit(2);
}

// ---------------------------------------------------------------------------
// 4. Frozen clock: Date.now() and `new Date()` (no arguments) return NOW.
//    Installed before @clerk/backend is loaded.
// ---------------------------------------------------------------------------
const RealDate = globalThis.Date;
let NOW = Number.isFinite(input.now) ? input.now : RealDate.now();
const frozenNow = () => NOW;
const FrozenDate = new Proxy(RealDate, {
  construct(target, args, newTarget) {
    return Reflect.construct(target, args.length === 0 ? [NOW] : args, newTarget);
  },
  apply() {
    // `Date()` called as a function returns a string of the current time.
    return new RealDate(NOW).toString();
  },
  get(target, prop, receiver) {
    if (prop === 'now') return frozenNow;
    return Reflect.get(target, prop, receiver);
  },
});
globalThis.Date = FrozenDate;

// 5 and 6. Network only to loopback, and immediate retries: sandbox.mjs,
// imported above (before @clerk/backend).

// ---------------------------------------------------------------------------
// 7. Clerk (loaded only now, after the patches above).
// ---------------------------------------------------------------------------
const { createClerkClient } = await import('@clerk/backend');

// Options that createClerkClient takes at build time. apiUrl/apiVersion are
// build-time only: the runtime authenticateRequest options cannot override them.
const BUILD_TIME_KEYS = ['secretKey', 'publishableKey', 'jwtKey', 'apiUrl', 'apiVersion', 'proxyUrl', 'domain', 'isSatellite', 'audience', 'machineSecretKey'];

function decodePayload(token) {
  const part = String(token).split('.')[1];
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

function emptyResult(name) {
  return { name, status: null, reason: null, message: null, location: null, setCookies: [], headers: {}, claims: null, error: null };
}

async function runCase(c) {
  const name = c?.name ?? null;
  const out = emptyResult(name);
  try {
    if (!c || typeof c !== 'object') throw new Error('case must be an object');
    NOW = Number.isFinite(c.now) ? c.now : Number.isFinite(input.now) ? input.now : NOW;

    // Every option goes to authenticateRequest as it is: runtime options such
    // as organizationSyncOptions need nothing more (Clerk builds its
    // OrganizationMatcher from them on each call, and throws there on a bad
    // pattern, which comes out as status "error").
    const options = c.options && typeof c.options === 'object' ? { ...c.options } : {};
    const buildOptions = { telemetry: { disabled: true } };
    for (const k of BUILD_TIME_KEYS) if (k in options) buildOptions[k] = options[k];
    const clerk = createClerkClient(buildOptions);

    const headers = new Headers();
    for (const pair of c.headers ?? []) {
      if (!Array.isArray(pair) || pair.length !== 2) throw new Error(`bad header pair ${JSON.stringify(pair)}`);
      headers.append(String(pair[0]), String(pair[1]));
    }
    const request = new Request(c.url, { method: c.method || 'GET', headers });

    const state = await clerk.authenticateRequest(request, options);

    out.status = state.status;
    out.reason = state.reason ?? null;
    out.message = state.message ?? null;
    const h = state.headers instanceof Headers ? state.headers : new Headers(state.headers || {});
    out.location = h.get('location');
    out.setCookies = h.getSetCookie();
    for (const [k, v] of h) {
      if (k !== 'set-cookie') out.headers[k] = v;
    }
    if (state.status === 'signed-in') {
      try {
        out.claims = state.toAuth({ treatPendingAsSignedOut: false })?.sessionClaims ?? null;
      } catch (err) {
        diag(`case ${JSON.stringify(name)}: toAuth() threw (${err.message}); decoding the token instead`);
      }
      if (out.claims == null && state.token) out.claims = decodePayload(state.token);
    }
  } catch (err) {
    const base = emptyResult(name);
    Object.assign(out, base, { status: 'error', error: err?.message || String(err) });
    diag(`case ${JSON.stringify(name)}: authenticateRequest threw: ${err?.stack || err}`);
  }
  return out;
}

const results = [];
for (const c of input.cases) {
  currentCase = c?.name ?? '';
  blockedFetches.length = 0;
  results.push(await runCase(c));
  if (blockedFetches.length) {
    diag(`case ${JSON.stringify(currentCase)}: blocked ${blockedFetches.length} fetch(es): ${[...new Set(blockedFetches)].join(', ')}`);
  }
}

// Exit explicitly once stdout is flushed: keep-alive sockets to a local fake
// Backend API (whose idle timers see the frozen clock) must not keep us alive.
process.stdout.write(JSON.stringify({ results }) + '\n', () => process.exit(0));
