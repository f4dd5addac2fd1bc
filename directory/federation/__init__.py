"""Federation between directory nodes: a signed journal served to pinned peers, all-or-nothing pulls.

The rule of this package: nothing from a peer is stored unless every byte of it was verified against the
key pinned for that peer, and nothing already accepted is ever lost because a peer misbehaved. Modules:
`journal` (this node's hash-chained log), `node` (identity, descriptor, checkpoints), `requests` (signed
peer requests), `transport` (bounded HTTP), `verify` (checks on what a peer sent), `pull` (the
transactional apply), `peers` (administration and source liveness).
"""
