// Activation in a real VS Code: every way of naming companion starts the real `companion lsp`,
// and a missing or wrong companion ends in a message with "Open Settings", never in silence.
'use strict';
const { test, after, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { World, CodeServer, Workbench, until, closeBrowser, PYTHON } = require('./harness');

let world;
let server;

before(async () => {
    world = new World('activation', { files: { 'app.py': 'print("hi")\n' } });
    server = await new CodeServer(world, { pathWithCompanion: false }).start();
});

after(async () => {
    await closeBrowser();
    await world.close();
});

const connected = (status) => status && /lightbulb/.test(status.label) && status;

async function activateWith(name, settings) {
    server = await server.restartWith(settings);
    const bench = await Workbench.open(server, `activation-${name}`);
    try {
        const status = await until(async () => connected(await bench.companionStatus()), 90000, `companion connected (${name})`,
            async () => JSON.stringify({ status: await bench.companionStatus(), notes: await bench.notifications() }));
        assert.match(status.label, /no open proposals/);
        const lsp = await until(() => world.lspProcesses()[0], 30000, 'the language server process');
        return { bench, lsp };
    } catch (error) {
        await bench.screenshot('failed');
        await bench.close();
        throw error;
    }
}

async function failsWith(name, settings, pattern) {
    server = await server.restartWith(settings);
    const bench = await Workbench.open(server, `activation-${name}`);
    try {
        const note = await until(async () => (await bench.allNotifications()).find((n) => pattern.test(n)), 60000,
            `a message matching ${pattern}`, async () => { await bench.screenshot('failed'); return JSON.stringify(await bench.notifications()); });
        assert.ok((await bench.notificationButtons()).includes('Open Settings'), `"Open Settings" offered with: ${note}`);
        const status = await bench.companionStatus();
        assert.match(status.label, /debug-disconnect/, 'the status bar says companion is not connected');
        await bench.screenshot('message');
        // The button opens the settings at companion's section.
        await bench.page.evaluate(() => {
            const button = [...document.querySelectorAll('.notification-list-item .monaco-button')].find((b) => b.textContent.trim() === 'Open Settings');
            button.click();
        });
        await until(async () => (await bench.textOf('.tab.active')).some((t) => /Settings/.test(t)), 20000, 'the Settings editor');
        return note;
    } finally {
        await bench.close();
    }
}

async function closeAll(bench) {
    await bench.close();
    await until(() => world.lspProcesses().length === 0, 30000, 'the language server exits with its window');
}

test('companion not on PATH and no setting: the message says how to install, with Open Settings', async () => {
    const note = await failsWith('missing', {}, /not found on PATH/);
    assert.match(note, /pipx install companion/);
});

test('companion.path as a string (the `settings.path.map is not a function` bug)', async () => {
    const { bench, lsp } = await activateWith('path-string', { 'companion.path': world.companion });
    assert.deepEqual(lsp.argv.slice(-2), ['lsp', '--stdio']);
    await closeAll(bench);
});

test('companion.path as an array, with ~ and arguments', async () => {
    const home = world.env.HOME;
    fs.mkdirSync(path.join(home, '.local', 'bin'), { recursive: true });
    fs.copyFileSync(world.companion, path.join(home, '.local', 'bin', 'companion'));
    fs.chmodSync(path.join(home, '.local', 'bin', 'companion'), 0o755);
    const { bench, lsp } = await activateWith('path-array', { 'companion.path': ['~/.local/bin/companion', '--verbose'] });
    assert.ok(lsp.argv.includes('--verbose') && lsp.argv[lsp.argv.length - 2] === 'lsp', lsp.argv.join(' '));
    await closeAll(bench);
});

test('companion.path as a command line: "python -m companion"', async () => {
    const { bench, lsp } = await activateWith('path-command', { 'companion.path': `${PYTHON} -m companion` });
    assert.deepEqual(lsp.argv.slice(-4), ['-m', 'companion', 'lsp', '--stdio']);
    await closeAll(bench);
});

test('companion.interpreter runs `-m companion lsp`; other settings as a person types them', async () => {
    const { bench, lsp } = await activateWith('interpreter', {
        'companion.interpreter': PYTHON, 'companion.interruptionLevel': '4', 'companion.showMessage': 'Off',
        'companion.startDaemon': 'true', 'companion.diagnosticSeverity': 'Hint',
    });
    assert.deepEqual(lsp.argv.slice(-4), ['-m', 'companion', 'lsp', '--stdio']);
    const notes = await bench.notifications();
    assert.ok(!notes.some((n) => /setting ignored/i.test(n)), `no setting was refused: ${JSON.stringify(notes)}`);
    await closeAll(bench);
});

test('a wrong companion (an executable that is not companion): a message with Open Settings', async () => {
    const wrong = path.join(world.bin, 'not-companion');
    fs.writeFileSync(wrong, '#!/bin/sh\necho "this is not companion" >&2\nexit 3\n', { mode: 0o755 });
    const note = await failsWith('wrong-path', { 'companion.path': wrong }, /did not start/);
    assert.match(note, /not-companion/);
});

test('an interpreter without companion: a message with Open Settings', async () => {
    const note = await failsWith('wrong-interpreter', { 'companion.interpreter': '/usr/bin/python3' }, /did not start/);
    assert.match(note, /python3 -m companion lsp/);
});

test('a setting that does not exist on disk: the message names it', async () => {
    const note = await failsWith('missing-path', { 'companion.path': '/nowhere/companion' }, /was not found/);
    assert.match(note, /\/nowhere\/companion/);
});

test('companion on PATH and no setting: the extension finds it there', async () => {
    // From here code-server starts with companion on PATH (activateWith restarts it).
    server.pathWithCompanion = true;
    // The same window without companion on PATH ended in "not found on PATH" (the first test), so
    // connecting here with no setting at all is the PATH lookup at work (world.companion, a wrapper
    // that execs `python -m companion`).
    const { bench, lsp } = await activateWith('on-path', {});
    assert.deepEqual(lsp.argv.slice(-4), ['-m', 'companion', 'lsp', '--stdio']);
    await closeAll(bench);
});
