'use strict';
// Serves bench.html and the browser client on a free loopback port, opens it in Debian's
// Chromium (headless, playwright-core) and prints what the page measured (one JSON line).
//   node run.cjs <node_modules> <parsec1.js> <endpoint> <service key> <sessions> <seconds>
const fs = require('fs');
const http = require('http');
const path = require('path');
const [modules, bundle, endpoint, serviceKey, sessions, seconds] = process.argv.slice(2);
const { chromium } = require(path.join(modules, 'playwright-core'));

const server = http.createServer((req, res) => {
  const name = new URL(req.url, 'http://x').pathname;
  const file = name === '/parsec1.js' ? bundle : name === '/bench.html' ? path.join(__dirname, 'bench.html') : null;
  if (!file) {
    res.writeHead(404);
    res.end();
    return;
  }
  res.writeHead(200, { 'content-type': name.endsWith('.js') ? 'text/javascript' : 'text/html' });
  res.end(fs.readFileSync(file));
});

server.listen(0, '127.0.0.1', async () => {
  const port = server.address().port;
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    const query = new URLSearchParams({ endpoint, serviceKey, sessions, seconds });
    await page.goto(`http://127.0.0.1:${port}/bench.html?${query}`);
    await page.waitForFunction(() => document.body.dataset.state === 'done', null, { timeout: 600000 });
    process.stdout.write((await page.textContent('#result')) + '\n');
  } finally {
    await browser.close();
    server.close();
  }
});
