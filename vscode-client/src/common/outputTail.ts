// The bounded, ANSI-stripped tail of what a terminal command printed (the evidence contract's
// `evidence.output`: at most the last 200 lines and 64 KiB; totals counted over everything).
// Chunks come as the terminal wrote them, so an escape sequence may be cut in two: the
// unfinished end of a chunk waits for the next one.

export const MAX_LINES = 200;
export const MAX_BYTES = 64 * 1024;

export interface TailSummary {
    tail: string;
    lines: number;
    bytes: number;
    truncated: boolean;
}

// CSI (colours, cursor moves), OSC (titles, VS Code's 633 marks; BEL or ST ends them), other
// two-character escapes and charset selections, then other control characters except \t \n \r.
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[PX^_][^\x1b]*\x1b\\|\x1b[()*+][0-9A-Za-z]|\x1b[@-Z\\-_=>78]|[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]/g;
const UNFINISHED = /\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*|[PX^_][^\x1b]*|[()*+])?$/;

export function stripAnsi(text: string): string {
    return text.replace(ESCAPES, '');
}

/** A terminal line as it looks: `\r` (a progress bar redrawing) keeps what was written last. */
function visible(line: string): string {
    const cut = line.lastIndexOf('\r');
    return cut < 0 ? line : line.slice(cut + 1);
}

export class OutputTail {
    private lines: string[] = [];  // complete lines, oldest first, kept within the bounds
    private keptBytes = 0;
    private partial = '';          // the line being written
    private pending = '';          // an escape sequence cut at the end of the last chunk
    private totalBytes = 0;
    private totalLines = 0;
    private dropped = false;

    feed(chunk: string): void {
        let text = this.pending + chunk;
        this.pending = '';
        const unfinished = UNFINISHED.exec(text);
        if (unfinished && unfinished[0].length > 0 && unfinished[0].length < 4096) {
            this.pending = unfinished[0];
            text = text.slice(0, unfinished.index);
        }
        const clean = stripAnsi(text).replace(/\r\n/g, '\n');
        this.totalBytes += Buffer.byteLength(clean, 'utf8');
        const parts = (this.partial + clean).split('\n');
        this.partial = parts.pop() ?? '';
        for (const line of parts) {
            this.push(visible(line));
        }
        if (this.partial.length > MAX_BYTES) {  // one endless line: keep its end
            this.partial = this.partial.slice(-MAX_BYTES);
            this.dropped = true;
        }
    }

    private push(line: string): void {
        this.totalLines += 1;
        this.lines.push(line);
        this.keptBytes += Buffer.byteLength(line, 'utf8') + 1;
        while (this.lines.length > MAX_LINES || (this.keptBytes > MAX_BYTES && this.lines.length > 1)) {
            const old = this.lines.shift() ?? '';
            this.keptBytes -= Buffer.byteLength(old, 'utf8') + 1;
            this.dropped = true;
        }
    }

    summary(): TailSummary {
        const last = visible(this.partial);
        const lines = last ? [...this.lines, last] : [...this.lines];
        let tail = lines.join('\n');
        let truncated = this.dropped;
        while (lines.length > MAX_LINES) {
            lines.shift();
            tail = lines.join('\n');
            truncated = true;
        }
        if (Buffer.byteLength(tail, 'utf8') > MAX_BYTES) {
            tail = Buffer.from(tail, 'utf8').subarray(-MAX_BYTES).toString('utf8').replace(/^\uFFFD/, '');
            truncated = true;
        }
        return { tail, lines: this.totalLines + (last ? 1 : 0), bytes: this.totalBytes, truncated };
    }
}
