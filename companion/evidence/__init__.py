"""Evidence: what failed and what changed, attached to a trigger event's data under "evidence".

Core layer: these modules import only companion core modules (never watchers/ or the daemon).
`output` and `failures` read what a failed command printed and which tests failed; `snapshots`,
`suspects` and `enrich` keep the workspace's content at each last green run and turn it into the
suspect hunks of a failure. The contract of `data["evidence"]` is in docs/evidence.md.
"""
