'use strict';
// Starts a private iothub-emulator for one test script and talks to its admin API.
// Every emulator gets its own loopback address (127.x.y.z), so the SDKs can use the real
// ports (8883, 443) while tests run in parallel. Nothing here leaves the machine.
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const https = require('https');
const assert = require('assert');

function randomLoopback() {
  const r = () => 1 + Math.floor(Math.random() * 250);
  return `127.${10 + Math.floor(Math.random() * 200)}.${r()}.${r()}`;
}

function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

async function waitFor(what, fn, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await sleep(50);
  }
}

class Emulator {
  constructor(opts = {}) {
    this.address = opts.address || randomLoopback();
    this.stateDir = opts.stateDir || process.env.EMULATOR_STATE_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'iothub-emulator-'));
    this.extraArgs = opts.args || [];
  }

  async start() {
    const bin = emulatorBin();
    const info = path.join(this.stateDir, 'info.json');
    this.log = path.join(this.stateDir, 'emulator.log');
    fs.rmSync(info, { force: true });  // a previous run's file is not a ready signal
    const out = fs.openSync(this.log, 'a');
    this.child = spawn(bin, ['--state-dir', this.stateDir, '--hostname', this.address, '--bind', this.address,
      ...this.extraArgs], { stdio: ['ignore', out, out] });
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
    await waitFor('emulator ready (' + this.log + ')', () => {
      if (this.child.exitCode !== null) throw new Error('emulator exited: ' + fs.readFileSync(this.log, 'utf8'));
      return fs.existsSync(info);
    });
    this.info = JSON.parse(fs.readFileSync(info, 'utf8'));
    this.ca = fs.readFileSync(this.info.caFile, 'utf8');
    return this;
  }

  async stop() {
    if (!this.child || this.child.exitCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }

  get hostname() { return this.address; }
  get serviceConnectionString() { return this.info.serviceConnectionString; }

  request(method, urlPath, body, headers = {}, tlsOptions = {}) {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body));
      const req = https.request({
        host: this.address, port: this.info.httpsPort, method, path: urlPath, ca: this.ca, agent: false, ...tlsOptions,
        headers: { 'Content-Type': 'application/json', ...(data ? { 'Content-Length': Buffer.byteLength(data) } : {}), ...headers },
      }, (res) => {
        let text = '';
        res.on('data', (c) => { text += c; });
        res.on('end', () => {
          let json;
          try { json = text ? JSON.parse(text) : undefined; } catch (_) { json = undefined; }
          resolve({ status: res.statusCode, headers: res.headers, body: json, text });
        });
      });
      req.on('error', reject);
      if (data) req.write(data);
      req.end();
    });
  }

  async admin(method, urlPath, body) {
    const r = await this.request(method, '/admin' + urlPath, body);
    assert.ok(r.status < 300, `admin ${method} ${urlPath} -> ${r.status} ${r.text}`);
    return r.body;
  }

  createDevice(body) { return this.admin('POST', '/devices', body); }
  twin(dev, mod) { return this.admin('GET', '/twins/' + encodeURIComponent(dev) + (mod ? '/modules/' + encodeURIComponent(mod) : '')); }
  // Waits until the hub has seen `clientId` ("dev" or "dev/mod") subscribe to `what`
  // ("methods", "desired", "c2d"): the SDKs subscribe asynchronously after open().
  async subscribed(clientId, what) {
    const dev = clientId.split('/')[0];
    await waitFor(`${clientId} subscribed to ${what}`, async () => {
      const c = (await this.admin('GET', '/devices/' + encodeURIComponent(dev))).connections[clientId];
      return c && c.connected && c.subscriptions.includes(what);
    });
  }

  telemetry(dev, mod) {
    return this.admin('GET', '/telemetry?deviceId=' + encodeURIComponent(dev) + (mod ? '&moduleId=' + encodeURIComponent(mod) : ''));
  }
}

// Node reads extra trusted CAs only at start-up (the service SDK builds its own HTTPS agent),
// so a test first creates the emulator's CA (--init-only), then reruns itself trusting it
// through NODE_EXTRA_CA_CERTS, the way a user would trust a private CA.
function relaunchTrustingCa() {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'iothub-emulator-'));
  const init = require('child_process').spawnSync(emulatorBin(), ['--state-dir', stateDir, '--init-only'], { stdio: 'inherit' });
  if (init.status !== 0) process.exit(1);
  const child = spawn(process.execPath, process.argv.slice(1), {
    stdio: 'inherit',
    env: { ...process.env, EMULATOR_STATE_DIR: stateDir, NODE_EXTRA_CA_CERTS: path.join(stateDir, 'ca.pem') },
  });
  child.on('exit', (code, signal) => {
    fs.rmSync(stateDir, { recursive: true, force: true });
    process.exit(code === null ? 128 + (signal === 'SIGKILL' ? 9 : 15) : code);
  });
}

function emulatorBin() {
  return process.env.EMULATOR_BIN || path.resolve(__dirname, '../../../../build/bin/iothub-emulator');
}

// Runs named steps in order, prints a summary line ctest can show, exits non-zero on failure.
async function run(name, steps, { timeoutMs = 100000 } = {}) {
  if (!process.env.EMULATOR_STATE_DIR) return relaunchTrustingCa();
  const watchdog = setTimeout(() => {
    console.error(`${name}: timed out after ${timeoutMs} ms`);
    process.exit(1);
  }, timeoutMs);
  let passed = 0;
  let failed = 0;
  const ctx = {};
  try {
    for (const [title, fn] of steps) {
      const t0 = Date.now();
      try {
        await fn(ctx);
        passed++;
        console.log(`ok   ${title} (${Date.now() - t0} ms)`);
      } catch (e) {
        failed++;
        console.log(`FAIL ${title}: ${e && e.stack ? e.stack : e}`);
        break;  // later steps depend on earlier ones
      }
    }
  } finally {
    for (const c of ctx.cleanup || []) { try { await c(); } catch (_) { /* best effort */ } }
    if (failed && ctx.emulator) {
      try { console.log('--- emulator log ---\n' + fs.readFileSync(ctx.emulator.log, 'utf8').slice(-4000)); } catch (_) { /* none */ }
    }
    if (ctx.emulator) await ctx.emulator.stop();
  }
  clearTimeout(watchdog);
  console.log(`${name}: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

// Promise wrapper for the SDKs' (err, result) callbacks.
function call(obj, method, ...args) {
  return new Promise((resolve, reject) => obj[method](...args, (err, result) => (err ? reject(err) : resolve(result))));
}

module.exports = { Emulator, run, call, sleep, waitFor };
