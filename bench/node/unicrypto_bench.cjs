'use strict';
// Times unicrypto 1.14.1 (the JS implementation of BOSS and the EtA cipher) on given cases.
//
//   PARSEC_NODE_MODULES=<dir>/node_modules node --no-experimental-fetch unicrypto_bench.cjs <cases.json>
//
// <cases.json> holds {"cases": [...]}, each case one of
//   {"name", "kind": "boss_encode", "value": <tagged>, "expect_hex"?: <the expected encoding>}
//   {"name", "kind": "boss_decode", "hex"}
//   {"name", "kind": "eta_encrypt", "key", "plain"}
//   {"name", "kind": "eta_decrypt", "key", "cipher"}
// (tagged values as in crates/parsec1/tests/node/unicrypto_peer.cjs; binary values in hex).
//
// Per case: inputs are converted once, the operation is checked once, warmed up, then timed in
// 3 rounds of about 1 s each (iteration counts chosen adaptively). One JSON line per case on
// stdout: {"name", "ns_per_op": <median of the rounds>, "iterations": <total timed>}, or
// {"name", "error"} when unicrypto cannot perform the case at all.
// EtA uses unicrypto's async etaEncrypt / etaDecrypt (what its SignedRecord / Parsec callers use).
// Everything else goes to stderr; a failure to start exits with status 1.

const fs = require('fs');
const path = require('path');

const writeStdout = process.stdout.write.bind(process.stdout);
// unicrypto's WASM runtime prints with console.log; keep stdout for results only.
console.log = console.error;
console.info = console.error;
console.debug = console.error;

const ROUNDS = 3;
const ROUND_NS = 1e9;
const WARMUP_NS = 2e8;

function die(msg) {
  console.error(`unicrypto_bench: ${msg}`);
  process.exit(1);
}

function describeError(e) {
  if (e instanceof Error) return e.message || String(e);
  if (typeof e === 'number') return `unicrypto WASM exception (C++ exception object ${e})`;
  return String(e);
}

if (process.argv.length !== 3) die('usage: node --no-experimental-fetch unicrypto_bench.cjs <cases.json>');
const modules = process.env.PARSEC_NODE_MODULES;
if (!modules) die('PARSEC_NODE_MODULES is not set; it must point to a node_modules directory holding unicrypto 1.14.1');
if (typeof globalThis.fetch === 'function') {
  // unicrypto's WASM loader breaks on Node's global fetch (spec §7.2).
  console.error('unicrypto_bench: global fetch is present (run node with --no-experimental-fetch); removing it');
  delete globalThis.fetch;
}
let U;
try {
  U = require(path.join(modules, 'unicrypto'));
} catch (e) {
  die(`cannot load unicrypto from ${modules}: ${describeError(e)}`);
}
const { Boss, SymmetricKey } = U;

// --- inputs ---------------------------------------------------------------------------------
function fromHex(s, what) {
  if (typeof s !== 'string' || s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s))
    throw new Error(`${what}: not a hex string`);
  // A fresh array owning its buffer (unicrypto's BOSS writer serialises `value.buffer`).
  return new Uint8Array(Buffer.from(s, 'hex'));
}

function toHex(b) {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function taggedToJs(t, where) {
  if (t === null || typeof t !== 'object' || typeof t.t !== 'string') throw new Error(`${where}: not a tagged value`);
  const v = t.v;
  switch (t.t) {
    case 'null': return null;
    case 'bool':
      if (typeof v !== 'boolean') throw new Error(`${where}: bad bool`);
      return v;
    case 'int': {
      const s = typeof v === 'number' ? String(v) : v;
      if (typeof s !== 'string' || !/^-?[0-9]+$/.test(s) || !Number.isSafeInteger(Number(s)))
        throw new Error(`${where}: bad int`);
      return Number(s);
    }
    case 'float':
      if (typeof v === 'number') return v;
      if (v === 'NaN') return NaN;
      if (v === 'Infinity') return Infinity;
      if (v === '-Infinity') return -Infinity;
      throw new Error(`${where}: bad float`);
    case 'text':
      if (typeof v !== 'string') throw new Error(`${where}: bad text`);
      if (v in Object.prototype) throw new Error(`${where}: unicrypto's BOSS encoder hangs on ${JSON.stringify(v)}`);
      return v;
    case 'bin': {
      const b = fromHex(v, where);
      if (b.length < 32 && Buffer.from(b).toString('latin1') in Object.prototype)
        throw new Error(`${where}: unicrypto's BOSS encoder hangs on these bytes`);
      return b;
    }
    case 'list':
      if (!Array.isArray(v)) throw new Error(`${where}: bad list`);
      return v.map((x, i) => taggedToJs(x, `${where}[${i}]`));
    case 'time':
      if (!Number.isInteger(v)) throw new Error(`${where}: bad time`);
      return new Date(v * 1000);
    case 'dict': {
      if (!Array.isArray(v)) throw new Error(`${where}: bad dict`);
      const pairs = v.map((p, i) => {
        if (!Array.isArray(p) || p.length !== 2) throw new Error(`${where}: bad dict pair ${i}`);
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
    default: throw new Error(`${where}: unknown tag ${JSON.stringify(t.t)}`);
  }
}

function symmetricKey(hex) {
  const keyBytes = fromHex(hex, 'key');
  if (keyBytes.length !== 32) throw new Error(`key: expected 32 bytes, got ${keyBytes.length}`);
  return new SymmetricKey({ keyBytes });
}

function bytesEqual(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// Whether a decoded value is complete: unicrypto yields undefined for missing input or a
// CREF past its cache instead of failing.
function hasUndefined(v, seen = new Set()) {
  if (v === undefined) return true;
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array || v instanceof Date) return false;
  if (seen.has(v)) return false;
  seen.add(v);
  if (Array.isArray(v)) return v.some((x) => hasUndefined(x, seen));
  if (v instanceof Map) return [...v].some(([k, x]) => hasUndefined(k, seen) || hasUndefined(x, seen));
  return Object.keys(v).some((k) => hasUndefined(v[k], seen));
}

// Equality of a value and its BOSS round trip, as far as BOSS preserves it in JS: dict keys
// compare by their string form (the JS decoder makes number keys strings), times by second.
function sameValue(a, b) {
  if (a === null || a === undefined) return b === null;
  if (typeof a === 'number') return typeof b === 'number' && (a === b || (Number.isNaN(a) && Number.isNaN(b)));
  if (typeof a !== 'object') return a === b;
  if (a instanceof Uint8Array) return b instanceof Uint8Array && bytesEqual(a, b);
  if (a instanceof Date) return b instanceof Date && Math.floor(a.getTime() / 1000) === Math.floor(b.getTime() / 1000);
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  const entries = (d) => (d instanceof Map ? [...d] : d && typeof d === 'object' && !Array.isArray(d) ? Object.entries(d) : null);
  const ea = entries(a);
  const eb = entries(b);
  if (!ea || !eb || ea.length !== eb.length) return false;
  const norm = (k) => (typeof k === 'number' ? String(k) : k);
  return ea.every(([k, v]) => eb.some(([k2, v2]) => sameValue(norm(k), norm(k2)) && sameValue(v, v2)));
}

// Each case becomes { run: () => (value | Promise), check: async () => void }.
function prepare(c) {
  switch (c.kind) {
    case 'boss_encode': {
      const value = taggedToJs(c.value, 'value');
      return {
        run: () => Boss.dump(value),
        check: async () => {
          const packed = Boss.dump(value);
          if (!(packed instanceof Uint8Array) || packed.length === 0) throw new Error('encoder produced nothing');
          if (typeof c.expect_hex === 'string') {
            // Given for values too large for unicrypto's own decoder: compare the bytes.
            if (toHex(packed) !== c.expect_hex) throw new Error('encoding differs from expect_hex');
            return;
          }
          const reader = Boss.createReader(packed);
          const back = reader.read();
          const io = reader.parser && reader.parser.buffer;
          if (io && io.position !== io.length) throw new Error(`decoding ${toHex(packed)} left bytes unread`);
          if (!sameValue(value, back)) throw new Error(`decoding ${toHex(packed)} does not give the value back`);
        },
      };
    }
    case 'boss_decode': {
      const bytes = fromHex(c.hex, 'hex');
      return {
        run: () => Boss.load(bytes),
        check: async () => {
          const reader = Boss.createReader(bytes);
          const io = reader.parser && reader.parser.buffer;
          let short = false;
          if (io && typeof io.read === 'function') {
            // unicrypto reads missing bytes as zeros; notice short reads.
            const read = io.read.bind(io);
            io.read = (size = -1) => {
              const got = read(size);
              if (size >= 0 && got.length < size) short = true;
              return got;
            };
          }
          const v = reader.read();
          if (v === undefined || hasUndefined(v) || short) throw new Error('input is truncated');
          if (io && io.position !== io.length) throw new Error(`decoder left ${io.length - io.position} bytes unread`);
        },
      };
    }
    case 'eta_encrypt': {
      const key = symmetricKey(c.key);
      const plain = fromHex(c.plain, 'plain');
      return {
        run: () => key.etaEncrypt(plain),
        check: async () => {
          const out = await key.etaEncrypt(plain);
          if (out.length !== plain.length + 48) throw new Error(`ciphertext length ${out.length}`);
          if (!bytesEqual(await key.etaDecrypt(out), plain)) throw new Error('decrypt(encrypt(p)) != p');
        },
      };
    }
    case 'eta_decrypt': {
      const key = symmetricKey(c.key);
      const cipher = fromHex(c.cipher, 'cipher');
      return {
        run: () => key.etaDecrypt(cipher),
        check: async () => {
          const out = await key.etaDecrypt(cipher); // throws if the HMAC does not match
          if (out.length !== cipher.length - 48) throw new Error(`plaintext length ${out.length}`);
        },
      };
    }
    default:
      throw new Error(`unknown kind ${JSON.stringify(c.kind)}`);
  }
}

let sink = 0; // keeps results observable so the work cannot be optimised away

async function timeLoop(run, iterations, isAsync) {
  const start = process.hrtime.bigint();
  if (isAsync) {
    for (let i = 0; i < iterations; i++) sink ^= (await run()).length;
  } else {
    for (let i = 0; i < iterations; i++) {
      const r = run();
      sink ^= r === null || r === undefined ? 0 : 1;
    }
  }
  return Number(process.hrtime.bigint() - start);
}

async function bench(c) {
  const { run, check } = prepare(c);
  await check();
  const isAsync = c.kind === 'eta_encrypt' || c.kind === 'eta_decrypt';

  // Warm up for about WARMUP_NS, doubling the batch, which also gives a first estimate.
  let n = 1;
  let ns = await timeLoop(run, n, isAsync);
  let spent = ns;
  while (spent < WARMUP_NS) {
    n = Math.min(n * 2, 1 << 24);
    ns = await timeLoop(run, n, isAsync);
    spent += ns;
  }
  let perOp = Math.max(ns / n, 1);

  const results = [];
  let total = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const iterations = Math.max(1, Math.round(ROUND_NS / perOp));
    const elapsed = await timeLoop(run, iterations, isAsync);
    total += iterations;
    perOp = Math.max(elapsed / iterations, 1);
    results.push(elapsed / iterations);
  }
  results.sort((a, b) => a - b);
  return { name: c.name, ns_per_op: results[Math.floor(results.length / 2)], iterations: total };
}

async function main() {
  let cases;
  try {
    cases = JSON.parse(fs.readFileSync(process.argv[2], 'utf8')).cases;
  } catch (e) {
    die(`cannot read ${process.argv[2]}: ${describeError(e)}`);
  }
  if (!Array.isArray(cases)) die('the file must hold {"cases": [...]}');
  await U.unicryptoReady;
  for (const c of cases) {
    const name = c && typeof c.name === 'string' ? c.name : JSON.stringify(c && c.name);
    let line;
    try {
      line = JSON.stringify(await bench(c));
    } catch (e) {
      // A case unicrypto cannot do at all (e.g. BOSS-decoding more than ~128 KiB overflows its
      // stack) is reported, not fatal: the caller shows it in place of a time.
      console.error(`unicrypto_bench: case ${name} (${c && c.kind}) failed: ${describeError(e)}`);
      line = JSON.stringify({ name: c && c.name, error: describeError(e) });
    }
    await new Promise((resolve) => (writeStdout(line + '\n') ? resolve() : process.stdout.once('drain', resolve)));
  }
  if (sink === 0.5) console.error(sink); // never true; uses the sink
}

main().catch((e) => die(describeError(e)));
