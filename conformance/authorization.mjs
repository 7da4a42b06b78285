#!/usr/bin/env node
// Authorization reference runner: builds @clerk/backend's signed-in auth
// object from session claims (signedInAuthObject, which decodes them with
// @clerk/shared's jwtPayloadParser) and asks its has() the given questions.
//
//   node conformance/authorization.mjs < input.json > output.json
//
// Input:  {"cases": [{"name": "...", "claims": {...},
//                     "questions": [{"role": "admin"} | {"permission": "..."} | {"feature": "..."} |
//                                   {"plan": "..."} | {"reverification": {"level": "...", "afterMinutes": 10}}]}]}
// Output: {"results": [{"name": "...", "error": null | "...",
//                       "auth": {"orgId", "orgRole", "orgSlug", "orgPermissions", "factorVerificationAge", "actor"},
//                       "answers": [true | false | "threw: ..."]}]}
// A case whose auth object cannot be built (Clerk's parser throws) has
// "error" set and no answers. No network is used: has() is pure.

import { readFileSync } from 'node:fs';
import { Console } from 'node:console';

const errConsole = new Console({ stdout: process.stderr, stderr: process.stderr });
for (const m of ['log', 'info', 'debug', 'warn', 'error']) console[m] = errConsole[m].bind(errConsole);
for (const k of Object.keys(process.env)) {
  if (k.startsWith('CLERK_') || k.startsWith('VERCEL_')) delete process.env[k];
}
process.env.CLERK_TELEMETRY_DISABLED = '1';

let input;
try {
  input = JSON.parse(readFileSync(0, 'utf8'));
  if (!input || !Array.isArray(input.cases)) throw new Error('input must be an object with a "cases" array');
} catch (err) {
  process.stderr.write(`[authorization] unreadable input: ${err.message}\n`);
  process.exit(2);
}

const { signedInAuthObject } = await import('@clerk/backend/internal');

const results = input.cases.map(c => {
  let auth;
  try {
    auth = signedInAuthObject({}, 'token', c.claims);
  } catch (err) {
    return { name: c.name, error: String(err?.message || err), auth: null, answers: [] };
  }
  const answers = (c.questions || []).map(q => {
    try {
      return auth.has(q);
    } catch (err) {
      return `threw: ${err?.message || err}`;
    }
  });
  return {
    name: c.name,
    error: null,
    auth: {
      orgId: auth.orgId ?? null,
      orgRole: auth.orgRole ?? null,
      orgSlug: auth.orgSlug ?? null,
      orgPermissions: auth.orgPermissions ?? null,
      factorVerificationAge: auth.factorVerificationAge ?? null,
      actor: auth.actor ?? null,
    },
    answers,
  };
});

process.stdout.write(JSON.stringify({ results }));
