import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'path';
import { recorded, resetRecorded } from './vscodeStub';
import { commandWords, expandPath, getSettings, initializationOptions, INSTALL_HINT, resolveServer, splitWords, which } from '../common/settings';

const files = (...names: string[]) => (p: string) => names.includes(p);
const env = { PATH: ['/usr/bin', '/opt/tools/bin'].join(path.delimiter), HOME: '/home/ada', VENV: '/srv/venv' };
const context = { env, workspaceFolder: '/work/app' };

test('the settings the server reads are passed as written, with who we are', () => {
    resetRecorded();
    recorded.config['companion.interruptionLevel'] = '2';
    recorded.config['companion.backend'] = 'Ollama';
    const settings = getSettings();
    assert.deepEqual(settings.path, []);
    assert.equal(settings.interpreter, '');
    assert.deepEqual(initializationOptions(settings), { interruptionLevel: '2', backend: 'Ollama', via: 'vscode' });
});

test('companion on PATH is started with `lsp`', () => {
    resetRecorded();
    const resolution = resolveServer(getSettings(), context, files('/opt/tools/bin/companion'));
    assert.deepEqual(resolution, { ok: true, server: { command: '/opt/tools/bin/companion', args: ['lsp'] } });
});

test('an interpreter runs `-m companion lsp`; a virtual environment folder will do', () => {
    resetRecorded();
    recorded.config['companion.interpreter'] = '~/venv/bin/python';
    assert.deepEqual(resolveServer(getSettings(), context, files('/home/ada/venv/bin/python')),
        { ok: true, server: { command: '/home/ada/venv/bin/python', args: ['-m', 'companion', 'lsp'] } });
    recorded.config['companion.interpreter'] = '${workspaceFolder}/.venv';
    assert.deepEqual(resolveServer(getSettings(), context, files('/work/app/.venv/bin/python3')),
        { ok: true, server: { command: '/work/app/.venv/bin/python3', args: ['-m', 'companion', 'lsp'] } });
    recorded.config['companion.interpreter'] = ['  /usr/bin/python3 '];
    assert.deepEqual(resolveServer(getSettings(), context, files('/usr/bin/python3')),
        { ok: true, server: { command: '/usr/bin/python3', args: ['-m', 'companion', 'lsp'] } });
});

test('companion.path as a string (the bug: `settings.path.map is not a function`) or an array', () => {
    resetRecorded();
    recorded.config['companion.path'] = '/srv/companion';
    assert.deepEqual(resolveServer(getSettings(), context, files('/srv/companion')),
        { ok: true, server: { command: '/srv/companion', args: ['lsp'] } });
    recorded.config['companion.path'] = ['/srv/companion', '-v'];
    recorded.config['companion.interpreter'] = '/usr/bin/python3';
    assert.deepEqual(resolveServer(getSettings(), context, files('/srv/companion', '/usr/bin/python3')),
        { ok: true, server: { command: '/srv/companion', args: ['-v', 'lsp'] } });
    recorded.config['companion.path'] = '${env:VENV}/bin/python -m companion';
    assert.deepEqual(resolveServer(getSettings(), context, files('/srv/venv/bin/python')),
        { ok: true, server: { command: '/srv/venv/bin/python', args: ['-m', 'companion', 'lsp'] } });
    recorded.config['companion.path'] = ['companion', 'lsp'];
    assert.deepEqual(resolveServer(getSettings(), context, files('/usr/bin/companion')),
        { ok: true, server: { command: '/usr/bin/companion', args: ['lsp'] } });
    recorded.config['companion.path'] = '/srv/venv';  // the folder of a virtual environment
    assert.deepEqual(resolveServer(getSettings(), context, files('/srv/venv/bin/companion')),
        { ok: true, server: { command: '/srv/venv/bin/companion', args: ['lsp'] } });
});

test('command words: a path with spaces that exists stays whole; odd values are reported, not thrown', () => {
    const problems: string[] = [];
    assert.deepEqual(commandWords('/Users/Ada Lovelace/bin/companion', 'companion.path', problems, (p) => p.startsWith('/Users/')),
        ['/Users/Ada Lovelace/bin/companion']);
    assert.deepEqual(commandWords('"/opt/my tools/companion" -v', 'companion.path', problems, () => false), ['/opt/my tools/companion', '-v']);
    assert.deepEqual(commandWords('', 'companion.path', problems), []);
    assert.deepEqual(commandWords(null, 'companion.path', problems), []);
    assert.deepEqual(problems, []);
    assert.deepEqual(commandWords(42, 'companion.path', problems), []);
    assert.deepEqual(commandWords(['/a', {}, ''], 'companion.path', problems), ['/a']);
    assert.equal(problems.length, 2);
    assert.match(problems[0], /companion.path must be a path/);
    assert.deepEqual(splitWords(`python  -m 'companion'`), ['python', '-m', 'companion']);
});

test('paths expand ~, ${userHome}, ${workspaceFolder}, ${env:NAME}, $HOME and workspace-relative paths', () => {
    assert.equal(expandPath('~/bin/companion', context), '/home/ada/bin/companion');
    assert.equal(expandPath('${userHome}/bin/companion', context), '/home/ada/bin/companion');
    assert.equal(expandPath('$HOME/bin/companion', context), '/home/ada/bin/companion');
    assert.equal(expandPath('${workspaceFolder}/.venv/bin/python', context), '/work/app/.venv/bin/python');
    assert.equal(expandPath('.venv/bin/python', context), '/work/app/.venv/bin/python');
    assert.equal(expandPath('${env:VENV}/bin/python', context), '/srv/venv/bin/python');
    assert.equal(expandPath('python3', context), 'python3');
});

test('a missing executable gets a message that says how to install', () => {
    resetRecorded();
    const missing = resolveServer(getSettings(), context, files());
    assert.equal(missing.ok, false);
    assert.ok(!missing.ok && missing.message.includes(INSTALL_HINT) && missing.message.includes('companion lsp'));
    recorded.config['companion.interpreter'] = '/nope/python';
    const badInterpreter = resolveServer(getSettings(), context, files());
    assert.ok(!badInterpreter.ok && badInterpreter.message.includes('/nope/python'));
    recorded.config['companion.path'] = '/nope/companion';
    const badPath = resolveServer(getSettings(), context, files());
    assert.ok(!badPath.ok && badPath.message.includes('`/nope/companion` (setting companion.path)'));
});

test('which searches PATH in order', () => {
    assert.equal(which('companion', env, files('/usr/bin/companion', '/opt/tools/bin/companion')), '/usr/bin/companion');
    assert.equal(which('companion', { PATH: '' }, files('/usr/bin/companion')), undefined);
});
