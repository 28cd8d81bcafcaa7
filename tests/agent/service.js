'use strict';
// The service side of the agent tests, through Microsoft's azure-iothub SDK:
//   node service.js deploy <connection string> <device> <manifest.json>
//   node service.js method <connection string> <device> <module> <name> <payload json>
// Prints the SDK's result as JSON; exits non-zero with the error on failure.
const fs = require('fs');
const { Registry, Client } = require('azure-iothub');

const [cmd, cs, device, ...rest] = process.argv.slice(2);
const done = (err, result) => {
  if (err) {
    console.error(err.responseBody || err.message || String(err));
    process.exit(1);
  }
  console.log(JSON.stringify(result === undefined ? null : result));
  process.exit(0);
};
if (cmd === 'deploy') {
  const manifest = JSON.parse(fs.readFileSync(rest[0], 'utf8'));
  Registry.fromConnectionString(cs).applyConfigurationContentOnDevice(device, manifest, (err) => done(err, 'applied'));
} else if (cmd === 'method') {
  const [module, methodName, payload] = rest;
  const params = { methodName, responseTimeoutInSeconds: 30 };
  if (payload !== undefined && payload !== '') params.payload = JSON.parse(payload);
  Client.fromConnectionString(cs).invokeDeviceMethod(device, module, params, (err, result) => done(err, result));
} else {
  done(new Error('usage: service.js deploy|method ...'));
}
