import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'path';
import { recorded, resetRecorded } from './vscodeStub';
import { getSettings, initializationOptions, INSTALL_HINT, resolveServer, which } from '../common/settings';

const files = (...names: string[]) => (p: string) => names.includes(p);
const env = { PATH: ['/usr/bin', '/opt/tools/bin'].join(path.delimiter), HOME: '/home/ada' };

test('settings come from the companion section with defaults', () => {
    resetRecorded();
    recorded.config['companion.interruptionLevel'] = 2;
    recorded.config['companion.backend'] = 'ollama';
    const settings = getSettings();
    assert.equal(settings.interruptionLevel, 2);
    assert.equal(settings.backend, 'ollama');
    assert.equal(settings.showMessage, 'unfocused');
    assert.deepEqual(settings.path, []);
    assert.deepEqual(initializationOptions(settings), {
        interruptionLevel: 2, showMessage: 'unfocused', diagnosticSeverity: 'information',
        backend: 'ollama', model: '', startDaemon: true, via: 'vscode',
    });
});

test('companion on PATH is started with `lsp`', () => {
    resetRecorded();
    const resolution = resolveServer(getSettings(), env, files('/opt/tools/bin/companion'));
    assert.deepEqual(resolution, { ok: true, server: { command: '/opt/tools/bin/companion', args: ['lsp'] } });
});

test('an interpreter runs `-m companion lsp`', () => {
    resetRecorded();
    recorded.config['companion.interpreter'] = '~/venv/bin/python';
    const resolution = resolveServer(getSettings(), env, files('/home/ada/venv/bin/python'));
    assert.deepEqual(resolution, { ok: true, server: { command: '/home/ada/venv/bin/python', args: ['-m', 'companion', 'lsp'] } });
});

test('an explicit path wins and keeps its extra arguments', () => {
    resetRecorded();
    recorded.config['companion.path'] = ['/srv/companion', '-v'];
    recorded.config['companion.interpreter'] = '/usr/bin/python3';
    const resolution = resolveServer(getSettings(), env, files('/srv/companion', '/usr/bin/python3'));
    assert.deepEqual(resolution, { ok: true, server: { command: '/srv/companion', args: ['-v', 'lsp'] } });
});

test('a missing executable gets a message that says how to install', () => {
    resetRecorded();
    const missing = resolveServer(getSettings(), env, files());
    assert.equal(missing.ok, false);
    assert.ok(!missing.ok && missing.message.includes(INSTALL_HINT) && missing.message.includes('companion lsp'));
    recorded.config['companion.interpreter'] = '/nope/python';
    const badInterpreter = resolveServer(getSettings(), env, files());
    assert.ok(!badInterpreter.ok && badInterpreter.message.includes('/nope/python'));
});

test('which searches PATH in order', () => {
    assert.equal(which('companion', env, files('/usr/bin/companion', '/opt/tools/bin/companion')), '/usr/bin/companion');
    assert.equal(which('companion', { PATH: '' }, files('/usr/bin/companion')), undefined);
});
