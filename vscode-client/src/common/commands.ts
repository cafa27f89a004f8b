// The palette and tree commands. They talk to the language server through
// workspace/executeCommand (companion.accept, .reject, .snooze, .status, .pause, .events), so
// the server records every answer with the time it took, whatever the editor.
import * as vscode from 'vscode';
import { ProposalModel, Proposal, ServerStatus, where } from './proposals';
import { EventLine, Node } from './treeView';

export interface ServerConnection {
    sendRequest(method: string, params: unknown): Promise<any>;
}

export type Outcome = 'accept' | 'reject' | 'snooze';

export function execute(connection: ServerConnection, command: string, args: unknown[] = []): Promise<any> {
    return connection.sendRequest('workspace/executeCommand', { command, arguments: args });
}

/** The proposal a command means: a tree node, an id, or (from the palette) a pick among the open ones. */
export async function pickProposal(model: ProposalModel, target: unknown,
                                   pick: (items: { label: string; description: string; id: string }[]) => Thenable<{ id: string } | undefined>
                                       = (items) => vscode.window.showQuickPick(items, { placeHolder: 'Which proposal?' })):
    Promise<Proposal | undefined> {
    if (typeof target === 'string') {
        return model.get(target);
    }
    const node = target as Node | undefined;
    if (node && node.kind === 'proposal') {
        return node.proposal;
    }
    const open = model.list();
    if (open.length <= 1) {
        return open[0];
    }
    const chosen = await pick(open.map((p) => ({ label: p.task ?? '(no task)', description: where(p), id: p.id })));
    return chosen ? model.get(chosen.id) : undefined;
}

export async function answer(connection: ServerConnection, model: ProposalModel, outcome: Outcome,
                             target?: unknown): Promise<any> {
    const proposal = await pickProposal(model, target);
    if (!proposal) {
        vscode.window.showInformationMessage('Companion has no open proposal to answer.');
        return undefined;
    }
    return execute(connection, `companion.${outcome}`, [proposal.id]);
}

export async function refresh(connection: ServerConnection, model: ProposalModel): Promise<ServerStatus> {
    const status: ServerStatus = await execute(connection, 'companion.status');
    model.applyStatus(status);
    return status;
}

export async function toggleSnooze(connection: ServerConnection, model: ProposalModel): Promise<ServerStatus> {
    const status: ServerStatus = await execute(connection, 'companion.pause');
    model.applyStatus(status);
    return refresh(connection, model);
}

export async function fetchEvents(connection: ServerConnection, proposalId: string): Promise<EventLine[]> {
    const reply = await execute(connection, 'companion.events', [proposalId]);
    return reply.events as EventLine[];
}

export function describeStatus(status: ServerStatus): string {
    const snoozed = status.snoozedUntil ? `, snoozed until ${new Date(status.snoozedUntil * 1000).toLocaleTimeString()}` : '';
    return `Companion: ${status.state} — ${status.open} open proposal${status.open === 1 ? '' : 's'}${snoozed}. ${status.message}`;
}
