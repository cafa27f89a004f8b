// The extension's side of the contract with the real `companion lsp`: the initializationOptions it
// sends are accepted, and the server's companion/status notification and companion.status reply
// drive the ProposalModel as the status bar and the tree expect. Needs a Python with companion:
// set COMPANION_PYTHON (CI sets it to the project's virtual environment); skipped otherwise.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { recorded, resetRecorded } from './vscodeStub';
import { getSettings, initializationOptions } from '../common/settings';
import { ProposalModel, ServerStatus } from '../common/proposals';
import { statusText } from '../common/statusBar';

const python = process.env.COMPANION_PYTHON;

function until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
        const poll = () => {
            if (predicate()) {
                resolve();
            } else if (Date.now() > deadline) {
                reject(new Error(`${what} not met within ${timeoutMs} ms`));
            } else {
                setTimeout(poll, 50);
            }
        };
        poll();
    });
}

test('the real language server drives the model', { skip: python ? false : 'COMPANION_PYTHON is not set', timeout: 120000 }, async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'companion-vscode-'));
    const repo = path.join(home, 'repo');
    fs.mkdirSync(repo);
    spawnSync('git', ['init', '-q'], { cwd: repo });
    const env = { ...process.env, COMPANION_HOME: home, COMPANION_ENGINE_ENABLED: 'false', HF_HUB_OFFLINE: '1' };
    const server = spawn(python!, ['-m', 'companion', 'lsp'], { cwd: repo, env, stdio: ['pipe', 'pipe', 'inherit'] });
    const connection = createMessageConnection(new StreamMessageReader(server.stdout), new StreamMessageWriter(server.stdin));
    const model = new ProposalModel();
    connection.onNotification('companion/status', (status: ServerStatus) => model.applyStatus(status));
    connection.onNotification('companion/proposal', (note) => model.applyNotification(note));
    connection.onNotification('window/logMessage', () => undefined);
    connection.onNotification('window/showMessage', () => undefined);
    connection.listen();
    try {
        resetRecorded();
        recorded.config['companion.interruptionLevel'] = 2;
        recorded.config['companion.showMessage'] = 'always';
        const result: any = await connection.sendRequest('initialize', {
            processId: process.pid, rootUri: pathToFileURL(repo).toString(), capabilities: {},
            clientInfo: { name: 'Visual Studio Code', version: 'test' },
            initializationOptions: initializationOptions(getSettings()),
        });
        assert.equal(result.serverInfo.name, 'companion');
        assert.ok(result.capabilities.executeCommandProvider.commands.includes('companion.pause'));
        await connection.sendNotification('initialized', {});
        await until(() => model.connected, 90000, 'the server attaching to a daemon it starts');
        assert.equal(statusText(model).text, '$(lightbulb) 0');

        const status: any = await connection.sendRequest('workspace/executeCommand', { command: 'companion.status' });
        model.applyStatus(status);
        assert.equal(status.settings.interruption_level, 2);
        assert.equal(status.settings.show_message, 'always');
        assert.equal(status.settings.via, 'vscode');
        assert.deepEqual(model.list(), []);

        const paused: any = await connection.sendRequest('workspace/executeCommand', { command: 'companion.pause', arguments: [30] });
        model.applyStatus(paused);
        assert.equal(model.snoozed, true);
        assert.equal(statusText(model).text, '$(bell-slash) Companion');
        await connection.sendRequest('shutdown');
        await connection.sendNotification('exit');
    } finally {
        connection.dispose();
        server.kill();
        spawnSync(python!, ['-c', 'import sys\nfrom companion.ipc import Client\nfrom companion import paths\n' +
            'with Client(paths.socket_file(sys.argv[1])) as c: c.request("shutdown")', repo], { env });
    }
});
