// The "Companion" view: open proposals (newest first) with Accept/Reject/Snooze buttons, and
// under each the events that led to it, fetched from the server when the item is expanded.
import * as vscode from 'vscode';
import { Proposal, ProposalModel, where } from './proposals';

export interface EventLine {
    id: string;
    ts: number;
    kind: string;
    text: string;
}

export type FetchEvents = (proposalId: string) => Promise<EventLine[]>;

export type Node = { kind: 'proposal'; proposal: Proposal } | { kind: 'event'; event: EventLine } | { kind: 'note'; text: string };

export class ProposalTree implements vscode.TreeDataProvider<Node> {
    private readonly changed = new vscode.EventEmitter<Node | undefined>();
    readonly onDidChangeTreeData = this.changed.event;

    constructor(private readonly model: ProposalModel, private readonly fetchEvents: FetchEvents) {
        model.on('changed', () => this.changed.fire(undefined));
    }

    getTreeItem(node: Node): vscode.TreeItem {
        if (node.kind === 'proposal') {
            const { proposal } = node;
            const item = new vscode.TreeItem(proposal.task ?? '(no task)', vscode.TreeItemCollapsibleState.Collapsed);
            item.id = proposal.id;
            item.contextValue = 'proposal';
            item.description = where(proposal);
            item.tooltip = new vscode.MarkdownString(`**${proposal.task}**\n\n${proposal.response}`);
            item.iconPath = new vscode.ThemeIcon(proposal.operation === 'edit' ? 'diff' : 'lightbulb');
            return item;
        }
        if (node.kind === 'event') {
            const item = new vscode.TreeItem(node.event.text, vscode.TreeItemCollapsibleState.None);
            item.description = new Date(node.event.ts * 1000).toLocaleTimeString();
            item.tooltip = node.event.kind;
            item.iconPath = new vscode.ThemeIcon('history');
            return item;
        }
        return new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
    }

    async getChildren(node?: Node): Promise<Node[]> {
        if (!node) {
            return this.model.list().map((proposal) => ({ kind: 'proposal', proposal }));
        }
        if (node.kind !== 'proposal') {
            return [];
        }
        try {
            const events = await this.fetchEvents(node.proposal.id);
            if (events.length === 0) {
                return [{ kind: 'note', text: 'no recorded events behind this proposal' }];
            }
            return events.map((event) => ({ kind: 'event', event }));
        } catch (error) {
            return [{ kind: 'note', text: `events unavailable: ${(error as Error).message}` }];
        }
    }

    refresh(): void {
        this.changed.fire(undefined);
    }
}
