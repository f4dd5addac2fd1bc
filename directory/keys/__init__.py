"""OpenPGP and canonical JSON: the only package that imports pgpy.

The rest of the directory calls the small interface re-exported here. The validity policy is ours, not
PGPy's (TRAPS.md 1-8): public keys only, identity by full fingerprint, hash >= SHA-256, signature time
within key and subkey lifetime, verified revocations, signing subkeys bound to this primary with the sign
flag and a back-signature, fail closed on any exception.
"""
