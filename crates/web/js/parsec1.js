// Parsec.1 from a web page: the JavaScript API of the parsec-web WebAssembly module.
//
//   import { connect } from './parsec1.js';
//   const session = await connect({
//     endpoint: 'https://service.example:8443/api/p1',
//     serviceKeys: ['<the service key address, Safe58>'],
//     password: 'optional: encrypts the session kept in localStorage',
//   });
//   await session.generateKey('my-key');
//   const signature = await session.signMessage('my-key', new TextEncoder().encode('text'));
//
// The WebAssembly module does the protocol (the service's key checked against `serviceKeys`,
// the session key, the proof of work, the tunnel's cipher); this file gives it the page's
// fetch, storage and WebCrypto. Errors are `Error`s with a `code`: `unknown_service_key`
// (the service does not hold a trusted key), `unreachable` (no answer: network, TLS, CORS,
// timeout), `remote` (the service answered with an error; `remoteCode` is its code),
// `not_trusted` (Parsec 1.2: the service's contract, or the network's word on it, refused),
// `protocol`, `storage`, `argument`, `page`.

import initWasm, { Session } from './pkg/parsec_web.js';
import wasmBytes from './pkg/parsec_web_bg.wasm';
// The public Universa mainnet's nodes (universa-core's list, as the Rust client bundles it).
import mainnet from './mainnet.json';

let loaded;
function load() {
  loaded ??= initWasm({ module_or_path: wasmBytes });
  return loaded;
}

function failure(code, message) {
  const e = new Error(message);
  e.code = code;
  return e;
}

// --- storage -----------------------------------------------------------------------------
// The session's state is a few strings (session id, TSK, session key). They are kept in
// memory for the WebAssembly side (which reads and writes synchronously) and written to the
// backing store after every change, as one entry: JSON, or with a password AES-256-GCM under
// a PBKDF2-HMAC-SHA256 key (600,000 rounds, as the Rust client's encrypted file).

const PBKDF2_ROUNDS = 600000;
const enc = new TextEncoder();
const dec = new TextDecoder();

function b64(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function unb64(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function subtle() {
  if (!globalThis.crypto?.subtle) {
    throw failure('page', 'WebCrypto is not available: the page must be served over HTTPS or from localhost');
  }
  return globalThis.crypto.subtle;
}

async function passwordKey(password, salt) {
  const base = await subtle().importKey('raw', enc.encode(password), 'PBKDF2', false, ['deriveKey']);
  return subtle().deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt, iterations: PBKDF2_ROUNDS },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

// A backing store: an object with getItem/setItem/removeItem (localStorage, sessionStorage),
// or 'local', 'session', 'memory'.
function backing(store) {
  if (store === undefined || store === 'local') return globalThis.localStorage;
  if (store === 'session') return globalThis.sessionStorage;
  if (store === 'memory') {
    const m = new Map();
    return {
      getItem: (k) => (m.has(k) ? m.get(k) : null),
      setItem: (k, v) => m.set(k, String(v)),
      removeItem: (k) => m.delete(k),
    };
  }
  if (typeof store?.getItem === 'function' && typeof store?.setItem === 'function') return store;
  throw failure('argument', "storage must be 'local', 'session', 'memory' or a Storage");
}

class SessionStorage {
  constructor(store, name, key, salt, values, password) {
    this.password = password;
    this.store = store;
    this.name = name;
    this.key = key; // AES-GCM key, or null without a password
    this.salt = salt;
    this.values = values;
    this.writing = Promise.resolve();
  }

  static async open(store, name, password) {
    const { key, salt, values } = await SessionStorage.read(store, name, password);
    return new SessionStorage(store, name, key, salt, values, password);
  }

  // The entry as stored now (another tab of the origin may have written it since).
  async reload() {
    await this.writing;
    const { key, salt, values } = await SessionStorage.read(this.store, this.name, this.password, this.key, this.salt);
    Object.assign(this, { key, salt, values });
  }

  static async read(store, name, password, knownKey = null, knownSalt = null) {
    const text = store.getItem(name);
    let parsed = null;
    if (text !== null) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
    }
    if (password === undefined || password === null) {
      if (parsed?.sealed) {
        throw failure('storage', 'the stored session is encrypted: give its password');
      }
      const values = new Map(Object.entries(parsed?.values ?? {}).filter(([, v]) => typeof v === 'string'));
      return { key: null, salt: null, values };
    }
    const salt = parsed?.salt ? unb64(parsed.salt) : (knownSalt ?? crypto.getRandomValues(new Uint8Array(16)));
    const same = knownKey !== null && knownSalt !== null && b64(knownSalt) === b64(salt);
    const key = same ? knownKey : await passwordKey(password, salt);
    let values = new Map();
    if (parsed?.sealed) {
      try {
        const plain = await subtle().decrypt({ name: 'AES-GCM', iv: unb64(parsed.iv) }, key, unb64(parsed.sealed));
        values = new Map(Object.entries(JSON.parse(dec.decode(plain))));
      } catch {
        throw failure('storage', 'wrong password, or the stored session is damaged');
      }
    } else if (parsed !== null) {
      // Writing an encrypted session over it would lose the stored session key (and with it
      // the service's keys of this application): the page must decide.
      throw failure(
        'storage',
        'a session is stored here without a password: open it without one, or destroy it first',
      );
    }
    return { key, salt, values };
  }

  // The interface the WebAssembly session calls (synchronously).
  get(k) {
    return this.values.has(k) ? this.values.get(k) : null;
  }
  set(k, v) {
    this.values.set(k, v);
    this.schedule();
  }
  remove(k) {
    if (this.values.delete(k)) this.schedule();
  }

  schedule() {
    const snapshot = Object.fromEntries(this.values);
    this.writing = this.writing.then(() => this.write(snapshot)).catch((e) => {
      this.failed = e;
    });
  }

  async write(snapshot) {
    if (Object.keys(snapshot).length === 0) {
      this.store.removeItem(this.name);
      return;
    }
    if (this.key === null) {
      this.store.setItem(this.name, JSON.stringify({ values: snapshot }));
      return;
    }
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = new Uint8Array(
      await subtle().encrypt({ name: 'AES-GCM', iv }, this.key, enc.encode(JSON.stringify(snapshot))),
    );
    this.store.setItem(this.name, JSON.stringify({ salt: b64(this.salt), iv: b64(iv), sealed: b64(sealed) }));
  }

  // Waits until every change so far is written; fails if a write failed.
  async flush() {
    await this.writing;
    if (this.failed) {
      const e = this.failed;
      this.failed = undefined;
      throw failure('storage', `the session could not be stored: ${e.message ?? e}`);
    }
  }
}

// --- transport -----------------------------------------------------------------------------

// Largest answer read from the service (its max_message_size is at most 96 KiB), and from a
// Universa node (the protocol decodes at most 1 MiB).
const MAX_ANSWER = 16 * 1024 * 1024;
const MAX_NODE_ANSWER = 1024 * 1024;

// The body of `answer`, refused (and the transfer stopped) beyond `max` bytes, whatever the
// sender declares.
async function readCapped(answer, max) {
  const declared = Number(answer.headers.get('content-length') ?? 0);
  if (declared > max) throw new Error(`an answer of ${declared} bytes`);
  if (!answer.body) return new Uint8Array(await answer.arrayBuffer());
  const reader = answer.body.getReader();
  const chunks = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.length;
    if (length > max) {
      await reader.cancel();
      throw new Error(`an answer of more than ${max} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function poster(endpoint, timeoutMs) {
  return async (body) => {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      const answer = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body,
        signal: abort.signal,
        credentials: 'omit',
        cache: 'no-store',
      });
      // Answers are BOSS whatever the HTTP status (errors included), and small.
      return await readCapped(answer, MAX_ANSWER);
    } catch (e) {
      const why = abort.signal.aborted ? `no answer within ${timeoutMs} ms` : e.message || String(e);
      throw new Error(`${endpoint}: ${why}`);
    } finally {
      clearTimeout(timer);
    }
  };
}

// POSTs to a Universa node: the BOSS parameters as the multipart file field `requestData`.
function filePoster(timeoutMs) {
  return async (url, bytes) => {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      const form = new FormData();
      form.append('requestData', new Blob([bytes]), 'requestData');
      const answer = await fetch(url, { method: 'POST', body: form, signal: abort.signal, credentials: 'omit', cache: 'no-store' });
      return await readCapped(answer, MAX_NODE_ANSWER);
    } catch (e) {
      throw new Error(abort.signal.aborted ? `no answer within ${timeoutMs} ms` : e.message || String(e));
    } finally {
      clearTimeout(timer);
    }
  };
}

// A new RSA session key by WebCrypto (much faster than in WebAssembly), as its numbers.
async function webCryptoKey(bits) {
  const pair = await subtle().generateKey(
    { name: 'RSA-OAEP', modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-1' },
    true,
    ['encrypt', 'decrypt'],
  );
  const jwk = await subtle().exportKey('jwk', pair.privateKey);
  const num = (s) => unb64(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4));
  return { e: num(jwk.e), p: num(jwk.p), q: num(jwk.q) };
}

// --- the API ---------------------------------------------------------------------------------

// ECDSA on P-256 with SHA-256: the key type of generateKey's default.
const ECDSA_P256_SHA256 = {
  keyType: { eccKeyPair: { curveFamily: 2 } },
  keyBits: 256,
  keyPolicy: {
    keyUsageFlags: { signHash: true, verifyHash: true, signMessage: true, verifyMessage: true, export: false },
    keyAlgorithm: { asymmetricSignature: { ecdsa: { hashAlg: { specific: 7 } } } },
  },
};
const ECDSA_SHA256 = { ecdsa: { hashAlg: { specific: 7 } } };

export class Parsec1Session {
  constructor(session, storage, endpoint) {
    this.session = session;
    this.storage = storage;
    this.endpoint = endpoint;
    this.queue = Promise.resolve();
  }

  // One call at a time, in order; and, where the browser has Web Locks, one at a time among
  // all the tabs of the origin that share this stored session, each starting from the state
  // the last one stored (two tabs registering at once would otherwise each make a session key,
  // and the one written last would win).
  run(work) {
    const locks = globalThis.navigator?.locks;
    const exclusive = locks
      ? () =>
          locks.request(`parsec1-session:${this.storage.name}`, async () => {
            await this.storage.reload();
            return work();
          })
      : work;
    const result = this.queue.then(exclusive);
    this.queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  // A session command with its arguments (an object); its result.
  call(command, args = {}) {
    return this.run(async () => {
      try {
        return await this.session.call(command, args);
      } finally {
        await this.storage.flush();
      }
    });
  }

  // A guest command (no session), e.g. 'info'.
  guest(command, args = {}) {
    return this.session.guest(command, args);
  }

  info() {
    return this.guest('info');
  }

  // A signing key (ECDSA P-256 with SHA-256 unless `attributes` say otherwise).
  async generateKey(name, attributes = ECDSA_P256_SHA256) {
    await this.call('psaGenerateKey', { keyName: name, attributes });
  }

  // The public part of a key (for ECC: the uncompressed point).
  async exportPublicKey(name) {
    return (await this.call('psaExportPublicKey', { keyName: name })).data;
  }

  async signMessage(name, message, alg = ECDSA_SHA256) {
    return (await this.call('psaSignMessage', { keyName: name, alg, message })).signature;
  }

  async verifyMessage(name, message, signature, alg = ECDSA_SHA256) {
    await this.call('psaVerifyMessage', { keyName: name, alg, message, signature });
  }

  async destroyKey(name) {
    await this.call('psaDestroyKey', { keyName: name });
  }

  async listKeys() {
    return (await this.call('listKeys')).keys;
  }

  get sessionId() {
    return this.session.sessionId;
  }

  // Ends the session on the service and forgets it.
  destroy() {
    return this.run(async () => {
      try {
        await this.session.destroy();
      } finally {
        await this.storage.flush();
      }
    });
  }
}

// Opens (lazily: the first call connects) a session with the service at `endpoint`.
// The service is trusted by `serviceKeys` (Parsec 1.1: addresses known in advance), or by
// `contract` (Parsec 1.2: the origin of its Universa contract, Base64; checked on the nodes of
// `topology`, universa-core's `{list: [...]}` format, by default the public mainnet, with
// `trustLevel`, default 0.5, and `networkDeadlineMs`, default 30000).
// options: endpoint, serviceKeys (an address or a list) or contract, storage ('local' by default,
// 'session', 'memory' or a Storage), storageName (default 'parsec1:' + endpoint), password,
// keyBits (2048 or 4096; default 2048), testMode, timeoutMs (default 30000).
export async function connect(options) {
  const { endpoint, password, testMode = false, keyBits = 2048, timeoutMs = 30000 } = options ?? {};
  if (typeof endpoint !== 'string' || !/^https?:\/\//.test(endpoint)) {
    throw failure('argument', 'endpoint must be an http:// or https:// URL');
  }
  const keys = options.serviceKeys;
  const serviceKeys = (Array.isArray(keys) ? keys : typeof keys === 'string' ? keys.split(/[\s,]+/) : [])
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
  await load();
  // One stored session per endpoint, however its URL is spelled (default port, case).
  let normalized;
  try {
    normalized = new URL(endpoint).href;
  } catch {
    throw failure('argument', `endpoint ${endpoint} is not a URL`);
  }
  const storage = await SessionStorage.open(
    backing(options.storage),
    options.storageName ?? `parsec1:${normalized}`,
    password,
  );
  if (options.contract && serviceKeys.length > 0) {
    // Which would be trusted? Pinned keys would bypass the contract's checks.
    throw failure('argument', 'give serviceKeys (Parsec 1.1) or contract (Parsec 1.2), not both');
  }
  const trust = options.contract
    ? {
        contract: options.contract,
        topology: options.topology ?? mainnet,
        postFile: filePoster(Math.min(timeoutMs, 10000)),
        trustLevel: options.trustLevel ?? 0.5,
        networkDeadlineMs: options.networkDeadlineMs ?? 30000,
      }
    : { serviceKeys };
  const session = new Session({
    post: poster(normalized, timeoutMs),
    storage,
    ...trust,
    generateKey: globalThis.crypto?.subtle ? webCryptoKey : undefined,
    keyBits,
    testMode,
  });
  return new Parsec1Session(session, storage, endpoint);
}

export { Session as WasmSession };
