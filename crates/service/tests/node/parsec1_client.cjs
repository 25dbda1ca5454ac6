'use strict';
// Independent Parsec.1 client for the end-to-end tests of our server. It is written on the npm
// package `unicrypto` 1.14.1 (BOSS, RSA OAEP/PSS, SignedRecord, EtA) and node:crypto, and shares
// no code with the Rust workspace. Protocol: /work/shared/spec/parsec1.md §4, §5 and §7.1a.
//
//   PARSEC_NODE_MODULES=<dir>/node_modules node --no-experimental-fetch parsec1_client.cjs \
//       http://127.0.0.1:PORT/api/p1 <service key long address, Safe58>
//   PARSEC_NODE_MODULES=<dir>/node_modules node --no-experimental-fetch parsec1_client.cjs --selftest
//
// (crates/parsec1/tests/node/install.sh <cache dir> installs unicrypto and prints <dir>/node_modules.)
//
// stdout carries JSON lines only: one {"step": NAME, "ok": true, ...details} per step, in this
// order: info, requestSCK, registerSCK, createTSK, getSessionInfo, psaGenerateRandom,
// psaGenerateKey, psaExportPublicKey, psaSignHash, listKeys, missingKey, unknownCommand, tampered,
// replay, unknownSession, unknownServiceKey, destroySession, afterDestroy; then {"done": true} and
// exit status 0. The first failure prints {"step": NAME, "ok": false, "error": "..."} and exits 1.
// Binary details are lowercase hex, times ISO strings. Everything else goes to stderr.
// --selftest checks the helpers against the spec's vectors, prints one JSON summary line and
// exits 0 or 1. Usage errors exit 2.

const path = require('path');
const http = require('http');
const https = require('https');
const nodeCrypto = require('crypto');

// --- stdout discipline -------------------------------------------------------------------------
// unicrypto's Emscripten runtime prints diagnostics with console.log and binds it when it loads:
// divert console output to stderr before loading it, and write our JSON lines directly.
const writeStdout = process.stdout.write.bind(process.stdout);
console.log = console.error;
console.info = console.error;
console.debug = console.error;
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
  // unicrypto's WASM loader fails when Node's global fetch exists (spec §7.2).
  if (typeof globalThis.fetch === 'function') {
    log('global fetch is present (run node with --no-experimental-fetch); removing it');
    delete globalThis.fetch;
  }
  try {
    return require(path.join(dir, 'unicrypto'));
  } catch (e) {
    log(`cannot load unicrypto from ${dir}: ${describeError(e)}`);
    process.exit(2);
  }
}

const U = loadUnicrypto();
const { Boss, SymmetricKey, PrivateKey, PublicKey, SignedRecord, SHA } = U;

// --- small helpers -----------------------------------------------------------------------------
// unicrypto's BOSS writer serialises `bytes.buffer`, the WHOLE ArrayBuffer behind a view (a pooled
// Node Buffer would leak 8 KiB of unrelated memory), so every binary given to it is copied first.
const own = (bytes) => new Uint8Array(bytes);
const hex = (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const fromHex = (s) => own(Buffer.from(s, 'hex'));
const isBytes = (v) => v instanceof Uint8Array;
const isDate = (v) => v instanceof Date && Number.isFinite(v.getTime());
const isDict = (v) => v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;

function bytesEqual(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

// A JSON-safe rendering of a decoded BOSS value (for details and error messages).
function show(v) {
  if (isBytes(v)) return hex(v);
  if (v instanceof Date) return isDate(v) ? v.toISOString() : 'Invalid Date';
  if (Array.isArray(v)) return v.map(show);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), show(x)]));
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.keys(v).map((k) => [k, show(v[k])]));
  return v === undefined ? null : v;
}
const brief = (v) => { const s = JSON.stringify(show(v)); return s.length > 300 ? s.slice(0, 300) + '...' : s; };

// --- BOSS ----------------------------------------------------------------------------------------
const bossDump = (value) => own(Boss.dump(value));

function bossLoad(bytes, what) {
  let value;
  try {
    value = Boss.load(own(bytes));
  } catch (e) {
    throw new Error(`${what}: BOSS decoding failed: ${describeError(e)}`);
  }
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

function crc32be(bytes) {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, U.CRC32(bytes) >>> 0, false);
  return out;
}

// The 53-byte long address of a public key, as unicrypto computes it.
const longAddressOf = (pub) => own(pub.longAddress.bytes);

// §4.2 by hand, from the packed key [1, e, n]: (keyMask << 4) | 0, SHA3-384(e || n), CRC-32 BE.
function longAddressByHand(pub) {
  const [type, e, n] = bossLoad(pub.packed, 'packed public key');
  assert(type === 1 && isBytes(e) && isBytes(n), 'packed public key is not [1, e, n]');
  const mask = { 2048: 1, 4096: 2, 8192: 3 }[pub.getBitStrength()];
  const head = new Uint8Array(49);
  head[0] = mask << 4;
  head.set(sha3_384(new Uint8Array([...e, ...n])), 1);
  return new Uint8Array([...head, ...crc32be(head)]);
}

// Parses a Safe58 long address. decode58 accepts foreign characters and returns garbage (§7.1a),
// so the alphabet is checked first; then length, key mask and CRC. Any typeMark is accepted.
const BASE58 = /^[1-9A-HJ-NP-Za-km-z]+$/;
function parseLongAddress(text) {
  assert(typeof text === 'string' && BASE58.test(text), `address ${JSON.stringify(text)}: not Safe58 (Base58, Bitcoin alphabet)`);
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
  assert(isBytes(packedKey) && isBytes(signature) && isBytes(data), `${what}: key, signature and data must be BIN`);
  const key = await PublicKey.unpack(own(packedKey));
  const verified = (await key.verify(own(data), own(signature), pssOptions(key))) === true;
  // Negative control: the same check must fail on altered data, or it proves nothing.
  const altered = own(data);
  altered[altered.length - 1] ^= 0x01;
  const alteredRejected = (await key.verify(altered, own(signature), pssOptions(key))) !== true;
  const inner = bossLoad(data, `${what} data`);
  assert(Array.isArray(inner) && inner.length === 2, `${what}: data is not [nonce, payload]`);
  const [nonce, payload] = inner;
  assert(nonce === null || isBytes(nonce), `${what}: nonce is neither null nor BIN`);
  return { key, verified, alteredRejected, signature, nonce, payload };
}

// --- EtA (§4.7): unicrypto's SymmetricKey ---------------------------------------------------------
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

// Searches the 8-byte counter (two little-endian u32 words) whose SHA3-384(solution || source)
// starts with exactly `length` zero bits, as the uparsecjs client does (a server accepts >=).
function solvePow(source, length, deadline = Infinity) {
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

// --- transport (§5.1) ----------------------------------------------------------------------------
class Transport {
  constructor(url) {
    this.url = new URL(url);
    assert(['http:', 'https:'].includes(this.url.protocol), `unsupported URL ${url}`);
    this.mod = this.url.protocol === 'https:' ? https : http;
    this.agent = new this.mod.Agent({ keepAlive: true, maxSockets: 1 });
  }

  // POSTs one BOSS block as the multipart file field `cmd`; resolves {status, headers, body}.
  post(block, origin) {
    const boundary = `----parsec1-node-${nodeCrypto.randomBytes(12).toString('hex')}`;
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="cmd"; ` +
        `filename="${new Date().toISOString()}.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`, 'latin1'),
      Buffer.from(block),
      Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1'),
    ]);
    const headers = { 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': body.length };
    if (origin) headers.Origin = origin;
    return new Promise((resolve, reject) => {
      const req = this.mod.request(this.url, { method: 'POST', agent: this.agent, headers }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: own(Buffer.concat(chunks)) }));
        res.on('error', reject);
      });
      req.setTimeout(20000, () => req.destroy(new Error('HTTP request timed out after 20 s')));
      req.on('error', (e) => reject(new Error(`HTTP request failed: ${describeError(e)}`)));
      req.end(body);
    });
  }

  // A guest command: returns the decoded answer {result} or {error: {code, text}}.
  async guest(cmd, args, origin) {
    const res = await this.post(bossDump({ cmd, args }), origin);
    assert(res.status === 200, `${cmd}: HTTP status ${res.status}, expected 200`);
    if (origin) {
      const allow = res.headers['access-control-allow-origin'];
      assert(allow === '*' || allow === origin, `${cmd}: access-control-allow-origin is ${JSON.stringify(allow)} for Origin ${origin}`);
    }
    const answer = bossLoad(res.body, `${cmd} answer`);
    assert(isDict(answer) && ('result' in answer || 'error' in answer), `${cmd}: answer is neither {result} nor {error}: ${brief(answer)}`);
    return answer;
  }

  close() { this.agent.destroy(); }
}

function resultOf(answer, what) {
  assert(!('error' in answer), `${what}: unexpected error ${brief(answer.error)}`);
  assert('result' in answer, `${what}: no result in ${brief(answer)}`);
  return answer.result;
}

function errorOf(answer, code, what) {
  assert('error' in answer, `${what}: expected error ${code}, got result ${brief(answer.result)}`);
  const e = answer.error;
  assert(isDict(e) && e.code === code, `${what}: expected error ${code}, got ${brief(e)}`);
  assert(typeof e.text === 'string', `${what}: error ${code} has no string text (§5.2)`);
  return { code: e.code, text: e.text };
}

// --- the session tunnel (§5.3 `cmd`) ---------------------------------------------------------------
class Session {
  constructor(transport, sessionId, tsk) {
    this.t = transport;
    this.id = sessionId;
    this.key = etaKey(tsk);
  }

  // EtA(TSK, BOSS {cmd, args}): the `params` of one tunnelled command.
  async params(cmd, args) { return own(await this.key.etaEncrypt(bossDump({ cmd, args }))); }

  // Sends a ready `params` block; returns the outer (plain) answer.
  send(params, authToken = this.id) { return this.t.guest('cmd', { authToken, params: own(params) }); }

  // Runs a session command; returns {params, inner} where inner is {result} or {error}.
  async call(cmd, args) {
    const params = await this.params(cmd, args);
    const sealed = resultOf(await this.send(params), `cmd ${cmd} (outer)`);
    assert(isBytes(sealed), `cmd ${cmd}: outer result is not BIN: ${brief(sealed)}`);
    let plain;
    try {
      plain = await this.key.etaDecrypt(own(sealed));
    } catch (e) {
      throw new Error(`cmd ${cmd}: the encrypted answer does not decrypt with the TSK: ${describeError(e)}`);
    }
    const inner = bossLoad(plain, `cmd ${cmd} inner answer`);
    assert(isDict(inner) && ('result' in inner || 'error' in inner), `cmd ${cmd}: inner answer is neither {result} nor {error}: ${brief(inner)}`);
    return { params, inner };
  }

  async ok(cmd, args) { return resultOf((await this.call(cmd, args)).inner, cmd); }
  async err(cmd, args, code) { return errorOf((await this.call(cmd, args)).inner, code, cmd); }
}

// createTSK (§5.3): SR(SCK, {clientNonce, sessionId, knownServiceKeys}, nonce = clientNonce).
async function createTsk(t, sck, sessionId, knownServiceKeys) {
  const clientNonce = own(U.randomBytes(32));
  const signedRecord = await packSR(sck, { clientNonce, sessionId, knownServiceKeys: knownServiceKeys.map(own) }, clientNonce);
  return { clientNonce, answer: await t.guest('createTSK', { signedRecord }) };
}

// --- the end-to-end run --------------------------------------------------------------------------
const TIMEOUT_MS = 60000;
let currentStep = 'start';
let finished = false;

function emit(obj) { writeStdout(JSON.stringify(obj) + '\n'); }

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
  const t = new Transport(url);
  const timer = setTimeout(() => {
    emit({ step: currentStep, ok: false, error: `overall timeout of ${TIMEOUT_MS / 1000} s exceeded` });
    finish(1, t);
  }, TIMEOUT_MS);
  try {
    await U.unicryptoReady;
    const serviceAddress = parseLongAddress(serviceAddressText);
    let sck, sckAddress, context, task, sessionId, session, firstParams, ecPoint;

    await step('info', async () => {
      const origin = 'http://example.test';
      const info = resultOf(await t.guest('info', {}, origin), 'info');
      assert(isDict(info), `info: result is not a dict: ${brief(info)}`);
      assert(Array.isArray(info.parsecVersions) && info.parsecVersions.includes('1.1'), `info: parsecVersions ${brief(info.parsecVersions)} lacks "1.1"`);
      assert(typeof info.serviceName === 'string', 'info: serviceName is not a string');
      assert(typeof info.serviceVersion === 'string', 'info: serviceVersion is not a string');
      assert(isDate(info.localTime), `info: localTime is not a time: ${brief(info.localTime)}`);
      return { parsecVersions: info.parsecVersions, serviceName: info.serviceName, serviceVersion: info.serviceVersion,
        localTime: info.localTime, cors: true };
    });

    await step('requestSCK', async () => {
      sck = await PrivateKey.generate({ strength: 2048 });
      sckAddress = longAddressOf(sck.publicKey);
      assert(sckAddress.length === 53, `unicrypto gave a ${sckAddress.length}-byte long address`);
      const r = resultOf(await t.guest('requestSCK', { SCKAddress: own(sckAddress), testMode: true }), 'requestSCK');
      assert(isDict(r) && 'context' in r && r.context !== undefined, `requestSCK: no context in ${brief(r)}`);
      task = r.POWTask;
      assert(isDict(task) && task.type === 1, `requestSCK: POWTask is not of type 1: ${brief(task)}`);
      assert(Number.isInteger(task.length) && task.length >= 0 && task.length <= 24, `requestSCK: POW length ${brief(task.length)} is not an integer in 0..24`);
      assert(isBytes(task.source) && task.source.length > 0, 'requestSCK: POW source is not non-empty BIN');
      context = r.context;
      return { sckAddress: U.encode58(sckAddress), powType: task.type, powLength: task.length, powSourceLength: task.source.length };
    });

    await step('registerSCK', async () => {
      const started = Date.now();
      const { solution, iterations } = solvePow(task.source, task.length, deadline);
      const powMs = Date.now() - started;
      const signedRecord = await packSR(sck, { POWResult: solution }, null);
      // The opaque context goes back exactly as received (re-encoded from its decoded value).
      const r = resultOf(await t.guest('registerSCK', { context, signedRecord }), 'registerSCK');
      assert(isDict(r) && typeof r.sessionId === 'string' && r.sessionId.length > 0, `registerSCK: sessionId is not a non-empty string: ${brief(r)}`);
      sessionId = r.sessionId;
      return { sessionId, powLength: task.length, powSolution: solution, powIterations: iterations, powMs };
    });

    await step('createTSK', async () => {
      const { clientNonce, answer } = await createTsk(t, sck, sessionId, [serviceAddress]);
      const r = resultOf(answer, 'createTSK');
      assert(isDict(r) && isBytes(r.signedEncryptedResult), `createTSK: no BIN signedEncryptedResult in ${brief(r)}`);
      const rec = await unpackSR(r.signedEncryptedResult, 'signedEncryptedResult');
      assert(rec.verified, 'createTSK: the signature of signedEncryptedResult does not verify (PSS SHA3-384/MGF1-SHA1/max salt)');
      assert(rec.alteredRejected, 'createTSK: verification also accepts altered data (the check is void)');
      const signer = longAddressOf(rec.key);
      assert(bytesEqual(signer, serviceAddress), `createTSK: signed by ${U.encode58(signer)}, not by the service key ${serviceAddressText}`);
      assert(isDict(rec.payload), `createTSK: payload is not a dict: ${brief(rec.payload)}`);
      assert(isBytes(rec.payload.clientNonce) && bytesEqual(rec.payload.clientNonce, clientNonce), 'createTSK: payload.clientNonce differs from ours');
      assert(isBytes(rec.payload.encryptedResult), 'createTSK: payload.encryptedResult is not BIN');
      const plain = await sck.decrypt(own(rec.payload.encryptedResult), OAEP);
      const tsk = bossLoad(plain, 'OAEP-decrypted result');
      assert(isDict(tsk) && isBytes(tsk.TSK) && tsk.TSK.length === 32, `createTSK: no 32-byte TSK in ${brief(Object.keys(tsk || {}))}`);
      assert(isDate(tsk.TSKExpiresAt), `createTSK: TSKExpiresAt is not a time: ${brief(tsk.TSKExpiresAt)}`);
      session = new Session(t, sessionId, tsk.TSK);
      return { signatureVerified: true, alteredDataRejected: true, signerMatchesServiceAddress: true,
        serviceKeyBits: rec.key.getBitStrength(), signatureLength: rec.signature.length,
        recordNonceIsClientNonce: isBytes(rec.nonce) && bytesEqual(rec.nonce, clientNonce),
        tskLength: tsk.TSK.length, tskExpiresAt: tsk.TSKExpiresAt };
    });

    await step('getSessionInfo', async () => {
      const { params, inner } = await session.call('getSessionInfo', {});
      const r = resultOf(inner, 'getSessionInfo');
      firstParams = params; // replayed below
      assert(isDict(r) && isDate(r.expiresAt), `getSessionInfo: expiresAt is not a time: ${brief(r)}`);
      assert(r.isTest === true, `getSessionInfo: isTest is ${brief(r.isTest)}, expected true`);
      return { expiresAt: r.expiresAt, isTest: r.isTest };
    });

    await step('psaGenerateRandom', async () => {
      const r = await session.ok('psaGenerateRandom', { size: 32 });
      assert(isDict(r) && isBytes(r.randomBytes) && r.randomBytes.length === 32, `psaGenerateRandom: expected 32 bytes, got ${brief(r)}`);
      return { length: r.randomBytes.length, randomBytes: r.randomBytes };
    });

    await step('psaGenerateKey', async () => {
      const r = await session.ok('psaGenerateKey', {
        keyName: 'node-ecdsa',
        attributes: {
          keyType: { eccKeyPair: { curveFamily: 2 } }, // SECP_R1
          keyBits: 256,
          keyPolicy: {
            keyUsageFlags: { signHash: true, verifyHash: true },
            keyAlgorithm: { asymmetricSignature: { ecdsa: { hashAlg: { specific: 7 } } } }, // SHA-256
          },
        },
      });
      assert(isDict(r) && Object.keys(r).length === 0, `psaGenerateKey: expected {}, got ${brief(r)}`);
      return { keyName: 'node-ecdsa' };
    });

    await step('psaExportPublicKey', async () => {
      const r = await session.ok('psaExportPublicKey', { keyName: 'node-ecdsa' });
      assert(isDict(r) && isBytes(r.data) && r.data.length === 65 && r.data[0] === 4, `psaExportPublicKey: expected a 65-byte uncompressed point, got ${brief(r)}`);
      ecPoint = r.data;
      return { length: ecPoint.length, point: ecPoint };
    });

    await step('psaSignHash', async () => {
      const message = Buffer.from('hello from node');
      const hash = own(nodeCrypto.createHash('sha256').update(message).digest());
      const r = await session.ok('psaSignHash', { keyName: 'node-ecdsa', alg: { ecdsa: { hashAlg: { specific: 7 } } }, hash });
      assert(isDict(r) && isBytes(r.signature) && r.signature.length === 64, `psaSignHash: expected a 64-byte r||s signature, got ${brief(r)}`);
      const b64url = (b) => Buffer.from(b).toString('base64url');
      const key = nodeCrypto.createPublicKey({ format: 'jwk',
        key: { kty: 'EC', crv: 'P-256', x: b64url(ecPoint.slice(1, 33)), y: b64url(ecPoint.slice(33, 65)) } });
      const verify = (msg) => nodeCrypto.verify('sha256', msg, { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(r.signature));
      assert(verify(message), 'psaSignHash: node:crypto does not verify the signature');
      assert(!verify(Buffer.from('hello from nodf')), 'psaSignHash: the signature also verifies a changed hash');
      return { signatureLength: r.signature.length, nodeCryptoVerified: true, changedHashRejected: true };
    });

    await step('listKeys', async () => {
      const r = await session.ok('listKeys', {});
      assert(isDict(r) && Array.isArray(r.keys), `listKeys: result.keys is not a list: ${brief(r)}`);
      const entry = r.keys.find((k) => isDict(k) && k.name === 'node-ecdsa');
      assert(entry, `listKeys: no entry named node-ecdsa in ${brief(r.keys)}`);
      return { count: r.keys.length, entry };
    });

    await step('missingKey', async () => session.err('psaExportPublicKey', { keyName: 'missing' }, 'psa_error_does_not_exist'));
    await step('unknownCommand', async () => session.err('noSuchCommand', {}, 'unknown_command'));

    await step('tampered', async () => {
      const params = await session.params('getSessionInfo', {});
      params[16] ^= 0x01; // first ciphertext byte, after the 16-byte IV
      const e = errorOf(await session.send(params), 'unknown_exception', 'tampered cmd');
      assert(e.text.includes('HMAC'), `tampered cmd: error text ${JSON.stringify(e.text)} does not mention HMAC`);
      return e;
    });

    await step('replay', async () => errorOf(await session.send(firstParams), 'parsec_replayed_message', 'replayed cmd'));

    await step('unknownSession', async () =>
      errorOf(await session.send(await session.params('getSessionInfo', {}), 'no-such-session'), 'parsec_session_not_found', 'cmd with an unknown authToken'));

    await step('unknownServiceKey', async () => {
      const other = await PrivateKey.generate({ strength: 2048 });
      const otherAddress = longAddressOf(other.publicKey);
      const { answer } = await createTsk(t, sck, sessionId, [otherAddress]);
      return { otherAddress: U.encode58(otherAddress), ...errorOf(answer, 'parsec_unknown_service_key', 'createTSK with an unknown service key') };
    });

    await step('destroySession', async () => {
      const r = await session.ok('destroySession', {});
      assert(isDict(r) && Object.keys(r).length === 0, `destroySession: expected {}, got ${brief(r)}`);
      return {};
    });

    await step('afterDestroy', async () =>
      errorOf(await session.send(await session.params('getSessionInfo', {})), 'parsec_session_not_found', 'getSessionInfo after destroySession'));

    clearTimeout(timer);
    if (!finished) {
      emit({ done: true });
      finish(0, t);
    }
  } catch (e) {
    clearTimeout(timer);
    if (!finished) {
      emit({ step: currentStep, ok: false, error: describeError(e) });
      finish(1, t);
    }
  }
}

// --- self-test against the spec's vectors (§3.11, §4) ----------------------------------------------
// A reference EtA decryption on node:crypto (§4.7: XOR counter, HMAC over the ciphertext only), to
// check that unicrypto's cipher is the one the spec describes on 3+ blocks.
function etaDecryptReference(key, sealed) {
  const iv = sealed.slice(0, 16), c = sealed.slice(16, sealed.length - 32), tag = sealed.slice(sealed.length - 32);
  const mac = nodeCrypto.createHmac('sha256', key).update(c).digest();
  if (!bytesEqual(mac, tag)) throw new Error('reference EtA: bad HMAC');
  const aes = nodeCrypto.createCipheriv('aes-256-ecb', key, null).setAutoPadding(false);
  const out = new Uint8Array(c.length);
  for (let i = 0; i * 16 < c.length; i++) {
    const block = Buffer.from(iv);
    block.writeUInt32BE((block.readUInt32BE(12) ^ i) >>> 0, 12);
    const ks = aes.update(block);
    for (let j = 0; j < 16 && i * 16 + j < c.length; j++) out[i * 16 + j] = c[i * 16 + j] ^ ks[j];
  }
  return out;
}

async function selfTest() {
  await U.unicryptoReady;
  const failures = [];
  let count = 0;
  const check = async (name, fn) => {
    count++;
    try {
      const r = await fn();
      if (r !== true) failures.push(`${name}: ${r}`);
    } catch (e) {
      failures.push(`${name}: ${describeError(e)}`);
    }
  };
  const same = (got, want) => (got === want ? true : `got ${got}, want ${want}`);
  const enc = (v) => hex(bossDump(v));
  const dec = (h) => bossLoad(fromHex(h), 'vector');

  // §3.11 BOSS vectors (encoder output of unicrypto = the JS column; decoder reads all).
  const encodeVectors = [
    [0, '00'], [7, '38'], [22, 'b0'], [23, 'b817'], [99, 'b863'], [331, 'c04b01'], [70000, 'c8701101'],
    [-7, '3a'], [-99, 'ba63'], [-331, 'c24b01'], [true, '61'], [false, '69'], [null, '05'],
    [1.5, '39000000000000f83f'], [-2.25, '3900000000000002c0'], ['Hello', '2b48656c6c6f'], ['Абв', '33d090d0b1d0b2'],
    [fromHex('000102030405'), '34000102030405'], [[0, 1, -1, 7, -7], '2e00080a383a'],
    [new Date(1375965738 * 1000), '792a240e1085'], [['Hello', 'World', 'Hello', 'Hello'], '262b48656c6c6f2b576f726c641515'],
    [{ cmd: 'info', args: {} }, '171b636d6423696e666f236172677307'],
    [{ error: { code: 'parsec_session_not_found', text: 'x' } },
      '0f2b6572726f721723636f6465bb18' + Buffer.from('parsec_session_not_found').toString('hex') + '23746578740b78'],
  ];
  for (const [value, want] of encodeVectors) {
    await check(`BOSS encode ${brief(value)}`, () => same(enc(value), want));
    await check(`BOSS decode ${want}`, () => same(JSON.stringify(show(dec(want))), JSON.stringify(show(value))));
  }
  await check('BOSS decode Java CREF vector', () => same(JSON.stringify(dec('3e50051e2b48656c6c6f08101d051515')),
    JSON.stringify([10, null, ['Hello', 1, 2], 'Hello', null, ['Hello', 1, 2], ['Hello', 1, 2]])));
  await check('BOSS decode Java dict with an int key', () => {
    const v = dec('1f1b6f6e651b74776f2b477265617461b8ac69');
    return v.one === 'two' && v.Great === true && v['172'] === false ? true : brief(v);
  });
  await check('BOSS encodes a copied view as just its bytes', () => same(enc(own(fromHex('00aabbccdd00').subarray(1, 5))), '24aabbccdd'));

  // §4.7 EtA vector, tamper, and a 3+ block round trip checked by the node:crypto reference.
  const K = fromHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
  const P = '171b636d647367657453657373696f6e496e666f236172677307';
  const C = fromHex('0697bc6fa5254b82bc3c23b340f4e747' + '1665c0bdf420a6f8a7235b0fecc9ba3cd88fb88f3a173a801a6f' +
    '85cce7768bca3185b5e99ce1bb30a5bbb281b96ac8fcf28329de181c38c3f1f1');
  await check('EtA vector decrypts (unicrypto)', async () => same(hex(await etaKey(K).etaDecrypt(own(C))), P));
  await check('EtA vector decrypts (reference)', () => same(hex(etaDecryptReference(K, C)), P));
  await check('EtA vector tamper is rejected', async () => {
    const bad = own(C);
    bad[16] ^= 1;
    try { await etaKey(K).etaDecrypt(bad); return 'accepted'; } catch (_) { return true; }
  });
  await check('EtA 4-block round trip matches the reference', async () => {
    for (let n = 0; n < 8; n++) { // several random IVs, so the XOR-vs-add counter difference shows
      const plain = own(U.randomBytes(57));
      const sealed = own(await etaKey(K).etaEncrypt(plain));
      if (sealed.length !== plain.length + 48) return `sealed length ${sealed.length}`;
      if (!bytesEqual(etaDecryptReference(K, sealed), plain)) return 'reference decryption differs';
      if (!bytesEqual(await etaKey(K).etaDecrypt(sealed), plain)) return 'unicrypto round trip differs';
    }
    return true;
  });

  // §4.8 POW vector.
  const source = own(Buffer.from('powsource'));
  await check('POW vector has 12 zero bits then a 1', () => {
    const h = sha3_384(new Uint8Array([...fromHex('6210000000000000'), ...source]));
    return hex(h).startsWith('00300325') ? same(zeroBitsLsbFirst(h), 12) : `hash ${hex(h).slice(0, 16)}`;
  });
  await check('POW solver finds a valid solution', () => {
    const { solution } = solvePow(source, 12, Date.now() + 20000);
    const h = sha3_384(new Uint8Array([...solution, ...source]));
    return zeroBitsLsbFirst(h) === 12 ? true : `solution ${hex(solution)} has ${zeroBitsLsbFirst(h)} bits`;
  });
  await check('POW bit counting is LSB-first', () => same([zeroBitsLsbFirst([0x00, 0x30]), zeroBitsLsbFirst([0x80]), zeroBitsLsbFirst([0x01])].join(), '12,7,0'));

  // §4.2 addresses.
  await check('Java zero long address parses (CRC ok)', () => {
    const b = parseLongAddress('Xj38UK7Er8VPqwjxBaEFjuKJ48fQbuQr3WGmMfG5wcPbTJ2zfU799qqhVUFCWadXQdKFLw4m');
    return b[0] === 0x1d && b.slice(1, 49).every((x) => x === 0) ? true : hex(b);
  });
  for (const bad of ['Xj38UK7Er8VPqwjxBaEFjuKJ48fQbuQr3WGmMfG5wcPbTJ2zfU799qqhVUFCWadXQdKFLw4n', // CRC
    'Xj38UK7Er8VPqwjxBaEFjuKJ48fQbuQr3WGmMfG5wcPbTJ2zfU799qqhVUFCWadXQdKFLw40', // alphabet
    'yNb7j1viLcZunrTHozyfJPTZJrprRSPpY485Lwzq1CFK3sFQ3S']) { // short address
    await check(`address ${bad.slice(-6)} is rejected`, () => { try { parseLongAddress(bad); return 'accepted'; } catch (_) { return true; } });
  }

  // §4.2, §4.4, §4.6 with a fresh 2048-bit key.
  const key = await PrivateKey.generate({ strength: 2048 });
  await check('long address = 0x10 || SHA3-384(e||n) || CRC-32', () => {
    const a = longAddressOf(key.publicKey);
    return bytesEqual(a, longAddressByHand(key.publicKey)) && bytesEqual(parseLongAddress(U.encode58(a)), a) ? true : hex(a);
  });
  await check('SignedRecord packs, unpacks and verifies', async () => {
    const pow = fromHex('6210000000000000');
    const rec = await unpackSR(await packSR(key, { POWResult: pow }, null), 'sr');
    if (!rec.verified || !rec.alteredRejected) return `verified ${rec.verified}, altered rejected ${rec.alteredRejected}`;
    if (rec.nonce !== null || !bytesEqual(rec.payload.POWResult, pow)) return brief(rec.payload);
    return bytesEqual(longAddressOf(rec.key), longAddressOf(key.publicKey)) && rec.signature.length === 256 ? true : 'key or signature';
  });
  await check('SignedRecord with a bad signature is reported', async () => {
    const outer = bossLoad(await packSR(key, { a: 1 }, own(U.randomBytes(32))), 'sr');
    outer[2][5] ^= 0x40;
    const rec = await unpackSR(bossDump(outer.map((x) => (isBytes(x) ? own(x) : x))), 'sr');
    return rec.verified === false ? true : 'bad signature verified';
  });
  await check('OAEP: node:crypto encrypts, unicrypto decrypts', async () => {
    const [, e, n] = bossLoad(key.publicKey.packed, 'packed key');
    const b64url = (b) => Buffer.from(b).toString('base64url');
    const pub = nodeCrypto.createPublicKey({ format: 'jwk', key: { kty: 'RSA', n: b64url(n), e: b64url(e) } });
    const plain = bossDump({ TSK: own(U.randomBytes(32)), TSKExpiresAt: new Date(1375965738000) });
    const sealed = nodeCrypto.publicEncrypt({ key: pub, padding: nodeCrypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, plain);
    return same(hex(await key.decrypt(own(sealed), OAEP)), hex(plain));
  });

  for (const f of failures) log(`SELF-TEST FAILED: ${f}`);
  emit({ selftest: true, ok: failures.length === 0, checks: count, failures });
  return failures.length === 0;
}

// --- entry point -----------------------------------------------------------------------------------
const argv = process.argv.slice(2);
if (argv.includes('--selftest')) {
  selfTest().then((ok) => finish(ok ? 0 : 1), (e) => {
    log(`self-test crashed: ${describeError(e)}`);
    emit({ selftest: true, ok: false, failures: [describeError(e)] });
    finish(1);
  });
} else if (argv.length === 2) {
  run(argv[0], argv[1]);
} else {
  log('usage: parsec1_client.cjs <url> <service key long address, Safe58> | --selftest');
  process.exit(2);
}
