// The status bar item: the number of open proposals; a click snoozes them all (and again
// un-snoozes). It also says when companion is not connected to its daemon.
import * as vscode from 'vscode';
import { ProposalModel } from './proposals';

export const TOGGLE_SNOOZE = 'companion.toggleSnooze';

export function statusText(model: ProposalModel): { text: string; tooltip: string } {
    if (model.snoozed) {
        const until = new Date((model.status.snoozedUntil ?? 0) * 1000).toLocaleTimeString();
        return { text: '$(bell-slash) Companion', tooltip: `Companion is snoozed until ${until}; click to resume` };
    }
    if (!model.connected) {
        return { text: '$(debug-disconnect) Companion', tooltip: `Companion: ${model.status.message || model.status.state}` };
    }
    const count = model.openCount;
    const tooltip = count === 0 ? 'Companion: no open proposals; click to snooze for 30 minutes'
        : `Companion: ${count} open proposal${count === 1 ? '' : 's'}; click to snooze for 30 minutes`;
    return { text: `$(lightbulb) ${count}`, tooltip };
}

export function createStatusBar(model: ProposalModel): vscode.StatusBarItem {
    const item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
    item.name = 'Companion';
    item.command = TOGGLE_SNOOZE;
    const update = () => {
        const { text, tooltip } = statusText(model);
        item.text = text;
        item.tooltip = tooltip;
    };
    model.on('changed', update);
    update();
    item.show();
    return item;
}
