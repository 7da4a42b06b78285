// Runs Clerk's organization sync matching for the orgsync conformance test
// (internal/orgsync/conformance_test.go): `match` from @clerk/shared's
// pathToRegexp, and @clerk/backend's own OrganizationMatcher class and
// handleMaybeOrganizationSyncHandshake comparison, whose source is taken out
// of the @clerk/backend bundle because the package does not export them (if
// that fails, the script stops; it never substitutes its own copy).
//
// stdin: {"cases": [{"name", "organizationPatterns": [..]|null,
//   "personalAccountPatterns": [..]|null, "paths": [..], "claims": [{..}, ..]}]}
// stdout: {"results": [{"name", "error": string|null,
//   "organizationError": string|null, "personalError": string|null,
//   "paths": [{"path", "pathname", "organizationParams": {..}|null,
//     "personalParams": {..}|null, "target": {..}|null,
//     "organizationId": string|null, "needsActivation": [bool, ..]}]}]}
//
// `error` is what `new OrganizationMatcher(options)` throws (Clerk's message);
// organizationError and personalError are `match(list)` errors for each list
// alone. Params are path-to-regexp's params object (arrays for repeated ones).
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { match } from "@clerk/shared/pathToRegexp";
import { __experimental_JWTPayloadToAuthObjectProperties as claimsToAuth } from "@clerk/shared/jwtPayloadParser";

function clerkSource() {
  const require = createRequire(import.meta.url);
  const dist = join(dirname(require.resolve("@clerk/backend/package.json")), "dist");
  for (const f of readdirSync(dist)) {
    if (!f.endsWith(".mjs")) continue;
    const src = readFileSync(join(dist, f), "utf8");
    const a = src.indexOf("var OrganizationMatcher = class {");
    if (a < 0) continue;
    const b = src.indexOf("\n};\n", a);
    const c = src.indexOf("function handleMaybeOrganizationSyncHandshake(");
    const d = src.indexOf("\n  async function authenticateRequestWithTokenInHeader", c);
    if (b < 0 || c < 0 || d < 0) break;
    return { matcher: src.slice(a, b + 3), handshake: src.slice(c, d) };
  }
  throw new Error("OrganizationMatcher not found in @clerk/backend's dist");
}

const clerk = clerkSource();
const OrganizationMatcher = new Function("match", `${clerk.matcher}\nreturn OrganizationMatcher;`)(match);

// handleMaybeOrganizationSyncHandshake with the handshake itself stubbed: a
// non-null result means "activation needed". The loop counter is 0.
function needsActivation(organizationMatcher, url, claims) {
  const f = new Function(
    "organizationMatcher", "handleMaybeHandshakeStatus", "AuthErrorReason",
    `${clerk.handshake}\nreturn handleMaybeOrganizationSyncHandshake;`,
  )(organizationMatcher, () => ({ status: "handshake" }), { ActiveOrganizationMismatch: "active-organization-mismatch" });
  return f({ clerkUrl: url, handshakeRedirectLoopCounter: 0 }, claimsToAuth(claims)) !== null;
}

// HandshakeService.getOrganizationSyncQueryParams (src/tokens/handshake.ts),
// applied to a URL as buildRedirectToHandshake does; returns the
// organization_id query value or null.
function organizationIdParam(toActivate) {
  if (!toActivate) return null;
  const ret = new Map();
  if (toActivate.type === "personalAccount") ret.set("organization_id", "");
  if (toActivate.type === "organization") {
    if (toActivate.organizationId) ret.set("organization_id", toActivate.organizationId);
    if (toActivate.organizationSlug) ret.set("organization_id", toActivate.organizationSlug);
  }
  const u = new URL("https://fapi.example.com/v1/client/handshake");
  ret.forEach((value, key) => u.searchParams.append(key, value));
  return u.searchParams.has("organization_id") ? u.searchParams.get("organization_id") : null;
}

function tryMatch(list) {
  if (!list) return { fn: null, error: null };
  try {
    return { fn: match(list), error: null };
  } catch (e) {
    return { fn: null, error: e.message };
  }
}

function params(fn, pathname) {
  if (!fn) return null;
  const r = fn(pathname);
  return r ? { ...r.params } : null;
}

let input = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) input += chunk;
const { cases } = JSON.parse(input);
const results = cases.map((c) => {
  const options = {};
  if (c.organizationPatterns) options.organizationPatterns = c.organizationPatterns;
  if (c.personalAccountPatterns) options.personalAccountPatterns = c.personalAccountPatterns;
  const org = tryMatch(c.organizationPatterns);
  const personal = tryMatch(c.personalAccountPatterns);
  const out = { name: c.name, error: null, organizationError: org.error, personalError: personal.error, paths: [] };
  let m;
  try {
    m = new OrganizationMatcher(options);
  } catch (e) {
    out.error = e.message;
    return out;
  }
  for (const path of c.paths) {
    const url = new URL(path, "https://app.example.com");
    const target = m.findTarget(url);
    out.paths.push({
      path,
      pathname: url.pathname,
      organizationParams: params(org.fn, url.pathname),
      personalParams: params(personal.fn, url.pathname),
      target,
      organizationId: organizationIdParam(target),
      needsActivation: (c.claims || []).map((cl) => needsActivation(m, url, cl)),
    });
  }
  return out;
});
process.stdout.write(JSON.stringify({ results }));
