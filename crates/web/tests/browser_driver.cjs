'use strict';
// Drives Debian's Chromium (headless, through playwright-core; no browser download) through
// the example page examples/browser/index.html against a running Parsec service, and prints
// one JSON object with what each scenario showed. The Rust test crates/service/tests/browser.rs
// starts the service, runs this, and checks the results (signatures with openssl).
//
//   node browser_driver.cjs <config.json>
//
// config: { modules, page_dir, bundle, home, http_page_port, https_page_port, server_cert,
//           server_key, http_endpoint, https_endpoint, service_key, other_key, dead_endpoint,
//           screenshot }
// or, for Parsec 1.2, { modules, page_dir, bundle, home, http_page_port, http_endpoint,
//           contract, topology_file }: one page trusting the service by its contract, the
//           topology (the test's Universa nodes) served beside the page as /topology.json.
// `home` holds the browser profile's NSS database, where the test CA is trusted (made by the
// Rust test with certutil): Chromium reads $HOME/.pki/nssdb.

const fs = require('fs');
const http = require('http');
const https = require('https');
const path = require('path');

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const { chromium } = require(path.join(config.modules, 'playwright-core'));

// --- a static server for the page (any static server would do) ---------------------------
function files(req, res) {
  const url = new URL(req.url, 'http://x');
  const name = url.pathname === '/' ? '/index.html' : url.pathname;
  const file =
    name === '/parsec1.js'
      ? config.bundle
      : name === '/topology.json'
        ? config.topology_file
        : path.join(config.page_dir, path.normalize(name));
  const type = name.endsWith('.js') ? 'text/javascript' : name.endsWith('.html') ? 'text/html' : 'application/octet-stream';
  fs.readFile(file, (err, data) => {
    if (err) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(data);
  });
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

// --- scenarios ---------------------------------------------------------------------------------
async function show(page, url, form) {
  await page.goto(url);
  if (form) {
    await page.waitForFunction(() => document.body.dataset.state === 'ready');
    for (const [id, value] of Object.entries(form)) await page.fill('#' + id, value);
    // The page was just loaded ('ready'): after the click, the next final state is this run's.
    // (Waiting to see 'working' in between can miss it: it may last less than a poll.)
    await page.click('#sign');
  }
  await page.waitForFunction(() => ['signed', 'error'].includes(document.body.dataset.state), null, {
    timeout: 90000,
  });
  const text = (id) => page.textContent('#' + id);
  return {
    state: await page.evaluate(() => document.body.dataset.state),
    signature: await text('signature'),
    publicKey: await text('public-key'),
    message: await page.inputValue('#message'),
    error: await text('error'),
    status: await text('status'),
    sessionId: ((await text('status')).match(/session (\S+),/) || [])[1] || null,
  };
}

// What a profile keeps in the localStorage of `base`'s origin.
async function stored(context, base) {
  const page = await context.newPage();
  await page.goto(`${base}/index.html`);
  const entries = await page.evaluate(() => Object.keys(localStorage).map((k) => [k, localStorage.getItem(k)]));
  await page.close();
  return entries;
}

function pageUrl(base, endpoint, key, extra = '') {
  return `${base}/index.html?endpoint=${encodeURIComponent(endpoint)}&serviceKey=${encodeURIComponent(key)}${extra}`;
}

async function main() {
  const httpServer = await listen(http.createServer(files), config.http_page_port);
  if (config.contract) {
    await contractOnly(httpServer);
    return;
  }
  const httpsServer = await listen(
    https.createServer({ cert: fs.readFileSync(config.server_cert), key: fs.readFileSync(config.server_key) }, files),
    config.https_page_port,
  );
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    env: { ...process.env, HOME: config.home },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const results = {};
  const preflights = [];
  const run = async (name, url, form, keep) => {
    const context = keep ?? (await browser.newContext());
    const page = await context.newPage();
    const consoleLines = [];
    page.on('pageerror', (e) => console.error(`${name}: page error: ${e.message}`));
    page.on('console', (m) => {
      consoleLines.push(m.text());
      console.error(`${name}: console: ${m.text()}`);
    });
    page.on('request', (r) => {
      if (r.method() === 'OPTIONS') preflights.push(name);
    });
    try {
      results[name] = await show(page, url, form);
      results[name].console = consoleLines;
    } catch (e) {
      results[name] = { state: 'driver-failed', error: String(e) };
    }
    if (name === 'https' && config.screenshot) {
      await page.screenshot({ path: config.screenshot, fullPage: true });
    }
    await page.close();
    if (!keep) await context.close();
    return context;
  };
  const httpsBase = `https://localhost:${config.https_page_port}`;
  const httpBase = `http://127.0.0.1:${config.http_page_port}`;
  // 1. An HTTPS page (trusted through the profile's CA) calling the service over HTTPS.
  await run('https', pageUrl(httpsBase, config.https_endpoint, config.service_key));
  // 2. A plain page on 127.0.0.1 calling the service over http://127.0.0.1; then the same
  //    page again in the same profile: the stored session is resumed (same session id).
  const kept = await browser.newContext();
  await run('http', pageUrl(httpBase, config.http_endpoint, config.service_key), null, kept);
  await run('http_again', pageUrl(httpBase, config.http_endpoint, config.service_key, '&message=again'), null, kept);
  results.http_storage = await stored(kept, httpBase);
  await kept.close();
  // 2b. Two tabs of one origin opening the same stored session at once: one session key, one
  //     session, both signing with the same key.
  const twins = await browser.newContext();
  const twinUrl = pageUrl(httpBase, config.http_endpoint, config.service_key, '&message=twins');
  [results.tab_a, results.tab_b] = await Promise.all(
    [0, 1].map(async () => {
      const page = await twins.newPage();
      try {
        return await show(page, twinUrl);
      } catch (e) {
        return { state: 'driver-failed', error: String(e) };
      } finally {
        await page.close();
      }
    }),
  );
  await twins.close();
  // 3. A password: the session is stored encrypted; the wrong password is refused in words.
  const sealed = await browser.newContext();
  const form = { endpoint: config.http_endpoint, serviceKey: config.service_key, password: 'correct horse' };
  await run('password', `${httpBase}/index.html`, form, sealed);
  await run('password_again', `${httpBase}/index.html`, form, sealed);
  await run('password_wrong', `${httpBase}/index.html`, { ...form, password: 'wrong' }, sealed);
  results.password_storage = await stored(sealed, httpBase);
  await sealed.close();
  // 4. The wrong service key (a real key address, of another key).
  await run('wrong_key', pageUrl(httpBase, config.http_endpoint, config.other_key));
  // 5. Nothing listening at the endpoint.
  await run('unreachable', pageUrl(httpBase, config.dead_endpoint, config.service_key));
  // 6. A page from an origin the service does not allow (localhost is not 127.0.0.1).
  await run(
    'origin_refused',
    pageUrl(`http://localhost:${config.http_page_port}`, config.http_endpoint, config.service_key),
  );
  results.preflights = preflights;
  await browser.close();
  httpServer.close();
  httpsServer.close();
  process.stdout.write(JSON.stringify(results) + '\n');
}

// Parsec 1.2: the page trusts the service by its contract, checked on the test's nodes.
async function contractOnly(httpServer) {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  const lines = [];
  page.on('console', (m) => lines.push(m.text()));
  const base = `http://127.0.0.1:${config.http_page_port}`;
  const url = `${base}/index.html?endpoint=${encodeURIComponent(config.http_endpoint)}` +
    `&contract=${encodeURIComponent(config.contract)}&topology=${encodeURIComponent(base + '/topology.json')}`;
  let result;
  try {
    // With ?topology= the page waits for the button (the fields come from the query).
    result = await show(page, url, {});
    result.console = lines;
  } catch (e) {
    result = { state: 'driver-failed', error: String(e), console: lines };
  }
  await browser.close();
  httpServer.close();
  process.stdout.write(JSON.stringify({ contract: result }) + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
