"""Fail closed on damaged input: flipped bits and truncations in gpg-made keys and signatures never
raise anything but UnreadableKey, and verification always returns a result."""

from __future__ import annotations

import random

import pytest

from directory.keys import UnreadableKey, inspect_key, verify_detached
from tests.keys.conftest import DATA, Material

pytestmark = pytest.mark.gpg
STATUSES = {"valid", "invalid", "key_expired", "key_revoked", "unknown_key"}


def damaged(rng: random.Random, blob: bytes) -> bytes:
    data = bytearray(blob)
    if rng.random() < 0.2:
        return bytes(data[:rng.randrange(1, len(data))])
    for _ in range(rng.randint(1, 3)):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data)


def test_damaged_signatures_give_results(material: Material) -> None:
    rng = random.Random(20261129)
    keys = [material.keys["ed"], material.keys["rsa"]]
    for _ in range(300):
        blob = damaged(rng, material.sigs[rng.choice(["ed_primary_bin", "rsa_primary_bin", "ed_subkey"])])
        assert verify_detached(DATA, blob, keys).status in STATUSES


def test_damaged_keys_are_unreadable_or_inspected(material: Material) -> None:
    rng = random.Random(3)
    for _ in range(150):
        blob = damaged(rng, material.keys[rng.choice(["ed_bin", "rsa_bin"])])
        try:
            inspect_key(blob)
        except UnreadableKey:
            continue
        assert verify_detached(DATA, material.sigs["ed_primary"], [blob]).status in STATUSES
