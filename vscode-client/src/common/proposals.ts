// What the extension knows of companion's proposals: kept in step by the server's
// `companion/proposal` and `companion/status` notifications; drives the status bar and the tree.
import { EventEmitter } from 'events';

export interface Proposal {
    id: string;
    task: string | null;
    response: string;
    operation: string | null;
    path: string | null;
    line: number | null;
    end_line: number | null;
    score: number | null;
    status: string;
    ts: number;
    event_ids: string[];
}

export interface ProposalNotification {
    proposal: Proposal;
    change: string;
    visible: boolean;
    uri: string | null;
}

export interface ServerStatus {
    state: string;
    message: string;
    open: number;
    snoozedUntil: number | null;
    proposals?: (Proposal & { shown: boolean })[];
}

export class ProposalModel extends EventEmitter {
    private readonly proposals = new Map<string, Proposal>();
    status: ServerStatus = { state: 'starting', message: 'starting companion', open: 0, snoozedUntil: null };

    /** A `companion/proposal` notification: shown proposals are added, answered ones dropped. */
    applyNotification(note: ProposalNotification): void {
        if (note.visible && note.proposal.status === 'open' && note.change !== 'answered') {
            this.proposals.set(note.proposal.id, note.proposal);
        } else {
            this.proposals.delete(note.proposal.id);
        }
        this.emit('changed');
    }

    /** A `companion/status` notification, or the reply of the companion.status command (which
     *  also lists the open proposals, so a reconnecting editor catches up). */
    applyStatus(status: ServerStatus): void {
        this.status = status;
        if (status.proposals) {
            this.proposals.clear();
            for (const proposal of status.proposals) {
                if (proposal.shown) {
                    this.proposals.set(proposal.id, proposal);
                }
            }
        }
        this.emit('changed');
    }

    /** Newest first. */
    list(): Proposal[] {
        return [...this.proposals.values()].sort((a, b) => b.ts - a.ts);
    }

    get(id: string): Proposal | undefined {
        return this.proposals.get(id);
    }

    get openCount(): number {
        return this.proposals.size;
    }

    get snoozed(): boolean {
        return this.status.snoozedUntil !== null && this.status.snoozedUntil !== undefined;
    }

    /** The server counts a different number of shown proposals: ask it for the list. */
    get outOfStep(): boolean {
        return this.status.open !== this.proposals.size;
    }

    get connected(): boolean {
        return this.status.state === 'connected';
    }
}

/** "src/app.py:12" or "no file". */
export function where(proposal: Proposal): string {
    if (!proposal.path) {
        return 'no file';
    }
    return proposal.line ? `${proposal.path}:${proposal.line}` : proposal.path;
}
