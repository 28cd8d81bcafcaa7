'use strict';
// The cloud side of the full-stack test, through Microsoft's azure-iothub SDK:
//   node hub.js deploy <service connection string> <device> <manifest.json>
//   node hub.js twin <service connection string> <device> <module>
// `deploy` is Registry.applyConfigurationContentOnDevice (what `az iot edge set-modules` calls);
// `twin` prints the module twin's reported properties as JSON (Registry.getModuleTwin).
const fs = require('fs');
const { Registry } = require('azure-iothub');

const [cmd, cs, device, arg] = process.argv.slice(2);
const fail = (err) => {
  console.error(err.responseBody || err.message || String(err));
  process.exit(1);
};
const registry = Registry.fromConnectionString(cs);
if (cmd === 'deploy') {
  const manifest = JSON.parse(fs.readFileSync(arg, 'utf8'));
  registry.applyConfigurationContentOnDevice(device, manifest, (err) => {
    if (err) return fail(err);
    console.log('applied');
    process.exit(0);
  });
} else if (cmd === 'twin') {
  registry.getModuleTwin(device, arg, (err, twin) => {
    if (err) return fail(err);
    console.log(JSON.stringify(twin.properties.reported));
    process.exit(0);
  });
} else {
  fail(new Error('usage: hub.js deploy|twin ...'));
}
