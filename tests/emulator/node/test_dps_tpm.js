'use strict';
// DPS TPM attestation with Microsoft's own TPM client: azure-iot-security-tpm's TpmSecurityClient
// (tss.js in simulator mode) on a real swtpm, behind a test-side mssim adapter
// (lib/swtpm_mssim.js). The EK the SDK reads from the TPM is enrolled through the DPS service
// API; ProvisioningDeviceClient (HTTP) registers (401 challenge -> ActivateCredential + Import in
// the TPM -> SAS signed by TPM HMAC), then azure-iot-device connects to the assigned hub with
// TpmAuthenticationProvider and sends telemetry.
const assert = require('assert');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { Tpm } = require('tss.js');
const { TpmSecurityClient, TpmAuthenticationProvider } = require('azure-iot-security-tpm');
const { ProvisioningDeviceClient } = require('azure-iot-provisioning-device');
const { Http } = require('azure-iot-provisioning-device-http');
const { Client, Message } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');
const { SharedAccessSignature } = require('azure-iothub');
const { Emulator, run, call, waitFor } = require('./lib/emulator');
const { SwtpmMssim } = require('./lib/swtpm_mssim');

// tss.js's simulator mode, on the test's private loopback address (never a remote host).
function securityClient(ctx, registrationId) {
  const tpm = new Tpm(true, ctx.emulator.hostname, ctx.tpm.port);
  ctx.cleanup.push(async () => tpm.close());
  return new TpmSecurityClient(registrationId, tpm);
}

// A DPS service API call with a token of the hub's iothubowner policy.
function dpsService(ctx, method, urlPath, body) {
  const cs = Object.fromEntries(ctx.emulator.serviceConnectionString.split(';').map((kv) => {
    const i = kv.indexOf('=');
    return [kv.slice(0, i), kv.slice(i + 1)];
  }));
  const token = SharedAccessSignature.create(cs.HostName, cs.SharedAccessKeyName, cs.SharedAccessKey,
    Math.floor(Date.now() / 1000) + 600).toString();
  return ctx.emulator.request(method, urlPath + '?api-version=2021-10-01', body, { Authorization: token });
}

function register(ctx, security) {
  return ProvisioningDeviceClient.create(ctx.emulator.hostname, ctx.emulator.info.idScope, new Http(), security).register();
}

run('sdk dps tpm', [
  ['swtpm, its mssim adapter and the emulator start', async (ctx) => {
    ctx.cleanup = [];
    ctx.emulator = await new Emulator().start();
    ctx.tpm = new SwtpmMssim({ host: ctx.emulator.hostname, stateDir: fs.mkdtempSync(path.join(ctx.emulator.stateDir, 'swtpm-')) });
    ctx.cleanup.push(() => ctx.tpm.stop());
    await ctx.tpm.start();
  }],
  ['TpmSecurityClient creates the EK and SRK in the TPM and derives the registration id', async (ctx) => {
    ctx.security = securityClient(ctx);
    ctx.ek = await call(ctx.security, 'getEndorsementKey');
    const srk = await call(ctx.security, 'getStorageRootKey');
    for (const key of [ctx.ek, srk]) {
      // A marshaled TPM2B_PUBLIC: size, then type RSA (0x0001) and nameAlg SHA-256 (0x000b).
      assert.strictEqual(key.readUInt16BE(0), key.length - 2);
      assert.strictEqual(key.readUInt16BE(2), 0x0001);
      assert.strictEqual(key.readUInt16BE(4), 0x000b);
    }
    assert.notDeepStrictEqual(ctx.ek, srk);
    ctx.registrationId = await call(ctx.security, 'getRegistrationId');
    assert.match(ctx.registrationId, /^[a-z2-7]{52}$/, 'base32 of SHA-256(EK), lower case, no padding');
    const again = await call(securityClient(ctx), 'getEndorsementKey');
    assert.deepStrictEqual(again, ctx.ek, 'the EK persists at 0x81010001');
  }],
  ['the EK is enrolled through the DPS service API', async (ctx) => {
    const r = await dpsService(ctx, 'PUT', '/enrollments/' + ctx.registrationId, {
      registrationId: ctx.registrationId,
      deviceId: 'tpm-sdk-dev',
      attestation: { type: 'tpm', tpm: { endorsementKey: ctx.ek.toString('base64') } },
      initialTwin: { properties: { desired: { attested: 'tpm' } } },
    });
    assert.strictEqual(r.status, 200, r.text);
    assert.strictEqual(r.body.attestation.tpm.endorsementKey, ctx.ek.toString('base64'));
  }],
  ['ProvisioningDeviceClient (HTTP) registers with TPM attestation', async (ctx) => {
    // With TPM attestation the SDK hands back DPS's whole operation result.
    const op = await register(ctx, ctx.security);
    assert.strictEqual(op.status, 'assigned');
    ctx.result = op.registrationState;
    assert.strictEqual(ctx.result.registrationId, ctx.registrationId);
    assert.strictEqual(ctx.result.assignedHub, ctx.emulator.hostname);
    assert.strictEqual(ctx.result.deviceId, 'tpm-sdk-dev');
    assert.ok(ctx.result.tpm.authenticationKey, 'the assignment carries the key again, which the SDK activated');
    const device = (await ctx.emulator.admin('GET', '/devices/tpm-sdk-dev')).device;
    assert.strictEqual(device.authentication.type, 'sas');
  }],
  ['the device connects with TpmAuthenticationProvider (SAS signed in the TPM) and sends telemetry', async (ctx) => {
    const auth = TpmAuthenticationProvider.fromTpmSecurityClient(ctx.result.deviceId, ctx.result.assignedHub, ctx.security);
    const client = Client.fromAuthenticationProvider(auth, Mqtt);
    ctx.cleanup.push(() => client.close());
    await client.open();
    const twin = await client.getTwin();
    assert.strictEqual(twin.properties.desired.attested, 'tpm');
    const marker = crypto.randomUUID();
    await client.sendEvent(new Message(JSON.stringify({ marker })));
    await client.close();
    await waitFor('telemetry from tpm-sdk-dev', async () =>
      (await ctx.emulator.telemetry('tpm-sdk-dev')).some((m) => m.body.includes(marker)));
  }],
  ['the TPM ran the key exchange and signed the tokens', async (ctx) => {
    const seen = Object.fromEntries(ctx.tpm.commands);
    console.log('     TPM commands: ' + JSON.stringify(seen));
    for (const cc of ['CreatePrimary', 'EvictControl', 'StartAuthSession', 'PolicySecret', 'ActivateCredential', 'Import', 'Load', 'HMAC']) {
      assert.ok(seen[cc] > 0, cc + ' was not sent to the TPM');
    }
    // Activated twice (the 401 challenge and the assignment's authenticationKey).
    assert.ok(seen.ActivateCredential >= 2 && seen.Import >= 2);
  }],
  ['a TPM whose EK is not the enrolled one gets no challenge and no device', async (ctx) => {
    // The SRK is a valid RSA key of the same TPM, just not the enrolled EK.
    const srk = await call(ctx.security, 'getStorageRootKey');
    const r = await dpsService(ctx, 'PUT', '/enrollments/other-tpm', {
      registrationId: 'other-tpm', deviceId: 'other-dev', attestation: { type: 'tpm', tpm: { endorsementKey: srk.toString('base64') } },
    });
    assert.strictEqual(r.status, 200, r.text);
    // DPS answers 401 without an authenticationKey, which the SDK reports as a FormatError.
    await assert.rejects(register(ctx, securityClient(ctx, 'other-tpm')), (e) => e.name === 'FormatError');
    await waitFor('the refusal in the emulator log', () =>
      /other-tpm\/register -> 401 .*does not match the enrollment/.test(fs.readFileSync(ctx.emulator.log, 'utf8')));
    const missing = await ctx.emulator.request('GET', '/admin/devices/other-dev');
    assert.strictEqual(missing.status, 404);
  }],
]);
