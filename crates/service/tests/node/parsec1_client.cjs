'use strict';
// Independent Parsec.1 client for the end-to-end tests of our server. It is written on the npm
// package `unicrypto` 1.14.1 (BOSS, RSA OAEP/PSS, SignedRecord, EtA) and node:crypto and shares no
// code with the Rust workspace. Protocol: /work/shared/spec/parsec1.md §4, §5 and §7.1a.
//
//   PARSEC_NODE_MODULES=<dir>/node_modules node --no-experimental-fetch parsec1_client.cjs \
//       http://127.0.0.1:PORT/api/p1 <service key long address, Safe58>
//   PARSEC_NODE_MODULES=<dir>/node_modules node --no-experimental-fetch parsec1_client.cjs --selftest
//
// (crates/parsec1/tests/node/install.sh <cache dir> installs unicrypto and prints the node_modules.)
//
// stdout carries JSON lines only: {"step": NAME, "ok": true, ...details} per step (info, requestSCK,
// registerSCK, createTSK, getSessionInfo, psaGenerateRandom, psaGenerateKey, psaExportPublicKey,
// psaSignHash, listKeys, missingKey, unknownCommand, tampered, replay, unknownSession,
// unknownServiceKey, destroySession, afterDestroy), then {"done": true} and exit 0. The first
// failure prints {"step": NAME, "ok": false, "error": "..."} (NAME "args" for a bad address) and
// exits 1; so does the 60 s overall limit. Binaries in details are lowercase hex, times ISO strings.
// --selftest checks the helpers against the spec's vectors, prints {"selftest": true, "ok": ...,
// "checks": n, "failures": [...]} and exits 0 or 1. Diagnostics go to stderr; usage errors exit 2.

const path = require('path');
const http = require('http');
const nodeCrypto = require('crypto');

// --- stdout discipline ---------------------------------------------------------------------------
// unicrypto's Emscripten runtime prints diagnostics with console.log, bound when it loads: divert
// console output to stderr before loading it, and write the JSON lines with writeStdout.
const writeStdout = process.stdout.write.bind(process.stdout);
console.log = console.info = console.debug = console.error;
const log = (...args) => console.error('parsec1_client:', ...args);

function describeError(e) {
  if (e instanceof Error) return e.message || String(e);
  if (typeof e === 'number') return `unicrypto WASM exception (C++ exception object ${e})`;
  if (typeof e === 'string') return e;
  try { return JSON.stringify(e); } catch (_) { return String(e); }
}

// unicrypto leaves some promises dangling; a late rejection must not kill the client.
process.on('unhandledRejection', (r) => log('unhandled rejection (ignored):', describeError(r)));

function loadUnicrypto() {
  const dir = process.env.PARSEC_NODE_MODULES;
  if (!dir) {
    log('PARSEC_NODE_MODULES is not set (a node_modules directory holding unicrypto 1.14.1)');
    process.exit(2);
  }
  // unicrypto's WASM loader fails when Node's global fetch exists (spec §7.2): run node with
  // --no-experimental-fetch; as a fallback, remove it here.
  delete globalThis.fetch;
  try { return require(path.join(dir, 'unicrypto')); } catch (e) {
    log(`cannot load unicrypto from ${dir}: ${describeError(e)}`);
    process.exit(2);
  }
}

const U = loadUnicrypto();
const { Boss, SymmetricKey, PrivateKey, PublicKey, SignedRecord, SHA } = U;

// --- small helpers -------------------------------------------------------------------------------
// unicrypto's BOSS writer serialises `bytes.buffer`, the WHOLE ArrayBuffer behind a view (for a
// pooled Node Buffer, 8 KiB of unrelated memory), so every binary handed to it is copied first.
const own = (bytes) => new Uint8Array(bytes);
const hex = (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const fromHex = (s) => own(Buffer.from(s, 'hex'));
const isBytes = (v) => v instanceof Uint8Array;
const isDate = (v) => v instanceof Date && Number.isFinite(v.getTime());
const isDict = (v) => v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;
const bytesEqual = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const b64url = (b) => Buffer.from(b).toString('base64url');

function assert(cond, message) { if (!cond) throw new Error(message); }

// A JSON-safe rendering of a decoded BOSS value (for details and error messages).
function show(v) {
  if (isBytes(v)) return hex(v);
  if (v instanceof Date) return isDate(v) ? v.toISOString() : 'Invalid Date';
  if (Array.isArray(v)) return v.map(show);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), show(x)]));
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.keys(v).map((k) => [k, show(v[k])]));
  return v === undefined ? null : v;
}

const brief = (v) => { const s = JSON.stringify(show(v)); return s.length > 300 ? `${s.slice(0, 300)}...` : s; };

// dict[name] after checking it with `ok`; `want` describes the expectation for the error message.
function field(dict, name, ok, want, what) {
  assert(isDict(dict), `${what}: expected a dict, got ${brief(dict)}`);
  assert(ok(dict[name]), `${what}: ${name} should be ${want}, got ${brief(dict[name])}`);
  return dict[name];
}
const bin = (n) => (v) => isBytes(v) && (n === undefined || v.length === n);

// --- BOSS ----------------------------------------------------------------------------------------
const bossDump = (value) => own(Boss.dump(value));

function bossLoad(bytes, what) {
  let value;
  try { value = Boss.load(own(bytes)); } catch (e) { throw new Error(`${what}: bad BOSS: ${describeError(e)}`); }
  // unicrypto yields undefined (instead of failing) on empty input or a dangling CREF.
  assert(value !== undefined, `${what}: BOSS decoded nothing`);
  return value;
}

// --- keys, addresses, RSA ------------------------------------------------------------------------
// §4.4: OAEP with SHA-1 and MGF1-SHA-1.
const OAEP = { oaepHash: 'sha1', mgf1Hash: 'sha1' };

// §4.5: PSS with SHA3-384, MGF1-SHA-1 and the maximum salt length emLen - 48 - 2.
function pssOptions(key) {
  const emLen = Math.ceil((key.getBitStrength() - 1) / 8);
  return { pssHash: 'sha3_384', mgf1Hash: 'sha1', saltLength: emLen - 48 - 2 };
}

const sha3_384 = (bytes) => own(SHA.getDigestSync('sha3_384', bytes));

const crc32be = (bytes) => fromHex((U.CRC32(bytes) >>> 0).toString(16).padStart(8, '0'));

// The 53-byte long address of a public key, as unicrypto computes it.
const longAddressOf = (pub) => own(pub.longAddress.bytes);

// Parses a Safe58 long address. decode58 accepts foreign characters and returns garbage (§7.1a), so
// the alphabet is checked first; then the length, key mask and CRC. Any typeMark is accepted.
const BASE58 = /^[1-9A-HJ-NP-Za-km-z]+$/;
function parseLongAddress(text) {
  assert(typeof text === 'string' && BASE58.test(text), `address ${JSON.stringify(text)} is not Safe58 (Base58)`);
  const bytes = own(U.decode58(text));
  assert(bytes.length === 53, `address ${text}: ${bytes.length} bytes, a long address has 53`);
  assert([1, 2, 3].includes(bytes[0] >> 4), `address ${text}: unknown key mask in first byte ${bytes[0]}`);
  assert(bytesEqual(crc32be(bytes.slice(0, 49)), bytes.slice(49)), `address ${text}: bad CRC-32`);
  return bytes;
}

// --- SignedRecord (§4.6) -------------------------------------------------------------------------
const packSR = async (priv, payload, nonce) => own(await SignedRecord.packWithKey(priv, payload, nonce));

// Unpacks [type, packedKey, signature, data] and VERIFIES the signature with the embedded key:
// unicrypto's SignedRecord.unpack tests a Promise for truthiness and so checks nothing (§7.1a).
async function unpackSR(packed, what) {
  const outer = bossLoad(packed, what);
  assert(Array.isArray(outer) && outer.length === 4, `${what}: not a 4-item list: ${brief(outer)}`);
  const [type, packedKey, signature, data] = outer;
  assert(type === 0, `${what}: record type ${brief(type)}, expected 0 (SHA3-384)`);
  assert([packedKey, signature, data].every(isBytes), `${what}: key, signature and data must be BIN`);
  const key = await PublicKey.unpack(own(packedKey));
  const verify = async (d) => (await key.verify(d, own(signature), pssOptions(key))) === true;
  const verified = await verify(own(data));
  // Negative control: the same check must fail on altered data, or it proves nothing.
  const altered = own(data);
  altered[altered.length - 1] ^= 0x01;
  const alteredRejected = !(await verify(altered));
  const inner = bossLoad(data, `${what} data`);
  assert(Array.isArray(inner) && inner.length === 2, `${what}: data is not [nonce, payload]`);
  const [nonce, payload] = inner;
  assert(nonce === null || isBytes(nonce), `${what}: nonce is neither null nor BIN`);
  return { key, verified, alteredRejected, signature, nonce, payload };
}

// --- EtA (§4.7) with unicrypto's SymmetricKey ----------------------------------------------------
const etaKey = (keyBytes) => new SymmetricKey({ keyBytes: own(keyBytes) });

// --- POW type 1 (§4.8) ---------------------------------------------------------------------------
// Zero bits at the start of the hash, LSB-first within each byte (trailing zeros of byte 0, ...).
function zeroBitsLsbFirst(hash) {
  let n = 0;
  for (const byte of hash) {
    if (byte === 0) { n += 8; continue; }
    for (let b = byte; (b & 1) === 0; b >>= 1) n++;
    return n;
  }
  return n;
}

// Finds the 8-byte counter (two little-endian u32 words) whose SHA3-384(solution || source) starts
// with exactly `length` zero bits, as the uparsecjs client does (a server accepts `length` or more).
function solvePow(source, length, deadline) {
  const buf = new Uint8Array(8 + source.length);
  buf.set(source, 8);
  const view = new DataView(buf.buffer);
  for (let i = 0; ; i++) {
    view.setUint32(0, i >>> 0, true);
    view.setUint32(4, Math.floor(i / 0x100000000), true);
    if (zeroBitsLsbFirst(sha3_384(buf)) === length) return { solution: buf.slice(0, 8), iterations: i + 1 };
    if ((i & 0x3ff) === 0 && Date.now() > deadline) throw new Error(`POW of length ${length} not solved in time`);
  }
}

// --- transport (§5.1, §5.2) ----------------------------------------------------------------------
class Transport {
  constructor(url) {
    this.url = new URL(url);
    assert(this.url.protocol === 'http:', `only http:// URLs are supported, not ${url}`);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  // POSTs one BOSS block as the multipart file field `cmd`; resolves {status, headers, body}.
  post(block, origin) {
    const boundary = `----parsec1-node-${nodeCrypto.randomBytes(12).toString('hex')}`;
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="cmd"; filename="` +
        `${new Date().toISOString()}.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`, 'latin1'),
      Buffer.from(block),
      Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1'),
    ]);
    const headers = { 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': body.length };
    if (origin) headers.Origin = origin;
    return new Promise((resolve, reject) => {
      const req = http.request(this.url, { method: 'POST', agent: this.agent, headers }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: own(Buffer.concat(chunks)) }));
        res.on('error', reject);
      });
      req.setTimeout(20000, () => req.destroy(new Error('no answer within 20 s')));
      req.on('error', (e) => reject(new Error(`HTTP request failed: ${describeError(e)}`)));
      req.end(body);
    });
  }

  // A guest command: returns the decoded answer, {result} or {error: {code, text}}.
  async guest(cmd, args, origin) {
    const res = await this.post(bossDump({ cmd, args }), origin);
    assert(res.status === 200, `${cmd}: HTTP status ${res.status}, expected 200`);
    if (origin) {
      const allow = res.headers['access-control-allow-origin'];
      assert(allow === '*' || allow === origin, `${cmd}: access-control-allow-origin is ${JSON.stringify(allow)}`);
    }
    const answer = bossLoad(res.body, `${cmd} answer`);
    assert(isDict(answer) && ('result' in answer || 'error' in answer), `${cmd}: answer ${brief(answer)} has no result or error`);
    return answer;
  }

  close() { this.agent.destroy(); }
}

function resultOf(answer, what) {
  assert(!('error' in answer), `${what}: unexpected error ${brief(answer.error)}`);
  return answer.result;
}

function errorOf(answer, code, what) {
  assert('error' in answer, `${what}: expected error ${code}, got result ${brief(answer.result)}`);
  const e = answer.error;
  assert(isDict(e) && e.code === code, `${what}: expected error ${code}, got ${brief(e)}`);
  assert(typeof e.text === 'string', `${what}: error ${code} has no string text (§5.2)`);
  return { code: e.code, text: e.text };
}

// --- the session tunnel (§5.3 `cmd`) -------------------------------------------------------------
class Session {
  constructor(transport, sessionId, tsk) { Object.assign(this, { t: transport, id: sessionId, key: etaKey(tsk) }); }

  // EtA(TSK, BOSS {cmd, args}): the `params` of one tunnelled command.
  async params(cmd, args) { return own(await this.key.etaEncrypt(bossDump({ cmd, args }))); }

  // Sends a ready `params` block; returns the outer (plain) answer.
  send(params, authToken = this.id) { return this.t.guest('cmd', { authToken, params: own(params) }); }

  // Runs a session command; returns {params, inner} where inner is {result} or {error}.
  async call(cmd, args) {
    const params = await this.params(cmd, args);
    // The envelope's result is {result: <sealed>}: uparsecjs reads `answer.result` of it.
    const outer = resultOf(await this.send(params), `cmd ${cmd} (outer)`);
    const sealed = outer && outer.result;
    assert(isBytes(sealed), `cmd ${cmd}: outer result.result is not BIN: ${brief(outer)}`);
    const plain = await this.key.etaDecrypt(own(sealed)).catch((e) => {
      throw new Error(`cmd ${cmd}: the answer does not decrypt with the TSK: ${describeError(e)}`);
    });
    const inner = bossLoad(plain, `cmd ${cmd} inner answer`);
    assert(isDict(inner) && ('result' in inner || 'error' in inner), `cmd ${cmd}: inner answer ${brief(inner)} has no result or error`);
    return { params, inner };
  }

  async ok(cmd, args) { return resultOf((await this.call(cmd, args)).inner, cmd); }
  async err(cmd, args, code) { return errorOf((await this.call(cmd, args)).inner, code, cmd); }
}

// createTSK (§5.3): SR(SCK, {clientNonce, sessionId, knownServiceKeys}, nonce = clientNonce).
async function createTsk(t, sck, sessionId, knownServiceKeys) {
  const clientNonce = own(U.randomBytes(32));
  const payload = { clientNonce, sessionId, knownServiceKeys: knownServiceKeys.map(own) };
  return { clientNonce, answer: await t.guest('createTSK', { signedRecord: await packSR(sck, payload, clientNonce) }) };
}

// --- the end-to-end run --------------------------------------------------------------------------
const TIMEOUT_MS = 60000;
let currentStep = 'args';
let finished = false;

const emit = (obj) => writeStdout(JSON.stringify(obj) + '\n');

function finish(status, transport) {
  finished = true;
  if (transport) transport.close();
  writeStdout('', () => process.exit(status));
}

async function step(name, fn) {
  currentStep = name;
  const details = (await fn()) || {};
  if (!finished) emit({ step: name, ok: true, ...show(details) });
}

async function run(url, serviceAddressText) {
  const deadline = Date.now() + TIMEOUT_MS;
  let t = null;
  const timer = setTimeout(() => {
    if (!finished) { emit({ step: currentStep, ok: false, error: `timed out after ${TIMEOUT_MS / 1000} s` }); finish(1, t); }
  }, TIMEOUT_MS);
  try {
    const serviceAddress = parseLongAddress(serviceAddressText);
    t = new Transport(url);
    await U.unicryptoReady;
    let sck, context, task, sessionId, session, firstParams, ecPoint;

    // Guest commands: info and the handshake (§5.3, §5.5).
    await step('info', async () => {
      // With an Origin header, the answer must carry access-control-allow-origin (checked in guest).
      const info = resultOf(await t.guest('info', {}, 'http://example.test'), 'info');
      const versions = field(info, 'parsecVersions', (v) => Array.isArray(v) && v.includes('1.1'), 'a list with "1.1"', 'info');
      const isText = (v) => typeof v === 'string';
      return { parsecVersions: versions, serviceName: field(info, 'serviceName', isText, 'a string', 'info'),
        serviceVersion: field(info, 'serviceVersion', isText, 'a string', 'info'),
        localTime: field(info, 'localTime', isDate, 'a time', 'info'), cors: true };
    });
    await step('requestSCK', async () => {
      sck = await PrivateKey.generate({ strength: 2048 });
      const sckAddress = longAddressOf(sck.publicKey);
      assert(sckAddress.length === 53, `unicrypto gave a ${sckAddress.length}-byte long address`);
      const r = resultOf(await t.guest('requestSCK', { SCKAddress: sckAddress, testMode: true }), 'requestSCK');
      context = field(r, 'context', (v) => v !== undefined, 'present', 'requestSCK');
      task = field(r, 'POWTask', (v) => isDict(v) && v.type === 1 && Number.isInteger(v.length) && v.length >= 0 &&
        v.length <= 24 && isBytes(v.source) && v.source.length > 0, '{type: 1, length: 0..24, source: BIN}', 'requestSCK');
      return { sckAddress: U.encode58(sckAddress), powType: task.type, powLength: task.length, powSourceLength: task.source.length };
    });
    await step('registerSCK', async () => {
      const started = Date.now();
      const { solution, iterations } = solvePow(task.source, task.length, deadline);
      const powMs = Date.now() - started;
      const signedRecord = await packSR(sck, { POWResult: solution }, null);
      // The opaque context goes back as received (re-encoded from its decoded value).
      const r = resultOf(await t.guest('registerSCK', { context, signedRecord }), 'registerSCK');
      sessionId = field(r, 'sessionId', (v) => typeof v === 'string' && v.length > 0, 'a non-empty string', 'registerSCK');
      return { sessionId, powLength: task.length, powSolution: solution, powIterations: iterations, powMs };
    });
    await step('createTSK', async () => {
      const { clientNonce, answer } = await createTsk(t, sck, sessionId, [serviceAddress]);
      const sr = field(resultOf(answer, 'createTSK'), 'signedEncryptedResult', bin(), 'BIN', 'createTSK');
      const rec = await unpackSR(sr, 'signedEncryptedResult');
      assert(rec.verified, 'createTSK: the signature does not verify (PSS SHA3-384, MGF1-SHA-1, maximum salt)');
      assert(rec.alteredRejected, 'createTSK: verification also accepts altered data, so it checks nothing');
      const signer = longAddressOf(rec.key);
      assert(bytesEqual(signer, serviceAddress), `createTSK: signed by ${U.encode58(signer)}, not by ${serviceAddressText}`);
      const nonce = field(rec.payload, 'clientNonce', bin(32), '32 bytes', 'createTSK payload');
      assert(bytesEqual(nonce, clientNonce), 'createTSK: payload.clientNonce differs from ours');
      const sealed = field(rec.payload, 'encryptedResult', bin(), 'BIN', 'createTSK payload');
      const plain = await sck.decrypt(own(sealed), OAEP).catch((e) => {
        throw new Error(`createTSK: encryptedResult does not OAEP-decrypt with the SCK: ${describeError(e)}`);
      });
      const tsk = bossLoad(plain, 'OAEP-decrypted result');
      const tskBytes = field(tsk, 'TSK', bin(32), '32 bytes', 'createTSK encryptedResult');
      const expiresAt = field(tsk, 'TSKExpiresAt', isDate, 'a time', 'createTSK encryptedResult');
      session = new Session(t, sessionId, tskBytes);
      return { signatureVerified: true, alteredDataRejected: true, signerMatchesServiceAddress: true,
        serviceKeyBits: rec.key.getBitStrength(), signatureLength: rec.signature.length,
        recordNonceIsClientNonce: isBytes(rec.nonce) && bytesEqual(rec.nonce, clientNonce),
        tskLength: tskBytes.length, tskExpiresAt: expiresAt };
    });

    // Session commands through the `cmd` tunnel (§5.4).
    await step('getSessionInfo', async () => {
      const { params, inner } = await session.call('getSessionInfo', {});
      const r = resultOf(inner, 'getSessionInfo');
      firstParams = params; // replayed below
      return { expiresAt: field(r, 'expiresAt', isDate, 'a time', 'getSessionInfo'),
        isTest: field(r, 'isTest', (v) => v === true, 'true', 'getSessionInfo') };
    });
    await step('psaGenerateRandom', async () => {
      const r = await session.ok('psaGenerateRandom', { size: 32 });
      const bytes = field(r, 'randomBytes', bin(32), '32 bytes', 'psaGenerateRandom');
      return { length: bytes.length, randomBytes: bytes };
    });
    await step('psaGenerateKey', async () => {
      // ECDSA on P-256 (curve family 2 = SECP_R1) with SHA-256 (hash 7).
      const keyPolicy = { keyUsageFlags: { signHash: true, verifyHash: true },
        keyAlgorithm: { asymmetricSignature: { ecdsa: { hashAlg: { specific: 7 } } } } };
      const attributes = { keyType: { eccKeyPair: { curveFamily: 2 } }, keyBits: 256, keyPolicy };
      const r = await session.ok('psaGenerateKey', { keyName: 'node-ecdsa', attributes });
      assert(isDict(r) && Object.keys(r).length === 0, `psaGenerateKey: expected {}, got ${brief(r)}`);
      return { keyName: 'node-ecdsa' };
    });
    await step('psaExportPublicKey', async () => {
      const r = await session.ok('psaExportPublicKey', { keyName: 'node-ecdsa' });
      ecPoint = field(r, 'data', (v) => bin(65)(v) && v[0] === 4, 'a 65-byte uncompressed point', 'psaExportPublicKey');
      return { length: ecPoint.length, point: ecPoint };
    });
    await step('psaSignHash', async () => {
      const message = Buffer.from('hello from node');
      const hash = own(nodeCrypto.createHash('sha256').update(message).digest());
      const alg = { ecdsa: { hashAlg: { specific: 7 } } };
      const r = await session.ok('psaSignHash', { keyName: 'node-ecdsa', alg, hash });
      const signature = field(r, 'signature', bin(64), '64 bytes (r || s)', 'psaSignHash');
      // node:crypto checks it: the point as a JWK, the signature in IEEE P1363 form (r || s).
      const key = nodeCrypto.createPublicKey({ format: 'jwk',
        key: { kty: 'EC', crv: 'P-256', x: b64url(ecPoint.slice(1, 33)), y: b64url(ecPoint.slice(33)) } });
      const verify = (msg) => nodeCrypto.verify('sha256', msg, { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature));
      assert(verify(message), 'psaSignHash: node:crypto does not verify the signature');
      assert(!verify(Buffer.from('hello from nodf')), 'psaSignHash: the signature also verifies a changed hash');
      return { signatureLength: signature.length, nodeCryptoVerified: true, changedHashRejected: true };
    });
    await step('listKeys', async () => {
      const keys = field(await session.ok('listKeys', {}), 'keys', Array.isArray, 'a list', 'listKeys');
      const entry = keys.find((k) => isDict(k) && k.name === 'node-ecdsa');
      assert(entry, `listKeys: no entry named node-ecdsa in ${brief(keys)}`);
      return { count: keys.length, entry };
    });

    // Application errors: in the encrypted inner answer.
    await step('missingKey', () => session.err('psaExportPublicKey', { keyName: 'missing' }, 'psa_error_does_not_exist'));
    await step('unknownCommand', () => session.err('noSuchCommand', {}, 'unknown_command'));

    // Errors of the tunnel itself: in the plain outer answer of `cmd`.
    await step('tampered', async () => {
      const params = await session.params('getSessionInfo', {});
      params[16] ^= 0x01; // the first ciphertext byte, after the 16-byte IV
      const e = errorOf(await session.send(params), 'unknown_exception', 'tampered cmd');
      assert(e.text.includes('HMAC'), `tampered cmd: error text ${JSON.stringify(e.text)} does not mention HMAC`);
      return e;
    });
    await step('replay', async () => errorOf(await session.send(firstParams), 'parsec_replayed_message', 'replayed cmd'));
    await step('unknownSession', async () => {
      const params = await session.params('getSessionInfo', {});
      return errorOf(await session.send(params, 'no-such-session'), 'parsec_session_not_found', 'cmd with an unknown authToken');
    });

    // A createTSK naming only a key the service does not hold; then the end of the session.
    await step('unknownServiceKey', async () => {
      const otherAddress = longAddressOf((await PrivateKey.generate({ strength: 2048 })).publicKey);
      const { answer } = await createTsk(t, sck, sessionId, [otherAddress]);
      const e = errorOf(answer, 'parsec_unknown_service_key', 'createTSK with an unknown service key');
      return { otherAddress: U.encode58(otherAddress), ...e };
    });
    await step('destroySession', async () => {
      const r = await session.ok('destroySession', {});
      assert(isDict(r) && Object.keys(r).length === 0, `destroySession: expected {}, got ${brief(r)}`);
    });
    await step('afterDestroy', async () => {
      const params = await session.params('getSessionInfo', {});
      return errorOf(await session.send(params), 'parsec_session_not_found', 'getSessionInfo after destroySession');
    });

    if (!finished) { emit({ done: true }); finish(0, t); }
  } catch (e) {
    if (!finished) { emit({ step: currentStep, ok: false, error: describeError(e) }); finish(1, t); }
  } finally {
    clearTimeout(timer);
  }
}

// --- self-test against the spec's vectors (§3.11, §4) --------------------------------------------
// A reference EtA decryption on node:crypto (§4.7: the counter is XORed into the IV's last 4 bytes,
// the HMAC covers the ciphertext only), to check unicrypto's cipher on 3+ blocks.
function etaDecryptReference(key, sealed) {
  const iv = Buffer.from(sealed.slice(0, 16)), c = sealed.slice(16, -32);
  assert(bytesEqual(nodeCrypto.createHmac('sha256', key).update(c).digest(), sealed.slice(-32)), 'reference: bad HMAC');
  const aes = nodeCrypto.createCipheriv('aes-256-ecb', key, null).setAutoPadding(false);
  const keystream = Buffer.concat(Array.from({ length: Math.ceil(c.length / 16) }, (_, i) => {
    const block = Buffer.from(iv);
    block.writeUInt32BE((iv.readUInt32BE(12) ^ i) >>> 0, 12);
    return aes.update(block);
  }));
  return c.map((x, i) => x ^ keystream[i]);
}

async function selfTest() {
  await U.unicryptoReady;
  const failures = [];
  let count = 0;
  const check = async (name, fn) => {
    count++;
    const r = await Promise.resolve().then(fn).catch(describeError);
    if (r !== true) failures.push(`${name}: ${r}`);
  };
  const same = (got, want) => (got === want ? true : `got ${got}, want ${want}`);
  const rejects = async (fn) => { try { await fn(); return 'accepted'; } catch (_) { return true; } };
  const dec = (h) => bossLoad(fromHex(h), 'vector');

  // §3.11 BOSS vectors: unicrypto writes the JS column and reads them all.
  const vectors = [
    [0, '00'], [7, '38'], [22, 'b0'], [23, 'b817'], [99, 'b863'], [331, 'c04b01'], [70000, 'c8701101'],
    [-7, '3a'], [-99, 'ba63'], [-331, 'c24b01'], [true, '61'], [false, '69'], [null, '05'], ['Абв', '33d090d0b1d0b2'],
    [1.5, '39000000000000f83f'], [-2.25, '3900000000000002c0'], [new Date(1375965738 * 1000), '792a240e1085'],
    [fromHex('000102030405'), '34000102030405'], [[0, 1, -1, 7, -7], '2e00080a383a'], ['Hello', '2b48656c6c6f'],
    [['Hello', 'World', 'Hello', 'Hello'], '262b48656c6c6f2b576f726c641515'],
    [{ cmd: 'info', args: {} }, '171b636d6423696e666f236172677307'],
    [{ error: { code: 'parsec_session_not_found', text: 'x' } },
      '0f2b6572726f721723636f6465bb18' + Buffer.from('parsec_session_not_found').toString('hex') + '23746578740b78'],
  ];
  for (const [value, want] of vectors) {
    await check(`BOSS encode ${brief(value)}`, () => same(hex(bossDump(value)), want));
    await check(`BOSS decode ${want}`, () => same(brief(dec(want)), brief(value)));
  }
  await check('BOSS decode Java CREF vector', () => same(JSON.stringify(dec('3e50051e2b48656c6c6f08101d051515')),
    JSON.stringify([10, null, ['Hello', 1, 2], 'Hello', null, ['Hello', 1, 2], ['Hello', 1, 2]])));
  await check('BOSS decode Java dict with an int key', () => {
    const v = dec('1f1b6f6e651b74776f2b477265617461b8ac69');
    return v.one === 'two' && v.Great === true && v['172'] === false ? true : brief(v);
  });

  // §4.7 EtA: the vector, a tampered vector, and 4-block round trips against the reference.
  const K = fromHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
  const P = '171b636d647367657453657373696f6e496e666f236172677307';
  const C = fromHex('0697bc6fa5254b82bc3c23b340f4e747' + '1665c0bdf420a6f8a7235b0fecc9ba3cd88fb88f3a173a801a6f' +
    '85cce7768bca3185b5e99ce1bb30a5bbb281b96ac8fcf28329de181c38c3f1f1');
  await check('EtA vector decrypts (unicrypto)', async () => same(hex(await etaKey(K).etaDecrypt(own(C))), P));
  await check('EtA vector decrypts (reference)', () => same(hex(etaDecryptReference(K, C)), P));
  const tampered = own(C);
  tampered[16] ^= 1;
  await check('EtA tampered vector is rejected', () => rejects(() => etaKey(K).etaDecrypt(tampered)));
  await check('EtA 4-block round trips match the reference', async () => {
    for (let n = 0; n < 8; n++) { // several random IVs, so an added (not XORed) counter would show
      const plain = own(U.randomBytes(57));
      const sealed = own(await etaKey(K).etaEncrypt(plain));
      if (sealed.length !== plain.length + 48) return `sealed length ${sealed.length}`;
      if (!bytesEqual(etaDecryptReference(K, sealed), plain)) return 'reference decryption differs';
      if (!bytesEqual(await etaKey(K).etaDecrypt(sealed), plain)) return 'unicrypto round trip differs';
    }
    return true;
  });

  // §4.8 POW: the vector has exactly 12 zero bits, and counting up from 0 the solver finds it first
  // (which also checks the little-endian counter layout).
  const source = own(Buffer.from('powsource'));
  await check('POW vector has exactly 12 zero bits', () => {
    const h = sha3_384(new Uint8Array([...fromHex('6210000000000000'), ...source]));
    return hex(h).startsWith('00300325') ? same(zeroBitsLsbFirst(h), 12) : `hash ${hex(h).slice(0, 16)}`;
  });
  await check('POW solver finds the vector', () => same(hex(solvePow(source, 12, Date.now() + 20000).solution), '6210000000000000'));

  // §4.2 addresses: the Java zero address parses; a bad CRC, a foreign character, a short one do not.
  const zero = 'Xj38UK7Er8VPqwjxBaEFjuKJ48fQbuQr3WGmMfG5wcPbTJ2zfU799qqhVUFCWadXQdKFLw4';
  await check('Java zero long address parses', () => {
    const b = parseLongAddress(zero + 'm');
    return b[0] === 0x1d && b.slice(1, 49).every((x) => x === 0) ? true : hex(b);
  });
  for (const bad of [zero + 'n', zero + '0', 'yNb7j1viLcZunrTHozyfJPTZJrprRSPpY485Lwzq1CFK3sFQ3S']) {
    await check(`address ...${bad.slice(-6)} is rejected`, () => rejects(() => parseLongAddress(bad)));
  }

  // §4.2, §4.6 with a fresh 2048-bit key.
  const key = await PrivateKey.generate({ strength: 2048 });
  await check('SignedRecord packs, unpacks and verifies', async () => {
    const pow = fromHex('6210000000000000');
    const rec = await unpackSR(await packSR(key, { POWResult: pow }, null), 'sr');
    if (!rec.verified || !rec.alteredRejected) return `verified ${rec.verified}, altered rejected ${rec.alteredRejected}`;
    if (rec.nonce !== null || !bytesEqual(rec.payload.POWResult, pow)) return brief(rec.payload);
    const address = longAddressOf(rec.key); // and it survives Safe58 and parseLongAddress
    return address[0] === 0x10 && bytesEqual(address, longAddressOf(key.publicKey)) &&
      bytesEqual(parseLongAddress(U.encode58(address)), address) && rec.signature.length === 256 || 'key or signature';
  });

  for (const f of failures) log(`SELF-TEST FAILED: ${f}`);
  emit({ selftest: true, ok: failures.length === 0, checks: count, failures });
  return failures.length === 0;
}

// --- entry point ---------------------------------------------------------------------------------
const argv = process.argv.slice(2);
if (argv.includes('--selftest')) {
  selfTest().then((ok) => finish(ok ? 0 : 1), (e) => {
    emit({ selftest: true, ok: false, failures: [`crashed: ${describeError(e)}`] });
    finish(1);
  });
} else if (argv.length === 2) {
  run(argv[0], argv[1]);
} else {
  log('usage: parsec1_client.cjs <url> <service key long address, Safe58> | --selftest');
  process.exit(2);
}
