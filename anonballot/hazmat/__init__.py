"""Hazardous materials: raw cryptographic math that is easy to misuse.

RSA blind signatures (RFC 9474), Shamir secret sharing over GF(2^521 - 1), RFC 9162 Merkle
proofs and C2SP signed notes. Each module is tested against published vectors. Code outside
the library (server, CLI) should call the safe layer (``anonballot.tokens``,
``anonballot.sealing``, ``anonballot.board``, ``anonballot.checkpoint``) instead.
"""
