import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { recorded, resetRecorded } from './vscodeStub';
import * as commands from '../common/commands';
import { Proposal, ProposalModel } from '../common/proposals';

function proposal(id: string, ts: number): Proposal {
    return { id, ts, task: `Task ${id}`, response: '', operation: 'explain', path: null, line: null, end_line: null,
        score: null, status: 'open', event_ids: [] };
}

class FakeServer implements commands.ServerConnection {
    requests: { method: string; params: any }[] = [];
    constructor(private readonly replies: Record<string, unknown> = {}) {}
    async sendRequest(method: string, params: any): Promise<any> {
        this.requests.push({ method, params });
        return this.replies[params.command] ?? { outcome: 'ok' };
    }
}

function modelWith(...proposals: Proposal[]): ProposalModel {
    const model = new ProposalModel();
    for (const p of proposals) {
        model.applyNotification({ proposal: p, change: 'new', visible: true, uri: null });
    }
    return model;
}

test('a tree button answers its own proposal', async () => {
    const server = new FakeServer();
    const model = modelWith(proposal('a', 1), proposal('b', 2));
    await commands.answer(server, model, 'reject', { kind: 'proposal', proposal: proposal('a', 1) });
    assert.deepEqual(server.requests, [{ method: 'workspace/executeCommand', params: { command: 'companion.reject', arguments: ['a'] } }]);
});

test('from the palette one open proposal is answered directly, several are picked from', async () => {
    resetRecorded();
    const server = new FakeServer();
    await commands.answer(server, modelWith(proposal('only', 1)), 'accept');
    assert.deepEqual(server.requests[0].params, { command: 'companion.accept', arguments: ['only'] });

    const model = modelWith(proposal('a', 1), proposal('b', 2));
    const chosen = await commands.pickProposal(model, undefined, async (items) => {
        assert.deepEqual(items.map((i) => i.id), ['b', 'a']);
        return items[1];
    });
    assert.equal(chosen?.id, 'a');
    await commands.answer(server, model, 'snooze');  // the stub's quick pick is dismissed
    assert.equal(server.requests.length, 1);
    assert.equal(recorded.quickPicks.length, 1);
});

test('with nothing open the user is told so', async () => {
    resetRecorded();
    const server = new FakeServer();
    await commands.answer(server, new ProposalModel(), 'accept');
    assert.equal(server.requests.length, 0);
    assert.deepEqual(recorded.information, ['Companion has no open proposal to answer.']);
});

test('the snooze toggle pauses through the server and refreshes the model', async () => {
    const until = Date.now() / 1000 + 1800;
    const server = new FakeServer({
        'companion.pause': { state: 'connected', message: '', open: 0, snoozedUntil: until },
        'companion.status': { state: 'connected', message: '', open: 0, snoozedUntil: until, proposals: [] },
    });
    const model = new ProposalModel();
    await commands.toggleSnooze(server, model);
    assert.deepEqual(server.requests.map((r) => r.params.command), ['companion.pause', 'companion.status']);
    assert.equal(model.snoozed, true);
    assert.match(commands.describeStatus(model.status), /^Companion: connected — 0 open proposals, snoozed until/);
});

test('events behind a proposal come from companion.events', async () => {
    const server = new FakeServer({ 'companion.events': { events: [{ id: 'e', ts: 1, kind: 'git.commit', text: 'x' }] } });
    const events = await commands.fetchEvents(server, 'p1');
    assert.equal(events[0].kind, 'git.commit');
    assert.deepEqual(server.requests[0].params, { command: 'companion.events', arguments: ['p1'] });
});
