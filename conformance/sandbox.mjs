// The conformance runners' sandbox (reference.mjs, machine_authenticate.mjs):
// imported first, before @clerk/backend is loaded, because its runtime binds
// fetch at module load.
//
// Network: only http://127.0.0.1 / http://localhost (the Go test's fake
// Backend API) is reachable; every other fetch fails at once and is noted in
// blockedFetches, which the runner reports per case.
//
// Immediate retries: @clerk/shared's retry() (the Backend API JWKS fetch: 5
// attempts, exponential backoff from 125 ms with jitter) sleeps with
// `new Promise(s => setTimeout(s, ms))`. Timers scheduled from
// @clerk/shared/dist/retry.* fire with delay 0; every other timer is
// untouched.
import { promisify } from 'node:util';

const realFetch = globalThis.fetch;
const isLocal = u => {
  try {
    const url = new URL(u);
    return url.protocol === 'http:' && (url.hostname === '127.0.0.1' || url.hostname === 'localhost');
  } catch {
    return false;
  }
};
export const blockedFetches = [];
globalThis.fetch = function conformanceFetch(resource, init) {
  const url = typeof resource === 'string' ? resource : resource instanceof URL ? resource.href : resource?.url;
  if (isLocal(url)) return realFetch(resource, init);
  blockedFetches.push(String(url));
  return Promise.reject(new Error('network disabled in conformance runner'));
};

const realSetTimeout = globalThis.setTimeout;
const RETRY_MODULE = /[\\/]@clerk[\\/]shared[\\/]dist[\\/]retry\.m?js/;
function conformanceSetTimeout(callback, delay, ...args) {
  if (delay > 0 && RETRY_MODULE.test(new Error().stack || '')) delay = 0;
  return realSetTimeout(callback, delay, ...args);
}
if (realSetTimeout[promisify.custom]) conformanceSetTimeout[promisify.custom] = realSetTimeout[promisify.custom];
globalThis.setTimeout = conformanceSetTimeout;
