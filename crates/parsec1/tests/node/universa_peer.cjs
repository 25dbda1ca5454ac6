'use strict';
// Interop peer for the Universa tests: npm universa-core 1.6.4 (with unicrypto 1.14.1), the
// independent implementation of contracts and of the node client protocol. One command per
// run; its result is one JSON line on stdout (everything else goes to stderr).
//
//   PARSEC_NODE_MODULES=<dir>/node_modules node --no-experimental-fetch universa_peer.cjs CMD ...
//
// read FILE
//     Reads a sealed contract (bare unicapsule or TransactionPack) and prints its HashId,
//     origin, parent, revision, `state.data.parsec`, and for each signature whether it
//     verifies (PublicKey.verifyExtended: universa-core's own check) and the signer's long
//     address.
// make DIR SERVICE_ADDRESS URL
//     Makes a root service contract (issuer and owner keys made here, a parsec section
//     trusting SERVICE_ADDRESS at URL, ModifyDataPermission on parsec for the owner) and its
//     revision 2 (URL + "/2"), signed by the owner; writes DIR/root.unicon, DIR/rev2.unicon.
// network TOPOLOGY_FILE HASH_ID_BASE64 NAME
//     Connects universa-core's Network to the nodes of TOPOLOGY_FILE (direct HTTP, no clock
//     service), asks the quorum about HASH_ID (isApprovedExtended, trust 0.6) and one node
//     `queryNameContract {name: NAME}`; prints the answers.

const fs = require('fs');
const path = require('path');

const writeStdout = process.stdout.write.bind(process.stdout);
console.log = console.error;
console.info = console.error;
delete globalThis.fetch; // unicrypto's WASM loader must read its file, not fetch it

function out(value) {
  writeStdout(JSON.stringify(value) + '\n');
}

const dir = process.env.PARSEC_NODE_MODULES;
if (!dir) {
  console.error('universa_peer: PARSEC_NODE_MODULES must name the node_modules of tests/node');
  process.exit(2);
}
const U = require(path.join(dir, 'universa-core', 'lib'));
const { Boss, Contract, TransactionPack, PrivateKey, PublicKey, KeyAddress, Network,
  ModifyDataPermission, ChangeOwnerPermission, RoleSimple, encode64, decode64 } = U;

function b64(id) {
  return id ? encode64(id.composite3 || id) : null;
}

// The contract of a container, as universa-core reads it.
async function load(bin) {
  const top = Boss.load(bin);
  if (top instanceof TransactionPack) {
    await top.ready;
    return top.contract;
  }
  return Contract.unpack(bin);
}

// Keys the roles hold, for signatures that name theirs by fingerprint only.
async function roleKeys(c) {
  const keys = [];
  const walk = async (role) => {
    if (role && role.keyRecords) for (const r of role.keyRecords) keys.push(await r.getKey());
  };
  await walk(c.issuer);
  await walk(c.owner);
  for (const n in (c.state.roles || {})) await walk(c.state.roles[n]);
  return keys;
}

async function read(file) {
  const c = await load(new Uint8Array(fs.readFileSync(file)));
  const known = await roleKeys(c);
  const signatures = [];
  for (const sig of c.signatures) {
    const exts = Boss.load(Boss.load(sig).exts);
    let key = exts.pub_key ? await PublicKey.unpack(exts.pub_key)
      : known.find((k) => encode64(k.fingerprint) === encode64(exts.key));
    const valid = key ? !!(await key.verifyExtended(sig, c.data)) : false;
    signatures.push({ valid, signer: key ? key.longAddress.base58 : null });
  }
  const parsec = c.state.data && c.state.data.parsec;
  return {
    hashId: (await c.hashId()).base64,
    origin: b64(c.state.origin),
    parent: b64(c.state.parent),
    revision: c.state.revision,
    parsec: parsec || null,
    signatures,
  };
}

async function make(outDir, serviceAddress, url) {
  const issuerKey = await PrivateKey.generate({ strength: 2048 });
  const ownerKey = await PrivateKey.generate({ strength: 2048 });
  const section = (u) => ({
    serviceName: 'universa-core made this',
    serviceKeyAddresses: [{ address: serviceAddress, isTest: false }],
    http: [u],
  });
  const root = Contract.create(new RoleSimple('issuer', { keys: [issuerKey.publicKey] }), {
    expiresAt: '1y',
    definitionData: { name: 'parsec service' },
    stateData: { parsec: section(url) },
    owner: new RoleSimple('owner', { addresses: [ownerKey.publicKey.longAddress] }),
    permissions: [
      ModifyDataPermission.create('owner', { fields: { parsec: null } }),
      ChangeOwnerPermission.create('owner'),
    ],
  });
  await root.sign(issuerKey);
  const rootBin = root.pack();
  fs.writeFileSync(path.join(outDir, 'root.unicon'), rootBin);
  const rev = await root.createRevision();
  rev.setCreatorTo('owner');
  rev.state.data = { parsec: section(url + '/2') };
  rev.packData();
  await rev.sign(ownerKey);
  fs.writeFileSync(path.join(outDir, 'rev2.unicon'), rev.pack());
  return {
    root: (await root.hashId()).base64,
    rev2: (await rev.hashId()).base64,
    issuer: issuerKey.publicKey.longAddress.base58,
    owner: ownerKey.publicKey.longAddress.base58,
  };
}

async function network(topologyFile, hashId, name) {
  const clientKey = await PrivateKey.generate({ strength: 2048 });
  const net = new Network(clientKey, { topologyFile, directConnection: true });
  net.timeOffset = 1; // any non-zero offset: no call to the network clock service
  await net.connect();
  const approval = await net.isApprovedExtended(decode64(hashId), 0.6);
  const first = Object.keys(net.topology.nodes)[0];
  const conn = await net.nodeConnection(first);
  const named = await conn.command('queryNameContract', { name, type: 'UNS2' });
  let namedHashId = null;
  if (named.packedContract) namedHashId = (await (await load(named.packedContract)).hashId()).base64;
  return {
    size: net.size(),
    sessionVersion: conn.version,
    approved: approval.isApproved,
    states: approval.states,
    namedHashId,
  };
}

async function main() {
  await U.unicryptoReady;
  const [cmd, ...args] = process.argv.slice(2);
  switch (cmd) {
    case 'read': return read(args[0]);
    case 'make': return make(args[0], args[1], args[2]);
    case 'network': return network(args[0], args[1], args[2]);
    default: throw new Error(`unknown command ${cmd}`);
  }
}

main().then((r) => { out(r); process.exit(0); })
  .catch((e) => { console.error('universa_peer:', e && e.stack || e); process.exit(1); });
