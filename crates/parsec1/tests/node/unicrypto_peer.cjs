'use strict';
// Interop peer for the Parsec.1 / BOSS tests: exposes the npm package `unicrypto` 1.14.1
// (the independent JS implementation, spec §7.1) over JSON lines on stdin/stdout.
//
//   PARSEC_NODE_MODULES=<dir>/node_modules node --no-experimental-fetch unicrypto_peer.cjs
//
// One JSON request per input line, exactly one JSON response line per request, in order.
// Responses are {"ok":true,...} or {"ok":false,"error":"..."}; a request's "id" is echoed.
// Binary values are lowercase hex; BOSS values use the "tagged JSON" form described below.
// Only responses go to stdout; everything else (including unicrypto's own console output)
// goes to stderr. The process exits when stdin closes.
//
// Before serving, the peer self-tests unicrypto against vectors of the spec (§3.11, §4.2,
// §4.7) and exits with status 1 if any fails.

const path = require('path');
const readline = require('readline');

// --- stdout discipline ---------------------------------------------------------------
// unicrypto's Emscripten runtime prints C-side diagnostics with console.log (for example
// "rsa_encrypt_key_ex error: 22"); they must never reach the protocol stream. The runtime
// binds console.log when it initialises, so this has to happen before it is loaded.
const writeStdout = process.stdout.write.bind(process.stdout);
console.log = console.error;
console.info = console.error;
console.debug = console.error;

function log(...args) {
  console.error('unicrypto_peer:', ...args);
}

// A promise left dangling inside unicrypto (SignedRecord.unpack ignores the verify() promise)
// must not kill the peer if it rejects.
process.on('unhandledRejection', (reason) => {
  log('unhandled rejection inside unicrypto (ignored):', describeError(reason));
});

// --- loading unicrypto -----------------------------------------------------------------
function loadUnicrypto() {
  const dir = process.env.PARSEC_NODE_MODULES;
  if (!dir) {
    console.error('unicrypto_peer: PARSEC_NODE_MODULES is not set; it must point to a ' +
      'node_modules directory holding unicrypto 1.14.1 (npm ci in a copy of ' +
      'crates/parsec1/tests/node/package.json + package-lock.json)');
    process.exit(2);
  }
  // Node >= 18 has a global fetch, which unicrypto's WASM loader then uses on a file path
  // and fails (spec §7.2). Run with --no-experimental-fetch; as a fallback, remove it here.
  if (typeof globalThis.fetch === 'function') {
    log('global fetch is present (run node with --no-experimental-fetch); removing it');
    delete globalThis.fetch;
  }
  let U;
  try {
    U = require(path.join(dir, 'unicrypto'));
  } catch (e) {
    console.error(`unicrypto_peer: cannot load unicrypto from ${dir}: ${describeError(e)}`);
    process.exit(2);
  }
  try {
    const version = require(path.join(dir, 'unicrypto', 'package.json')).version;
    if (version !== '1.14.1') log(`warning: unicrypto version is ${version}, expected 1.14.1`);
  } catch (_) { /* informational only */ }
  return U;
}

const U = loadUnicrypto();
const { Boss, SymmetricKey, PrivateKey, PublicKey, KeyAddress, SignedRecord } = U;

// --- small helpers -----------------------------------------------------------------------
function describeError(e) {
  if (e instanceof Error) return e.message || String(e);
  // Emscripten C++ exceptions reach JS as a bare number (a pointer).
  if (typeof e === 'number') return `unicrypto WASM exception (C++ exception object ${e})`;
  if (typeof e === 'string') return e;
  try { return JSON.stringify(e); } catch (_) { return String(e); }
}

class BadRequest extends Error {}

function fromHex(s, what) {
  if (typeof s !== 'string') throw new BadRequest(`${what}: expected a hex string`);
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s))
    throw new BadRequest(`${what}: not a valid hex string`);
  // Always a fresh Uint8Array that owns its whole ArrayBuffer: unicrypto's BOSS writer
  // serialises `value.buffer`, i.e. the entire underlying buffer, not just the view.
  return new Uint8Array(Buffer.from(s, 'hex'));
}

function toHex(bytes) {
  if (!(bytes instanceof Uint8Array)) throw new Error(`expected bytes, got ${typeName(bytes)}`);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function typeName(v) {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  return (v.constructor && (v.constructor.className || v.constructor.name)) || 'object';
}

function bytesEqual(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function latin1(bytes) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

// --- tagged JSON <-> JS values -----------------------------------------------------------
const SAFE_INT = /^-?[0-9]+$/;

function taggedToJs(t, where = 'value') {
  if (t === null || typeof t !== 'object' || Array.isArray(t) || typeof t.t !== 'string')
    throw new BadRequest(`${where}: expected a tagged value {"t":...}`);
  const v = t.v;
  switch (t.t) {
    case 'null':
      return null;
    case 'bool':
      if (typeof v !== 'boolean') throw new BadRequest(`${where}: bool needs a boolean v`);
      return v;
    case 'int': {
      const s = typeof v === 'number' ? String(v) : v;
      if (typeof s !== 'string' || !SAFE_INT.test(s))
        throw new BadRequest(`${where}: int needs a decimal string v`);
      const n = Number(s);
      if (!Number.isSafeInteger(n))
        throw new BadRequest(`${where}: int ${s} is not representable as a JS number`);
      return n;
    }
    case 'float':
      if (typeof v === 'number') return v;
      if (v === 'NaN') return NaN;
      if (v === 'Infinity') return Infinity;
      if (v === '-Infinity') return -Infinity;
      throw new BadRequest(`${where}: float needs a number v`);
    case 'text':
      if (typeof v !== 'string') throw new BadRequest(`${where}: text needs a string v`);
      return v;
    case 'bin':
      return fromHex(v, where);
    case 'list':
      if (!Array.isArray(v)) throw new BadRequest(`${where}: list needs an array v`);
      return v.map((x, i) => taggedToJs(x, `${where}[${i}]`));
    case 'time':
      if (typeof v !== 'number' || !Number.isInteger(v))
        throw new BadRequest(`${where}: time needs integer seconds v`);
      return new Date(v * 1000);
    case 'dict': {
      if (!Array.isArray(v)) throw new BadRequest(`${where}: dict needs an array of pairs`);
      const pairs = v.map((p, i) => {
        if (!Array.isArray(p) || p.length !== 2)
          throw new BadRequest(`${where}: dict entry ${i} is not a [key, value] pair`);
        return [taggedToJs(p[0], `${where}.key${i}`), taggedToJs(p[1], `${where}.value${i}`)];
      });
      if (pairs.every(([k]) => typeof k === 'string')) {
        const obj = {};
        for (const [k, val] of pairs)
          Object.defineProperty(obj, k, { value: val, enumerable: true, writable: true, configurable: true });
        return obj;
      }
      return new Map(pairs);
    }
    default:
      throw new BadRequest(`${where}: unknown tag ${JSON.stringify(t.t)}`);
  }
}

function floatValue(n) {
  if (Number.isFinite(n)) return n;
  return Number.isNaN(n) ? 'NaN' : (n > 0 ? 'Infinity' : '-Infinity');
}

function jsToTagged(v, where = 'value', ancestors = new Set()) {
  if (v === null) return { t: 'null' };
  // unicrypto's decoder yields undefined (instead of failing) when it runs out of input or
  // meets a CREF to an index it has not cached.
  if (v === undefined)
    throw new Error(`${where}: unicrypto decoded undefined (input ends early or a CREF points past its cache)`);
  switch (typeof v) {
    case 'boolean': return { t: 'bool', v };
    case 'number':
      if (Number.isInteger(v)) return { t: 'int', v: BigInt(v).toString() };
      return { t: 'float', v: floatValue(v) };
    case 'string': return { t: 'text', v };
    case 'object': break;
    default: throw new Error(`${where}: unicrypto returned a ${typeof v}`);
  }
  if (v instanceof Uint8Array) return { t: 'bin', v: toHex(v) };
  if (v instanceof Date) {
    const ms = v.getTime();
    if (!Number.isFinite(ms)) throw new Error(`${where}: unicrypto returned an invalid Date`);
    return { t: 'time', v: Math.floor(ms / 1000) };
  }
  if (ancestors.has(v)) throw new Error(`${where}: cyclic structure (a CREF to a container still being read)`);
  ancestors.add(v);
  try {
    if (Array.isArray(v))
      return { t: 'list', v: v.map((x, i) => jsToTagged(x, `${where}[${i}]`, ancestors)) };
    if (v instanceof Map) {
      const out = [];
      let i = 0;
      for (const [k, val] of v) {
        out.push([jsToTagged(k, `${where}.key${i}`, ancestors), jsToTagged(val, `${where}.value${i}`, ancestors)]);
        i++;
      }
      return { t: 'dict', v: out };
    }
    const proto = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) {
      return {
        t: 'dict',
        v: Object.keys(v).map((k) => [{ t: 'text', v: k }, jsToTagged(v[k], `${where}.${k}`, ancestors)]),
      };
    }
    // A typed dict ({__type: "KeyAddress", ...}, spec §3.9) that unicrypto's registry turned
    // into a class instance: report it rather than guess a dict for it.
    let detail = '';
    if (v instanceof KeyAddress && v.bytes instanceof Uint8Array) detail = ` (uaddress ${toHex(v.bytes)})`;
    throw new Error(`${where}: unicrypto decoded a typed dict into a ${typeName(v)} instance${detail}`);
  } finally {
    ancestors.delete(v);
  }
}

// unicrypto's BOSS writer keeps strings and binaries in a plain-object cache keyed by their
// (binary) string, so a value that spells an Object.prototype member ("toString",
// "constructor", "__proto__", ...) makes Boss.dump loop forever (spec §3.7). Refuse those.
function assertEncodable(v, where = 'value') {
  const risky = (s) => s in Object.prototype;
  if (typeof v === 'string') {
    if (risky(v)) throw new BadRequest(`${where}: unicrypto's BOSS encoder hangs on the string ${JSON.stringify(v)} (spec §3.7)`);
    return;
  }
  if (v instanceof Uint8Array) {
    if (v.length < 32 && risky(latin1(v)))
      throw new BadRequest(`${where}: unicrypto's BOSS encoder hangs on these bytes (they spell an Object.prototype member, spec §3.7)`);
    return;
  }
  if (Array.isArray(v)) { v.forEach((x, i) => assertEncodable(x, `${where}[${i}]`)); return; }
  if (v instanceof Map) {
    for (const [k, val] of v) { assertEncodable(k, `${where}.key`); assertEncodable(val, `${where}.value`); }
    return;
  }
  if (v !== null && typeof v === 'object' && !(v instanceof Date)) {
    for (const k of Object.keys(v)) { assertEncodable(k, `${where}.key`); assertEncodable(v[k], `${where}.${k}`); }
  }
}

function bossDump(value) {
  assertEncodable(value);
  return Boss.dump(value);
}

// Boss.load with diagnostics: unicrypto silently reads missing bytes as zeros and ignores
// anything after the first object, so report both.
function bossLoad(bytes) {
  const reader = Boss.createReader(bytes);
  const io = reader.parser && reader.parser.buffer;
  let truncated = false;
  if (io && typeof io.read === 'function') {
    const read = io.read.bind(io);
    io.read = (size = -1) => {
      const got = read(size);
      if (size >= 0 && got.length < size) truncated = true;
      return got;
    };
  }
  let value;
  try {
    value = reader.read();
  } catch (e) {
    throw new Error(`unicrypto's BOSS decoder failed: ${describeError(e)}`);
  }
  if (value === undefined) throw new Error('unicrypto decoded nothing (empty input)');
  const trailing = io ? io.length - io.position : 0;
  return { value, truncated, trailing };
}

// --- keys ------------------------------------------------------------------------------------
const SHA3_384_LEN = 48;
const keyCache = new Map();

async function cachedKey(kind, hex) {
  const id = `${kind}:${hex}`;
  if (keyCache.has(id)) return keyCache.get(id);
  const bytes = fromHex(hex, kind === 'priv' ? 'private' : 'public');
  const key = kind === 'priv' ? await PrivateKey.unpack(bytes) : await PublicKey.unpack(bytes);
  if (keyCache.size >= 64) keyCache.delete(keyCache.keys().next().value);
  keyCache.set(id, key);
  return key;
}

// Spec §4.5: PSS with SHA3-384, MGF1-SHA-1 and the maximum salt length emLen - hLen - 2.
function maxSaltLength(bits) {
  return Math.floor((bits - 1 + 7) / 8) - SHA3_384_LEN - 2;
}

function pssOptions(key, saltLen) {
  const bits = key.getBitStrength();
  const saltLength = saltLen === undefined || saltLen === null ? maxSaltLength(bits) : saltLen;
  if (!Number.isInteger(saltLength) || saltLength < 0)
    throw new BadRequest('salt_len must be a non-negative integer');
  return { pssHash: 'sha3_384', mgf1Hash: 'sha1', saltLength };
}

// OAEP: SHA-1 with MGF1-SHA-1 (spec §4.4). unicrypto's Node path only forwards oaepHash to
// WASM (MGF1 follows the OAEP hash there); mgf1Hash is passed anyway for clarity.
const OAEP_OPTIONS = { oaepHash: 'sha1', mgf1Hash: 'sha1' };

function checkPacked(bytes, type, count, what) {
  const parts = Boss.load(bytes);
  if (!Array.isArray(parts) || parts.length !== count || parts[0] !== type ||
      !parts.slice(1).every((p) => p instanceof Uint8Array))
    throw new Error(`unicrypto packed the ${what} key unexpectedly: ${jsonSafe(jsToTagged(parts))}`);
}

function jsonSafe(x) {
  const s = JSON.stringify(x);
  return s.length > 200 ? s.slice(0, 200) + '...' : s;
}

function addressOf(pub, long) {
  const addr = long ? pub.longAddress : pub.shortAddress;
  if (!addr) throw new Error(`unicrypto gives no address for a ${pub.getBitStrength()}-bit key`);
  return addr;
}

// --- operations --------------------------------------------------------------------------------
const BASE58 = /^[123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz]*$/;

function need(req, field) {
  if (!(field in req)) throw new BadRequest(`missing field ${JSON.stringify(field)}`);
  return req[field];
}

function symmetricKey(hex) {
  const keyBytes = fromHex(hex, 'key');
  if (keyBytes.length !== 32) throw new BadRequest(`key: expected 32 bytes, got ${keyBytes.length}`);
  return new SymmetricKey({ keyBytes });
}

const OPS = {
  async boss_encode(req) {
    return { hex: toHex(bossDump(taggedToJs(need(req, 'value')))) };
  },

  async boss_decode(req) {
    const { value, truncated, trailing } = bossLoad(fromHex(need(req, 'hex'), 'hex'));
    return { value: jsToTagged(value), truncated, trailing };
  },

  async eta_encrypt(req) {
    const key = symmetricKey(need(req, 'key'));
    return { hex: toHex(await key.etaEncrypt(fromHex(need(req, 'plain'), 'plain'))) };
  },

  async eta_decrypt(req) {
    const key = symmetricKey(need(req, 'key'));
    return { plain: toHex(await key.etaDecrypt(fromHex(need(req, 'cipher'), 'cipher'))) };
  },

  async rsa_generate(req) {
    const bits = need(req, 'bits');
    if (!Number.isInteger(bits) || bits < 512 || bits > 16384)
      throw new BadRequest('bits must be an integer between 512 and 16384');
    const key = await PrivateKey.generate({ strength: bits });
    const priv = await key.pack();
    const pub = key.publicKey.packed;
    checkPacked(priv, 0, 4, 'private'); // [0, e, p, q]
    checkPacked(pub, 1, 3, 'public'); // [1, e, n]
    return { private: toHex(priv), public: toHex(pub) };
  },

  async oaep_encrypt(req) {
    const pub = await cachedKey('pub', need(req, 'public'));
    const plain = fromHex(need(req, 'plain'), 'plain');
    const out = await pub.encrypt(plain, OAEP_OPTIONS);
    // On a too-long plaintext unicrypto prints an error and returns garbage instead of failing.
    const k = Math.ceil(pub.getBitStrength() / 8);
    if (out.length !== k)
      throw new Error(`unicrypto returned ${out.length} bytes instead of ${k} (plaintext too long?)`);
    return { hex: toHex(out) };
  },

  async oaep_decrypt(req) {
    const priv = await cachedKey('priv', need(req, 'private'));
    return { plain: toHex(await priv.decrypt(fromHex(need(req, 'cipher'), 'cipher'), OAEP_OPTIONS)) };
  },

  async pss_sign(req) {
    const priv = await cachedKey('priv', need(req, 'private'));
    const data = fromHex(need(req, 'data'), 'data');
    return { hex: toHex(await priv.sign(data, pssOptions(priv, req.salt_len))) };
  },

  async pss_verify(req) {
    const pub = await cachedKey('pub', need(req, 'public'));
    const data = fromHex(need(req, 'data'), 'data');
    const sig = fromHex(need(req, 'sig'), 'sig');
    const valid = await pub.verify(data, sig, pssOptions(pub, req.salt_len));
    return { valid: valid === true };
  },

  async sr_pack(req) {
    const priv = await cachedKey('priv', need(req, 'private'));
    const nonceHex = need(req, 'nonce');
    const nonce = nonceHex === null ? null : fromHex(nonceHex, 'nonce');
    const payload = taggedToJs(need(req, 'payload'), 'payload');
    assertEncodable([nonce, payload], 'payload');
    return { hex: toHex(await SignedRecord.packWithKey(priv, payload, nonce)) };
  },

  async sr_unpack(req) {
    const packed = fromHex(need(req, 'hex'), 'hex');
    // Structure check ourselves: [type, packedKey, signature, data].
    const outer = bossLoad(packed).value;
    if (!Array.isArray(outer) || outer.length !== 4)
      throw new Error('malformed signed record: not a 4-item list');
    if (outer[0] !== 0) throw new Error(`malformed signed record: unsupported type ${jsonSafe(jsToTagged(outer[0]))}`);
    for (const [i, name] of [[1, 'key'], [2, 'signature'], [3, 'data']])
      if (!(outer[i] instanceof Uint8Array)) throw new Error(`malformed signed record: ${name} is not bin`);
    // unicrypto's own unpacking (key, nonce, payload). It does NOT check the signature under
    // Node (it tests a Promise for truthiness, spec §7.1a), so verify explicitly below.
    const rec = await SignedRecord.unpack(packed);
    const key = rec.key;
    const data = outer[3];
    const valid = (await key.verify(data, outer[2], pssOptions(key))) === true;
    const inner = Boss.load(data);
    if (!Array.isArray(inner) || inner.length < 2)
      throw new Error('malformed signed record: data is not a [nonce, payload] list');
    if (rec.nonce !== null && rec.nonce !== undefined && !(rec.nonce instanceof Uint8Array))
      throw new Error(`malformed signed record: nonce is a ${typeName(rec.nonce)}`);
    return {
      valid,
      nonce: rec.nonce instanceof Uint8Array ? toHex(rec.nonce) : null,
      payload: jsToTagged(rec.payload, 'payload'),
      public: toHex(key.packed),
      long_address: key.longAddress ? toHex(key.longAddress.bytes) : null,
      short_address: key.shortAddress ? toHex(key.shortAddress.bytes) : null,
    };
  },

  async address(req) {
    const pub = await cachedKey('pub', need(req, 'public'));
    const long = need(req, 'long');
    if (typeof long !== 'boolean') throw new BadRequest('long must be a boolean');
    const addr = addressOf(pub, long);
    const text = long ? pub.longAddress58 : pub.shortAddress58;
    if (text !== addr.asString) throw new Error('unicrypto address text forms disagree');
    return { hex: toHex(addr.bytes), text };
  },

  async address_parse(req) {
    const text = need(req, 'text');
    if (typeof text !== 'string') throw new BadRequest('text must be a string');
    // decode58 maps I ! | l -> 1 and O 0 -> o and otherwise returns garbage on foreign
    // characters (spec §7.1a): reject anything outside the Bitcoin alphabet before calling it.
    if (!BASE58.test(text))
      return { hex: null, valid: false, reason: 'characters outside the Base58 (Bitcoin) alphabet' };
    let bytes;
    try {
      bytes = U.decode58(text);
    } catch (e) {
      return { hex: null, valid: false, reason: describeError(e) };
    }
    try {
      const addr = new KeyAddress(text);
      return { hex: toHex(bytes), valid: addr.isValid === true, long: addr.isLong };
    } catch (e) {
      return { hex: toHex(bytes), valid: false, reason: describeError(e) };
    }
  },

  async address_match(req) {
    const bytes = fromHex(need(req, 'address'), 'address');
    const pub = await cachedKey('pub', need(req, 'public'));
    let addr;
    try {
      addr = new KeyAddress(bytes);
    } catch (e) {
      // unicrypto refuses to build the address object at all (bad length, CRC or typeMark).
      return { matches: false, valid: false, reason: describeError(e) };
    }
    return { matches: addr.isMatchingKey(pub) === true, valid: true };
  },
};

// --- self-test against the spec's vectors -------------------------------------------------------
async function selfTest() {
  const failures = [];
  const check = async (name, fn) => {
    try {
      const r = await fn();
      if (r !== true) failures.push(`${name}: ${r}`);
    } catch (e) {
      failures.push(`${name}: ${describeError(e)}`);
    }
  };
  const enc = (v) => toHex(bossDump(v));
  const dec = (hex) => Boss.load(fromHex(hex));
  const same = (got, want) => (got === want ? true : `got ${got}, want ${want}`);

  // §4.7 EtA vector.
  const K = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
  const P = '171b636d647367657453657373696f6e496e666f236172677307';
  const C = '0697bc6fa5254b82bc3c23b340f4e747' + '1665c0bdf420a6f8a7235b0fecc9ba3cd88fb88f3a173a801a6f' +
    '85cce7768bca3185b5e99ce1bb30a5bbb281b96ac8fcf28329de181c38c3f1f1';
  await check('EtA vector decrypts', async () => same(toHex(await symmetricKey(K).etaDecrypt(fromHex(C))), P));
  await check('EtA vector tamper is rejected', async () => {
    const bad = fromHex(C);
    bad[20] ^= 1;
    try { await symmetricKey(K).etaDecrypt(bad); return 'accepted'; } catch (_) { return true; }
  });
  await check('EtA round trip (3+ blocks)', async () => {
    const key = symmetricKey(K);
    const plain = fromHex('00112233445566778899aabbccddeeff'.repeat(4) + 'abcdef');
    const c = await key.etaEncrypt(plain);
    if (c.length !== plain.length + 48) return `length ${c.length}`;
    return same(toHex(await key.etaDecrypt(c)), toHex(plain));
  });

  // §3.11 BOSS vectors.
  await check('encode {cmd:"info",args:{}}', () => same(enc({ cmd: 'info', args: {} }), '171b636d6423696e666f236172677307'));
  await check('encode small ints', () => same(enc([0, 7, 22, 23, 99, 331, 70000, -7, -99, -331]),
    '56' + '00' + '38' + 'b0' + 'b817' + 'b863' + 'c04b01' + 'c8701101' + '3a' + 'ba63' + 'c24b01'));
  await check('encode 1.5 / -2.25', () => same(enc([1.5, -2.25]), '16' + '39000000000000f83f' + '3900000000000002c0'));
  await check('encode true/false/null', () => same(enc([true, false, null]), '1e616905'));
  await check('encode "Абв"', () => same(enc('Абв'), '33d090d0b1d0b2'));
  await check('encode time', () => same(enc(new Date(1375965738 * 1000)), '792a240e1085'));
  await check('encode Hello list with CREFs', () =>
    same(enc(['Hello', 'World', 'Hello', 'Hello']), '262b48656c6c6f2b576f726c641515'));
  await check('decode Java CREF vector', () => {
    const v = dec('3e50051e2b48656c6c6f08101d051515');
    const want = [10, null, ['Hello', 1, 2], 'Hello', null, ['Hello', 1, 2], ['Hello', 1, 2]];
    return same(JSON.stringify(v), JSON.stringify(want));
  });
  await check('decode Java dict with an int key', () => {
    const v = dec('1f1b6f6e651b74776f2b477265617461b8ac69');
    return v.one === 'two' && v.Great === true && v['172'] === false && Object.keys(v).length === 3
      ? true : `got ${JSON.stringify(v)}`;
  });
  await check('decode time', () => same(dec('792a240e1085').getTime(), 1375965738000));
  await check('decode bytes 00..05', () => same(toHex(dec('34000102030405')), '000102030405'));
  await check('decode error dict', () => {
    const v = dec('0f2b6572726f721723636f6465bb18' + Buffer.from('parsec_session_not_found').toString('hex') +
      '23746578740b78');
    return v.error && v.error.code === 'parsec_session_not_found' && v.error.text === 'x' ? true : `got ${JSON.stringify(v)}`;
  });
  await check('tagged round trip', async () => {
    const tagged = { t: 'dict', v: [[{ t: 'text', v: 'a' }, { t: 'list', v: [{ t: 'int', v: '-5' }, { t: 'float', v: 0.5 },
      { t: 'bin', v: '00ff' }, { t: 'time', v: 1375965738 }, { t: 'null' }, { t: 'bool', v: false }] }]] };
    const r = await OPS.boss_decode({ hex: (await OPS.boss_encode({ value: tagged })).hex });
    return same(JSON.stringify(r.value), JSON.stringify(tagged));
  });

  // §4.2 Java zero addresses: valid Safe58, first byte 0x1D, zero digest, correct CRC-32.
  // unicrypto's KeyAddress only accepts typeMark 0 and so rejects them (documented in §4.2).
  const zero = [
    ['short', 'yNb7j1viLcZunrTHozyfJPTZJrprRSPpY485Lwzq1CFK3sFQ3S', 37],
    ['long', 'Xj38UK7Er8VPqwjxBaEFjuKJ48fQbuQr3WGmMfG5wcPbTJ2zfU799qqhVUFCWadXQdKFLw4m', 53],
  ];
  for (const [name, text, len] of zero) {
    await check(`Java zero ${name} address parses`, async () => {
      const r = await OPS.address_parse({ text });
      if (r.hex === null) return `not decoded: ${r.reason}`;
      const b = fromHex(r.hex);
      if (b.length !== len) return `length ${b.length}`;
      if (b[0] !== 0x1d) return `first byte ${b[0]}`;
      if (!b.slice(1, len - 4).every((x) => x === 0)) return 'digest is not zero';
      let crc = U.crc32(b.slice(0, len - 4));
      if (crc.length < 4) { const p = new Uint8Array(4); p.set(crc, 4 - crc.length); crc = p; }
      if (!bytesEqual(crc, b.slice(len - 4))) return 'bad CRC-32';
      if (U.encode58(b) !== text) return 'encode58 does not round-trip';
      if (r.valid !== false) return 'unicrypto KeyAddress accepted typeMark 13 (expected it to reject)';
      return true;
    });
  }
  await check('address_parse rejects foreign characters', async () => {
    const r = await OPS.address_parse({ text: 'Xj38UK7Er8VPqwjxBaEFjuKJ48fQbuQr3WGmMfG5wcPbTJ2zfU799qqhVUFCWadXQdKFLw40' });
    return r.valid === false && r.hex === null ? true : JSON.stringify(r);
  });

  if (failures.length) {
    for (const f of failures) console.error(`unicrypto_peer: SELF-TEST FAILED: ${f}`);
    return false;
  }
  log('self-test passed');
  return true;
}

// --- the request loop ---------------------------------------------------------------------------
const TIMEOUT_MS = Number(process.env.PARSEC_PEER_TIMEOUT_MS) || 120000;

function withTimeout(promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`operation timed out after ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function handle(line) {
  let req;
  try {
    req = JSON.parse(line);
  } catch (e) {
    return { ok: false, error: `bad JSON request: ${e.message}` };
  }
  const id = req !== null && typeof req === 'object' && 'id' in req ? { id: req.id } : {};
  try {
    if (req === null || typeof req !== 'object' || Array.isArray(req))
      throw new BadRequest('request must be a JSON object');
    const op = req.op;
    if (typeof op !== 'string' || !Object.prototype.hasOwnProperty.call(OPS, op))
      throw new BadRequest(`unknown op ${JSON.stringify(op)}`);
    const result = await withTimeout(OPS[op](req));
    return { ok: true, ...id, ...result };
  } catch (e) {
    return { ok: false, ...id, error: describeError(e) };
  }
}

function send(obj) {
  let line;
  try {
    line = JSON.stringify(obj);
  } catch (e) {
    line = JSON.stringify({ ok: false, error: `cannot serialise response: ${e.message}` });
  }
  return new Promise((resolve) => {
    if (writeStdout(line + '\n')) resolve();
    else process.stdout.once('drain', resolve);
  });
}

async function main() {
  await U.unicryptoReady;
  if (!(await selfTest())) process.exit(1);
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
  for await (const line of rl) {
    if (line.trim() === '') continue;
    await send(await handle(line));
  }
  writeStdout('', () => process.exit(0));
}

main().catch((e) => {
  console.error(`unicrypto_peer: fatal: ${describeError(e)}`);
  process.exit(1);
});
