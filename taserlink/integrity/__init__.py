"""Integrity of dataport images: the hash chain, signatures and (later) the verifier."""

from taserlink.integrity.chain import chain_records, chain_step, genesis_chain

__all__ = ["chain_records", "chain_step", "genesis_chain"]
