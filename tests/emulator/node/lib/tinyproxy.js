'use strict';
// A private tinyproxy (HTTP CONNECT proxy) on a free loopback port, for the proxy tests.
const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const path = require('path');
const { waitFor } = require('./emulator');

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startTinyproxy(dir) {
  const port = await freePort();
  const conf = path.join(dir, 'tinyproxy.conf');
  fs.writeFileSync(conf, [
    'User nobody', 'Group nogroup', `Port ${port}`, 'Listen 127.0.0.1', 'Timeout 60', 'LogLevel Connect',
    'MaxClients 20', 'Allow 127.0.0.1', 'ConnectPort 443', '',
  ].join('\n'));
  const log = path.join(dir, 'tinyproxy.log');
  const out = fs.openSync(log, 'a');
  const child = spawn('tinyproxy', ['-d', '-c', conf], { stdio: ['ignore', out, out] });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  await waitFor('tinyproxy listening', () => new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
    s.on('error', () => resolve(false));
  }));
  return {
    url: `http://127.0.0.1:${port}`,
    log: () => fs.readFileSync(log, 'utf8'),
    stop: async () => { child.kill('SIGTERM'); await exited; },
  };
}

module.exports = { startTinyproxy };
