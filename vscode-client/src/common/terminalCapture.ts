// The VS Code route of shell capture: VS Code's terminal shell integration (stable since 1.93)
// tells when a command starts and ends, with its command line, exit code and folder, and lets
// us read what it printed. Each finished command goes to the language server as one
// `companion/terminalCommand` notification with the tail of its output; the server turns it
// into a `shell.command` event (origin "vscode"). Nothing is re-run: the output is what the
// terminal showed. See docs/shell.md for how this and the shell hook avoid recording twice.
import * as vscode from 'vscode';
import { OutputTail, TailSummary } from './outputTail';

export const TERMINAL_NOTIFICATION = 'companion/terminalCommand';
/** Set in the integrated terminal's environment while the extension reports its commands:
 *  the shell hook then leaves those commands to us (docs/shell.md). */
export const CAPTURE_VARIABLE = 'COMPANION_TERMINAL';
/** How long to wait, after the end of a command, for the rest of its output stream. */
const DRAIN_MS = 1000;

// The parts of the shell integration API we use (vscode >= 1.93), typed here so the extension
// still loads, without the terminal route, in older editors.
export interface ShellExecution {
    readonly commandLine: { readonly value: string; readonly isTrusted: boolean; readonly confidence: number };
    readonly cwd: { readonly fsPath: string } | undefined;
    read(): AsyncIterable<string>;
}

export interface TerminalLike {
    readonly name: string;
    readonly processId: Thenable<number | undefined>;
}

export interface ExecutionStart {
    readonly terminal: TerminalLike;
    readonly execution: ShellExecution;
}

export interface ExecutionEnd extends ExecutionStart {
    readonly exitCode: number | undefined;
}

export interface ShellIntegrationEvents {
    onDidStartTerminalShellExecution(listener: (event: ExecutionStart) => void): vscode.Disposable;
    onDidEndTerminalShellExecution(listener: (event: ExecutionEnd) => void): vscode.Disposable;
}

export interface TerminalCommand {
    command: string;
    confidence: 'low' | 'medium' | 'high';
    trusted: boolean;
    exitCode: number | null;
    cwd: string | null;
    start: number;
    end: number;
    terminal: string;
    session: string;
    output: TailSummary;
}

const CONFIDENCE: Record<number, TerminalCommand['confidence']> = { 0: 'low', 1: 'medium', 2: 'high' };

interface Running {
    start: number;
    tail: OutputTail;
    reading: Promise<void>;
}

/** Follows every command of every integrated terminal and hands each finished one to `send`. */
export class TerminalCapture implements vscode.Disposable {
    private readonly running = new Map<ShellExecution, Running>();
    private readonly subscriptions: vscode.Disposable[];

    constructor(events: ShellIntegrationEvents, private readonly send: (command: TerminalCommand) => void,
                private readonly now: () => number = Date.now) {
        this.subscriptions = [
            events.onDidStartTerminalShellExecution((event) => this.started(event)),
            events.onDidEndTerminalShellExecution((event) => void this.ended(event)),
        ];
    }

    /** The API is there (VS Code >= 1.93)? */
    static available(window: unknown): window is ShellIntegrationEvents {
        const w = window as Partial<ShellIntegrationEvents>;
        return typeof w.onDidStartTerminalShellExecution === 'function' && typeof w.onDidEndTerminalShellExecution === 'function';
    }

    private started(event: ExecutionStart): void {
        // read() yields only what is written after its first call: call it at once.
        const stream = event.execution.read();
        const tail = new OutputTail();
        const reading = (async () => {
            try {
                for await (const chunk of stream) {
                    tail.feed(chunk);
                }
            } catch {
                // the terminal went away mid-command: keep what was read
            }
        })();
        this.running.set(event.execution, { start: this.now(), tail, reading });
    }

    async ended(event: ExecutionEnd): Promise<void> {
        const known = this.running.get(event.execution);
        this.running.delete(event.execution);
        const end = this.now();
        let output: TailSummary = { tail: '', lines: 0, bytes: 0, truncated: false };
        if (known) {
            await Promise.race([known.reading, new Promise((resolve) => setTimeout(resolve, DRAIN_MS))]);
            output = known.tail.summary();
        }
        const command = event.execution.commandLine.value;
        if (!command.trim()) {
            return;  // nothing we could name (a shell without rich integration, an empty line)
        }
        let pid: number | undefined;
        try {
            pid = await Promise.race([event.terminal.processId, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 200))]);
        } catch {
            pid = undefined;
        }
        this.send({
            command,
            confidence: CONFIDENCE[event.execution.commandLine.confidence] ?? 'low',
            trusted: event.execution.commandLine.isTrusted,
            exitCode: typeof event.exitCode === 'number' ? event.exitCode : null,
            cwd: event.execution.cwd?.fsPath ?? null,
            start: (known?.start ?? end) / 1000,
            end: end / 1000,
            terminal: event.terminal.name,
            session: pid ? `vscode-${pid}` : `vscode-${event.terminal.name}`,
            output,
        });
    }

    dispose(): void {
        for (const subscription of this.subscriptions) {
            subscription.dispose();
        }
        this.running.clear();
    }
}
