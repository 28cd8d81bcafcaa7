'use strict';
// A private swtpm (a real TPM 2.0 simulator) behind Microsoft's TPM simulator TCP protocol
// ("mssim"), which is what tss.js's simulator mode speaks: a command port P (handshake,
// TPM_SEND_COMMAND frames, session end) and a platform port P+1 (power and NV signals).
//
// swtpm 0.7 checked by experiment: its data channel does accept TPM_SEND_COMMAND frames, but it
// never answers mssim's handshake (it waits for the rest of a TPM command), and its control
// channel speaks swtpm's own protocol (code 1 is "get capability" there, "power on" in mssim).
// So this adapter answers the handshake itself, forwards each command's raw bytes to swtpm
// (as tpm2-tss's swtpm TCTI does), and turns power-on into swtpm's CMD_INIT (a real TPM reset;
// the client then sends TPM2_Startup). swtpm listens on Unix sockets in its state directory;
// the adapter on a loopback address the test chooses. Test plumbing only.
const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const path = require('path');
const { TPM_CC } = require('tss.js');

const MSSIM = { powerOn: 1, powerOff: 2, sendCommand: 8, nvOn: 11, nvOff: 12, handshake: 15, sessionEnd: 20, stop: 21 };
const SWTPM_CMD_INIT = 2;
const SERVER_VERSION = 1;
const PLATFORM_AVAILABLE = 1;  // handshake info flag: the platform port exists
const MAX_COMMAND = 64 * 1024;
// tss.js's TPM_CC names 0x155 "MAC" (TPM2_MAC shares HMAC's code); the SDK sends TPM2_HMAC.
const commandName = (cc) => (cc === 0x155 ? 'HMAC' : TPM_CC[cc] || '0x' + cc.toString(16));

function u32(n) { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; }

// One request/response exchange at a time on a stream socket; `complete(buf)` says how many
// bytes make the whole response (0 while incomplete).
class Exchanger {
  constructor(socketPath) {
    this.socketPath = socketPath;
    this.queue = Promise.resolve();
  }

  connect() {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    return new Promise((resolve, reject) => {
      const s = net.connect(this.socketPath, () => { s.off('error', reject); resolve(s); });
      s.once('error', reject);
      this.socket = s;
    });
  }

  exchange(request, complete) {
    const run = async () => {
      const s = await this.connect();
      return new Promise((resolve, reject) => {
        let got = Buffer.alloc(0);
        const done = (err, value) => {
          s.off('data', onData); s.off('close', onClose); s.off('error', onClose);
          if (err) reject(err); else resolve(value);
        };
        const onData = (d) => {
          got = Buffer.concat([got, d]);
          const n = complete(got);
          if (n) done(null, got.subarray(0, n));
        };
        const onClose = () => done(new Error('swtpm closed the connection'));
        s.on('data', onData); s.on('close', onClose); s.on('error', onClose);
        s.write(request);
      });
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => {});
    return p;
  }

  close() { if (this.socket) this.socket.destroy(); }
}

class SwtpmMssim {
  // host: the loopback address tss.js connects to; port: its command port (platform = port + 1).
  constructor({ host, port = 2321, stateDir, log = path.join(stateDir, 'swtpm.log') }) {
    Object.assign(this, { host, port, stateDir, logFile: log });
    this.commands = new Map();  // TPM command name -> count, for the test's report
    this.connections = new Set();
  }

  async start() {
    fs.mkdirSync(path.join(this.stateDir, 'tpmstate'), { recursive: true });
    const data = path.join(this.stateDir, 'data.sock');
    const ctrl = path.join(this.stateDir, 'ctrl.sock');
    for (const f of [data, ctrl]) fs.rmSync(f, { force: true });
    const out = fs.openSync(this.logFile, 'a');
    this.child = spawn('swtpm', ['socket', '--tpm2', '--server', `type=unixio,path=${data}`,
      '--ctrl', `type=unixio,path=${ctrl}`, '--tpmstate', `dir=${path.join(this.stateDir, 'tpmstate')}`,
      '--flags', 'not-need-init,startup-clear',
      // Exits when the adapter's one data connection closes, so a killed test leaves no swtpm.
      '--terminate'], { stdio: ['ignore', out, out] });
    this.exited = new Promise((resolve) => this.child.on('exit', resolve));
    for (let i = 0; !(fs.existsSync(data) && fs.existsSync(ctrl)); i++) {
      if (this.child.exitCode !== null || i > 200) throw new Error('swtpm did not start: ' + fs.readFileSync(this.logFile, 'utf8'));
      await new Promise((r) => setTimeout(r, 25));
    }
    this.tpm = new Exchanger(data);
    this.ctrl = new Exchanger(ctrl);
    this.commandServer = await this.listen(this.port, (s) => this.serveCommands(s));
    this.platformServer = await this.listen(this.port + 1, (s) => this.servePlatform(s));
    return this;
  }

  listen(port, handler) {
    return new Promise((resolve, reject) => {
      const server = net.createServer((s) => {
        this.connections.add(s);
        s.on('close', () => this.connections.delete(s));
        s.on('error', () => s.destroy());
        handler(s);
      });
      server.once('error', reject);
      server.listen(port, this.host, () => resolve(server));
    });
  }

  // Reads mssim frames from `s` in order; `step(buf)` consumes one frame and returns how many
  // bytes it used (0: wait for more), or a promise of that.
  static frames(s, step) {
    let buf = Buffer.alloc(0);
    let busy = false;
    const pump = async () => {
      if (busy) return;
      busy = true;
      try {
        while (buf.length >= 4 && !s.destroyed) {
          const used = await step(buf);
          if (!used) break;
          buf = buf.subarray(used);
        }
      } catch (e) {
        s.destroy();
      }
      busy = false;
    };
    s.on('data', (d) => { buf = Buffer.concat([buf, d]); pump(); });
  }

  serveCommands(s) {
    SwtpmMssim.frames(s, async (buf) => {
      const code = buf.readUInt32BE(0);
      if (code === MSSIM.handshake) {
        if (buf.length < 8) return 0;
        s.write(Buffer.concat([u32(SERVER_VERSION), u32(PLATFORM_AVAILABLE), u32(0)]));
        return 8;
      }
      if (code === MSSIM.sendCommand) {
        if (buf.length < 9) return 0;
        const len = buf.readUInt32BE(5);  // after the code and the locality byte
        if (len < 10 || len > MAX_COMMAND) throw new Error('bad command size');
        if (buf.length < 9 + len) return 0;
        const command = Buffer.from(buf.subarray(9, 9 + len));
        const name = commandName(command.readUInt32BE(6));
        this.commands.set(name, (this.commands.get(name) || 0) + 1);
        const response = await this.tpm.exchange(command, (r) => (r.length >= 6 && r.length >= r.readUInt32BE(2) ? r.readUInt32BE(2) : 0));
        s.write(Buffer.concat([u32(response.length), response, u32(0)]));
        return 9 + len;
      }
      s.end();  // session end, stop, or anything this adapter does not speak
      return 0;
    });
  }

  servePlatform(s) {
    SwtpmMssim.frames(s, async (buf) => {
      const code = buf.readUInt32BE(0);
      if (code === MSSIM.powerOn) {
        const r = await this.ctrl.exchange(Buffer.concat([u32(SWTPM_CMD_INIT), u32(0)]), (b) => (b.length >= 4 ? 4 : 0));
        s.write(u32(r.readUInt32BE(0) === 0 ? 0 : 1));
      } else if (code === MSSIM.powerOff || code === MSSIM.nvOn || code === MSSIM.nvOff) {
        s.write(u32(0));  // swtpm's NV is always on; a power-off is the next power-on's reset
      } else {
        s.end();
        return 0;
      }
      return 4;
    });
  }

  async stop() {
    for (const server of [this.commandServer, this.platformServer]) if (server) server.close();
    for (const c of this.connections) c.destroy();
    for (const x of [this.tpm, this.ctrl]) if (x) x.close();
    if (this.child && this.child.exitCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(timer);
    }
  }
}

module.exports = { SwtpmMssim };
