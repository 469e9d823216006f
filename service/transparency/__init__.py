"""Transparency: the Merkle tree's sealer, signed checkpoints, proofs, export bundles and offline
verification. It rests on the log and the read side (a bundle carries the projected status)."""
