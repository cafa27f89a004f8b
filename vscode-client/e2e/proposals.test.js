// Proposals in a real VS Code: a proposal of the scripted backend (the engine on, a real daemon)
// shows as a diagnostic on its line, in the Problems panel, in the Companion view and in the
// status bar count; its quick fixes answer it; accepting an edit changes the buffer exactly once
// (undo takes it back, the daemon does not touch the file, the outcome is `accepted`), for the
// three patch shapes; a run_command is shown, never run.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { World, CodeServer, Workbench, reply, until, closeBrowser, ARTIFACTS, REPO_ROOT } = require('./harness');
const { CALC, SHAPES } = require('./shapes');

let world;
let server;
let bench;

before(async () => {
    world = new World('proposals', { files: { 'calc.py': CALC } });
    world.startDaemon();
    server = await new CodeServer(world).start();
    bench = await Workbench.open(server, 'proposals');
    await until(async () => /lightbulb/.test((await bench.companionStatus())?.label ?? ''), 90000, 'companion connected');
    await bench.openFile('calc.py');
});

after(async () => {
    await closeBrowser();
    await world.close();
});

/** A fresh daemon whose scripted model answers `answer`; a failing command naming calc.py wakes
 *  its engine, which proposes. */
async function propose(answer) {
    await resetCalc();
    world.setReplies([answer]);
    const before = world.daemonPid();
    world.stopDaemon();
    await until(() => world.daemonPid() !== before, 30000, 'the old daemon gone');
    if (world.daemonPid() === undefined) {
        world.startDaemon();
    }
    await until(() => world.daemonPid() !== undefined, 30000, 'a new daemon');
    await until(async () => /lightbulb/.test((await bench.companionStatus())?.label ?? ''), 60000, 'the editor reconnected');
    const known = new Set(world.proposals().map((p) => p.id));
    world.emitFailedCommand(`python3 calc.py --check # calc.py:${answer.line ?? 1}`, 2);
    const proposal = await until(() => world.proposals().find((p) => !known.has(p.id)), 60000, 'the engine proposing',
        () => JSON.stringify(world.proposals().slice(0, 3)));
    assert.equal(proposal.surfaced, true, `surfaced: ${JSON.stringify(proposal)}`);
    assert.equal(proposal.task, answer.proactive_task);
    return proposal;
}

/** calc.py as every test starts from it, on disk and in the editor. */
async function resetCalc() {
    fs.writeFileSync(path.join(world.repo, 'calc.py'), CALC);
    await bench.page.click('.editor-instance .monaco-editor .view-lines');
    await bench.command('File: Revert File');
    await until(async () => (await editorText()) === CALC, 10000, 'calc.py as it was', async () => JSON.stringify(await editorText()));
}

async function statusCount() {
    const status = await bench.companionStatus();
    const match = /lightbulb\s+(\d+)/.exec(status?.label ?? '');
    return match ? Number(match[1]) : undefined;
}

async function goToLine(line) {
    await bench.page.click('.editor-instance .monaco-editor .view-lines');
    await bench.key('Control', 'g');
    await bench.page.keyboard.type(String(line));
    await bench.page.keyboard.press('Enter');
}

/** The quick fixes offered at `line` (Ctrl+.), as their titles. */
async function quickFixes(line) {
    await goToLine(line);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await bench.key('Control', '.');
    await until(async () => (await bench.textOf('.action-widget .monaco-list-row')).length > 0, 15000, 'the quick fix menu');
    return bench.textOf('.action-widget .monaco-list-row');
}

async function chooseQuickFix(prefix) {
    const rows = await bench.page.$$('.action-widget .monaco-list-row');
    for (const row of rows) {
        const text = await row.evaluate((n) => (n.textContent || '').trim());
        if (text.startsWith(prefix)) {
            await row.click();
            return text;
        }
    }
    throw new Error(`no quick fix starting with ${prefix}`);
}

async function editorText() {
    return (await bench.editorLines()).join('\n');
}

function outcomeOf(id) {
    return world.proposals().find((p) => p.id === id);
}

test('a proposal shows on its line, in Problems, in the Companion view and in the status bar count', async () => {
    const shape = SHAPES.A;
    const countBefore = await statusCount();
    const proposal = await propose(reply(shape.task, shape.diff, 'edit', { path: 'calc.py', line: shape.line }));
    await until(async () => (await statusCount()) === (countBefore ?? 0) + 1, 30000, 'the status bar count rises',
        async () => JSON.stringify(await bench.companionStatus()));

    await bench.command('View: Focus Problems');
    const problem = await until(async () => (await bench.problems()).find((r) => r.includes(shape.task)), 30000, 'the task in Problems',
        async () => JSON.stringify(await bench.problems()));
    assert.match(problem, new RegExp(`\\[Ln ${shape.line}, Col \\d+\\]`), `on line ${shape.line}: ${problem}`);

    await bench.command('View: Show Companion');
    await until(async () => (await bench.textOf('.pane-body .monaco-list-row')).some((r) => r.includes(shape.task)), 30000,
        'the proposal in the Companion view', async () => JSON.stringify(await bench.textOf('.pane-body .monaco-list-row')));
    await bench.screenshot('companion-view');

    await bench.command('Notifications: Clear All Notifications');
    const fixes = await quickFixes(shape.line);
    assert.deepEqual(fixes.filter((f) => f !== 'Quick Fix').slice(0, 3).map((f) => f.replace(/\s+/g, ' ')),
        [`Accept: ${shape.task}`, `Reject (${shape.task})`, `Snooze 30 min (${shape.task})`]);
    const picture = await bench.screenshot('code-actions');
    fs.mkdirSync(path.join(ARTIFACTS, 'docs'), { recursive: true });
    fs.copyFileSync(picture, path.join(ARTIFACTS, 'docs', 'vscode-proposal.png'));

    // Accepting applies the patch in the editor, once.
    await chooseQuickFix('Accept');
    await until(async () => (await editorText()) === shape.after, 20000, 'the patched buffer',
        async () => JSON.stringify(await editorText()));
    await until(() => outcomeOf(proposal.id)?.status === 'accepted', 20000, 'the outcome stored');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(await editorText(), shape.after, 'applied exactly once');
    assert.equal(fs.readFileSync(path.join(world.repo, 'calc.py'), 'utf8'), CALC, 'the daemon did not write the file');
    await bench.key('Control', 'z');
    await until(async () => (await editorText()) === CALC, 10000, 'undo takes it back');
    await until(async () => (await statusCount()) === 0, 20000, 'the count falls');
});

for (const name of ['B', 'C']) {
    test(`accepting shape ${name} with the engine on changes the buffer exactly once`, async () => {
        const shape = SHAPES[name];
        const proposal = await propose(reply(shape.task, shape.diff, 'edit', { path: 'calc.py', line: shape.line }));
        await until(async () => (await statusCount()) === 1, 30000, 'the proposal shown');
        const fixes = await quickFixes(shape.line);
        assert.ok(fixes.includes(`Accept: ${shape.task}`), JSON.stringify(fixes));
        await chooseQuickFix('Accept');
        await until(async () => (await editorText()) === shape.after, 20000, 'the patched buffer',
            async () => JSON.stringify(await editorText()));
        await until(() => outcomeOf(proposal.id)?.status === 'accepted', 20000, 'the outcome stored');
        await new Promise((resolve) => setTimeout(resolve, 1000));
        assert.equal(await editorText(), shape.after, 'applied exactly once');
        assert.equal(fs.readFileSync(path.join(world.repo, 'calc.py'), 'utf8'), CALC);
        await bench.screenshot(`accepted-${name}`);
        await bench.key('Control', 'z');
        await until(async () => (await editorText()) === CALC, 10000, 'undo takes it back');
    });
}

const ANSWERS = [
    ['Reject', 'rejected', 'Explain why add() in calc.py subtracts', 'It subtracts: `a - b`.'],
    ['Snooze 30 min', 'snoozed', 'Rename scale() in calc.py to double()', 'It doubles its argument.'],
];
for (const [title, stored, task, response] of ANSWERS) {
    test(`the ${title} quick fix records ${stored}`, async () => {
        const proposal = await propose(reply(task, response, 'explain', { path: 'calc.py', line: 5 }));
        await until(async () => (await statusCount()) === 1, 30000, 'the proposal shown');
        await quickFixes(5);
        await chooseQuickFix(title);
        await until(() => outcomeOf(proposal.id)?.status === stored, 20000, `the outcome ${stored}`);
        await until(async () => (await statusCount()) === 0, 20000, 'the count falls');
        assert.equal(await editorText(), CALC, 'the file is untouched');
    });
}

test('a run_command is shown, never run', async () => {
    const marker = path.join(world.repo, 'ran-by-companion');
    const command = 'touch ran-by-companion && python3 calc.py';
    const proposal = await propose(reply('Run calc.py again once it is fixed', command, 'run_command', { path: 'calc.py', line: 1 }));
    await until(async () => (await statusCount()) === 1, 30000, 'the proposal shown');
    await quickFixes(1);
    await chooseQuickFix('Accept');
    await until(() => outcomeOf(proposal.id)?.status === 'accepted', 20000, 'the outcome stored');
    const shown = await until(async () => {
        const page = (await bench.textOf('.editor-instance .view-lines')).join('\n').replace(/\u00a0/g, ' ');
        return page.includes(command) && page;
    }, 20000, 'the command shown in an editor', async () => JSON.stringify(await bench.textOf('.tab')));
    assert.ok(shown);
    await bench.screenshot('run-command');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(fs.existsSync(marker), false, 'the command was not run');
});
