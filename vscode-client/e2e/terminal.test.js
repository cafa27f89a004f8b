// The integrated terminal and resilience in a real VS Code. A failing command typed into VS
// Code's terminal (shell integration, with companion's bash hook loaded too) becomes ONE
// `shell.command` event, origin "vscode", with its exit code and the tail of its output; the
// daemon killed while VS Code runs comes back, and the extension says so.
'use strict';
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { World, CodeServer, Workbench, until, closeBrowser } = require('./harness');

// Each shell CI installs, with companion's hook loaded from its rc file as docs/shell.md says.
// Locally a missing shell is left out with one line saying so; with CI=true it is a failure, so
// CI can never pass with the terminal route untested.
const WANTED = (process.env.E2E_SHELLS || 'bash zsh fish').split(/\s+/).filter(Boolean);
const SHELLS = WANTED.filter((shell) => {
    try {
        execFileSync('which', [shell], { stdio: 'ignore' });
        return true;
    } catch {
        return false;
    }
});
const MISSING = WANTED.filter((shell) => !SHELLS.includes(shell));
if (MISSING.length > 0) {
    const line = `terminal e2e: ${MISSING.join(', ')} not installed (apt-get install ${MISSING.join(' ')})`;
    if (process.env.CI === 'true') {
        test('every shell the terminal route is tested in is installed', () => assert.fail(line));
    } else {
        console.error(`${line}; those shells are left out`);
    }
}
// Asks the shell whether the hook is loaded and what the extension told it.
const PROBE = {
    bash: ' echo "hook=$(type -t __companion_aside) terminal=$COMPANION_TERMINAL"',
    zsh: ' echo "hook=${${(M)$(whence -w __companion_aside)%function}:-none} terminal=$COMPANION_TERMINAL"',
    fish: ' echo "hook="(functions -q __companion_aside; and echo function)" terminal=$COMPANION_TERMINAL"',
};

let world;
let bench;

after(async () => {
    await closeBrowser();
});

for (const shell of SHELLS) {
describe(`the integrated terminal (${shell})`, () => {
before(async () => {
    world = new World(`terminal-${shell}`, { files: { 'app.py': 'print("hi")\n' } });
    world.rcExtra = `eval "$(companion shell-init ${shell})"\n`;
    world.fishExtra = 'companion shell-init fish | source\n';
    world.startDaemon();
    const server = await new CodeServer(world, { settings: { 'terminal.integrated.defaultProfile.linux': shell } }).start();
    bench = await Workbench.open(server, `terminal-${shell}`);
    await until(async () => /lightbulb/.test((await bench.companionStatus())?.label ?? ''), 90000, 'companion connected');
});

after(async () => {
    await bench.close();
    await world.close();
});

function spoolLines() {
    const spool = path.join(world.home, 'data', 'spool', 'shell.tsv');
    return fs.existsSync(spool) ? fs.readFileSync(spool, 'utf8').split('\n').filter(Boolean) : [];
}

async function terminalText() {
    return (await bench.textOf('.xterm .xterm-rows')).join('\n').replace(/\u00a0/g, ' ');
}

test('a failing command typed in the terminal becomes one shell.command event with its output tail', async () => {
    await bench.command('Terminal: Create New Terminal');
    await bench.page.waitForSelector('.xterm .xterm-rows', { timeout: 30000 }).catch(async (error) => {
        await bench.screenshot('no-terminal');
        throw error;
    });
    await until(async () => /[$#%>]\s*$/m.test(await terminalText()), 30000, 'a shell prompt', terminalText);
    // The hook is loaded in this shell, and the extension told it that VS Code reports the commands.
    await bench.page.click('.xterm');
    await bench.page.keyboard.type(PROBE[shell], { delay: 5 });
    await bench.page.keyboard.press('Enter');
    await until(async () => (await terminalText()).includes('hook=function terminal=vscode'), 20000,
        'the hook loaded and COMPANION_TERMINAL=vscode', terminalText);
    const command = 'python3 -c "import no_such_module_e2e"';
    await bench.page.keyboard.type(command, { delay: 10 });
    await bench.page.keyboard.press('Enter');
    await until(async () => (await terminalText()).includes("No module named 'no_such_module_e2e'"), 20000, 'the error in the terminal');
    await bench.screenshot('failing-command');

    const events = await until(() => {
        const found = world.events('shell.command').filter((e) => e.data.command === command);
        return found.length > 0 && found;
    }, 30000, 'the shell.command event', () => JSON.stringify(world.events('shell.command')));
    const [event] = events;
    assert.equal(event.data.origin, 'vscode');
    assert.equal(event.data.exit_code, 1);
    assert.equal(event.data.dir, '.');
    const output = event.data.evidence.output;
    assert.equal(output.route, 'vscode');
    assert.match(output.tail, /ModuleNotFoundError: No module named 'no_such_module_e2e'/);
    assert.ok(output.lines >= 1 && output.bytes >= output.tail.length, JSON.stringify(output));
    assert.ok(!/\x1b/.test(output.tail), 'ANSI stripped');

    // The hook stood aside (COMPANION_TERMINAL=vscode): one event, not two, even a while later.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const again = world.events('shell.command').filter((e) => e.data.command === command);
    assert.equal(again.length, 1, JSON.stringify(again.map((e) => e.data.origin)));
    assert.ok(!spoolLines().some((l) => l.includes('no_such_module_e2e')), 'the hook wrote no record of it');
});

test('a command that succeeds is recorded without its output (capture_output = failed)', async () => {
    const command = 'echo companion-e2e-ok';
    await bench.page.click('.xterm');
    await bench.page.keyboard.type(command, { delay: 10 });
    await bench.page.keyboard.press('Enter');
    const [event] = await until(() => {
        const found = world.events('shell.command').filter((e) => e.data.command === command);
        return found.length > 0 && found;
    }, 30000, 'the shell.command event');
    assert.equal(event.data.exit_code, 0);
    assert.equal(event.data.origin, 'vscode');
    assert.equal(event.data.evidence, undefined);
});

test('the daemon killed while VS Code runs: the extension says so and comes back', { skip: shell !== SHELLS[0] && 'once is enough' }, async () => {
    const pid = world.daemonPid();
    assert.ok(pid, 'a daemon runs');
    process.kill(pid, 'SIGKILL');
    const away = await until(async () => (await bench.allNotifications()).find((n) => /went away|not running|reconnect/i.test(n)), 30000,
        'a message that the daemon went away', async () => JSON.stringify(await bench.notifications()));
    assert.ok(away);
    await until(async () => (await bench.allNotifications()).some((n) => /reconnected/i.test(n)), 60000, 'the reconnection said',
        async () => JSON.stringify(await bench.notifications()));
    const status = await until(async () => { const s = await bench.companionStatus(); return /lightbulb/.test(s?.label ?? '') && s; },
        30000, 'the status bar connected again');
    assert.match(status.label, /no open proposals|open proposal/);
    const restarted = world.daemonPid();
    assert.ok(restarted && restarted !== pid, `a new daemon (${restarted}, was ${pid})`);
    await bench.screenshot('reconnected');

    // The language server itself killed: the extension starts a new one, and it attaches again.
    const [lsp] = world.lspProcesses();
    process.kill(lsp.pid, 'SIGKILL');
    const next = await until(() => world.lspProcesses().find((p) => p.pid !== lsp.pid), 60000, 'a new language server');
    await until(async () => /lightbulb/.test((await bench.companionStatus())?.label ?? ''), 60000, 'connected through the new server',
        async () => JSON.stringify(await bench.companionStatus()));
    assert.ok(next.argv.includes('lsp'));
});
});
}
