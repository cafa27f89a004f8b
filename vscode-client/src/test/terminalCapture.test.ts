import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import './vscodeStub';
import { MAX_BYTES, MAX_LINES, OutputTail, stripAnsi } from '../common/outputTail';
import { ExecutionEnd, ExecutionStart, ShellExecution, ShellIntegrationEvents, TerminalCapture, TerminalCommand } from '../common/terminalCapture';

/** VS Code's shell integration events, driven by the test: an execution's read() stream is fed
 *  by `write` and ends with `finish`, as the terminal does. */
class FakeShellIntegration implements ShellIntegrationEvents {
    private startListeners: ((e: ExecutionStart) => void)[] = [];
    private endListeners: ((e: ExecutionEnd) => void)[] = [];
    onDidStartTerminalShellExecution(listener: (e: ExecutionStart) => void) {
        this.startListeners.push(listener);
        return { dispose: () => { this.startListeners = []; } };
    }
    onDidEndTerminalShellExecution(listener: (e: ExecutionEnd) => void) {
        this.endListeners.push(listener);
        return { dispose: () => { this.endListeners = []; } };
    }
    run(command: string, confidence = 2, cwd = '/work/app') {
        const chunks: string[] = [];
        let wake: (() => void) | undefined;
        let done = false;
        let reads = 0;
        const execution: ShellExecution = {
            commandLine: { value: command, isTrusted: true, confidence },
            cwd: { fsPath: cwd },
            read: () => {
                reads += 1;
                return (async function* () {
                    while (!done || chunks.length) {
                        if (chunks.length) {
                            yield chunks.shift()!;
                        } else {
                            await new Promise<void>((resolve) => { wake = resolve; });
                        }
                    }
                })();
            },
        };
        const terminal = { name: 'bash', processId: Promise.resolve(4242) };
        this.startListeners.forEach((l) => l({ terminal, execution }));
        return {
            write: (chunk: string) => { chunks.push(chunk); wake?.(); },
            finish: (exitCode: number | undefined) => {
                done = true;
                wake?.();
                this.endListeners.forEach((l) => l({ terminal, execution, exitCode }));
            },
            reads: () => reads,
        };
    }
}

async function settle(sent: TerminalCommand[], count: number): Promise<void> {
    for (let i = 0; i < 200 && sent.length < count; i++) {
        await new Promise((resolve) => setTimeout(resolve, 5));
    }
}

test('a failing command becomes one notification with its exit code, folder and output tail', async () => {
    const integration = new FakeShellIntegration();
    const sent: TerminalCommand[] = [];
    let clock = 1_700_000_000_000;
    const capture = new TerminalCapture(integration, (c) => sent.push(c), () => (clock += 1500));
    const run = integration.run('python -m pytest -q');
    assert.equal(run.reads(), 1, 'read() is called as the command starts');
    run.write('\x1b[31mE   AssertionError: assert 1 == 2\x1b[0m\r\n');
    run.write('FAILED tests/test_a.py::test_x\r\n\x1b[1m1 failed\x1b');
    run.write('[0m in 0.1s\r\n');
    run.finish(1);
    await settle(sent, 1);
    assert.equal(sent.length, 1);
    const [command] = sent;
    assert.equal(command.command, 'python -m pytest -q');
    assert.equal(command.exitCode, 1);
    assert.equal(command.cwd, '/work/app');
    assert.equal(command.confidence, 'high');
    assert.equal(command.session, 'vscode-4242');
    assert.equal(command.end - command.start, 1.5);
    assert.deepEqual(command.output, {
        tail: 'E   AssertionError: assert 1 == 2\nFAILED tests/test_a.py::test_x\n1 failed in 0.1s',
        lines: 3, bytes: Buffer.byteLength(command.output.tail) + 1, truncated: false,
    });
    capture.dispose();
});

test('an unknown exit code is null; an empty command line is not reported', async () => {
    const integration = new FakeShellIntegration();
    const sent: TerminalCommand[] = [];
    new TerminalCapture(integration, (c) => sent.push(c));
    integration.run('', 0).finish(undefined);
    const run = integration.run('make', 0);
    run.finish(undefined);
    await settle(sent, 1);
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(sent.length, 1);
    assert.equal(sent[0].exitCode, null);
    assert.equal(sent[0].confidence, 'low');
    assert.equal(sent[0].output.tail, '');
});

test('the tail keeps the last 200 lines and 64 KiB, and counts everything', () => {
    const tail = new OutputTail();
    for (let i = 1; i <= 1000; i++) {
        tail.feed(`line ${i}\n`);
    }
    const summary = tail.summary();
    assert.equal(summary.lines, 1000);
    assert.equal(summary.truncated, true);
    const lines = summary.tail.split('\n');
    assert.equal(lines.length, MAX_LINES);
    assert.equal(lines[0], 'line 801');
    assert.equal(lines[MAX_LINES - 1], 'line 1000');

    const wide = new OutputTail();
    wide.feed(('x'.repeat(1023) + '\n').repeat(100));
    wide.feed('y'.repeat(200 * 1024));  // one endless line
    const big = wide.summary();
    assert.ok(Buffer.byteLength(big.tail) <= MAX_BYTES);
    assert.ok(big.tail.endsWith('y'.repeat(100)));
    assert.equal(big.truncated, true);
    assert.equal(big.bytes, 100 * 1024 + 200 * 1024);
});

test('ANSI noise, OSC marks, progress bars and invalid sequences are cleaned', () => {
    assert.equal(stripAnsi('\x1b]633;C\x07\x1b[?25lok\x1b[K\x1b(B\x07'), 'ok');
    const tail = new OutputTail();
    tail.feed('downloading 10%\rdownloading 50%\rdownloading 100%\r\n');
    tail.feed('\x1b]0;title\x1b\\done\u0000\n');
    tail.feed('caf\u00e9 \ufffd\n');
    assert.equal(tail.summary().tail, 'downloading 100%\ndone\ncaf\u00e9 \ufffd');
});
