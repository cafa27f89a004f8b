import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { recorded, resetRecorded } from './vscodeStub';
import { Proposal, ProposalModel, where } from '../common/proposals';
import { createStatusBar, statusText } from '../common/statusBar';
import { ProposalTree } from '../common/treeView';

function proposal(id: string, ts: number, fields: Partial<Proposal> = {}): Proposal {
    return { id, ts, task: `Task ${id}`, response: 'because', operation: 'explain', path: 'src/app.py', line: 3,
        end_line: 3, score: 0.8, status: 'open', event_ids: [], ...fields };
}

const connected = { state: 'connected', message: 'attached', open: 0, snoozedUntil: null };

test('notifications add shown proposals and drop answered ones', () => {
    const model = new ProposalModel();
    let changes = 0;
    model.on('changed', () => changes++);
    model.applyNotification({ proposal: proposal('a', 1), change: 'new', visible: true, uri: null });
    model.applyNotification({ proposal: proposal('b', 2), change: 'new', visible: true, uri: null });
    model.applyNotification({ proposal: proposal('hidden', 3), change: 'new', visible: false, uri: null });
    assert.deepEqual(model.list().map((p) => p.id), ['b', 'a']);
    model.applyNotification({ proposal: proposal('a', 1, { status: 'accepted' }), change: 'answered', visible: false, uri: null });
    assert.deepEqual(model.list().map((p) => p.id), ['b']);
    assert.equal(changes, 4);
});

test('a status with its proposal list replaces the model and tells when it is out of step', () => {
    const model = new ProposalModel();
    model.applyStatus({ ...connected, open: 2 });
    assert.equal(model.outOfStep, true);
    model.applyStatus({ ...connected, open: 1, proposals: [{ ...proposal('x', 5), shown: true }, { ...proposal('y', 6), shown: false }] });
    assert.deepEqual(model.list().map((p) => p.id), ['x']);
    assert.equal(model.outOfStep, false);
    assert.equal(where(proposal('z', 1, { path: null })), 'no file');
    assert.equal(where(proposal('z', 1)), 'src/app.py:3');
});

test('the status bar counts open proposals and shows snooze and disconnection', () => {
    resetRecorded();
    const model = new ProposalModel();
    createStatusBar(model);
    const [item] = recorded.statusBarItems;
    assert.equal(item.visible, true);
    assert.equal(item.command, 'companion.toggleSnooze');
    assert.match(item.text, /debug-disconnect/);
    model.applyStatus({ ...connected, open: 1 });
    model.applyNotification({ proposal: proposal('a', 1), change: 'new', visible: true, uri: null });
    assert.equal(item.text, '$(lightbulb) 1');
    assert.match(item.tooltip, /1 open proposal;/);
    model.applyStatus({ ...connected, open: 1, snoozedUntil: Date.now() / 1000 + 1800 });
    assert.equal(statusText(model).text, '$(bell-slash) Companion');
    assert.equal(item.text, '$(bell-slash) Companion');
});

test('the tree lists proposals with buttons and the events behind each', async () => {
    const model = new ProposalModel();
    model.applyNotification({ proposal: proposal('a', 1, { event_ids: ['e1'] }), change: 'new', visible: true, uri: null });
    model.applyNotification({ proposal: proposal('b', 2, { path: null, operation: 'edit' }), change: 'new', visible: true, uri: null });
    const asked: string[] = [];
    const tree = new ProposalTree(model, async (id) => {
        asked.push(id);
        if (id === 'b') {
            throw new Error('daemon away');
        }
        return [{ id: 'e1', ts: 1, kind: 'shell.command', text: 'The user ran `pytest -x`; it failed.' }];
    });
    let refreshed = 0;
    tree.onDidChangeTreeData(() => refreshed++);
    const roots = await tree.getChildren();
    assert.deepEqual(roots.map((n) => n.kind === 'proposal' && n.proposal.id), ['b', 'a']);
    const item = tree.getTreeItem(roots[1]);
    assert.equal(item.contextValue, 'proposal');
    assert.equal(item.label, 'Task a');
    assert.equal(item.description, 'src/app.py:3');
    const events = await tree.getChildren(roots[1]);
    assert.equal(tree.getTreeItem(events[0]).label, 'The user ran `pytest -x`; it failed.');
    const failed = await tree.getChildren(roots[0]);
    assert.equal(tree.getTreeItem(failed[0]).label, 'events unavailable: daemon away');
    assert.deepEqual(asked, ['a', 'b']);
    model.applyNotification({ proposal: proposal('a', 1, { status: 'rejected' }), change: 'answered', visible: false, uri: null });
    assert.equal(refreshed, 1);
});
